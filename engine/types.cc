#include "engine/types.h"

#include <algorithm>

namespace jobstate::engine {

namespace {

constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "scanning", "extracting", "chunking", "tagging", "embedding", "finalizing"};
constexpr std::array<std::string_view, kStageCount> kStageDescriptions = {
    "Scanning files", "Extracting content", "Chunking documents",
    "Tagging content", "Generating vector embeddings", "Finalizing"};
constexpr std::array<std::string_view, 6> kJobStatusNames = {
    "pending", "running", "completed", "completed_with_failures", "failed", "cancelled"};
constexpr std::array<std::string_view, kFileStatusCount> kFileStatusNames = {
    "queued", "processing", "completed", "failed", "skipped", "cancelled"};
constexpr std::array<std::string_view, 5> kStageStatusNames = {
    "pending", "running", "completed", "skipped", "stopped"};
constexpr std::array<std::string_view, 9> kJobTypeNames = {
    "index_s3",  "index_s3_file",  "index_s3_directory",
    "index_gcs", "index_gcs_file", "index_gcs_directory",
    "index_r2",  "index_r2_file",  "index_r2_directory"};
constexpr std::array<std::string_view, 2> kProcessingTypeNames = {"basic", "advanced"};
constexpr std::array<std::string_view, 2> kPipelineModeNames = {"pipelined", "staged"};
constexpr std::array<std::string_view, 2> kFilePhaseNames = {"started", "completed"};

template <class E, size_t N>
std::optional<E> Find(const std::array<std::string_view, N>& names, std::string_view s) {
  auto it = std::find(names.begin(), names.end(), s);
  if (it == names.end()) return std::nullopt;
  return static_cast<E>(it - names.begin());
}

}  // namespace

std::string_view Name(Stage v) { return kStageNames[static_cast<size_t>(v)]; }
std::string_view Name(JobStatus v) { return kJobStatusNames[static_cast<size_t>(v)]; }
std::string_view Name(FileStatus v) { return kFileStatusNames[static_cast<size_t>(v)]; }
std::string_view Name(StageStatus v) { return kStageStatusNames[static_cast<size_t>(v)]; }
std::string_view Name(JobType v) { return kJobTypeNames[static_cast<size_t>(v)]; }
std::string_view Name(ProcessingType v) {
  return kProcessingTypeNames[static_cast<size_t>(v)];
}
std::string_view Name(PipelineMode v) { return kPipelineModeNames[static_cast<size_t>(v)]; }
std::string_view Name(FilePhase v) { return kFilePhaseNames[static_cast<size_t>(v)]; }
std::string_view Description(Stage v) { return kStageDescriptions[static_cast<size_t>(v)]; }

std::optional<Stage> ParseStage(std::string_view s) { return Find<Stage>(kStageNames, s); }
std::optional<JobStatus> ParseJobStatus(std::string_view s) {
  return Find<JobStatus>(kJobStatusNames, s);
}
std::optional<FileStatus> ParseFileStatus(std::string_view s) {
  return Find<FileStatus>(kFileStatusNames, s);
}
std::optional<JobType> ParseJobType(std::string_view s) {
  return Find<JobType>(kJobTypeNames, s);
}
std::optional<ProcessingType> ParseProcessingType(std::string_view s) {
  return Find<ProcessingType>(kProcessingTypeNames, s);
}
std::optional<PipelineMode> ParsePipelineMode(std::string_view s) {
  return Find<PipelineMode>(kPipelineModeNames, s);
}
std::optional<FilePhase> ParseFilePhase(std::string_view s) {
  return Find<FilePhase>(kFilePhaseNames, s);
}

}  // namespace jobstate::engine
