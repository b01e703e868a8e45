#pragma once

// Two tries for the topic tree: subscription filters searched with a topic
// name (filter_index) and topic names searched with a filter (name_index).
// Pure C++17, header-only.
//
// Both split their strings at '/' into levels and keep one trie node per
// distinct prefix of levels, so "a//b", "/a" and "a/" have their empty levels
// as ordinary nodes. Finding a node's child for an exact level costs a scan
// of at most 8 children or one hash lookup, whatever the fan-out.
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
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace castor::mqtt {

namespace detail {

/// A trie node. `label` is this node's level. Children live in a vector
/// (each knows its slot, so removal is O(1)); past `index_threshold`
/// children a hash index from level to child is added, so an exact level costs
/// a short scan or one hash lookup whatever the fan-out. `payload` is set only
/// on nodes that end a stored filter or name.
template <class Payload>
struct topic_trie_node {
  static constexpr size_t index_threshold = 8;

  using child_index = std::unordered_map<std::string_view, topic_trie_node*>;

  std::string label;
  topic_trie_node* parent = nullptr;
  size_t slot = 0; ///< position in parent->children
  std::vector<std::unique_ptr<topic_trie_node>> children;
  std::unique_ptr<child_index> index; ///< views into the children's labels
  std::unique_ptr<Payload> payload;

  topic_trie_node* child(std::string_view level) const {
    if (index) {
      auto i = index->find(level);
      return i == index->end() ? nullptr : i->second;
    }
    for (auto& c : children)
      if (c->label == level)
        return c.get();
    return nullptr;
  }

  /// The child for `level`, created if needed; `created` tells which.
  topic_trie_node* add_child(std::string_view level, bool& created) {
    created = false;
    if (auto existing = child(level))
      return existing;
    created = true;
    auto fresh = std::make_unique<topic_trie_node>();
    fresh->label = std::string{level};
    fresh->parent = this;
    fresh->slot = children.size();
    auto ptr = fresh.get();
    children.push_back(std::move(fresh));
    if (index) {
      index->emplace(std::string_view{ptr->label}, ptr);
    } else if (children.size() > index_threshold) {
      index = std::make_unique<child_index>();
      index->reserve(children.size() * 2);
      for (auto& c : children)
        index->emplace(std::string_view{c->label}, c.get());
    }
    return ptr;
  }

  /// Detaches child `c` and returns it.
  std::unique_ptr<topic_trie_node> remove_child(topic_trie_node* c) {
    if (index)
      index->erase(std::string_view{c->label});
    auto pos = c->slot;
    auto result = std::move(children[pos]);
    if (pos + 1 != children.size()) {
      children[pos] = std::move(children.back());
      children[pos]->slot = pos;
    }
    children.pop_back();
    if (index && children.size() <= index_threshold / 2)
      index.reset();
    return result;
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
    n->index.reset();
    for (auto& c : n->children)
      pending.push_back(std::move(c));
    n->children.clear();
  }
}

/// Removes `n` and then each ancestor that became empty (no payload, no
/// children), stopping at the root. Returns the number of nodes removed.
template <class Node>
size_t prune_trie(Node* n) {
  size_t removed = 0;
  while (n->parent != nullptr && n->children.empty() && !n->payload) {
    auto parent = n->parent;
    parent->remove_child(n);
    ++removed;
    n = parent;
  }
  return removed;
}

/// Walks `path` level by level from `n`, creating missing nodes; adds the
/// number of new nodes to `count`.
template <class Node>
Node* make_path(Node* n, std::string_view path, size_t& count) {
  for (size_t pos = 0; pos <= path.size();) {
    auto end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    bool created = false;
    n = n->add_child(path.substr(pos, end - pos), created);
    if (created)
      ++count;
    pos = end + 1;
  }
  return n;
}

/// Walks `path` level by level from `n`; nullptr if a level is missing.
template <class Node>
Node* find_path(Node* n, std::string_view path) {
  for (size_t pos = 0; n != nullptr && pos <= path.size();) {
    auto end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    n = n->child(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return n;
}

} // namespace detail

/// Subscription filters with a key (subscriber id: anything hashable, such
/// as an actor address, unique across nodes) and a value per entry; answers
/// "which stored filters match this topic name?".
template <class Value, class Key = uint64_t>
class filter_index {
public:
  using key_type = Key;

  filter_index() = default;

  filter_index(const filter_index&) = delete;
  filter_index& operator=(const filter_index&) = delete;

  filter_index(filter_index&& other) noexcept
      : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)),
        nodes_(std::exchange(other.nodes_, 0)) {}

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
    if (!root_)
      root_ = std::make_unique<node>();
    auto n = detail::make_path(root_.get(), filter, nodes_);
    if (!n->payload) {
      n->payload = std::make_unique<payload_type>();
      n->payload->filter = std::string{filter};
    }
    auto& entries = n->payload->entries;
    bool added = entries.insert_or_assign(key, std::move(value)).second;
    if (added)
      ++size_;
    return added;
  }

  /// Removes (`filter`, `key`); frees the nodes nothing else uses. Returns
  /// true if the entry existed.
  bool erase(std::string_view filter, key_type key) {
    auto n = find_node(filter);
    if (n == nullptr || !n->payload || n->payload->entries.erase(key) == 0)
      return false;
    --size_;
    if (n->payload->entries.empty()) {
      n->payload.reset();
      nodes_ -= detail::prune_trie(n);
    }
    return true;
  }

  /// The value of (`filter`, `key`), or nullptr.
  Value* find(std::string_view filter, key_type key) {
    auto n = find_node(filter);
    if (n == nullptr || !n->payload)
      return nullptr;
    auto& entries = n->payload->entries;
    auto i = entries.find(key);
    return i == entries.end() ? nullptr : &i->second;
  }

  /// Calls `f(key, value&)` for every entry stored under exactly `filter`
  /// (wildcards are not expanded). Returns the number of entries visited.
  template <class F>
  size_t for_each_entry(std::string_view filter, F&& f) {
    auto n = find_node(filter);
    if (n == nullptr || !n->payload)
      return 0;
    for (auto& kvp : n->payload->entries)
      f(kvp.first, kvp.second);
    return n->payload->entries.size();
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
      if (n == nullptr || !n->payload)
        return;
      std::string_view filter{n->payload->filter};
      for (auto& kvp : n->payload->entries)
        f(filter, kvp.first, kvp.second);
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
      auto end = topic.find('/', pos);
      if (end == std::string_view::npos)
        end = topic.size();
      auto next = end + 1;
      if (!(dollar && n == root_.get())) {
        report(n->child("#"));
        if (auto plus = n->child("+"))
          stack.emplace_back(plus, next);
      }
      if (auto exact = n->child(topic.substr(pos, end - pos)))
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
      if (n->payload)
        for (auto& kvp : n->payload->entries)
          f(std::string_view{n->payload->filter}, kvp.first, kvp.second);
      for (auto& c : n->children)
        stack.push_back(c.get());
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
    std::string filter; ///< the whole filter
    std::unordered_map<key_type, Value> entries;
  };

  using node = detail::topic_trie_node<payload_type>;

  node* find_node(std::string_view filter) const {
    return detail::find_path(root_.get(), filter);
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
  name_index() = default;

  name_index(const name_index&) = delete;
  name_index& operator=(const name_index&) = delete;

  name_index(name_index&& other) noexcept
      : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)),
        nodes_(std::exchange(other.nodes_, 0)) {}

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
    auto n = detail::make_path(root_.get(), name, nodes_);
    if (n->payload) {
      n->payload->value = std::move(value);
      return false;
    }
    n->payload.reset(new payload_type{std::string{name}, std::move(value)});
    ++size_;
    return true;
  }

  /// Removes `name`; frees the nodes nothing else uses. Returns true if it
  /// was present.
  bool erase(std::string_view name) {
    auto n = find_node(name);
    if (n == nullptr || !n->payload)
      return false;
    n->payload.reset();
    --size_;
    nodes_ -= detail::prune_trie(n);
    return true;
  }

  /// The value stored for `name`, or nullptr.
  Value* find(std::string_view name) {
    auto n = find_node(name);
    return n != nullptr && n->payload ? &n->payload->value : nullptr;
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
      if (n->payload)
        f(std::string_view{n->payload->name}, n->payload->value);
    };
    // The $-rule: wildcards at the root skip names starting with '$'.
    auto skip = [root](const node* parent, const node* child) {
      return parent == root && !child->label.empty()
             && child->label.front() == '$';
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
      auto end = filter.find('/', pos);
      if (end == std::string_view::npos)
        end = filter.size();
      auto level = filter.substr(pos, end - pos);
      auto next = end + 1;
      if (level == "#") {
        // The parent level ("a/#" matches "a") and everything below.
        if (n != root)
          report(n);
        for (auto& c : n->children)
          if (!skip(n, c.get()))
            subtree.push_back(c.get());
        while (!subtree.empty()) {
          auto s = subtree.back();
          subtree.pop_back();
          report(s);
          for (auto& c : s->children)
            subtree.push_back(c.get());
        }
      } else if (level == "+") {
        for (auto& c : n->children)
          if (!skip(n, c.get()))
            stack.emplace_back(c.get(), next);
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
      if (n->payload)
        f(std::string_view{n->payload->name}, n->payload->value);
      for (auto& c : n->children)
        stack.push_back(c.get());
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
    std::string name; ///< the whole name
    Value value;
  };

  using node = detail::topic_trie_node<payload_type>;

  node* find_node(std::string_view name) const {
    return detail::find_path(root_.get(), name);
  }

  std::unique_ptr<node> root_;
  size_t size_ = 0;
  size_t nodes_ = 0;
};

} // namespace castor::mqtt
