#include "storage/internal/eta_history.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <string_view>

#include <rocksdb/db.h>

#include "storage/internal/keys.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

std::string EtaHistoryPrefixOf(const engine::JobSnapshot& job) {
  return keys::EtaHistoryPrefix(job.org, job.collection_name, job.job_type);
}

Result<std::optional<engine::EtaHistory>> ReadEtaHistory(const Db& db, const rocksdb::ReadOptions& ro,
                                                         const std::string& prefix,
                                                         std::optional<engine::Millis> at) {
  const std::string end = keys::EtaHistory(prefix, UINT64_MAX);
  rocksdb::ReadOptions options = ro;
  const rocksdb::Slice lower(prefix);
  options.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator(options, db.cf(Cf::kEtaHistory)));
  for (it->SeekForPrev(end); it->Valid(); it->Prev()) {
    const std::string_view key = it->key().ToStringView();
    auto record = DecodeEtaHistory(
        it->value().ToStringView(),
        "eta_history/position=" + std::to_string(keys::TrailingFixed64(key)));
    if (!record.has_value()) return Err(record.error());
    if (!at || record->recorded_at <= *at) return std::optional(std::move(record->history));
  }
  Status s = FromRocks(it->status(), "read eta_history");
  if (!s.ok()) return Err(s);
  return std::optional<engine::EtaHistory>();
}

void EtaHistoryBuilder::Add(const engine::JobSnapshot& job, uint64_t position,
                            engine::Millis recorded_at) {
  if (auto learned = engine::EtaLearnedFrom(job)) {
    by_position_[position] = Lesson{EtaHistoryPrefixOf(job), recorded_at, std::move(*learned)};
  }
}

void EtaHistoryBuilder::Merge(EtaHistoryBuilder&& other) {
  by_position_.merge(other.by_position_);
}

std::vector<std::pair<std::string, std::string>> EtaHistoryBuilder::Records() const {
  // Each prefix's records, in position order. Prefixes are self-delimiting (no prefix
  // begins another), so the runs laid end to end in prefix order are in key order.
  struct Run {
    EtaHistoryRecord sum;
    std::vector<std::pair<std::string, std::string>> records;
  };
  std::map<std::string_view, Run> runs;
  for (const auto& [position, lesson] : by_position_) {
    Run& run = runs[lesson.prefix];
    run.sum.recorded_at = lesson.recorded_at;
    run.sum.history.Learn(lesson.learned);
    run.records.emplace_back(keys::EtaHistory(lesson.prefix, position),
                             EncodeEtaHistory(run.sum));
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(by_position_.size());
  for (auto& [prefix, run] : runs) {
    std::move(run.records.begin(), run.records.end(), std::back_inserter(out));
  }
  return out;
}

}  // namespace jobstate::storage
