// StatusCache: what it serves, what invalidates it, and the read a commit overtook; and
// the files pages it keeps per version.
#include "api/status_cache.h"

#include <gtest/gtest.h>

namespace jobstate::api {
namespace {

constexpr engine::Millis kNow = 1'700'000'000'000;

engine::CommitNotice Commit(const std::string& org, const std::string& job, uint64_t version) {
  engine::CommitNotice n;
  n.jobs.push_back({org, job, version});
  return n;
}

TEST(StatusCacheTest, ServesWhatWasInsertedPerOrganisationJobAndQuery) {
  StatusCache cache(1 << 20);
  cache.Insert("acme", "job-1", "q1", 7, "body-1", cache.Mark());
  auto hit = cache.Find("acme", "job-1", "q1", kNow);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version, 7u);
  EXPECT_EQ(hit->body, "body-1");
  EXPECT_FALSE(cache.Find("acme", "job-1", "q2", kNow));
  EXPECT_FALSE(cache.Find("globex", "job-1", "q1", kNow));
  EXPECT_FALSE(cache.Find("acme", "job-2", "q1", kNow));
  // "acme\0job-1" and "acme" + "job-1" must not meet under another split.
  EXPECT_FALSE(cache.Find("acmej", "ob-1", "q1", kNow));
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 4u);
}

TEST(StatusCacheTest, ACommitOfTheJobDropsItsBodiesAndNoOtherJobs) {
  StatusCache cache(1 << 20);
  cache.Insert("acme", "job-1", "q1", 7, "a", cache.Mark());
  cache.Insert("acme", "job-1", "q2", 7, "b", cache.Mark());
  cache.Insert("acme", "job-2", "q1", 3, "c", cache.Mark());
  cache.Invalidate(Commit("acme", "job-1", 8));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q1", kNow));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q2", kNow));
  EXPECT_TRUE(cache.Find("acme", "job-2", "q1", kNow));
}

TEST(StatusCacheTest, ABodyFromAReadACommitOvertookIsNotCached) {
  StatusCache cache(1 << 20);
  const uint64_t mark = cache.Mark();       // the read begins
  cache.Invalidate(Commit("acme", "job-1", 8));  // version 8 is published meanwhile
  cache.Insert("acme", "job-1", "q", 7, "stale", mark);
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
  // Commits of other jobs do not stop it.
  const uint64_t later = cache.Mark();
  cache.Invalidate(Commit("acme", "job-2", 1));
  cache.Invalidate(Commit("globex", "job-1", 1));
  cache.Insert("acme", "job-1", "q", 8, "fresh", later);
  ASSERT_TRUE(cache.Find("acme", "job-1", "q", kNow));
  EXPECT_EQ(cache.Find("acme", "job-1", "q", kNow)->body, "fresh");
}

TEST(StatusCacheTest, AMarkOlderThanTheRememberedCommitsIsRefused) {
  StatusCache cache(1 << 20);
  const uint64_t mark = cache.Mark();
  for (int i = 0; i < 5000; ++i) cache.Invalidate(Commit("acme", "other-" + std::to_string(i), 1));
  cache.Insert("acme", "job-1", "q", 1, "body", mark);
  // It cannot tell, so it does not cache.
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
}

TEST(StatusCacheTest, AnOlderVersionNeverReplacesANewerOne) {
  StatusCache cache(1 << 20);
  cache.Insert("acme", "job-1", "q1", 9, "new", cache.Mark());
  cache.Insert("acme", "job-1", "q2", 8, "old", cache.Mark());
  EXPECT_FALSE(cache.Find("acme", "job-1", "q2", kNow));
  EXPECT_EQ(cache.Find("acme", "job-1", "q1", kNow)->version, 9u);
}

TEST(StatusCacheTest, StaysWithinItsBytesDroppingTheLeastRecentlyUsedJobs) {
  StatusCache cache(64 * 1024);
  const std::string body(1000, 'x');
  cache.Insert("acme", "job-0", "q", 1, body, cache.Mark());
  for (int i = 1; i < 200; ++i) {
    ASSERT_TRUE(cache.Find("acme", "job-0", "q", kNow));  // kept in use
    cache.Insert("acme", "job-" + std::to_string(i), "q", 1, body, cache.Mark());
    EXPECT_LE(cache.stats().bytes, 64u * 1024);
  }
  EXPECT_TRUE(cache.Find("acme", "job-0", "q", kNow));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
  EXPECT_TRUE(cache.Find("acme", "job-199", "q", kNow));
  // A body larger than an eighth of the cache is not kept at all.
  cache.Insert("acme", "big", "q", 1, std::string(10'000, 'y'), cache.Mark());
  EXPECT_FALSE(cache.Find("acme", "big", "q", kNow));
}

std::shared_ptr<const std::string> Text(const char* s) { return std::make_shared<const std::string>(s); }

TEST(StatusCacheTest, APageIsKeptWithItsVersionAndOnlyALaterOneReplacesIt) {
  StatusCache cache(1 << 20);
  EXPECT_FALSE(cache.FindPage("acme", "job-1", "q1"));
  cache.InsertPage("acme", "job-1", "q1", 7, Text("page-7"));
  cache.InsertPage("acme", "job-1", "q1", 6, Text("page-6"));  // a slower read of an older one
  auto hit = cache.FindPage("acme", "job-1", "q1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version, 7u);
  EXPECT_EQ(*hit->text, "page-7");
  cache.InsertPage("acme", "job-1", "q1", 9, Text("page-9"));
  EXPECT_EQ(*cache.FindPage("acme", "job-1", "q1")->text, "page-9");
  EXPECT_FALSE(cache.FindPage("acme", "job-1", "q2"));
  EXPECT_FALSE(cache.FindPage("globex", "job-1", "q1"));
  // A page is not a body: a final job's body is looked up apart.
  EXPECT_FALSE(cache.Find("acme", "job-1", "q1", kNow));
  cache.NotePage(true);
  cache.NotePage(false);
  EXPECT_EQ(cache.stats().page_hits, 1u);
  EXPECT_EQ(cache.stats().page_misses, 1u);
}

TEST(StatusCacheTest, PagesAndBodiesShareTheBytesAndACommitDropsBoth) {
  StatusCache cache(1 << 20);
  cache.InsertPage("acme", "job-1", "q1", 7, Text("page"));
  cache.Insert("acme", "job-1", "q1", 7, "body", cache.Mark());
  EXPECT_TRUE(cache.FindPage("acme", "job-1", "q1"));
  EXPECT_TRUE(cache.Find("acme", "job-1", "q1", kNow));
  EXPECT_GT(cache.stats().bytes, 0u);
  cache.Invalidate(Commit("acme", "job-1", 8));
  EXPECT_FALSE(cache.FindPage("acme", "job-1", "q1"));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q1", kNow));
  EXPECT_EQ(cache.stats().bytes, 0u);

  // Pages count toward the bound like bodies: the least recently used job goes.
  StatusCache small(8 * 1024);
  const auto kilobyte = std::make_shared<const std::string>(1000, 'x');
  for (int j = 0; j < 20; ++j) small.InsertPage("acme", "job-" + std::to_string(j), "q", 1, kilobyte);
  EXPECT_LE(small.stats().bytes, 8u * 1024);
  EXPECT_TRUE(small.FindPage("acme", "job-19", "q"));
  EXPECT_FALSE(small.FindPage("acme", "job-0", "q"));
}

std::shared_ptr<const engine::JobSnapshot> Job(uint64_t version) {
  auto job = std::make_shared<engine::JobSnapshot>();
  job->version = version;
  return job;
}

TEST(StatusCacheTest, ARunningJobsSnapshotFollowsTheRulesOfBodies) {
  StatusCache cache(1 << 20);
  EXPECT_FALSE(cache.FindJob("acme", "job-1"));
  cache.InsertJob("acme", "job-1", Job(7), 100, cache.Mark());
  ASSERT_TRUE(cache.FindJob("acme", "job-1"));
  EXPECT_EQ(cache.FindJob("acme", "job-1")->version, 7u);
  EXPECT_FALSE(cache.FindJob("globex", "job-1"));
  cache.InsertJob("acme", "job-1", Job(6), 100, cache.Mark());  // older: ignored
  EXPECT_EQ(cache.FindJob("acme", "job-1")->version, 7u);
  EXPECT_EQ(cache.stats().job_hits, 3u);

  // A commit of the job drops it, and a read that commit overtook is not cached.
  const uint64_t mark = cache.Mark();
  cache.Invalidate(Commit("acme", "job-1", 8));
  EXPECT_FALSE(cache.FindJob("acme", "job-1"));
  cache.InsertJob("acme", "job-1", Job(7), 100, mark);
  EXPECT_FALSE(cache.FindJob("acme", "job-1"));
  EXPECT_EQ(cache.stats().bytes, 0u);
  cache.InsertJob("acme", "job-1", Job(8), 100, cache.Mark());
  EXPECT_EQ(cache.FindJob("acme", "job-1")->version, 8u);
  EXPECT_GE(cache.stats().bytes, 100u);
}

TEST(StatusCacheTest, ARunningBodyServesItsInstantOnceRenderedTwiceThere) {
  StatusCache cache(1 << 20);
  // The first rendering at an instant is not kept: a job polled now and then costs no
  // copy of its body.
  cache.InsertAt("acme", "job-1", "q", 7, kNow, "at-now", cache.Mark());
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
  cache.InsertAt("acme", "job-1", "q", 7, kNow, "at-now", cache.Mark());
  auto hit = cache.Find("acme", "job-1", "q", kNow);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version, 7u);
  EXPECT_EQ(hit->body, "at-now");
  // Only at that instant, for that query, job and organisation.
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow + 1));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow - 1));
  EXPECT_FALSE(cache.Find("acme", "job-1", "other", kNow));
  EXPECT_FALSE(cache.Find("globex", "job-1", "q", kNow));

  // A later instant replaces it once rendered twice there; an earlier one never does.
  cache.InsertAt("acme", "job-1", "q", 7, kNow + 5, "later", cache.Mark());
  EXPECT_TRUE(cache.Find("acme", "job-1", "q", kNow));
  cache.InsertAt("acme", "job-1", "q", 7, kNow + 5, "later", cache.Mark());
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
  EXPECT_EQ(cache.Find("acme", "job-1", "q", kNow + 5)->body, "later");
  cache.InsertAt("acme", "job-1", "q", 7, kNow + 1, "earlier", cache.Mark());
  cache.InsertAt("acme", "job-1", "q", 7, kNow + 1, "earlier", cache.Mark());
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow + 1));
  EXPECT_EQ(cache.Find("acme", "job-1", "q", kNow + 5)->body, "later");
}

TEST(StatusCacheTest, ARunningBodyGoesWithACommitOfItsJobOrAChangeOfThePriors) {
  StatusCache cache(1 << 20);
  auto keep = [&](const std::string& job, const std::string& body, uint64_t mark) {
    cache.InsertAt("acme", job, "q", 7, kNow, body, mark);
    cache.InsertAt("acme", job, "q", 7, kNow, body, mark);
  };
  keep("job-1", "a", cache.Mark());
  keep("job-2", "b", cache.Mark());
  cache.Invalidate(Commit("acme", "job-1", 8));
  EXPECT_FALSE(cache.Find("acme", "job-1", "q", kNow));
  EXPECT_TRUE(cache.Find("acme", "job-2", "q", kNow));

  // Another job finishing changes a prior every running estimate reads: every running
  // body goes, though its job did not change...
  engine::CommitNotice finished = Commit("acme", "job-3", 12);
  finished.priors_changed = true;
  cache.Invalidate(finished);
  EXPECT_FALSE(cache.Find("acme", "job-2", "q", kNow));
  // ...and a body from a read that began before the change is not kept.
  uint64_t mark = cache.Mark();
  cache.Invalidate(finished);
  keep("job-2", "stale prior", mark);
  EXPECT_FALSE(cache.Find("acme", "job-2", "q", kNow));
  // Nor one from a read a commit of its own job overtook.
  mark = cache.Mark();
  cache.Invalidate(Commit("acme", "job-2", 8));
  keep("job-2", "stale job", mark);
  EXPECT_FALSE(cache.Find("acme", "job-2", "q", kNow));
  // A commit without a change of the priors leaves other jobs' bodies alone.
  keep("job-2", "fresh", cache.Mark());
  cache.Invalidate(Commit("acme", "job-4", 1));
  ASSERT_TRUE(cache.Find("acme", "job-2", "q", kNow));
  EXPECT_EQ(cache.Find("acme", "job-2", "q", kNow)->body, "fresh");
}

}  // namespace
}  // namespace jobstate::api
