#include "storage/rocks_status.h"

#include <string>

namespace jobstate::storage {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound("not_found", msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Status::Unavailable(msg + " (is another jobstated or jobctl using this data dir?)");
  }
  if (s.IsIOError() || s.IsNoSpace() || s.IsBusy() || s.IsTimedOut() || s.IsAborted() ||
      s.IsShutdownInProgress() || s.IsTryAgain()) {
    return Status::Unavailable(msg);
  }
  if (s.IsInvalidArgument()) return Status::InvalidArgument("invalid_argument", msg);
  return Status::Internal(msg);
}

}  // namespace jobstate::storage
