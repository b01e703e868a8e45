#pragma once

// Topic names and filters: validation, shared subscriptions and matching
// (MQTT 5.0 section 4.7 and 4.8.2). Pure C++17.

#include <cstdint>
#include <string>
#include <string_view>

namespace castor::mqtt {

/// A topic name a client may publish to: 1..65535 bytes, valid MQTT UTF-8,
/// no '+' or '#'.
bool valid_topic_name(std::string_view name) noexcept;

/// A topic filter as parsed from SUBSCRIBE or UNSUBSCRIBE. `group` and
/// `filter` are views into the string given to parse_filter.
struct filter_info {
  bool valid = false;
  bool shared = false;     ///< a $share/{group}/{filter}
  bool wildcard = false;   ///< contains '+' or '#'
  bool delta = false;      ///< a $delta/{subject}: values and deltas
  std::string_view group;  ///< share group name when shared
  std::string_view filter; ///< the filter proper (without $share/group/)
  /// What topic names are matched against: the filter proper without
  /// `$delta/` (the filter proper itself when not a delta subscription).
  std::string_view subject;
};

/// The prefix of delta subscriptions: `$delta/{filter}` receives the
/// topics `{filter}` matches as whole values and deltas, on
/// `$delta/{topic}` (docs/platform.md).
inline constexpr std::string_view delta_prefix = "$delta/";

/// Validates a filter: not empty, valid UTF-8, '#' only last and alone in
/// its level, '+' alone in its level; a $share/{group}/{filter} needs a
/// non-empty group without '+', '#' or '/', and a valid non-empty filter;
/// a $delta/{subject} a valid non-empty subject that is neither shared nor
/// itself a $delta/ filter.
filter_info parse_filter(std::string_view filter) noexcept;

/// True if `topic` (a valid topic name) matches `filter` (a valid non-shared
/// filter). A filter starting with a wildcard does not match a topic whose
/// first level begins with '$'.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

/// True for `$castor` and `$delta` and the names and filters below them:
/// the server's own (the platform API, the delta form of topics), never
/// published into by clients; clients subscribe to `$castor` never and to
/// `$delta` only as a delta subscription (parse_filter's `delta`).
inline bool reserved_topic(std::string_view name) noexcept {
  for (std::string_view root : {"$castor", "$delta"})
    if (name.compare(0, root.size(), root) == 0
        && (name.size() == root.size() || name[root.size()] == '/'))
      return true;
  return false;
}

} // namespace castor::mqtt
