#include "storage/internal/listing.h"

#include <algorithm>

#include "storage/internal/keys.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

std::vector<ListingKey> ListingEntries(const engine::JobSnapshot& job, uint64_t jid,
                                       engine::JobStatus status) {
  std::vector<ListingKey> out;
  out.reserve(1 + std::size(keys::kListingFilters));
  out.push_back(
      {Cf::kJobsByOrgStatus, keys::OrgStatusJob(job.org, status, job.created_at, jid)});
  for (keys::ListingFilter filter : keys::kListingFilters) {
    out.push_back(
        {Cf::kJobsByOrgFilter,
         keys::ListingEntry(keys::ListingFilterPrefix(job.org, filter,
                                                      job.collection_name, job.job_type),
                            status, job.created_at, jid)});
  }
  return out;
}

ListingScan::ListingScan(const Db& db, const rocksdb::ReadOptions& options,
                         const std::string& org, const engine::JobQuery& query) {
  // One run per status the query asks for; every status when it names none but
  // filters by collection or job type, whose entries are split by status too.
  std::vector<engine::JobStatus> statuses = query.statuses;
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
  std::string base;  // the runs' common prefix, before the status
  Cf cf = Cf::kJobsByOrgFilter;
  if (query.collection_name || query.job_type) {
    const auto filter = !query.job_type ? keys::ListingFilter::kCollection
                        : !query.collection_name
                            ? keys::ListingFilter::kType
                            : keys::ListingFilter::kCollectionAndType;
    base = keys::ListingFilterPrefix(org, filter, query.collection_name.value_or(""),
                                     query.job_type.value_or(engine::JobType{}));
    if (statuses.empty()) {
      for (size_t s = 0; s < engine::kJobStatusCount; ++s) {
        statuses.push_back(static_cast<engine::JobStatus>(s));
      }
    }
  } else {
    base = keys::JobName(org, "");
    cf = statuses.empty() ? Cf::kJobsByOrg : Cf::kJobsByOrgStatus;
  }
  if (statuses.empty()) {
    runs_.push_back({base, nullptr});
  } else {
    for (engine::JobStatus s : statuses)
      runs_.push_back({base + static_cast<char>(s), nullptr});
  }
  family_ = CfName(cf);
  for (Run& run : runs_) run.it.reset(db.get()->NewIterator(options, db.cf(cf)));
}

void ListingScan::Seek(engine::Millis created_at, uint64_t jid) {
  for (Run& run : runs_) {
    std::string key = run.prefix;
    keys::PutFixed64(key, ~static_cast<uint64_t>(created_at));
    keys::PutFixed64(key, jid);
    run.it->Seek(key);
  }
}

void ListingScan::SeekToFirst() {
  for (Run& run : runs_) run.it->Seek(run.prefix);
}

Result<std::optional<std::pair<engine::Millis, uint64_t>>> ListingScan::Next() {
  Run* best = nullptr;
  for (Run& run : runs_) {
    if (!run.it->Valid()) {
      Status s = FromRocks(run.it->status(), "scan " + std::string(family_));
      if (!s.ok()) return Err(s);
      continue;
    }
    const std::string_view key = run.it->key().ToStringView();
    if (!key.starts_with(run.prefix)) continue;
    if (key.size() != run.prefix.size() + 16) {
      return Err(Status::Corruption(keys::Describe(family_, key) + ": malformed key"));
    }
    if (!best || key.substr(run.prefix.size()) < Suffix(*best)) best = &run;
  }
  if (!best) return std::optional<std::pair<engine::Millis, uint64_t>>();
  const std::string_view suffix = Suffix(*best);
  const auto created = static_cast<engine::Millis>(~keys::DecodeFixed64(suffix.data()));
  const uint64_t jid = keys::DecodeFixed64(suffix.data() + 8);
  best->it->Next();
  return std::optional(std::make_pair(created, jid));
}

}  // namespace jobstate::storage
