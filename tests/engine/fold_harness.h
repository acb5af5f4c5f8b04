#pragma once
// Folds events for one job in memory with the real projector, as the engine tests need.

#include "engine/file_table.h"
#include "engine/projector.h"
#include "engine/state.h"

namespace jobstate::testing {

class FoldHarness {
 public:
  explicit FoldHarness(std::string job_id) {
    snap_.org = "acme";
    snap_.job_id = std::move(job_id);
  }

  // Folds `e` as the next event. On error the snapshot is unchanged.
  Status Fold(const engine::Event& e) {
    engine::RecordedEvent re{e, snap_.version + 1, ++position_, e.occurred_at};
    engine::JobSnapshot next = snap_;
    Status s = engine::Apply(next, files_, re);
    if (s.ok()) snap_ = std::move(next);
    return s;
  }

  // Folds every event, stopping at the first error.
  Status FoldAll(const std::vector<engine::Event>& events) {
    for (const auto& e : events) {
      Status s = Fold(e);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  const engine::JobSnapshot& snap() const { return snap_; }
  engine::MemoryFileTable& files() { return files_; }
  engine::FileRow Row(const std::string& uri) { return **files_.Find(uri); }

 private:
  engine::JobSnapshot snap_;
  engine::MemoryFileTable files_;
  uint64_t position_ = 0;
};

}  // namespace jobstate::testing
