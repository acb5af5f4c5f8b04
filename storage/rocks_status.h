#pragma once
// The one place where rocksdb::Status becomes a jobstate::Status.

#include <string_view>

#include <rocksdb/status.h>

#include "engine/status.h"

namespace jobstate::storage {

// `what` says what was being done ("open /data", "commit"), for the message.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace jobstate::storage
