#include "storage/sequencer.h"

#include <pthread.h>

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
      committed_jobs_(start.jobs_by_status),
      committed_accuracy_(start.eta_accuracy),
      writer_([this] { RunWrite(); }),
      folder_([this] { RunFold(); }) {}

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
  if (folder_.joinable()) folder_.join();  // drains the queue and settles the last group
  {
    std::scoped_lock lock(mu_);
    writer_stop_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::array<int64_t, engine::kJobStatusCount> Sequencer::jobs_by_status() const {
  std::scoped_lock lock(mu_);
  return committed_jobs_;
}

engine::EtaAccuracyTotals Sequencer::eta_accuracy() const {
  std::scoped_lock lock(mu_);
  return committed_accuracy_;
}

Status Sequencer::last_write_status() const {
  std::scoped_lock lock(mu_);
  return write_status_;
}

size_t Sequencer::queued_events() const {
  std::scoped_lock lock(mu_);
  return queued_events_;
}

uint64_t Sequencer::last_position() const {
  std::scoped_lock lock(mu_);
  return committed_position_;
}

// The fold thread folds whatever is queued into the open group for as long as the
// writer is busy, and hands the group over the moment the writer is idle: groups grow
// with the load, and the writer never waits for a fold that could have been done.
void Sequencer::RunFold() {
  pthread_setname_np(pthread_self(), "js-fold");
  for (;;) {
    std::deque<Pending> taken;
    bool writer_idle = false;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      // Buffered durability syncs the WAL about once a second even when idle.
      // Wake for requests to fold, for an idle writer when a group or a rejection is
      // waiting for it, or to stop once nothing is left open (a stopping sequencer with
      // a group open waits for the writer like a running one, rather than spinning).
      wake_.wait_for(lock, std::chrono::seconds(1), [&] {
        const bool can_take = !queue_.empty() && open_events_ < options_.max_group_events;
        const bool settle = (open_ || !rejected_.empty()) && write_group_ == nullptr;
        return can_take || settle || (stopping_ && !open_);
      });
      while (!queue_.empty() &&
             (open_events_ == 0 || open_events_ + queue_.front().request.events.size() <=
                                       options_.max_group_events)) {
        const size_t n = queue_.front().request.events.size();
        queued_events_ -= n;
        open_events_ += n;
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writer_idle = write_group_ == nullptr;
      stopping = stopping_ && queue_.empty();
    }
    // Nothing open and the writer idle: settle the group written last before anything
    // folds on top of it (one whose write failed must not be the state that new
    // requests are checked against), answering the rejections that waited for it. A
    // group that is open goes to the idle writer in Fold, before anything taken now.
    if (!open_ && writer_idle) {
      (void)Settle();
      MaybeSyncWal(false);
    }
    Fold(taken);
    if (open_) {
      if (WriterIdle()) HandOff();
      continue;
    }
    if (stopping) break;
  }
  (void)Settle();
  MaybeSyncWal(true);
}

void Sequencer::Fold(std::deque<Pending>& taken) {
  size_t left = 0;  // events of `taken` not folded yet
  for (const Pending& p : taken) left += p.request.events.size();
  for (Pending& p : taken) {
    left -= p.request.events.size();
    // The writer finished while these were being folded: the group goes to it now,
    // and the rest are folded into the next group while it is written. Folding them
    // all first would keep the writer waiting, and when every sender's request comes
    // in at once the two threads would take turns instead of working side by side.
    if (open_ && !open_->empty() && WriterIdle()) {
      HandOff();
      open_events_ = left + p.request.events.size();
    }
    if (!open_) {
      open_ = std::make_unique<CommitGroup>(db_, cache_, options_.group, counters_,
                                            clock_.NowMillis(), in_flight_.get());
    }
    auto result = open_->Add(p.request);
    if (!result.has_value()) {
      // Rejected alone; nothing of it is staged. But it was checked against the state
      // of the open group and of the group in flight, which exists only once they are
      // written: the rejection goes out with the open group's answers, or, if the
      // group holds nothing, when the group in flight is settled; either way as a 503
      // if that write fails (its sender retries, and is checked again).
      if (!open_->empty()) {
        open_answers_.emplace_back(std::move(p.done), Err(std::move(result.error())));
      } else if (in_flight_) {
        rejected_.emplace_back(std::move(p.done), std::move(result.error()));
      } else {
        p.done(Err(std::move(result.error())));
      }
      continue;
    }
    counters_ = open_->counters();
    open_answers_.emplace_back(std::move(p.done), std::move(*result));
  }
  if (open_ && open_->empty()) {
    open_.reset();
    open_events_ = 0;
  }
}

void Sequencer::HandOff() {
  std::unique_ptr<CommitGroup> group = std::move(open_);
  Answers answers = std::move(open_answers_);
  open_answers_.clear();
  open_events_ = 0;
  group->DetachParent();  // the parent is settled next; the group reads nothing more
  // The group folded on top of the one in flight: it may be written only if that one
  // is durable, and fails with it otherwise.
  Status parent = Settle();
  if (!parent.ok()) {
    const Status failed = Status::Unavailable("storage write failed: " + parent.message());
    for (auto& [done, result] : answers) done(Err(failed));
    return;
  }
  group->Seal();
  engine::CommitNotice notice;
  if (options_.on_commit) notice = group->Notice();  // before the writer owns the group
  in_flight_ = std::move(group);
  {
    std::scoped_lock lock(mu_);
    write_group_ = in_flight_.get();
    write_answers_ = std::move(answers);
    write_notice_ = std::move(notice);
  }
  write_cv_.notify_one();
}

bool Sequencer::WriterIdle() const {
  std::scoped_lock lock(mu_);
  return write_group_ == nullptr;
}

Status Sequencer::Settle() {
  if (!in_flight_) return Status::OK();
  Status s;
  {
    std::unique_lock lock(mu_);
    wake_.wait(lock, [&] { return write_group_ == nullptr; });
    s = write_status_;
  }
  if (s.ok()) {
    in_flight_->Publish();
    durable_counters_ = in_flight_->counters();
    wal_dirty_ = options_.durability == Durability::kBuffered;
  } else {
    // Nothing of the failed group is stored (a WriteBatch applies whole or not at
    // all), and nothing folded on top of it was kept: reuse its positions and jids.
    counters_ = durable_counters_;
  }
  in_flight_.reset();
  // The requests rejected against the group's state: the rejection stands if the group
  // is durable; otherwise the state it was checked against never existed, and the
  // request fails like the group (its sender retries, and is checked again).
  for (auto& [done, error] : rejected_) {
    if (s.ok()) {
      done(Err(std::move(error)));
    } else {
      done(Err(Status::Unavailable("storage write failed: " + s.message())));
    }
  }
  rejected_.clear();
  return s;
}

void Sequencer::RunWrite() {
  pthread_setname_np(pthread_self(), "js-write");
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  for (;;) {
    CommitGroup* group = nullptr;
    Answers answers;
    engine::CommitNotice notice;
    {
      std::unique_lock lock(mu_);
      write_cv_.wait(lock, [&] { return write_group_ != nullptr || writer_stop_; });
      if (!write_group_) return;
      group = write_group_;
      answers = std::move(write_answers_);
      notice = std::move(write_notice_);
    }
    const auto write_start = std::chrono::steady_clock::now();
    const Status s = group->Write(wo);
    notice.write_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();
    {
      std::scoped_lock lock(mu_);
      if (s.ok()) {
        committed_position_ = group->counters().last_position;
        committed_jobs_ = group->counters().jobs_by_status;
        committed_accuracy_ = group->counters().eta_accuracy;
      }
      write_status_ = s;
      write_group_ = nullptr;  // from here on `group` belongs to the fold thread again
    }
    wake_.notify_one();
    if (s.ok()) {
      if (options_.on_commit) options_.on_commit(notice);
      for (auto& [done, result] : answers) done(std::move(result));
    } else {
      const Status unavailable = Status::Unavailable("storage write failed: " + s.message());
      for (auto& [done, result] : answers) done(Err(unavailable));
    }
  }
}

void Sequencer::MaybeSyncWal(bool force) {
  if (!wal_dirty_ || db_.WalFailed()) return;  // never sync a log that failed
  const engine::Millis now = clock_.NowMillis();
  if (!force && now - last_wal_sync_ < 1000) return;
  // A failed sync is retried on the next tick; buffered mode promises no more.
  if (db_.get()->SyncWAL().ok()) wal_dirty_ = false;
  last_wal_sync_ = now;
}

}  // namespace jobstate::storage
