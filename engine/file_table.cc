#include "engine/file_table.h"

#include <cassert>

namespace jobstate::engine {

Result<std::optional<FileRow>> MemoryFileTable::Find(std::string_view uri) {
  auto it = by_uri_.find(uri);
  if (it == by_uri_.end()) return std::nullopt;
  return rows_[it->second];
}

Status MemoryFileTable::Put(const FileRow& row, std::optional<FileStatus> before) {
  if (!before) {
    // The fold assigns ordinals densely in discovery order.
    assert(row.ordinal == rows_.size() && "ordinals must be dense");
    rows_.push_back(row);
    by_uri_.emplace(row.uri, row.ordinal);
  } else {
    rows_.at(row.ordinal) = row;
  }
  return Status::OK();
}

Result<std::vector<FileRow>> MemoryFileTable::ListByStatus(FileStatus status, uint64_t from,
                                                           size_t limit) {
  std::vector<FileRow> out;
  for (uint64_t i = from; i < rows_.size() && out.size() < limit; ++i) {
    if (rows_[i].status == status) out.push_back(rows_[i]);
  }
  return out;
}

}  // namespace jobstate::engine
