#include "storage/internal/skiplist_rep.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <new>
#include <vector>

#include <rocksdb/slice.h>

namespace jobstate::storage {

namespace {

using rocksdb::KeyHandle;
using rocksdb::MemTableRep;
using rocksdb::Slice;

constexpr int kMaxHeight = 12;
constexpr uint32_t kBranching = 4;

// A node and its key in one allocation: the links of its `height` levels, then the
// key (RocksDB's length-prefixed entry) right after them.
struct Node {
  const char* key;
  int32_t height;
  std::atomic<Node*> next[1];  // `height` of them

  static size_t SizeFor(int height) {
    return sizeof(Node) + sizeof(std::atomic<Node*>) * static_cast<size_t>(height - 1);
  }
  Node* Next(int level) const { return next[level].load(std::memory_order_acquire); }
};

// Where the last insert through it went: at every level, a node at or before that key
// (the inserted node itself on the levels it spans). Each entry is a node of at least
// that level's height, or the head, so a search at that level may start from it
// whenever its key is before the one searched.
struct Splice {
  std::array<Node*, kMaxHeight> prev;
};

class SkipListRep final : public MemTableRep {
 public:
  SkipListRep(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), compare_(compare) {
    head_ = NewNode(kMaxHeight, 0, nullptr);
    seq_splice_.prev.fill(head_);
  }

  KeyHandle Allocate(const size_t len, char** buf) override {
    return NewNode(RandomHeight(), len, buf);
  }

  void Insert(KeyHandle handle) override {
    InsertAt(static_cast<Node*>(handle), seq_splice_);
  }

  void InsertWithHint(KeyHandle handle, void** hint) override {
    auto* splice = static_cast<Splice*>(*hint);
    if (splice == nullptr) {
      // In the memtable's arena, like the nodes: it lives exactly as long as they do.
      char* raw = nullptr;
      MemTableRep::Allocate(sizeof(Splice) + alignof(Splice) - 1, &raw);
      splice = new (Align<Splice>(raw)) Splice;
      splice->prev.fill(head_);
      *hint = splice;
    }
    InsertAt(static_cast<Node*>(handle), *splice);
  }

  bool Contains(const char* key) const override {
    const Slice target = compare_.decode_key(key);
    const Node* node = FindGreaterOrEqual(target);
    return node != nullptr && compare_(node->key, target) == 0;
  }

  // Every byte is in the allocator's arena, which RocksDB accounts for itself.
  size_t ApproximateMemoryUsage() override { return 0; }

  // RocksDB's own Get (the base class's) takes an iterator from GetDynamicPrefixIterator,
  // seeks and walks it, and never frees it. So a point read lends it the thread's lookup
  // iterator, which lives in thread-local storage and needs no freeing.
  void Get(const rocksdb::LookupKey& k, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override;

  MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override;

  const Node* FindGreaterOrEqual(const Slice& target) const {
    const Node* x = head_;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1;; --level) {
      const Node* next = x->Next(level);
      while (next != nullptr && compare_(next->key, target) < 0) {
        x = next;
        next = x->Next(level);
      }
      if (level == 0) return next;
    }
  }

  // The last node before `target`, or nullptr when there is none.
  const Node* FindLessThan(const Slice& target) const {
    const Node* x = head_;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      const Node* next = x->Next(level);
      while (next != nullptr && compare_(next->key, target) < 0) {
        x = next;
        next = x->Next(level);
      }
    }
    return x == head_ ? nullptr : x;
  }

  const Node* FindLast() const {
    const Node* x = head_;
    for (int level = max_height_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      for (const Node* next = x->Next(level); next != nullptr; next = x->Next(level)) x = next;
    }
    return x == head_ ? nullptr : x;
  }

  const Node* First() const { return head_->Next(0); }
  const KeyComparator& compare() const { return compare_; }

 private:
  template <class T>
  static T* Align(char* raw) {
    const auto p = reinterpret_cast<uintptr_t>(raw);
    return reinterpret_cast<T*>((p + alignof(T) - 1) & ~(uintptr_t{alignof(T)} - 1));
  }

  Node* NewNode(int height, size_t key_len, char** key_buf) {
    const size_t size = Node::SizeFor(height);
    char* raw = nullptr;
    // The base class allocates from the memtable's arena, without alignment.
    MemTableRep::Allocate(size + key_len + alignof(Node) - 1, &raw);
    Node* node = Align<Node>(raw);
    node->height = height;
    for (int i = 0; i < height; ++i) new (&node->next[i]) std::atomic<Node*>(nullptr);
    char* key = reinterpret_cast<char*>(node) + size;
    node->key = key;
    if (key_buf != nullptr) *key_buf = key;
    return node;
  }

  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && NextRandom() % kBranching == 0) ++height;
    return height;
  }

  uint32_t NextRandom() {  // xorshift32: the writer's only
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }

  bool Before(const Node* node, const Slice& key) const {
    return compare_(node->key, key) < 0;
  }

  // Links `x` after the nodes before its key, found from `splice`: from the lowest
  // level that can hold `x` upwards, the first level where the splice's node is before
  // the key and its successor is not, then down from there. Keys arriving in ascending
  // order find that at once.
  void InsertAt(Node* x, Splice& splice) {
    const Slice key = compare_.decode_key(x->key);
    const int height = x->height;
    int max_height = max_height_.load(std::memory_order_relaxed);
    if (height > max_height) {
      // Readers may see the new height before the links; the head's are null there,
      // so they only step down sooner.
      max_height_.store(height, std::memory_order_relaxed);
      max_height = height;
    }
    int level = height - 1;
    Node* start = splice.prev[level];
    for (;; start = splice.prev[++level]) {
      const bool after_start = start == head_ || Before(start, key);
      if (level == max_height - 1) {
        if (!after_start) start = head_;
        break;
      }
      if (!after_start) continue;
      const Node* next = start->Next(level);
      if (next == nullptr || !Before(next, key)) break;
    }
    std::array<Node*, kMaxHeight> prev;
    Node* p = start;
    for (int i = level; i >= 0; --i) {
      for (Node* next = p->Next(i); next != nullptr && Before(next, key); next = p->Next(i)) {
        p = next;
      }
      prev[i] = p;
    }
    for (int i = 0; i < height; ++i) {
      x->next[i].store(prev[i]->next[i].load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
      prev[i]->next[i].store(x, std::memory_order_release);
    }
    for (int i = 0; i <= level; ++i) splice.prev[i] = i < height ? x : prev[i];
  }

  const KeyComparator& compare_;
  Node* head_ = nullptr;
  std::atomic<int> max_height_{1};
  uint32_t random_ = 0x9e3779b9u;
  Splice seq_splice_{};
};

// Iterators come from a free list of the thread: RocksDB places memtable iterators in
// its read arena and then only runs their destructor (a class it does not publish), or
// deletes them when it passed no arena. So the destructor hands the storage back, and
// `delete` frees nothing more. A thread's list holds as many as it had open at once,
// up to kKeep.
thread_local bool free_list_gone = false;  // set once the thread's list is destroyed

class FreeList {
 public:
  ~FreeList() {
    free_list_gone = true;
    for (void* slot : slots_) ::operator delete(slot);
  }
  void* Take(size_t size) {
    if (free_list_gone || slots_.empty()) return ::operator new(size);
    void* slot = slots_.back();
    slots_.pop_back();
    return slot;
  }
  // Called by the destructor, which is still running: `slot` must not be freed here.
  void Give(void* slot) {
    if (free_list_gone) return;  // the thread is exiting: leave these few bytes
    if (slots_.size() < kKeep) {
      slots_.push_back(slot);
      return;
    }
    // Bounded, for a thread that destroys iterators others created and makes none: free
    // one given back earlier, whose destructor has long returned.
    void* oldest = slots_.front();
    slots_.front() = slot;
    ::operator delete(oldest);
  }

 private:
  static constexpr size_t kKeep = 64;
  std::vector<void*> slots_;
};

thread_local FreeList free_iterators;

// Iteration over the list; where the object lives is the subclasses' business.
class ListIter : public MemTableRep::Iterator {
 public:
  explicit ListIter(const SkipListRep* list) : list_(list) {}

  bool Valid() const override { return node_ != nullptr; }
  const char* key() const override { return node_->key; }
  void Next() override { node_ = node_->Next(0); }
  void Prev() override {
    node_ = list_->FindLessThan(list_->compare().decode_key(node_->key));
  }
  void Seek(const Slice& internal_key, const char* memtable_key) override {
    node_ = list_->FindGreaterOrEqual(Target(internal_key, memtable_key));
  }
  void SeekForPrev(const Slice& internal_key, const char* memtable_key) override {
    const Slice target = Target(internal_key, memtable_key);
    node_ = list_->FindGreaterOrEqual(target);
    if (node_ == nullptr || list_->compare()(node_->key, target) > 0) {
      node_ = list_->FindLessThan(target);
    }
  }
  void SeekToFirst() override { node_ = list_->First(); }
  void SeekToLast() override { node_ = list_->FindLast(); }

 private:
  Slice Target(const Slice& internal_key, const char* memtable_key) const {
    return memtable_key != nullptr ? list_->compare().decode_key(memtable_key) : internal_key;
  }

  const SkipListRep* list_;
  const Node* node_ = nullptr;
};

std::atomic<int64_t> live_iterators{0};

// The iterators of scans and flushes.
class Iter final : public ListIter {
 public:
  explicit Iter(const SkipListRep* list) : ListIter(list) {
    live_iterators.fetch_add(1, std::memory_order_relaxed);
  }
  ~Iter() override {
    live_iterators.fetch_sub(1, std::memory_order_relaxed);
    free_iterators.Give(this);
  }

  static void* operator new(size_t size) { return free_iterators.Take(size); }
  static void operator delete(void* /*storage*/) noexcept {}  // the destructor gave it back
};

// A point read's: one per thread, built anew for each read, never freed, so nothing
// is lost when RocksDB keeps it and nothing breaks if it deletes it.
class LookupIter final : public ListIter {
 public:
  using ListIter::ListIter;
  static void operator delete(void* /*storage*/) noexcept {}
};

thread_local bool in_lookup = false;
alignas(LookupIter) thread_local unsigned char lookup_storage[sizeof(LookupIter)];

void SkipListRep::Get(const rocksdb::LookupKey& k, void* callback_args,
                      bool (*callback_func)(void* arg, const char* entry)) {
  struct Lookup {
    Lookup() { in_lookup = true; }
    ~Lookup() { in_lookup = false; }
  } lookup;
  MemTableRep::Get(k, callback_args, callback_func);
}

MemTableRep::Iterator* SkipListRep::GetIterator(rocksdb::Arena* arena) {
  if (in_lookup && arena == nullptr) {
    in_lookup = false;  // one per read: any other iterator it asks for is a pooled one
    return new (lookup_storage) LookupIter(this);
  }
  return new Iter(this);
}

class SkipListRepFactory final : public rocksdb::MemTableRepFactory {
 public:
  const char* Name() const override { return "JobstateSkipList"; }
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& compare,
                                 rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform* /*transform*/,
                                 rocksdb::Logger* /*logger*/) override {
    return new SkipListRep(compare, allocator);
  }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewSkipListRepFactory() {
  return std::make_shared<SkipListRepFactory>();
}

int64_t LiveMemTableIterators() { return live_iterators.load(std::memory_order_relaxed); }

}  // namespace jobstate::storage
