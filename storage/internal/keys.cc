#include "storage/internal/keys.h"

#include <cassert>
#include <cstring>

namespace jobstate::storage::keys {

void PutFixed64(std::string& out, uint64_t v) {
  const uint64_t be = __builtin_bswap64(v);  // big-endian: byte order is numeric order
  char buf[8];
  std::memcpy(buf, &be, 8);
  out.append(buf, 8);
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t be;
  std::memcpy(&be, p, 8);
  return __builtin_bswap64(be);
}

std::string Fixed64(uint64_t v) {
  std::string s;
  PutFixed64(s, v);
  return s;
}

std::string JobName(std::string_view org, std::string_view job_id) {
  std::string k;
  k.reserve(org.size() + 1 + job_id.size());
  k.append(org);
  k.push_back('\0');
  k.append(job_id);
  return k;
}

std::string JobVersion(uint64_t jid, uint64_t version) {
  std::string k;
  k.reserve(16);
  PutFixed64(k, jid);
  PutFixed64(k, version);
  return k;
}

std::string Job(uint64_t jid) { return Fixed64(jid); }
std::string Position(uint64_t position) { return Fixed64(position); }
std::string File(uint64_t jid, uint64_t ordinal) { return JobVersion(jid, ordinal); }

std::string FileId(uint64_t jid, std::string_view uri) {
  std::string k;
  k.reserve(8 + uri.size());
  PutFixed64(k, jid);
  k.append(uri);
  return k;
}

std::string FileStatusKey(uint64_t jid, engine::FileStatus status, uint64_t ordinal) {
  std::string k;
  k.reserve(17);
  PutFixed64(k, jid);
  k.push_back(static_cast<char>(status));
  PutFixed64(k, ordinal);
  return k;
}

std::string Dedupe(uint64_t jid, std::string_view event_id) { return FileId(jid, event_id); }

std::string OrgJob(std::string_view org, engine::Millis created_at, uint64_t jid) {
  std::string k = JobName(org, "");
  PutFixed64(k, ~static_cast<uint64_t>(created_at));
  PutFixed64(k, jid);
  return k;
}

std::string OrgStatusJob(std::string_view org, engine::JobStatus status,
                         engine::Millis created_at, uint64_t jid) {
  return ListingEntry(JobName(org, ""), status, created_at, jid);
}

std::string ListingFilterPrefix(std::string_view org, ListingFilter filter,
                                std::string_view collection, engine::JobType job_type) {
  std::string k = JobName(org, "");
  k.push_back(static_cast<char>(filter));
  if (filter != ListingFilter::kType) {
    PutFixed64(k, collection.size());
    k.append(collection);
  }
  if (filter != ListingFilter::kCollection) k.push_back(static_cast<char>(job_type));
  return k;
}

std::string ListingEntry(std::string prefix, engine::JobStatus status,
                         engine::Millis created_at, uint64_t jid) {
  prefix.reserve(prefix.size() + 17);
  prefix.push_back(static_cast<char>(status));
  PutFixed64(prefix, ~static_cast<uint64_t>(created_at));
  PutFixed64(prefix, jid);
  return prefix;
}

std::string OrgPosition(std::string_view org, uint64_t position) {
  std::string k = JobName(org, "");
  PutFixed64(k, position);
  return k;
}

std::string EtaHistoryPrefix(std::string_view org, std::string_view collection,
                             engine::JobType job_type) {
  std::string k = JobName(org, "");
  PutFixed64(k, collection.size());
  k.append(collection);
  k.push_back(static_cast<char>(job_type));
  return k;
}

std::string EtaHistory(std::string_view prefix, uint64_t position) {
  std::string k(prefix);
  PutFixed64(k, position);
  return k;
}

std::string FileVersion(uint64_t jid, uint64_t ordinal, uint64_t version) {
  std::string k = File(jid, ordinal);
  PutFixed64(k, version);
  return k;
}

uint64_t TrailingFixed64(std::string_view key) {
  assert(key.size() >= 8 && "keys end in a fixed64");
  return DecodeFixed64(key.data() + key.size() - 8);
}

std::string Describe(std::string_view family, std::string_view key) {
  std::string out(family);
  out += "/";
  if (key.size() >= 8) {
    out += "jid=" + std::to_string(DecodeFixed64(key.data()));
    if (key.size() == 16) out += ",n=" + std::to_string(DecodeFixed64(key.data() + 8));
  }
  out += " (" + std::to_string(key.size()) + " bytes)";
  return out;
}

}  // namespace jobstate::storage::keys
