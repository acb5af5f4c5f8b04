// The memtable (storage/internal/skiplist_rep.h) inside a real RocksDB: every read that
// RocksDB serves from a memtable (point reads, iterators both ways, seeks, a flush) must
// agree with an ordered map of what was written, whatever the order of the inserts,
// with and without insert hints, and while readers run beside the writer.
#include "storage/internal/skiplist_rep.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include "tests/support/temp_dir.h"

namespace jobstate::storage {
namespace {

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& path, bool hints) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.memtable_factory = NewSkipListRepFactory();
  options.allow_concurrent_memtable_write = false;
  options.write_buffer_size = 256 << 20;  // everything stays in the memtable until Flush
  if (hints) {
    options.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(4));
  }
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

// A 4-byte prefix (the hint's) and a 4-byte suffix, so that keys of one prefix cluster.
std::string Key(uint32_t prefix, uint32_t suffix) {
  std::string k(8, '\0');
  for (int i = 0; i < 4; ++i) {
    k[size_t(i)] = char(prefix >> (24 - 8 * i));
    k[size_t(4 + i)] = char(suffix >> (24 - 8 * i));
  }
  return k;
}

void ExpectSame(rocksdb::DB& db, const std::map<std::string, std::string>& want,
                std::mt19937& rng) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}));
  auto w = want.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++w) {
    ASSERT_NE(w, want.end()) << "extra key";
    ASSERT_EQ(it->key().ToString(), w->first);
    ASSERT_EQ(it->value().ToString(), w->second);
  }
  ASSERT_TRUE(it->status().ok());
  ASSERT_EQ(w, want.end()) << "missing keys from " << w->first.size();

  auto r = want.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
    ASSERT_NE(r, want.rend());
    ASSERT_EQ(it->key().ToString(), r->first);
  }
  ASSERT_EQ(r, want.rend());

  std::uniform_int_distribution<uint32_t> prefix(0, 20), suffix(0, 4000);
  for (int i = 0; i < 300; ++i) {
    const std::string target = Key(prefix(rng), suffix(rng));
    std::string value;
    const rocksdb::Status s = db.Get({}, target, &value);
    const auto found = want.find(target);
    if (found == want.end()) {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(value, found->second);
    }
    it->Seek(target);
    const auto ge = want.lower_bound(target);
    ASSERT_EQ(it->Valid(), ge != want.end());
    if (ge != want.end()) {
      EXPECT_EQ(it->key().ToString(), ge->first);
    }
    it->SeekForPrev(target);
    const auto le = want.upper_bound(target);
    ASSERT_EQ(it->Valid(), le != want.begin());
    if (le != want.begin()) {
      EXPECT_EQ(it->key().ToString(), std::prev(le)->first);
    }
  }
}

// The list takes one writer at a time; RocksDB must refuse a database that would
// insert into it from several threads at once, so the two settings cannot drift apart.
TEST(SkipListRepFactoryTest, RocksDbRefusesConcurrentMemtableWrites) {
  testing::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.memtable_factory = NewSkipListRepFactory();
  options.allow_concurrent_memtable_write = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir.path(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

class SkipListRepTest : public ::testing::TestWithParam<bool> {};

TEST_P(SkipListRepTest, AgreesWithAnOrderedMapUnderRandomWrites) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path(), GetParam());
  ASSERT_TRUE(db);
  std::mt19937 rng(7);
  std::map<std::string, std::string> want;
  std::uniform_int_distribution<uint32_t> prefix(0, 19), suffix(0, 3999), size(1, 200);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  for (int batch = 0; batch < 400; ++batch) {
    // Ascending runs (as a commit group writes them), random order, overwrites of keys
    // already there (a new version beside the old) and deletes.
    std::vector<std::string> keys;
    const uint32_t n = size(rng);
    const uint32_t p = prefix(rng);
    uint32_t next = suffix(rng);
    for (uint32_t i = 0; i < n; ++i) {
      keys.push_back(batch % 3 == 0 ? Key(prefix(rng), suffix(rng)) : Key(p, next++ % 4000));
    }
    if (batch % 3 == 1) std::sort(keys.begin(), keys.end());
    rocksdb::WriteBatch wb;
    for (const std::string& k : keys) {
      if (rng() % 8 == 0) {
        ASSERT_TRUE(wb.Delete(k).ok());
        want.erase(k);
      } else {
        const std::string v = "v" + std::to_string(batch) + "/" + std::to_string(rng() % 1000);
        ASSERT_TRUE(wb.Put(k, v).ok());
        want[k] = v;
      }
    }
    ASSERT_TRUE(db->Write(wo, &wb).ok());
    if (batch % 50 == 49) {
      ASSERT_NO_FATAL_FAILURE(ExpectSame(*db, want, rng));
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectSame(*db, want, rng));
  // A flush reads the memtable through an iterator in RocksDB's arena.
  ASSERT_TRUE(db->Flush({}).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSame(*db, want, rng));
}

TEST_P(SkipListRepTest, ReadersBesideTheWriterSeeEveryWrittenKeyInOrder) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path(), GetParam());
  ASSERT_TRUE(db);
  constexpr uint32_t kKeys = 60'000;
  // Key i has prefix i % 16 and suffix i, written in a random order in batches of 37:
  // each batch lands all over the list, and readers race the links of every level.
  std::vector<uint32_t> order(kKeys);
  for (uint32_t i = 0; i < kKeys; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937{11});
  const auto key_of = [](uint32_t i) { return Key(i % 16, i); };
  std::atomic<uint32_t> written{0};  // keys order[0, written) are in the database
  std::atomic<bool> failed{false};
  const auto fail = [&](const char* what) {
    ADD_FAILURE() << what;
    failed = true;
  };

  auto reader = [&](int seed) {
    std::mt19937 rng{static_cast<uint32_t>(seed)};
    while (!failed && written.load() < kKeys) {
      const uint32_t known = written.load();
      if (known == 0) continue;
      const uint32_t i = order[rng() % known];
      const std::string key = key_of(i);
      std::string value;
      if (!db->Get({}, key, &value).ok() || value != std::to_string(i)) fail("Get");
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
      it->Seek(key);
      if (!it->Valid() || it->key() != key) fail("Seek");
      // The iterator reads at its creation's sequence number, so a key written since
      // never appears between the two steps.
      it->Prev();
      if (it->Valid()) {
        if (!(it->key().ToString() < key)) fail("Prev");
        it->Next();
        if (!it->Valid() || it->key() != key) fail("Next after Prev");
      }
      it->SeekForPrev(key);
      if (!it->Valid() || it->key() != key) fail("SeekForPrev");
      if (rng() % 32 == 0) {
        // A whole walk, either way: strictly ordered, and at least what was known.
        const bool forward = rng() % 2 == 0;
        std::string last;
        uint32_t seen = 0;
        for (forward ? it->SeekToFirst() : it->SeekToLast(); it->Valid();
             forward ? it->Next() : it->Prev(), ++seen) {
          const std::string k = it->key().ToString();
          if (!last.empty() && (forward ? k <= last : k >= last)) fail("walk order");
          last = k;
        }
        if (seen < known) fail("walk missed keys");
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  for (uint32_t n = 0; n < kKeys && !failed;) {
    rocksdb::WriteBatch wb;
    const uint32_t end = std::min(kKeys, n + 37);
    for (uint32_t j = n; j < end; ++j) {
      ASSERT_TRUE(wb.Put(key_of(order[j]), std::to_string(order[j])).ok());
    }
    ASSERT_TRUE(db->Write(wo, &wb).ok());
    written = n = end;
  }
  r1.join();
  r2.join();
  EXPECT_FALSE(failed);
}

TEST_P(SkipListRepTest, ReadsGiveBackEveryIteratorTheyTake) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path(), GetParam());
  ASSERT_TRUE(db);
  rocksdb::WriteBatch wb;
  for (uint32_t i = 0; i < 1000; i += 2) ASSERT_TRUE(wb.Put(Key(i % 7, i), "v").ok());
  ASSERT_TRUE(db->Write({}, &wb).ok());
  // RocksDB's own Get takes an iterator from the memtable and never frees it: one lost
  // at every point read would show here.
  const int64_t before = LiveMemTableIterators();
  std::string value;
  for (uint32_t i = 0; i < 1000; ++i) {
    const rocksdb::Status s = db->Get({}, Key(i % 7, i), &value);
    ASSERT_TRUE(i % 2 == 0 ? s.ok() : s.IsNotFound()) << s.ToString();
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
    EXPECT_EQ(LiveMemTableIterators(), before + 1);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
    }
  }
  EXPECT_EQ(LiveMemTableIterators(), before);
}

INSTANTIATE_TEST_SUITE_P(Hints, SkipListRepTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Hinted" : "Sequential"; });

}  // namespace
}  // namespace jobstate::storage
