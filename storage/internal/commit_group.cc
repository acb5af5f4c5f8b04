#include "storage/internal/commit_group.h"

#include <algorithm>
#include <cassert>

#include "engine/projector.h"
#include "engine/validate.h"
#include "storage/codec.h"
#include "storage/internal/keys.h"
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

}  // namespace

CommitGroup::CommitGroup(const Db& db, JobCache& cache, const GroupOptions& options,
                         LogCounters counters, engine::Millis now)
    : db_(db),
      cache_(cache),
      options_(options),
      now_(now),
      files_(db, cache.file_rows),
      counters_(counters) {}

Result<AppendResult> CommitGroup::Add(const AppendRequest& request) {
  saved_writes_ = writes_.size();
  saved_counters_ = counters_;
  undo_.clear();
  new_names_.clear();
  new_dedupe_.clear();
  files_.BeginRequest();
  // recorded_at never goes back, so the log reads in time order too.
  counters_.last_recorded_at = std::max(counters_.last_recorded_at, now_);

  AppendResult result;
  result.results.reserve(request.events.size());
  for (size_t i = 0; i < request.events.size(); ++i) {
    auto acked = AddEvent(request, request.events[i]);
    if (!acked.has_value()) {
      Status s = std::move(acked.error());
      s.AtEvent(static_cast<int64_t>(i), "/events/" + std::to_string(i));
      Rollback();
      return Err(std::move(s));
    }
    (acked->duplicate ? result.duplicates : result.appended) += 1;
    result.results.push_back(std::move(*acked));
  }
  for (const auto& entry : undo_) dirty_.insert(entry.first);
  ++requests_;
  return result;
}

void CommitGroup::Rollback() {
  writes_.resize(saved_writes_);
  counters_ = saved_counters_;
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

Result<AppendedEvent> CommitGroup::AddEvent(const AppendRequest& request, const Event& sent) {
  Event e = sent;
  Status s = engine::ValidateEvent(e);
  if (!s.ok()) return Err(std::move(s));
  if (e.occurred_at > now_ + options_.max_clock_skew_ms) {
    return Err(Status::InvalidArgument("occurred_at_in_future",
                                       "occurred_at is more than the allowed clock skew "
                                       "ahead of the server's clock")
                   .WithPointer("/occurred_at"));
  }
  auto found = FindJob(request.org, e.job_id);
  if (!found.has_value()) return Err(found.error());
  Job* job = *found;

  const uint64_t hash = ContentHash(e);
  if (job) {
    auto d = FindDedupe(keys::Dedupe(job->jid, e.event_id));
    if (!d.has_value()) return Err(d.error());
    if (*d) {
      const DedupeEntry& stored = **d;
      if (stored.content_hash != hash) {
        return Err(Status::Aborted("event_id_conflict",
                                   "event_id " + e.event_id +
                                       " is already stored in this job with other content")
                       .WithPointer("/event_id"));
      }
      return AppendedEvent{e.event_id, e.job_id, stored.version, stored.position,
                           stored.recorded_at, true};
    }
  }
  const uint64_t current = job ? job->snap.version : 0;
  if (e.expected_version && *e.expected_version != current) {
    return Err(VersionConflict(e, current));
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

  if (auto* c = std::get_if<engine::JobCancelled>(&e.data); c && !c->cancelled_by) {
    c->cancelled_by = request.actor;  // the log alone says who cancelled
  }
  engine::RecordedEvent re{std::move(e), job->snap.version + 1, counters_.last_position + 1,
                           counters_.last_recorded_at};
  GroupFiles::JobFiles files = files_.ForJob(job->jid);
  s = engine::Apply(job->snap, files, re);
  if (!s.ok()) return Err(std::move(s));
  counters_.last_position = re.position;

  std::string log_value = keys::JobVersion(job->jid, re.version) + request.org;
  s = Stage(Cf::kEvents, keys::JobVersion(job->jid, re.version), EncodeEvent(re));
  if (s.ok()) s = Stage(Cf::kLog, keys::Position(re.position), log_value);
  if (s.ok()) {
    const std::string key = keys::Dedupe(job->jid, re.event.event_id);
    const DedupeEntry entry{re.version, re.position, re.recorded_at, hash};
    s = Stage(Cf::kDedupe, key, EncodeDedupe(entry));
    dedupe_.emplace(key, entry);
    new_dedupe_.push_back(key);
  }
  if (s.ok() && options_.checkpoint_interval > 0 &&
      re.version % options_.checkpoint_interval == 0) {
    s = Stage(Cf::kCheckpoints, keys::JobVersion(job->jid, re.version),
              EncodeSnapshot(job->snap));
  }
  if (!s.ok()) return Err(std::move(s));
  return AppendedEvent{re.event.event_id, re.event.job_id, re.version, re.position,
                       re.recorded_at, false};
}

Result<CommitGroup::Job*> CommitGroup::FindJob(const std::string& org,
                                               const std::string& job_id) {
  const std::string name = keys::JobName(org, job_id);
  uint64_t jid = 0;
  if (auto it = names_.find(name); it != names_.end()) {
    jid = it->second;
  } else if (uint64_t* cached = cache_.names.Get(name)) {
    jid = *cached;
  } else {
    auto value = db_.Get(Cf::kJobs, name);
    if (!value.has_value()) return Err(value.error());
    if (!*value) return nullptr;
    if ((*value)->size() != 8) {
      return Err(Status::Corruption(keys::Describe("jobs", name) + ": malformed jid"));
    }
    jid = keys::DecodeFixed64((*value)->data());
    cache_.names.Put(name, jid);
  }
  names_.emplace(name, jid);
  if (auto it = jobs_.find(jid); it != jobs_.end()) return &it->second;

  Job job{jid, {}};
  if (const engine::JobSnapshot* cached = cache_.snapshots.Get(jid)) {
    job.snap = *cached;
  } else {
    const std::string key = keys::Job(jid);
    auto value = db_.Get(Cf::kSnapshots, key);
    if (!value.has_value()) return Err(value.error());
    if (!*value) {
      return Err(Status::Corruption(keys::Describe("snapshots", key) + ": job without snapshot"));
    }
    auto snap = DecodeSnapshot(**value, keys::Describe("snapshots", key));
    if (!snap.has_value()) return Err(snap.error());
    job.snap = std::move(*snap);
  }
  return &jobs_.emplace(jid, std::move(job)).first->second;
}

Result<CommitGroup::Job*> CommitGroup::CreateJob(const std::string& org, const Event& e) {
  const uint64_t jid = counters_.next_jid++;
  const std::string name = keys::JobName(org, e.job_id);
  names_[name] = jid;
  new_names_.push_back(name);
  undo_.emplace(jid, std::nullopt);  // a rollback removes the job altogether
  Job& job = jobs_[jid];
  job.jid = jid;
  job.snap.org = org;
  job.snap.job_id = e.job_id;
  // The job's identity and listing entry are staged with its first event; both vanish
  // with the batch if the request fails.
  Status s = Stage(Cf::kJobs, name, keys::Fixed64(jid));
  if (s.ok()) s = Stage(Cf::kJobsByOrg, keys::OrgJob(org, e.occurred_at, jid), "");
  if (!s.ok()) return Err(std::move(s));
  return &job;
}

void CommitGroup::Remember(uint64_t jid) {
  if (undo_.count(jid)) return;
  undo_.emplace(jid, jobs_.at(jid));
}

Status CommitGroup::Stage(Cf cf, const std::string& key, const std::string& value) {
  writes_.push_back({cf, key, value});
  return Status::OK();
}

Result<std::optional<DedupeEntry>> CommitGroup::FindDedupe(const std::string& key) {
  if (auto it = dedupe_.find(key); it != dedupe_.end()) return it->second;
  auto value = db_.Get(Cf::kDedupe, key);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return std::nullopt;
  auto d = DecodeDedupe(**value, keys::Describe("dedupe", key));
  if (!d.has_value()) return Err(d.error());
  return std::optional<DedupeEntry>(*d);
}

Status CommitGroup::Commit(const rocksdb::WriteOptions& write_options) {
  assert(!empty() && "nothing to commit");
  for (uint64_t jid : dirty_) {
    writes_.push_back({Cf::kSnapshots, keys::Job(jid), EncodeSnapshot(jobs_.at(jid).snap)});
  }
  files_.StageWrites(writes_);
  writes_.push_back({Cf::kMeta, "last_position", keys::Fixed64(counters_.last_position)});
  writes_.push_back({Cf::kMeta, "next_jid", keys::Fixed64(counters_.next_jid)});
  // Every key is written once per group, so order does not change the result; sorted,
  // each memtable receives ascending keys and RocksDB's skip list reuses its last
  // insert position instead of searching from the top for every key.
  std::sort(writes_.begin(), writes_.end(), [](const StagedWrite& a, const StagedWrite& b) {
    return a.cf != b.cf ? a.cf < b.cf : a.key < b.key;
  });
  rocksdb::WriteBatch batch;
  for (const StagedWrite& w : writes_) {
    rocksdb::Status s = w.value ? batch.Put(db_.cf(w.cf), w.key, *w.value)
                                : batch.Delete(db_.cf(w.cf), w.key);
    if (!s.ok()) return FromRocks(s, "stage write");
  }
  return FromRocks(db_.get()->Write(write_options, &batch), "commit");
}

void CommitGroup::Publish() {
  files_.Publish();
  for (auto& [name, jid] : names_) cache_.names.Put(name, jid);
  for (auto& [jid, job] : jobs_) cache_.snapshots.Put(jid, std::move(job.snap));
}

}  // namespace jobstate::storage
