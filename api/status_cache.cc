#include "api/status_cache.h"

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
                                                  const std::string& query) {
  std::scoped_lock lock(mu_);
  auto it = jobs_.find(JobKey(org, job_id));
  if (it == jobs_.end()) {
    ++misses_;
    return std::nullopt;
  }
  auto body = it->second.bodies.find(query);
  if (body == it->second.bodies.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return Hit{it->second.version, body->second};
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
  // Was the read overtaken by a commit of this job?
  if (published_ - mark > kRecent) return;
  for (uint64_t s = mark; s < published_; ++s) {
    if (recent_[s % kRecent] == h) return;
  }
  auto it = jobs_.find(key);
  if (it != jobs_.end() && it->second.version != version) {
    if (it->second.version > version) return;
    EraseLocked(it);
    it = jobs_.end();
  }
  if (it == jobs_.end()) {
    lru_.push_front(key);
    it = jobs_.emplace(std::move(key), Slot{version, {}, 0, lru_.begin()}).first;
    bytes_ += it->first.size();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Slot& slot = it->second;
  auto [pos, added] = slot.bodies.try_emplace(query);
  if (!added) return;  // another request rendered the same body first
  pos->second = std::move(body);
  slot.bytes += size;
  bytes_ += size;
  while (bytes_ > max_bytes_ && !lru_.empty()) EraseLocked(jobs_.find(lru_.back()));
}

void StatusCache::Invalidate(const engine::CommitNotice& notice) {
  std::scoped_lock lock(mu_);
  for (const engine::CommitNotice::Job& job : notice.jobs) {
    std::string key = JobKey(job.org, job.job_id);
    recent_[published_ % kRecent] = Hash(key);
    ++published_;
    if (auto it = jobs_.find(key); it != jobs_.end()) EraseLocked(it);
  }
}

void StatusCache::EraseLocked(std::unordered_map<std::string, Slot>::iterator it) {
  bytes_ -= it->second.bytes + it->first.size();
  lru_.erase(it->second.lru);
  jobs_.erase(it);
}

StatusCache::Stats StatusCache::stats() const {
  std::scoped_lock lock(mu_);
  return Stats{bytes_, hits_, misses_};
}

}  // namespace jobstate::api
