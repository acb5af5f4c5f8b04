#include "storage/internal/sorted_files.h"

#include <algorithm>

#include "storage/rocks_status.h"

namespace jobstate::storage {

namespace {

// A file is closed and a new one opened past this size, so that later compactions
// work on pieces of a usual size.
constexpr uint64_t kFileBytes = 64 << 20;

// Finishes the open file, if any.
Status Close(std::unique_ptr<rocksdb::SstFileWriter>& writer, const std::vector<std::string>& files) {
  if (!writer) return Status::OK();
  rocksdb::Status s = writer->Finish();
  writer.reset();
  return s.ok() ? Status::OK() : FromRocks(s, "finish " + files.back());
}

// Adds a record to `writer`, which writes one of `cf`'s files: past kFileBytes the
// file is finished, and without an open file a new one is opened at `next_path()` and
// listed in `files`.
template <class NextPath>
Status AddTo(const Db& db, Cf cf, std::unique_ptr<rocksdb::SstFileWriter>& writer,
             std::vector<std::string>& files, NextPath next_path, std::string_view key,
             std::string_view value) {
  if (writer && writer->FileSize() >= kFileBytes) {
    Status s = Close(writer, files);
    if (!s.ok()) return s;
  }
  if (!writer) {
    writer = std::make_unique<rocksdb::SstFileWriter>(
        rocksdb::EnvOptions(),
        rocksdb::Options(db.get()->GetDBOptions(), db.get()->GetOptions(db.cf(cf))), db.cf(cf));
    files.push_back(next_path());
    rocksdb::Status s = writer->Open(files.back());
    if (!s.ok()) return FromRocks(s, "open " + files.back());
  }
  rocksdb::Status s = writer->Put(rocksdb::Slice(key.data(), key.size()),
                                  rocksdb::Slice(value.data(), value.size()));
  return s.ok() ? Status::OK() : FromRocks(s, "write " + files.back());
}

}  // namespace

bool KeyedByJob(Cf cf) {
  switch (cf) {
    case Cf::kDedupe:
    case Cf::kCheckpoints:
    case Cf::kFileVersions:
    case Cf::kSnapshots:
    case Cf::kFiles:
    case Cf::kFileIds:
    case Cf::kFilesByStatus:
      return true;
    default:
      return false;
  }
}

SortedFiles::SortedFiles(const Db& db, std::string dir, unsigned worker)
    : db_(db), dir_(std::move(dir)), worker_(worker) {}

SortedFiles::~SortedFiles() = default;
SortedFiles::SortedFiles(SortedFiles&&) noexcept = default;

void SortedFiles::Put(Cf cf, std::string key, std::string value) {
  buffered_bytes_ += key.size() + value.size() + 64;
  families_[static_cast<size_t>(cf)].job.emplace_back(std::move(key), std::move(value));
}

std::vector<std::pair<Cf, std::pair<std::string, std::string>>> SortedFiles::TakeBuffered() {
  std::vector<std::pair<Cf, std::pair<std::string, std::string>>> out;
  for (size_t i = 0; i < families_.size(); ++i) {
    for (auto& record : families_[i].job) out.emplace_back(static_cast<Cf>(i), std::move(record));
    families_[i].job.clear();
  }
  buffered_bytes_ = 0;
  return out;
}

Status SortedFiles::EndJob() {
  for (size_t i = 0; i < families_.size(); ++i) {
    Status s = Append(static_cast<Cf>(i), families_[i]);
    if (!s.ok()) return s;
  }
  buffered_bytes_ = 0;
  return Status::OK();
}

Status SortedFiles::Append(Cf cf, Family& f) {
  if (f.job.empty()) return Status::OK();
  // Stable, so that of equal keys the last written stays last; it is the one kept.
  // Several families come in key order already (files, checkpoints): checked first.
  const auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(f.job.begin(), f.job.end(), by_key)) {
    std::stable_sort(f.job.begin(), f.job.end(), by_key);
  }
  for (size_t i = 0; i < f.job.size(); ++i) {
    if (i + 1 < f.job.size() && f.job[i].first == f.job[i + 1].first) continue;
    Status s = AddTo(db_, cf, f.writer, f.files, [&] {
      return dir_ + "/" + std::to_string(worker_) + "-" + std::to_string(next_file_++) + ".sst";
    }, f.job[i].first, f.job[i].second);
    if (!s.ok()) return s;
  }
  f.job.clear();
  return Status::OK();
}

Status SortedFiles::Finish() {
  for (Family& f : families_) {
    Status s = Close(f.writer, f.files);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

const std::vector<std::string>& SortedFiles::Files(Cf cf) const {
  return families_[static_cast<size_t>(cf)].files;
}

FeedFiles::FeedFiles(const Db& db, std::string dir) : db_(db), dir_(std::move(dir)) {}

FeedFiles::~FeedFiles() = default;

Result<bool> FeedFiles::Put(std::string_view org, const std::string& key, std::string_view value) {
  // Runs of one organisation's entries are common: its file is found once per run.
  if (last_ == orgs_.end() || last_->first != org) {
    last_ = orgs_.find(org);
    if (last_ == orgs_.end()) {
      if (orgs_.size() >= kMaxOrgs) return false;
      last_ = orgs_.emplace(std::string(org), nullptr).first;
    }
  }
  Status s = AddTo(db_, Cf::kLogByOrg, last_->second, files_, [&] {
    return dir_ + "/feed-" + std::to_string(files_.size()) + ".sst";
  }, key, value);
  if (!s.ok()) return Err(std::move(s));
  return true;
}

Status FeedFiles::Finish() {
  for (auto& [org, writer] : orgs_) {
    Status s = Close(writer, files_);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status IngestSortedFiles(const Db& db, const SortedFiles& files, const FeedFiles* feed) {
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;
  std::vector<rocksdb::IngestExternalFileArg> args;
  auto add = [&](Cf cf, const std::vector<std::string>& paths) {
    if (paths.empty()) return;
    rocksdb::IngestExternalFileArg& arg = args.emplace_back();
    arg.column_family = db.cf(cf);
    arg.external_files = paths;
    arg.options = options;
  };
  if (feed) add(Cf::kLogByOrg, feed->Files());
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    add(static_cast<Cf>(i), files.Files(static_cast<Cf>(i)));
  }
  if (args.empty()) return Status::OK();
  return FromRocks(db.get()->IngestExternalFiles(args), "ingest replayed records");
}

}  // namespace jobstate::storage
