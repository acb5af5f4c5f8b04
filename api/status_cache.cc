#include "api/status_cache.h"

#include <algorithm>
#include <functional>

namespace jobstate::api {

namespace {

std::string JobKey(const std::string& org, const std::string& job_id) {
  std::string key = org;
  key.push_back('\0');
  key += job_id;
  return key;
}

uint64_t Hash(const std::string& job_key) { return std::hash<std::string>{}(job_key); }

}  // namespace

std::optional<StatusCache::Hit> StatusCache::Find(const std::string& org,
                                                  const std::string& job_id,
                                                  const std::string& query,
                                                  engine::Millis now) {
  std::scoped_lock lock(mu_);
  auto it = jobs_.find(JobKey(org, job_id));
  if (it == jobs_.end()) {
    ++misses_;
    return std::nullopt;
  }
  Slot& slot = it->second;
  std::optional<Hit> hit;
  if (auto body = slot.bodies.find(query); body != slot.bodies.end()) {
    hit = Hit{slot.version, body->second};
  } else if (auto timed = slot.timed.find(query);
             timed != slot.timed.end() && timed->second.at == now &&
             timed->second.priors == priors_) {
    hit = Hit{timed->second.version, timed->second.body};
  }
  ++(hit ? hits_ : misses_);
  if (hit) lru_.splice(lru_.begin(), lru_, slot.lru);
  return hit;
}

uint64_t StatusCache::Mark() const {
  std::scoped_lock lock(mu_);
  return published_;
}

void StatusCache::Insert(const std::string& org, const std::string& job_id,
                         const std::string& query, uint64_t version, std::string body,
                         uint64_t mark) {
  std::string key = JobKey(org, job_id);
  const size_t size = key.size() + query.size() + body.size();
  if (size > max_bytes_ / 8) return;  // a body this large would evict everything else
  const uint64_t h = Hash(key);
  std::scoped_lock lock(mu_);
  if (OvertakenLocked(h, mark)) return;
  auto it = jobs_.find(key);
  if (it != jobs_.end() && !it->second.bodies.empty() && it->second.version != version) {
    if (it->second.version > version) return;
    EraseLocked(it);
  }
  it = SlotLocked(std::move(key));
  Slot& slot = it->second;
  auto [pos, added] = slot.bodies.try_emplace(query);
  if (!added) return;  // another request rendered the same body first
  slot.version = version;
  pos->second = std::move(body);
  slot.bytes += size;
  bytes_ += size;
  TrimLocked();
}

void StatusCache::InsertAt(const std::string& org, const std::string& job_id,
                           const std::string& query, uint64_t version, engine::Millis at,
                           const std::string& body, uint64_t mark) {
  std::string key = JobKey(org, job_id);
  const size_t size = query.size() + body.size();
  if (key.size() + size > max_bytes_ / 8) return;
  const uint64_t h = Hash(key);
  std::scoped_lock lock(mu_);
  if (OvertakenLocked(h, mark) || OvertakenLocked(kPriorsHash, mark)) return;
  Slot& slot = SlotLocked(std::move(key))->second;
  const bool again = slot.rendered_at == at;
  slot.rendered_at = std::max(slot.rendered_at, at);
  if (!again) return;  // the first rendering at this instant: maybe the only one
  auto [pos, added] = slot.timed.try_emplace(query);
  if (!added) {
    const TimedBody& held = pos->second;
    if (held.version > version || (held.version == version && held.at >= at)) return;
    slot.bytes -= query.size() + held.body.size();
    bytes_ -= query.size() + held.body.size();
  }
  pos->second = TimedBody{version, at, priors_, body};
  slot.bytes += size;
  bytes_ += size;
  TrimLocked();
}

std::optional<StatusCache::PageHit> StatusCache::FindPage(const std::string& org,
                                                      const std::string& job_id,
                                                      const std::string& query) {
  std::scoped_lock lock(mu_);
  auto it = jobs_.find(JobKey(org, job_id));
  if (it == jobs_.end()) return std::nullopt;
  auto page = it->second.pages.find(query);
  if (page == it->second.pages.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return page->second;
}

void StatusCache::NotePage(bool hit) {
  std::scoped_lock lock(mu_);
  ++(hit ? page_hits_ : page_misses_);
}

void StatusCache::InsertPage(const std::string& org, const std::string& job_id,
                             const std::string& query, uint64_t version,
                             std::shared_ptr<const std::string> page) {
  std::string key = JobKey(org, job_id);
  const size_t size = query.size() + page->size();
  if (key.size() + size > max_bytes_ / 8) return;
  std::scoped_lock lock(mu_);
  Slot& slot = SlotLocked(std::move(key))->second;
  auto [pos, added] = slot.pages.try_emplace(query);
  if (!added) {
    if (pos->second.version >= version) return;  // a read of a later version was first
    slot.bytes -= query.size() + pos->second.text->size();
    bytes_ -= query.size() + pos->second.text->size();
  }
  pos->second = PageHit{version, std::move(page)};
  slot.bytes += size;
  bytes_ += size;
  TrimLocked();
}

std::shared_ptr<const engine::JobSnapshot> StatusCache::FindJob(const std::string& org,
                                                                const std::string& job_id) {
  std::scoped_lock lock(mu_);
  auto it = jobs_.find(JobKey(org, job_id));
  if (it == jobs_.end() || !it->second.job) return nullptr;
  ++job_hits_;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.job;
}

void StatusCache::InsertJob(const std::string& org, const std::string& job_id,
                            std::shared_ptr<const engine::JobSnapshot> job, size_t bytes,
                            uint64_t mark) {
  std::string key = JobKey(org, job_id);
  if (key.size() + bytes > max_bytes_ / 8) return;
  const uint64_t h = Hash(key);
  std::scoped_lock lock(mu_);
  if (OvertakenLocked(h, mark)) return;
  Slot& slot = SlotLocked(std::move(key))->second;
  if (slot.job && slot.job->version >= job->version) return;
  slot.bytes = slot.bytes - slot.job_bytes + bytes;
  bytes_ = bytes_ - slot.job_bytes + bytes;
  slot.job = std::move(job);
  slot.job_bytes = bytes;
  TrimLocked();
}

bool StatusCache::OvertakenLocked(uint64_t h, uint64_t mark) const {
  if (published_ - mark > kRecent) return true;
  for (uint64_t s = mark; s < published_; ++s) {
    if (recent_[s % kRecent] == h) return true;
  }
  return false;
}

void StatusCache::Invalidate(const engine::CommitNotice& notice) {
  std::scoped_lock lock(mu_);
  if (notice.priors_changed) {  // every running body read the priors
    ++priors_;
    recent_[published_ % kRecent] = kPriorsHash;
    ++published_;
  }
  for (const engine::CommitNotice::Job& job : notice.jobs) {
    std::string key = JobKey(job.org, job.job_id);
    recent_[published_ % kRecent] = Hash(key);
    ++published_;
    if (auto it = jobs_.find(key); it != jobs_.end()) EraseLocked(it);
  }
}

StatusCache::Slots::iterator StatusCache::SlotLocked(std::string key) {
  auto it = jobs_.find(key);
  if (it != jobs_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it;
  }
  lru_.push_front(key);
  it = jobs_.emplace(std::move(key), Slot{}).first;
  it->second.lru = lru_.begin();
  bytes_ += it->first.size();
  return it;
}

void StatusCache::EraseLocked(Slots::iterator it) {
  bytes_ -= it->second.bytes + it->first.size();
  lru_.erase(it->second.lru);
  jobs_.erase(it);
}

void StatusCache::TrimLocked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) EraseLocked(jobs_.find(lru_.back()));
}

StatusCache::Stats StatusCache::stats() const {
  std::scoped_lock lock(mu_);
  return Stats{bytes_, hits_, misses_, page_hits_, page_misses_, job_hits_};
}

}  // namespace jobstate::api
