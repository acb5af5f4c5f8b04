#pragma once
// Engine views -> the JSON bodies of API.md, written straight into the response with a
// JsonWriter. Every documented field is always present, null where it does not apply.
//
// Thread safety: free functions.

#include <optional>
#include <string>

#include "api/json_write.h"
#include "engine/query.h"
#include "engine/status_view.h"

namespace jobstate::api {

// The members of a job status (without braces, `files` and `files_page`): the list and
// watch shape, and the start of GET /v2/jobs/{id}.
void WriteStatusMembers(JsonWriter& w, const engine::JobStatusView& v);

// One `files[]` item.
void WriteFileRow(JsonWriter& w, const engine::FileRow& r);

// The `files` and `files_page` members.
void WriteFilesPageMembers(JsonWriter& w, const engine::FilePage& page, size_t limit,
                           const std::optional<std::string>& next_cursor,
                           const std::string& status_filter);

}  // namespace jobstate::api
