// Live reads over loopback: the organisation feed (paging, long-poll wake-up, resuming
// across a restart), waiting reads, conditional reads, and the watch stream.
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "api/json_events.h"
#include "api/json_write.h"
#include "api/time_format.h"
#include "tests/api/server_fixture.h"
#include "tests/api/sse_client.h"
#include "tests/support/random_job.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class LiveTest : public ServerTest {
 protected:
  void MakeJob(const std::string& job, int files, const std::string& key = Keys::kAll) {
    std::string list;
    for (int i = 0; i < files; ++i) {
      list += std::string(i ? "," : "") + "{\"uri\":\"" + Uri(job, i) + "\"}";
    }
    Append(Batch({Event(NewId(), job, "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
                  Event(NewId(), job, "job.started"),
                  Event(NewId(), job, "files.discovered", "{\"files\":[" + list + "]}")}),
           key);
  }
  static std::string Uri(const std::string& job, int i) {
    return "s3://b/" + job + "/" + std::to_string(i);
  }
  std::string Progress(const std::string& job, const std::string& message = "tick") {
    return Batch({Event(NewId(), job, "job.progress", "{\"message\":\"" + message + "\"}")});
  }
  int64_t VersionOf(const std::string& job) {
    return client_->Get("/v2/jobs/" + job, Keys::kAll).json().at("version").as_int64();
  }
};

// --- the feed ------------------------------------------------------------------------

TEST_F(LiveTest, FeedResumesAcrossARestartWithNothingLostOrTwice) {
  MakeJob("job-a", 2);
  MakeJob("job-x", 1, Keys::kOther);  // another organisation: never in acme's feed
  MakeJob("job-b", 1);
  std::vector<int64_t> seen;
  std::set<std::string> ids;
  int64_t from = 0;
  auto drain = [&] {
    for (;;) {
      Reply r = client_->Get("/v2/events?limit=2&from_position=" + std::to_string(from), Keys::kAll);
      ASSERT_EQ(r.status, 200) << r.body;
      json::value body = r.json();
      for (const auto& e : body.at("events").as_array()) {
        seen.push_back(e.at("position").as_int64());
        ids.insert(std::string(e.at("event_id").as_string()));
        EXPECT_NE(e.at("job_id"), "job-x");
      }
      const int64_t next = body.at("next_from_position").as_int64();
      if (!body.at("events").as_array().empty()) {
        EXPECT_EQ(next, seen.back());  // the last position returned
      } else {
        EXPECT_EQ(next, from);
      }
      from = next;
      if (!body.at("has_more").as_bool()) break;
    }
  };
  drain();
  ASSERT_EQ(seen.size(), 6u);
  StopServer();
  StartServer();
  Append(Progress("job-a"));
  Append(Progress("job-b"));
  MakeJob("job-y", 1, Keys::kOther);
  Append(Progress("job-a", "after the restart"));
  drain();
  ASSERT_EQ(seen.size(), 9u);
  EXPECT_EQ(ids.size(), 9u);  // nothing twice
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
  // Every acme event in the job streams is in the feed (nothing lost).
  size_t in_streams = 0;
  for (const char* job : {"job-a", "job-b"}) {
    in_streams += client_->Get(std::string("/v2/jobs/") + job + "/events", Keys::kAll)
                      .json().at("events").as_array().size();
  }
  EXPECT_EQ(in_streams, seen.size());
}

TEST_F(LiveTest, FeedLongPollIsWokenByACommitFromAnotherClient) {
  MakeJob("job-a", 1);
  const int64_t last = 3;
  auto waiting = std::async(std::launch::async, [&] {
    HttpClient other(port());
    const auto start = Clock::now();
    Reply r = other.Get("/v2/events?wait_ms=20000&from_position=" + std::to_string(last), Keys::kAll);
    return std::make_pair(r, Clock::now() - start);
  });
  std::this_thread::sleep_for(milliseconds(300));  // the request is waiting by now
  Append(Progress("job-a", "wake up"));
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the long-poll was not woken by the commit";
  auto [r, took] = waiting.get();
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = r.json();
  ASSERT_EQ(body.at("events").as_array().size(), 1u);
  EXPECT_EQ(body.at("events").at(0).at("data").at("message"), "wake up");
  EXPECT_EQ(body.at("next_from_position").as_int64(), 4);
  EXPECT_LT(took, std::chrono::seconds(10));  // answered by the commit, not the 20 s timeout
}

TEST_F(LiveTest, FeedLongPollTimesOutEmptyAndIgnoresOtherOrganisations) {
  MakeJob("job-a", 1);
  auto waiting = std::async(std::launch::async, [&] {
    HttpClient other(port());
    const auto start = Clock::now();
    Reply r = other.Get("/v2/events?wait_ms=700&from_position=3", Keys::kAll);
    return std::make_pair(r, Clock::now() - start);
  });
  std::this_thread::sleep_for(milliseconds(200));
  MakeJob("job-x", 1, Keys::kOther);  // globex's commit must not answer acme's poll
  auto [r, took] = waiting.get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("events").as_array().size(), 0u);
  EXPECT_EQ(r.json().at("next_from_position").as_int64(), 3);
  EXPECT_GE(took, milliseconds(650));
  // The feed needs history:read.
  EXPECT_EQ(client_->Get("/v2/events", Keys::kReader).status, 403);
}

// --- conditional and waiting reads ---------------------------------------------------

TEST_F(LiveTest, IfNoneMatchWithTheCurrentVersionIsNotModified) {
  MakeJob("job-a", 1);
  Reply first = client_->Get("/v2/jobs/job-a", Keys::kAll);
  EXPECT_EQ(first.header("etag"), "\"3\"");
  Reply same = client_->Send(http::verb::get, "/v2/jobs/job-a", Keys::kAll, "", "",
                             {{"If-None-Match", "\"3\""}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  Append(Progress("job-a"));
  Reply changed = client_->Send(http::verb::get, "/v2/jobs/job-a", Keys::kAll, "", "",
                                {{"If-None-Match", "\"3\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.header("etag"), "\"4\"");
}

TEST_F(LiveTest, WaitForVersionAnswersOnTheNextChange) {
  MakeJob("job-a", 1);
  auto waiting = std::async(std::launch::async, [&] {
    HttpClient other(port());
    return other.Get("/v2/jobs/job-a?wait_for_version=3&timeout_ms=20000", Keys::kAll);
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(waiting.wait_for(milliseconds(0)), std::future_status::timeout) << "answered early";
  Append(Progress("job-a"));
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Reply r = waiting.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("version").as_int64(), 4);
  // Already beyond: at once.
  const auto start = Clock::now();
  EXPECT_EQ(client_->Get("/v2/jobs/job-a?wait_for_version=1&timeout_ms=20000", Keys::kAll)
                .json().at("version").as_int64(), 4);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(LiveTest, WaitForVersionAnswersTheUnchangedStatusAtTheTimeout) {
  MakeJob("job-a", 1);
  const auto start = Clock::now();
  Reply r = client_->Get("/v2/jobs/job-a?wait_for_version=3&timeout_ms=400", Keys::kAll);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("version").as_int64(), 3);
  EXPECT_GE(took, milliseconds(390));
  EXPECT_EQ(client_->Get("/v2/jobs/nope?wait_for_version=1&timeout_ms=400", Keys::kAll).status, 404);
}

// --- watch -----------------------------------------------------------------------------

TEST_F(LiveTest, WatchSendsTheStatusAtOnceThenCoalescedChangesThenClosesAfterFinal) {
  MakeJob("job-a", 1);
  SseClient watch(port(), "/v2/jobs/job-a/watch", Keys::kAll);
  ASSERT_EQ(watch.status, 200);
  EXPECT_EQ(watch.content_type, "text/event-stream");
  ASSERT_TRUE(watch.ReadUntil([](const auto& ev) { return !ev.empty(); }, milliseconds(5000)));
  EXPECT_EQ(watch.events[0].event, "status");
  EXPECT_EQ(watch.events[0].id, "3");
  json::value first = json::parse(watch.events[0].data);
  EXPECT_EQ(first.at("job_id"), "job-a");
  EXPECT_EQ(first.at("version").as_int64(), 3);
  EXPECT_FALSE(first.as_object().contains("files"));
  EXPECT_FALSE(first.as_object().contains("files_page"));

  // Twenty changes in quick succession arrive as a few coalesced statuses.
  const auto burst = Clock::now();
  for (int i = 0; i < 20; ++i) Append(Progress("job-a", "p" + std::to_string(i)));
  const auto burst_took = Clock::now() - burst;
  ASSERT_TRUE(watch.ReadUntil([](const auto& ev) { return !ev.empty() && ev.back().id == "23"; },
                              milliseconds(5000)));
  const size_t statuses = watch.count_status();
  const auto allowed = 2 + burst_took / milliseconds(250) + 1;
  EXPECT_LE(statuses, static_cast<size_t>(allowed)) << "changes were not coalesced";
  EXPECT_LT(statuses, 21u);
  for (size_t i = 1; i < watch.events.size(); ++i) {
    EXPECT_LT(std::stoll(watch.events[i - 1].id), std::stoll(watch.events[i].id));
    // 250 ms apart at the server; loopback adds far less than 50 ms of jitter.
    EXPECT_GE(watch.events[i].received - watch.events[i - 1].received, milliseconds(200));
  }

  // The final status is sent, then the stream ends.
  Append(Batch({Event(NewId(), "job-a", "file.completed", "{\"uri\":\"" + Uri("job-a", 0) + "\"}"),
                Event(NewId(), "job-a", "job.completed")}));
  ASSERT_TRUE(watch.ReadToEnd(milliseconds(5000))) << "the stream did not close after final";
  EXPECT_EQ(watch.events.back().id, "25");
  EXPECT_EQ(json::parse(watch.events.back().data).at("status"), "completed");
}

TEST_F(LiveTest, WatchResumesFromLastEventId) {
  MakeJob("job-a", 1);
  // The client has version 3 already: nothing until the next change, made 500 ms later.
  SseClient watch(port(), "/v2/jobs/job-a/watch", Keys::kAll, {{"Last-Event-ID", "3"}});
  ASSERT_EQ(watch.status, 200);
  const auto start = Clock::now();
  auto change = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(milliseconds(500));
    HttpClient other(port());
    return other.Post("/v2/events", Keys::kAll, Progress("job-a")).status;
  });
  ASSERT_TRUE(watch.ReadUntil([](const auto& ev) { return !ev.empty(); }, milliseconds(5000)));
  EXPECT_EQ(change.get(), 200);
  EXPECT_EQ(watch.events[0].id, "4");
  EXPECT_GE(watch.events[0].received - start, milliseconds(450)) << "sent before the change";
  // An older id gets the current status at once.
  SseClient behind(port(), "/v2/jobs/job-a/watch", Keys::kAll, {{"Last-Event-ID", "2"}});
  ASSERT_TRUE(behind.ReadUntil([](const auto& ev) { return !ev.empty(); }, milliseconds(5000)));
  EXPECT_EQ(behind.events[0].id, "4");
  // A final job whose last version the client has: the stream closes at once, empty.
  Append(Batch({Event(NewId(), "job-a", "job.cancelled")}));
  const int64_t final_version = VersionOf("job-a");
  SseClient done(port(), "/v2/jobs/job-a/watch", Keys::kAll,
                 {{"Last-Event-ID", std::to_string(final_version)}});
  ASSERT_TRUE(done.ReadToEnd(milliseconds(5000)));
  EXPECT_TRUE(done.events.empty());
}

class WatchKeepAliveTest : public LiveTest {
 protected:
  void SetUp() override {
    service_options_.watch_keep_alive = milliseconds(300);
    LiveTest::SetUp();
  }
};

TEST_F(WatchKeepAliveTest, AnIdleStreamGetsCommentLines) {
  MakeJob("job-a", 1);
  SseClient watch(port(), "/v2/jobs/job-a/watch", Keys::kAll);
  ASSERT_TRUE(watch.ReadUntil(
      [](const auto& ev) {
        int comments = 0;
        for (const auto& e : ev) comments += e.comment;
        return comments >= 2;
      },
      milliseconds(5000)));
  EXPECT_EQ(watch.count_status(), 1u);
  EXPECT_FALSE(watch.ended());
}

TEST_F(LiveTest, AShutdownEndsWatchStreamsAndWaitingReads) {
  MakeJob("job-a", 1);
  SseClient watch(port(), "/v2/jobs/job-a/watch", Keys::kAll);
  ASSERT_TRUE(watch.ReadUntil([](const auto& ev) { return !ev.empty(); }, milliseconds(5000)));
  auto waiting = std::async(std::launch::async, [&] {
    HttpClient other(port());
    return other.Get("/v2/jobs/job-a?wait_for_version=3&timeout_ms=60000", Keys::kAll);
  });
  std::this_thread::sleep_for(milliseconds(300));
  const auto start = Clock::now();
  StopServer();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(waiting.get().status, 200);  // answered with the current status, not cut off
  EXPECT_TRUE(watch.ReadToEnd(milliseconds(2000)));
}

// --- time travel ---------------------------------------------------------------------

class TimeTravelHttpTest : public LiveTest {
 protected:
  void SetUp() override {
    store_options_.sequencer.group.checkpoint_interval = 8;  // many checkpoints
    LiveTest::SetUp();
  }
  // The event as a client sends it.
  static std::string AsSent(const engine::Event& e) {
    std::string text;
    api::JsonWriter w(text);
    api::WriteRecordedEvent(w, engine::RecordedEvent{e, 0, 0, 0});
    json::object o = json::parse(text).as_object();
    o.erase("version");
    o.erase("position");
    o.erase("recorded_at");
    return json::serialize(o);
  }
};

// Time-dependent members (API.md: elapsed_seconds, the ETA fields, stalled) differ
// between a read right after an append, at its own instant, and a read evaluated at the
// event's recorded_at, by what the few milliseconds in between change: they are
// compared within that, everything else exactly.
void ExpectSameStatus(json::object live, json::object past, const std::string& where) {
  auto number = [](const json::object& o, const char* key) -> std::optional<double> {
    const json::value& v = o.at(key);
    return v.is_null() ? std::nullopt : std::optional<double>(v.to_number<double>());
  };
  auto instant = [](const json::object& o, const char* key) -> std::optional<double> {
    const json::value& v = o.at(key);
    if (v.is_null()) return std::nullopt;
    return static_cast<double>(*api::ParseInstant(v.as_string()));
  };
  const json::object& lp = live["progress"].as_object();
  const json::object& pp = past["progress"].as_object();
  struct Tolerance {
    std::optional<double> a, b;
    double within;
    const char* name;
  };
  for (const Tolerance& t :
       {Tolerance{number(lp, "elapsed_seconds"), number(pp, "elapsed_seconds"), 1, "elapsed_seconds"},
        Tolerance{number(live, "estimated_time_remaining_seconds"),
                  number(past, "estimated_time_remaining_seconds"), 1, "estimated_time_remaining_seconds"},
        Tolerance{instant(lp, "estimated_completion_at"), instant(pp, "estimated_completion_at"), 1500,
                  "estimated_completion_at"},
        // The interval is scaled from the estimate: a few ms can round it a second apart.
        Tolerance{number(lp, "eta_low_seconds"), number(pp, "eta_low_seconds"), 1, "eta_low_seconds"},
        Tolerance{number(lp, "eta_high_seconds"), number(pp, "eta_high_seconds"), 1,
                  "eta_high_seconds"}}) {
    EXPECT_EQ(t.a.has_value(), t.b.has_value()) << where << ": " << t.name;
    if (t.a && t.b) {
      EXPECT_LE(std::abs(*t.a - *t.b), t.within) << where << ": " << t.name;
    }
  }
  // files_per_second divides by the elapsed time: a few ms apart, within 5%.
  const auto lr = number(lp, "files_per_second"), pr = number(pp, "files_per_second");
  EXPECT_EQ(lr.has_value(), pr.has_value()) << where;
  if (lr && pr) {
    EXPECT_LE(std::abs(*lr - *pr), 0.05 * *pr + 0.01) << where;
  }
  for (json::object* o : {&live, &past}) {
    o->erase("estimated_time_remaining_seconds");
    for (const char* key : {"elapsed_seconds", "estimated_completion_at", "files_per_second",
                            "eta_low_seconds", "eta_high_seconds"}) {
      (*o)["progress"].as_object().erase(key);
    }
  }
  EXPECT_EQ(live, past) << where << "\nlive: " << json::serialize(live)
                        << "\npast: " << json::serialize(past);
}

TEST_F(TimeTravelHttpTest, AsOfVersionEqualsTheStatusSeenRightAfterThatAppend) {
  const engine::Millis start = engine::SystemClock().NowMillis() - 86'400'000;
  std::mt19937_64 rng(77);
  std::vector<RandomJob> jobs;
  for (int i = 0; i < 3; ++i) jobs.emplace_back("tt-" + std::to_string(i), 900 + i, start);
  std::map<std::pair<std::string, int64_t>, json::object> seen;
  std::map<std::pair<std::string, int64_t>, std::string> recorded;
  std::vector<size_t> live = {0, 1, 2};
  while (!live.empty()) {
    const size_t k = std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
    auto next = jobs[live[k]].Next();
    if (!next) {
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
      continue;
    }
    const std::string id = jobs[live[k]].job_id();
    json::value ack = Append(Batch({AsSent(*next)}));
    ASSERT_TRUE(ack.is_object());
    const int64_t version = ack.at("results").at(0).at("version").as_int64();
    Reply r = client_->Get("/v2/jobs/" + id + "?files_limit=500", Keys::kAll);
    ASSERT_EQ(r.status, 200);
    seen[{id, version}] = r.json().as_object();
    recorded[{id, version}] = std::string(ack.at("results").at(0).at("recorded_at").as_string());
  }
  ASSERT_GT(seen.size(), 100u);
  for (const auto& [key, live_status] : seen) {
    const auto& [id, version] = key;
    const std::string where = id + " @" + std::to_string(version);
    Reply r = client_->Get("/v2/jobs/" + id + "?files_limit=500&as_of_version=" +
                               std::to_string(version), Keys::kAll);
    ASSERT_EQ(r.status, 200) << where << r.body;
    EXPECT_EQ(r.header("etag"), "\"" + std::to_string(version) + "\"");
    ExpectSameStatus(live_status, r.json().as_object(), where);
  }
  // as_of at an event's recorded_at answers that version (or a later one recorded in
  // the same millisecond).
  for (const auto& [key, at] : recorded) {
    Reply r = client_->Get("/v2/jobs/" + key.first + "?as_of=" + at, Keys::kAll);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_GE(r.json().at("version").as_int64(), key.second);
  }
  // Time travel needs history:read as well.
  EXPECT_EQ(client_->Get("/v2/jobs/tt-0?as_of_version=1", Keys::kReader).status, 403);
}

TEST_F(TimeTravelHttpTest, AsOfAnInstantEvaluatesTimeFieldsThen) {
  MakeJob("job-a", 1);
  json::value ack = Append(Progress("job-a"));
  const std::string at = std::string(ack.at("results").at(0).at("recorded_at").as_string());
  const auto when = *api::ParseInstant(at);
  Reply r = client_->Get("/v2/jobs/job-a?as_of=" + api::FormatInstant(when + 90'000), Keys::kAll);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("version").as_int64(), 4);
  // 90 s after the last event: elapsed counts them.
  EXPECT_GE(r.json().at("progress").at("elapsed_seconds").as_int64(), 90);
  EXPECT_FALSE(r.json().at("progress").at("stalled").as_bool());
  Reply later = client_->Get("/v2/jobs/job-a?as_of=" + api::FormatInstant(when + 600'000), Keys::kAll);
  EXPECT_TRUE(later.json().at("progress").at("stalled").as_bool());  // 10 min of silence
}

// The ETA's prior through the HTTP routes: a job that has finished no file gets an
// estimate once a job of its kind has completed; a time-travel read before that
// completion does not; another organisation learns nothing from it.
TEST_F(TimeTravelHttpTest, AJobWithoutFinishedFilesGetsAnEstimateFromItsKindsHistory) {
  MakeJob("early", 2);
  const json::value early_ack = Append(Progress("early"));
  const std::string early_at = std::string(early_ack.at("results").at(0).at("recorded_at").as_string());
  auto eta = [&](const std::string& target, const std::string& key = Keys::kAll) {
    Reply r = client_->Get(target, key);
    EXPECT_EQ(r.status, 200) << target << r.body;
    return r.json().at("estimated_time_remaining_seconds");
  };
  EXPECT_TRUE(eta("/v2/jobs/early").is_null());  // no evidence, no history

  std::this_thread::sleep_for(milliseconds(5));  // the lesson lands in a later millisecond
  MakeJob("teacher", 2);
  std::vector<std::string> work;
  for (int i = 0; i < 2; ++i) {
    work.push_back(Event(NewId(), "teacher", "file.started", "{\"uri\":\"" + Uri("teacher", i) + "\"}"));
  }
  for (int i = 0; i < 2; ++i) {
    work.push_back(Event(NewId(), "teacher", "file.completed", "{\"uri\":\"" + Uri("teacher", i) + "\"}"));
  }
  work.push_back(Event(NewId(), "teacher", "job.completed"));
  Append(Batch(work));

  MakeJob("learner", 3);
  EXPECT_FALSE(eta("/v2/jobs/learner").is_null());
  EXPECT_FALSE(eta("/v2/jobs/early").is_null());  // live: the history as it stands
  EXPECT_TRUE(eta("/v2/jobs/early?as_of=" + early_at).is_null());  // as it stood then
  MakeJob("stranger", 3, Keys::kOther);
  EXPECT_TRUE(eta("/v2/jobs/stranger", Keys::kOther).is_null());
}

// A running job's body kept for the reads of one millisecond does not outlive a change
// of the prior its estimate reads: another job of its kind completing in that very
// millisecond gives the next read an estimate.
TEST_F(TimeTravelHttpTest, AReadInTheMillisecondAnotherJobTeachesSeesTheLesson) {
  MakeJob("early", 2);
  Append(Progress("early"));
  MakeJob("teacher", 2);
  std::vector<std::string> work;
  const auto file = [&](int i) { return "{\"uri\":\"" + Uri("teacher", i) + "\"}"; };
  for (const char* type : {"file.started", "file.completed"}) {
    for (int i = 0; i < 2; ++i) work.push_back(Event(NewId(), "teacher", type, file(i)));
  }
  work.push_back(Event(NewId(), "teacher", "job.completed"));

  std::this_thread::sleep_for(milliseconds(5));  // the teacher ran for a while
  clock().Hold(clock().NowMillis());
  auto early = [&] {
    Reply r = client_->Get("/v2/jobs/early", Keys::kAll);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("estimated_time_remaining_seconds");
  };
  const uint64_t hits = status_cache().stats().hits;
  EXPECT_TRUE(early().is_null());  // no evidence, no history
  EXPECT_TRUE(early().is_null());
  EXPECT_TRUE(early().is_null());
  EXPECT_EQ(status_cache().stats().hits, hits + 1);  // the third read: the second's body

  Append(Batch(work));  // in the same millisecond
  EXPECT_FALSE(early().is_null());
  clock().Release();
}

}  // namespace
}  // namespace jobstate::testing
