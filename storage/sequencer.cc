#include "storage/sequencer.h"

#include <chrono>

#include "storage/rocks_status.h"

namespace jobstate::storage {

Sequencer::Sequencer(const Db& db, const engine::Clock& clock,
                     const SequencerOptions& options, LogCounters start)
    : db_(db),
      clock_(clock),
      options_(options),
      cache_(options.job_cache_entries, options.file_cache_entries),
      counters_(start),
      committed_position_(start.last_position),
      thread_([this] { Run(); }) {}

Sequencer::~Sequencer() { Stop(); }

void Sequencer::Submit(engine::AppendRequest request, Callback done) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    done(Err(Status::Unavailable("the server is shutting down")));
    return;
  }
  const size_t n = request.events.size();
  if (!queue_.empty() && queued_events_ + n > options_.queue_capacity_events) {
    lock.unlock();
    done(Err(Status::ResourceExhausted("the commit queue is full; retry shortly")));
    return;
  }
  queued_events_ += n;
  queue_.push_back(Pending{std::move(request), std::move(done)});
  lock.unlock();
  wake_.notify_one();
}

void Sequencer::Stop() {
  {
    std::scoped_lock lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t Sequencer::last_position() const {
  std::scoped_lock lock(mu_);
  return committed_position_;
}

void Sequencer::Run() {
  for (;;) {
    std::deque<Pending> taken;
    {
      std::unique_lock lock(mu_);
      // Buffered durability syncs the WAL about once a second even when idle.
      wake_.wait_for(lock, std::chrono::seconds(1),
                     [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) break;
      size_t events = 0;
      while (!queue_.empty() &&
             (taken.empty() || events + queue_.front().request.events.size() <=
                                   options_.max_group_events)) {
        events += queue_.front().request.events.size();
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= events;
    }
    if (!taken.empty()) CommitGroupOf(taken);
    MaybeSyncWal(false);
  }
  MaybeSyncWal(true);
}

void Sequencer::CommitGroupOf(std::deque<Pending>& taken) {
  CommitGroup group(db_, cache_, options_.group, counters_, clock_.NowMillis());
  std::vector<std::pair<Callback, engine::AppendResult>> accepted;
  for (Pending& p : taken) {
    auto result = group.Add(p.request);
    if (!result.has_value()) {
      p.done(Err(std::move(result.error())));  // rejected alone; nothing of it is staged
      continue;
    }
    accepted.emplace_back(std::move(p.done), std::move(*result));
  }
  if (group.empty()) return;

  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  Status s = group.Commit(wo);
  if (!s.ok()) {
    // Nothing of the group is stored; the cache was never touched and the counters
    // stay where they were.
    Status unavailable = Status::Unavailable("storage write failed: " + s.message());
    for (auto& [done, result] : accepted) done(Err(unavailable));
    return;
  }
  group.Publish();
  counters_ = group.counters();
  wal_dirty_ = !wo.sync;
  {
    std::scoped_lock lock(mu_);
    committed_position_ = counters_.last_position;
  }
  for (auto& [done, result] : accepted) done(std::move(result));
}

void Sequencer::MaybeSyncWal(bool force) {
  if (!wal_dirty_) return;
  const engine::Millis now = clock_.NowMillis();
  if (!force && now - last_wal_sync_ < 1000) return;
  // A failed sync is retried on the next tick; buffered mode promises no more.
  if (db_.get()->SyncWAL().ok()) wal_dirty_ = false;
  last_wal_sync_ = now;
}

}  // namespace jobstate::storage
