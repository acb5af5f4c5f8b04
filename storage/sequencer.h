#pragma once
// Sequencer: the single writer of a data dir.
//
// Requests wait in a bounded queue. The fold thread takes as many as are waiting (up
// to `max_group_events` events), folds each against the current state (CommitGroup),
// and seals the ones that fold into one WriteBatch. The writer thread commits it with,
// in `sync` durability, one WAL sync, then answers its requests. The two overlap:
// while group N is written, group N+1 folds on top of N's state; N+1 is written only if
// N's write succeeded, and fails with it otherwise. So concurrent appenders share the
// cost of a sync, folding and writing use both cores, and a batch that fails never
// reaches a WriteBatch. A request the fold rejects is answered once the state it was
// checked against is durable (at once when all of it is), and fails with a 503 like
// the groups it was checked against if their write fails.
//
// Thread safety: Submit and Stop are safe for concurrent use. Callbacks run on the
// sequencer's threads and must not block: hand work off to another executor.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/append.h"
#include "engine/clock.h"
#include "engine/status.h"
#include "storage/internal/commit_group.h"
#include "storage/internal/db.h"

namespace jobstate::storage {

enum class Durability {
  // Every acknowledged batch is in the synced WAL: it survives a crash of the process
  // or of the machine.
  kSync,
  // The WAL is written before the answer but synced about once a second: a process
  // crash loses nothing, a machine crash (power, kernel) loses at most ~1 s of
  // acknowledged events.
  kBuffered,
};

struct SequencerOptions {
  Durability durability = Durability::kSync;  // Default: kSync
  // Events allowed to wait in the queue; beyond it Submit answers ResourceExhausted.
  // A request larger than this is still taken when the queue is empty.
  size_t queue_capacity_events = 200'000;  // Default: 200,000
  // A group stops taking requests once it holds this many events.
  size_t max_group_events = 20'000;  // Default: 20,000
  // Running jobs whose snapshots stay cached between groups (final ones leave).
  size_t job_cache_entries = 20'000;  // Default: 20,000
  // Committed file rows kept for the files in flight (about 300 bytes each).
  size_t file_cache_entries = 200'000;  // Default: 200,000
  GroupOptions group;
  // Called on the writer thread after each group is durable, before its requests are
  // answered, with the jobs it changed. Must not block (hand off to another executor).
  std::function<void(const engine::CommitNotice&)> on_commit;
};

class Sequencer {
 public:
  using Callback = std::function<void(Result<engine::AppendResult>)>;

  // Starts the fold and writer threads. `db` and `clock` must outlive the sequencer.
  Sequencer(const Db& db, const engine::Clock& clock, const SequencerOptions& options,
            LogCounters start);
  ~Sequencer();  // Stop()

  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Queues `request`; `done` is called exactly once with the acknowledgement, or with
  // the request's error: InvalidArgument / NotFound / AlreadyExists /
  // FailedPrecondition / Aborted from validation and the fold (naming the event),
  // ResourceExhausted when the queue is full (called before Submit returns),
  // Unavailable when stopping or when the storage write failed.
  void Submit(engine::AppendRequest request, Callback done);

  // Commits everything already queued, then stops both threads. Idempotent.
  void Stop();

  // The position of the last committed event (0 when the log is empty).
  uint64_t last_position() const;
  // Jobs by JobStatus as of the last committed group.
  std::array<int64_t, engine::kJobStatusCount> jobs_by_status() const;
  // Completed jobs' ETA accuracy, as committed.
  engine::EtaAccuracyTotals eta_accuracy() const;
  // Events waiting in the queue.
  size_t queued_events() const;
  // The status of the last group written: not OK while the storage refuses writes.
  Status last_write_status() const;

 private:
  struct Pending {
    engine::AppendRequest request;
    Callback done;
  };
  // A group's answers, sent once its write is done: the acknowledgements of the
  // requests it holds, and the rejections of the requests checked against its state.
  using Answers = std::vector<std::pair<Callback, Result<engine::AppendResult>>>;

  void RunFold();
  void RunWrite();
  // Folds `taken` into the open group (opening one on top of the group in flight).
  // Whenever the writer is idle in between, the group folded so far goes to it and
  // the rest start the next one.
  void Fold(std::deque<Pending>& taken);
  // REQUIRES: the writer is idle. Publishes (or, if its write failed, rewinds past) the
  // group in flight; seals the open group and hands it to the writer.
  void HandOff();
  // True when no group is being written.
  bool WriterIdle() const;
  // Waits until the writer is idle, then publishes or rewinds past the group in flight.
  // Returns that group's write status (OK when there was none).
  Status Settle();
  void MaybeSyncWal(bool force);

  // Constant after construction
  const Db& db_;
  const engine::Clock& clock_;
  const SequencerOptions options_;

  // Owned by the fold thread
  JobCache cache_;
  LogCounters counters_;          // as the last folded request leaves them
  LogCounters durable_counters_;  // as the last written group left them
  std::unique_ptr<CommitGroup> open_;       // folding; sealed when the writer is free
  Answers open_answers_;
  size_t open_events_ = 0;
  std::unique_ptr<CommitGroup> in_flight_;  // handed to the writer, not yet settled
  // Requests rejected against in_flight_'s state alone, answered when it is settled.
  std::vector<std::pair<Callback, Status>> rejected_;
  bool wal_dirty_ = false;
  engine::Millis last_wal_sync_ = 0;

  // Guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable wake_;      // the fold thread: requests, writer idle, stop
  std::condition_variable write_cv_;  // the writer: a group to write, stop
  std::deque<Pending> queue_;
  size_t queued_events_ = 0;
  bool stopping_ = false;
  bool writer_stop_ = false;
  CommitGroup* write_group_ = nullptr;  // owned by in_flight_; set while being written
  Answers write_answers_;
  engine::CommitNotice write_notice_;
  Status write_status_;                 // of the last group written
  uint64_t committed_position_ = 0;
  std::array<int64_t, engine::kJobStatusCount> committed_jobs_{};
  engine::EtaAccuracyTotals committed_accuracy_;

  std::thread writer_;
  std::thread folder_;
};

}  // namespace jobstate::storage
