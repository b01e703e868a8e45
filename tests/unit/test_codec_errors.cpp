// Every malformed or forbidden form is rejected with the reason code the
// specification names for it. One row per rule.

#include <doctest/doctest.h>

#include <optional>

#include "protocol/codec.hpp"
#include "test_codec_samples.hpp"

using namespace castor::mqtt;
using namespace castor::mqtt::test;

namespace {

using role = parser_options::role;
constexpr auto v5 = protocol_version::v5;
constexpr auto v311 = protocol_version::v311;
constexpr auto malformed = reason_code::malformed_packet;
constexpr auto protocol = reason_code::protocol_error;

struct error_case {
  const char* name;
  std::optional<protocol_version> version; // none: learned from CONNECT
  role side;
  std::string bytes;
  reason_code code;
  const char* cause; // nullptr: any cause
};

/// A v5 CONNECT with the given flags, properties, and payload.
std::string connect5(uint8_t flags, const std::string& prop_bytes,
                     const std::string& payload) {
  std::string body = str("MQTT") + "\x05";
  body.push_back(static_cast<char>(flags));
  body += hex("00 3c") + props(prop_bytes) + payload;
  return frame(0x10, body);
}

std::string connect311(uint8_t flags, const std::string& payload) {
  std::string body = str("MQTT") + "\x04";
  body.push_back(static_cast<char>(flags));
  body += hex("00 3c") + payload;
  return frame(0x10, body);
}

/// A v5 PUBLISH QoS 1 (packet id 1) with the given topic and properties.
std::string publish5(const std::string& topic, const std::string& prop_bytes,
                     uint8_t header = 0x32) {
  return frame(header, str(topic) + hex("00 01") + props(prop_bytes) + "pl");
}

std::string subscribe5(const std::string& prop_bytes,
                       const std::string& payload) {
  return frame(0x82, hex("00 01") + props(prop_bytes) + payload);
}

std::vector<error_case> cases() {
  auto cid = str("c");
  return {
      // -- fixed header
      // ---------------------------------------------------------
      {"reserved packet type 0", v5, role::any, hex("00 00"), malformed,
       "reserved_packet_type"},
      {"AUTH in 3.1.1", v311, role::any, hex("f0 00"), malformed,
       "reserved_packet_type"},
      {"PUBREL flags not 0010", v5, role::any, hex("60 02 00 01"), malformed,
       "invalid_fixed_header_flags"},
      {"SUBSCRIBE flags not 0010", v311, role::any,
       frame(0x80, hex("00 01") + str("a") + hex("00")), malformed,
       "invalid_fixed_header_flags"},
      {"UNSUBSCRIBE flags not 0010", v5, role::any,
       frame(0xA0, hex("00 01 00") + str("a")), malformed,
       "invalid_fixed_header_flags"},
      {"PINGREQ flags not 0", v5, role::any, hex("c1 00"), malformed,
       "invalid_fixed_header_flags"},
      {"PUBACK flags not 0", v5, role::any, hex("48 02 00 01"), malformed,
       "invalid_fixed_header_flags"},
      {"CONNECT flags not 0", std::nullopt, role::server, hex("11 02 00 00"),
       malformed, "invalid_fixed_header_flags"},
      {"PUBLISH QoS 3", v5, role::any, publish5("a", "", 0x36), malformed,
       "invalid_qos"},
      {"PUBLISH DUP on QoS 0", v5, role::any, frame(0x38, str("a") + hex("00")),
       malformed, "dup_on_qos0"},
      {"remaining length over 4 bytes", v5, role::any, hex("30 ff ff ff ff 7f"),
       malformed, "remaining_length_overflow"},
      {"remaining length not minimal", v5, role::any, hex("c0 80 00"),
       malformed, "remaining_length_not_minimal"},
      {"server receives CONNACK", v5, role::server, hex("20 02 00 00"),
       protocol, "server_to_client_packet"},
      {"server receives SUBACK", v5, role::server, hex("90 03 00 01 00"),
       protocol, "server_to_client_packet"},
      {"server receives PINGRESP", v5, role::server, hex("d0 00"), protocol,
       "server_to_client_packet"},
      {"client receives CONNECT", v5, role::client, connect5(0x02, "", cid),
       protocol, "client_to_server_packet"},
      {"client receives PINGREQ", v5, role::client, hex("c0 00"), protocol,
       "client_to_server_packet"},
      {"first packet is not CONNECT", std::nullopt, role::server, hex("c0 00"),
       protocol, "connect_expected"},
      {"PINGREQ with a body", v5, role::any, hex("c0 01 00"), malformed,
       "trailing_bytes"},
      // -- CONNECT
      // --------------------------------------------------------------
      {"MQTT 3.1 (MQIsdp, level 3)", std::nullopt, role::server,
       frame(0x10, str("MQIsdp") + hex("03 02 00 3c") + cid),
       reason_code::unsupported_protocol_version, "unsupported_protocol_level"},
      {"protocol level 6", std::nullopt, role::server,
       frame(0x10, str("MQTT") + hex("06 02 00 3c") + cid),
       reason_code::unsupported_protocol_version, "unsupported_protocol_level"},
      {"protocol level 3 with name MQTT", std::nullopt, role::server,
       frame(0x10, str("MQTT") + hex("03 02 00 3c") + cid),
       reason_code::unsupported_protocol_version, "unsupported_protocol_level"},
      {"wrong protocol name", std::nullopt, role::server,
       frame(0x10, str("MQTX") + hex("04 02 00 3c") + cid),
       reason_code::unsupported_protocol_version, "invalid_protocol_name"},
      {"CONNECT reserved flag", std::nullopt, role::server,
       connect5(0x03, "", cid), malformed, "connect_reserved_flag"},
      {"will QoS without will flag", std::nullopt, role::server,
       connect5(0x0A, "", cid), malformed, "will_flags_without_will"},
      {"will retain without will flag", std::nullopt, role::server,
       connect311(0x22, cid), malformed, "will_flags_without_will"},
      {"will QoS 3", std::nullopt, role::server,
       connect311(0x1E, cid + str("t") + str("p")), malformed,
       "invalid_will_qos"},
      {"3.1.1 password without user name", std::nullopt, role::server,
       connect311(0x42, cid + str("pw")), malformed,
       "password_without_user_name"},
      {"will topic with wildcard", std::nullopt, role::server,
       connect311(0x06, cid + str("a/#") + str("p")),
       reason_code::topic_name_invalid, "invalid_will_topic"},
      {"empty will topic", std::nullopt, role::server,
       connect5(0x06, "", cid + props("") + str("") + str("p")),
       reason_code::topic_name_invalid, "invalid_will_topic"},
      {"CONNECT trailing bytes", std::nullopt, role::server,
       connect311(0x02, cid + "x"), malformed, "trailing_bytes"},
      {"CONNECT remaining length too short", std::nullopt, role::server,
       frame(0x10, str("MQTT") + hex("04 02 00 3c 00 05 61")), malformed,
       "truncated_string"},
      {"client id overlong UTF-8", std::nullopt, role::server,
       connect311(0x02, str("\xc0\x80")), malformed, "invalid_utf8_string"},
      {"client id with U+0000", std::nullopt, role::server,
       connect311(0x02, str(std::string("a\0", 2))), malformed,
       "invalid_utf8_string"},
      {"user name with a surrogate", std::nullopt, role::server,
       connect311(0x82, cid + str("\xed\xa0\x80")), malformed,
       "invalid_utf8_string"},
      {"property not allowed in CONNECT", std::nullopt, role::server,
       connect5(0x02, hex("23 00 01"), cid), malformed, "property_not_allowed"},
      {"unknown property", std::nullopt, role::server,
       connect5(0x02, hex("7f 00"), cid), malformed, "unknown_property"},
      {"property identifier not minimal", std::nullopt, role::server,
       connect5(0x02, hex("91 00 00 00 00 0a"), cid), malformed,
       "variable_byte_integer_not_minimal"},
      {"duplicate session expiry", std::nullopt, role::server,
       connect5(0x02, hex("11 00 00 00 0a 11 00 00 00 0b"), cid), protocol,
       "duplicate_property"},
      {"duplicate authentication method", std::nullopt, role::server,
       connect5(0x02, hex("15") + str("a") + hex("15") + str("b"), cid),
       protocol, "duplicate_property"},
      {"receive maximum 0", std::nullopt, role::server,
       connect5(0x02, hex("21 00 00"), cid), protocol, "receive_maximum_zero"},
      {"maximum packet size 0", std::nullopt, role::server,
       connect5(0x02, hex("27 00 00 00 00"), cid), protocol,
       "maximum_packet_size_zero"},
      {"request problem information 2", std::nullopt, role::server,
       connect5(0x02, hex("17 02"), cid), protocol,
       "property_value_out_of_range"},
      {"request response information 2", std::nullopt, role::server,
       connect5(0x02, hex("19 02"), cid), protocol,
       "property_value_out_of_range"},
      {"authentication data without method", std::nullopt, role::server,
       connect5(0x02, hex("16 00 01 78"), cid), protocol,
       "authentication_data_without_method"},
      {"property length beyond the packet", std::nullopt, role::server,
       frame(0x10, str("MQTT") + hex("05 02 00 3c 0a 11 00")), malformed,
       "property_length_exceeds_packet"},
      {"property value truncated", std::nullopt, role::server,
       connect5(0x02, hex("11 00 00"), cid), malformed,
       "truncated_four_byte_integer"},
      {"property length over 4 bytes", std::nullopt, role::server,
       frame(0x10, str("MQTT") + hex("05 02 00 3c ff ff ff ff 7f")), malformed,
       "variable_byte_integer_overflow"},
      {"session expiry in will properties", std::nullopt, role::server,
       connect5(0x06, "",
                cid + props(hex("11 00 00 00 01")) + str("t") + str("p")),
       malformed, "property_not_allowed"},
      {"will payload format indicator 2", std::nullopt, role::server,
       connect5(0x06, "", cid + props(hex("01 02")) + str("t") + str("p")),
       protocol, "property_value_out_of_range"},
      {"will response topic with wildcard", std::nullopt, role::server,
       connect5(0x06, "",
                cid + props(hex("08") + str("r/+")) + str("t") + str("p")),
       protocol, "invalid_response_topic"},
      // -- CONNACK (client side)
      // ------------------------------------------------
      {"CONNACK reserved flags", v5, role::client, hex("20 03 02 00 00"),
       malformed, "connack_reserved_flags"},
      {"CONNACK maximum QoS 2", v5, role::client, hex("20 05 00 00 02 24 02"),
       protocol, "property_value_out_of_range"},
      {"CONNACK retain available 2", v5, role::client,
       hex("20 05 00 00 02 25 02"), protocol, "property_value_out_of_range"},
      {"CONNACK wildcard subscription available 2", v5, role::client,
       hex("20 05 00 00 02 28 02"), protocol, "property_value_out_of_range"},
      {"CONNACK subscription identifier available 2", v5, role::client,
       hex("20 05 00 00 02 29 02"), protocol, "property_value_out_of_range"},
      {"CONNACK shared subscription available 2", v5, role::client,
       hex("20 05 00 00 02 2a 02"), protocol, "property_value_out_of_range"},
      {"CONNACK reason code for another packet", v5, role::client,
       hex("20 03 00 10 00"), malformed, "invalid_reason_code"},
      {"CONNACK 3.1.1 return code 6", v311, role::client, hex("20 02 00 06"),
       malformed, "invalid_return_code"},
      {"CONNACK 3.1.1 with a trailing byte", v311, role::client,
       hex("20 03 00 00 00"), malformed, "trailing_bytes"},
      {"CONNACK session present with an error", v5, role::client,
       hex("20 03 01 87 00"), protocol, "session_present_with_error"},
      // -- PUBLISH
      // --------------------------------------------------------------
      {"topic name with +", v5, role::server, publish5("a/+/b", ""),
       reason_code::topic_name_invalid, "wildcard_in_topic_name"},
      {"topic name with #", v311, role::server, frame(0x30, str("a/#") + "pl"),
       reason_code::topic_name_invalid, "wildcard_in_topic_name"},
      {"topic name invalid UTF-8", v5, role::server, publish5("a\xff", ""),
       malformed, "invalid_utf8_string"},
      {"packet identifier 0", v5, role::server,
       frame(0x32, str("a") + hex("00 00 00") + "pl"), protocol,
       "packet_identifier_zero"},
      {"topic alias 0", v5, role::server, publish5("a", hex("23 00 00")),
       reason_code::topic_alias_invalid, "topic_alias_zero"},
      {"empty topic without alias", v5, role::server, publish5("", ""),
       protocol, "empty_topic_without_alias"},
      {"empty topic in 3.1.1", v311, role::server, frame(0x30, str("") + "pl"),
       reason_code::topic_name_invalid, "empty_topic_name"},
      {"subscription identifier from a client", v5, role::server,
       publish5("a", hex("0b 01")), protocol,
       "subscription_identifier_from_client"},
      {"subscription identifier 0", v5, role::client,
       publish5("a", hex("0b 00")), protocol, "subscription_identifier_zero"},
      {"payload format indicator 2", v5, role::server,
       publish5("a", hex("01 02")), protocol, "property_value_out_of_range"},
      {"duplicate topic alias", v5, role::server,
       publish5("a", hex("23 00 01 23 00 02")), protocol, "duplicate_property"},
      {"duplicate message expiry", v5, role::server,
       publish5("a", hex("02 00 00 00 01 02 00 00 00 01")), protocol,
       "duplicate_property"},
      {"duplicate correlation data", v5, role::server,
       publish5("a", hex("09 00 00 09 00 00")), protocol, "duplicate_property"},
      {"response topic with wildcard", v5, role::server,
       publish5("a", hex("08") + str("r/#")), protocol,
       "invalid_response_topic"},
      {"session expiry in PUBLISH", v5, role::server,
       publish5("a", hex("11 00 00 00 01")), malformed, "property_not_allowed"},
      {"will delay in PUBLISH", v5, role::server,
       publish5("a", hex("18 00 00 00 01")), malformed, "property_not_allowed"},
      {"PUBLISH topic longer than the packet", v5, role::server,
       frame(0x30, hex("00 0a 61 62")), malformed, "truncated_string"},
      {"PUBLISH without packet identifier", v311, role::server,
       frame(0x32, hex("00 01 61 00")), malformed,
       "truncated_two_byte_integer"},
      // -- PUBACK, PUBREC, PUBREL, PUBCOMP
      // --------------------------------------
      {"PUBACK packet identifier 0", v5, role::server, hex("40 02 00 00"),
       protocol, "packet_identifier_zero"},
      {"PUBACK 3.1.1 with a reason code", v311, role::server,
       hex("40 03 00 01 00"), malformed, "trailing_bytes"},
      {"PUBACK too short", v5, role::server, hex("40 01 00"), malformed,
       "truncated_two_byte_integer"},
      {"PUBACK reason code for another packet", v5, role::server,
       hex("40 03 00 01 04"), malformed, "invalid_reason_code"},
      {"PUBREL reason code 0x10", v5, role::server, hex("62 03 00 01 10"),
       malformed, "invalid_reason_code"},
      {"PUBCOMP property not allowed", v5, role::server,
       hex("70 06 00 01 00 02 23 00"), malformed, "property_not_allowed"},
      {"PUBREC trailing after properties", v5, role::server,
       hex("50 05 00 01 00 00 ff"), malformed, "trailing_bytes"},
      {"PUBACK duplicate reason string", v5, role::server,
       frame(0x40, hex("00 01 00")
                       + props(hex("1f") + str("a") + hex("1f") + str("b"))),
       protocol, "duplicate_property"},
      // -- SUBSCRIBE
      // ------------------------------------------------------------
      {"SUBSCRIBE without filters (5)", v5, role::server, subscribe5("", ""),
       protocol, "no_topic_filters"},
      {"SUBSCRIBE without filters (3.1.1)", v311, role::server,
       hex("82 02 00 01"), protocol, "no_topic_filters"},
      {"SUBSCRIBE packet identifier 0", v5, role::server,
       frame(0x82, hex("00 00 00") + str("a") + hex("00")), protocol,
       "packet_identifier_zero"},
      {"subscription options reserved bits (5)", v5, role::server,
       subscribe5("", str("a") + hex("40")), malformed,
       "subscription_options_reserved_bits"},
      {"subscription options reserved bits (3.1.1)", v311, role::server,
       frame(0x82, hex("00 01") + str("a") + hex("04")), malformed,
       "subscription_options_reserved_bits"},
      {"subscription QoS 3 (5)", v5, role::server,
       subscribe5("", str("a") + hex("03")), protocol, "invalid_qos"},
      {"subscription QoS 3 (3.1.1)", v311, role::server,
       frame(0x82, hex("00 01") + str("a") + hex("03")), malformed,
       "invalid_qos"},
      {"retain handling 3", v5, role::server,
       subscribe5("", str("a") + hex("30")), protocol,
       "invalid_retain_handling"},
      {"no local on a shared subscription", v5, role::server,
       subscribe5("", str("a") + hex("00") + str("$share/g/a") + hex("04")),
       protocol, "no_local_on_shared_subscription"},
      {"two subscription identifiers", v5, role::server,
       subscribe5(hex("0b 01 0b 02"), str("a") + hex("00")), protocol,
       "duplicate_property"},
      {"subscription identifier 0 in SUBSCRIBE", v5, role::server,
       subscribe5(hex("0b 00"), str("a") + hex("00")), protocol,
       "subscription_identifier_zero"},
      {"subscription identifier over 4 bytes", v5, role::server,
       subscribe5(hex("0b ff ff ff ff 01"), str("a") + hex("00")), malformed,
       "variable_byte_integer_overflow"},
      {"topic alias in SUBSCRIBE", v5, role::server,
       subscribe5(hex("23 00 01"), str("a") + hex("00")), malformed,
       "property_not_allowed"},
      {"filter without options byte", v5, role::server,
       subscribe5("", str("a")), malformed, "truncated_byte"},
      // -- UNSUBSCRIBE
      // ----------------------------------------------------------
      {"UNSUBSCRIBE without filters", v5, role::server, hex("a2 03 00 01 00"),
       protocol, "no_topic_filters"},
      {"UNSUBSCRIBE without filters (3.1.1)", v311, role::server,
       hex("a2 02 00 01"), protocol, "no_topic_filters"},
      {"subscription identifier in UNSUBSCRIBE", v5, role::server,
       frame(0xA2, hex("00 01") + props(hex("0b 01")) + str("a")), malformed,
       "property_not_allowed"},
      {"UNSUBSCRIBE filter truncated", v5, role::server,
       frame(0xA2, hex("00 01 00 00 05 61")), malformed, "truncated_string"},
      // -- SUBACK, UNSUBACK (client side)
      // ---------------------------------------
      {"SUBACK 3.1.1 return code 3", v311, role::client, hex("90 03 00 01 03"),
       malformed, "invalid_return_code"},
      {"SUBACK reason code for another packet", v5, role::client,
       hex("90 04 00 01 00 10"), malformed, "invalid_reason_code"},
      {"SUBACK without reason codes", v5, role::client, hex("90 03 00 01 00"),
       protocol, "no_reason_codes"},
      {"UNSUBACK 3.1.1 with payload", v311, role::client, hex("b0 03 00 01 00"),
       malformed, "trailing_bytes"},
      {"UNSUBACK reason code 0x01", v5, role::client, hex("b0 04 00 01 00 01"),
       malformed, "invalid_reason_code"},
      // -- DISCONNECT, AUTH
      // -----------------------------------------------------
      {"DISCONNECT 3.1.1 with a body", v311, role::server, hex("e0 01 00"),
       malformed, "trailing_bytes"},
      {"DISCONNECT reason code for AUTH", v5, role::server, hex("e0 01 18"),
       malformed, "invalid_reason_code"},
      {"DISCONNECT trailing after properties", v5, role::server,
       hex("e0 03 00 00 00"), malformed, "trailing_bytes"},
      {"topic alias in DISCONNECT", v5, role::server,
       hex("e0 05 00 03 23 00 01"), malformed, "property_not_allowed"},
      {"AUTH reason code 0x80", v5, role::server, hex("f0 02 80 00"), malformed,
       "invalid_reason_code"},
      {"AUTH without authentication method", v5, role::server,
       hex("f0 02 18 00"), protocol, "missing_authentication_method"},
  };
}

} // namespace

TEST_CASE("codec errors: each rule maps to its reason code") {
  for (auto& c : cases()) {
    CAPTURE(c.name);
    parser_options opts;
    opts.side = c.side;
    opts.version = c.version;
    frame_parser parser{opts};
    std::string_view in = c.bytes;
    auto r = parser.feed(in);
    REQUIRE_MESSAGE(r.failed(), c.name);
    CHECK_MESSAGE(r.error.code == c.code, c.name, ": got ",
                  to_string(r.error.code), " (", r.error.cause, ")");
    if (c.cause != nullptr)
      CHECK_MESSAGE(r.error.cause == c.cause, c.name);
    // The parser stays failed.
    std::string_view more = "\xc0\x00";
    CHECK(parser.feed(more).failed());
  }
}

TEST_CASE("codec errors: the forms next to each rule are accepted") {
  // Near misses of the rules above, to show the checks are not too wide.
  struct ok_case {
    const char* name;
    std::optional<protocol_version> version;
    role side;
    std::string bytes;
  };
  auto cid = str("c");
  std::vector<ok_case> oks = {
      {"v5 password without user name", std::nullopt, role::server,
       connect5(0x42, "", cid + str("pw"))},
      {"several user properties", std::nullopt, role::server,
       connect5(0x02,
                hex("26") + str("a") + str("1") + hex("26") + str("a")
                    + str("1"),
                cid)},
      {"several subscription identifiers in PUBLISH", v5, role::client,
       publish5("a", hex("0b 01 0b 80 01"))},
      {"empty topic with alias", v5, role::server,
       publish5("", hex("23 00 01"))},
      {"invalid filter is decoded (SUBACK 0x8F is the broker's)", v5,
       role::server,
       subscribe5("", str("a/#/b") + hex("00") + str("") + hex("00"))},
      {"no local on a normal subscription", v5, role::server,
       subscribe5("", str("a") + hex("04"))},
      {"shared subscription without no local", v5, role::server,
       subscribe5("", str("$share/g/a") + hex("02"))},
      {"DISCONNECT with session expiry", v5, role::server,
       hex("e0 07 00 05 11 00 00 00 00")},
      {"PUBACK with reason code and no property length", v5, role::server,
       hex("40 03 00 01 10")},
      {"QoS 2 PUBLISH with DUP", v311, role::server,
       frame(0x3D, str("a") + hex("00 01"))},
      {"protocol level 4 CONNECT", std::nullopt, role::server,
       connect311(0xC2, cid + str("u") + str("p"))},
      {"AUTH success without body", v5, role::server, hex("f0 00")},
      {"topic with multi-byte UTF-8", v5, role::server,
       publish5("\xe6\xb8\xa9/\xf0\x9f\x98\x80", "")},
  };
  for (auto& c : oks) {
    CAPTURE(c.name);
    parser_options opts;
    opts.side = c.side;
    opts.version = c.version;
    frame_parser parser{opts};
    std::string_view in = c.bytes;
    auto r = parser.feed(in);
    CHECK_MESSAGE(r.ok(), c.name, ": ", r.error.cause);
    CHECK(in.empty());
  }
}

TEST_CASE("codec errors: decode() applies the same rules as the parser") {
  for (auto& c : cases()) {
    CAPTURE(c.name);
    // Only whole frames with a well-formed remaining length.
    std::string_view in = c.bytes;
    if (in.size() < 2 || (static_cast<uint8_t>(in[1]) & 0x80) != 0)
      continue;
    auto len = static_cast<uint8_t>(in[1]);
    if (len + 2u != in.size())
      continue;
    auto r
        = decode(static_cast<uint8_t>(in[0]), in.substr(2), c.version, c.side);
    REQUIRE(r.failed());
    CHECK(r.error.code == c.code);
  }
}

TEST_CASE("codec errors: a failed v5 CONNECT still tells the version") {
  // The broker answers a malformed v5 CONNECT with a v5 CONNACK.
  frame_parser parser;
  auto bytes = connect5(0x03, "", str("c"));
  std::string_view in = bytes;
  auto r = parser.feed(in);
  REQUIRE(r.failed());
  CHECK(parser.version() == protocol_version::v5);
  frame_parser p2;
  auto bytes2 = frame(0x10, str("MQTT") + hex("06 02 00 3c") + str("c"));
  in = bytes2;
  REQUIRE(p2.feed(in).failed());
  CHECK(!p2.version());
}
