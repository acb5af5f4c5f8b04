#pragma once
// The names of the members in which two snapshots (or two file rows) differ, for
// verification reports ("status", "file_counts", ...).
//
// Thread safety: free functions over values.

#include <string>
#include <vector>

#include "engine/state.h"

namespace jobstate::engine {

std::vector<std::string> DiffSnapshots(const JobSnapshot& a, const JobSnapshot& b);
std::vector<std::string> DiffFileRows(const FileRow& a, const FileRow& b);

}  // namespace jobstate::engine
