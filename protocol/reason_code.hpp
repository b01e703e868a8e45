#pragma once

#include <cstdint>
#include <string_view>

namespace castor::mqtt {

/// MQTT 5.0 reason codes (spec section 2.4), named as the specification names
/// them. MQTT 3.1.1 return codes are mapped onto these by the serializer.
enum class reason_code : uint8_t {
  success = 0x00, // also normal_disconnection and granted_qos_0
  granted_qos_1 = 0x01,
  granted_qos_2 = 0x02,
  disconnect_with_will_message = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

inline constexpr reason_code normal_disconnection = reason_code::success;
inline constexpr reason_code granted_qos_0 = reason_code::success;

/// The specification's name of a reason code ("Malformed Packet"), or
/// "Unknown" for a value the specification does not define.
std::string_view to_string(reason_code rc) noexcept;

/// True for a value the specification defines (in some packet).
bool is_known(uint8_t value) noexcept;

/// True for codes 0x80 and above.
constexpr bool is_error(reason_code rc) noexcept {
  return static_cast<uint8_t>(rc) >= 0x80;
}

} // namespace castor::mqtt
