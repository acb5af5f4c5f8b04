#include "storage/internal/commit_group.h"

#include <algorithm>
#include <cassert>

#include "engine/projector.h"
#include "engine/validate.h"
#include "storage/internal/eta_history.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

using engine::AppendedEvent;
using engine::AppendRequest;
using engine::AppendResult;
using engine::Event;
using engine::EventType;

namespace {

Status VersionConflict(const Event& e, uint64_t current) {
  Status s = Status::Aborted(
      "version_conflict", "job " + e.job_id + " holds " + std::to_string(current) +
                              " events, not the expected " +
                              std::to_string(*e.expected_version));
  s.mutable_details().current_version = current;
  s.WithPointer("/expected_version");
  return s;
}

Status EventIdConflict(const Event& e) {
  return Status::Aborted("event_id_conflict",
                         "event_id " + e.event_id +
                             " is already stored in this job with other content")
      .WithPointer("/event_id");
}

}  // namespace

std::string EncodeJobCounts(const std::array<int64_t, engine::kJobStatusCount>& counts) {
  std::string out;
  for (int64_t n : counts) keys::PutFixed64(out, static_cast<uint64_t>(n));
  return out;
}

bool DecodeJobCounts(std::string_view value, std::array<int64_t, engine::kJobStatusCount>& out) {
  if (value.size() != 8 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<int64_t>(keys::DecodeFixed64(value.data() + 8 * i));
  }
  return true;
}

namespace {

// Every integer of the totals in a fixed order; T is const for reading.
template <class T, class F>
void ForEachAccuracyField(T& totals, F&& f) {
  for (auto& point : totals.at) {
    f(point.count);
    f(point.abs_error_micros);
    for (auto& n : point.le) f(n);
  }
}

}  // namespace

std::string EncodeEtaAccuracy(const engine::EtaAccuracyTotals& totals) {
  std::string out;
  ForEachAccuracyField(totals, [&](int64_t n) { keys::PutFixed64(out, static_cast<uint64_t>(n)); });
  return out;
}

bool DecodeEtaAccuracy(std::string_view value, engine::EtaAccuracyTotals& out) {
  size_t fields = 0;
  ForEachAccuracyField(out, [&](int64_t) { ++fields; });
  if (value.size() != 8 * fields) return false;
  const char* p = value.data();
  ForEachAccuracyField(out, [&](int64_t& n) {
    n = static_cast<int64_t>(keys::DecodeFixed64(p));
    p += 8;
  });
  return true;
}

CommitGroup::CommitGroup(const Db& db, JobCache& cache, const GroupOptions& options,
                         LogCounters counters, engine::Millis now, const CommitGroup* parent)
    : db_(db),
      cache_(cache),
      options_(options),
      now_(now),
      parent_(parent),
      counters_(counters),
      files_(db, cache.file_rows, parent ? &parent->files_ : nullptr) {}

Result<AppendResult> CommitGroup::Add(AppendRequest& request) {
  saved_writes_ = writes_.size();
  saved_counters_ = counters_;
  history_undo_.clear();
  undo_.clear();
  new_names_.clear();
  new_dedupe_.clear();
  files_.BeginRequest();
  // recorded_at never goes back, so the log reads in time order too (an import keeps
  // the exported instants instead).
  const bool importing = !request.imported.empty();
  if (importing && request.imported.size() != request.events.size()) {
    return Err(Status::InvalidArgument("invalid_import", "import coordinates do not match the events"));
  }
  if (!importing) counters_.last_recorded_at = std::max(counters_.last_recorded_at, now_);

  AppendResult result;
  result.results.reserve(request.events.size());
  for (size_t i = 0; i < request.events.size(); ++i) {
    auto acked = AddEvent(request, request.events[i], importing ? &request.imported[i] : nullptr);
    if (!acked.has_value()) {
      Status s = std::move(acked.error());
      s.AtEvent(static_cast<int64_t>(i), "/events/" + std::to_string(i));
      Undo();
      return Err(std::move(s));
    }
    (acked->duplicate ? result.duplicates : result.appended) += 1;
    result.results.push_back(std::move(*acked));
  }
  for (const auto& entry : undo_) dirty_.insert(entry.first);
  ++requests_;
  events_ += request.events.size();
  return result;
}

void CommitGroup::Undo() {
  writes_.resize(saved_writes_);
  counters_ = saved_counters_;
  for (auto& [prefix, before] : history_undo_) {
    if (before) {
      history_[prefix] = std::move(*before);
    } else {
      history_.erase(prefix);
    }
  }
  files_.Undo();
  for (const std::string& key : new_dedupe_) dedupe_.erase(key);
  for (auto& [jid, before] : undo_) {
    if (before) {
      jobs_[jid] = std::move(*before);
    } else {
      jobs_.erase(jid);
    }
  }
  for (const std::string& name : new_names_) names_.erase(name);
}

Result<AppendedEvent> CommitGroup::AddEvent(const AppendRequest& request, Event& e,
                                            const AppendRequest::Imported* imported) {
  Status s = engine::ValidateEvent(e);
  if (!s.ok()) return Err(std::move(s));
  if (!imported && e.occurred_at > now_ + options_.max_clock_skew_ms) {
    return Err(Status::InvalidArgument("occurred_at_in_future",
                                       "occurred_at is more than the allowed clock skew "
                                       "ahead of the server's clock")
                   .WithPointer("/occurred_at"));
  }
  auto found = FindJob(request.org, e.job_id);
  if (!found.has_value()) return Err(found.error());
  Job* job = *found;

  if (auto* c = std::get_if<engine::JobCancelled>(&e.data); c && !c->cancelled_by) {
    c->cancelled_by = request.actor;  // the log alone says who cancelled
  }
  // The record as it would be stored, and the fingerprint of the event, so that a
  // retry by the same key and the event as history returns it are both recognised as
  // the same event (one encoding gives both; a duplicate's record goes unused).
  const uint64_t current = job ? job->snap.version : 0;
  const engine::Millis recorded_at = imported ? imported->recorded_at : counters_.last_recorded_at;
  EncodedEvent encoded =
      EncodeEventAndHash(e, current + 1, counters_.last_position + 1, recorded_at);
  const uint64_t hash = encoded.content_hash;
  if (job) {
    auto d = FindDedupe(keys::Dedupe(job->jid, e.event_id));
    if (!d.has_value()) return Err(d.error());
    if (*d) {
      if ((*d)->content_hash != hash) return Err(EventIdConflict(e));
      return AppendedEvent{e.event_id, e.job_id, (*d)->version, (*d)->position,
                           (*d)->recorded_at, true};
    }
  }
  if (e.expected_version && *e.expected_version != current) {
    return Err(VersionConflict(e, current));
  }
  if (imported) {
    if (imported->version && *imported->version != current + 1) {
      Status v = Status::InvalidArgument(
          "version_mismatch", "the event was exported at version " +
                                  std::to_string(*imported->version) + "; here it would be " +
                                  std::to_string(current + 1));
      v.mutable_details().current_version = current;
      return Err(v.WithPointer("/version"));
    }
    if (job && imported->recorded_at < job->snap.last_recorded_at) {
      return Err(Status::InvalidArgument("recorded_at_goes_back",
                                         "recorded_at is before the job's last event")
                     .WithPointer("/recorded_at"));
    }
  }
  if (!job) {
    if (e.type() != EventType::kJobCreated) {
      return Err(Status::NotFound("job_not_found", "no job " + e.job_id));
    }
    auto created = CreateJob(request.org, e);
    if (!created.has_value()) return Err(created.error());
    job = *created;
  }
  Remember(job->jid);
  // The event moves into the record; the acknowledgement keeps what it needs first.
  AppendedEvent ack{e.event_id, e.job_id, job->snap.version + 1,
                    counters_.last_position + 1, recorded_at, false};
  assert(ack.version == current + 1 && "the record was encoded at this version");
  engine::RecordedEvent re{std::move(e), ack.version, ack.position, ack.recorded_at};
  GroupFiles::JobFiles files = files_.ForJob(job->jid);
  const bool is_new = job->snap.version == 0;
  const engine::JobStatus before = job->snap.status;
  s = engine::Apply(job->snap, files, re);
  if (!s.ok()) return Err(std::move(s));
  if (is_new || before != job->snap.status) {
    if (!is_new) --counters_.jobs_by_status[static_cast<size_t>(before)];
    ++counters_.jobs_by_status[static_cast<size_t>(job->snap.status)];
    if (auto accuracy = engine::EtaAccuracyOf(job->snap)) {
      counters_.eta_accuracy.Add(*accuracy);
      accuracy_changed_ = true;
    }
    if (auto learned = engine::EtaLearnedFrom(job->snap)) {
      Status st = Teach(job->snap, *learned, re.position, re.recorded_at);
      if (!st.ok()) return Err(std::move(st));
    }
  }
  counters_.last_position = re.position;

  const std::string dedupe_key = keys::Dedupe(job->jid, re.event.event_id);
  const DedupeEntry entry{re.version, re.position, re.recorded_at, hash};
  Stage(Cf::kDedupe, dedupe_key, EncodeDedupe(entry));
  dedupe_.emplace(dedupe_key, entry);
  new_dedupe_.push_back(dedupe_key);
  Stage(Cf::kLog, keys::Position(re.position), keys::JobVersion(job->jid, re.version) + request.org);
  Stage(Cf::kLogByOrg, keys::OrgPosition(request.org, re.position),
        keys::JobVersion(job->jid, re.version));
  Stage(Cf::kEvents, keys::JobVersion(job->jid, re.version), std::move(encoded.record));
  return ack;
}

Result<std::optional<uint64_t>> CommitGroup::FindJid(const std::string& name) {
  if (auto it = names_.find(name); it != names_.end()) return it->second;
  if (parent_) {
    if (auto it = parent_->names_.find(name); it != parent_->names_.end()) return it->second;
  }
  if (uint64_t* cached = cache_.names.Get(name)) return *cached;
  auto value = db_.Get(Cf::kJobs, name);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return std::nullopt;
  if ((*value)->size() != 8) {
    return Err(Status::Corruption(keys::Describe("jobs", name) + ": malformed jid"));
  }
  const uint64_t jid = keys::DecodeFixed64((*value)->data());
  cache_.names.Put(name, jid);
  return jid;
}

Result<CommitGroup::Job*> CommitGroup::FindJob(const std::string& org,
                                               const std::string& job_id) {
  const std::string name = keys::JobName(org, job_id);
  auto jid = FindJid(name);
  if (!jid.has_value()) return Err(jid.error());
  if (!*jid) return nullptr;
  names_.emplace(name, **jid);
  if (auto it = jobs_.find(**jid); it != jobs_.end()) return &it->second;

  Job job;
  job.jid = **jid;
  const auto in_parent = parent_ ? parent_->jobs_.find(job.jid) : jobs_.end();
  if (parent_ && in_parent != parent_->jobs_.end()) {
    job.snap = in_parent->second.snap;
  } else if (const engine::JobSnapshot* cached = cache_.snapshots.Get(job.jid)) {
    job.snap = *cached;
  } else {
    const std::string key = keys::Job(job.jid);
    auto value = db_.Get(Cf::kSnapshots, key);
    if (!value.has_value()) return Err(value.error());
    if (!*value) {
      return Err(Status::Corruption(keys::Describe("snapshots", key) + ": job without snapshot"));
    }
    auto snap = DecodeSnapshot(**value, {"snapshots", key});
    if (!snap.has_value()) return Err(snap.error());
    job.snap = std::move(*snap);
  }
  job.start_version = job.snap.version;
  job.start_status = job.snap.status;
  return &jobs_.emplace(job.jid, std::move(job)).first->second;
}

Result<CommitGroup::Job*> CommitGroup::CreateJob(const std::string& org, const Event& e) {
  const uint64_t jid = counters_.next_jid++;
  const std::string name = keys::JobName(org, e.job_id);
  names_[name] = jid;
  new_names_.push_back(name);
  undo_.emplace(jid, std::nullopt);  // an undo removes the job altogether
  Job& job = jobs_[jid];
  job.jid = jid;
  job.snap.org = org;
  job.snap.job_id = e.job_id;
  // The job's identity and listing entry are staged with its first event; both vanish
  // with the request if it fails.
  Stage(Cf::kJobs, name, keys::Fixed64(jid));
  Stage(Cf::kJobsByOrg, keys::OrgJob(org, e.occurred_at, jid), "");
  return &job;
}

void CommitGroup::Remember(uint64_t jid) {
  if (undo_.count(jid)) return;
  undo_.emplace(jid, jobs_.at(jid));
}

void CommitGroup::Stage(Cf cf, std::string key, std::string value) {
  writes_.push_back({cf, std::move(key), std::move(value)});
}

Result<std::optional<DedupeEntry>> CommitGroup::FindDedupe(const std::string& key) const {
  if (auto it = dedupe_.find(key); it != dedupe_.end()) return it->second;
  if (parent_) {
    if (auto it = parent_->dedupe_.find(key); it != parent_->dedupe_.end()) return it->second;
  }
  auto value = db_.Get(Cf::kDedupe, key);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return std::nullopt;
  auto d = DecodeDedupe(**value, keys::Describe("dedupe", key));
  if (!d.has_value()) return Err(d.error());
  return std::optional<DedupeEntry>(*d);
}

Status CommitGroup::Teach(const engine::JobSnapshot& job, const engine::EtaHistory& learned,
                          uint64_t position, engine::Millis recorded_at) {
  const std::string prefix = EtaHistoryPrefixOf(job);
  auto it = history_.find(prefix);
  if (!history_undo_.count(prefix)) {
    history_undo_.emplace(prefix, it == history_.end() ? std::nullopt : std::optional(it->second));
  }
  if (it == history_.end()) {
    // The prior as it stands: changed by the group in flight, or as stored.
    engine::EtaHistory before;
    const engine::EtaHistory* in_flight = nullptr;
    if (parent_) {
      if (auto p = parent_->history_.find(prefix); p != parent_->history_.end()) in_flight = &p->second;
    }
    if (in_flight) {
      before = *in_flight;
    } else {
      auto stored = ReadEtaHistory(db_, {}, prefix, std::nullopt);
      if (!stored.has_value()) return stored.error();
      if (*stored) before = std::move(**stored);
    }
    it = history_.emplace(prefix, std::move(before)).first;
  }
  it->second.Learn(learned);
  Stage(Cf::kEtaHistory, keys::EtaHistory(prefix, position),
        EncodeEtaHistory({recorded_at, it->second}));
  return Status::OK();
}

void CommitGroup::Seal() {
  assert(!empty() && "nothing to commit");
  const uint64_t k = options_.checkpoint_interval;
  for (uint64_t jid : dirty_) {
    const Job& job = jobs_.at(jid);
    std::string record = EncodeSnapshot(job.snap);
    // Checkpoints fall on group ends, where every file row of the job is also stored
    // in file_versions, so that time travel can start a fold from one: a job gets one
    // each time its version crosses a multiple of K.
    if (k > 0 && job.snap.version / k > job.start_version / k) {
      Stage(Cf::kCheckpoints, keys::JobVersion(jid, job.snap.version), record);
    }
    Stage(Cf::kSnapshots, keys::Job(jid), std::move(record));
    if (job.start_status != job.snap.status) {
      // The job moves in the listing indexes: out of the old status's entries (a new
      // job has none), into the new one's.
      if (job.start_status) {
        for (ListingKey& entry : ListingEntries(job.snap, jid, *job.start_status)) {
          writes_.push_back({entry.cf, std::move(entry.key), std::nullopt});
        }
      }
      for (ListingKey& entry : ListingEntries(job.snap, jid, job.snap.status)) {
        Stage(entry.cf, std::move(entry.key), "");
      }
    }
  }
  files_.StageWrites(writes_, [this](uint64_t jid) { return jobs_.at(jid).snap.version; });
  Stage(Cf::kMeta, "last_position", keys::Fixed64(counters_.last_position));
  Stage(Cf::kMeta, "next_jid", keys::Fixed64(counters_.next_jid));
  Stage(Cf::kMeta, "jobs_by_status", EncodeJobCounts(counters_.jobs_by_status));
  if (accuracy_changed_) Stage(Cf::kMeta, "eta_accuracy", EncodeEtaAccuracy(counters_.eta_accuracy));
  // Every key is written once per group, so order does not change the result; sorted,
  // each memtable receives ascending keys and RocksDB's skip list reuses its last
  // insert position instead of searching from the top for every key (without it the
  // writer thread takes a third longer). Pointers, bucketed by family, each bucket
  // sorted unless it already is (the log's positions are staged in order): a fifth
  // less sealing than one sort of every StagedWrite.
  std::array<std::vector<const StagedWrite*>, static_cast<size_t>(Cf::kCount)> by_cf;
  for (const StagedWrite& w : writes_) by_cf[static_cast<size_t>(w.cf)].push_back(&w);
  const auto by_key = [](const StagedWrite* a, const StagedWrite* b) { return a->key < b->key; };
  for (auto& bucket : by_cf) {
    if (!std::is_sorted(bucket.begin(), bucket.end(), by_key)) {
      std::sort(bucket.begin(), bucket.end(), by_key);
    }
    for (const StagedWrite* w : bucket) {
      // A WriteBatch refuses only entries over 4 GiB; ours are bounded far below that.
      (w->value ? batch_.Put(db_.cf(w->cf), w->key, *w->value)
                : batch_.Delete(db_.cf(w->cf), w->key))
          .PermitUncheckedError();
    }
  }
  writes_ = {};
}

engine::CommitNotice CommitGroup::Notice() const {
  engine::CommitNotice notice;
  notice.last_position = counters_.last_position;
  notice.events = events_;
  notice.requests = requests_;
  notice.priors_changed = !history_.empty();
  notice.jobs.reserve(dirty_.size());
  for (uint64_t jid : dirty_) {
    const engine::JobSnapshot& snap = jobs_.at(jid).snap;
    notice.jobs.push_back({snap.org, snap.job_id, snap.version});
  }
  return notice;
}

Status CommitGroup::Write(const rocksdb::WriteOptions& write_options) {
  return db_.Write(write_options, &batch_);
}

void CommitGroup::Publish() {
  files_.Publish();
  // The caches are for jobs in progress: a final job takes few events after it ends
  // (files settling late), and those read it back, so memory follows the running jobs
  // rather than every job the store has seen.
  for (auto& [name, jid] : names_) {
    auto it = jobs_.find(jid);
    if (it != jobs_.end() && engine::IsFinal(it->second.snap.status)) {
      cache_.names.Erase(name);
    } else {
      cache_.names.Put(name, jid);
    }
  }
  for (auto& [jid, job] : jobs_) {
    if (engine::IsFinal(job.snap.status)) {
      cache_.snapshots.Erase(jid);
    } else {
      cache_.snapshots.Put(jid, std::move(job.snap));
    }
  }
}

}  // namespace jobstate::storage
