#pragma once
// Engine views -> the JSON bodies of API.md. Every documented field is always present,
// null where it does not apply.
//
// Thread safety: free functions.

#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include "engine/query.h"
#include "engine/status_view.h"

namespace jobstate::api {

// Every function allocates from `sp` (a request's monotonic arena, or the default).

// The status without `files` and `files_page` (the list and watch shape).
boost::json::object StatusToJson(const engine::JobStatusView& v,
                                 boost::json::storage_ptr sp = {});

boost::json::object FileRowToJson(const engine::FileRow& r, boost::json::storage_ptr sp = {});

// `{"files": [...], "files_page": {...}}` members, added to `out`.
void AddFilesPage(boost::json::object& out, const engine::FilePage& page, size_t limit,
                  const std::optional<std::string>& next_cursor,
                  const std::string& status_filter);

}  // namespace jobstate::api
