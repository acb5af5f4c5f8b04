// The codecs' compatibility promises: what earlier builds stored still means the same.
#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <gtest/gtest.h>
#include <xxhash.h>

#include "engine/eta.h"
#include "engine/file_table.h"
#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/internal/keys.h"
#include "tests/support/random_job.h"

namespace jobstate::storage {
namespace {

// The definition the stored dedupe entries were hashed with: the canonical encoding of
// a copy of the event whose expected_version is reset.
uint64_t ContentHashByCopy(const engine::Event& e) {
  engine::Event content = e;
  content.expected_version.reset();
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(content);
  }
  const std::string payload = os.str();
  return XXH3_64bits(payload.data(), payload.size());
}

// Calls check(event, n) on every event of 40 random jobs (n counts from 1; every third
// carries an expected_version) and returns how many there were.
template <class F>
size_t ForEachRandomEvent(F&& check) {
  size_t checked = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    testing::RandomJob job("job-" + std::to_string(seed), seed);
    uint64_t n = 0;
    while (auto e = job.Next()) {
      if (++n % 3 == 0) e->expected_version = n - 1;
      check(*e, n);
      if (::testing::Test::HasFatalFailure()) return checked;
      ++checked;
    }
  }
  return checked;
}

TEST(CodecTest, ContentHashIsTheHashOfTheEventWithoutItsPrecondition) {
  const size_t checked = ForEachRandomEvent([](const engine::Event& e, uint64_t n) {
    ASSERT_EQ(ContentHash(e), ContentHashByCopy(e)) << "event " << n;
  });
  EXPECT_GT(checked, 1000u);
}

TEST(CodecTest, EncodeEventAndHashIsTheRecordAndTheHashOfTheSeparateFunctions) {
  const size_t checked = ForEachRandomEvent([](const engine::Event& e, uint64_t n) {
    const engine::Millis at = 1'700'000'000'000 + int64_t(n);
    const auto both = EncodeEventAndHash(e, n, 1000 + n, at);
    ASSERT_EQ(both.content_hash, ContentHashByCopy(e)) << "event " << n;
    ASSERT_EQ(both.record, EncodeEvent({e, n, 1000 + n, at})) << "event " << n;
  });
  EXPECT_GT(checked, 1000u);
}

TEST(CodecTest, ContentHashOfRecordIsTheContentHashOfTheEventItHolds) {
  const size_t checked = ForEachRandomEvent([](const engine::Event& e, uint64_t n) {
    const engine::RecordedEvent stored{e, n, 1000 + n, 1'700'000'000'000 + int64_t(n)};
    const std::string record = EncodeEvent(stored);
    auto decoded = DecodeEvent(record, "events");
    ASSERT_TRUE(decoded.has_value()) << "event " << n;
    ASSERT_EQ(ContentHashOfRecord(record, *decoded), ContentHashByCopy(e))
        << "event " << n;
  });
  EXPECT_GT(checked, 1000u);
}

// A record that an earlier (or later) encoding of Event wrote: its bytes are not what
// this build's ContentHash hashes, so the hash comes from encoding the event again.
TEST(CodecTest, ContentHashOfRecordEncodesAgainARecordOfAnotherEventVersion) {
  testing::RandomJob job("job-a", 11);
  const engine::Event e = *job.Next();
  const engine::RecordedEvent stored{e, 1, 1, 1'700'000'000'000};
  std::string payload = EncodeEvent(stored).substr(5);
  ASSERT_EQ(payload[5], '\x01') << "Event's class version is the payload's bytes 5-8";
  payload[5] = '\x02';
  const std::string record = SealRecord(payload);
  auto decoded = DecodeEvent(record, "events");  // Event::serialize ignores its version
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
  EXPECT_EQ(ContentHashOfRecord(record, *decoded), ContentHashByCopy(e));
  // What hashing the record's own bytes would have given instead.
  std::string content = payload.substr(0, 1) + payload.substr(5, payload.size() - 5 - 24);
  EXPECT_NE(XXH3_64bits(content.data(), content.size()), ContentHashByCopy(e));
}

TEST(CodecTest, ContentHashIgnoresExpectedVersionOnly) {
  testing::RandomJob job("job-a", 7);
  engine::Event e = *job.Next();
  const uint64_t h = ContentHash(e);
  e.expected_version = 0;
  EXPECT_EQ(ContentHash(e), h);
  e.worker_id = "another-worker";
  EXPECT_NE(ContentHash(e), h);
}

// The record envelope around cereal's own portable encoding of `value`: the bytes the
// codec's own archives must write and read.
template <class T>
std::string RecordByFreshStream(const T& value) {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(value);
  }
  return SealRecord(os.str());
}

TEST(CodecTest, EventRecordsAreCerealsBytesAndDecodeToTheEvent) {
  const size_t checked = ForEachRandomEvent([](const engine::Event& e, uint64_t n) {
    const engine::RecordedEvent recorded{e, n, 1000 + n, 1'700'000'000'000 + int64_t(n)};
    const std::string record = EncodeEvent(recorded);
    ASSERT_EQ(record, RecordByFreshStream(recorded)) << "event " << n;
    auto back = DecodeEvent(record, "events/test");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    ASSERT_EQ(back->event, e) << "event " << n;
    ASSERT_EQ(EncodeEvent(*back), record) << "event " << n;
  });
  EXPECT_GT(checked, 1000u);
}

// The codec writes records through an archive of its own (no ostream); every kind of
// record must keep cereal's portable bytes and read back to the same value. Folds
// random jobs and compares the snapshot after each event, every file row, and what
// each completed job teaches.
TEST(CodecTest, SnapshotFileRowAndHistoryRecordsAreCerealsBytes) {
  size_t snapshots = 0, rows = 0, lessons = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    testing::RandomJob job("job-" + std::to_string(seed), seed);
    engine::JobSnapshot snap;
    snap.org = "acme";
    snap.job_id = job.job_id();
    engine::MemoryFileTable files;
    uint64_t n = 0;
    while (auto e = job.Next()) {
      ++n;
      const engine::RecordedEvent re{*e, n, n, testing::kT0 + int64_t(n) * 37};
      ASSERT_TRUE(engine::Apply(snap, files, re).ok())
          << "seed " << seed << " event " << n;
      const std::string record = EncodeSnapshot(snap);
      ASSERT_EQ(record, RecordByFreshStream(snap)) << "seed " << seed;
      auto back = DecodeSnapshot(record, "snapshots/test");
      ASSERT_TRUE(back.has_value()) << back.error().message();
      ASSERT_EQ(EncodeSnapshot(*back), record) << "seed " << seed << " event " << n;
      ++snapshots;
    }
    for (const engine::FileRow& row : files.rows()) {
      ASSERT_EQ(EncodeFileRow(row), RecordByFreshStream(row)) << "seed " << seed;
      ++rows;
    }
    if (auto learned = engine::EtaLearnedFrom(snap)) {
      const EtaHistoryRecord record{testing::kT0, *learned};
      ASSERT_EQ(EncodeEtaHistory(record), RecordByFreshStream(record)) << "seed " << seed;
      ++lessons;
    }
  }
  EXPECT_GT(snapshots, 1000u);
  EXPECT_GT(rows, 100u);
  EXPECT_GT(lessons, 0u);
}

// cereal's portable archive records its byte order; a record written big-endian (by
// another machine) decodes to the same event.
TEST(CodecTest, ABigEndianRecordDecodesToTheSameEvent) {
  const size_t checked = ForEachRandomEvent([](const engine::Event& e, uint64_t n) {
    const engine::RecordedEvent recorded{e, n, 1000 + n, 1'700'000'000'000 + int64_t(n)};
    std::ostringstream os;
    {
      cereal::PortableBinaryOutputArchive ar(
          os, cereal::PortableBinaryOutputArchive::Options::BigEndian());
      ar(recorded);
    }
    auto back = DecodeEvent(SealRecord(os.str()), "events/big-endian");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    ASSERT_EQ(back->event, e) << "event " << n;
    ASSERT_EQ(back->position, 1000 + n) << "event " << n;
    ASSERT_EQ(back->recorded_at, 1'700'000'000'000 + int64_t(n)) << "event " << n;
  });
  EXPECT_GT(checked, 1000u);
}

// A record that fails part-way (the decoder throws out of cereal) must not spoil the
// next.
TEST(CodecTest, ARecordThatFailsToDecodeDoesNotSpoilTheNext) {
  testing::RandomJob job("job-a", 3);
  const engine::RecordedEvent good{*job.Next(), 1, 1, 1'700'000'000'000};
  const std::string record = EncodeEvent(good);
  const std::string_view payload = std::string_view(record).substr(5);
  const std::string damaged[] = {
      SealRecord(payload.substr(0, payload.size() / 2)),  // truncated: the read runs dry
      SealRecord(std::string(40, '\xff')),                 // garbage: an absurd length
  };
  for (const std::string& bad : damaged) {
    auto failed = DecodeEvent(bad, "events/bad");
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code(), StatusCode::kCorruption);
    auto next = DecodeEvent(record, "events/good");
    ASSERT_TRUE(next.has_value()) << next.error().message();
    EXPECT_EQ(next->event, good.event);
  }
}

// The error names the record: a plain name as given, a family and key described
// (only then: reads pass the key, not its description).
TEST(CodecTest, ADamagedRecordIsNamedInTheError) {
  std::string record = EncodeEvent({*testing::RandomJob("job-a", 1).Next(), 1, 1, 1});
  record.back() ^= 0x5a;
  auto named = DecodeEvent(record, "events/test");
  ASSERT_FALSE(named.has_value());
  EXPECT_EQ(named.error().message(), "events/test: checksum mismatch");
  auto keyed = DecodeEvent(record, {"events", keys::JobVersion(3, 7)});
  ASSERT_FALSE(keyed.has_value());
  EXPECT_EQ(keyed.error().message(), "events/jid=3,n=7 (16 bytes): checksum mismatch");
  auto short_record = DecodeSnapshot("\x01", {"snapshots", keys::Job(9)});
  ASSERT_FALSE(short_record.has_value());
  EXPECT_EQ(short_record.error().message(), "snapshots/jid=9 (8 bytes): record too short");
}

}  // namespace
}  // namespace jobstate::storage
