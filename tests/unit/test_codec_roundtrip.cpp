// Codec round trips for both protocol versions, exact bytes from the
// specification and Mosquitto's tests, and the serializer's version mapping.

#include <doctest/doctest.h>

#include <algorithm>

#include "protocol/codec.hpp"
#include "test_codec_samples.hpp"

using namespace castor::mqtt;
using namespace castor::mqtt::test;

namespace {

/// Parses exactly one packet from `bytes` (which must be consumed entirely).
parse_result parse_one(const std::string& bytes, protocol_version v,
                       parser_options::role side = parser_options::role::any) {
  parser_options opts;
  opts.side = side;
  opts.version = v;
  frame_parser parser{opts};
  std::string_view in = bytes;
  auto r = parser.feed(in);
  CHECK(in.empty());
  return r;
}

std::string name_of(const packet& p) {
  return std::string{to_string(type_of(p))};
}

} // namespace

TEST_CASE("codec: every MQTT 5 packet round-trips with all its properties") {
  for (auto& p : v5_samples()) {
    CAPTURE(name_of(p));
    auto bytes = encode(p, protocol_version::v5);
    REQUIRE(!bytes.empty());
    auto r = parse_one(bytes, protocol_version::v5);
    REQUIRE_MESSAGE(r.ok(), r.error.cause);
    CHECK(r.size == bytes.size());
    CHECK(type_of(r.pkt) == type_of(p));
    CHECK(r.pkt == p);
    // Encoding is deterministic: the decoded packet encodes to the same bytes.
    CHECK(encode(r.pkt, protocol_version::v5) == bytes);
  }
}

TEST_CASE("codec: every MQTT 3.1.1 packet round-trips without properties") {
  size_t checked = 0;
  for (auto& p : v5_samples()) {
    CAPTURE(name_of(p));
    packet expected;
    if (!as_v311(p, expected)) {
      // AUTH does not exist in 3.1.1: nothing is written.
      std::string out;
      CHECK(encode(p, protocol_version::v311, out) == 0);
      CHECK(out.empty());
      continue;
    }
    auto bytes = encode(p, protocol_version::v311);
    REQUIRE(!bytes.empty());
    auto r = parse_one(bytes, protocol_version::v311);
    REQUIRE_MESSAGE(r.ok(), r.error.cause);
    CHECK(r.pkt == expected);
    CHECK(encode(r.pkt, protocol_version::v311) == bytes);
    ++checked;
  }
  CHECK(checked == v5_samples().size() - 1);
}

TEST_CASE("codec: the samples carry every property the table allows") {
  // Guards the round-trip tests above: each packet's sample sets each
  // property its packet may carry, so none goes untested.
  auto samples = v5_samples();
  auto has = [](const properties& p, property_id id) {
    switch (id) {
    case property_id::payload_format_indicator:
      return p.payload_format_indicator.has_value();
    case property_id::message_expiry_interval:
      return p.message_expiry_interval.has_value();
    case property_id::content_type:
      return p.content_type.has_value();
    case property_id::response_topic:
      return p.response_topic.has_value();
    case property_id::correlation_data:
      return p.correlation_data.has_value();
    case property_id::subscription_identifier:
      return !p.subscription_identifiers.empty();
    case property_id::session_expiry_interval:
      return p.session_expiry_interval.has_value();
    case property_id::assigned_client_identifier:
      return p.assigned_client_identifier.has_value();
    case property_id::server_keep_alive:
      return p.server_keep_alive.has_value();
    case property_id::authentication_method:
      return p.authentication_method.has_value();
    case property_id::authentication_data:
      return p.authentication_data.has_value();
    case property_id::request_problem_information:
      return p.request_problem_information.has_value();
    case property_id::will_delay_interval:
      return p.will_delay_interval.has_value();
    case property_id::request_response_information:
      return p.request_response_information.has_value();
    case property_id::response_information:
      return p.response_information.has_value();
    case property_id::server_reference:
      return p.server_reference.has_value();
    case property_id::reason_string:
      return p.reason_string.has_value();
    case property_id::receive_maximum:
      return p.receive_maximum.has_value();
    case property_id::topic_alias_maximum:
      return p.topic_alias_maximum.has_value();
    case property_id::topic_alias:
      return p.topic_alias.has_value();
    case property_id::maximum_qos:
      return p.maximum_qos.has_value();
    case property_id::retain_available:
      return p.retain_available.has_value();
    case property_id::user_property:
      return !p.user_properties.empty();
    case property_id::maximum_packet_size:
      return p.maximum_packet_size.has_value();
    case property_id::wildcard_subscription_available:
      return p.wildcard_subscription_available.has_value();
    case property_id::subscription_identifier_available:
      return p.subscription_identifier_available.has_value();
    case property_id::shared_subscription_available:
      return p.shared_subscription_available.has_value();
    }
    return false;
  };
  auto props_of = [](const packet& p) -> const properties* {
    return std::visit(
        [](auto& x) -> const properties* {
          if constexpr (
              std::is_same_v<
                  std::decay_t<decltype(x)>,
                  pingreq> || std::is_same_v<std::decay_t<decltype(x)>, pingresp>)
            return nullptr;
          else
            return &x.props;
        },
        p);
  };
  for (int t = 1; t <= 15; ++t) {
    auto type = static_cast<packet_type>(t);
    for (int id = 1; id <= 0x2A; ++id) {
      auto pid = static_cast<property_id>(id);
      if (to_string(pid) == "Unknown" || !property_allowed(pid, type))
        continue;
      CAPTURE(to_string(type));
      CAPTURE(to_string(pid));
      bool found = false;
      for (auto& s : samples)
        if (type_of(s) == type && has(*props_of(s), pid))
          found = true;
      CHECK(found);
    }
  }
  auto c = full_connect();
  for (int id = 1; id <= 0x2A; ++id) {
    auto pid = static_cast<property_id>(id);
    if (to_string(pid) != "Unknown" && property_allowed_in_will(pid)) {
      CAPTURE(to_string(pid));
      CHECK(has(c.will->props, pid));
    }
  }
}

TEST_CASE("codec: property table matches the MQTT 5.0 specification") {
  using t = packet_type;
  // Spec 2.2.2.2, one row per property: the packets that may carry it.
  struct row {
    property_id id;
    std::vector<t> in;
    bool will;
  };
  std::vector<row> spec = {
      {property_id::payload_format_indicator, {t::publish}, true},
      {property_id::message_expiry_interval, {t::publish}, true},
      {property_id::content_type, {t::publish}, true},
      {property_id::response_topic, {t::publish}, true},
      {property_id::correlation_data, {t::publish}, true},
      {property_id::subscription_identifier, {t::publish, t::subscribe}, false},
      {property_id::session_expiry_interval,
       {t::connect, t::connack, t::disconnect},
       false},
      {property_id::assigned_client_identifier, {t::connack}, false},
      {property_id::server_keep_alive, {t::connack}, false},
      {property_id::authentication_method,
       {t::connect, t::connack, t::auth},
       false},
      {property_id::authentication_data,
       {t::connect, t::connack, t::auth},
       false},
      {property_id::request_problem_information, {t::connect}, false},
      {property_id::will_delay_interval, {}, true},
      {property_id::request_response_information, {t::connect}, false},
      {property_id::response_information, {t::connack}, false},
      {property_id::server_reference, {t::connack, t::disconnect}, false},
      {property_id::reason_string,
       {t::connack, t::puback, t::pubrec, t::pubrel, t::pubcomp, t::suback,
        t::unsuback, t::disconnect, t::auth},
       false},
      {property_id::receive_maximum, {t::connect, t::connack}, false},
      {property_id::topic_alias_maximum, {t::connect, t::connack}, false},
      {property_id::topic_alias, {t::publish}, false},
      {property_id::maximum_qos, {t::connack}, false},
      {property_id::retain_available, {t::connack}, false},
      {property_id::user_property,
       {t::connect, t::connack, t::publish, t::puback, t::pubrec, t::pubrel,
        t::pubcomp, t::subscribe, t::suback, t::unsubscribe, t::unsuback,
        t::disconnect, t::auth},
       true},
      {property_id::maximum_packet_size, {t::connect, t::connack}, false},
      {property_id::wildcard_subscription_available, {t::connack}, false},
      {property_id::subscription_identifier_available, {t::connack}, false},
      {property_id::shared_subscription_available, {t::connack}, false},
  };
  CHECK(spec.size() == 27);
  for (auto& r : spec) {
    CAPTURE(to_string(r.id));
    CHECK(property_allowed_in_will(r.id) == r.will);
    for (int i = 1; i <= 15; ++i) {
      auto type = static_cast<t>(i);
      CAPTURE(to_string(type));
      bool expected = std::find(r.in.begin(), r.in.end(), type) != r.in.end();
      CHECK(property_allowed(r.id, type) == expected);
    }
  }
}

TEST_CASE("codec: MQTT 3.1.1 CONNECT matches Mosquitto's test bytes") {
  // mosq_test.gen_connect("connect-success-test", keepalive=10, proto_ver=4)
  auto expected = hex("10 20 00 04 4d 51 54 54 04 02 00 0a 00 14")
                  + "connect-success-test";
  connect c;
  c.version = protocol_version::v311;
  c.client_id = "connect-success-test";
  c.keep_alive = 10;
  CHECK(encode(c, protocol_version::v311) == expected);
  parser_options opts; // server side, version learned from the CONNECT
  frame_parser parser{opts};
  std::string_view in = expected;
  auto r = parser.feed(in);
  REQUIRE(r.ok());
  CHECK(std::get<connect>(r.pkt) == c);
  CHECK(parser.version() == protocol_version::v311);
}

TEST_CASE("codec: MQTT 3.1.1 CONNECT with will, user name and password") {
  // Spec 3.1 layout; flags 0xEE = user, password, will retain, will QoS 1,
  // will, clean session.
  auto expected = hex("10 22 00 04") + "MQTT" + hex("04 ee 00 3c") + str("id")
                  + str("w/t") + str("bye") + str("user") + str("pw");
  CHECK(expected.size() == 0x22 + 2);
  connect c;
  c.version = protocol_version::v311;
  c.keep_alive = 60;
  c.client_id = "id";
  c.will = will_message{"w/t", "bye", 1, true, {}};
  c.username = "user";
  c.password = "pw";
  CHECK(encode(c, protocol_version::v311) == expected);
  auto r = parse_one(expected, protocol_version::v311,
                     parser_options::role::server);
  REQUIRE(r.ok());
  CHECK(std::get<connect>(r.pkt) == c);
}

TEST_CASE("codec: MQTT 5 CONNACK with properties has the spec's layout") {
  // Flags 0, reason 0, properties: receive maximum 20 (0x21), maximum QoS 1
  // (0x24), topic alias maximum 10 (0x22) in the serializer's order.
  auto expected = hex("20 0b 00 00 08 21 00 14 22 00 0a 24 01");
  connack c;
  c.props.receive_maximum = 20;
  c.props.maximum_qos = 1;
  c.props.topic_alias_maximum = 10;
  CHECK(encode(c, protocol_version::v5) == expected);
  auto r
      = parse_one(expected, protocol_version::v5, parser_options::role::client);
  REQUIRE(r.ok());
  CHECK(std::get<connack>(r.pkt) == c);
  // Decoding does not depend on the order of the properties.
  auto reordered = hex("20 0b 00 00 08 24 01 22 00 0a 21 00 14");
  auto r2 = parse_one(reordered, protocol_version::v5,
                      parser_options::role::client);
  REQUIRE(r2.ok());
  CHECK(std::get<connack>(r2.pkt) == c);
}

TEST_CASE("codec: MQTT 5 CONNECT as Mosquitto's tests write it") {
  // gen_connect("test", proto_ver=5, keepalive=60) with session expiry 10.
  auto expected = hex("10 16 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 00 0a")
                  + str("test");
  connect c;
  c.keep_alive = 60;
  c.client_id = "test";
  c.props.session_expiry_interval = 10;
  CHECK(encode(c, protocol_version::v5) == expected);
  auto r = parse_one(expected, protocol_version::v5);
  REQUIRE(r.ok());
  CHECK(std::get<connect>(r.pkt) == c);
}

TEST_CASE("codec: PUBLISH, SUBSCRIBE and acks byte layouts") {
  publish p;
  p.qos = 1;
  p.packet_id = 0x1234;
  p.topic = "a/b";
  p.payload = "hi";
  p.props.topic_alias = 5;
  CHECK(encode(p, protocol_version::v5)
        == hex("32 0d 00 03 61 2f 62 12 34 03 23 00 05 68 69"));
  CHECK(encode(p, protocol_version::v311)
        == hex("32 09 00 03 61 2f 62 12 34 68 69"));
  subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({"a/b", 2, true, true, 2});
  CHECK(encode(s, protocol_version::v5)
        == hex("82 09 00 01 00 00 03 61 2f 62 2e"));
  CHECK(encode(s, protocol_version::v311)
        == hex("82 08 00 01 00 03 61 2f 62 02"));
  CHECK(encode(pingreq{}, protocol_version::v5) == hex("c0 00"));
  CHECK(encode(pingresp{}, protocol_version::v311) == hex("d0 00"));
}

TEST_CASE("codec: MQTT 5 acks, DISCONNECT and AUTH leave out what they may") {
  puback a;
  a.packet_id = 7;
  CHECK(encode(a, protocol_version::v5) == hex("40 02 00 07"));
  a.code = reason_code::no_matching_subscribers;
  CHECK(encode(a, protocol_version::v5) == hex("40 03 00 07 10"));
  a.props.reason_string = "x";
  CHECK(encode(a, protocol_version::v5)
        == hex("40 08 00 07 10 04 1f 00 01 78"));
  pubrel rel;
  rel.packet_id = 1;
  CHECK(encode(rel, protocol_version::v5) == hex("62 02 00 01"));
  disconnect d;
  CHECK(encode(d, protocol_version::v5) == hex("e0 00"));
  d.code = reason_code::server_shutting_down;
  CHECK(encode(d, protocol_version::v5) == hex("e0 01 8b"));
  auth au;
  CHECK(encode(au, protocol_version::v5) == hex("f0 00"));
  // The short forms decode to the full values.
  auto r = parse_one(hex("40 02 00 07"), protocol_version::v5);
  REQUIRE(r.ok());
  CHECK(std::get<puback>(r.pkt).code == reason_code::success);
  r = parse_one(hex("50 04 00 07 00 00"), protocol_version::v5);
  REQUIRE(r.ok());
  CHECK(std::get<pubrec>(r.pkt) == pubrec{7, reason_code::success, {}});
  r = parse_one(hex("e0 01 04"), protocol_version::v5);
  REQUIRE(r.ok());
  CHECK(std::get<disconnect>(r.pkt).code
        == reason_code::disconnect_with_will_message);
}

TEST_CASE("codec: MQTT 3.1.1 drops properties and reason codes") {
  puback a{7, reason_code::quota_exceeded, reason_props()};
  CHECK(encode(a, protocol_version::v311) == hex("40 02 00 07"));
  unsuback u;
  u.packet_id = 3;
  u.codes = {reason_code::no_subscription_existed};
  CHECK(encode(u, protocol_version::v311) == hex("b0 02 00 03"));
  disconnect d{reason_code::server_shutting_down, reason_props()};
  CHECK(encode(d, protocol_version::v311) == hex("e0 00"));
  suback s;
  s.packet_id = 9;
  s.codes
      = {reason_code::granted_qos_2, reason_code::not_authorized, granted_qos_0,
         reason_code::topic_filter_invalid, reason_code::granted_qos_1};
  CHECK(encode(s, protocol_version::v311) == hex("90 07 00 09 02 80 00 80 01"));
}

TEST_CASE("codec: CONNACK reason codes map to 3.1.1 return codes") {
  struct row {
    reason_code code;
    uint8_t v311;
  };
  row rows[] = {
      {reason_code::success, 0},
      {reason_code::unsupported_protocol_version, 1},
      {reason_code::client_identifier_not_valid, 2},
      {reason_code::server_unavailable, 3},
      {reason_code::server_busy, 3},
      {reason_code::bad_user_name_or_password, 4},
      {reason_code::not_authorized, 5},
      {reason_code::bad_authentication_method, 5},
      {reason_code::banned, 5},
      {reason_code::unspecified_error, 3},
      {reason_code::malformed_packet, 3},
      {reason_code::quota_exceeded, 3},
      {reason_code::use_another_server, 3},
      {reason_code::connection_rate_exceeded, 3},
  };
  for (auto& r : rows) {
    CAPTURE(to_string(r.code));
    connack c;
    c.code = r.code;
    auto bytes = encode(c, protocol_version::v311);
    REQUIRE(bytes.size() == 4);
    CHECK(static_cast<uint8_t>(bytes[3]) == r.v311);
  }
  // Session present and return code decode back (client side).
  auto res = parse_one(hex("20 02 00 04"), protocol_version::v311,
                       parser_options::role::client);
  REQUIRE(res.ok());
  CHECK(std::get<connack>(res.pkt).code
        == reason_code::bad_user_name_or_password);
  res = parse_one(hex("20 02 01 00"), protocol_version::v311,
                  parser_options::role::client);
  REQUIRE(res.ok());
  CHECK(std::get<connack>(res.pkt).session_present);
}

TEST_CASE("codec: properties a packet may not carry are not written") {
  puback a;
  a.packet_id = 1;
  a.props.topic_alias = 3;              // PUBLISH only
  a.props.session_expiry_interval = 10; // CONNECT, CONNACK, DISCONNECT
  CHECK(encode(a, protocol_version::v5) == hex("40 02 00 01"));
  subscribe s;
  s.packet_id = 1;
  s.props.subscription_identifiers = {5, 6}; // at most one in SUBSCRIBE
  s.subscriptions.push_back({"t", 0, false, false, 0});
  auto bytes = encode(s, protocol_version::v5);
  CHECK(bytes == hex("82 09 00 01 02 0b 05 00 01 74 00"));
}

TEST_CASE("codec: fields too long to encode write nothing") {
  publish p;
  p.topic = std::string(65536, 'a');
  std::string out = "keep";
  CHECK(encode(p, protocol_version::v5, out) == 0);
  CHECK(out == "keep");
  p.topic = std::string(65535, 'a');
  CHECK(encode(p, protocol_version::v5, out) == 1 + 3 + 2 + 65535 + 1);
}

TEST_CASE("codec: variable byte integers") {
  struct row {
    uint32_t value;
    const char* bytes;
  };
  row rows[] = {{0, "00"},
                {127, "7f"},
                {128, "80 01"},
                {16383, "ff 7f"},
                {16384, "80 80 01"},
                {2097151, "ff ff 7f"},
                {2097152, "80 80 80 01"},
                {268435455, "ff ff ff 7f"}};
  for (auto& r : rows) {
    std::string out;
    put_varint(r.value, out);
    CHECK(out == hex(r.bytes));
  }
}

TEST_CASE("codec: reason codes carry their specification names") {
  CHECK(to_string(reason_code::success) == "Success");
  CHECK(to_string(reason_code::malformed_packet) == "Malformed Packet");
  CHECK(to_string(reason_code::protocol_error) == "Protocol Error");
  CHECK(to_string(reason_code::packet_too_large) == "Packet too large");
  CHECK(to_string(reason_code::re_authenticate) == "Re-authenticate");
  CHECK(to_string(reason_code::topic_alias_invalid) == "Topic Alias invalid");
  CHECK(to_string(reason_code::wildcard_subscriptions_not_supported)
        == "Wildcard Subscriptions not supported");
  CHECK(to_string(static_cast<reason_code>(0x03)) == "Unknown");
  // Exactly the 43 values of spec table 2-6 are known.
  int known = 0;
  for (int v = 0; v < 256; ++v)
    if (is_known(static_cast<uint8_t>(v)))
      ++known;
  CHECK(known == 43);
  CHECK(is_known(0x04));
  CHECK(!is_known(0xA3));
  CHECK(to_string(packet_type::unsuback) == "UNSUBACK");
  CHECK(to_string(property_id::topic_alias_maximum) == "Topic Alias Maximum");
}

TEST_CASE("codec: UTF-8 validation as MQTT requires it") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain/ascii"));
  CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")); // é € 😀
  CHECK(valid_utf8("\xef\xbf\xbf"));                         // U+FFFF
  CHECK(!valid_utf8(std::string_view("a\0b", 3)));           // U+0000
  CHECK(!valid_utf8("\xc0\x80"));                            // overlong NUL
  CHECK(!valid_utf8("\xc1\xbf"));                            // overlong
  CHECK(!valid_utf8("\xe0\x80\xaf"));                        // overlong
  CHECK(!valid_utf8("\xf0\x80\x80\xaf"));                    // overlong
  CHECK(!valid_utf8("\xed\xa0\x80"));                        // U+D800
  CHECK(!valid_utf8("\xed\xbf\xbf"));                        // U+DFFF
  CHECK(!valid_utf8("\xf4\x90\x80\x80"));                    // > U+10FFFF
  CHECK(!valid_utf8("\x80"));     // lone continuation
  CHECK(!valid_utf8("\xc3"));     // truncated
  CHECK(!valid_utf8("\xe2\x82")); // truncated
  CHECK(!valid_utf8("\xc3\x28")); // bad continuation
  CHECK(!valid_utf8("\xff"));
}

TEST_CASE("codec: reason codes allowed per packet follow spec table 2-6") {
  using t = packet_type;
  CHECK(reason_code_allowed(reason_code::success, t::connack));
  CHECK(reason_code_allowed(reason_code::no_matching_subscribers, t::puback));
  CHECK(!reason_code_allowed(reason_code::no_matching_subscribers, t::pubrel));
  CHECK(reason_code_allowed(reason_code::packet_identifier_not_found,
                            t::pubcomp));
  CHECK(!reason_code_allowed(reason_code::packet_identifier_not_found,
                             t::puback));
  CHECK(reason_code_allowed(reason_code::granted_qos_2, t::suback));
  CHECK(!reason_code_allowed(reason_code::granted_qos_2, t::unsuback));
  CHECK(reason_code_allowed(reason_code::no_subscription_existed, t::unsuback));
  CHECK(reason_code_allowed(reason_code::session_taken_over, t::disconnect));
  CHECK(!reason_code_allowed(reason_code::session_taken_over, t::connack));
  CHECK(reason_code_allowed(reason_code::re_authenticate, t::auth));
  CHECK(!reason_code_allowed(reason_code::unspecified_error, t::auth));
  CHECK(reason_code_allowed(reason_code::banned, t::connack));
  CHECK(!reason_code_allowed(reason_code::banned, t::disconnect));
  CHECK(reason_code_allowed(reason_code::topic_alias_invalid, t::disconnect));
  CHECK(reason_code_allowed(reason_code::packet_too_large, t::connack));
  CHECK(!reason_code_allowed(reason_code::success, t::publish));
  // Every known code is allowed somewhere, no unknown one anywhere.
  for (int v = 0; v < 256; ++v) {
    bool somewhere = false;
    for (int p = 1; p <= 15; ++p)
      somewhere = somewhere
                  || reason_code_allowed(static_cast<reason_code>(v),
                                         static_cast<t>(p));
    CHECK(somewhere == is_known(static_cast<uint8_t>(v)));
  }
  CHECK(reason_name(reason_code::success, t::disconnect)
        == "Normal disconnection");
  CHECK(reason_name(reason_code::success, t::suback) == "Granted QoS 0");
  CHECK(reason_name(reason_code::success, t::puback) == "Success");
  CHECK(reason_name(reason_code::banned, t::connack) == "Banned");
}
