// Store's reads of the past: an organisation's feed, and a job as of a version or an
// instant (time travel).
//
// Time travel folds from the newest checkpoint at or before the version asked for.
// Checkpoints fall on commit-group ends, and every file row a group changes is also
// stored in file_versions under the job's version at that group's end, so the rows as
// of a checkpoint are exactly the newest file_versions entries at or before it. The
// fold then replays at most about one checkpoint interval of events (plus the events
// of the job in one group), whatever the stream's length.
#include <algorithm>
#include <map>

#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/keys.h"
#include "storage/rocks_status.h"
#include "storage/store.h"

namespace jobstate::storage {

namespace {

using engine::FileRow;
using engine::FileStatus;

// The file rows of one job as of a checkpoint version, with the fold's changes on top.
// Rows the fold has not touched are read from file_versions; a file that did not exist
// at the checkpoint has no entry at or before it.
class HistoricalFiles final : public engine::FileTable {
 public:
  HistoricalFiles(const Db& db, const ReadSnapshot& snap, uint64_t jid, uint64_t base_version)
      : db_(db),
        snap_(snap),
        jid_(jid),
        base_(base_version),
        it_(db.get()->NewIterator(snap.Options(), db.cf(Cf::kFileVersions))) {}

  Result<std::optional<FileRow>> Find(std::string_view uri) override {
    if (auto it = by_uri_.find(uri); it != by_uri_.end()) return changed_.at(it->second);
    // Ordinals never change, so today's uri index names the file's ordinal in the past.
    auto ordinal = db_.Get(Cf::kFileIds, keys::FileId(jid_, uri), snap_.get());
    if (!ordinal.has_value()) return Err(ordinal.error());
    if (!*ordinal) return std::nullopt;
    if ((*ordinal)->size() != 8) {
      return Err(Status::Corruption(keys::Describe("file_ids", keys::FileId(jid_, uri)) +
                                    ": malformed ordinal"));
    }
    return RowAt(keys::DecodeFixed64((*ordinal)->data()));
  }

  Status Put(const FileRow& row, std::optional<FileStatus>) override {
    changed_[row.ordinal] = row;
    by_uri_.emplace(row.uri, row.ordinal);
    return Status::OK();
  }

  // Scans ordinals in order: the by-status index holds only today's statuses. The fold
  // asks for this only when a job is cancelled, once per job.
  Result<std::vector<FileRow>> ListByStatus(FileStatus status, uint64_t from,
                                            size_t limit) override {
    std::vector<FileRow> out;
    for (uint64_t ordinal = from; out.size() < limit; ++ordinal) {
      auto row = RowAt(ordinal);
      if (!row.has_value()) return Err(row.error());
      if (!*row) break;  // ordinals are dense: the first missing one ends the job's files
      if ((*row)->status == status) out.push_back(std::move(**row));
    }
    return out;
  }

  // The row of `ordinal` as of the fold's current version, or nullopt if the file did
  // not exist then.
  Result<std::optional<FileRow>> RowAt(uint64_t ordinal) {
    if (auto it = changed_.find(ordinal); it != changed_.end()) return it->second;
    const std::string prefix = keys::File(jid_, ordinal);
    it_->SeekForPrev(keys::FileVersion(jid_, ordinal, base_));
    if (!it_->status().ok()) return Err(FromRocks(it_->status(), "scan file_versions"));
    if (!it_->Valid() || !it_->key().starts_with(prefix)) return std::nullopt;
    auto row = DecodeFileRow(it_->value().ToStringView(),
                             {"file_versions", it_->key().ToStringView()});
    if (!row.has_value()) return Err(row.error());
    return std::optional<FileRow>(std::move(*row));
  }

 private:
  const Db& db_;
  const ReadSnapshot& snap_;
  const uint64_t jid_;
  const uint64_t base_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::map<uint64_t, FileRow> changed_;                        // ordinal -> row
  std::map<std::string, uint64_t, std::less<>> by_uri_;        // uri -> ordinal
};

Result<engine::RecordedEvent> ReadEvent(const Db& db, uint64_t jid, uint64_t version,
                                        const ReadSnapshot& snap) {
  const std::string key = keys::JobVersion(jid, version);
  auto value = db.Get(Cf::kEvents, key, snap.get());
  if (!value.has_value()) return Err(value.error());
  if (!*value) return Err(Status::Corruption(keys::Describe("events", key) + ": missing"));
  return DecodeEvent(**value, {"events", key});
}

}  // namespace

Result<std::vector<engine::RecordedEvent>> Store::ReadOrgLog(const std::string& org,
                                                             uint64_t after_position,
                                                             size_t limit) const {
  ReadSnapshot snap(*db_);
  const std::string prefix = keys::JobName(org, "");
  std::unique_ptr<rocksdb::Iterator> it(
      db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kLogByOrg)));
  std::vector<engine::RecordedEvent> out;
  for (it->Seek(keys::OrgPosition(org, after_position + 1));
       it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
    const std::string_view value = it->value().ToStringView();
    if (value.size() != 16) {
      return Err(Status::Corruption(
          keys::Describe("log_by_org", it->key().ToStringView()) + ": malformed entry"));
    }
    auto e = ReadEvent(*db_, keys::DecodeFixed64(value.data()),
                       keys::DecodeFixed64(value.data() + 8), snap);
    if (!e.has_value()) return Err(e.error());
    out.push_back(std::move(*e));
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan log_by_org"));
  return out;
}

Result<engine::HistoricalPage> Store::ReadAsOf(const std::string& org,
                                               const std::string& job_id,
                                               const engine::AsOf& as_of,
                                               const engine::FileQuery& query) const {
  ReadSnapshot snap(*db_);
  auto jid = ResolveJob(org, job_id, snap.get());
  if (!jid.has_value()) return Err(jid.error());
  auto current = LoadSnapshot(*jid, snap.get());
  if (!current.has_value()) return Err(current.error());
  const uint64_t head = current->version;

  // The version to fold to, and the instant the view is evaluated at.
  uint64_t target = 0;
  engine::Millis at = 0;
  if (as_of.version) {
    target = *as_of.version;
    if (target > head) {
      Status s = Status::InvalidArgument(
          "version_out_of_range", "job " + job_id + " holds " + std::to_string(head) +
                                      " events; as_of_version " + std::to_string(target) +
                                      " is beyond them");
      s.mutable_details().current_version = head;
      return Err(std::move(s));
    }
  } else {
    // recorded_at never decreases along a stream: binary search for the last event
    // recorded at or before the instant.
    uint64_t lo = 0, hi = head;  // invariant: event lo is at or before, event hi+1 after
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo + 1) / 2;
      auto e = ReadEvent(*db_, *jid, mid, snap);
      if (!e.has_value()) return Err(e.error());
      if (e->recorded_at <= *as_of.instant) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    target = lo;
    at = *as_of.instant;
  }
  if (target == 0) {
    return Err(Status::NotFound("job_not_found", "job " + job_id + " had no events then"));
  }

  // Start from the newest checkpoint at or before the target, or from nothing.
  engine::JobSnapshot job;
  job.org = org;
  job.job_id = job_id;
  uint64_t base = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kCheckpoints)));
    it->SeekForPrev(keys::JobVersion(*jid, target));
    if (!it->status().ok()) return Err(FromRocks(it->status(), "scan checkpoints"));
    if (it->Valid() && it->key().starts_with(keys::Job(*jid))) {
      auto cp = DecodeSnapshot(it->value().ToStringView(),
                               {"checkpoints", it->key().ToStringView()});
      if (!cp.has_value()) return Err(cp.error());
      job = std::move(*cp);
      base = job.version;
    }
  }
  HistoricalFiles files(*db_, snap, *jid, base);
  {
    const std::string prefix = keys::Job(*jid);
    std::unique_ptr<rocksdb::Iterator> it(
        db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kEvents)));
    for (it->Seek(keys::JobVersion(*jid, base + 1));
         it->Valid() && it->key().starts_with(prefix) && job.version < target; it->Next()) {
      auto e =
          DecodeEvent(it->value().ToStringView(), {"events", it->key().ToStringView()});
      if (!e.has_value()) return Err(e.error());
      if (as_of.version) at = e->recorded_at;
      Status s = engine::Apply(job, files, *e);
      if (!s.ok()) {
        return Err(Status::Corruption("job " + job_id + ": stored event " +
                                      std::to_string(e->version) +
                                      " does not fold: " + s.message()));
      }
    }
    if (!it->status().ok()) return Err(FromRocks(it->status(), "scan events"));
  }
  if (job.version != target) {
    return Err(Status::Corruption("job " + job_id + ": stream ends at " +
                                  std::to_string(job.version) + ", before version " +
                                  std::to_string(target)));
  }
  if (as_of.version && base == target) {
    // Nothing folded: the checkpoint itself is the target; its last event dates it.
    auto e = ReadEvent(*db_, *jid, target, snap);
    if (!e.has_value()) return Err(e.error());
    at = e->recorded_at;
  }

  // The page, in ordinal order over the files the job had then.
  engine::HistoricalPage out;
  out.at = at;
  engine::FilePage& page = out.page;
  const auto total = static_cast<uint64_t>(job.files_total());
  std::vector<FileStatus> statuses = query.statuses;
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
  page.total_matching = job.files_total();
  if (!statuses.empty()) {
    page.total_matching = 0;
    for (FileStatus st : statuses) page.total_matching += job.count(st);
  }
  const size_t want = query.limit + 1;
  for (uint64_t ordinal = query.after_ordinal ? *query.after_ordinal + 1 : 0;
       ordinal < total && page.rows.size() < want; ++ordinal) {
    auto row = files.RowAt(ordinal);
    if (!row.has_value()) return Err(row.error());
    if (!*row) {
      return Err(Status::Corruption("job " + job_id + ": no row for file " +
                                    std::to_string(ordinal) + " at version " +
                                    std::to_string(target)));
    }
    const bool match = statuses.empty() || std::binary_search(statuses.begin(), statuses.end(),
                                                              (*row)->status);
    if (match) page.rows.push_back(std::move(**row));
  }
  page.has_more = page.rows.size() > query.limit;
  if (page.has_more) page.rows.pop_back();
  page.job = std::move(job);
  return out;
}

}  // namespace jobstate::storage
