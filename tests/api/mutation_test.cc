// Valid batches of every event type, mutated at random (a value swapped for one of
// another type or out of range, a member dropped or added, bytes flipped, cut or
// inserted, as JSON and as NDJSON) and posted to a real server: every answer is a 200
// or a 4xx problem+json, never a 5xx or a dropped connection, and a rejected batch
// leaves the stored state byte-identical. The seeds are fixed, so a failure replays.
#include <cstdlib>
#include <random>

#include "tests/api/server_fixture.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class MutationTest : public ServerTest {
 protected:
  // A running job with four discovered files, f0 processing.
  void MakeJob(const std::string& job) {
    Append(Batch(
        {Event(
             NewId(), job, "job.created",
             R"({"collection_name":"m","job_type":"index_s3","processing_type":"advanced"})"),
         Event(NewId(), job, "job.started"),
         Event(NewId(), job, "stage.started", R"({"stage":"scanning"})"),
         Event(
             NewId(), job, "files.discovered",
             R"({"files":[{"uri":"s3://b/f0","size_bytes":10,"content_type":"application/pdf"},)"
             R"({"uri":"s3://b/f1","name":"f1","size_bytes":20},{"uri":"s3://b/f2"},)"
             R"({"uri":"s3://b/f3"}]})"),
         Event(NewId(), job, "file.started",
               R"({"uri":"s3://b/f0","stage":"extracting"})")}));
  }

  // Batches that are valid against MakeJob's state, one of each event type.
  static std::vector<std::string> Valid(const std::string& job) {
    const auto one = [&](const std::string& type, const std::string& data,
                         const std::string& extra = "") {
      return Batch({Event(NewId(), job, type, data, extra)});
    };
    return {
        one("file.progress",
            R"({"uri":"s3://b/f0","stage":"chunking","phase":"started","message":"m"})",
            R"(,"worker_id":"w1","expected_version":5)"),
        one("file.completed", R"({"uri":"s3://b/f0","chunks":3,"tokens":100,"pages":2})"),
        one("file.failed",
            R"({"uri":"s3://b/f0","error_code":"e","error_message":"bad","retryable":true,"stage":"extracting"})"),
        one("file.skipped", R"({"uri":"s3://b/f1","reason":"unsupported_type"})"),
        one("file.cancelled", R"({"uri":"s3://b/f2","reason":"user"})"),
        one("file.started", R"({"uri":"s3://b/f3"})"),
        one("files.discovered",
            R"({"files":[{"uri":"s3://b/new","name":"n","size_bytes":1,"content_type":"text/plain"}]})"),
        one("stage.completed", R"({"stage":"scanning"})"),
        one("stage.started", R"({"stage":"extracting"})"),
        one("job.progress", R"({"message":"halfway"})"),
        one("job.workers", R"({"count":2,"worker_ids":["w1","w2"]})"),
        one("job.failed",
            R"({"error_code":"quota","error_message":"out","result":{"k":1}})"),
        one("job.cancelled", R"({"cancelled_by":"ops","reason":"r"})"),
        Batch(
            {Event(NewId(), job, "file.skipped", R"({"uri":"s3://b/f1"})"),
             Event(NewId(), job, "file.skipped", R"({"uri":"s3://b/f2"})"),
             Event(NewId(), job, "file.skipped", R"({"uri":"s3://b/f3"})"),
             Event(NewId(), job, "file.completed", R"({"uri":"s3://b/f0"})"),
             Event(
                 NewId(), job, "job.completed",
                 R"({"result":{"warnings":["w"]},"billing":{"cost":{"amount":1.5,"currency":"USD"},)"
                 R"("rate":{"per_credit":0.01,"currency":"USD"},"credits":{"remaining":10}}})")}),
        Batch({Event(
            NewId(), "m-new", "job.created",
            R"({"collection_name":"m","job_type":"index_gcs",)"
            R"("pipeline_mode":"staged","files_expected":3,"metadata":{"a":[1]}})")}),
    };
  }
};

// Values of every JSON type, in range and out of it.
std::vector<json::value> Weird() {
  json::value deep = 1;
  for (int i = 0; i < 40; ++i) deep = json::object{{"a", deep}};
  const json::array all{nullptr,
                        true,
                        false,
                        0,
                        -1,
                        1.5,
                        1e308,
                        -1e308,
                        uint64_t(1) << 63,
                        INT64_MIN,
                        "",
                        std::string(3000, 'x'),
                        std::string("nul\0in", 6),
                        "\xF0\x9F\x92\xA5",
                        json::array{},
                        json::object{},
                        json::array{1, "a"},
                        deep,
                        "0000-01-01T00:00:00Z",
                        "2026-13-45T99:99:99Z",
                        "9999-12-31T23:59:59.999Z",
                        "2026-11-29T04:10:00.123+14:00",
                        "scanning",
                        "queued",
                        "NaN"};
  return {all.begin(), all.end()};
}

// Every value's location in `v`: a parent container and a key or index.
struct Spot {
  json::value* parent;
  std::string key;  // when the parent is an object
  size_t index;     // when it is an array
};
void Spots(json::value& v, std::vector<Spot>& out) {
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) {
      out.push_back({&v, std::string(kv.key()), 0});
      Spots(kv.value(), out);
    }
  } else if (auto* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      out.push_back({&v, "", i});
      Spots((*a)[i], out);
    }
  }
}

// One to three changes to the batch's JSON tree.
std::string MutateTree(const std::string& batch, std::mt19937_64& rng) {
  json::value v = json::parse(batch);
  const auto weird = Weird();
  const int changes = 1 + int(rng() % 3);
  for (int c = 0; c < changes; ++c) {
    std::vector<Spot> spots;
    Spots(v, spots);
    if (spots.empty()) break;
    Spot s = spots[rng() % spots.size()];
    json::value& target = s.parent->is_object() ? s.parent->as_object()[s.key]
                                                : s.parent->as_array()[s.index];
    switch (rng() % 4) {
      case 0:
      case 1:
        target = weird[rng() % weird.size()];
        break;
      case 2:  // drop it
        if (s.parent->is_object()) {
          s.parent->as_object().erase(s.key);
        } else {
          auto& a = s.parent->as_array();
          a.erase(a.begin() + std::ptrdiff_t(s.index));
        }
        break;
      case 3:  // a member beside it, or the element twice
        if (s.parent->is_object()) {
          static const char* names[] = {"extra", "data", "type", "uri", "__proto__", ""};
          s.parent->as_object()[names[rng() % 6]] = weird[rng() % weird.size()];
        } else {
          s.parent->as_array().push_back(json::value(target));
        }
        break;
    }
  }
  return json::serialize(v);
}

// One to four changes to the bytes.
std::string MutateBytes(std::string b, std::mt19937_64& rng) {
  static const char kInserts[] =
      "{}[],:\"\\ \x00\xff\xc3"
      "0123456789eE.-+tfn";
  static const std::string inserts(kInserts, sizeof kInserts - 1);
  const int changes = 1 + int(rng() % 4);
  for (int c = 0; c < changes && !b.empty(); ++c) {
    const size_t i = rng() % b.size();
    switch (rng() % 5) {
      case 0:
        b[i] = char(rng() % 256);
        break;
      case 1:
        b.erase(i, 1 + rng() % 8);
        break;
      case 2:
        b.insert(b.begin() + std::ptrdiff_t(i), inserts[rng() % inserts.size()]);
        break;
      case 3:
        b.resize(i);
        break;
      case 4:
        b.insert(i, b.substr(i, 1 + rng() % 40));
        break;
    }
  }
  return b;
}

// The batch's events, one JSON text a line.
std::string Ndjson(const std::string& batch) {
  std::string out;
  const json::value parsed = json::parse(batch);
  for (const json::value& e : parsed.at("events").as_array()) {
    out += json::serialize(e) + "\n";
  }
  return out;
}

// JOBSTATE_MUTATION_SEED and JOBSTATE_MUTATION_ROUNDS run other and longer series.
uint64_t FromEnv(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoull(v) : fallback;
}

TEST_F(MutationTest, MutatedBatchesAreAnsweredAndRejectedOnesChangeNothing) {
  const uint64_t seed = FromEnv("JOBSTATE_MUTATION_SEED", 20261130);
  const int rounds = int(FromEnv("JOBSTATE_MUTATION_ROUNDS", 150));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int accepted = 0, rejected = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string job = "m-" + std::to_string(round);
    MakeJob(job);
    for (const std::string& valid : Valid(job)) {
      std::string body, type = "application/json";
      switch (rng() % 4) {
        case 0:
        case 1:
          body = MutateTree(valid, rng);
          break;
        case 2:
          body = MutateBytes(valid, rng);
          break;
        case 3:
          type = "application/x-ndjson";
          body = MutateBytes(Ndjson(valid), rng);
          break;
      }
      SCOPED_TRACE(type + " " + body.substr(0, 2000));
      const std::string before = Fingerprint({job, "m-new"});
      const Reply r =
          client_->Send(http::verb::post, "/v2/events", Keys::kAll, body, type);
      ASSERT_TRUE(r.status == 200 || (r.status >= 400 && r.status < 500))
          << r.status << " " << r.body;
      if (r.status == 200) {
        ++accepted;
        continue;
      }
      ++rejected;
      EXPECT_EQ(r.header("content-type"), "application/problem+json");
      boost::system::error_code ec;
      const json::value problem = json::parse(r.body, ec);
      ASSERT_FALSE(ec) << r.body;
      EXPECT_TRUE(problem.at("code").is_string());
      EXPECT_TRUE(problem.at("detail").is_string());
      EXPECT_EQ(problem.at("status").as_int64(), r.status);
      EXPECT_EQ(Fingerprint({job, "m-new"}), before)
          << "a rejected batch changed the store";
    }
  }
  // Most mutations are caught, and some stay valid (a name, a message, a member of
  // `data` the fold ignores), so both paths ran.
  EXPECT_GT(rejected, rounds * 10);
  EXPECT_GT(accepted, rounds / 10);
  // And the server goes on serving.
  EXPECT_EQ(client_->Get("/v2/jobs/m-0", Keys::kAll).status, 200);
}

}  // namespace
}  // namespace jobstate::testing
