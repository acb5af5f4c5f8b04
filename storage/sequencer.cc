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
      durable_counters_(start),
      committed_position_(start.last_position),
      writer_([this] { RunWrite(); }),
      thread_([this] { RunFold(); }) {}

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
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();  // drains the queue and settles the last group
  {
    std::scoped_lock lock(write_mu_);
    writer_stop_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

uint64_t Sequencer::last_position() const {
  std::scoped_lock lock(mu_);
  return committed_position_;
}

void Sequencer::RunFold() {
  for (;;) {
    std::deque<Pending> taken;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      // Buffered durability syncs the WAL about once a second even when idle.
      wake_.wait_for(lock, std::chrono::seconds(1),
                     [&] { return stopping_ || !queue_.empty(); });
      stopping = stopping_;
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
    if (taken.empty()) {
      (void)Settle();  // idle: let the caches catch up (a failure was answered already)
      MaybeSyncWal(false);
      if (stopping) break;
      continue;
    }
    std::optional<Sealed> sealed = FoldGroup(taken, in_flight_.get());
    if (!sealed) continue;
    // The new group folded on top of the one in flight: it may be written only once
    // that one is durable, and must fail if that one failed.
    Status parent = Settle();
    if (!parent.ok()) {
      const Status failed = Status::Unavailable("storage write failed: " + parent.message());
      for (auto& [done, result] : sealed->accepted) done(Err(failed));
      continue;
    }
    sealed->group->DetachParent();
    counters_ = sealed->group->counters();
    in_flight_ = std::move(sealed->group);
    {
      std::scoped_lock lock(write_mu_);
      write_group_ = in_flight_.get();
      write_accepted_ = std::move(sealed->accepted);
      written_ = false;
    }
    write_cv_.notify_all();
  }
  (void)Settle();  // the last group's requests were answered by the writer
  MaybeSyncWal(true);
}

std::optional<Sequencer::Sealed> Sequencer::FoldGroup(std::deque<Pending>& taken,
                                                      const CommitGroup* parent) {
  Sealed sealed;
  sealed.group = std::make_unique<CommitGroup>(db_, cache_, options_.group, counters_,
                                               clock_.NowMillis(), parent);
  for (Pending& p : taken) {
    auto result = sealed.group->Add(p.request);
    if (!result.has_value()) {
      p.done(Err(std::move(result.error())));  // rejected alone; nothing of it is staged
      continue;
    }
    sealed.accepted.emplace_back(std::move(p.done), std::move(*result));
  }
  if (sealed.group->empty()) return std::nullopt;
  sealed.group->Seal();
  return sealed;
}

void Sequencer::RunWrite() {
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  for (;;) {
    CommitGroup* group = nullptr;
    std::vector<std::pair<Callback, engine::AppendResult>> accepted;
    {
      std::unique_lock lock(write_mu_);
      write_cv_.wait(lock, [&] { return write_group_ != nullptr || writer_stop_; });
      if (!write_group_) return;
      group = write_group_;
      accepted = std::move(write_accepted_);
    }
    Status s = group->Write(wo);
    if (s.ok()) {
      {
        std::scoped_lock lock(mu_);
        committed_position_ = group->counters().last_position;
      }
      for (auto& [done, result] : accepted) done(std::move(result));
    } else {
      // Nothing of the group is stored: RocksDB applies a WriteBatch whole or not at all.
      const Status unavailable = Status::Unavailable("storage write failed: " + s.message());
      for (auto& [done, result] : accepted) done(Err(unavailable));
    }
    {
      std::scoped_lock lock(write_mu_);
      write_group_ = nullptr;
      written_ = true;
      write_status_ = s;
    }
    write_cv_.notify_all();
  }
}

Status Sequencer::Settle() {
  if (!in_flight_) return Status::OK();
  Status s;
  {
    std::unique_lock lock(write_mu_);
    write_cv_.wait(lock, [&] { return written_; });
    s = write_status_;
  }
  if (s.ok()) {
    in_flight_->Publish();
    durable_counters_ = in_flight_->counters();
    wal_dirty_ = options_.durability == Durability::kBuffered;
  } else {
    counters_ = durable_counters_;  // positions and jids of the failed group are reused
  }
  in_flight_.reset();
  return s;
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
