#include "engine/state_diff.h"

namespace jobstate::engine {

// Every member, in declaration order; a member added to the struct must be added here
// (the defaulted operator== would still catch it, reported as "another member").
#define JS_DIFF(m) \
  if (!(a.m == b.m)) out.push_back(#m)

std::vector<std::string> DiffSnapshots(const JobSnapshot& a, const JobSnapshot& b) {
  std::vector<std::string> out;
  JS_DIFF(org); JS_DIFF(job_id); JS_DIFF(version); JS_DIFF(collection_name);
  JS_DIFF(job_type); JS_DIFF(processing_type); JS_DIFF(pipeline_mode);
  JS_DIFF(files_expected); JS_DIFF(metadata_json); JS_DIFF(status); JS_DIFF(created_at);
  JS_DIFF(started_at); JS_DIFF(completed_at); JS_DIFF(cancelled_at); JS_DIFF(updated_at);
  JS_DIFF(last_recorded_at); JS_DIFF(progress_message); JS_DIFF(error_code);
  JS_DIFF(error_message); JS_DIFF(cancelled_by); JS_DIFF(cancel_reason); JS_DIFF(stages);
  JS_DIFF(current_stage); JS_DIFF(scan_complete); JS_DIFF(file_counts); JS_DIFF(bytes_total);
  JS_DIFF(bytes_done); JS_DIFF(chunks); JS_DIFF(tokens); JS_DIFF(pages);
  JS_DIFF(percent_tenths); JS_DIFF(workers_count); JS_DIFF(worker_ids); JS_DIFF(result);
  JS_DIFF(billing); JS_DIFF(eta);
  if (out.empty() && !(a == b)) out.push_back("another member");
  return out;
}

std::vector<std::string> DiffFileRows(const FileRow& a, const FileRow& b) {
  std::vector<std::string> out;
  JS_DIFF(ordinal); JS_DIFF(uri); JS_DIFF(name); JS_DIFF(size_bytes); JS_DIFF(content_type);
  JS_DIFF(status); JS_DIFF(stage); JS_DIFF(phase); JS_DIFF(progress_message);
  JS_DIFF(error_code); JS_DIFF(error_message); JS_DIFF(retryable); JS_DIFF(skip_reason);
  JS_DIFF(cancel_reason); JS_DIFF(attempts); JS_DIFF(chunks); JS_DIFF(tokens); JS_DIFF(pages);
  JS_DIFF(started_at); JS_DIFF(completed_at); JS_DIFF(updated_at);
  if (out.empty() && !(a == b)) out.push_back("another member");
  return out;
}

#undef JS_DIFF

}  // namespace jobstate::engine
