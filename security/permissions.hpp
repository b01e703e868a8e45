#pragma once

// The permission vocabulary of Castor's security model: global permissions
// (about the server as a whole) and path permissions (about a topic path and,
// by inheritance, the paths below it).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor::security {

/// Every permission a role can grant. The first seven are global, the rest
/// apply to topic paths.
enum class permission : uint8_t {
  // global
  view_session,
  modify_session,
  register_handler,
  view_server,
  control_server,
  view_security,
  modify_security,
  // path
  select_topic,
  read_topic,
  update_topic,
  modify_topic,
  send_to_message_handler,
  send_to_session,
};

constexpr size_t permission_count = 13;

/// True for the permissions that are checked against a topic path.
constexpr bool is_path_permission(permission p) noexcept {
  return static_cast<uint8_t>(p)
         >= static_cast<uint8_t>(permission::select_topic);
}

/// The name used in the store ("READ_TOPIC").
std::string_view to_string(permission p) noexcept;

/// Parses a store name ("READ_TOPIC"); case-sensitive.
std::optional<permission> parse_permission(std::string_view name) noexcept;

/// A set of permissions.
class permission_set {
public:
  constexpr permission_set() noexcept = default;

  void add(permission p) noexcept {
    bits_ |= bit(p);
  }

  bool contains(permission p) const noexcept {
    return (bits_ & bit(p)) != 0;
  }

  bool empty() const noexcept {
    return bits_ == 0;
  }

  permission_set& operator|=(permission_set other) noexcept {
    bits_ |= other.bits_;
    return *this;
  }

  friend bool operator==(permission_set a, permission_set b) noexcept {
    return a.bits_ == b.bits_;
  }

  friend bool operator!=(permission_set a, permission_set b) noexcept {
    return a.bits_ != b.bits_;
  }

  /// "[READ_TOPIC, UPDATE_TOPIC]", in declaration order.
  std::string to_string() const;

private:
  static constexpr uint32_t bit(permission p) noexcept {
    return uint32_t{1} << static_cast<uint8_t>(p);
  }

  uint32_t bits_ = 0;
};

} // namespace castor::security
