#pragma once

// Two tries for the topic tree: subscription filters searched with a topic
// name (filter_index) and topic names searched with a filter (name_index).
// Pure C++17, header-only.
//
// Both split their strings at '/' into levels and keep one trie node per
// distinct prefix of levels, so "a//b", "/a" and "a/" have their empty levels
// as ordinary nodes. A node's children are hashed by level, so an exact level
// costs one hash lookup whatever the fan-out.
//
// filter_index::for_each_match(topic) walks the topic's levels; at each node
// it follows the child equal to the level and the '+' child, and reports the
// entries of the '#' child (which match the rest, or nothing: "a/#" matches
// "a"). At most two branches per level, so the cost is bounded by the number
// of stored filters that share a prefix with the topic, never by the index
// size. Example, filters {a/b, a/+, +/b, #, a/#} and topic "a/b":
//   root: report "#"; follow "a" and "+".
//   a:    report "a/#"; follow a/b (done: report) and a/+ (done: report).
//   +:    follow +/b (done: report).
// name_index::for_each_match(filter) walks the filter's levels: an exact level
// follows one child, '+' follows every child, '#' reports the current node
// (the parent rule) and its whole subtree.
//
// The $-rule (MQTT 5.0 section 4.7.2): a '+' or '#' as the first filter level
// does not match a topic name starting with '$'; both walks apply it at the
// root only.
//
// Both walks use explicit stacks and the destructors tear the trie down
// iteratively, so a name of 65,535 levels ("////...") cannot exhaust the
// call stack.
//
// Preconditions: filters are valid non-shared filters (parse_filter(f).valid,
// pass filter_info::filter for a shared one) and names are valid topic names.
// Callbacks must not modify the index they are called from.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace castor::mqtt {

namespace detail {

/// A trie node: `label` is this node's level, `children` are keyed by views
/// into their own labels (heap nodes never move).
template <class Payload>
struct topic_trie_node {
  using children_map
      = std::unordered_map<std::string_view, std::unique_ptr<topic_trie_node>>;

  std::string label;
  topic_trie_node* parent = nullptr;
  children_map children;
  Payload payload;

  topic_trie_node* child(std::string_view level) const {
    auto i = children.find(level);
    return i == children.end() ? nullptr : i->second.get();
  }

  topic_trie_node* add_child(std::string_view level) {
    if (auto existing = child(level))
      return existing;
    auto fresh = std::make_unique<topic_trie_node>();
    fresh->label = std::string{level};
    fresh->parent = this;
    auto ptr = fresh.get();
    children.emplace(std::string_view{ptr->label}, std::move(fresh));
    return ptr;
  }
};

/// Destroys a trie without recursion.
template <class Node>
void destroy_trie(std::unique_ptr<Node>& root) {
  if (!root)
    return;
  std::vector<std::unique_ptr<Node>> pending;
  pending.push_back(std::move(root));
  while (!pending.empty()) {
    auto n = std::move(pending.back());
    pending.pop_back();
    for (auto& kvp : n->children)
      pending.push_back(std::move(kvp.second));
    n->children.clear();
  }
}

/// Removes `n` and then each ancestor that became empty (no payload, no
/// children), stopping at the root.
template <class Node, class IsEmpty>
size_t prune_trie(Node* n, IsEmpty is_empty) {
  size_t removed = 0;
  while (n->parent != nullptr && n->children.empty() && is_empty(*n)) {
    auto parent = n->parent;
    auto i = parent->children.find(std::string_view{n->label});
    parent->children.erase(i);
    ++removed;
    n = parent;
  }
  return removed;
}

/// The level starting at `pos` in `s` and the start of the following level
/// (`s.size() + 1` after the last one).
inline std::pair<std::string_view, size_t> level_at(std::string_view s,
                                                    size_t pos) {
  auto end = s.find('/', pos);
  if (end == std::string_view::npos)
    end = s.size();
  return {s.substr(pos, end - pos), end + 1};
}

} // namespace detail

/// Subscription filters with a key (subscriber id) and a value per entry;
/// answers "which stored filters match this topic name?".
template <class Value>
class filter_index {
public:
  using key_type = uint64_t;

  filter_index() : root_(std::make_unique<node>()) {}

  filter_index(const filter_index&) = delete;
  filter_index& operator=(const filter_index&) = delete;

  filter_index(filter_index&& other) noexcept
      : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)),
        nodes_(std::exchange(other.nodes_, 0)) {
    other.root_ = nullptr;
  }

  filter_index& operator=(filter_index&& other) noexcept {
    if (this != &other) {
      detail::destroy_trie(root_);
      root_ = std::move(other.root_);
      size_ = std::exchange(other.size_, 0);
      nodes_ = std::exchange(other.nodes_, 0);
    }
    return *this;
  }

  ~filter_index() {
    detail::destroy_trie(root_);
  }

  /// Stores `value` for (`filter`, `key`), replacing an earlier value.
  /// Returns true if the entry is new.
  bool insert(std::string_view filter, key_type key, Value value) {
    auto n = ensure_root();
    for (size_t pos = 0; pos <= filter.size();) {
      auto [level, next] = detail::level_at(filter, pos);
      auto before = n->children.size();
      n = n->add_child(level);
      pos = next;
      if (n->parent->children.size() != before)
        ++nodes_;
    }
    auto& p = n->payload;
    if (p.entries.empty())
      p.filter = std::string{filter};
    bool added = p.entries.insert_or_assign(key, std::move(value)).second;
    if (added)
      ++size_;
    return added;
  }

  /// Removes (`filter`, `key`); frees the nodes nothing else uses. Returns
  /// true if the entry existed.
  bool erase(std::string_view filter, key_type key) {
    auto n = find_node(filter);
    if (n == nullptr)
      return false;
    auto& p = n->payload;
    if (p.entries.erase(key) == 0)
      return false;
    --size_;
    if (p.entries.empty())
      std::string{}.swap(p.filter);
    nodes_ -= detail::prune_trie(
        n, [](const node& x) { return x.payload.entries.empty(); });
    return true;
  }

  /// The value of (`filter`, `key`), or nullptr.
  Value* find(std::string_view filter, key_type key) {
    auto n = find_node(filter);
    if (n == nullptr)
      return nullptr;
    auto i = n->payload.entries.find(key);
    return i == n->payload.entries.end() ? nullptr : &i->second;
  }

  /// Calls `f(key, value&)` for every entry stored under exactly `filter`
  /// (wildcards are not expanded). Returns the number of entries visited.
  template <class F>
  size_t for_each_entry(std::string_view filter, F&& f) {
    auto n = find_node(filter);
    if (n == nullptr)
      return 0;
    for (auto& kvp : n->payload.entries)
      f(kvp.first, kvp.second);
    return n->payload.entries.size();
  }

  /// Calls `f(filter, key, value&)` for every entry whose filter matches
  /// `topic`, in no particular order. `filter` stays valid until its last
  /// entry is erased.
  template <class F>
  void for_each_match(std::string_view topic, F&& f) {
    if (topic.empty() || !root_)
      return;
    const auto done = topic.size() + 1;
    const bool dollar = topic.front() == '$';
    auto report = [&f](node* n) {
      if (n == nullptr)
        return;
      auto& p = n->payload;
      for (auto& kvp : p.entries)
        f(std::string_view{p.filter}, kvp.first, kvp.second);
    };
    std::vector<std::pair<node*, size_t>> stack;
    stack.emplace_back(root_.get(), 0);
    while (!stack.empty()) {
      auto [n, pos] = stack.back();
      stack.pop_back();
      if (pos == done) {
        // All topic levels consumed: the filter ending here matches, and so
        // does one more "#" level (the parent rule). Never the root here.
        report(n);
        report(n->child("#"));
        continue;
      }
      auto [level, next] = detail::level_at(topic, pos);
      if (!(dollar && n == root_.get())) {
        report(n->child("#"));
        if (auto plus = n->child("+"))
          stack.emplace_back(plus, next);
      }
      if (auto exact = n->child(level))
        stack.emplace_back(exact, next);
    }
  }

  /// Calls `f(filter, key, value&)` for every entry.
  template <class F>
  void for_each(F&& f) {
    if (!root_)
      return;
    std::vector<node*> stack{root_.get()};
    while (!stack.empty()) {
      auto n = stack.back();
      stack.pop_back();
      for (auto& kvp : n->payload.entries)
        f(std::string_view{n->payload.filter}, kvp.first, kvp.second);
      for (auto& kvp : n->children)
        stack.push_back(kvp.second.get());
    }
  }

  /// Number of (filter, key) entries.
  size_t size() const noexcept {
    return size_;
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  /// Number of trie nodes besides the root (0 when empty).
  size_t node_count() const noexcept {
    return nodes_;
  }

  void clear() {
    detail::destroy_trie(root_);
    size_ = 0;
    nodes_ = 0;
  }

private:
  struct payload_type {
    std::string filter; ///< the whole filter while `entries` is not empty
    std::unordered_map<key_type, Value> entries;
  };

  using node = detail::topic_trie_node<payload_type>;

  node* ensure_root() {
    if (!root_)
      root_ = std::make_unique<node>();
    return root_.get();
  }

  node* find_node(std::string_view filter) const {
    auto n = root_.get();
    for (size_t pos = 0; n != nullptr && pos <= filter.size();) {
      auto [level, next] = detail::level_at(filter, pos);
      n = n->child(level);
      pos = next;
    }
    return n;
  }

  std::unique_ptr<node> root_;
  size_t size_ = 0;
  size_t nodes_ = 0;
};

/// Topic names with a value each; answers "which stored names does this
/// filter match?".
template <class Value>
class name_index {
public:
  name_index() : root_(std::make_unique<node>()) {}

  name_index(const name_index&) = delete;
  name_index& operator=(const name_index&) = delete;

  name_index(name_index&& other) noexcept
      : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)),
        nodes_(std::exchange(other.nodes_, 0)) {
    other.root_ = nullptr;
  }

  name_index& operator=(name_index&& other) noexcept {
    if (this != &other) {
      detail::destroy_trie(root_);
      root_ = std::move(other.root_);
      size_ = std::exchange(other.size_, 0);
      nodes_ = std::exchange(other.nodes_, 0);
    }
    return *this;
  }

  ~name_index() {
    detail::destroy_trie(root_);
  }

  /// Stores `value` for `name`, replacing an earlier value. Returns true if
  /// the name is new.
  bool insert(std::string_view name, Value value) {
    if (!root_)
      root_ = std::make_unique<node>();
    auto n = root_.get();
    for (size_t pos = 0; pos <= name.size();) {
      auto [level, next] = detail::level_at(name, pos);
      auto before = n->children.size();
      n = n->add_child(level);
      pos = next;
      if (n->parent->children.size() != before)
        ++nodes_;
    }
    auto& p = n->payload;
    bool added = !p.value.has_value();
    if (added) {
      p.name = std::string{name};
      ++size_;
    }
    p.value = std::move(value);
    return added;
  }

  /// Removes `name`; frees the nodes nothing else uses. Returns true if it
  /// was present.
  bool erase(std::string_view name) {
    auto n = find_node(name);
    if (n == nullptr || !n->payload.value)
      return false;
    n->payload.value.reset();
    std::string{}.swap(n->payload.name);
    --size_;
    nodes_ -= detail::prune_trie(
        n, [](const node& x) { return !x.payload.value.has_value(); });
    return true;
  }

  /// The value stored for `name`, or nullptr.
  Value* find(std::string_view name) {
    auto n = find_node(name);
    return n != nullptr && n->payload.value ? &*n->payload.value : nullptr;
  }

  /// Calls `f(name, value&)` for every stored name that `filter` matches, in
  /// no particular order. Visits only the branches the filter can match.
  template <class F>
  void for_each_match(std::string_view filter, F&& f) {
    if (filter.empty() || !root_)
      return;
    const auto done = filter.size() + 1;
    auto root = root_.get();
    auto report = [&f](node* n) {
      if (n->payload.value)
        f(std::string_view{n->payload.name}, *n->payload.value);
    };
    auto is_dollar = [](const node* n) {
      return !n->label.empty() && n->label.front() == '$';
    };
    std::vector<std::pair<node*, size_t>> stack;
    std::vector<node*> subtree;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto [n, pos] = stack.back();
      stack.pop_back();
      if (pos == done) {
        report(n);
        continue;
      }
      auto [level, next] = detail::level_at(filter, pos);
      if (level == "#") {
        // The parent level ("a/#" matches "a") and everything below.
        if (n != root)
          report(n);
        for (auto& kvp : n->children)
          if (n != root || !is_dollar(kvp.second.get()))
            subtree.push_back(kvp.second.get());
        while (!subtree.empty()) {
          auto s = subtree.back();
          subtree.pop_back();
          report(s);
          for (auto& kvp : s->children)
            subtree.push_back(kvp.second.get());
        }
      } else if (level == "+") {
        for (auto& kvp : n->children)
          if (n != root || !is_dollar(kvp.second.get()))
            stack.emplace_back(kvp.second.get(), next);
      } else if (auto exact = n->child(level)) {
        stack.emplace_back(exact, next);
      }
    }
  }

  /// Calls `f(name, value&)` for every stored name.
  template <class F>
  void for_each(F&& f) {
    if (!root_)
      return;
    std::vector<node*> stack{root_.get()};
    while (!stack.empty()) {
      auto n = stack.back();
      stack.pop_back();
      if (n->payload.value)
        f(std::string_view{n->payload.name}, *n->payload.value);
      for (auto& kvp : n->children)
        stack.push_back(kvp.second.get());
    }
  }

  /// Number of stored names.
  size_t size() const noexcept {
    return size_;
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  /// Number of trie nodes besides the root (0 when empty).
  size_t node_count() const noexcept {
    return nodes_;
  }

  void clear() {
    detail::destroy_trie(root_);
    size_ = 0;
    nodes_ = 0;
  }

private:
  struct payload_type {
    std::string name; ///< the whole name while `value` is set
    std::optional<Value> value;
  };

  using node = detail::topic_trie_node<payload_type>;

  node* find_node(std::string_view name) const {
    auto n = root_.get();
    for (size_t pos = 0; n != nullptr && pos <= name.size();) {
      auto [level, next] = detail::level_at(name, pos);
      n = n->child(level);
      pos = next;
    }
    return n;
  }

  std::unique_ptr<node> root_;
  size_t size_ = 0;
  size_t nodes_ = 0;
};

} // namespace castor::mqtt
