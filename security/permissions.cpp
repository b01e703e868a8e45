#include "security/permissions.hpp"

namespace castor::security {

namespace {

constexpr std::string_view names[permission_count] = {
    "VIEW_SESSION",    "MODIFY_SESSION", "REGISTER_HANDLER",
    "VIEW_SERVER",     "CONTROL_SERVER", "VIEW_SECURITY",
    "MODIFY_SECURITY", "SELECT_TOPIC",   "READ_TOPIC",
    "UPDATE_TOPIC",    "MODIFY_TOPIC",   "SEND_TO_MESSAGE_HANDLER",
    "SEND_TO_SESSION",
};

} // namespace

std::string_view to_string(permission p) noexcept {
  auto i = static_cast<size_t>(p);
  return i < permission_count ? names[i] : std::string_view{"?"};
}

std::optional<permission> parse_permission(std::string_view name) noexcept {
  for (size_t i = 0; i < permission_count; ++i)
    if (names[i] == name)
      return static_cast<permission>(i);
  return std::nullopt;
}

std::string permission_set::to_string() const {
  std::string out = "[";
  for (size_t i = 0; i < permission_count; ++i) {
    auto p = static_cast<permission>(i);
    if (contains(p)) {
      if (out.size() > 1)
        out += ", ";
      out += security::to_string(p);
    }
  }
  out += ']';
  return out;
}

} // namespace castor::security
