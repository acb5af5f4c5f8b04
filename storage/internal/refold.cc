#include "storage/internal/refold.h"

#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/internal/keys.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

Status RefoldJob(
    rocksdb::Iterator& events, uint64_t jid, const std::string& org,
    const std::string& job_id, RefoldedJob& out,
    const std::function<Status(const engine::RecordedEvent&, std::string_view record,
                               RefoldedJob&)>& each) {
  out.snap = engine::JobSnapshot{};
  out.snap.org = org;
  out.snap.job_id = job_id;
  out.final_event.reset();
  const std::string prefix = keys::Job(jid);
  for (events.Seek(prefix); events.Valid() && events.key().starts_with(prefix);
       events.Next()) {
    const RecordName where("events", events.key().ToStringView());
    auto e = DecodeEvent(events.value().ToStringView(), where);
    if (!e.has_value()) return e.error();
    if (e->version != out.snap.version + 1) {
      return Status::Corruption(where.str() + ": version " + std::to_string(e->version) +
                                " follows " + std::to_string(out.snap.version));
    }
    Status s = engine::Apply(out.snap, out.files, *e);
    if (!s.ok()) {
      return Status::Corruption(where.str() + ": does not fold: " + s.message());
    }
    if (!out.final_event && engine::IsFinal(out.snap.status)) {
      out.final_event = {e->position, e->recorded_at};
    }
    if (each) {
      s = each(*e, events.value().ToStringView(), out);
      if (!s.ok()) return s;
    }
  }
  return FromRocks(events.status(), "scan events");
}

}  // namespace jobstate::storage
