#pragma once
// Replay's bulk load of the families keyed by job first (keys::Job(jid) leads every
// key of dedupe, checkpoints, file_versions, snapshots, files, file_ids and
// files_by_status). A replay worker takes jobs in ascending jid order, so it can write
// those families as sorted SST files, one job after the other, and the files are
// ingested when replay ends: no memtable insert, no WAL, no flush of the same bytes a
// second time. Each worker's files are disjoint and ascending; two workers' files
// overlap, so each worker's are ingested by a call of their own. The ETA prior, known
// only once every job has folded, goes through a SortedFiles of its own at the end.
//
// Thread safety: one SortedFiles per worker, one FeedFiles for the thread that reads the
// log; IngestSortedFiles once all have finished.

#include <array>
#include <map>
#include <string_view>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/sst_file_writer.h>

#include "engine/status.h"
#include "storage/internal/db.h"

namespace jobstate::storage {

// Whether replay's workers write `cf` through their SortedFiles.
bool KeyedByJob(Cf cf);

class SortedFiles {
 public:
  // Files go to `dir` (which must exist), named after `worker`.
  SortedFiles(const Db& db, std::string dir, unsigned worker);
  ~SortedFiles();
  SortedFiles(SortedFiles&&) noexcept;
  SortedFiles(const SortedFiles&) = delete;
  SortedFiles& operator=(const SortedFiles&) = delete;

  // Buffers a record of the job being replayed. Each job's keys of a family must sort
  // after the previous job's (true of the families KeyedByJob, in jid order).
  void Put(Cf cf, std::string key, std::string value);
  // Bytes buffered for the job so far.
  size_t buffered_bytes() const { return buffered_bytes_; }
  // Hands the job's buffered records back (they go through a WriteBatch instead): for
  // a job too large to sort in memory.
  std::vector<std::pair<Cf, std::pair<std::string, std::string>>> TakeBuffered();
  // Sorts the job's records per family and appends them to the family's open file (the
  // last write of a key wins, as in a WriteBatch). Jobs must come in ascending jid order.
  Status EndJob();
  // Closes the open files; Files() then lists them per family, ascending.
  Status Finish();
  const std::vector<std::string>& Files(Cf cf) const;

 private:
  struct Family {
    std::vector<std::pair<std::string, std::string>> job;
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    std::vector<std::string> files;
  };
  Status Append(Cf cf, Family& f);

  const Db& db_;
  std::string dir_;
  unsigned worker_;
  size_t buffered_bytes_ = 0;
  unsigned next_file_ = 0;
  std::array<Family, static_cast<size_t>(Cf::kCount)> families_;
};

// The organisation feed index (log_by_org: organisation, then position), written while
// the log is read in position order: within one organisation the keys ascend, and
// organisations' ranges are disjoint, so each of the first kMaxOrgs organisations gets
// files of its own and all of them are ingested by one call. Later organisations' entries
// go through the memtables (Put answers false).
class FeedFiles {
 public:
  static constexpr size_t kMaxOrgs = 64;
  FeedFiles(const Db& db, std::string dir);
  ~FeedFiles();
  Result<bool> Put(std::string_view org, const std::string& key, std::string_view value);
  // Closes the open files.
  Status Finish();
  const std::vector<std::string>& Files() const { return files_; }

 private:
  const Db& db_;
  std::string dir_;
  // Each organisation's open file (null between files).
  std::map<std::string, std::unique_ptr<rocksdb::SstFileWriter>, std::less<>> orgs_;
  decltype(orgs_)::iterator last_ = orgs_.end();  // the organisation of the last Put
  std::vector<std::string> files_;
};

// Ingests `files` into their families (moving them), with the feed's files when given,
// in one atomic call: one manifest write, not one per family. Two workers' files overlap,
// so each worker's take a call of their own.
Status IngestSortedFiles(const Db& db, const SortedFiles& files,
                         const FeedFiles* feed = nullptr);

}  // namespace jobstate::storage
