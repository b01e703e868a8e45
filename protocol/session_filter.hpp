#pragma once

// Session filters: what the platform API selects sessions by
// (docs/platform.md, "Session filters"). One parser and one evaluator, pure
// C++17 (regular expressions with RE2, linear time):
//
//   $Principal is 'alice'         also `eq`; a property equal to the text
//   $Transport ne 'tcp'           not equal (true when the property is absent)
//   $ClientId matches 'dev-.*'    the whole value matches the expression
//   region in ['eu', 'us']        equal to one of the texts
//   has region                    the property is set
//   hasRoles ['ADMIN', 'OPS']     the session has every one of the roles
//   all                           every session
//
// combined with `not`, `and`, `or` (binding in that order) and parentheses.
// Keywords are case-insensitive; keys are property names (letters, digits,
// `$ _ - .`) or quoted; texts are quoted with ' or ", with backslash
// escapes (\' \" \\).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace re2 {
class RE2;
}

namespace castor {

/// The fixed properties of a server's session (`$SessionId` ... `$StartTime`;
/// `$Roles` comes from the roles), kept as fields: a map entry each would
/// cost every connected client about a kilobyte.
struct session_fixed {
  std::string session_id;
  std::string client_id;
  std::string principal;
  std::string client_ip;
  std::string transport;
  std::string listener;
  std::string start_time;
  bool connected = false;
};

/// What a filter is evaluated against.
struct session_facts {
  /// Properties by name: with `fixed` unset, every one; with it set, the
  /// others (a CONNECT's user properties, those set through the API).
  std::map<std::string, std::string, std::less<>> properties;
  std::set<std::string, std::less<>> roles;
  std::optional<session_fixed> fixed;

  /// The value of property `key` (`scratch` holds it when it is made here,
  /// as `$Roles`); nothing when the session has no such property.
  std::optional<std::string_view> find(std::string_view key,
                                       std::string& scratch) const;

  /// Every property by name, the fixed ones included.
  std::map<std::string, std::string, std::less<>> all() const;
};

struct session_filter_error;

class session_filter {
public:
  struct node;

  /// Whether the session with these facts is selected.
  bool selects(const session_facts& s) const;

  /// The filter as given.
  const std::string& text() const noexcept {
    return text_;
  }

private:
  friend std::variant<session_filter, session_filter_error>
  parse_session_filter(std::string_view text);
  std::string text_;
  std::shared_ptr<const node> root_;
};

struct session_filter::node {
  enum class kind : uint8_t {
    all,
    is,
    ne,
    matches,
    in,
    has,
    has_roles,
    not_,
    and_,
    or_
  };
  kind what = kind::all;
  std::string key;
  std::vector<std::string> texts;             ///< is/ne: one; in, hasRoles
  std::shared_ptr<const re2::RE2> pattern;    ///< matches
  std::vector<std::shared_ptr<const node>> operands; ///< not, and, or
};

struct session_filter_error {
  size_t offset = 0;
  std::string message;
};

/// Most bytes of a filter, nesting depth, texts in a list.
inline constexpr size_t max_session_filter_size = 4096;
inline constexpr size_t max_session_filter_depth = 32;
inline constexpr size_t max_session_filter_list = 256;

std::variant<session_filter, session_filter_error>
parse_session_filter(std::string_view text);

} // namespace castor
