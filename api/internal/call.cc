#include "api/internal/call.h"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

#include "api/crypto.h"
#include "api/json_write.h"
#include "engine/types.h"

namespace jobstate::api::internal {

namespace json = boost::json;

Response JsonText(const Service::Call& call, http::status status, std::string body) {
  Response res{status, call.req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Json(const Service::Call& call, http::status status, const json::value& body) {
  return JsonText(call, status, WriteJson(body));
}

Status InvalidParameter(const std::string& name, const std::string& what) {
  Status s = Status::InvalidArgument("invalid_parameter", "query parameter " + name + " " + what);
  s.WithPointer("/" + name);
  return s;
}

Result<int64_t> IntParam(const Service::Call& call, const std::string& name, int64_t fallback,
                         int64_t lo, int64_t hi) {
  const std::string* v = call.Param(name);
  if (!v) return fallback;
  int64_t n = 0;
  const char* first = v->data();
  const char* last = v->data() + v->size();
  const auto [end, ec] = std::from_chars(first, last, n);
  if (ec == std::errc::result_out_of_range && end == last) {
    return v->front() == '-' ? lo : hi;  // an integer, just a huge one: clamp it
  }
  if (ec != std::errc() || end != last) return Err(InvalidParameter(name, "must be an integer"));
  return std::clamp(n, lo, hi);
}

template <class E>
Result<std::vector<E>> ListParam(const Service::Call& call, const std::string& name,
                                 std::optional<E> (*parse)(std::string_view),
                                 std::string& canonical) {
  std::vector<E> out;
  const std::string* v = call.Param(name);
  if (!v || v->empty()) return out;
  size_t start = 0;
  while (start <= v->size()) {
    size_t end = v->find(',', start);
    if (end == std::string::npos) end = v->size();
    const std::string_view item = std::string_view(*v).substr(start, end - start);
    auto e = parse(item);
    if (!e) return Err(InvalidParameter(name, "has an unknown value '" + std::string(item) + "'"));
    out.push_back(*e);
    start = end + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  for (E e : out) canonical += (canonical.empty() ? "" : ",") + std::string(engine::Name(e));
  return out;
}

template Result<std::vector<engine::FileStatus>> ListParam(
    const Service::Call&, const std::string&,
    std::optional<engine::FileStatus> (*)(std::string_view), std::string&);
template Result<std::vector<engine::JobStatus>> ListParam(
    const Service::Call&, const std::string&,
    std::optional<engine::JobStatus> (*)(std::string_view), std::string&);

std::string MediaType(const Request& req) {
  std::string v(req[http::field::content_type]);
  v = v.substr(0, v.find(';'));
  v.erase(std::remove_if(v.begin(), v.end(), [](unsigned char c) { return std::isspace(c); }),
          v.end());
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v;
}

namespace {

// One line of If-None-Match: "*" or 1#entity-tag, where entity-tag = [ "W/" ] DQUOTE
// *etagc DQUOTE and etagc excludes DQUOTE. nullopt when the line is malformed.
std::optional<bool> LineNames(std::string_view line, std::string_view etag) {
  const auto skip_ows = [&] {
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
  };
  skip_ows();
  if (line == "*") return true;
  bool named = false, any = false;
  for (;;) {
    skip_ows();
    if (line.empty()) break;
    if (line.front() == ',') {  // empty list elements are allowed (RFC 9110, 5.6.1)
      line.remove_prefix(1);
      continue;
    }
    if (line.substr(0, 2) == "W/") line.remove_prefix(2);
    if (line.empty() || line.front() != '"') return std::nullopt;
    const size_t close = line.find('"', 1);
    if (close == std::string_view::npos) return std::nullopt;
    named = named || line.substr(0, close + 1) == etag;
    any = true;
    line.remove_prefix(close + 1);
    skip_ows();
    if (!line.empty() && line.front() != ',') return std::nullopt;
  }
  if (!any) return std::nullopt;
  return named;
}

}  // namespace

bool IfNoneMatchNames(const Request& req, std::string_view etag) {
  bool named = false;
  const auto [first, last] = req.equal_range(http::field::if_none_match);
  for (auto it = first; it != last; ++it) {
    const std::optional<bool> line = LineNames(it->value(), etag);
    if (!line) return false;  // one malformed line voids the whole condition
    named = named || *line;
  }
  return named;
}

std::optional<uint64_t> IfNoneMatchVersion(const Request& req) {
  const auto it = req.find(http::field::if_none_match);
  if (it == req.end()) return std::nullopt;
  std::string_view v = it->value();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == ',')) {
    v.remove_prefix(1);
  }
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.empty() || v.front() != '"') return std::nullopt;
  v.remove_prefix(1);
  uint64_t version = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
  if (ec != std::errc() || end == v.data() || end == v.data() + v.size() || *end != '"') {
    return std::nullopt;
  }
  return version;
}

Result<std::map<std::string, std::string>> StringMembersBody(
    const Service::Call& call, std::initializer_list<std::string_view> allowed) {
  std::map<std::string, std::string> out;
  if (call.req.body().empty()) return out;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(call.req.body(), ec);
  if (ec || !body.is_object()) {
    return Err(Status::InvalidArgument("invalid_json", "the body must be a JSON object"));
  }
  for (const auto& kv : body.get_object()) {
    const std::string name(kv.key());
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return Err(Status::InvalidArgument("unknown_field", "/" + name + " is not a field of this object")
                     .WithPointer("/" + name));
    }
    if (!kv.value().is_string() && !kv.value().is_null()) {
      return Err(Status::InvalidArgument("invalid_parameter", "/" + name + " must be a string")
                     .WithPointer("/" + name));
    }
    if (kv.value().is_string()) out[name] = std::string(kv.value().get_string());
  }
  return out;
}

}  // namespace jobstate::api::internal
