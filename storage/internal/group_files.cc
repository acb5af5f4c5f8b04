#include "storage/internal/group_files.h"

#include <algorithm>

#include "storage/codec.h"
#include "storage/internal/keys.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

using engine::FileRow;
using engine::FileStatus;


const FileRow* GroupFiles::Changed(uint64_t jid, uint64_t ordinal) const {
  for (const GroupFiles* g = this; g; g = g->parent_) {
    if (auto it = g->by_ordinal_.find({jid, ordinal}); it != g->by_ordinal_.end()) {
      return &g->rows_.at(it->second).row;
    }
  }
  return nullptr;
}

Result<std::optional<FileRow>> GroupFiles::Lookup(uint64_t jid, std::string_view uri) const {
  const std::string key = keys::FileId(jid, uri);
  for (const GroupFiles* g = this; g; g = g->parent_) {
    if (auto it = g->rows_.find(key); it != g->rows_.end()) return it->second.row;
  }
  if (const FileRow* cached = cache_.Get(key)) return *cached;
  auto id = db_.Get(Cf::kFileIds, key);
  if (!id.has_value()) return Err(id.error());
  if (!*id) return std::nullopt;
  if ((*id)->size() != 8) {
    return Err(Status::Corruption(keys::Describe("file_ids", key) + ": malformed ordinal"));
  }
  auto row = ReadFileRow(db_, jid, keys::DecodeFixed64((*id)->data()));
  if (!row.has_value()) return Err(row.error());
  return std::optional<FileRow>(std::move(*row));
}

void GroupFiles::Undo() {
  // Newest first, so a row changed twice in one request ends as it was before both.
  // A row the overlay did not hold before simply leaves it: reads then fall back to
  // the committed state in the cache and RocksDB.
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    auto& [key, before] = *it;
    auto row = rows_.find(key);
    if (before) {
      row->second = std::move(*before);
    } else if (row != rows_.end()) {
      by_ordinal_.erase({keys::DecodeFixed64(key.data()), row->second.row.ordinal});
      rows_.erase(row);
    }
  }
  undo_.clear();
}

void GroupFiles::StageWrites(std::vector<StagedWrite>& out,
                             const std::function<uint64_t(uint64_t jid)>& job_version) const {
  for (const auto& [key, entry] : rows_) {
    const engine::FileRow& row = entry.row;
    const uint64_t jid = keys::DecodeFixed64(key.data());
    std::string record = EncodeFileRow(row);
    out.push_back({Cf::kFileVersions, keys::FileVersion(jid, row.ordinal, job_version(jid)),
                   record});
    out.push_back({Cf::kFiles, keys::File(jid, row.ordinal), std::move(record)});
    if (!entry.committed_status) {
      out.push_back({Cf::kFileIds, key, keys::Fixed64(row.ordinal)});
    } else if (*entry.committed_status != row.status) {
      out.push_back(
          {Cf::kFilesByStatus, keys::FileStatusKey(jid, *entry.committed_status, row.ordinal),
           std::nullopt});
    }
    if (entry.committed_status != row.status) {
      out.push_back({Cf::kFilesByStatus, keys::FileStatusKey(jid, row.status, row.ordinal), ""});
    }
  }
}

void GroupFiles::Publish() {
  // The cache is for files in flight: a file whose processing has ended rarely gets
  // another event (a retry reads it back), and keeping it would grow the cache with
  // the store instead of with the work in progress.
  for (auto& [key, entry] : rows_) {
    if (engine::IsProcessed(entry.row.status)) {
      cache_.Erase(key);
    } else {
      cache_.Put(key, std::move(entry.row));
    }
  }
  rows_.clear();
  by_ordinal_.clear();
}

Result<std::optional<FileRow>> GroupFiles::JobFiles::Find(std::string_view uri) {
  return group_.Lookup(jid_, uri);
}

Status GroupFiles::JobFiles::Put(const FileRow& row, std::optional<FileStatus> before) {
  GroupFiles& g = group_;
  const std::string key = keys::FileId(jid_, row.uri);
  auto it = g.rows_.find(key);
  if (it == g.rows_.end()) {
    // First change in this group: `before` is the committed status (none if new).
    g.undo_.emplace_back(key, std::nullopt);
    g.rows_.emplace(key, Entry{row, before});
    g.by_ordinal_[{jid_, row.ordinal}] = key;
  } else {
    g.undo_.emplace_back(key, it->second);
    it->second.row = row;
  }
  return Status::OK();
}

Result<std::vector<FileRow>> GroupFiles::JobFiles::ListByStatus(FileStatus status,
                                                                uint64_t from, size_t limit) {
  GroupFiles& g = group_;
  // Committed rows in `status` that neither this group nor its parent changed...
  std::vector<FileRow> committed;
  const std::string prefix = keys::FileStatusKey(jid_, status, 0).substr(0, 9);
  std::unique_ptr<rocksdb::Iterator> it(
      g.db_.get()->NewIterator(rocksdb::ReadOptions(), g.db_.cf(Cf::kFilesByStatus)));
  for (it->Seek(keys::FileStatusKey(jid_, status, from));
       it->Valid() && it->key().starts_with(prefix) && committed.size() < limit; it->Next()) {
    const uint64_t ordinal = keys::TrailingFixed64(it->key().ToStringView());
    if (g.Changed(jid_, ordinal)) continue;
    auto row = ReadFileRow(g.db_, jid_, ordinal);
    if (!row.has_value()) return Err(row.error());
    committed.push_back(std::move(*row));
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan files_by_status"));
  // ...and the changed rows now in `status`, the newest version of each.
  std::map<uint64_t, FileRow> changed;
  for (const GroupFiles* level = &g; level; level = level->parent_) {
    for (auto o = level->by_ordinal_.lower_bound({jid_, from});
         o != level->by_ordinal_.end() && o->first.first == jid_; ++o) {
      if (changed.count(o->first.second) || g.Changed(jid_, o->first.second) !=
                                                &level->rows_.at(o->second).row) {
        continue;  // a newer level holds this row
      }
      const FileRow& row = level->rows_.at(o->second).row;
      if (row.status == status) changed.emplace(row.ordinal, row);
    }
  }
  std::vector<FileRow> out;
  out.reserve(std::min(limit, committed.size() + changed.size()));
  auto c = committed.begin();
  auto m = changed.begin();
  while (out.size() < limit && (c != committed.end() || m != changed.end())) {
    if (m == changed.end() || (c != committed.end() && c->ordinal < m->first)) {
      out.push_back(std::move(*c++));
    } else {
      out.push_back(std::move(m++->second));
    }
  }
  return out;
}

}  // namespace jobstate::storage
