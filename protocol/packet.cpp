#include "protocol/packet.hpp"

namespace castor::mqtt {

std::string_view to_string(packet_type t) noexcept {
  switch (t) {
  case packet_type::connect:
    return "CONNECT";
  case packet_type::connack:
    return "CONNACK";
  case packet_type::publish:
    return "PUBLISH";
  case packet_type::puback:
    return "PUBACK";
  case packet_type::pubrec:
    return "PUBREC";
  case packet_type::pubrel:
    return "PUBREL";
  case packet_type::pubcomp:
    return "PUBCOMP";
  case packet_type::subscribe:
    return "SUBSCRIBE";
  case packet_type::suback:
    return "SUBACK";
  case packet_type::unsubscribe:
    return "UNSUBSCRIBE";
  case packet_type::unsuback:
    return "UNSUBACK";
  case packet_type::pingreq:
    return "PINGREQ";
  case packet_type::pingresp:
    return "PINGRESP";
  case packet_type::disconnect:
    return "DISCONNECT";
  case packet_type::auth:
    return "AUTH";
  }
  return "UNKNOWN";
}

std::string_view to_string(property_id id) noexcept {
  switch (id) {
  case property_id::payload_format_indicator:
    return "Payload Format Indicator";
  case property_id::message_expiry_interval:
    return "Message Expiry Interval";
  case property_id::content_type:
    return "Content Type";
  case property_id::response_topic:
    return "Response Topic";
  case property_id::correlation_data:
    return "Correlation Data";
  case property_id::subscription_identifier:
    return "Subscription Identifier";
  case property_id::session_expiry_interval:
    return "Session Expiry Interval";
  case property_id::assigned_client_identifier:
    return "Assigned Client Identifier";
  case property_id::server_keep_alive:
    return "Server Keep Alive";
  case property_id::authentication_method:
    return "Authentication Method";
  case property_id::authentication_data:
    return "Authentication Data";
  case property_id::request_problem_information:
    return "Request Problem Information";
  case property_id::will_delay_interval:
    return "Will Delay Interval";
  case property_id::request_response_information:
    return "Request Response Information";
  case property_id::response_information:
    return "Response Information";
  case property_id::server_reference:
    return "Server Reference";
  case property_id::reason_string:
    return "Reason String";
  case property_id::receive_maximum:
    return "Receive Maximum";
  case property_id::topic_alias_maximum:
    return "Topic Alias Maximum";
  case property_id::topic_alias:
    return "Topic Alias";
  case property_id::maximum_qos:
    return "Maximum QoS";
  case property_id::retain_available:
    return "Retain Available";
  case property_id::user_property:
    return "User Property";
  case property_id::maximum_packet_size:
    return "Maximum Packet Size";
  case property_id::wildcard_subscription_available:
    return "Wildcard Subscription Available";
  case property_id::subscription_identifier_available:
    return "Subscription Identifier Available";
  case property_id::shared_subscription_available:
    return "Shared Subscription Available";
  }
  return "Unknown";
}

bool properties::empty() const noexcept {
  return !payload_format_indicator && !message_expiry_interval && !content_type
         && !response_topic && !correlation_data
         && subscription_identifiers.empty() && !session_expiry_interval
         && !assigned_client_identifier && !server_keep_alive
         && !authentication_method && !authentication_data
         && !request_problem_information && !will_delay_interval
         && !request_response_information && !response_information
         && !server_reference && !reason_string && !receive_maximum
         && !topic_alias_maximum && !topic_alias && !maximum_qos
         && !retain_available && user_properties.empty() && !maximum_packet_size
         && !wildcard_subscription_available
         && !subscription_identifier_available
         && !shared_subscription_available;
}

bool properties::operator==(const properties& o) const {
  return payload_format_indicator == o.payload_format_indicator
         && message_expiry_interval == o.message_expiry_interval
         && content_type == o.content_type && response_topic == o.response_topic
         && correlation_data == o.correlation_data
         && subscription_identifiers == o.subscription_identifiers
         && session_expiry_interval == o.session_expiry_interval
         && assigned_client_identifier == o.assigned_client_identifier
         && server_keep_alive == o.server_keep_alive
         && authentication_method == o.authentication_method
         && authentication_data == o.authentication_data
         && request_problem_information == o.request_problem_information
         && will_delay_interval == o.will_delay_interval
         && request_response_information == o.request_response_information
         && response_information == o.response_information
         && server_reference == o.server_reference
         && reason_string == o.reason_string
         && receive_maximum == o.receive_maximum
         && topic_alias_maximum == o.topic_alias_maximum
         && topic_alias == o.topic_alias && maximum_qos == o.maximum_qos
         && retain_available == o.retain_available
         && user_properties == o.user_properties
         && maximum_packet_size == o.maximum_packet_size
         && wildcard_subscription_available == o.wildcard_subscription_available
         && subscription_identifier_available
                == o.subscription_identifier_available
         && shared_subscription_available == o.shared_subscription_available;
}

bool will_message::operator==(const will_message& o) const {
  return topic == o.topic && payload == o.payload && qos == o.qos
         && retain == o.retain && props == o.props;
}

bool connect::operator==(const connect& o) const {
  return version == o.version && clean_start == o.clean_start
         && keep_alive == o.keep_alive && client_id == o.client_id
         && will == o.will && username == o.username && password == o.password
         && props == o.props;
}

bool connack::operator==(const connack& o) const {
  return session_present == o.session_present && code == o.code
         && props == o.props;
}

bool publish::operator==(const publish& o) const {
  return dup == o.dup && qos == o.qos && retain == o.retain && topic == o.topic
         && packet_id == o.packet_id && props == o.props
         && payload == o.payload;
}

bool subscription::operator==(const subscription& o) const {
  return filter == o.filter && max_qos == o.max_qos && no_local == o.no_local
         && retain_as_published == o.retain_as_published
         && retain_handling == o.retain_handling;
}

bool subscribe::operator==(const subscribe& o) const {
  return packet_id == o.packet_id && subscriptions == o.subscriptions
         && props == o.props;
}

bool suback::operator==(const suback& o) const {
  return packet_id == o.packet_id && codes == o.codes && props == o.props;
}

bool unsubscribe::operator==(const unsubscribe& o) const {
  return packet_id == o.packet_id && filters == o.filters && props == o.props;
}

bool unsuback::operator==(const unsuback& o) const {
  return packet_id == o.packet_id && codes == o.codes && props == o.props;
}

bool disconnect::operator==(const disconnect& o) const {
  return code == o.code && props == o.props;
}

bool auth::operator==(const auth& o) const {
  return code == o.code && props == o.props;
}

packet_type type_of(const packet& p) noexcept {
  // The variant's alternatives are in packet type order, starting at CONNECT.
  return static_cast<packet_type>(p.index() + 1);
}

} // namespace castor::mqtt
