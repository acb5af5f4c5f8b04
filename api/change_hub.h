#pragma once
// ChangeHub: wakes the requests that wait for something to change (waiting reads,
// feed long-polls, watch streams) when a commit group becomes durable.
//
// A waiting request subscribes to a job or to an organisation's feed, then reads, then
// waits. A change published after the subscription wakes it, so nothing published
// between its read and its wait is missed. Waiting is an Asio timer on the request's
// own executor, so a waiter costs a timer and a map entry, never a thread; the
// publisher (the store's writer thread) only posts a cancel to each affected timer.
//
// The hub also keeps the StatusCache of final jobs' rendered status, which the same
// announcements invalidate.
//
// Thread safety: Publish, Close and subscribing are safe from any thread. A
// Subscription belongs to one coroutine on one executor.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/status_cache.h"
#include "engine/query.h"

namespace jobstate::api {

class ChangeHub {
 public:
  using Clock = std::chrono::steady_clock;

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Forgets the changes seen so far. Call before reading the state the wait is about.
    void Rearm() { waiter_->fired.store(false); }
    // Waits until a change is published (since the last Rearm), the hub closes, or the
    // deadline passes. True when woken by a change or by the close.
    boost::asio::awaitable<bool> Wait(Clock::time_point deadline);
    // The hub is closing (the server shuts down): answer now, wait no more.
    bool closed() const { return hub_.closed_.load(); }

   private:
    friend class ChangeHub;
    struct Waiter {
      explicit Waiter(boost::asio::any_io_executor ex) : timer(ex) {}
      boost::asio::steady_timer timer;  // touched only on its executor
      std::atomic<bool> fired{false};
    };
    Subscription(ChangeHub& hub, std::string key, std::shared_ptr<Waiter> waiter)
        : hub_(hub), key_(std::move(key)), waiter_(std::move(waiter)) {}

    ChangeHub& hub_;
    const std::string key_;
    const std::shared_ptr<Waiter> waiter_;
  };

  // Default: 32 MiB of cached status bodies.
  explicit ChangeHub(size_t status_cache_bytes = size_t{32} << 20)
      : status_cache_(status_cache_bytes) {}
  ChangeHub(const ChangeHub&) = delete;
  ChangeHub& operator=(const ChangeHub&) = delete;

  // Woken when the job's stream grows.
  std::unique_ptr<Subscription> ForJob(const std::string& org, const std::string& job_id,
                                       boost::asio::any_io_executor ex);
  // Woken when the organisation's feed grows.
  std::unique_ptr<Subscription> ForOrg(const std::string& org, boost::asio::any_io_executor ex);

  // Drops the cached status of every job in `notice` and wakes their subscribers (and
  // their organisations').
  void Publish(const engine::CommitNotice& notice);
  // Wakes everyone; every later wait returns at once.
  void Close();

  size_t subscribers() const;
  StatusCache& status_cache() { return status_cache_; }

 private:
  using Waiter = Subscription::Waiter;
  std::unique_ptr<Subscription> Subscribe(std::string key, boost::asio::any_io_executor ex);
  void Remove(const std::string& key, const Waiter* waiter);
  static void Fire(const std::shared_ptr<Waiter>& w);

  StatusCache status_cache_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // Guarded by mu_
};

}  // namespace jobstate::api
