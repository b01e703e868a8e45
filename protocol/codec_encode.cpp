// The serializer: writes packets for MQTT 5.0 or 3.1.1. Each packet is laid
// out by one function run twice, on a counting sink (for the remaining
// length) and then on the output string, so nothing is copied twice.

#include "protocol/codec_detail.hpp"

namespace castor::mqtt {

namespace {

using detail::counting_sink;
using detail::property_context;
using detail::string_sink;

constexpr uint8_t header(packet_type t, uint8_t flags = 0) {
  return static_cast<uint8_t>((static_cast<uint8_t>(t) << 4) | flags);
}

/// Runs `write` on a counting sink, then appends the fixed header and the
/// body. Appends nothing if a field cannot be encoded.
template <class F>
void finish(std::string& out, uint8_t fixed_header, bool overflow, F&& write) {
  counting_sink c;
  write(c);
  if (overflow || c.overflow || c.n > 268435455)
    return;
  out.reserve(out.size() + 5 + c.n);
  out.push_back(static_cast<char>(fixed_header));
  put_varint(static_cast<uint32_t>(c.n), out);
  string_sink s{out};
  write(s);
}

size_t props_size(const properties& p, packet_type t, bool v5, bool& overflow,
                  bool will = false) {
  return v5 ? detail::properties_size(p, property_context{t, will}, overflow)
            : 0;
}

/// MQTT 3.1.1 CONNACK return code for a reason code (as EMQX maps them).
uint8_t v311_connack_code(reason_code rc) {
  switch (rc) {
  case reason_code::success:
    return 0;
  case reason_code::unsupported_protocol_version:
    return 1;
  case reason_code::client_identifier_not_valid:
    return 2;
  case reason_code::bad_user_name_or_password:
    return 4;
  case reason_code::not_authorized:
  case reason_code::banned:
  case reason_code::bad_authentication_method:
    return 5;
  default:
    // Server unavailable, server busy, shutting down, quota, moved, ...
    return 3;
  }
}

void enc(const connect& c, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(c.props, packet_type::connect, v5, overflow);
  size_t ws = 0;
  uint8_t flags = 0;
  if (c.clean_start)
    flags |= 0x02;
  if (c.will) {
    ws = props_size(c.will->props, packet_type::connect, v5, overflow, true);
    flags |= 0x04 | static_cast<uint8_t>((c.will->qos & 0x03) << 3);
    if (c.will->retain)
      flags |= 0x20;
  }
  if (c.password)
    flags |= 0x40;
  if (c.username)
    flags |= 0x80;
  finish(out, header(packet_type::connect), overflow, [&](auto& s) {
    s.str("MQTT");
    s.u8(v5 ? 5 : 4);
    s.u8(flags);
    s.u16(c.keep_alive);
    if (v5)
      s.props(c.props, {packet_type::connect, false}, ps);
    s.str(c.client_id);
    if (c.will) {
      if (v5)
        s.props(c.will->props, {packet_type::connect, true}, ws);
      s.str(c.will->topic);
      s.str(c.will->payload);
    }
    if (c.username)
      s.str(*c.username);
    if (c.password)
      s.str(*c.password);
  });
}

void enc(const connack& c, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(c.props, packet_type::connack, v5, overflow);
  finish(out, header(packet_type::connack), overflow, [&](auto& s) {
    s.u8(c.session_present ? 1 : 0);
    if (v5) {
      s.u8(static_cast<uint8_t>(c.code));
      s.props(c.props, {packet_type::connack, false}, ps);
    } else {
      s.u8(v311_connack_code(c.code));
    }
  });
}

void enc(const publish& p, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(p.props, packet_type::publish, v5, overflow);
  auto flags = static_cast<uint8_t>((p.dup ? 0x08 : 0) | ((p.qos & 0x03) << 1)
                                    | (p.retain ? 0x01 : 0));
  finish(out, header(packet_type::publish, flags), overflow, [&](auto& s) {
    s.str(p.topic);
    if (p.qos > 0)
      s.u16(p.packet_id);
    if (v5)
      s.props(p.props, {packet_type::publish, false}, ps);
    s.raw(p.payload);
  });
}

template <packet_type Type>
void enc(const basic_ack<Type>& a, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(a.props, Type, v5, overflow);
  uint8_t flags = Type == packet_type::pubrel ? 0x02 : 0;
  finish(out, header(Type, flags), overflow, [&](auto& s) {
    s.u16(a.packet_id);
    if (!v5 || (a.code == reason_code::success && ps == 0))
      return;
    s.u8(static_cast<uint8_t>(a.code));
    if (ps > 0)
      s.props(a.props, {Type, false}, ps);
  });
}

void enc(const subscribe& x, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(x.props, packet_type::subscribe, v5, overflow);
  finish(out, header(packet_type::subscribe, 0x02), overflow, [&](auto& s) {
    s.u16(x.packet_id);
    if (v5)
      s.props(x.props, {packet_type::subscribe, false}, ps);
    for (auto& sub : x.subscriptions) {
      s.str(sub.filter);
      auto opts = static_cast<uint8_t>(sub.max_qos & 0x03);
      if (v5)
        opts |= static_cast<uint8_t>((sub.no_local ? 0x04 : 0)
                                     | (sub.retain_as_published ? 0x08 : 0)
                                     | ((sub.retain_handling & 0x03) << 4));
      s.u8(opts);
    }
  });
}

void enc(const suback& x, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(x.props, packet_type::suback, v5, overflow);
  finish(out, header(packet_type::suback), overflow, [&](auto& s) {
    s.u16(x.packet_id);
    if (v5)
      s.props(x.props, {packet_type::suback, false}, ps);
    for (auto rc : x.codes) {
      auto v = static_cast<uint8_t>(rc);
      s.u8(v5 || v <= 2 ? v : 0x80);
    }
  });
}

void enc(const unsubscribe& x, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(x.props, packet_type::unsubscribe, v5, overflow);
  finish(out, header(packet_type::unsubscribe, 0x02), overflow, [&](auto& s) {
    s.u16(x.packet_id);
    if (v5)
      s.props(x.props, {packet_type::unsubscribe, false}, ps);
    for (auto& f : x.filters)
      s.str(f);
  });
}

void enc(const unsuback& x, bool v5, std::string& out) {
  bool overflow = false;
  auto ps = props_size(x.props, packet_type::unsuback, v5, overflow);
  finish(out, header(packet_type::unsuback), overflow, [&](auto& s) {
    s.u16(x.packet_id);
    if (!v5)
      return;
    s.props(x.props, {packet_type::unsuback, false}, ps);
    for (auto rc : x.codes)
      s.u8(static_cast<uint8_t>(rc));
  });
}

void enc(const pingreq&, bool, std::string& out) {
  out.push_back(static_cast<char>(header(packet_type::pingreq)));
  out.push_back('\0');
}

void enc(const pingresp&, bool, std::string& out) {
  out.push_back(static_cast<char>(header(packet_type::pingresp)));
  out.push_back('\0');
}

/// DISCONNECT and AUTH: the reason code and the property length may be left
/// out when the code is success and there are no properties.
template <class T>
void enc_reason_and_props(const T& x, packet_type t, bool v5,
                          std::string& out) {
  bool overflow = false;
  auto ps = props_size(x.props, t, v5, overflow);
  finish(out, header(t), overflow, [&](auto& s) {
    if (!v5 || (x.code == reason_code::success && ps == 0))
      return;
    s.u8(static_cast<uint8_t>(x.code));
    if (ps > 0)
      s.props(x.props, {t, false}, ps);
  });
}

void enc(const disconnect& x, bool v5, std::string& out) {
  enc_reason_and_props(x, packet_type::disconnect, v5, out);
}

void enc(const auth& x, bool v5, std::string& out) {
  if (v5) // MQTT 3.1.1 has no AUTH packet
    enc_reason_and_props(x, packet_type::auth, v5, out);
}

} // namespace

void put_varint(uint32_t value, std::string& out) {
  do {
    auto b = static_cast<uint8_t>(value & 0x7F);
    value >>= 7;
    if (value > 0)
      b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (value > 0);
}

size_t encode(const packet& p, protocol_version version, std::string& out) {
  auto start = out.size();
  bool v5 = version == protocol_version::v5;
  std::visit([&](const auto& x) { enc(x, v5, out); }, p);
  return out.size() - start;
}

std::string encode(const packet& p, protocol_version version) {
  std::string out;
  encode(p, version, out);
  return out;
}

} // namespace castor::mqtt
