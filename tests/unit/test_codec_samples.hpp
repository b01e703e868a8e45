#pragma once

// Sample packets for the codec tests and the fuzzer's seed corpus: every
// packet type, with every property the packet may carry set.

#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"

namespace castor::mqtt::test {

/// Bytes from a hex string ("30 05 00 01 61").
inline std::string hex(std::string_view h) {
  std::string out;
  int nibbles = 0;
  unsigned cur = 0;
  for (char c : h) {
    unsigned v;
    if (c >= '0' && c <= '9')
      v = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v = static_cast<unsigned>(c - 'A' + 10);
    else
      continue;
    cur = (cur << 4) | v;
    if (++nibbles == 2) {
      out.push_back(static_cast<char>(cur));
      nibbles = 0;
      cur = 0;
    }
  }
  return out;
}

/// An MQTT string: two-byte length, then the bytes.
inline std::string str(std::string_view s) {
  std::string out;
  out.push_back(static_cast<char>(s.size() >> 8));
  out.push_back(static_cast<char>(s.size() & 0xFF));
  out.append(s.data(), s.size());
  return out;
}

/// A whole frame: fixed header byte, remaining length, body.
inline std::string frame(uint8_t fixed_header, const std::string& body) {
  std::string out;
  out.push_back(static_cast<char>(fixed_header));
  put_varint(static_cast<uint32_t>(body.size()), out);
  out += body;
  return out;
}

/// A property block: varint length, then the properties.
inline std::string props(const std::string& body) {
  std::string out;
  put_varint(static_cast<uint32_t>(body.size()), out);
  out += body;
  return out;
}

inline std::vector<user_property> sample_user_properties() {
  return {{"region", "eu"}, {"region", "us"}, {"k\xc3\xa9y", ""}};
}

inline properties connect_props() {
  properties p;
  p.session_expiry_interval = 3600;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = std::string("\x00\x01\xff", 3);
  p.request_problem_information = 0;
  p.request_response_information = 1;
  p.receive_maximum = 100;
  p.topic_alias_maximum = 16;
  p.user_properties = sample_user_properties();
  p.maximum_packet_size = 1048576;
  return p;
}

inline properties will_props() {
  properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 120;
  p.content_type = "text/plain";
  p.response_topic = "reply/to";
  p.correlation_data = std::string("\x00\x7f", 2);
  p.will_delay_interval = 30;
  p.user_properties = sample_user_properties();
  return p;
}

inline properties connack_props() {
  properties p;
  p.session_expiry_interval = 60;
  p.assigned_client_identifier = "auto-1234";
  p.server_keep_alive = 30;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = "server-first";
  p.response_information = "resp/";
  p.server_reference = "other:1883";
  p.reason_string = "welcome";
  p.receive_maximum = 65535;
  p.topic_alias_maximum = 10;
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.user_properties = sample_user_properties();
  p.maximum_packet_size = 268435460;
  p.wildcard_subscription_available = 1;
  p.subscription_identifier_available = 0;
  p.shared_subscription_available = 1;
  return p;
}

inline properties publish_props() {
  properties p;
  p.payload_format_indicator = 0;
  p.message_expiry_interval = 0xFFFFFFFF;
  p.content_type = "application/json";
  p.response_topic = "r/1";
  p.correlation_data = std::string(300, '\x01');
  p.subscription_identifiers = {1, 268435455};
  p.topic_alias = 7;
  p.user_properties = sample_user_properties();
  return p;
}

inline properties reason_props() {
  properties p;
  p.reason_string = "because";
  p.user_properties = sample_user_properties();
  return p;
}

inline connect full_connect() {
  connect c;
  c.clean_start = false;
  c.keep_alive = 65535;
  c.client_id = "client-\xe2\x82\xac";
  c.props = connect_props();
  auto& w = c.will.emplace();
  w.topic = "last/will";
  w.payload = std::string("gone\x00", 5);
  w.qos = 2;
  w.retain = true;
  w.props = will_props();
  c.username = "user";
  c.password = std::string("p\x00ss", 4);
  return c;
}

/// One packet of every type and the interesting variants, for MQTT 5.0
/// (AUTH included). Subscription identifiers in PUBLISH mean these must be
/// parsed with role `any` or `client`.
inline std::vector<packet> v5_samples() {
  std::vector<packet> out;
  out.emplace_back(full_connect());
  {
    connect c;
    c.keep_alive = 10;
    out.emplace_back(c); // empty client id, clean start, nothing else
  }
  {
    connack c;
    c.session_present = true;
    c.props = connack_props();
    out.emplace_back(c);
    connack refused;
    refused.code = reason_code::not_authorized;
    out.emplace_back(refused);
  }
  {
    publish p;
    p.topic = "a/b";
    p.payload = "hello";
    out.emplace_back(p);
    publish q;
    q.dup = true;
    q.qos = 1;
    q.retain = true;
    q.topic = "sensors/\xe6\xb8\xa9\xe5\xba\xa6";
    q.packet_id = 1;
    q.payload = std::string(1000, 'x');
    out.emplace_back(q);
    publish r;
    r.qos = 2;
    r.topic = "x";
    r.packet_id = 65535;
    r.props = publish_props();
    r.payload = std::string("\x00\x01\x02", 3);
    out.emplace_back(r);
  }
  {
    puback a;
    a.packet_id = 1;
    out.emplace_back(a);
    puback b;
    b.packet_id = 2;
    b.code = reason_code::no_matching_subscribers;
    out.emplace_back(b);
    puback c;
    c.packet_id = 3;
    c.code = reason_code::quota_exceeded;
    c.props = reason_props();
    out.emplace_back(c);
    pubrec d;
    d.packet_id = 4;
    d.code = reason_code::packet_identifier_in_use;
    d.props = reason_props();
    out.emplace_back(d);
    pubrec e;
    e.packet_id = 5;
    out.emplace_back(e);
    pubrel f;
    f.packet_id = 6;
    out.emplace_back(f);
    pubrel g;
    g.packet_id = 7;
    g.code = reason_code::packet_identifier_not_found;
    g.props = reason_props();
    out.emplace_back(g);
    pubcomp h;
    h.packet_id = 8;
    out.emplace_back(h);
    pubcomp i;
    i.packet_id = 9;
    i.props = reason_props(); // success, but with properties
    out.emplace_back(i);
  }
  {
    subscribe s;
    s.packet_id = 10;
    s.props.subscription_identifiers = {268435455};
    s.props.user_properties = sample_user_properties();
    s.subscriptions.push_back({"a/+/c", 0, false, false, 0});
    s.subscriptions.push_back({"#", 1, true, true, 1});
    s.subscriptions.push_back({"$share/g/x/#", 2, false, true, 2});
    s.subscriptions.push_back({"bad/#/filter", 1, false, false, 0});
    out.emplace_back(s);
  }
  {
    suback s;
    s.packet_id = 10;
    s.props = reason_props();
    s.codes = {reason_code::success, reason_code::granted_qos_1,
               reason_code::granted_qos_2, reason_code::topic_filter_invalid};
    out.emplace_back(s);
  }
  {
    unsubscribe u;
    u.packet_id = 11;
    u.props.user_properties = sample_user_properties();
    u.filters = {"a/+/c", "#"};
    out.emplace_back(u);
  }
  {
    unsuback u;
    u.packet_id = 11;
    u.props = reason_props();
    u.codes = {reason_code::success, reason_code::no_subscription_existed};
    out.emplace_back(u);
  }
  out.emplace_back(pingreq{});
  out.emplace_back(pingresp{});
  {
    disconnect d;
    out.emplace_back(d);
    disconnect e;
    e.code = reason_code::disconnect_with_will_message;
    out.emplace_back(e);
    disconnect f;
    f.code = reason_code::server_moved;
    f.props.session_expiry_interval = 0;
    f.props.reason_string = "moving";
    f.props.server_reference = "elsewhere";
    f.props.user_properties = sample_user_properties();
    out.emplace_back(f);
  }
  {
    auth a;
    a.code = reason_code::continue_authentication;
    a.props.authentication_method = "SCRAM-SHA-1";
    a.props.authentication_data = "client-final";
    a.props.reason_string = "step 2";
    a.props.user_properties = sample_user_properties();
    out.emplace_back(a);
  }
  return out;
}

/// What a 3.1.1 peer reads back from `p` encoded for 3.1.1: properties,
/// reason codes of acks and DISCONNECT gone, CONNACK and SUBACK codes mapped.
/// Returns false for packets 3.1.1 has no form for (AUTH).
inline bool as_v311(const packet& in, packet& out) {
  out = in;
  bool ok = true;
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, auth>) {
          ok = false;
        } else if constexpr (std::is_same_v<T, connect>) {
          x.version = protocol_version::v311;
          x.props = {};
          if (x.will)
            x.will->props = {};
        } else if constexpr (std::is_same_v<T, subscribe>) {
          x.props = {};
          for (auto& s : x.subscriptions) {
            s.no_local = false;
            s.retain_as_published = false;
            s.retain_handling = 0;
          }
        } else if constexpr (std::is_same_v<T, suback>) {
          x.props = {};
          for (auto& c : x.codes)
            if (is_error(c))
              c = reason_code::unspecified_error;
        } else if constexpr (std::is_same_v<T, unsuback>) {
          x.props = {};
          x.codes.clear();
        } else if constexpr (std::is_same_v<
                                 T, pingreq> || std::is_same_v<T, pingresp>) {
          // nothing to drop
        } else if constexpr (std::is_same_v<T, connack>) {
          x.props = {};
        } else if constexpr (std::is_same_v<
                                 T,
                                 publish> || std::is_same_v<T, unsubscribe>) {
          x.props = {};
        } else {
          x.props = {};
          x.code = reason_code::success;
        }
      },
      out);
  return ok;
}

} // namespace castor::mqtt::test
