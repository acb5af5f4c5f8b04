#pragma once
// GroupFiles: a commit group's view of file rows.
//
// Reads see, in order, the rows this group has changed (the overlay), a bounded cache
// of recently committed rows shared across groups, and RocksDB. Changes stay in the
// overlay until the group commits: then each touched row is written once, with its
// by-status index moved from the status it had when the group began to the one it
// has now, however many events touched it in between. A request's changes can be
// undone; Publish() moves the rows into the cache once the group is committed.
//
// Why not WriteBatchWithIndex: it indexes every staged key and answers every read with
// a batch lookup plus a DB lookup; the overlay holds only file rows, the cache answers
// the hot ones (files in flight) without RocksDB, and a file that moves through four
// events in one group costs one row write instead of four.
//
// Thread safety: not thread-safe; owned by the sequencer thread.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/file_table.h"
#include "storage/internal/db.h"
#include "storage/internal/lru_cache.h"

namespace jobstate::storage {

// Committed file rows by keys::FileId(jid, uri).
using FileRowCache = LruCache<std::string, engine::FileRow>;

class GroupFiles {
 public:
  // `parent`: the overlay of the group being written while this one folds, read after
  // this group's own and before the cache; null when there is none.
  GroupFiles(const Db& db, FileRowCache& cache, const GroupFiles* parent)
      : db_(db), cache_(cache), parent_(parent) {}
  void DetachParent() { parent_ = nullptr; }

  // The FileTable of one job inside this group. Valid while the GroupFiles lives.
  class JobFiles final : public engine::FileTable {
   public:
    JobFiles(GroupFiles& group, uint64_t jid) : group_(group), jid_(jid) {}
    Result<std::optional<engine::FileRow>> Find(std::string_view uri) override;
    Status Put(const engine::FileRow& row, std::optional<engine::FileStatus> before) override;
    Result<std::vector<engine::FileRow>> ListByStatus(engine::FileStatus status,
                                                      uint64_t from, size_t limit) override;

   private:
    GroupFiles& group_;
    const uint64_t jid_;
  };
  JobFiles ForJob(uint64_t jid) { return JobFiles(*this, jid); }

  // Request boundaries: Undo() reverts the overlay to the last BeginRequest().
  void BeginRequest() { undo_.clear(); }
  void Undo();
  // Appends the writes of every changed row (row, its version as of the job's version
  // at the group's end, uri entry, index move).
  void StageWrites(std::vector<StagedWrite>& out,
                   const std::function<uint64_t(uint64_t jid)>& job_version) const;
  // After the group is committed: the overlay becomes the cache's.
  void Publish();

 private:
  struct Entry {
    engine::FileRow row;
    // The row's status when the group began; nullopt for a file discovered in it.
    std::optional<engine::FileStatus> committed_status;
  };

  Result<std::optional<engine::FileRow>> Lookup(uint64_t jid, std::string_view uri) const;
  // The row this group or its parent changed at (jid, ordinal), or null.
  const engine::FileRow* Changed(uint64_t jid, uint64_t ordinal) const;

  const Db& db_;
  FileRowCache& cache_;
  const GroupFiles* parent_;
  std::unordered_map<std::string, Entry> rows_;  // FileId key -> changed row
  std::map<std::pair<uint64_t, uint64_t>, std::string> by_ordinal_;  // -> FileId key
  std::vector<std::pair<std::string, std::optional<Entry>>> undo_;
};

}  // namespace jobstate::storage
