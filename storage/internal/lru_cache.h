#pragma once
// A small LRU map with a fixed number of entries.
//
// Thread safety: not thread-safe; the owner serializes calls.

#include <cstddef>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

namespace jobstate::storage {

template <class K, class V, class Hash = std::hash<K>>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}

  // The cached value, marked most recently used; nullptr when absent.
  V* Get(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  void Put(const K& key, V value) {
    if (capacity_ == 0) return;
    if (V* v = Get(key)) {
      *v = std::move(value);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    if (index_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  void Erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  size_t size() const { return index_.size(); }

 private:
  using Entry = std::pair<K, V>;
  size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<K, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace jobstate::storage
