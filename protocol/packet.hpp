#pragma once

// The MQTT 5.0 / 3.1.1 packet model. Plain values, no I/O: the frame parser
// (codec.hpp) produces them and the serializer writes them for either version.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/reason_code.hpp"

namespace castor::mqtt {

enum class protocol_version : uint8_t {
  v311 = 4, ///< MQTT 3.1.1 (protocol level 4)
  v5 = 5,   ///< MQTT 5.0 (protocol level 5)
};

enum class packet_type : uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

std::string_view to_string(packet_type t) noexcept;

/// MQTT 5.0 property identifiers (spec section 2.2.2.2).
enum class property_id : uint8_t {
  payload_format_indicator = 0x01,
  message_expiry_interval = 0x02,
  content_type = 0x03,
  response_topic = 0x08,
  correlation_data = 0x09,
  subscription_identifier = 0x0B,
  session_expiry_interval = 0x11,
  assigned_client_identifier = 0x12,
  server_keep_alive = 0x13,
  authentication_method = 0x15,
  authentication_data = 0x16,
  request_problem_information = 0x17,
  will_delay_interval = 0x18,
  request_response_information = 0x19,
  response_information = 0x1A,
  server_reference = 0x1C,
  reason_string = 0x1F,
  receive_maximum = 0x21,
  topic_alias_maximum = 0x22,
  topic_alias = 0x23,
  maximum_qos = 0x24,
  retain_available = 0x25,
  user_property = 0x26,
  maximum_packet_size = 0x27,
  wildcard_subscription_available = 0x28,
  subscription_identifier_available = 0x29,
  shared_subscription_available = 0x2A,
};

std::string_view to_string(property_id id) noexcept;

using user_property = std::pair<std::string, std::string>;

/// Every MQTT 5.0 property. Which may appear in which packet is decided by one
/// table in the codec (property_allowed); a 3.1.1 peer gets none of them.
struct properties {
  std::optional<uint8_t> payload_format_indicator;
  std::optional<uint32_t> message_expiry_interval;
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data; ///< binary data
  /// PUBLISH may carry several; SUBSCRIBE at most one.
  std::vector<uint32_t> subscription_identifiers;
  std::optional<uint32_t> session_expiry_interval;
  std::optional<std::string> assigned_client_identifier;
  std::optional<uint16_t> server_keep_alive;
  std::optional<std::string> authentication_method;
  std::optional<std::string> authentication_data; ///< binary data
  std::optional<uint8_t> request_problem_information;
  std::optional<uint32_t> will_delay_interval;
  std::optional<uint8_t> request_response_information;
  std::optional<std::string> response_information;
  std::optional<std::string> server_reference;
  std::optional<std::string> reason_string;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<uint16_t> topic_alias;
  std::optional<uint8_t> maximum_qos;
  std::optional<uint8_t> retain_available;
  std::vector<user_property> user_properties;
  std::optional<uint32_t> maximum_packet_size;
  std::optional<uint8_t> wildcard_subscription_available;
  std::optional<uint8_t> subscription_identifier_available;
  std::optional<uint8_t> shared_subscription_available;

  bool empty() const noexcept;
  bool operator==(const properties& other) const;
  bool operator!=(const properties& other) const {
    return !(*this == other);
  }
};

struct will_message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  properties props; ///< will properties
  bool operator==(const will_message&) const;
};

struct connect {
  protocol_version version = protocol_version::v5;
  bool clean_start = true;
  uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password; ///< binary data
  properties props;
  bool operator==(const connect&) const;
};

struct connack {
  bool session_present = false;
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const connack&) const;
};

struct publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string topic;      ///< may be empty in v5 when a topic alias is set
  uint16_t packet_id = 0; ///< only for QoS 1 and 2
  properties props;
  std::string payload;
  bool operator==(const publish&) const;
};

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape.
template <packet_type Type>
struct basic_ack {
  static constexpr packet_type type = Type;
  uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const basic_ack& o) const {
    return packet_id == o.packet_id && code == o.code && props == o.props;
  }
};

using puback = basic_ack<packet_type::puback>;
using pubrec = basic_ack<packet_type::pubrec>;
using pubrel = basic_ack<packet_type::pubrel>;
using pubcomp = basic_ack<packet_type::pubcomp>;

/// One topic filter of a SUBSCRIBE with its subscription options.
struct subscription {
  std::string filter;
  uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0; ///< 0 send, 1 send if new, 2 do not send
  bool operator==(const subscription&) const;
};

struct subscribe {
  uint16_t packet_id = 0;
  std::vector<subscription> subscriptions;
  properties props;
  bool operator==(const subscribe&) const;
};

struct suback {
  uint16_t packet_id = 0;
  std::vector<reason_code> codes;
  properties props;
  bool operator==(const suback&) const;
};

struct unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
  properties props;
  bool operator==(const unsubscribe&) const;
};

struct unsuback {
  uint16_t packet_id = 0;
  std::vector<reason_code> codes; ///< empty for 3.1.1
  properties props;
  bool operator==(const unsuback&) const;
};

struct pingreq {
  bool operator==(const pingreq&) const {
    return true;
  }
};

struct pingresp {
  bool operator==(const pingresp&) const {
    return true;
  }
};

struct disconnect {
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const disconnect&) const;
};

struct auth {
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const auth&) const;
};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel,
                            pubcomp, subscribe, suback, unsubscribe, unsuback,
                            pingreq, pingresp, disconnect, auth>;

/// The packet type of a packet value.
packet_type type_of(const packet& p) noexcept;

} // namespace castor::mqtt
