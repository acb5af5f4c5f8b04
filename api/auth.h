#pragma once
// KeyStore: API keys and their scopes, from the keys file of OPERATIONS.md:
//   {"keys": [{"name": "worker-7", "org": "acme", "scopes": ["events:write"],
//              "sha256": "<hex SHA-256 of the key>"}]}
// Only hashes are stored. The file is re-read on Reload() (SIGHUP) and whenever its
// modification time changes (ReloadIfChanged, polled by the server).
//
// Thread safety: safe for concurrent use.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/status.h"

namespace jobstate::api {

inline constexpr const char* kScopeEventsWrite = "events:write";
inline constexpr const char* kScopeJobsRead = "jobs:read";
inline constexpr const char* kScopeJobsCancel = "jobs:cancel";
inline constexpr const char* kScopeHistoryRead = "history:read";
inline constexpr const char* kScopeAdmin = "admin";

struct Principal {
  std::string name;
  std::string org;
  std::set<std::string> scopes;
  bool Has(const std::string& scope) const { return scopes.count(scope) > 0; }
};

class KeyStore {
 public:
  // Loads `path`. When it does not exist, creates it with one development key
  // (organisation "default", every scope) and writes that key to `dev_key_path`
  // (mode 0600); `created_dev_key` then says so. InvalidArgument when the file is not a
  // valid keys file; Unavailable when it cannot be read or written.
  static Result<std::unique_ptr<KeyStore>> Open(const std::filesystem::path& path,
                                                const std::filesystem::path& dev_key_path,
                                                bool* created_dev_key = nullptr);

  // The key's principal, or nullopt for an unknown key.
  std::optional<Principal> Authenticate(std::string_view key) const;

  // Re-reads the file; on error the keys in force stay as they were.
  Status Reload();
  // Reload() when the file's modification time changed since the last look, and what it
  // gave; nullopt when nothing changed. A file that cannot be read (deleted, say) is a
  // change too, reported as Unavailable. Each version of the file is reported once, so
  // a poller can log a rejected edit without repeating it every second.
  std::optional<Status> ReloadIfChanged();

  // A new random key ("jsk_" + 64 hex digits).
  static std::string NewKey();
  // OK when `text` is a valid keys file; InvalidArgument naming what is wrong.
  static Status Validate(const std::string& text);

 private:
  explicit KeyStore(std::filesystem::path path) : path_(std::move(path)) {}
  static Result<std::map<std::string, Principal>> Parse(const std::string& text);
  std::filesystem::file_time_type Version(std::error_code& ec) const;

  const std::filesystem::path path_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Principal> by_hash_;  // Guarded by mu_
  // The modification time of the version last looked at (min() for a missing file).
  std::filesystem::file_time_type seen_;  // Guarded by mu_
};

// Editing the keys file (jobctl keys). Each call reads the file, changes it and writes
// it back atomically (a new file renamed over the old), so a running server picks the
// change up on its next check. Keys are identified by name.

// Adds a key with a fresh random secret and returns the secret (only its hash is
// stored). AlreadyExists when the name is taken; InvalidArgument for an unknown scope.
Result<std::string> AddKey(const std::filesystem::path& path, const std::string& name,
                           const std::string& org, const std::vector<std::string>& scopes);
// Every key's name, organisation and scopes (never a secret).
Result<std::vector<Principal>> ListKeys(const std::filesystem::path& path);
// Removes the key named `name`; NotFound when there is none.
Status RevokeKey(const std::filesystem::path& path, const std::string& name);

}  // namespace jobstate::api
