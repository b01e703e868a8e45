// MQTT 5.0 properties: the one table of which property may appear in which
// packet (spec 2.2.2.2), and reading and writing property sets.

#include "protocol/codec_detail.hpp"

namespace castor::mqtt {

namespace {

constexpr uint16_t bit(packet_type t) {
  return static_cast<uint16_t>(1u << static_cast<unsigned>(t));
}

/// Bit 0 (no packet type 0) stands for the will properties of CONNECT.
constexpr uint16_t will_bit = 1;

constexpr uint16_t all_acks
    = bit(packet_type::puback) | bit(packet_type::pubrec)
      | bit(packet_type::pubrel) | bit(packet_type::pubcomp);

/// Which packets (bit per packet type, bit 0 for the will) may carry a
/// property, indexed by property identifier.
constexpr uint16_t allowed_in(property_id id) {
  using t = packet_type;
  switch (id) {
  case property_id::payload_format_indicator:
  case property_id::message_expiry_interval:
  case property_id::content_type:
  case property_id::response_topic:
  case property_id::correlation_data:
    return bit(t::publish) | will_bit;
  case property_id::subscription_identifier:
    return bit(t::publish) | bit(t::subscribe);
  case property_id::session_expiry_interval:
    return bit(t::connect) | bit(t::connack) | bit(t::disconnect);
  case property_id::assigned_client_identifier:
  case property_id::server_keep_alive:
  case property_id::response_information:
  case property_id::maximum_qos:
  case property_id::retain_available:
  case property_id::wildcard_subscription_available:
  case property_id::subscription_identifier_available:
  case property_id::shared_subscription_available:
    return bit(t::connack);
  case property_id::authentication_method:
  case property_id::authentication_data:
    return bit(t::connect) | bit(t::connack) | bit(t::auth);
  case property_id::request_problem_information:
  case property_id::request_response_information:
    return bit(t::connect);
  case property_id::will_delay_interval:
    return will_bit;
  case property_id::server_reference:
    return bit(t::connack) | bit(t::disconnect);
  case property_id::reason_string:
    return bit(t::connack) | all_acks | bit(t::suback) | bit(t::unsuback)
           | bit(t::disconnect) | bit(t::auth);
  case property_id::receive_maximum:
  case property_id::topic_alias_maximum:
  case property_id::maximum_packet_size:
    return bit(t::connect) | bit(t::connack);
  case property_id::topic_alias:
    return bit(t::publish);
  case property_id::user_property:
    return bit(t::connect) | bit(t::connack) | bit(t::publish) | will_bit
           | all_acks | bit(t::subscribe) | bit(t::suback) | bit(t::unsubscribe)
           | bit(t::unsuback) | bit(t::disconnect) | bit(t::auth);
  }
  return 0;
}

bool allowed(property_id id, detail::property_context where) noexcept {
  auto mask = where.will ? will_bit : bit(where.type);
  return (allowed_in(id) & mask) != 0;
}

/// Value ranges: a one-byte property that must be 0 or 1, etc.
bool is_boolean_property(property_id id) {
  switch (id) {
  case property_id::payload_format_indicator:
  case property_id::request_problem_information:
  case property_id::request_response_information:
  case property_id::maximum_qos:
  case property_id::retain_available:
  case property_id::wildcard_subscription_available:
  case property_id::subscription_identifier_available:
  case property_id::shared_subscription_available:
    return true;
  default:
    return false;
  }
}

template <class T>
bool set_once(detail::reader& r, std::optional<T>& slot, T value) {
  if (slot)
    return r.protocol_error("duplicate_property");
  slot = std::move(value);
  return true;
}

bool read_byte_prop(detail::reader& r, std::optional<uint8_t>& slot,
                    property_id id) {
  uint8_t x;
  if (!r.u8(x))
    return false;
  if (is_boolean_property(id) && x > 1)
    return r.protocol_error("property_value_out_of_range");
  return set_once(r, slot, x);
}

bool read_u16_prop(detail::reader& r, std::optional<uint16_t>& slot) {
  uint16_t x;
  return r.u16(x) && set_once(r, slot, x);
}

bool read_u32_prop(detail::reader& r, std::optional<uint32_t>& slot) {
  uint32_t x;
  return r.u32(x) && set_once(r, slot, x);
}

bool read_utf8_prop(detail::reader& r, std::optional<std::string>& slot) {
  std::string_view x;
  if (!r.utf8(x))
    return false;
  if (slot)
    return r.protocol_error("duplicate_property");
  slot.emplace(x);
  return true;
}

bool read_binary_prop(detail::reader& r, std::optional<std::string>& slot) {
  std::string_view x;
  if (!r.binary(x))
    return false;
  if (slot)
    return r.protocol_error("duplicate_property");
  slot.emplace(x);
  return true;
}

bool known_property(uint32_t id) {
  switch (id) {
  case 0x01:
  case 0x02:
  case 0x03:
  case 0x08:
  case 0x09:
  case 0x0B:
  case 0x11:
  case 0x12:
  case 0x13:
  case 0x15:
  case 0x16:
  case 0x17:
  case 0x18:
  case 0x19:
  case 0x1A:
  case 0x1C:
  case 0x1F:
  case 0x21:
  case 0x22:
  case 0x23:
  case 0x24:
  case 0x25:
  case 0x26:
  case 0x27:
  case 0x28:
  case 0x29:
  case 0x2A:
    return true;
  default:
    return false;
  }
}

bool read_one(detail::reader& r, properties& p, property_id id,
              detail::property_context where) {
  using pid = property_id;
  switch (id) {
  case pid::payload_format_indicator:
    return read_byte_prop(r, p.payload_format_indicator, id);
  case pid::message_expiry_interval:
    return read_u32_prop(r, p.message_expiry_interval);
  case pid::content_type:
    return read_utf8_prop(r, p.content_type);
  case pid::response_topic: {
    if (!read_utf8_prop(r, p.response_topic))
      return false;
    auto& t = *p.response_topic;
    if (t.empty() || detail::has_wildcard(t))
      return r.protocol_error("invalid_response_topic");
    return true;
  }
  case pid::correlation_data:
    return read_binary_prop(r, p.correlation_data);
  case pid::subscription_identifier: {
    uint32_t x;
    if (!r.varint(x))
      return false;
    if (x == 0)
      return r.protocol_error("subscription_identifier_zero");
    if (where.type != packet_type::publish
        && !p.subscription_identifiers.empty())
      return r.protocol_error("duplicate_property");
    p.subscription_identifiers.push_back(x);
    return true;
  }
  case pid::session_expiry_interval:
    return read_u32_prop(r, p.session_expiry_interval);
  case pid::assigned_client_identifier:
    return read_utf8_prop(r, p.assigned_client_identifier);
  case pid::server_keep_alive:
    return read_u16_prop(r, p.server_keep_alive);
  case pid::authentication_method:
    return read_utf8_prop(r, p.authentication_method);
  case pid::authentication_data:
    return read_binary_prop(r, p.authentication_data);
  case pid::request_problem_information:
    return read_byte_prop(r, p.request_problem_information, id);
  case pid::will_delay_interval:
    return read_u32_prop(r, p.will_delay_interval);
  case pid::request_response_information:
    return read_byte_prop(r, p.request_response_information, id);
  case pid::response_information:
    return read_utf8_prop(r, p.response_information);
  case pid::server_reference:
    return read_utf8_prop(r, p.server_reference);
  case pid::reason_string:
    return read_utf8_prop(r, p.reason_string);
  case pid::receive_maximum:
    if (!read_u16_prop(r, p.receive_maximum))
      return false;
    if (*p.receive_maximum == 0)
      return r.protocol_error("receive_maximum_zero");
    return true;
  case pid::topic_alias_maximum:
    return read_u16_prop(r, p.topic_alias_maximum);
  case pid::topic_alias:
    if (!read_u16_prop(r, p.topic_alias))
      return false;
    if (*p.topic_alias == 0)
      return r.fail(reason_code::topic_alias_invalid, "topic_alias_zero");
    return true;
  case pid::maximum_qos:
    return read_byte_prop(r, p.maximum_qos, id);
  case pid::retain_available:
    return read_byte_prop(r, p.retain_available, id);
  case pid::user_property: {
    std::string_view k, v;
    if (!r.utf8(k) || !r.utf8(v))
      return false;
    p.user_properties.emplace_back(std::string{k}, std::string{v});
    return true;
  }
  case pid::maximum_packet_size:
    if (!read_u32_prop(r, p.maximum_packet_size))
      return false;
    if (*p.maximum_packet_size == 0)
      return r.protocol_error("maximum_packet_size_zero");
    return true;
  case pid::wildcard_subscription_available:
    return read_byte_prop(r, p.wildcard_subscription_available, id);
  case pid::subscription_identifier_available:
    return read_byte_prop(r, p.subscription_identifier_available, id);
  case pid::shared_subscription_available:
    return read_byte_prop(r, p.shared_subscription_available, id);
  }
  return r.malformed("unknown_property");
}

// -- writing ------------------------------------------------------------------

template <class Sink>
void emit(Sink& s, const properties& p, detail::property_context where) {
  using pid = property_id;
  auto ok = [&](pid id) { return allowed(id, where); };
  auto byte_prop = [&](pid id, const std::optional<uint8_t>& v) {
    if (v && ok(id)) {
      s.u8(static_cast<uint8_t>(id));
      s.u8(*v);
    }
  };
  auto u16_prop = [&](pid id, const std::optional<uint16_t>& v) {
    if (v && ok(id)) {
      s.u8(static_cast<uint8_t>(id));
      s.u16(*v);
    }
  };
  auto u32_prop = [&](pid id, const std::optional<uint32_t>& v) {
    if (v && ok(id)) {
      s.u8(static_cast<uint8_t>(id));
      s.u32(*v);
    }
  };
  auto str_prop = [&](pid id, const std::optional<std::string>& v) {
    if (v && ok(id)) {
      s.u8(static_cast<uint8_t>(id));
      s.str(*v);
    }
  };
  byte_prop(pid::payload_format_indicator, p.payload_format_indicator);
  u32_prop(pid::message_expiry_interval, p.message_expiry_interval);
  str_prop(pid::content_type, p.content_type);
  str_prop(pid::response_topic, p.response_topic);
  str_prop(pid::correlation_data, p.correlation_data);
  if (ok(pid::subscription_identifier)) {
    for (auto id : p.subscription_identifiers) {
      s.u8(static_cast<uint8_t>(pid::subscription_identifier));
      s.varint(id);
      if (where.type != packet_type::publish)
        break; // at most one outside PUBLISH
    }
  }
  u32_prop(pid::session_expiry_interval, p.session_expiry_interval);
  str_prop(pid::assigned_client_identifier, p.assigned_client_identifier);
  u16_prop(pid::server_keep_alive, p.server_keep_alive);
  str_prop(pid::authentication_method, p.authentication_method);
  str_prop(pid::authentication_data, p.authentication_data);
  byte_prop(pid::request_problem_information, p.request_problem_information);
  u32_prop(pid::will_delay_interval, p.will_delay_interval);
  byte_prop(pid::request_response_information, p.request_response_information);
  str_prop(pid::response_information, p.response_information);
  str_prop(pid::server_reference, p.server_reference);
  str_prop(pid::reason_string, p.reason_string);
  u16_prop(pid::receive_maximum, p.receive_maximum);
  u16_prop(pid::topic_alias_maximum, p.topic_alias_maximum);
  u16_prop(pid::topic_alias, p.topic_alias);
  byte_prop(pid::maximum_qos, p.maximum_qos);
  byte_prop(pid::retain_available, p.retain_available);
  if (ok(pid::user_property)) {
    for (auto& [k, v] : p.user_properties) {
      s.u8(static_cast<uint8_t>(pid::user_property));
      s.str(k);
      s.str(v);
    }
  }
  u32_prop(pid::maximum_packet_size, p.maximum_packet_size);
  byte_prop(pid::wildcard_subscription_available,
            p.wildcard_subscription_available);
  byte_prop(pid::subscription_identifier_available,
            p.subscription_identifier_available);
  byte_prop(pid::shared_subscription_available,
            p.shared_subscription_available);
}

} // namespace

bool property_allowed(property_id id, packet_type in) noexcept {
  return allowed(id, detail::property_context{in, false});
}

bool property_allowed_in_will(property_id id) noexcept {
  return allowed(id, detail::property_context{packet_type::connect, true});
}

bool reason_code_allowed(reason_code rc, packet_type in) noexcept {
  return detail::reason_code_valid_for(in, static_cast<uint8_t>(rc));
}

std::string_view reason_name(reason_code rc, packet_type in) noexcept {
  if (rc == reason_code::success) {
    if (in == packet_type::disconnect)
      return "Normal disconnection";
    if (in == packet_type::suback)
      return "Granted QoS 0";
  }
  return to_string(rc);
}

namespace detail {

bool read_properties(reader& r, properties& props, property_context where) {
  uint32_t len;
  if (!r.varint(len))
    return false;
  if (len > r.remaining())
    return r.malformed("property_length_exceeds_packet");
  std::string_view body;
  r.bytes(len, body);
  reader pr{body};
  while (!pr.at_end()) {
    uint32_t raw_id;
    if (!pr.varint(raw_id))
      break;
    if (!known_property(raw_id)) {
      pr.malformed("unknown_property");
      break;
    }
    auto id = static_cast<property_id>(raw_id);
    if (!allowed(id, where)) {
      pr.malformed("property_not_allowed");
      break;
    }
    if (!read_one(pr, props, id, where))
      break;
  }
  if (pr.err.cause != nullptr) {
    r.err = pr.err;
    return false;
  }
  return true;
}

size_t properties_size(const properties& props, property_context where,
                       bool& overflow) {
  counting_sink s;
  emit(s, props, where);
  overflow = overflow || s.overflow;
  return s.n;
}

void write_properties(std::string& out, const properties& props,
                      property_context where, size_t size) {
  put_varint(static_cast<uint32_t>(size), out);
  string_sink s{out};
  emit(s, props, where);
}

bool reason_code_valid_for(packet_type t, uint8_t rc) noexcept {
  using pt = packet_type;
  constexpr uint16_t connack = bit(pt::connack);
  constexpr uint16_t pub = bit(pt::puback) | bit(pt::pubrec);
  constexpr uint16_t rel = bit(pt::pubrel) | bit(pt::pubcomp);
  constexpr uint16_t suback = bit(pt::suback);
  constexpr uint16_t unsuback = bit(pt::unsuback);
  constexpr uint16_t disc = bit(pt::disconnect);
  constexpr uint16_t auth = bit(pt::auth);
  uint16_t mask = 0;
  switch (rc) {
  case 0x00:
    mask = connack | pub | rel | suback | unsuback | disc | auth;
    break;
  case 0x01:
  case 0x02:
    mask = suback;
    break;
  case 0x04:
    mask = disc;
    break;
  case 0x10:
    mask = pub;
    break;
  case 0x11:
    mask = unsuback;
    break;
  case 0x18:
  case 0x19:
    mask = auth;
    break;
  case 0x80:
  case 0x83:
  case 0x87:
    mask = connack | pub | suback | unsuback | disc;
    break;
  case 0x81:
  case 0x82:
  case 0x89:
  case 0x8C:
  case 0x95:
  case 0x9A:
  case 0x9B:
  case 0x9C:
  case 0x9D:
  case 0x9F:
    mask = connack | disc;
    break;
  case 0x84:
  case 0x85:
  case 0x86:
  case 0x88:
  case 0x8A:
    mask = connack;
    break;
  case 0x8B:
  case 0x8D:
  case 0x8E:
  case 0x93:
  case 0x94:
  case 0x96:
  case 0x98:
  case 0xA0:
    mask = disc;
    break;
  case 0x8F:
    mask = suback | unsuback | disc;
    break;
  case 0x90:
  case 0x99:
    mask = connack | pub | disc;
    break;
  case 0x91:
    mask = pub | suback | unsuback;
    break;
  case 0x92:
    mask = rel;
    break;
  case 0x97:
    mask = connack | pub | suback | disc;
    break;
  case 0x9E:
  case 0xA1:
  case 0xA2:
    mask = suback | disc;
    break;
  default:
    mask = 0;
  }
  return (mask & bit(t)) != 0;
}

} // namespace detail

} // namespace castor::mqtt
