#pragma once
// The ETA's prior as stored data (engine/eta.h, EtaHistory): one record per completed
// job in the `eta_history` family, keyed by its (organisation, collection, job type)
// prefix and the log position of the event that completed it. Each record holds the
// sum of the lessons of every completed job of that prefix up to its position, so a
// read finds the prior in one seek, and a time-travel read the one that stood at its
// instant. Derived like every family but the log: the commit group appends a record
// when a job completes, and replay rebuilds the family from the jobs (EtaHistoryBuilder),
// in position order whatever order it folds them in.
//
// Thread safety: free functions and a plain builder.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/eta.h"
#include "engine/state.h"
#include "engine/status.h"
#include "storage/codec.h"
#include "storage/internal/db.h"

namespace jobstate::storage {

// The prefix of the prior a job learns from and teaches.
std::string EtaHistoryPrefixOf(const engine::JobSnapshot& job);

// The prior of `prefix` as it stood at `at` (recorded_at clock): the record with the
// highest position among those completed at or before `at`; nullopt when there is none.
// A live read passes no instant. Imports may bring jobs whose completions go back in
// time; the read then walks back over the records completed after `at`.
Result<std::optional<engine::EtaHistory>> ReadEtaHistory(const Db& db, const rocksdb::ReadOptions& ro,
                                                         const std::string& prefix,
                                                         std::optional<engine::Millis> at);

// Builds the family from completed jobs taken in any order (replay, verify).
class EtaHistoryBuilder {
 public:
  // The job whose event at `position`, recorded at `recorded_at`, completed it.
  void Add(const engine::JobSnapshot& job, uint64_t position, engine::Millis recorded_at);
  // Takes every job `other` was given (builders filled by parallel workers).
  void Merge(EtaHistoryBuilder&& other);
  // Every record (key, value), each prefix summed in position order, in key order.
  std::vector<std::pair<std::string, std::string>> Records() const;

 private:
  struct Lesson {
    std::string prefix;
    engine::Millis recorded_at = 0;
    engine::EtaHistory learned;
  };
  std::map<uint64_t, Lesson> by_position_;
};

}  // namespace jobstate::storage
