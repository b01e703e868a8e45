#pragma once

// Topic selectors: what the platform API's operations select topics by
// (docs/platform.md, "Topic selectors"). One parser and one matcher, pure
// C++17 (regular expressions with RE2: linear time whatever the pattern,
// so a client's pattern cannot stall the server):
//
//   a/+/c, #, a/b        an MQTT topic filter (no selector character first;
//                        a name without wildcards selects that path)
//   >a/b                 a path
//   ?sensors/.*/temp     split-path pattern: each part a regular expression
//                        of one level (the whole level)
//   *sensors/.*          full-path pattern: one regular expression of the
//                        whole path
//   #>a////?b/.*         a selector set: any of its members (`////` apart)
//
// Path and pattern selectors take a qualifier at the end: `/` selects the
// descendants of what they select (only), `//` it and its descendants. A
// topic whose first level starts with `$` is selected only by a selector
// whose literal prefix starts with `$` (MQTT's `$` rule).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace re2 {
class RE2;
}

namespace castor {

class topic_selector {
public:
  enum class kind : uint8_t { filter, path, split_pattern, full_pattern, set };
  enum class qualifier : uint8_t {
    itself,                 ///< what the expression selects
    descendants,            ///< `/`: only what lies below it
    itself_and_descendants, ///< `//`
  };

  kind what() const noexcept {
    return kind_;
  }
  qualifier scope() const noexcept {
    return scope_;
  }
  /// The expression as given.
  const std::string& text() const noexcept {
    return text_;
  }
  /// The literal path prefix every selected topic lies at or under, whole
  /// levels ("" for the root): what permission checks and the topic tree
  /// start from.
  const std::string& prefix() const noexcept {
    return prefix_;
  }
  /// A set's members (empty for others).
  const std::vector<topic_selector>& members() const noexcept {
    return members_;
  }

  /// Whether the topic `path` (a valid topic name) is selected.
  bool selects(std::string_view path) const;

private:
  friend struct selector_parser;
  bool base_selects(std::string_view path) const;

  kind kind_ = kind::filter;
  qualifier scope_ = qualifier::itself;
  std::string text_;
  std::string prefix_;
  std::string body_; ///< filter, path or pattern without prefix/qualifier
  std::vector<std::shared_ptr<const re2::RE2>> parts_; ///< compiled once
  std::vector<topic_selector> members_;
};

struct selector_error {
  size_t offset = 0;
  std::string message;
};

/// Most bytes of a selector, members of a set, and memory of one compiled
/// pattern.
inline constexpr size_t max_selector_size = 4096;
inline constexpr size_t max_selector_members = 64;

std::variant<topic_selector, selector_error>
parse_selector(std::string_view text);

/// A session's subscription by selector (topics/subscribe) is known to the
/// session, the topic tree and the topics by a key no MQTT subscription
/// can have (clients may not subscribe under `$castor/`): the prefix, `d/`
/// for a subscription that receives deltas or `v/` for whole values, and
/// the selector's text.
inline constexpr std::string_view selector_key_prefix = "$castor/selector/";

std::string selector_key(std::string_view text, bool delta);

struct selector_key_info {
  std::string_view text; ///< the selector
  bool delta = false;
};

/// The selector and form of a key made by selector_key; nothing for any
/// other text (an MQTT filter).
std::optional<selector_key_info> parse_selector_key(std::string_view key);

} // namespace castor
