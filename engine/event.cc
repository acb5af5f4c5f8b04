#include "engine/event.h"

#include <array>

namespace jobstate::engine {

namespace {
constexpr std::array<std::string_view, 17> kEventTypeNames = {
    "job.created",     "job.started",   "stage.started",  "stage.completed",
    "files.discovered", "file.started", "file.progress",  "file.completed",
    "file.failed",     "file.skipped",  "file.retried",   "file.cancelled",
    "job.progress",    "job.workers",   "job.completed",  "job.failed",
    "job.cancelled"};
static_assert(kEventTypeNames.size() == std::variant_size_v<Payload>);
}  // namespace

std::string_view Name(EventType t) { return kEventTypeNames[static_cast<size_t>(t) - 1]; }

std::optional<EventType> ParseEventType(std::string_view s) {
  for (size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == s) return static_cast<EventType>(i + 1);
  }
  return std::nullopt;
}

const std::string* FileUri(const Event& e) {
  return std::visit(
      [](const auto& p) -> const std::string* {
        if constexpr (requires { p.uri; }) {
          return &p.uri;
        } else {
          return nullptr;
        }
      },
      e.data);
}

}  // namespace jobstate::engine
