#include "engine/validate.h"

#include <cctype>
#include <cstring>

#include <gtest/gtest.h>

#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {
namespace {

using engine::Event;

void ExpectInvalid(Event e, const std::string& pointer) {
  Status s = engine::ValidateEvent(e);
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, "invalid_event")) << pointer;
  EXPECT_EQ(s.details().pointer, pointer);
}

TEST(ValidateTest, AcceptsAWellFormedEventAndLowerCasesItsId) {
  JobScenario job("job-1");
  Event e = job.Created();
  e.event_id = "0A35805D-3BDA-5458-83A0-0A55145248C0";
  ASSERT_THAT(engine::ValidateEvent(e), IsOk());
  EXPECT_EQ(e.event_id, "0a35805d-3bda-5458-83a0-0a55145248c0");
}

TEST(ValidateTest, NamesTheOffendingEnvelopeField) {
  JobScenario job("job-1");
  Event e = job.Started();
  e.event_id = "not-a-uuid";
  ExpectInvalid(e, "/event_id");
  e = job.Started();
  e.job_id = "has space";
  ExpectInvalid(e, "/job_id");
  e.job_id = std::string(129, 'a');
  ExpectInvalid(e, "/job_id");
  e = job.Started();
  e.worker_id = "";
  ExpectInvalid(e, "/worker_id");
  e.worker_id = "tab\there";
  ExpectInvalid(e, "/worker_id");
}

TEST(ValidateTest, NamesTheOffendingPayloadField) {
  JobScenario job("job-1");
  Event e = job.Discovered({"s3://b/a", "s3://b/b"});
  std::get<engine::FilesDiscovered>(e.data).files[1].size_bytes = -1;
  ExpectInvalid(e, "/data/files/1/size_bytes");

  e = job.Discovered({"s3://b/a"});
  std::get<engine::FilesDiscovered>(e.data).files[0].uri = std::string(2049, 'u');
  ExpectInvalid(e, "/data/files/0/uri");

  e = job.Make(engine::FilesDiscovered{});
  ExpectInvalid(e, "/data/files");

  e = job.Progress(std::string(1025, 'm'));
  ExpectInvalid(e, "/data/message");

  e = job.Make(engine::FileFailed{"s3://b/a", "", "msg", {}, {}});
  ExpectInvalid(e, "/data/error_code");

  e = job.Make(engine::JobWorkers{-1, {}});
  ExpectInvalid(e, "/data/count");

  engine::Billing billing;
  billing.cost = {1.5, "USD"};
  billing.rate_per_credit = 0.01;
  billing.rate_currency = "USD";
  billing.pages_processed = -3;
  e = job.Make(engine::JobCompleted{std::nullopt, billing});
  ExpectInvalid(e, "/data/billing/pages_processed");

  e = job.Make(engine::FileCompleted{"s3://b/a", -1, {}, {}});
  ExpectInvalid(e, "/data/chunks");
}

TEST(ValidateTest, JobIdAlphabet) {
  EXPECT_TRUE(engine::IsJobId("a-Z_0.9:x"));
  EXPECT_FALSE(engine::IsJobId(""));
  EXPECT_FALSE(engine::IsJobId("a/b"));
  EXPECT_FALSE(engine::IsJobId("é"));
}

// The id checks classify bytes themselves; the C library's classes in the "C" locale
// are the reference, over every byte value.
TEST(ValidateTest, IdAlphabetsAgreeWithTheCLocaleOnEveryByte) {
  const std::string uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool punctuation = b != 0 && std::strchr("_-.:", b) != nullptr;
    EXPECT_EQ(engine::IsJobId(std::string(1, c)), std::isalnum(b) != 0 || punctuation)
        << "byte " << b;
    std::string id = uuid;
    id[0] = c;
    id[35] = c;
    EXPECT_EQ(engine::IsUuid(id), std::isxdigit(b) != 0) << "byte " << b;
  }
}

}  // namespace
}  // namespace jobstate::testing
