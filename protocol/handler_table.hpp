#pragma once

// Message handlers (docs/platform.md, "Request-response messaging"): which
// connections serve requests sent to which message paths. One table is
// shared by every connection of the server; a registration belongs to the
// connection that made it (its `Owner`) and ends with it. A request to the
// path P goes to a handler of the most specific registered prefix of P
// (prefixes by whole levels: `a/b` serves `a/b` and `a/b/c`, not `a/bc`),
// round robin over the registrations of that prefix. Thread-safe: lookups
// share a lock; an atomic count lets a publish skip the table altogether
// while nobody has registered a handler.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace castor {

/// What the pure MQTT channel asks: does a handler serve this path?
class handler_lookup {
public:
  virtual ~handler_lookup() = default;
  /// True if a registration's path is `path` or a prefix of it by levels.
  virtual bool serves(std::string_view path) const = 0;
};

/// A handler path: a topic name without wildcards, empty levels, a leading
/// `$` or a trailing `/`.
inline bool valid_handler_path(std::string_view p) noexcept {
  if (p.empty() || p.size() > 1024 || p.front() == '$' || p.front() == '/'
      || p.back() == '/')
    return false;
  char last = 0;
  for (char c : p) {
    if (c == '+' || c == '#' || c == '\0' || (c == '/' && last == '/'))
      return false;
    last = c;
  }
  return true;
}

template <class Owner>
class handler_table final : public handler_lookup {
public:
  /// Registrations one owner (connection) may hold.
  static constexpr size_t default_max_per_owner = 1000;

  explicit handler_table(size_t max_per_owner = default_max_per_owner)
    : max_per_owner_(max_per_owner) {
  }

  enum class add_result : uint8_t { added, exists, too_many };

  /// `counted`: the change counts in changes() (a node group's members
  /// get this node's registrations when it changed; theirs are added here
  /// uncounted).
  add_result add(const std::string& path, const Owner& owner,
                 bool counted = true) {
    std::unique_lock<std::shared_mutex> lk{mu_};
    auto& mine = owned_[owner];
    if (mine.count(path) > 0)
      return add_result::exists;
    if (mine.size() >= max_per_owner_)
      return add_result::too_many;
    mine.insert(path);
    by_path_[path].owners.push_back(owner);
    count_.fetch_add(1, std::memory_order_relaxed);
    if (counted)
      changes_.fetch_add(1, std::memory_order_release);
    return add_result::added;
  }

  /// False if `owner` had no registration for `path`.
  bool remove(const std::string& path, const Owner& owner,
              bool counted = true) {
    std::unique_lock<std::shared_mutex> lk{mu_};
    auto o = owned_.find(owner);
    if (o == owned_.end() || o->second.erase(path) == 0)
      return false;
    if (o->second.empty())
      owned_.erase(o);
    drop(path, owner);
    if (counted)
      changes_.fetch_add(1, std::memory_order_release);
    return true;
  }

  /// Removes every registration of `owner`; returns how many.
  size_t remove_owner(const Owner& owner) {
    if (count_.load(std::memory_order_relaxed) == 0)
      return 0;
    std::unique_lock<std::shared_mutex> lk{mu_};
    auto o = owned_.find(owner);
    if (o == owned_.end())
      return 0;
    for (auto& path : o->second)
      drop(path, owner);
    auto n = o->second.size();
    owned_.erase(o);
    changes_.fetch_add(1, std::memory_order_release);
    return n;
  }

  /// Changes by add, remove and remove_owner (counted ones).
  uint64_t changes() const noexcept {
    return changes_.load(std::memory_order_acquire);
  }

  /// Every registration: (path, owner) of the owners `pred` selects.
  template <class Pred>
  std::vector<std::pair<std::string, Owner>> registrations(Pred pred) const {
    std::shared_lock<std::shared_mutex> lk{mu_};
    std::vector<std::pair<std::string, Owner>> out;
    for (auto& [owner, paths] : owned_)
      if (pred(owner))
        for (auto& path : paths)
          out.emplace_back(path, owner);
    return out;
  }

  /// The handler for a request to `path`: one registration of its most
  /// specific registered prefix, in turn. `skip` (if any) is passed over
  /// when the prefix has another registration.
  std::optional<Owner> pick(std::string_view path,
                            const Owner* skip = nullptr) const {
    if (count_.load(std::memory_order_relaxed) == 0)
      return std::nullopt;
    std::shared_lock<std::shared_mutex> lk{mu_};
    auto e = find(path);
    if (e == nullptr)
      return std::nullopt;
    auto n = e->owners.size();
    auto i = e->next.fetch_add(1, std::memory_order_relaxed) % n;
    if (skip != nullptr && n > 1 && e->owners[i] == *skip)
      i = (i + 1) % n;
    return e->owners[i];
  }

  bool serves(std::string_view path) const override {
    if (count_.load(std::memory_order_relaxed) == 0)
      return false;
    std::shared_lock<std::shared_mutex> lk{mu_};
    return find(path) != nullptr;
  }

  /// Registrations in the table.
  size_t size() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

  /// The paths `owner` has registered.
  std::vector<std::string> paths_of(const Owner& owner) const {
    std::shared_lock<std::shared_mutex> lk{mu_};
    auto o = owned_.find(owner);
    if (o == owned_.end())
      return {};
    return {o->second.begin(), o->second.end()};
  }

private:
  struct entry {
    std::vector<Owner> owners;
    mutable std::atomic<uint64_t> next{0};
  };

  /// The entry of the longest registered prefix of `path` (by levels).
  const entry* find(std::string_view path) const {
    std::string key{path};
    for (;;) {
      auto i = by_path_.find(key);
      if (i != by_path_.end())
        return &i->second;
      auto slash = key.rfind('/');
      if (slash == std::string::npos)
        return nullptr;
      key.resize(slash);
    }
  }

  void drop(const std::string& path, const Owner& owner) {
    auto i = by_path_.find(path);
    if (i == by_path_.end())
      return;
    auto& v = i->second.owners;
    for (auto j = v.begin(); j != v.end(); ++j) {
      if (*j == owner) {
        v.erase(j);
        count_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
    if (v.empty())
      by_path_.erase(i);
  }

  size_t max_per_owner_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, entry> by_path_;
  std::map<Owner, std::set<std::string>> owned_;
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> changes_{0};
};

} // namespace castor
