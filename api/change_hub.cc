#include "api/change_hub.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobstate::api {

namespace net = boost::asio;

namespace {

std::string JobKey(const std::string& org, const std::string& job_id) {
  std::string key = "j";
  key += org;
  key.push_back('\0');
  key += job_id;
  return key;
}

std::string OrgKey(const std::string& org) { return "o" + org; }

}  // namespace

ChangeHub::Subscription::~Subscription() { hub_.Remove(key_, waiter_.get()); }

net::awaitable<bool> ChangeHub::Subscription::Wait(Clock::time_point deadline) {
  // A cancel posted for an earlier change may still arrive and end a wait early; only
  // the flag and the deadline decide.
  while (!waiter_->fired.load() && !closed() && Clock::now() < deadline) {
    waiter_->timer.expires_at(deadline);
    co_await waiter_->timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return waiter_->fired.load() || closed();
}

std::unique_ptr<ChangeHub::Subscription> ChangeHub::ForJob(const std::string& org,
                                                           const std::string& job_id,
                                                           net::any_io_executor ex) {
  return Subscribe(JobKey(org, job_id), std::move(ex));
}

std::unique_ptr<ChangeHub::Subscription> ChangeHub::ForOrg(const std::string& org,
                                                           net::any_io_executor ex) {
  return Subscribe(OrgKey(org), std::move(ex));
}

std::unique_ptr<ChangeHub::Subscription> ChangeHub::Subscribe(std::string key,
                                                              net::any_io_executor ex) {
  auto waiter = std::make_shared<Waiter>(std::move(ex));
  {
    std::scoped_lock lock(mu_);
    waiters_.emplace(key, waiter);
  }
  return std::unique_ptr<Subscription>(new Subscription(*this, std::move(key), waiter));
}

void ChangeHub::Remove(const std::string& key, const Waiter* waiter) {
  std::scoped_lock lock(mu_);
  auto [first, last] = waiters_.equal_range(key);
  for (auto it = first; it != last; ++it) {
    if (it->second.get() == waiter) {
      waiters_.erase(it);
      return;
    }
  }
}

void ChangeHub::Fire(const std::shared_ptr<Waiter>& w) {
  if (w->fired.exchange(true)) return;  // already woken; one cancel is enough
  net::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

void ChangeHub::Publish(const engine::CommitNotice& notice) {
  status_cache_.Invalidate(notice);
  std::scoped_lock lock(mu_);
  if (waiters_.empty()) return;
  const std::string* last_org = nullptr;
  for (const engine::CommitNotice::Job& job : notice.jobs) {
    auto [first, last] = waiters_.equal_range(JobKey(job.org, job.job_id));
    for (auto it = first; it != last; ++it) Fire(it->second);
    if (last_org && *last_org == job.org) continue;  // groups are mostly one org
    last_org = &job.org;
    auto [ofirst, olast] = waiters_.equal_range(OrgKey(job.org));
    for (auto it = ofirst; it != olast; ++it) Fire(it->second);
  }
}

void ChangeHub::Close() {
  closed_.store(true);
  std::scoped_lock lock(mu_);
  for (auto& [key, w] : waiters_) {
    net::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

size_t ChangeHub::subscribers() const {
  std::scoped_lock lock(mu_);
  return waiters_.size();
}

}  // namespace jobstate::api
