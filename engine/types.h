#pragma once
// Small value types shared by events, snapshots and file rows, and their wire names.
// Every enum here is persisted: never renumber a value; retire one with a comment.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobstate::engine {

// Milliseconds since the Unix epoch, UTC. Events keep instants to the millisecond.
using Millis = int64_t;

enum class Stage : uint8_t {
  kScanning = 0,
  kExtracting = 1,
  kChunking = 2,
  kTagging = 3,
  kEmbedding = 4,
  kFinalizing = 5,
};
inline constexpr int kStageCount = 6;

enum class JobStatus : uint8_t {
  kPending = 0,
  kRunning = 1,
  kCompleted = 2,
  kCompletedWithFailures = 3,
  kFailed = 4,
  kCancelled = 5,
};
inline constexpr size_t kJobStatusCount = 6;

enum class FileStatus : uint8_t {
  kQueued = 0,
  kProcessing = 1,
  kCompleted = 2,
  kFailed = 3,
  kSkipped = 4,
  kCancelled = 5,
};
inline constexpr int kFileStatusCount = 6;

enum class StageStatus : uint8_t {
  kPending = 0,
  kRunning = 1,
  kCompleted = 2,
  kSkipped = 3,
  kStopped = 4,
};

enum class JobType : uint8_t {
  kIndexS3 = 0,
  kIndexS3File = 1,
  kIndexS3Directory = 2,
  kIndexGcs = 3,
  kIndexGcsFile = 4,
  kIndexGcsDirectory = 5,
  kIndexR2 = 6,
  kIndexR2File = 7,
  kIndexR2Directory = 8,
};

enum class ProcessingType : uint8_t { kBasic = 0, kAdvanced = 1 };
enum class PipelineMode : uint8_t { kPipelined = 0, kStaged = 1 };
enum class FilePhase : uint8_t { kStarted = 0, kCompleted = 1 };

// Wire names (EVENTS.md, API.md) and their inverses. Parse* return nullopt for a name
// that is not one of the enum's.
std::string_view Name(Stage v);
std::string_view Name(JobStatus v);
std::string_view Name(FileStatus v);
std::string_view Name(StageStatus v);
std::string_view Name(JobType v);
std::string_view Name(ProcessingType v);
std::string_view Name(PipelineMode v);
std::string_view Name(FilePhase v);
// "Generating vector embeddings" and the like, for `stage_description`.
std::string_view Description(Stage v);

std::optional<Stage> ParseStage(std::string_view s);
std::optional<JobStatus> ParseJobStatus(std::string_view s);
std::optional<FileStatus> ParseFileStatus(std::string_view s);
std::optional<JobType> ParseJobType(std::string_view s);
std::optional<ProcessingType> ParseProcessingType(std::string_view s);
std::optional<PipelineMode> ParsePipelineMode(std::string_view s);
std::optional<FilePhase> ParseFilePhase(std::string_view s);

// True for completed, completed_with_failures, failed and cancelled.
inline bool IsFinal(JobStatus s) {
  return s != JobStatus::kPending && s != JobStatus::kRunning;
}
// True for completed, failed, skipped and cancelled: the file's processing has ended.
inline bool IsProcessed(FileStatus s) {
  return s != FileStatus::kQueued && s != FileStatus::kProcessing;
}

}  // namespace jobstate::engine
