#pragma once
// Operations on a data dir that need it to themselves (jobctl): replay and restore.
// Each opens the data dir itself and fails with Unavailable when a server (or another
// jobctl) holds it.
//
// Thread safety: one operation per data dir at a time (RocksDB's lock enforces it).

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/status.h"

namespace jobstate::storage {

struct ReplayProgress {
  uint64_t events_done = 0;
  uint64_t events_total = 0;  // the log's length
  uint64_t jobs_done = 0;
};

struct ReplayOptions {
  uint64_t checkpoint_interval = 1000;  // Default: a checkpoint every 1,000 versions
  // Called now and then (about every 50,000 events), from one of the replaying threads
  // at a time.
  std::function<void(const ReplayProgress&)> progress;
  // When set and true, the replay stops at the next job boundary (Aborted).
  const std::atomic<bool>* stop = nullptr;
  // Worker threads folding jobs in parallel; 0: one per core.
  unsigned threads = 0;
  // The families keyed by job are written as sorted files and ingested at the end;
  // a job whose records there exceed this many bytes (they are sorted in memory) is
  // written through the memtables instead.
  size_t sorted_job_bytes = 256 << 20;  // Default: 256 MiB
  // Each worker reads the events of its jobs through one iterator, opened again after
  // this many jobs: an iterator holds on to the tables it reads, and a compaction of
  // the events family left pending by the server may run during replay.
  uint64_t jobs_per_iterator = 16384;
};

struct ReplayStats {
  uint64_t events = 0, jobs = 0;
  double seconds = 0;
};

// Deletes every derived family (snapshots, file rows and their indexes, dedupe,
// listings, checkpoints, the organisation feed index, file versions) and rebuilds it
// from the truth (jobs, events, log). The data dir is marked while the replay runs:
// if it is interrupted (stopped, killed, power lost) Store::Open refuses the data dir
// until a replay completes, and running replay again starts over; nothing of the
// truth is ever written.
Result<ReplayStats> Replay(const std::string& path, const ReplayOptions& options);

// Restores the newest backup in `backup_dir` (made by Store::Backup) into `path`,
// which must not exist or be empty. Corruption when the backup fails its checksums.
Status Restore(const std::string& backup_dir, const std::string& path);

}  // namespace jobstate::storage
