#pragma once
// Key layout of every column family (see docs/formats.md). Integers in keys are
// fixed-width big-endian so that byte order is numeric order; a job is named in keys by
// its internal 64-bit id (jid), assigned in creation order and mapped from
// (org, job_id) by the `jobs` family.

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/types.h"

namespace jobstate::storage::keys {

void PutFixed64(std::string& out, uint64_t v);
uint64_t DecodeFixed64(const char* p);
std::string Fixed64(uint64_t v);

// jobs: org 0x00 job_id -> jid
std::string JobName(std::string_view org, std::string_view job_id);
// events, checkpoints: jid version
std::string JobVersion(uint64_t jid, uint64_t version);
// snapshots: jid
std::string Job(uint64_t jid) ;
// log: position
std::string Position(uint64_t position);
// files: jid ordinal
std::string File(uint64_t jid, uint64_t ordinal);
// file_ids: jid uri
std::string FileId(uint64_t jid, std::string_view uri);
// files_by_status: jid status ordinal
std::string FileStatusKey(uint64_t jid, engine::FileStatus status, uint64_t ordinal);
// dedupe: jid event_id (the 36-character lower-case UUID text)
std::string Dedupe(uint64_t jid, std::string_view event_id);
// jobs_by_org: org 0x00 ~created_at jid (newest first)
std::string OrgJob(std::string_view org, engine::Millis created_at, uint64_t jid);
// jobs_by_org_status: org 0x00 status ~created_at jid (newest first within a status)
std::string OrgStatusJob(std::string_view org, engine::JobStatus status,
                         engine::Millis created_at, uint64_t jid);
// jobs_by_org_filter: org 0x00 filter:u8, then the filter's values, then status
// ~created_at jid (newest first). A job has one entry under each filter, so a listing
// by collection, by job type or by both reads only the jobs it answers with. The
// collection's length keeps any byte it holds from running into what follows.
enum class ListingFilter : uint8_t {
  kCollection = 1,         // len(collection):u64 collection
  kCollectionAndType = 2,  // len(collection):u64 collection job_type:u8
  kType = 3,               // job_type:u8
};
inline constexpr ListingFilter kListingFilters[] = {
    ListingFilter::kCollection, ListingFilter::kCollectionAndType, ListingFilter::kType};
// Everything before the status: the prefix of one filter's entries.
std::string ListingFilterPrefix(std::string_view org, ListingFilter filter,
                                std::string_view collection, engine::JobType job_type);
// A listing entry: `prefix` (jobs_by_org_status's org 0x00, or a filter's prefix)
// followed by status ~created_at jid.
std::string ListingEntry(std::string prefix, engine::JobStatus status,
                         engine::Millis created_at, uint64_t jid);
// log_by_org: org 0x00 position
std::string OrgPosition(std::string_view org, uint64_t position);
// file_versions: jid ordinal version
std::string FileVersion(uint64_t jid, uint64_t ordinal, uint64_t version);

// eta_history: org 0 len(collection):u64 collection job_type:u8 position. The prefix
// (everything but the position) names one prior; the collection's length keeps any
// byte it holds from running into the job type.
std::string EtaHistoryPrefix(std::string_view org, std::string_view collection,
                             engine::JobType job_type);
std::string EtaHistory(std::string_view prefix, uint64_t position);

// The trailing 8 bytes of a key, as an integer (an ordinal, version or jid).
uint64_t TrailingFixed64(std::string_view key);

// A readable rendering of a key for error messages: "snapshots/jid=12".
std::string Describe(std::string_view family, std::string_view key);

}  // namespace jobstate::storage::keys
