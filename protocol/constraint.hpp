#pragma once

// Update constraints: conditions a topic checks before it applies an
// update (`topics/update` with a `constraint`), and the session locks they
// may name. Pure C++17: the topic actor evaluates them against its state.
//
// The API form is JSON:
//
//   {"value": V}                       the current value equals V
//   {"no_value": true}                 the topic exists and has no value
//   {"no_topic": true}                 no topic exists at the path
//   {"pointer": "/a/b", "equals": V}   a JSON value has V at the pointer
//   {"pointer": "/a/b", "exists": B}   ... has (B true) or lacks a value
//   {"locked": "name"}                 the caller holds the named lock
//   {"and": [C, ...]}, {"or": [C, ...]}
//
// V is JSON for JSON topics, a string for STRING, a number for INT64 and
// DOUBLE, and the bytes for BINARY (the API decodes their base64 first).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/value.hpp"

namespace castor {

struct update_constraint {
  enum class kind : uint8_t {
    value_is,
    no_value,
    no_topic,
    pointer_equals,
    pointer_exists,
    pointer_absent,
    locked,
    all,
    any,
  };
  kind what = kind::no_topic;
  nlohmann::json operand;               ///< V
  std::string text;                     ///< the pointer or the lock name
  std::vector<update_constraint> parts; ///< of all / any
};

/// What the topic knows when it checks a constraint.
struct constraint_facts {
  bool topic_exists = false;
  const typed_value* current = nullptr; ///< null: no value
  /// Whether the calling session holds a lock.
  std::function<bool(const std::string&)> holds_lock;
};

bool satisfied(const update_constraint& c, const constraint_facts& f);

/// Reads the API form; an error text names what is wrong (nesting is
/// bounded to 16 levels, and/or lists to 64 parts).
std::variant<update_constraint, std::string>
parse_constraint(const nlohmann::json& j);

/// Named locks owned by sessions, with waiters in order and a fencing
/// token per grant (larger for every later grant of the same lock), so a
/// holder that lost its lock can be told apart from the current one.
class lock_table {
public:
  struct grant {
    std::string lock;
    std::string session;
    uint64_t token = 0;
  };

  /// Grants the lock at once (returned) or queues `session` behind the
  /// holder. A session that holds the lock gets its grant again.
  std::optional<grant> acquire(const std::string& lock,
                               const std::string& session);
  /// Releases a lock `session` holds (or stops its waiting); the grant to
  /// the next waiter, if any.
  std::optional<grant> release(const std::string& lock,
                               const std::string& session);
  /// A session has closed: releases its locks and its waits; the grants to
  /// the next waiters.
  std::vector<grant> session_closed(const std::string& session);

  bool holds(const std::string& lock, const std::string& session) const;
  /// How many sessions wait for the lock.
  size_t waiting(const std::string& lock) const;
  /// Whether `session` waits for the lock.
  bool waits(const std::string& lock, const std::string& session) const;
  size_t size() const noexcept {
    return locks_.size();
  }
  /// The next grant's token is larger than `floor` (a new keeper of the
  /// locks starts above every token given before it: actors/locks.hpp).
  void raise_tokens(uint64_t floor) noexcept {
    if (floor > tokens_)
      tokens_ = floor;
  }

private:
  struct entry {
    std::string holder;
    uint64_t token = 0;
    std::deque<std::string> waiting;
  };
  std::optional<grant> pass_on(const std::string& name, entry& e);

  std::map<std::string, entry> locks_;
  uint64_t tokens_ = 0;
};

} // namespace castor
