#pragma once
// A small thread-safe LRU map from integer keys to immutable shared values: convolution
// primitives and cuDNN algorithm choices are made once per shape and reused.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace repflow::ops {

template <class Value>
class LruCache {
 public:
  using Key = std::vector<int64_t>;

  explicit LruCache(size_t capacity) : capacity_(capacity) {}

  // The value for `key`, made by make() on a miss. make() runs under the lock: it must not
  // use this cache, and lookups wait while it runs (misses are rare and cost about as much as
  // one call).
  template <class Make>
  std::shared_ptr<const Value> get(const Key& key, Make make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    std::shared_ptr<const Value> value = make();
    order_.emplace_front(key, value);
    index_.emplace(key, order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return value;
  }

 private:
  struct Hash {
    size_t operator()(const Key& key) const {
      uint64_t h = 1469598103934665603ull;
      for (int64_t v : key) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
      return static_cast<size_t>(h);
    }
  };
  using Entry = std::pair<Key, std::shared_ptr<const Value>>;

  size_t capacity_;
  std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace repflow::ops
