#pragma once

// Topic specifications: a topic's type and properties, parsed and checked
// once (when a topic is added through the API or a mapping rule), with the
// two small languages of its properties: removal policies (REMOVAL) and
// ranges (TIME_SERIES_RETAINED_RANGE, TIME_SERIES_SUBSCRIPTION_RANGE).
// Pure C++17: what the topic actors and the API build on.
//
// Property names and values are strings, as the API carries them
// (`{"type": "json", "properties": {"CONFLATION": "always"}}`); a bad one
// gets an error naming the property and what was expected.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/session_filter.hpp"

namespace castor {

enum class topic_type : uint8_t {
  json,
  string,
  int64,
  double_,
  binary,
  time_series,
};

/// The API's names: json, string, int64, double, binary, time_series.
std::string_view to_string(topic_type t) noexcept;
std::optional<topic_type> parse_topic_type(std::string_view name) noexcept;

/// CONFLATION: what a session's queue does with several pending updates of
/// one topic.
enum class conflation_mode : uint8_t {
  off,         ///< every update is kept
  conflate,    ///< only the latest, while the subscriber is behind
  always,      ///< only the latest, always
  unsubscribe, ///< a subscriber that falls behind is unsubscribed
};

std::string_view to_string(conflation_mode m) noexcept;

/// A parse error: where in the text (byte offset) and what was expected.
struct expression_error {
  size_t offset = 0;
  std::string message;
};

// -- removal policies ---------------------------------------------------------

/// One condition of a removal policy.
struct removal_condition {
  enum class kind : uint8_t {
    no_updates_for,          ///< `no updates for 10m`
    subscriptions_below_for, ///< `subscriptions < N for 5m`
    session_closes,          ///< `this session closes`
    time_after,              ///< `time after <ms since epoch>`
    no_session_for,          ///< `no session has '<filter>' for 5s`
  };
  kind what = kind::session_closes;
  std::chrono::milliseconds period{0}; ///< the `for` part
  uint64_t number = 0; ///< N of `subscriptions < N`, or the epoch ms
  /// The session filter of `no session has` (its text, and parsed).
  std::shared_ptr<const session_filter> sessions;
};

/// A removal policy: conditions joined with `and` / `or` (and binds
/// tighter), grouped with parentheses, after one leading `when`.
struct removal_policy {
  struct node {
    enum class op : uint8_t { condition, all, any };
    op what = op::condition;
    removal_condition condition; ///< for op::condition
    std::vector<node> parts;     ///< for op::all (and) and op::any (or)
  };
  node root;

  /// What the topic knows when it checks its policy (times in ms since
  /// the epoch). `below_since(n)`: since when fewer than n sessions have
  /// subscribed to it, none if n or more have now.
  struct facts {
    int64_t now = 0;
    int64_t last_update = 0; ///< or the topic's creation
    std::function<std::optional<int64_t>(uint64_t)> below_since;
    bool session_closed = false; ///< the session that added it has closed
    /// Since when no session the filter selects has existed, none if one
    /// exists now (`no session has`).
    std::function<std::optional<int64_t>(const session_filter&)> none_since;
  };
  /// True when the topic should be removed now.
  bool due(const facts& f) const;

  /// The canonical text (`when no updates for 10m and ...`): two
  /// policies with the same text mean the same.
  std::string to_string() const;
};

/// Parses a REMOVAL property: `when` and conditions joined with `and`,
/// `or` and parentheses; periods are a whole number with s, m, h or d.
std::variant<removal_policy, expression_error>
parse_removal_policy(std::string_view text);

/// A period: a whole number directly followed by ms, s, m, h or d (`10m`).
std::optional<std::chrono::milliseconds> parse_period(std::string_view text);

// -- ranges -------------------------------------------------------------------

/// Which events of a time series are kept (or sent to a new subscriber):
/// the last `limit` events, those of the last `last`, or both, whichever
/// keeps fewer.
struct range_expression {
  std::optional<uint64_t> limit;
  std::optional<std::chrono::milliseconds> last;

  /// Whether an event is in range: `newer` events come after it and it is
  /// `age` old.
  bool keeps(uint64_t newer, std::chrono::milliseconds age) const noexcept {
    return (!limit || newer < *limit) && (!last || age <= *last);
  }
  /// `limit 100 last 1h`; "" when unbounded.
  std::string to_string() const;
};

/// Parses `limit N`, `last 10s` or both (either order, each at most once);
/// an empty text is an unbounded range.
std::variant<range_expression, expression_error>
parse_range(std::string_view text);

// -- specifications -----------------------------------------------------------

struct topic_specification {
  topic_type type = topic_type::binary;
  bool dont_retain_value = false;
  bool publish_values_only = false;
  bool validate_values = false;
  bool tidy_on_unsubscribe = false;
  conflation_mode conflation = conflation_mode::off;
  std::optional<removal_policy> removal;
  std::string owner; ///< a principal with read, update and modify rights
  /// Time series only.
  std::optional<topic_type> event_type;
  range_expression retained_range;
  range_expression subscription_range;

  /// The properties in canonical form (what was given, normalised; no
  /// defaults added): equal specifications have equal properties.
  std::map<std::string, std::string> properties() const;
};

bool operator==(const topic_specification& a, const topic_specification& b);
inline bool operator!=(const topic_specification& a,
                       const topic_specification& b) {
  return !(a == b);
}

/// Why a specification was refused: the property ("" for the type) and
/// what is wrong with it.
struct specification_error {
  std::string property;
  std::string message;
};

/// Checks a type and its properties (names as in the API, values as
/// strings: booleans `true` / `false`).
std::variant<topic_specification, specification_error>
make_specification(std::string_view type,
                   const std::map<std::string, std::string>& properties);

} // namespace castor
