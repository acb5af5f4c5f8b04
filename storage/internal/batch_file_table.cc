#include "storage/internal/batch_file_table.h"

#include "storage/codec.h"
#include "storage/internal/keys.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

Result<std::optional<std::string>> BatchFileTable::Read(Cf cf, const std::string& key) {
  std::string value;
  rocksdb::Status s =
      batch_.GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(), db_.cf(cf), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return Err(FromRocks(s, "read " + std::string(CfName(cf))));
  return value;
}

Result<engine::FileRow> BatchFileTable::LoadRow(uint64_t ordinal) {
  const std::string key = keys::File(jid_, ordinal);
  auto value = Read(Cf::kFiles, key);
  if (!value.has_value()) return Err(value.error());
  if (!*value) {
    return Err(Status::Corruption(keys::Describe("files", key) + ": indexed but missing"));
  }
  return DecodeFileRow(**value, keys::Describe("files", key));
}

Result<std::optional<engine::FileRow>> BatchFileTable::Find(std::string_view uri) {
  const std::string key = keys::FileId(jid_, uri);
  auto id = Read(Cf::kFileIds, key);
  if (!id.has_value()) return Err(id.error());
  if (!*id) return std::nullopt;
  if ((*id)->size() != 8) {
    return Err(Status::Corruption(keys::Describe("file_ids", key) + ": malformed ordinal"));
  }
  auto row = LoadRow(keys::DecodeFixed64((*id)->data()));
  if (!row.has_value()) return Err(row.error());
  return std::optional<engine::FileRow>(std::move(*row));
}

Status BatchFileTable::Put(const engine::FileRow& row,
                           std::optional<engine::FileStatus> before) {
  rocksdb::Status s =
      batch_.Put(db_.cf(Cf::kFiles), keys::File(jid_, row.ordinal), EncodeFileRow(row));
  if (s.ok() && !before) {
    s = batch_.Put(db_.cf(Cf::kFileIds), keys::FileId(jid_, row.uri),
                   keys::Fixed64(row.ordinal));
  }
  if (s.ok() && before && *before != row.status) {
    s = batch_.Delete(db_.cf(Cf::kFilesByStatus),
                      keys::FileStatusKey(jid_, *before, row.ordinal));
  }
  if (s.ok() && (!before || *before != row.status)) {
    s = batch_.Put(db_.cf(Cf::kFilesByStatus),
                   keys::FileStatusKey(jid_, row.status, row.ordinal), "");
  }
  return FromRocks(s, "stage file row");
}

Result<std::vector<engine::FileRow>> BatchFileTable::ListByStatus(engine::FileStatus status,
                                                                  uint64_t from,
                                                                  size_t limit) {
  const std::string prefix = keys::FileStatusKey(jid_, status, 0).substr(0, 9);
  std::unique_ptr<rocksdb::Iterator> it(batch_.NewIteratorWithBase(
      db_.cf(Cf::kFilesByStatus),
      db_.get()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::kFilesByStatus))));
  std::vector<uint64_t> ordinals;
  for (it->Seek(keys::FileStatusKey(jid_, status, from));
       it->Valid() && ordinals.size() < limit && it->key().starts_with(prefix); it->Next()) {
    ordinals.push_back(keys::TrailingFixed64(it->key().ToStringView()));
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan files_by_status"));
  std::vector<engine::FileRow> rows;
  rows.reserve(ordinals.size());
  for (uint64_t ordinal : ordinals) {
    auto row = LoadRow(ordinal);
    if (!row.has_value()) return Err(row.error());
    rows.push_back(std::move(*row));
  }
  return rows;
}

}  // namespace jobstate::storage
