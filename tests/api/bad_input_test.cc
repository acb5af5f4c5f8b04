// A catalogue of bad inputs, each answered with the right 4xx problem+json while the
// stored state stays byte-identical.
#include "tests/api/server_fixture.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

struct BadCase {
  std::string name;
  std::string body;  // POSTed to /v2/events as JSON unless `raw` is set
  int status;
  std::string code;
  std::string pointer = "";  // expected JSON pointer, when there is one
  std::string raw = "";      // bytes sent as they are on a fresh connection
  std::string content_type = "application/json";
};

class BadInputTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Append(Batch({Event(NewId(), "job-1", "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
                  Event(NewId(), "job-1", "job.started"),
                  Event(NewId(), "job-1", "files.discovered", R"({"files":[{"uri":"s3://b/a"},{"uri":"s3://b/b"}]})"),
                  Event(conflict_id_, "job-1", "file.started", R"({"uri":"s3://b/a"})")}));
  }
  const std::string conflict_id_ = NewId();
};

std::string Ev(const std::string& type, const std::string& data, const std::string& extra = "",
               const std::string& job = "job-1") {
  return ServerTest::Event(ServerTest::NewId(), job, type, data, extra);
}
std::string One(const std::string& event) { return ServerTest::Batch({event}); }
std::string Raw(const std::string& head, const std::string& body = "") {
  return head + "Host: x\r\nAuthorization: Bearer " + Keys::kAll + "\r\nConnection: close\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::vector<BadCase> Catalogue(const std::string& conflict_id) {
  const std::string good = Ev("job.progress", R"({"message":"ok"})");
  std::string thousand_and_one = "{\"files\":[";
  for (int i = 0; i < 1001; ++i) thousand_and_one += (i ? "," : "") + std::string("{\"uri\":\"u") + std::to_string(i) + "\"}";
  thousand_and_one += "]}";
  std::string deep = "1";
  for (int i = 0; i < 100; ++i) deep = "{\"a\":" + deep + "}";
  std::string many = "{\"events\":[";
  for (int i = 0; i < 10001; ++i) many += (i ? "," : "") + good;
  many += "]}";
  const std::string now_plus_hour = "2999-01-01T00:00:00.000Z";
  return {
      {"truncated_json", "{\"events\": [", 400, "invalid_json"},
      {"not_json", "hello", 400, "invalid_json"},
      {"array_body", "[]", 400, "invalid_event"},
      {"events_not_array", R"({"events": {}})", 400, "invalid_event", "/events"},
      {"no_events", R"({"events": []})", 400, "invalid_event", "/events"},
      {"event_not_object", R"({"events": [1]})", 400, "invalid_event", "/events/0"},
      {"unknown_body_field", R"({"events": [], "extra": 1})", 400, "unknown_field",
       "/extra"},
      {"missing_event_id",
       One(R"({"job_id":"job-1","type":"job.started","occurred_at":"2026-01-01T00:00:00Z"})"),
       400, "invalid_event", "/events/0/event_id"},
      {"bad_event_id",
       One(R"({"event_id":"nope","job_id":"job-1","type":"job.started","occurred_at":"2026-01-01T00:00:00Z"})"),
       400, "invalid_event", "/events/0/event_id"},
      {"bad_job_id", One(Ev("job.progress", R"({"message":"x"})", "", "job/1")), 400,
       "invalid_event", "/events/0/job_id"},
      {"long_job_id",
       One(Ev("job.progress", R"({"message":"x"})", "", std::string(129, 'j'))), 400,
       "invalid_event", "/events/0/job_id"},
      {"unknown_type", One(Ev("job.exploded", "")), 400, "invalid_event",
       "/events/0/type"},
      {"occurred_at_without_offset",
       One("{\"event_id\":\"" + ServerTest::NewId() +
           R"(","job_id":"job-1","type":"job.started","occurred_at":"2026-01-01T00:00:00"})"),
       400, "invalid_event", "/events/0/occurred_at"},
      {"occurred_at_number",
       One("{\"event_id\":\"" + ServerTest::NewId() +
           R"(","job_id":"job-1","type":"job.started","occurred_at":1700000000})"),
       400, "invalid_event", "/events/0/occurred_at"},
      {"occurred_at_in_future",
       One("{\"event_id\":\"" + ServerTest::NewId() +
           R"(","job_id":"job-1","type":"job.progress","occurred_at":")" + now_plus_hour +
           R"(","data":{"message":"x"}})"),
       400, "occurred_at_in_future", "/events/0/occurred_at"},
      {"unknown_envelope_field",
       One(Ev("job.progress", R"({"message":"x"})", R"(,"priority":1)")), 400,
       "unknown_field", "/events/0/priority"},
      {"data_not_object", One(Ev("job.progress", "[1]")), 400, "invalid_event",
       "/events/0/data"},
      {"created_without_collection",
       One(Ev("job.created", R"({"job_type":"index_s3"})", "", "job-9")), 400,
       "invalid_event", "/events/0/data/collection_name"},
      {"created_bad_job_type",
       One(Ev("job.created", R"({"collection_name":"c","job_type":"index_ftp"})", "",
              "job-9")),
       400, "invalid_event", "/events/0/data/job_type"},
      {"files_expected_negative",
       One(Ev("job.created",
              R"({"collection_name":"c","job_type":"index_s3","files_expected":-1})", "",
              "job-9")),
       400, "invalid_event", "/events/0/data/files_expected"},
      {"no_files", One(Ev("files.discovered", R"({"files":[]})")), 400, "invalid_event",
       "/events/0/data/files"},
      {"too_many_files", One(Ev("files.discovered", thousand_and_one)), 400,
       "invalid_event", "/events/0/data/files"},
      {"size_as_string",
       One(Ev("files.discovered", R"({"files":[{"uri":"s3://b/z","size_bytes":"12"}]})")),
       400, "invalid_event", "/events/0/data/files/0/size_bytes"},
      {"size_negative",
       One(Ev("files.discovered", R"({"files":[{"uri":"s3://b/z","size_bytes":-1}]})")),
       400, "invalid_event", "/events/0/data/files/0/size_bytes"},
      {"size_fractional",
       One(Ev("files.discovered", R"({"files":[{"uri":"s3://b/z","size_bytes":1.5}]})")),
       400, "invalid_event", "/events/0/data/files/0/size_bytes"},
      {"uri_too_long",
       One(Ev("files.discovered",
              "{\"files\":[{\"uri\":\"" + std::string(2049, 'u') + "\"}]}")),
       400, "invalid_event", "/events/0/data/files/0/uri"},
      {"progress_without_stage", One(Ev("file.progress", R"({"uri":"s3://b/a"})")), 400,
       "invalid_event", "/events/0/data/stage"},
      {"unknown_stage", One(Ev("stage.started", R"({"stage":"dreaming"})")), 400,
       "invalid_event", "/events/0/data/stage"},
      {"message_too_long",
       One(Ev("job.progress", "{\"message\":\"" + std::string(1025, 'm') + "\"}")), 400,
       "invalid_event", "/events/0/data/message"},
      {"workers_negative", One(Ev("job.workers", R"({"count":-2})")), 400,
       "invalid_event", "/events/0/data/count"},
      {"billing_without_cost",
       One(Ev(
           "job.completed",
           R"({"billing":{"rate":{"per_credit":1,"currency":"USD"},"credits":{"remaining":1}}})")),
       400, "invalid_event", "/events/0/data/billing/cost"},
      {"expected_version_negative",
       One(Ev("job.progress", R"({"message":"x"})", R"(,"expected_version":-1)")), 400,
       "invalid_event", "/events/0/expected_version"},
      {"expected_version_wrong",
       One(Ev("job.progress", R"({"message":"x"})", R"(,"expected_version":1)")), 409,
       "version_conflict", "/events/0/expected_version"},
      {"empty_worker_id",
       One(Ev("job.progress", R"({"message":"x"})", R"(,"worker_id":"")")), 400,
       "invalid_event", "/events/0/worker_id"},
      {"job_not_found", One(Ev("job.started", "", "", "job-404")), 404, "job_not_found"},
      {"file_not_found", One(Ev("file.started", R"({"uri":"s3://b/zzz"})")), 404,
       "file_not_found"},
      {"invalid_transition", One(Ev("file.started", R"({"uri":"s3://b/a"})")), 409,
       "invalid_transition"},
      {"duplicate_file", One(Ev("files.discovered", R"({"files":[{"uri":"s3://b/a"}]})")),
       409, "duplicate_file", "/events/0/data/files/0"},
      {"event_id_conflict",
       One(ServerTest::Event(conflict_id, "job-1", "file.started",
                             R"({"uri":"s3://b/b"})")),
       409, "event_id_conflict"},
      {"files_unfinished", One(Ev("job.completed", "")), 409, "files_unfinished"},
      {"bad_event_last_in_batch",
       ServerTest::Batch({good, Ev("job.progress", R"({"message":"y"})"),
                          Ev("file.started", R"({"uri":"s3://b/a"})")}),
       409, "invalid_transition"},
      {"invalid_utf8", One(Ev("job.progress", "{\"message\":\"bad \xff\xfe bytes\"}")),
       400, "invalid_json"},
      {"deep_nesting",
       One(Ev("job.created",
              "{\"collection_name\":\"c\",\"job_type\":\"index_s3\",\"metadata\":" +
                  deep + "}",
              "", "job-9")),
       400, "invalid_json"},
      {"too_many_events", many, 400, "too_many_events"},
      {"ndjson_second_line_bad", good + "\n{\"event_id\":", 400, "invalid_json",
       "/events/1", "", "application/x-ndjson"},
      {"text_plain", good, 415, "unsupported_media_type", "", "", "text/plain"},
      {"gzip_coded_body", "", 415, "unsupported_content_encoding", "",
       Raw("POST /v2/events HTTP/1.1\r\nContent-Type: "
           "application/json\r\nContent-Encoding: gzip\r\n",
           good)},
      {"two_authorization_headers", "", 400, "malformed_request", "",
       Raw("POST /v2/events HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: "
           "Bearer " +
               std::string(Keys::kOther) + "\r\n",
           good)},
      {"no_content_type", "", 415, "unsupported_media_type", "",
       Raw("POST /v2/events HTTP/1.1\r\n", good)},
      {"body_over_limit", "", 413, "body_too_large", "",
       "POST /v2/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
       "application/json\r\nContent-Length: 17000000\r\n\r\n"},
      {"headers_over_limit", "", 431, "headers_too_large", "",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') +
           "\r\n\r\n"},
      {"malformed_request_line", "", 400, "malformed_request", "", "GARBAGE\r\n\r\n"},
      {"bad_chunked_body", "", 400, "malformed_request", "",
       "POST /v2/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
       "application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"unknown_route", "", 404, "route_not_found", "",
       Raw("GET /v3/everything HTTP/1.1\r\n")},
      {"wrong_method", "", 405, "method_not_allowed", "",
       Raw("PUT /v2/events HTTP/1.1\r\n")},
      {"limit_not_integer", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1/files?limit=ten HTTP/1.1\r\n")},
      {"files_status_unknown", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?files_status=lost HTTP/1.1\r\n")},
      {"cancel_body_not_json", "", 400, "invalid_json", "",
       Raw("POST /v2/jobs/job-1/cancel HTTP/1.1\r\n", "{")},
      {"cancel_unknown_field", "", 400, "unknown_field", "",
       Raw("POST /v2/jobs/job-1/cancel HTTP/1.1\r\n", R"({"why":1})")},
      {"cancel_reason_not_a_string", "", 400, "invalid_parameter", "/reason",
       Raw("POST /v2/jobs/job-1/cancel HTTP/1.1\r\n", R"({"reason":5})")},
      {"cancel_reason_too_long", "", 400, "invalid_parameter", "/reason",
       Raw("POST /v2/jobs/job-1/cancel HTTP/1.1\r\n",
           "{\"reason\":\"" + std::string(4097, 'a') + "\"}")},
      {"bad_percent_encoding", "", 400, "invalid_target", "",
       Raw("GET /v2/jobs/%zz HTTP/1.1\r\n")},
      {"feed_negative_position", "", 400, "invalid_parameter", "",
       Raw("GET /v2/events?from_position=-1 HTTP/1.1\r\n")},
      {"feed_wait_not_integer", "", 400, "invalid_parameter", "",
       Raw("GET /v2/events?wait_ms=soon HTTP/1.1\r\n")},
      {"as_of_version_negative", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?as_of_version=-1 HTTP/1.1\r\n")},
      {"as_of_version_beyond", "", 400, "version_out_of_range", "",
       Raw("GET /v2/jobs/job-1?as_of_version=99999 HTTP/1.1\r\n")},
      {"as_of_version_zero", "", 404, "job_not_found", "",
       Raw("GET /v2/jobs/job-1?as_of_version=0 HTTP/1.1\r\n")},
      {"as_of_not_an_instant", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?as_of=yesterday HTTP/1.1\r\n")},
      {"as_of_and_as_of_version", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?as_of_version=1&as_of=2026-01-01T00:00:00Z HTTP/1.1\r\n")},
      {"as_of_before_the_job", "", 404, "job_not_found", "",
       Raw("GET /v2/jobs/job-1?as_of=2000-01-01T00:00:00Z HTTP/1.1\r\n")},
      {"wait_for_version_negative", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?wait_for_version=-3 HTTP/1.1\r\n")},
      {"timeout_without_wait", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1?timeout_ms=10 HTTP/1.1\r\n")},
      {"watch_bad_last_event_id", "", 400, "invalid_parameter", "",
       Raw("GET /v2/jobs/job-1/watch HTTP/1.1\r\nLast-Event-ID: soon\r\n")},
      {"watch_unknown_job", "", 404, "job_not_found", "",
       Raw("GET /v2/jobs/job-404/watch HTTP/1.1\r\n")},
  };
}

TEST_F(BadInputTest, EveryBadInputIsAProblemAndChangesNothing) {
  const std::vector<std::string> jobs = {"job-1", "job-9", "job-404"};
  const std::string before = Fingerprint(jobs);
  const auto cases = Catalogue(conflict_id_);
  ASSERT_GE(cases.size(), 40u);
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r;
    if (!c.raw.empty()) {
      auto replies = HttpClient::Raw(port(), c.raw);
      ASSERT_EQ(replies.size(), 1u);
      r = replies[0];
    } else {
      r = client_->Send(http::verb::post, "/v2/events", Keys::kAll, c.body, c.content_type);
    }
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    boost::system::error_code ec;
    json::value body = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << r.body;
    EXPECT_EQ(body.at("code"), json::value(c.code)) << r.body;
    EXPECT_EQ(body.at("status").as_int64(), c.status);
    EXPECT_TRUE(body.as_object().contains("detail"));
    EXPECT_TRUE(body.as_object().contains("request_id"));
    if (!c.pointer.empty()) {
      EXPECT_EQ(body.at("pointer"), json::value(c.pointer)) << r.body;
    }
    if (c.status == 405) {
      EXPECT_EQ(r.header("allow"), "GET, HEAD, POST");
    }
    EXPECT_EQ(Fingerprint(jobs), before) << "stored state changed";
  }
}

TEST_F(BadInputTest, ConflictsCarryTheirSpecifics) {
  Reply r = client_->Post("/v2/events", Keys::kAll,
                          One(Ev("job.progress", R"({"message":"x"})", R"(,"expected_version":2)")));
  EXPECT_EQ(r.json().at("current_version").as_int64(), 4);
  Reply t = client_->Post("/v2/events", Keys::kAll,
                          Batch({Ev("job.progress", R"({"message":"x"})"), Ev("file.started", R"({"uri":"s3://b/a"})")}));
  EXPECT_EQ(t.json().at("event_index").as_int64(), 1);
  EXPECT_EQ(t.json().at("from"), "processing");
  EXPECT_EQ(t.json().at("to"), "processing");
}

TEST_F(BadInputTest, SlowClientIsCutOffWithoutHarm) {
  const std::string before = Fingerprint({"job-1"});
  // Half a request, then silence: the server closes the connection after its read
  // timeout (2 s in these tests) and stores nothing.
  auto start = std::chrono::steady_clock::now();
  auto replies = HttpClient::Raw(port(), "POST /v2/events HTTP/1.1\r\nHost: x\r\nContent-Len",
                                 std::chrono::seconds(10));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(replies.empty());
  EXPECT_LT(waited, std::chrono::seconds(9));
  EXPECT_EQ(Fingerprint({"job-1"}), before);
  EXPECT_EQ(client_->Get("/healthz", "").status, 200);  // and the server is still fine
}

}  // namespace
}  // namespace jobstate::testing
