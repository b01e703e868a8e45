// The channel state machine: CONNECT, QoS flows, aliases, subscriptions,
// DISCONNECT rules and outbound encoding, without actors or sockets.

#include <doctest/doctest.h>

#include <chrono>
#include <iterator>

#include "protocol/channel.hpp"
#include "protocol/codec.hpp"

using namespace castor::mqtt;

namespace {

connect v5_connect(std::string id, uint32_t expiry = 0) {
  connect c;
  c.version = protocol_version::v5;
  c.client_id = std::move(id);
  c.keep_alive = 30;
  if (expiry > 0)
    c.props.session_expiry_interval = expiry;
  return c;
}

template <class T>
const T* find_packet(const channel_output& out) {
  for (auto& p : out.packets)
    if (auto x = std::get_if<T>(&p))
      return x;
  return nullptr;
}

template <class T>
const T* find_effect(const channel_output& out) {
  for (auto& e : out.effects)
    if (auto x = std::get_if<T>(&e))
      return x;
  return nullptr;
}

/// A channel with an open v5 session.
channel open_channel(channel_options opts = {}, uint32_t expiry = 0) {
  channel ch{opts};
  auto out = ch.handle_in(v5_connect("c1", expiry));
  REQUIRE(find_effect<effect::open_session>(out) != nullptr);
  ch.handle_session_opened(false, {});
  REQUIRE(ch.state() == channel::phase::connected);
  return ch;
}

publish make_publish(std::string topic, uint8_t qos, uint16_t id = 0) {
  publish p;
  p.topic = std::move(topic);
  p.qos = qos;
  p.packet_id = id;
  p.payload = "hello";
  return p;
}

} // namespace

TEST_CASE("CONNECT opens the session; CONNACK advertises the limits") {
  channel_options opts;
  opts.receive_maximum = 20;
  opts.maximum_qos = 1;
  opts.max_session_expiry = 100;
  channel ch{opts};
  auto out = ch.handle_in(v5_connect("dev-1", 3600));
  auto open = find_effect<effect::open_session>(out);
  REQUIRE(open != nullptr);
  CHECK(open->req.client_id == "dev-1");
  CHECK(open->req.session_expiry == 100); // reduced to the maximum
  CHECK(out.packets.empty());
  out = ch.handle_session_opened(true, {});
  auto ack = find_packet<connack>(out);
  REQUIRE(ack != nullptr);
  CHECK(ack->code == reason_code::success);
  CHECK(ack->props.receive_maximum == uint16_t{20});
  CHECK(ack->props.maximum_qos == uint8_t{1});
  CHECK(ack->props.session_expiry_interval == uint32_t{100});
  CHECK_FALSE(ack->session_present); // clean start
}

TEST_CASE("client identifiers: assigned for v5, refused for persistent 3.1.1") {
  channel ch;
  auto out = ch.handle_in(v5_connect(""));
  auto open = find_effect<effect::open_session>(out);
  REQUIRE(open != nullptr);
  CHECK(open->req.assigned_id);
  auto assigned = open->req.client_id;
  CHECK_FALSE(assigned.empty());
  out = ch.handle_session_opened(false, {});
  CHECK(find_packet<connack>(out)->props.assigned_client_identifier
        == assigned);
  channel old;
  connect c;
  c.version = protocol_version::v311;
  c.clean_start = false;
  out = old.handle_in(std::move(c));
  auto ack = find_packet<connack>(out);
  REQUIRE(ack != nullptr);
  CHECK(ack->code == reason_code::client_identifier_not_valid);
  CHECK(out.closes());
}

TEST_CASE("packets received before the session opens wait for CONNACK") {
  channel ch;
  ch.handle_in(v5_connect("c"));
  auto out = ch.handle_in(pingreq{});
  CHECK(out.packets.empty());
  out = ch.handle_in(make_publish("a/b", 1, 7));
  CHECK(out.packets.empty());
  CHECK(out.effects.empty());
  CHECK(ch.deferred_count() == 2);
  out = ch.handle_session_opened(false, {});
  REQUIRE(out.packets.size() == 1);
  CHECK(std::holds_alternative<connack>(out.packets[0]));
  // The caller handles them in order once CONNACK is out.
  auto deferred = ch.take_deferred();
  CHECK(ch.deferred_count() == 0);
  REQUIRE(deferred.size() == 2);
  out = ch.handle_in(std::move(deferred[0]));
  REQUIRE(out.packets.size() == 1);
  CHECK(std::holds_alternative<pingresp>(out.packets[0]));
  out = ch.handle_in(std::move(deferred[1]));
  CHECK(find_effect<effect::route>(out) != nullptr);
  CHECK(find_packet<puback>(out)->packet_id == 7);
}

TEST_CASE("a lower server maximum keep alive is announced") {
  channel_options opts;
  opts.max_keep_alive = 10;
  channel ch{opts};
  ch.handle_in(v5_connect("c"));
  auto out = ch.handle_session_opened(false, {});
  CHECK(find_packet<connack>(out)->props.server_keep_alive == uint16_t{10});
  CHECK(ch.keep_alive() == 10);
}

TEST_CASE("QoS 1 and 2 publishes are routed and acknowledged") {
  auto ch = open_channel();
  auto out = ch.handle_in(make_publish("a/b", 1, 7));
  CHECK(find_effect<effect::route>(out) != nullptr);
  REQUIRE(find_packet<puback>(out) != nullptr);
  CHECK(find_packet<puback>(out)->packet_id == 7);
  out = ch.handle_in(make_publish("a/b", 2, 9));
  CHECK(find_effect<effect::route>(out) != nullptr);
  CHECK(find_packet<pubrec>(out)->packet_id == 9);
  // Exactly once: the retransmission before PUBREL is not routed again.
  auto dup = make_publish("a/b", 2, 9);
  dup.dup = true;
  out = ch.handle_in(std::move(dup));
  CHECK(find_effect<effect::route>(out) == nullptr);
  CHECK(find_packet<pubrec>(out) != nullptr);
  out = ch.handle_in(pubrel{9, reason_code::success, {}});
  CHECK(find_packet<pubcomp>(out)->code == reason_code::success);
  out = ch.handle_in(pubrel{9, reason_code::success, {}});
  CHECK(find_packet<pubcomp>(out)->code
        == reason_code::packet_identifier_not_found);
  // The identifier is free again.
  out = ch.handle_in(make_publish("a/b", 2, 9));
  CHECK(find_effect<effect::route>(out) != nullptr);
}

TEST_CASE("more unreleased QoS 2 publishes than receive maximum: 0x93") {
  channel_options opts;
  opts.receive_maximum = 2;
  auto ch = open_channel(opts);
  ch.handle_in(make_publish("a", 2, 1));
  ch.handle_in(make_publish("a", 2, 2));
  auto out = ch.handle_in(make_publish("a", 2, 3));
  auto d = find_packet<disconnect>(out);
  REQUIRE(d != nullptr);
  CHECK(d->code == reason_code::receive_maximum_exceeded);
  CHECK(out.closes());
  CHECK(find_effect<effect::route>(out) == nullptr);
}

TEST_CASE("a QoS above the maximum is refused with 0x9B") {
  channel_options opts;
  opts.maximum_qos = 1;
  auto ch = open_channel(opts);
  auto out = ch.handle_in(make_publish("a", 2, 1));
  CHECK(find_packet<disconnect>(out)->code == reason_code::qos_not_supported);
}

TEST_CASE("inbound topic aliases") {
  auto ch = open_channel();
  auto p = make_publish("long/topic/name", 0);
  p.props.topic_alias = 3;
  auto out = ch.handle_in(std::move(p));
  REQUIRE(find_effect<effect::route>(out) != nullptr);
  CHECK(find_effect<effect::route>(out)->msg.topic == "long/topic/name");
  CHECK_FALSE(find_effect<effect::route>(out)->msg.props.topic_alias);
  p = make_publish("", 0);
  p.props.topic_alias = 3;
  out = ch.handle_in(std::move(p));
  REQUIRE(find_effect<effect::route>(out) != nullptr);
  CHECK(find_effect<effect::route>(out)->msg.topic == "long/topic/name");
  SUBCASE("unknown alias") {
    p = make_publish("", 0);
    p.props.topic_alias = 4;
    out = ch.handle_in(std::move(p));
    CHECK(find_packet<disconnect>(out)->code == reason_code::protocol_error);
  }
  SUBCASE("alias above the maximum") {
    p = make_publish("x", 0);
    p.props.topic_alias = 65;
    out = ch.handle_in(std::move(p));
    CHECK(find_packet<disconnect>(out)->code
          == reason_code::topic_alias_invalid);
  }
}

TEST_CASE("SUBSCRIBE: invalid filters, QoS downgrade, shared no local") {
  channel_options opts;
  opts.maximum_qos = 1;
  auto ch = open_channel(opts);
  subscribe s;
  s.packet_id = 5;
  s.subscriptions.push_back(subscription{"a/#", 2, false, false, 0});
  s.subscriptions.push_back(subscription{"a/#/b", 1, false, false, 0});
  auto out = ch.handle_in(subscribe{s});
  auto eff = find_effect<effect::subscribe>(out);
  REQUIRE(eff != nullptr);
  CHECK(eff->codes[0] == reason_code::granted_qos_1);
  CHECK(eff->subs[0].max_qos == 1);
  CHECK(eff->codes[1] == reason_code::topic_filter_invalid);
  out = ch.handle_suback(5, eff->codes);
  CHECK(find_packet<suback>(out)->codes.size() == 2);
  subscribe shared;
  shared.packet_id = 6;
  shared.subscriptions.push_back(subscription{"$share/g/a", 1, true, false, 0});
  out = ch.handle_in(std::move(shared));
  CHECK(find_packet<disconnect>(out)->code == reason_code::protocol_error);
}

TEST_CASE("SUBSCRIBE: shared subscription names and availability") {
  // [MQTT-4.8.2-1], [MQTT-4.8.2-2]: $share/ then a share name of at least
  // one character without '/', '+' or '#', then '/' and a topic filter.
  // Anything else is not a valid filter: 0x8F (Topic Filter invalid), also
  // where shared subscriptions are not supported; a valid shared filter
  // there gets 0x9E (Shared Subscriptions not supported).
  const char* invalid[]
      = {"$share/g",  "$share//t",  "$share/g+/t", "$share/g#/t",
         "$share/g/", "$share/+/t", "$share/#/t",  "$share/g/a/#/b"};
  auto subscribe_all = [&](channel& ch) {
    subscribe s;
    s.packet_id = 7;
    for (auto f : invalid)
      s.subscriptions.push_back(subscription{f, 1, false, false, 0});
    s.subscriptions.push_back(subscription{"$share/g/a/#", 1, false, false, 0});
    s.subscriptions.push_back(subscription{"$share", 1, false, false, 0});
    auto out = ch.handle_in(std::move(s));
    auto eff = find_effect<effect::subscribe>(out);
    REQUIRE(eff != nullptr);
    REQUIRE(eff->codes.size() == std::size(invalid) + 2);
    return eff->codes;
  };
  SUBCASE("available") {
    auto ch = open_channel();
    auto codes = subscribe_all(ch);
    for (size_t i = 0; i < std::size(invalid); ++i) {
      CAPTURE(invalid[i]);
      CHECK(codes[i] == reason_code::topic_filter_invalid);
    }
    CHECK(codes[std::size(invalid)] == reason_code::granted_qos_1);
    // "$share" without a '/' is an ordinary filter.
    CHECK(codes[std::size(invalid) + 1] == reason_code::granted_qos_1);
    auto out = ch.handle_suback(7, codes);
    auto ack = find_packet<suback>(out);
    REQUIRE(ack != nullptr);
    auto bytes = encode(*ack, protocol_version::v5);
    CHECK(static_cast<uint8_t>(bytes[5]) == 0x8F);
  }
  SUBCASE("not available") {
    channel_options opts;
    opts.shared_subscription_available = false;
    auto ch = open_channel(opts);
    auto codes = subscribe_all(ch);
    for (size_t i = 0; i < std::size(invalid); ++i) {
      CAPTURE(invalid[i]);
      CHECK(codes[i] == reason_code::topic_filter_invalid);
    }
    CHECK(codes[std::size(invalid)]
          == reason_code::shared_subscriptions_not_supported);
    CHECK(codes[std::size(invalid) + 1] == reason_code::granted_qos_1);
    auto out = ch.handle_suback(7, codes);
    auto bytes = encode(*find_packet<suback>(out), protocol_version::v5);
    CHECK(static_cast<uint8_t>(bytes[5 + std::size(invalid)]) == 0x9E);
  }
}

TEST_CASE("DISCONNECT: the will and the session expiry") {
  SUBCASE("normal disconnection: no will") {
    auto ch = open_channel();
    auto out = ch.handle_in(disconnect{});
    auto c = find_effect<effect::close>(out);
    REQUIRE(c != nullptr);
    CHECK_FALSE(c->publish_will);
  }
  SUBCASE("0x04: with will") {
    auto ch = open_channel();
    disconnect d;
    d.code = reason_code::disconnect_with_will_message;
    auto out = ch.handle_in(std::move(d));
    CHECK(find_effect<effect::close>(out)->publish_will);
  }
  SUBCASE("expiry changed from 0 is a protocol error") {
    auto ch = open_channel();
    disconnect d;
    d.props.session_expiry_interval = 60;
    auto out = ch.handle_in(std::move(d));
    CHECK(find_packet<disconnect>(out)->code == reason_code::protocol_error);
    CHECK(find_effect<effect::close>(out)->publish_will);
  }
  SUBCASE("expiry changed from non-zero is taken") {
    auto ch = open_channel({}, 10);
    disconnect d;
    d.props.session_expiry_interval = 60;
    auto out = ch.handle_in(std::move(d));
    CHECK(find_effect<effect::close>(out)->session_expiry == uint32_t{60});
  }
}

TEST_CASE("a parse error closes with its reason code") {
  auto ch = open_channel();
  parse_error err;
  err.code = reason_code::packet_too_large;
  err.cause = "frame_too_large";
  auto out = ch.handle_parse_error(err);
  CHECK(find_packet<disconnect>(out)->code == reason_code::packet_too_large);
  CHECK(out.closes());
  CHECK(ch.handle_in(pingreq{}).packets.empty()); // closed for good
}

TEST_CASE("the reason string is left out of a DISCONNECT too large for the "
          "client") {
  parse_error err;
  err.code = reason_code::protocol_error;
  err.cause = "packet_identifier_zero";
  for (uint32_t max : {0u, 64u, 20u}) {
    channel ch;
    auto c = v5_connect("c");
    if (max != 0)
      c.props.maximum_packet_size = max;
    ch.handle_in(std::move(c));
    ch.handle_session_opened(false, {});
    auto out = ch.handle_parse_error(err);
    auto d = find_packet<disconnect>(out);
    REQUIRE(d != nullptr);
    CHECK(d->code == reason_code::protocol_error);
    CHECK(d->props.reason_string.has_value() == (max != 20));
    std::string bytes;
    ch.write(out.packets[0], bytes);
    if (max != 0)
      CHECK(bytes.size() <= max);
  }
}

TEST_CASE("a malformed second CONNECT is a protocol error in DISCONNECT") {
  // The parser names a bad protocol name 0x84, a code CONNACK alone may
  // carry; after the first CONNECT the DISCONNECT says 0x82.
  auto ch = open_channel();
  parse_error err;
  err.code = reason_code::unsupported_protocol_version;
  err.cause = "invalid_protocol_name";
  auto out = ch.handle_parse_error(err, protocol_version::v5);
  auto d = find_packet<disconnect>(out);
  REQUIRE(d != nullptr);
  CHECK(d->code == reason_code::protocol_error);
  CHECK(find_effect<effect::close>(out)->reason == reason_code::protocol_error);
  // What is written parses as a client's parser reads it.
  std::string bytes;
  ch.write(out.packets[0], bytes);
  parser_options popts;
  popts.side = parser_options::role::client;
  popts.version = protocol_version::v5;
  frame_parser client{popts};
  std::string_view in = bytes;
  CHECK(client.feed(in).ok());
  // A kick with a code DISCONNECT cannot carry goes out as 0x80.
  auto other = open_channel();
  out = other.handle_kick(reason_code::bad_user_name_or_password, false);
  CHECK(find_packet<disconnect>(out)->code == reason_code::unspecified_error);
}

TEST_CASE("outbound: aliases for the client, oversized packets skipped") {
  channel ch;
  auto c = v5_connect("c");
  c.props.topic_alias_maximum = 1;
  c.props.maximum_packet_size = 64;
  ch.handle_in(std::move(c));
  ch.handle_session_opened(false, {});
  auto now = std::chrono::steady_clock::now();
  auto msg = make_message(make_publish("sensors/temperature", 1, 0), "x", now);
  outbound o;
  o.msg = msg;
  o.qos = 1;
  o.packet_id = 3;
  std::string first, second;
  REQUIRE(ch.write(o, now, first));
  REQUIRE(ch.write(o, now, second));
  CHECK(second.size() < first.size()); // the topic went into alias 1
  parser_options popts;
  popts.side = parser_options::role::client;
  popts.version = protocol_version::v5;
  frame_parser parser{popts};
  std::string_view in{second};
  auto r = parser.feed(in);
  REQUIRE(r.ok());
  auto& p = std::get<publish>(r.pkt);
  CHECK(p.topic.empty());
  CHECK(p.props.topic_alias == uint16_t{1});
  // 64 bytes is the client's maximum: a large payload is not written.
  publish big = make_publish("t", 1, 0);
  big.payload.assign(100, 'x');
  o.msg = make_message(std::move(big), "x", now);
  std::string third;
  CHECK_FALSE(ch.write(o, now, third));
  CHECK(third.empty());
}

TEST_CASE("outbound: the delta form follows the value the client has") {
  auto now = std::chrono::steady_clock::now();
  auto value = make_message(make_publish("t/a", 1, 0), "x", now);
  publish d = make_publish("t/a", 1, 0);
  d.payload = "DELTA";
  d.props.content_type = "application/json-patch+json";
  auto delta = make_message(std::move(d), "x", now);
  auto form = [&](uint64_t seq, uint64_t base, bool dup = false) {
    outbound o;
    o.msg = value;
    o.qos = 1;
    o.packet_id = 1;
    o.dup = dup;
    o.delta_form = true;
    o.delta = delta;
    o.seq = seq;
    o.base = base;
    return o;
  };
  auto read = [](const std::string& bytes, protocol_version v) {
    parser_options popts;
    popts.side = parser_options::role::client;
    popts.version = v;
    frame_parser parser{popts};
    std::string_view in{bytes};
    auto r = parser.feed(in);
    REQUIRE(r.ok());
    return std::get<publish>(r.pkt);
  };
  auto ch = open_channel();
  std::string out;
  // Nothing written for the topic yet: whole, on $delta/.
  REQUIRE(ch.write(form(5, 4), now, out));
  auto p = read(out, protocol_version::v5);
  CHECK(p.topic == "$delta/t/a");
  CHECK(p.payload == value->payload);
  // Its successor as the delta.
  out.clear();
  REQUIRE(ch.write(form(6, 5), now, out));
  p = read(out, protocol_version::v5);
  CHECK(p.payload == "DELTA");
  CHECK(p.props.content_type == std::string{"application/json-patch+json"});
  // A gap (update 7 never written): whole again, then deltas.
  out.clear();
  REQUIRE(ch.write(form(8, 7), now, out));
  CHECK(read(out, protocol_version::v5).payload == value->payload);
  out.clear();
  REQUIRE(ch.write(form(9, 8, true), now, out)); // a retransmission
  CHECK(read(out, protocol_version::v5).payload == value->payload);
  out.clear();
  REQUIRE(ch.write(form(10, 9), now, out));
  CHECK(read(out, protocol_version::v5).payload == "DELTA");
  // A plain delivery of the same topic changes nothing of that.
  outbound plain;
  plain.msg = value;
  out.clear();
  REQUIRE(ch.write(plain, now, out));
  CHECK(read(out, protocol_version::v5).topic == "t/a");
  out.clear();
  REQUIRE(ch.write(form(11, 10), now, out));
  CHECK(read(out, protocol_version::v5).payload == "DELTA");
  // MQTT 3.1.1 has no content type: whole values only.
  channel v3;
  connect c;
  c.version = protocol_version::v311;
  c.client_id = "v3";
  c.clean_start = true;
  v3.handle_in(std::move(c));
  v3.handle_session_opened(false, {});
  out.clear();
  REQUIRE(v3.write(form(5, 4), now, out));
  out.clear();
  REQUIRE(v3.write(form(6, 5), now, out));
  p = read(out, protocol_version::v311);
  CHECK(p.topic == "$delta/t/a");
  CHECK(p.payload == value->payload);
}
