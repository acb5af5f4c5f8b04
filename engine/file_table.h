#pragma once
// FileTable: the fold's access to one job's file rows.
//
// File rows are kept apart from the snapshot so that a snapshot stays small whatever
// the number of files; the fold reads and writes them through this interface. The
// commit path implements it over the pending write batch and RocksDB; tests, replay
// checks and time travel use MemoryFileTable.
//
// Thread safety: implementations are not thread-safe; the fold's caller owns the table.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/state.h"
#include "engine/status.h"

namespace jobstate::engine {

class FileTable {
 public:
  virtual ~FileTable() = default;

  // The job's file with `uri`, or nullopt if the job has none. Corruption if the stored
  // row does not decode.
  virtual Result<std::optional<FileRow>> Find(std::string_view uri) = 0;

  // Stores `row` under its ordinal, replacing any earlier version. `before` is the
  // row's status before this change, or nullopt for a newly discovered file, so that
  // implementations can maintain a by-status index.
  virtual Status Put(const FileRow& row, std::optional<FileStatus> before) = 0;

  // Up to `limit` rows in `status` with ordinal >= `from`, in ordinal order.
  virtual Result<std::vector<FileRow>> ListByStatus(FileStatus status, uint64_t from,
                                                    size_t limit) = 0;
};

// An in-memory FileTable. Not thread-safe.
class MemoryFileTable final : public FileTable {
 public:
  Result<std::optional<FileRow>> Find(std::string_view uri) override;
  Status Put(const FileRow& row, std::optional<FileStatus> before) override;
  Result<std::vector<FileRow>> ListByStatus(FileStatus status, uint64_t from,
                                            size_t limit) override;

  // Every row, in ordinal order.
  const std::vector<FileRow>& rows() const { return rows_; }

 private:
  std::vector<FileRow> rows_;  // index == ordinal
  std::map<std::string, uint64_t, std::less<>> by_uri_;
};

}  // namespace jobstate::engine
