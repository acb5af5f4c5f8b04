#pragma once
// The job listing's indexes (docs/formats.md): jobs_by_org_status, and
// jobs_by_org_filter with a job's entries under its collection, its collection and job
// type, and its job type. Every entry ends with the job's status, ~created_at and jid,
// so a job's entries move together when its status changes, and a listing merges one
// run of entries per status, newest first.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/db.h>

#include "engine/job_store.h"
#include "engine/state.h"
#include "engine/status.h"
#include "storage/internal/db.h"

namespace jobstate::storage {

struct ListingKey {
  Cf cf;
  std::string key;
};

// A job's entries in the listing indexes while its status is `status`: one in
// jobs_by_org_status and one per filter in jobs_by_org_filter (its jobs_by_org entry
// does not depend on the status). The commit group, replay, the format upgrade and
// verify all take the entries from here.
std::vector<ListingKey> ListingEntries(const engine::JobSnapshot& job, uint64_t jid,
                                       engine::JobStatus status);

// The jobs of one organisation that a query's status, collection and job type filters
// select, newest first, as (created_at, jid). It reads the narrowest index that
// answers every one of those filters: a page costs the page, however many jobs of
// other statuses, collections or types were created in between.
class ListingScan {
 public:
  ListingScan(const Db& db, const rocksdb::ReadOptions& options, const std::string& org,
              const engine::JobQuery& query);

  // Positions every run at the first entry at or after (~created_at, jid).
  void Seek(engine::Millis created_at, uint64_t jid);
  void SeekToFirst();

  // The next entry across the runs, or nullopt at the end.
  Result<std::optional<std::pair<engine::Millis, uint64_t>>> Next();

 private:
  struct Run {
    std::string prefix;
    std::unique_ptr<rocksdb::Iterator> it;
  };
  static std::string_view Suffix(const Run& run) {
    return run.it->key().ToStringView().substr(run.prefix.size());
  }
  std::vector<Run> runs_;
  std::string_view family_;  // the index read, for errors
};

}  // namespace jobstate::storage
