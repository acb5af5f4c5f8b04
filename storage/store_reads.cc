// Store's reads: file pages, a job's stream, the global log. Each read works on one
// RocksDB snapshot so that what it returns is consistent, and each costs time
// proportional to what it returns (seeks, then one step per item).
#include <algorithm>

#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "storage/rocks_status.h"
#include "storage/store.h"

namespace jobstate::storage {

namespace {

using engine::FileStatus;


// Ordinals of files in any of `statuses`, ascending, from `start`: a merge of one
// index range per status, so it costs O(count x statuses) whatever the job's size.
Result<std::vector<uint64_t>> MergeStatusRanges(const Db& db, const rocksdb::ReadOptions& ro,
                                                uint64_t jid,
                                                const std::vector<FileStatus>& statuses,
                                                uint64_t start, size_t count) {
  struct Range {
    std::unique_ptr<rocksdb::Iterator> it;
    std::string prefix;
    bool valid() const { return it->Valid() && it->key().starts_with(prefix); }
  };
  std::vector<Range> ranges;
  for (FileStatus st : statuses) {
    Range r{std::unique_ptr<rocksdb::Iterator>(db.get()->NewIterator(ro, db.cf(Cf::kFilesByStatus))),
            keys::FileStatusKey(jid, st, 0).substr(0, 9)};
    r.it->Seek(keys::FileStatusKey(jid, st, start));
    ranges.push_back(std::move(r));
  }
  std::vector<uint64_t> out;
  while (out.size() < count) {
    Range* best = nullptr;
    uint64_t best_ordinal = 0;
    for (Range& r : ranges) {
      if (!r.valid()) continue;
      const uint64_t ordinal = keys::TrailingFixed64(r.it->key().ToStringView());
      if (!best || ordinal < best_ordinal) {
        best = &r;
        best_ordinal = ordinal;
      }
    }
    if (!best) break;
    out.push_back(best_ordinal);
    best->it->Next();
  }
  for (Range& r : ranges) {
    if (!r.it->status().ok()) return Err(FromRocks(r.it->status(), "scan files_by_status"));
  }
  return out;
}


}  // namespace

Result<engine::FilePage> Store::ListFiles(const std::string& org, const std::string& job_id,
                                          const engine::FileQuery& query) const {
  ReadSnapshot snap(*db_);
  auto jid = ResolveJob(org, job_id, snap.get());
  if (!jid.has_value()) return Err(jid.error());
  auto job = LoadSnapshot(*jid, snap.get());
  if (!job.has_value()) return Err(job.error());

  std::vector<FileStatus> statuses = query.statuses;
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());

  engine::FilePage page;
  if (query.unless_version == job->version) {
    for (FileStatus st : statuses) page.total_matching += job->count(st);
    if (statuses.empty()) page.total_matching = job->files_total();
    page.rows_skipped = true;
    page.job = std::move(*job);
    return page;
  }
  const uint64_t start = query.after_ordinal ? *query.after_ordinal + 1 : 0;
  const size_t want = query.limit + 1;  // one more tells whether a next page exists
  std::vector<uint64_t> ordinals;
  if (statuses.empty()) {
    // Unfiltered: rows are keyed by (jid, ordinal), so the page is one range scan.
    page.total_matching = job->files_total();
    const std::string prefix = keys::Job(*jid);
    std::unique_ptr<rocksdb::Iterator> it(
        db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kFiles)));
    for (it->Seek(keys::File(*jid, start));
         it->Valid() && it->key().starts_with(prefix) && page.rows.size() < want; it->Next()) {
      auto row =
          DecodeFileRow(it->value().ToStringView(), {"files", it->key().ToStringView()});
      if (!row.has_value()) return Err(row.error());
      page.rows.push_back(std::move(*row));
    }
    if (!it->status().ok()) return Err(FromRocks(it->status(), "scan files"));
    page.has_more = page.rows.size() > query.limit;
    if (page.has_more) page.rows.pop_back();
    page.job = std::move(*job);
    return page;
  } else {
    for (FileStatus st : statuses) page.total_matching += job->count(st);
    auto merged = MergeStatusRanges(*db_, snap.Options(), *jid, statuses, start, want);
    if (!merged.has_value()) return Err(merged.error());
    ordinals = std::move(*merged);
  }
  page.job = std::move(*job);
  page.has_more = ordinals.size() > query.limit;
  if (page.has_more) ordinals.pop_back();
  page.rows.reserve(ordinals.size());
  for (uint64_t ordinal : ordinals) {
    auto row = ReadFileRow(*db_, *jid, ordinal, snap.get());
    if (!row.has_value()) return Err(row.error());
    page.rows.push_back(std::move(*row));
  }
  return page;
}

Result<std::vector<engine::RecordedEvent>> Store::ReadJobEvents(const std::string& org,
                                                                const std::string& job_id,
                                                                uint64_t from_version,
                                                                size_t limit) const {
  ReadSnapshot snap(*db_);
  auto jid = ResolveJob(org, job_id, snap.get());
  if (!jid.has_value()) return Err(jid.error());
  const std::string prefix = keys::Job(*jid);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kEvents)));
  std::vector<engine::RecordedEvent> out;
  for (it->Seek(keys::JobVersion(*jid, std::max<uint64_t>(from_version, 1)));
       it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
    auto e =
        DecodeEvent(it->value().ToStringView(), {"events", it->key().ToStringView()});
    if (!e.has_value()) return Err(e.error());
    out.push_back(std::move(*e));
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan events"));
  return out;
}

Result<std::vector<engine::LogEntry>> Store::ReadLog(uint64_t after_position,
                                                     size_t limit) const {
  ReadSnapshot snap(*db_);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kLog)));
  std::vector<engine::LogEntry> out;
  for (it->Seek(keys::Position(after_position + 1)); it->Valid() && out.size() < limit;
       it->Next()) {
    const std::string_view value = it->value().ToStringView();
    auto where = [&] { return keys::Describe("log", it->key().ToStringView()); };
    if (value.size() < 16) return Err(Status::Corruption(where() + ": malformed entry"));
    const std::string event_key(value.substr(0, 16));
    auto record = db_->Get(Cf::kEvents, event_key, snap.get());
    if (!record.has_value()) return Err(record.error());
    if (!*record) return Err(Status::Corruption(where() + ": its event is missing"));
    auto e = DecodeEvent(**record, {"events", event_key});
    if (!e.has_value()) return Err(e.error());
    out.push_back(engine::LogEntry{std::string(value.substr(16)), std::move(*e)});
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan log"));
  return out;
}

Result<engine::JobPage> Store::ListJobs(const std::string& org,
                                        const engine::JobQuery& query) const {
  ReadSnapshot snap(*db_);
  // The scan passes over only the jobs the status, collection and job type filters
  // select, so a page of running jobs among a million completed ones, or of one
  // collection among many, costs the page.
  ListingScan scan(*db_, snap.Options(), org, query);
  // Newest first: start after the cursor, or at the created_before bound.
  if (query.after) {
    scan.Seek(query.after->first, query.after->second + 1);
  } else if (query.created_before) {
    scan.Seek(*query.created_before - 1, 0);
  } else {
    scan.SeekToFirst();
  }
  engine::JobPage page;
  uint64_t last_jid = 0;
  for (;;) {
    auto next = scan.Next();
    if (!next.has_value()) return Err(next.error());
    if (!*next) break;
    const auto [created, jid] = **next;
    if (query.created_before && created >= *query.created_before) continue;
    if (query.created_after && created <= *query.created_after) break;
    auto job = LoadSnapshot(jid, snap.get());
    if (!job.has_value()) return Err(job.error());
    // (A job always matches its entries; `jobctl verify` checks the indexes. The
    // filters are checked again on the snapshot all the same.)
    const bool status_ok =
        query.statuses.empty() || std::find(query.statuses.begin(), query.statuses.end(),
                                            job->status) != query.statuses.end();
    if (!status_ok || (query.collection_name && job->collection_name != *query.collection_name) ||
        (query.job_type && job->job_type != *query.job_type)) {
      continue;
    }
    if (page.jobs.size() == query.limit) {
      const engine::JobSnapshot& last = page.jobs.back();
      page.next = std::make_pair(last.created_at, last_jid);
      break;
    }
    last_jid = jid;
    page.jobs.push_back(std::move(*job));
  }
  return page;
}

}  // namespace jobstate::storage
