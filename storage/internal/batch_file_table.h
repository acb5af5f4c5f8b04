#pragma once
// FileTable over a pending WriteBatchWithIndex and the database beneath it: the commit
// path's view of one job's file rows, which sees the group's own earlier writes.
//
// Thread safety: not thread-safe; used by the sequencer thread only.

#include <rocksdb/utilities/write_batch_with_index.h>

#include "engine/file_table.h"
#include "storage/internal/db.h"

namespace jobstate::storage {

class BatchFileTable final : public engine::FileTable {
 public:
  BatchFileTable(const Db& db, rocksdb::WriteBatchWithIndex& batch, uint64_t jid)
      : db_(db), batch_(batch), jid_(jid) {}

  Result<std::optional<engine::FileRow>> Find(std::string_view uri) override;
  Status Put(const engine::FileRow& row, std::optional<engine::FileStatus> before) override;
  Result<std::vector<engine::FileRow>> ListByStatus(engine::FileStatus status, uint64_t from,
                                                    size_t limit) override;

 private:
  Result<std::optional<std::string>> Read(Cf cf, const std::string& key);
  Result<engine::FileRow> LoadRow(uint64_t ordinal);

  const Db& db_;
  rocksdb::WriteBatchWithIndex& batch_;
  const uint64_t jid_;
};

}  // namespace jobstate::storage
