#pragma once
// The memtable of every column family: a skip list with one writer and lock-free
// readers, behind RocksDB's public MemTableRep interface.
//
// Why not RocksDB's own: Debian's librocksdb is built without NDEBUG, so its assertions
// run. After every insert its skip list checks each level of the insert position
// against the new key, about twenty key comparisons, where the insert itself, with a
// hint, takes two or three. With this list the commit path's writer thread does less
// than half the work (callgrind: 1,216M instructions against 571M, docs/performance.md).
// The interface is small and public, so this is the one piece of RocksDB Jobstate
// replaces.
//
// The list is the textbook one (Pugh; LevelDB's layout): nodes are never removed, the
// writer links a node bottom-up with release stores, readers follow acquire loads and
// never lock. Inserts start from a finger (a "splice": where the last insert through it
// went, at every level): the one of the family's insert-hint prefix when the family
// sets `memtable_insert_with_hint_prefix_extractor`, else one per memtable. Keys that
// arrive in ascending order, as a commit group writes them, then cost a few comparisons
// each instead of a search from the top. Iterators live in per-thread storage, because
// RocksDB disposes of them in ways its public headers do not let a memtable follow
// (skiplist_rep.cc says which).
//
// Concurrent inserts are not supported: the database runs with
// allow_concurrent_memtable_write = false (RocksDB's write group leader inserts every
// batch of the group).
//
// Thread safety: one writer (RocksDB serialises them), any number of readers.

#include <cstdint>
#include <memory>

#include <rocksdb/memtablerep.h>

namespace jobstate::storage {

std::shared_ptr<rocksdb::MemTableRepFactory> NewSkipListRepFactory();

// Iterators over these memtables that exist now, in every thread: what tests watch so
// that a read path that loses its iterators shows.
int64_t LiveMemTableIterators();

}  // namespace jobstate::storage
