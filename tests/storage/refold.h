#pragma once
// Refolds a stored job from its events alone and compares the result, byte for byte,
// with what the store holds: the check behind the property, restart and crash tests.

#include <string>
#include <vector>

#include "engine/file_table.h"
#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/store.h"

namespace jobstate::testing {

struct Folded {
  engine::JobSnapshot snap;
  std::vector<engine::FileRow> rows;
};

// Every file row of a job, via the paging read.
inline Result<std::vector<engine::FileRow>> AllRows(const storage::Store& store,
                                                    const std::string& org,
                                                    const std::string& job_id) {
  std::vector<engine::FileRow> rows;
  engine::FileQuery q;
  q.limit = 500;
  for (;;) {
    auto page = store.ListFiles(org, job_id, q);
    if (!page.has_value()) return Err(page.error());
    rows.insert(rows.end(), page->rows.begin(), page->rows.end());
    if (!page->has_more) return rows;
    q.after_ordinal = rows.back().ordinal;
  }
}

// Folds the job's stored events from scratch in memory.
inline Result<Folded> RefoldFromEvents(const storage::Store& store, const std::string& org,
                                       const std::string& job_id) {
  Folded f;
  f.snap.org = org;
  f.snap.job_id = job_id;
  engine::MemoryFileTable files;
  uint64_t from = 1;
  for (;;) {
    auto events = store.ReadJobEvents(org, job_id, from, 1000);
    if (!events.has_value()) return Err(events.error());
    for (const auto& e : *events) {
      Status s = engine::Apply(f.snap, files, e);
      if (!s.ok()) return Err(s);
    }
    if (events->size() < 1000) break;
    from += events->size();
  }
  f.rows = files.rows();
  return f;
}

// "" when the stored snapshot and rows equal a fresh fold byte for byte; otherwise
// what differs.
inline std::string CompareWithRefold(const storage::Store& store, const std::string& org,
                                     const std::string& job_id) {
  auto stored = store.GetSnapshot(org, job_id);
  if (!stored.has_value()) return "snapshot: " + stored.error().ToString();
  auto rows = AllRows(store, org, job_id);
  if (!rows.has_value()) return "rows: " + rows.error().ToString();
  auto folded = RefoldFromEvents(store, org, job_id);
  if (!folded.has_value()) return "refold: " + folded.error().ToString();
  if (storage::EncodeSnapshot(*stored) != storage::EncodeSnapshot(folded->snap)) {
    return job_id + ": snapshot differs from a fresh fold";
  }
  if (rows->size() != folded->rows.size()) return job_id + ": file count differs";
  for (size_t i = 0; i < rows->size(); ++i) {
    if (storage::EncodeFileRow((*rows)[i]) != storage::EncodeFileRow(folded->rows[i])) {
      return job_id + ": file row " + std::to_string(i) + " differs";
    }
  }
  return "";
}

}  // namespace jobstate::testing
