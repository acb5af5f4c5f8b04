#pragma once
// Folds one job's stored stream from scratch, in memory: the shared core of replay and
// verification. After each event `each` sees the event, its record as stored, the
// snapshot and the file table as they stand, and the ordinals the event changed.
//
// Thread safety: a free function; the caller owns the iterator.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rocksdb/iterator.h>

#include "engine/file_table.h"
#include "engine/state.h"

namespace jobstate::storage {

// A MemoryFileTable that remembers which rows changed since the last Forget().
class TrackingFileTable final : public engine::FileTable {
 public:
  Result<std::optional<engine::FileRow>> Find(std::string_view uri) override {
    return rows_.Find(uri);
  }
  Status Put(const engine::FileRow& row, std::optional<engine::FileStatus> before) override {
    const uint64_t ordinal = row.ordinal;
    if (ordinal >= is_changed_.size()) is_changed_.resize(ordinal + 1);
    if (!is_changed_[ordinal]) {
      is_changed_[ordinal] = true;
      changed_.push_back(ordinal);
    }
    return rows_.Put(row, before);
  }
  Result<std::vector<engine::FileRow>> ListByStatus(engine::FileStatus status, uint64_t from,
                                                    size_t limit) override {
    return rows_.ListByStatus(status, from, limit);
  }
  const std::vector<engine::FileRow>& rows() const { return rows_.rows(); }
  // The ordinals changed since Forget, in the order of their first change.
  const std::vector<uint64_t>& changed() const { return changed_; }
  bool Changed(uint64_t ordinal) const {
    return ordinal < is_changed_.size() && is_changed_[ordinal];
  }
  void Forget() {
    for (uint64_t ordinal : changed_) is_changed_[ordinal] = false;
    changed_.clear();
  }

 private:
  engine::MemoryFileTable rows_;
  std::vector<uint64_t> changed_;
  std::vector<bool> is_changed_;  // by ordinal
};

struct RefoldedJob {
  engine::JobSnapshot snap;
  TrackingFileTable files;
  // The event that made the job final (its position and recorded_at), once folded:
  // where a completed job's lesson enters the ETA's prior.
  std::optional<std::pair<uint64_t, engine::Millis>> final_event;
};

// Folds job `jid` (named org/job_id) from its events, read through `events`, an
// iterator over the events family: a caller that folds jobs in ascending jid order
// keeps one iterator for all of them, so that each job's seek starts from where the
// last one ended (within the same block, RocksDB skips the index). `each` may be
// empty; a non-OK Status from it stops the fold and is returned. Corruption when an
// event does not decode or does not fold.
Status RefoldJob(
    rocksdb::Iterator& events, uint64_t jid, const std::string& org,
    const std::string& job_id, RefoldedJob& out,
    const std::function<Status(const engine::RecordedEvent&, std::string_view record,
                               RefoldedJob&)>& each);

}  // namespace jobstate::storage
