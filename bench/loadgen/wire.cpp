#include "wire.hpp"

#include <cstring>

namespace castor::bench {

namespace {

/// Reads a Variable Byte Integer; returns bytes used, 0 if incomplete, -1 if
/// malformed.
int read_varint(const uint8_t* p, size_t len, uint32_t& value) {
  value = 0;
  uint32_t mul = 1;
  for (int i = 0; i < 4; ++i) {
    if (static_cast<size_t>(i) >= len)
      return 0;
    value += (p[i] & 0x7Fu) * mul;
    if ((p[i] & 0x80u) == 0)
      return i + 1;
    mul *= 128;
  }
  return -1;
}

void put_varint(byte_buffer& out, uint32_t v) {
  do {
    uint8_t b = v % 128;
    v /= 128;
    if (v > 0)
      b |= 0x80;
    out.push_back(b);
  } while (v > 0);
}

void put_u16(byte_buffer& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xFF));
}

void put_str(byte_buffer& out, std::string_view s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

size_t varint_size(uint32_t v) {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

uint16_t get_u16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

/// Skips (or scans) an MQTT 5 property block starting at body[pos]; sets
/// `receive_maximum` (when not null) when that property is present. Returns
/// false when malformed.
bool scan_properties(const frame& f, size_t& pos, uint16_t* receive_maximum) {
  uint32_t plen = 0;
  int n = read_varint(f.body + pos, f.size - pos, plen);
  if (n <= 0 || pos + n + plen > f.size)
    return false;
  pos += n;
  size_t end = pos + plen;
  if (receive_maximum == nullptr) {
    pos = end;
    return true;
  }
  while (pos < end) {
    uint8_t id = f.body[pos++];
    size_t left = end - pos;
    switch (id) {
    case 0x01: // payload format indicator
    case 0x17: // request problem information
    case 0x19: // request response information
    case 0x24: // maximum qos
    case 0x25: // retain available
    case 0x28: // wildcard subscription available
    case 0x29: // subscription identifiers available
    case 0x2A: // shared subscription available
      if (left < 1)
        return false;
      pos += 1;
      break;
    case 0x13: // server keep alive
    case 0x22: // topic alias maximum
    case 0x23: // topic alias
    case 0x21: // receive maximum
      if (left < 2)
        return false;
      if (id == 0x21 && receive_maximum != nullptr)
        *receive_maximum = get_u16(f.body + pos);
      pos += 2;
      break;
    case 0x02: // message expiry interval
    case 0x11: // session expiry interval
    case 0x18: // will delay interval
    case 0x27: // maximum packet size
      if (left < 4)
        return false;
      pos += 4;
      break;
    case 0x0B: { // subscription identifier
      uint32_t v = 0;
      int k = read_varint(f.body + pos, left, v);
      if (k <= 0)
        return false;
      pos += k;
      break;
    }
    case 0x03: // content type
    case 0x08: // response topic
    case 0x09: // correlation data
    case 0x12: // assigned client identifier
    case 0x15: // authentication method
    case 0x16: // authentication data
    case 0x1A: // response information
    case 0x1C: // server reference
    case 0x1F: // reason string
      if (left < 2 || left - 2 < get_u16(f.body + pos))
        return false;
      pos += 2 + get_u16(f.body + pos);
      break;
    case 0x26: // user property: two strings
      for (int k = 0; k < 2; ++k) {
        left = end - pos;
        if (left < 2 || left - 2 < get_u16(f.body + pos))
          return false;
        pos += 2 + get_u16(f.body + pos);
      }
      break;
    default:
      return false;
    }
  }
  return pos == end;
}

/// The property block of a PUBLISH (only the properties a PUBLISH may
/// carry), from body[pos]; sets the Content Type of `pv` and, when not null,
/// `response_topic` and `correlation_data`. False when malformed.
bool scan_publish_properties(const frame& f, size_t& pos, publish_view& pv,
                             std::string_view* response_topic,
                             std::string_view* correlation_data) {
  uint32_t plen = 0;
  int n = read_varint(f.body + pos, f.size - pos, plen);
  if (n <= 0 || pos + n + plen > f.size)
    return false;
  pos += n;
  size_t end = pos + plen;
  while (pos < end) {
    uint8_t id = f.body[pos++];
    size_t left = end - pos;
    switch (id) {
    case 0x01: // payload format indicator
      if (left < 1)
        return false;
      pos += 1;
      break;
    case 0x23: // topic alias
      if (left < 2)
        return false;
      pos += 2;
      break;
    case 0x02: // message expiry interval
      if (left < 4)
        return false;
      pos += 4;
      break;
    case 0x0B: { // subscription identifier
      uint32_t v = 0;
      int k = read_varint(f.body + pos, left, v);
      if (k <= 0)
        return false;
      pos += k;
      break;
    }
    case 0x03:   // content type
    case 0x08:   // response topic
    case 0x09: { // correlation data
      if (left < 2 || left - 2 < get_u16(f.body + pos))
        return false;
      std::string_view v(reinterpret_cast<const char*>(f.body + pos + 2),
                         get_u16(f.body + pos));
      if (id == 0x03)
        pv.content_type = v;
      else if (id == 0x08 && response_topic != nullptr)
        *response_topic = v;
      else if (id == 0x09 && correlation_data != nullptr)
        *correlation_data = v;
      pos += 2 + v.size();
      break;
    }
    case 0x26: // user property: two strings
      for (int k = 0; k < 2; ++k) {
        left = end - pos;
        if (left < 2 || left - 2 < get_u16(f.body + pos))
          return false;
        pos += 2 + get_u16(f.body + pos);
      }
      break;
    default:
      return false;
    }
  }
  return pos == end;
}

} // namespace

long next_frame(const uint8_t* data, size_t len, frame& out) {
  if (len < 2)
    return 0;
  uint32_t rl = 0;
  int n = read_varint(data + 1, len - 1, rl);
  if (n < 0)
    return -1;
  if (n == 0)
    return 0;
  size_t total = 1 + static_cast<size_t>(n) + rl;
  if (len < total)
    return 0;
  out.kind = static_cast<packet_kind>(data[0] >> 4);
  out.flags = data[0] & 0x0F;
  out.body = data + 1 + n;
  out.size = rl;
  return static_cast<long>(total);
}

namespace {

bool decode_publish_into(const frame& f, bool v5, publish_view& out,
                         std::string_view* response_topic,
                         std::string_view* correlation_data) {
  out.qos = (f.flags >> 1) & 0x03;
  out.dup = (f.flags & 0x08) != 0;
  out.retain = (f.flags & 0x01) != 0;
  out.content_type = {};
  if (out.qos == 3 || f.size < 2)
    return false;
  size_t tlen = get_u16(f.body);
  size_t pos = 2 + tlen;
  if (pos > f.size)
    return false;
  out.topic = std::string_view(reinterpret_cast<const char*>(f.body + 2), tlen);
  if (out.qos > 0) {
    if (pos + 2 > f.size)
      return false;
    out.packet_id = get_u16(f.body + pos);
    pos += 2;
  }
  if (v5
      && !scan_publish_properties(f, pos, out, response_topic,
                                  correlation_data))
    return false;
  out.payload = f.body + pos;
  out.payload_size = f.size - pos;
  return true;
}

} // namespace

bool decode_publish(const frame& f, bool v5, publish_view& out) {
  return decode_publish_into(f, v5, out, nullptr, nullptr);
}

bool decode_publish(const frame& f, bool v5, request_view& out) {
  out.response_topic = {};
  out.correlation_data = {};
  return decode_publish_into(f, v5, out, &out.response_topic,
                             &out.correlation_data);
}

bool decode_connack(const frame& f, bool v5, connack_view& out) {
  if (f.size < 2)
    return false;
  out.reason = f.body[1];
  out.receive_maximum = 65535;
  if (v5 && f.size > 2) {
    size_t pos = 2;
    return scan_properties(f, pos, &out.receive_maximum);
  }
  return true;
}

bool decode_ack(const frame& f, ack_view& out) {
  if (f.size < 2)
    return false;
  out.packet_id = get_u16(f.body);
  out.reason = f.size > 2 ? f.body[2] : 0;
  return true;
}

bool decode_suback(const frame& f, bool v5, ack_view& out) {
  if (f.size < 3)
    return false;
  out.packet_id = get_u16(f.body);
  size_t pos = 2;
  if (v5 && !scan_properties(f, pos, nullptr))
    return false;
  if (pos >= f.size)
    return false;
  out.reason = f.body[pos];
  return true;
}

uint8_t decode_disconnect(const frame& f) {
  return f.size > 0 ? f.body[0] : 0;
}

void encode_connect(byte_buffer& out, bool v5, std::string_view client_id,
                    uint16_t keep_alive_s, uint16_t receive_maximum) {
  // variable header: protocol name (6), level (1), flags (1), keep alive (2)
  uint32_t props = v5 ? 3 : 0; // Receive Maximum
  uint32_t rl = 10 + (v5 ? varint_size(props) + props : 0) + 2
                + static_cast<uint32_t>(client_id.size());
  out.push_back(0x10);
  put_varint(out, rl);
  put_str(out, "MQTT");
  out.push_back(v5 ? 5 : 4);
  out.push_back(0x02); // clean start / clean session
  put_u16(out, keep_alive_s);
  if (v5) {
    put_varint(out, props);
    out.push_back(0x21);
    put_u16(out, receive_maximum);
  }
  put_str(out, client_id);
}

void encode_subscribe(byte_buffer& out, bool v5, uint16_t packet_id,
                      std::string_view filter, uint8_t qos,
                      uint8_t retain_handling) {
  uint32_t rl = 2 + (v5 ? 1 : 0) + 2 + static_cast<uint32_t>(filter.size()) + 1;
  out.push_back(0x82);
  put_varint(out, rl);
  put_u16(out, packet_id);
  if (v5)
    out.push_back(0);
  put_str(out, filter);
  out.push_back(static_cast<uint8_t>(qos | (v5 ? retain_handling << 4 : 0)));
}

namespace {

uint8_t* put_varint_at(uint8_t* p, uint32_t v) {
  do {
    uint8_t b = v % 128;
    v /= 128;
    if (v > 0)
      b |= 0x80;
    *p++ = b;
  } while (v > 0);
  return p;
}

uint8_t* put_str_property(uint8_t* p, uint8_t id, std::string_view s) {
  *p++ = id;
  *p++ = static_cast<uint8_t>(s.size() >> 8);
  *p++ = static_cast<uint8_t>(s.size() & 0xFF);
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

/// Property bytes of a string/binary property, 0 when it is left out.
uint32_t str_property_size(std::string_view s) {
  return s.empty() ? 0 : 3 + static_cast<uint32_t>(s.size());
}

/// A PUBLISH with the properties that are not empty, MQTT 5 only.
void put_publish(byte_buffer& out, bool v5, std::string_view topic,
                        uint8_t qos, uint16_t packet_id,
                        const uint8_t* payload, size_t payload_size,
                        std::string_view content_type,
                        std::string_view response_topic,
                        std::string_view correlation_data) {
  uint32_t props = v5 ? str_property_size(content_type)
                            + str_property_size(response_topic)
                            + str_property_size(correlation_data)
                      : 0;
  uint32_t rl = 2 + static_cast<uint32_t>(topic.size()) + (qos > 0 ? 2 : 0)
                + (v5 ? static_cast<uint32_t>(varint_size(props)) + props : 0)
                + static_cast<uint32_t>(payload_size);
  size_t at = out.size();
  out.resize(at + 1 + varint_size(rl) + rl);
  uint8_t* p = out.data() + at;
  *p++ = static_cast<uint8_t>(0x30 | (qos << 1));
  p = put_varint_at(p, rl);
  *p++ = static_cast<uint8_t>(topic.size() >> 8);
  *p++ = static_cast<uint8_t>(topic.size() & 0xFF);
  std::memcpy(p, topic.data(), topic.size());
  p += topic.size();
  if (qos > 0) {
    *p++ = static_cast<uint8_t>(packet_id >> 8);
    *p++ = static_cast<uint8_t>(packet_id & 0xFF);
  }
  if (v5) {
    p = put_varint_at(p, props);
    if (props > 0) {
      if (!content_type.empty())
        p = put_str_property(p, 0x03, content_type);
      if (!response_topic.empty())
        p = put_str_property(p, 0x08, response_topic);
      if (!correlation_data.empty())
        p = put_str_property(p, 0x09, correlation_data);
    }
  }
  if (payload_size > 0)
    std::memcpy(p, payload, payload_size);
}

} // namespace

// The plain PUBLISH of every other scenario: kept apart from put_publish
// (the general one is about 1.5x slower per message).
void encode_publish(byte_buffer& out, bool v5, std::string_view topic,
                    uint8_t qos, uint16_t packet_id, const uint8_t* payload,
                    size_t payload_size, std::string_view content_type) {
  uint32_t props = v5 && !content_type.empty()
                       ? 3 + static_cast<uint32_t>(content_type.size())
                       : 0;
  uint32_t rl = 2 + static_cast<uint32_t>(topic.size()) + (qos > 0 ? 2 : 0)
                + (v5 ? static_cast<uint32_t>(varint_size(props)) + props : 0)
                + static_cast<uint32_t>(payload_size);
  size_t at = out.size();
  out.resize(at + 1 + varint_size(rl) + rl);
  uint8_t* p = out.data() + at;
  *p++ = static_cast<uint8_t>(0x30 | (qos << 1));
  uint32_t v = rl;
  do {
    uint8_t b = v % 128;
    v /= 128;
    if (v > 0)
      b |= 0x80;
    *p++ = b;
  } while (v > 0);
  *p++ = static_cast<uint8_t>(topic.size() >> 8);
  *p++ = static_cast<uint8_t>(topic.size() & 0xFF);
  std::memcpy(p, topic.data(), topic.size());
  p += topic.size();
  if (qos > 0) {
    *p++ = static_cast<uint8_t>(packet_id >> 8);
    *p++ = static_cast<uint8_t>(packet_id & 0xFF);
  }
  if (v5) {
    v = props;
    do {
      uint8_t b = v % 128;
      v /= 128;
      if (v > 0)
        b |= 0x80;
      *p++ = b;
    } while (v > 0);
    if (props > 0) {
      *p++ = 0x03; // content type
      *p++ = static_cast<uint8_t>(content_type.size() >> 8);
      *p++ = static_cast<uint8_t>(content_type.size() & 0xFF);
      std::memcpy(p, content_type.data(), content_type.size());
      p += content_type.size();
    }
  }
  std::memcpy(p, payload, payload_size);
}

void encode_publish(byte_buffer& out, bool v5, std::string_view topic,
                    uint8_t qos, uint16_t packet_id, const uint8_t* payload,
                    size_t payload_size, const publish_properties& props) {
  put_publish(out, v5, topic, qos, packet_id, payload, payload_size,
              props.content_type, props.response_topic,
              props.correlation_data);
}

void encode_ack(byte_buffer& out, packet_kind kind, uint16_t packet_id) {
  uint8_t first = static_cast<uint8_t>(static_cast<uint8_t>(kind) << 4);
  if (kind == packet_kind::pubrel)
    first |= 0x02;
  out.push_back(first);
  out.push_back(2);
  put_u16(out, packet_id);
}

void encode_pingreq(byte_buffer& out) {
  out.push_back(0xC0);
  out.push_back(0);
}

void encode_disconnect(byte_buffer& out) {
  out.push_back(0xE0);
  out.push_back(0);
}

} // namespace castor::bench
