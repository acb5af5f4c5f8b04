#pragma once
// StatusCache: the rendered status bodies of final jobs, so that polling a job that has
// finished costs neither a read of the store nor rendering; and, for running jobs, the
// snapshot and the rendered files pages, so that polling one costs the rendering of its
// head (the estimate moves with the clock) but no read of the job and no page of files,
// and the body rendered at one instant, so that the reads of a job within one
// millisecond share one rendering.
//
// Pages: a page ("files" and "files_page") is a function of the job's version and the
// query, so an entry carries its version and the reader uses it only when the job,
// read from the store, is still at that version (FileQuery::unless_version).
//
// Running jobs' snapshots: kept under the same rules as final bodies (below), so a
// snapshot found here is the job as it stands; with a page of the same version, a read
// renders the status without reading the job from the store.
//
// A final job's status is a function of its version and the query alone (no estimate,
// no clock: every instant it shows is one of its events'), yet a final job can still
// change: files left processing may settle, and each settling is a new version. So an
// entry is dropped the moment a commit of its job is published (ChangeHub::Publish,
// after the commit is durable and before its requests are answered: a client that got
// an acknowledgement never reads the body from before it).
//
// A body rendered from a read that a commit of the same job overtook must not be
// cached either: the read takes a Mark() before it reads the store, and Insert refuses
// the body when a commit of that job was published since the mark (remembered for the
// last kRecent published jobs; older marks are refused outright).
//
// A running job's body is a function of its version, the query, the ETA priors and the
// instant (EVENTS.md, The fold), taken at the API's resolution of a millisecond. So a
// body rendered at instant t serves the reads of the same job and query at t, while no
// commit of the job and no change of a prior (a job finishing: CommitNotice::
// priors_changed) has been published since its read began. Only one instant per query is
// kept, and only from the second rendering at that instant on: a burst of pollers, or
// the waiting reads one commit wakes, share one rendering, while a job polled now and
// then costs no copy of its body.
//
// Bounded by the bytes of its keys, bodies, pages and (estimated) snapshots; the least
// recently used jobs go first.
//
// Thread safety: all members are safe for concurrent use.

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/query.h"
#include "engine/state.h"
#include "engine/types.h"

namespace jobstate::api {

class StatusCache {
 public:
  struct Hit {
    uint64_t version = 0;
    std::string body;
  };

  explicit StatusCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  StatusCache(const StatusCache&) = delete;
  StatusCache& operator=(const StatusCache&) = delete;

  // The body cached for (org, job_id) under `query` (the canonical form of the page's
  // parameters) as read at the instant `now`, or nullopt.
  std::optional<Hit> Find(const std::string& org, const std::string& job_id,
                          const std::string& query, engine::Millis now);
  // Where the stream of published commits stands; take it before reading the store.
  uint64_t Mark() const;
  // Caches a final job's body rendered from a read that began at `mark`, unless a commit
  // of the job has been published since.
  void Insert(const std::string& org, const std::string& job_id, const std::string& query,
              uint64_t version, std::string body, uint64_t mark);
  // Offers a running job's body rendered at the instant `at` by a read that began at
  // `mark`: kept when another body of the job was rendered at `at` already (see above),
  // unless a commit of the job or a change of a prior has been published since the mark.
  void InsertAt(const std::string& org, const std::string& job_id,
                const std::string& query, uint64_t version, engine::Millis at,
                const std::string& body, uint64_t mark);
  struct PageHit {
    uint64_t version = 0;
    std::shared_ptr<const std::string> text;  // shared: a page is tens of kilobytes
  };
  // The files page cached for (org, job_id) under `query`, with the version it is of.
  std::optional<PageHit> FindPage(const std::string& org, const std::string& job_id,
                              const std::string& query);
  // Counts a read that used a cached page (`hit`) or rendered its own.
  void NotePage(bool hit);
  // Caches the files page of (org, job_id) under `query` as of `version`.
  void InsertPage(const std::string& org, const std::string& job_id, const std::string& query,
                  uint64_t version, std::shared_ptr<const std::string> page);
  // The snapshot cached for (org, job_id): the job as it stands, or nullopt.
  std::shared_ptr<const engine::JobSnapshot> FindJob(const std::string& org,
                                                     const std::string& job_id);
  // Caches the snapshot of (org, job_id) read by a read that began at `mark`, unless a
  // commit of the job has been published since. `bytes`: what it holds, about.
  void InsertJob(const std::string& org, const std::string& job_id,
                 std::shared_ptr<const engine::JobSnapshot> job, size_t bytes, uint64_t mark);
  // Drops the entries of every job in `notice`.
  void Invalidate(const engine::CommitNotice& notice);

  struct Stats {
    size_t bytes = 0;           // keys, bodies, pages and snapshots held
    uint64_t hits = 0, misses = 0;            // Find: whole bodies
    uint64_t page_hits = 0, page_misses = 0;  // pages used / read and rendered (NotePage)
    uint64_t job_hits = 0;                    // FindJob: snapshots found
  };
  Stats stats() const;

 private:
  static constexpr size_t kRecent = 4096;
  // Where a change of the priors is remembered among the published jobs' hashes.
  static constexpr uint64_t kPriorsHash = 0;
  struct TimedBody {
    uint64_t version = 0;
    engine::Millis at = 0;  // the instant it was rendered at
    uint64_t priors = 0;    // priors_ when it was kept
    std::string body;
  };
  struct Slot {
    uint64_t version = 0;                                 // of the bodies
    std::unordered_map<std::string, std::string> bodies;  // query -> body
    std::unordered_map<std::string, TimedBody> timed;     // query -> a running job's body
    engine::Millis rendered_at = -1;  // the instant of the last body offered to InsertAt
    std::unordered_map<std::string, PageHit> pages;       // query -> page and its version
    std::shared_ptr<const engine::JobSnapshot> job;       // a running job's snapshot
    size_t job_bytes = 0;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  using Slots = std::unordered_map<std::string, Slot>;
  // The job's slot, made most recently used, created if absent.
  Slots::iterator SlotLocked(std::string key);
  void EraseLocked(Slots::iterator it);
  void TrimLocked();
  // Whether a commit of the job hashed `h` was published since `mark`.
  bool OvertakenLocked(uint64_t h, uint64_t mark) const;

  const size_t max_bytes_;
  mutable std::mutex mu_;
  Slots jobs_;                                  // org 0 job_id -> slot; Guarded by mu_
  std::list<std::string> lru_;                  // job keys, most recent first; Guarded by mu_
  size_t bytes_ = 0;                            // Guarded by mu_
  uint64_t published_ = 0;  // jobs (and changes of the priors) published; Guarded by mu_
  uint64_t priors_ = 0;                         // changes of the priors; Guarded by mu_
  std::array<uint64_t, kRecent> recent_{};      // hashes of the last kRecent; Guarded by mu_
  uint64_t hits_ = 0, misses_ = 0;              // Guarded by mu_
  uint64_t page_hits_ = 0, page_misses_ = 0;    // Guarded by mu_
  uint64_t job_hits_ = 0;                       // Guarded by mu_
};

}  // namespace jobstate::api
