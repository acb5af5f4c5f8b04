#include "api/auth.h"

#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include <boost/json.hpp>

#include "api/crypto.h"

namespace jobstate::api {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

Status WriteFile(const fs::path& path, const std::string& text, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Status::Unavailable("cannot write " + tmp.string());
    out << text;
    if (!out.flush()) return Status::Unavailable("cannot write " + tmp.string());
  }
  if (secret) ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Unavailable("cannot write " + path.string() + ": " + ec.message());
  return Status::OK();
}

}  // namespace

std::string KeyStore::NewKey() { return "jsk_" + Hex(RandomBytes(32)); }

Result<std::map<std::string, Principal>> KeyStore::Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  auto bad = [](const std::string& what) {
    return Err(Status::InvalidArgument("invalid_keys_file", "keys file: " + what));
  };
  if (ec || !doc.is_object() || !doc.get_object().contains("keys") ||
      !doc.at("keys").is_array()) {
    return bad("expected {\"keys\": [...]}");
  }
  std::map<std::string, Principal> out;
  for (const json::value& k : doc.at("keys").get_array()) {
    if (!k.is_object()) return bad("each key must be an object");
    const json::object& o = k.get_object();
    auto str = [&](const char* name) -> const json::string* {
      auto* v = o.if_contains(name);
      return v && v->is_string() ? &v->get_string() : nullptr;
    };
    const json::string *name = str("name"), *org = str("org"), *hash = str("sha256");
    const json::value* scopes = o.if_contains("scopes");
    if (!name || !org || !hash || !scopes || !scopes->is_array() || hash->size() != 64) {
      return bad("each key needs name, org, scopes and a 64-digit sha256");
    }
    Principal p{std::string(*name), std::string(*org), {}};
    for (const json::value& s : scopes->get_array()) {
      if (!s.is_string()) return bad("scopes must be strings");
      p.scopes.emplace(s.get_string());
    }
    std::string h(*hash);
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[h] = std::move(p);
  }
  return out;
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const fs::path& path,
                                                 const fs::path& dev_key_path,
                                                 bool* created_dev_key) {
  if (created_dev_key) *created_dev_key = false;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const std::string key = NewKey();
    json::object entry{{"name", "dev"},
                       {"org", "default"},
                       {"scopes", json::array{kScopeEventsWrite, kScopeJobsRead,
                                              kScopeJobsCancel, kScopeHistoryRead, kScopeAdmin}},
                       {"sha256", Sha256Hex(key)}};
    Status s = WriteFile(dev_key_path, key + "\n", true);
    if (s.ok()) s = WriteFile(path, json::serialize(json::object{{"keys", json::array{entry}}}) + "\n", true);
    if (!s.ok()) return Err(s);
    if (created_dev_key) *created_dev_key = true;
  }
  std::unique_ptr<KeyStore> store(new KeyStore(path));
  Status s = store->Reload();
  if (!s.ok()) return Err(s);
  return store;
}

// The file's version: its modification time, or min() when it cannot be read.
fs::file_time_type KeyStore::Version(std::error_code& ec) const {
  const auto mtime = fs::last_write_time(path_, ec);
  return ec ? fs::file_time_type::min() : mtime;
}

Status KeyStore::Reload() {
  // Taken before the read: an edit landing during it shows as a new version next time.
  std::error_code ec;
  const auto version = Version(ec);
  std::ifstream in(path_);
  if (!in) return Status::Unavailable("cannot read keys file " + path_.string());
  std::stringstream text;
  text << in.rdbuf();
  auto keys = Parse(text.str());
  if (!keys) return keys.error();
  std::unique_lock lock(mu_);
  by_hash_ = std::move(*keys);
  seen_ = version;
  return Status::OK();
}

std::optional<Status> KeyStore::ReloadIfChanged() {
  std::error_code ec;
  const auto version = Version(ec);
  {
    std::unique_lock lock(mu_);
    if (version == seen_) return std::nullopt;
    seen_ = version;
  }
  if (ec) {
    return Status::Unavailable("cannot read keys file " + path_.string() + ": " +
                               ec.message());
  }
  return Reload();
}

std::optional<Principal> KeyStore::Authenticate(std::string_view key) const {
  const std::string hash = Sha256Hex(key);
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

namespace {

Result<json::object> ReadKeysFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Err(Status::Unavailable("cannot read keys file " + path.string()));
  std::stringstream text;
  text << in.rdbuf();
  // Parse validates the whole file before anything is changed.
  auto parsed = KeyStore::Validate(text.str());
  if (!parsed.ok()) return Err(parsed);
  return json::parse(text.str()).as_object();
}

}  // namespace

Status KeyStore::Validate(const std::string& text) {
  auto keys = Parse(text);
  return keys.has_value() ? Status::OK() : keys.error();
}

Result<std::string> AddKey(const fs::path& path, const std::string& name, const std::string& org,
                           const std::vector<std::string>& scopes) {
  static const std::set<std::string> known = {kScopeEventsWrite, kScopeJobsRead, kScopeJobsCancel,
                                              kScopeHistoryRead, kScopeAdmin};
  if (name.empty() || org.empty()) {
    return Err(Status::InvalidArgument("invalid_key", "a key needs a name and an organisation"));
  }
  json::array scope_list;
  for (const std::string& scope : scopes) {
    if (!known.count(scope)) {
      return Err(Status::InvalidArgument("unknown_scope", "unknown scope '" + scope + "'"));
    }
    scope_list.emplace_back(scope);
  }
  json::object doc{{"keys", json::array{}}};
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto read = ReadKeysFile(path);
    if (!read.has_value()) return Err(read.error());
    doc = std::move(*read);
  }
  json::array& keys = doc["keys"].as_array();
  for (const json::value& k : keys) {
    if (k.at("name") == json::value(name)) {
      return Err(Status::AlreadyExists("key_exists", "a key named '" + name + "' exists"));
    }
  }
  const std::string secret = KeyStore::NewKey();
  keys.push_back(json::object{
      {"name", name}, {"org", org}, {"scopes", std::move(scope_list)}, {"sha256", Sha256Hex(secret)}});
  Status s = WriteFile(path, json::serialize(doc) + "\n", true);
  if (!s.ok()) return Err(s);
  return secret;
}

Result<std::vector<Principal>> ListKeys(const fs::path& path) {
  auto doc = ReadKeysFile(path);
  if (!doc.has_value()) return Err(doc.error());
  std::vector<Principal> out;
  for (const json::value& k : doc->at("keys").as_array()) {
    Principal p{std::string(k.at("name").as_string()), std::string(k.at("org").as_string()), {}};
    for (const json::value& scope : k.at("scopes").as_array()) p.scopes.emplace(scope.as_string());
    out.push_back(std::move(p));
  }
  return out;
}

Status RevokeKey(const fs::path& path, const std::string& name) {
  auto doc = ReadKeysFile(path);
  if (!doc.has_value()) return doc.error();
  json::array& keys = (*doc)["keys"].as_array();
  const size_t before = keys.size();
  for (auto it = keys.begin(); it != keys.end();) {
    it = it->at("name") == json::value(name) ? keys.erase(it) : it + 1;
  }
  if (keys.size() == before) return Status::NotFound("key_not_found", "no key named '" + name + "'");
  return WriteFile(path, json::serialize(*doc) + "\n", true);
}

}  // namespace jobstate::api
