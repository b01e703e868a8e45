// Decoding one packet from its fixed-header byte and body, with the checks the
// specification requires, each mapped to its reason code.

#include "protocol/codec_detail.hpp"
#include "protocol/topic.hpp"

namespace castor::mqtt {

namespace detail {

using role = parser_options::role;

decode_error check_fixed_header(uint8_t header,
                                std::optional<protocol_version> version,
                                role side) noexcept {
  auto err = [](reason_code code, const char* cause) {
    return decode_error{code, cause, 0, 0};
  };
  auto type = header >> 4;
  auto flags = header & 0x0F;
  if (type == 0)
    return err(reason_code::malformed_packet, "reserved_packet_type");
  auto t = static_cast<packet_type>(type);
  switch (t) {
  case packet_type::connack:
  case packet_type::suback:
  case packet_type::unsuback:
  case packet_type::pingresp:
    if (side == role::server)
      return err(reason_code::protocol_error, "server_to_client_packet");
    break;
  case packet_type::connect:
  case packet_type::subscribe:
  case packet_type::unsubscribe:
  case packet_type::pingreq:
    if (side == role::client)
      return err(reason_code::protocol_error, "client_to_server_packet");
    break;
  default:
    break;
  }
  if (t != packet_type::connect && !version && side == role::server)
    return err(reason_code::protocol_error, "connect_expected");
  if (t == packet_type::auth && version == protocol_version::v311)
    return err(reason_code::malformed_packet, "reserved_packet_type");
  switch (t) {
  case packet_type::publish: {
    auto qos = (flags >> 1) & 0x03;
    if (qos == 3)
      return err(reason_code::malformed_packet, "invalid_qos");
    if (qos == 0 && (flags & 0x08) != 0)
      return err(reason_code::malformed_packet, "dup_on_qos0");
    break;
  }
  case packet_type::pubrel:
  case packet_type::subscribe:
  case packet_type::unsubscribe:
    if (flags != 0x02)
      return err(reason_code::malformed_packet, "invalid_fixed_header_flags");
    break;
  default:
    if (flags != 0)
      return err(reason_code::malformed_packet, "invalid_fixed_header_flags");
  }
  return {};
}

std::optional<protocol_version> peek_connect_version(std::string_view body) {
  reader r{body};
  std::string_view name;
  uint8_t level;
  if (!r.binary(name) || name != "MQTT" || !r.u8(level))
    return std::nullopt;
  if (level == 4)
    return protocol_version::v311;
  if (level == 5)
    return protocol_version::v5;
  return std::nullopt;
}

} // namespace detail

namespace {

using detail::reader;
using role = parser_options::role;

bool trailing(reader& r) {
  if (!r.at_end())
    return r.malformed("trailing_bytes");
  return true;
}

bool packet_id(reader& r, uint16_t& id) {
  if (!r.u16(id))
    return false;
  if (id == 0)
    return r.protocol_error("packet_identifier_zero");
  return true;
}

bool props(reader& r, properties& p, packet_type t, bool v5) {
  return !v5 || detail::read_properties(r, p, {t, false});
}

bool topic_name_has_wildcard(std::string_view t) {
  return detail::has_wildcard(t);
}

bool decode_connect(reader& r, connect& c) {
  std::string_view name;
  uint8_t level;
  if (!r.binary(name) || !r.u8(level))
    return false;
  // MQTT 3.1 ("MQIsdp", level 3) is a protocol level we do not speak: the
  // client gets CONNACK return code 1. Any other name is not MQTT.
  if (name == "MQIsdp")
    return r.fail(reason_code::unsupported_protocol_version,
                  "unsupported_protocol_level", 5, level);
  if (name != "MQTT")
    return r.fail(reason_code::unsupported_protocol_version,
                  "invalid_protocol_name");
  if (level != 4 && level != 5)
    return r.fail(reason_code::unsupported_protocol_version,
                  "unsupported_protocol_level", 5, level);
  c.version = static_cast<protocol_version>(level);
  bool v5 = level == 5;
  uint8_t flags;
  if (!r.u8(flags) || !r.u16(c.keep_alive))
    return false;
  if (flags & 0x01)
    return r.malformed("connect_reserved_flag");
  c.clean_start = (flags & 0x02) != 0;
  bool will = (flags & 0x04) != 0;
  uint8_t will_qos = (flags >> 3) & 0x03;
  bool will_retain = (flags & 0x20) != 0;
  bool password = (flags & 0x40) != 0;
  bool username = (flags & 0x80) != 0;
  if (!will && (will_qos != 0 || will_retain))
    return r.malformed("will_flags_without_will");
  if (will_qos == 3)
    return r.malformed("invalid_will_qos");
  if (!v5 && password && !username)
    return r.malformed("password_without_user_name");
  if (!props(r, c.props, packet_type::connect, v5))
    return false;
  if (c.props.authentication_data && !c.props.authentication_method)
    return r.protocol_error("authentication_data_without_method");
  if (!r.utf8(c.client_id))
    return false;
  if (will) {
    auto& w = c.will.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5
        && !detail::read_properties(r, w.props, {packet_type::connect, true}))
      return false;
    if (!r.utf8(w.topic) || !r.binary(w.payload))
      return false;
    if (w.topic.empty() || topic_name_has_wildcard(w.topic))
      return r.fail(reason_code::topic_name_invalid, "invalid_will_topic");
  }
  if (username && !r.utf8(c.username.emplace()))
    return false;
  if (password && !r.binary(c.password.emplace()))
    return false;
  return trailing(r);
}

bool decode_connack(reader& r, connack& c, bool v5) {
  uint8_t flags, rc;
  if (!r.u8(flags) || !r.u8(rc))
    return false;
  if (flags & 0xFE)
    return r.malformed("connack_reserved_flags");
  c.session_present = (flags & 0x01) != 0;
  if (v5) {
    if (!detail::reason_code_valid_for(packet_type::connack, rc))
      return r.malformed("invalid_reason_code");
    c.code = static_cast<reason_code>(rc);
    if (!props(r, c.props, packet_type::connack, true))
      return false;
  } else {
    static constexpr reason_code codes[] = {
        reason_code::success,
        reason_code::unsupported_protocol_version,
        reason_code::client_identifier_not_valid,
        reason_code::server_unavailable,
        reason_code::bad_user_name_or_password,
        reason_code::not_authorized,
    };
    if (rc > 5)
      return r.malformed("invalid_return_code");
    c.code = codes[rc];
  }
  if (c.session_present && is_error(c.code))
    return r.protocol_error("session_present_with_error");
  return trailing(r);
}

bool decode_publish(reader& r, publish& p, uint8_t flags, bool v5, role side) {
  p.dup = (flags & 0x08) != 0;
  p.qos = (flags >> 1) & 0x03;
  p.retain = (flags & 0x01) != 0;
  std::string_view topic;
  if (!r.utf8(topic))
    return false;
  if (p.qos > 0 && !packet_id(r, p.packet_id))
    return false;
  if (!props(r, p.props, packet_type::publish, v5))
    return false;
  if (side == role::server && !p.props.subscription_identifiers.empty())
    return r.protocol_error("subscription_identifier_from_client");
  if (topic_name_has_wildcard(topic))
    return r.fail(reason_code::topic_name_invalid, "wildcard_in_topic_name");
  if (topic.empty()) {
    if (!v5)
      return r.fail(reason_code::topic_name_invalid, "empty_topic_name");
    if (!p.props.topic_alias)
      return r.protocol_error("empty_topic_without_alias");
  }
  p.topic.assign(topic.data(), topic.size());
  auto payload = r.rest();
  p.payload.assign(payload.data(), payload.size());
  return true;
}

template <packet_type Type>
bool decode_ack(reader& r, basic_ack<Type>& a, bool v5) {
  if (!packet_id(r, a.packet_id))
    return false;
  if (!v5 || r.at_end())
    return trailing(r);
  uint8_t rc;
  if (!r.u8(rc))
    return false;
  if (!detail::reason_code_valid_for(Type, rc))
    return r.malformed("invalid_reason_code");
  a.code = static_cast<reason_code>(rc);
  if (!r.at_end() && !props(r, a.props, Type, true))
    return false;
  return trailing(r);
}

bool decode_subscribe(reader& r, subscribe& s, bool v5) {
  if (!packet_id(r, s.packet_id)
      || !props(r, s.props, packet_type::subscribe, v5))
    return false;
  if (r.at_end())
    return r.protocol_error("no_topic_filters");
  while (!r.at_end()) {
    auto& sub = s.subscriptions.emplace_back();
    uint8_t opts;
    if (!r.utf8(sub.filter) || !r.u8(opts))
      return false;
    sub.max_qos = opts & 0x03;
    if (!v5) {
      if (opts & 0xFC)
        return r.malformed("subscription_options_reserved_bits");
      if (sub.max_qos == 3)
        return r.malformed("invalid_qos");
      continue;
    }
    if (opts & 0xC0)
      return r.malformed("subscription_options_reserved_bits");
    if (sub.max_qos == 3)
      return r.protocol_error("invalid_qos");
    sub.no_local = (opts & 0x04) != 0;
    sub.retain_as_published = (opts & 0x08) != 0;
    sub.retain_handling = (opts >> 4) & 0x03;
    if (sub.retain_handling == 3)
      return r.protocol_error("invalid_retain_handling");
    if (sub.no_local && parse_filter(sub.filter).shared)
      return r.protocol_error("no_local_on_shared_subscription");
  }
  return true;
}

bool decode_suback(reader& r, suback& s, bool v5) {
  if (!packet_id(r, s.packet_id) || !props(r, s.props, packet_type::suback, v5))
    return false;
  if (r.at_end())
    return r.protocol_error("no_reason_codes");
  s.codes.reserve(r.remaining());
  while (!r.at_end()) {
    uint8_t rc;
    r.u8(rc);
    if (v5) {
      if (!detail::reason_code_valid_for(packet_type::suback, rc))
        return r.malformed("invalid_reason_code");
      s.codes.push_back(static_cast<reason_code>(rc));
    } else if (rc <= 2) {
      s.codes.push_back(static_cast<reason_code>(rc));
    } else if (rc == 0x80) {
      s.codes.push_back(reason_code::unspecified_error);
    } else {
      return r.malformed("invalid_return_code");
    }
  }
  return true;
}

bool decode_unsubscribe(reader& r, unsubscribe& u, bool v5) {
  if (!packet_id(r, u.packet_id)
      || !props(r, u.props, packet_type::unsubscribe, v5))
    return false;
  if (r.at_end())
    return r.protocol_error("no_topic_filters");
  while (!r.at_end())
    if (!r.utf8(u.filters.emplace_back()))
      return false;
  return true;
}

bool decode_unsuback(reader& r, unsuback& u, bool v5) {
  if (!packet_id(r, u.packet_id))
    return false;
  if (!v5)
    return trailing(r);
  if (!props(r, u.props, packet_type::unsuback, true))
    return false;
  if (r.at_end())
    return r.protocol_error("no_reason_codes");
  u.codes.reserve(r.remaining());
  while (!r.at_end()) {
    uint8_t rc;
    r.u8(rc);
    if (!detail::reason_code_valid_for(packet_type::unsuback, rc))
      return r.malformed("invalid_reason_code");
    u.codes.push_back(static_cast<reason_code>(rc));
  }
  return true;
}

/// DISCONNECT and AUTH: optional reason code, optional properties.
template <class T>
bool decode_reason_and_props(reader& r, T& x, packet_type t, bool v5) {
  if (!v5 || r.at_end())
    return trailing(r);
  uint8_t rc;
  r.u8(rc);
  if (!detail::reason_code_valid_for(t, rc))
    return r.malformed("invalid_reason_code");
  x.code = static_cast<reason_code>(rc);
  if (!r.at_end() && !props(r, x.props, t, true))
    return false;
  return trailing(r);
}

size_t varint_size(size_t n) {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

} // namespace

parse_result decode(uint8_t fixed_header, std::string_view body,
                    std::optional<protocol_version> version,
                    parser_options::role side) {
  // One result object, returned by name from every path (no moves of the
  // packet); it starts as the cheapest alternative.
  parse_result res{parse_result::status::need_more,
                   packet{std::in_place_type<pingreq>}, parse_error{}, 0};
  auto set_error = [&res](const detail::decode_error& e) {
    res.state = parse_result::status::error;
    res.error.code = e.code;
    res.error.cause = e.cause;
    res.error.limit = e.limit;
    res.error.received = e.received;
  };
  if (auto e = detail::check_fixed_header(fixed_header, version, side);
      e.cause != nullptr) {
    set_error(e);
    return res;
  }
  bool v5 = version.value_or(protocol_version::v5) == protocol_version::v5;
  auto flags = static_cast<uint8_t>(fixed_header & 0x0F);
  reader r{body};
  bool ok = false;
  switch (static_cast<packet_type>(fixed_header >> 4)) {
  case packet_type::connect:
    ok = decode_connect(r, res.pkt.emplace<connect>());
    break;
  case packet_type::connack:
    ok = decode_connack(r, res.pkt.emplace<connack>(), v5);
    break;
  case packet_type::publish:
    ok = decode_publish(r, res.pkt.emplace<publish>(), flags, v5, side);
    break;
  case packet_type::puback:
    ok = decode_ack(r, res.pkt.emplace<puback>(), v5);
    break;
  case packet_type::pubrec:
    ok = decode_ack(r, res.pkt.emplace<pubrec>(), v5);
    break;
  case packet_type::pubrel:
    ok = decode_ack(r, res.pkt.emplace<pubrel>(), v5);
    break;
  case packet_type::pubcomp:
    ok = decode_ack(r, res.pkt.emplace<pubcomp>(), v5);
    break;
  case packet_type::subscribe:
    ok = decode_subscribe(r, res.pkt.emplace<subscribe>(), v5);
    break;
  case packet_type::suback:
    ok = decode_suback(r, res.pkt.emplace<suback>(), v5);
    break;
  case packet_type::unsubscribe:
    ok = decode_unsubscribe(r, res.pkt.emplace<unsubscribe>(), v5);
    break;
  case packet_type::unsuback:
    ok = decode_unsuback(r, res.pkt.emplace<unsuback>(), v5);
    break;
  case packet_type::pingreq:
    res.pkt.emplace<pingreq>();
    ok = trailing(r);
    break;
  case packet_type::pingresp:
    res.pkt.emplace<pingresp>();
    ok = trailing(r);
    break;
  case packet_type::disconnect:
    ok = decode_reason_and_props(r, res.pkt.emplace<disconnect>(),
                                 packet_type::disconnect, v5);
    break;
  case packet_type::auth: {
    auto& a = res.pkt.emplace<auth>();
    ok = decode_reason_and_props(r, a, packet_type::auth, v5);
    if (ok && !body.empty() && !a.props.authentication_method)
      ok = r.protocol_error("missing_authentication_method");
    break;
  }
  }
  if (!ok) {
    set_error(r.err);
    return res;
  }
  res.state = parse_result::status::ok;
  res.size = 1 + varint_size(body.size()) + body.size();
  return res;
}

bool valid_utf8(std::string_view s) noexcept {
  auto p = reinterpret_cast<const uint8_t*>(s.data());
  auto end = p + s.size();
  while (p != end) {
    uint8_t c = *p;
    if (c < 0x80) {
      if (c == 0)
        return false;
      ++p;
      continue;
    }
    uint32_t cp;
    int n;
    if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 2;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      n = 3;
    } else {
      return false;
    }
    if (end - p <= n)
      return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800)
        || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

} // namespace castor::mqtt
