#pragma once
// The one fold: state' = Apply(state, event).
//
// Apply checks `event` against the job and file state machines of EVENTS.md and, when
// it is accepted, folds it into `job` and the job's file rows. The write path, replay,
// time travel and tests all call this function; no rule is implemented twice.
//
// It is pure in the sense DESIGN.md asks for: no clock, no I/O of its own; its only
// inputs are the snapshot, the file rows reached through `files`, and the event (with
// the version, position and recorded_at the sequencer assigned). Folding the same
// events always yields byte-identical snapshots and rows.
//
// Errors (nothing is changed when one is returned, except rows already Put into
// `files`, which the caller discards with the batch):
//   NotFound            job_not_found (no job.created yet), file_not_found
//   AlreadyExists       duplicate_file
//   FailedPrecondition  invalid_transition (from_state/to_state set), job_final
//                       (job_status set), files_unfinished
//   Corruption          a file row read through `files` did not decode
//
// Thread safety: a free function; callers serialize access to `job` and `files`.

#include "engine/event.h"
#include "engine/file_table.h"
#include "engine/state.h"
#include "engine/status.h"

namespace jobstate::engine {

// REQUIRES: e.version == job.version + 1; for a new job, `job` is default-constructed
// apart from `org` and `job_id`.
Status Apply(JobSnapshot& job, FileTable& files, const RecordedEvent& e);

// The `percent` a snapshot's counts support, in tenths (0..1000), before the
// high-water mark is applied: 1000 only once completed, at most 999 before.
int32_t ComputePercentTenths(const JobSnapshot& job);

}  // namespace jobstate::engine
