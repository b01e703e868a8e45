// The channel's access-control hooks (publish, subscribe), the credentials
// it hands to the connection, and MQTT 5 enhanced authentication through
// AUTH, with a stand-in access policy: no store, no actors.

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "protocol/channel.hpp"
#include "protocol/codec.hpp"

using namespace castor::mqtt;

namespace {

/// Allows what the test lists; counts the questions.
struct fake_access : access_policy {
  std::map<std::string, publish_check> publish;
  std::set<std::string> subscribe;
  std::set<std::string> read;
  mutable int asked = 0;

  publish_check check_publish(std::string_view topic) const override {
    ++asked;
    auto i = publish.find(std::string{topic});
    return i == publish.end() ? publish_check::deny : i->second;
  }
  bool may_subscribe(std::string_view filter) const override {
    ++asked;
    return subscribe.count(std::string{filter}) > 0;
  }
  bool may_read(std::string_view topic) const override {
    return read.count(std::string{topic}) > 0;
  }
};

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

connect make_connect(protocol_version v = protocol_version::v5) {
  connect c;
  c.version = v;
  c.client_id = "c1";
  c.keep_alive = 30;
  return c;
}

std::shared_ptr<fake_access> policy() {
  auto a = std::make_shared<fake_access>();
  a->publish["ok"] = publish_check::allow;
  a->publish["existing"] = publish_check::allow_existing;
  a->subscribe = {"ok", "a/#"};
  return a;
}

channel open_channel(std::shared_ptr<const access_policy> a,
                     protocol_version v = protocol_version::v5) {
  channel ch;
  auto out = ch.handle_in(make_connect(v));
  REQUIRE(find_effect<effect::open_session>(out) != nullptr);
  ch.set_access(std::move(a));
  ch.handle_session_opened(false, {});
  REQUIRE(ch.state() == channel::phase::connected);
  return ch;
}

publish make_publish(std::string topic, uint8_t qos, uint16_t id = 0) {
  publish p;
  p.topic = std::move(topic);
  p.qos = qos;
  p.packet_id = id;
  p.payload = "x";
  return p;
}

} // namespace

TEST_CASE("CONNECT hands the credentials to the connection, not the session") {
  channel ch;
  auto c = make_connect();
  c.username = "alice";
  c.password = std::string("pw\0bin", 6);
  auto out = ch.handle_in(std::move(c));
  auto open = find_effect<effect::open_session>(out);
  REQUIRE(open != nullptr);
  CHECK(open->creds.has_username);
  CHECK(open->creds.username == "alice");
  CHECK(open->creds.has_password);
  CHECK(open->creds.password == std::string("pw\0bin", 6));
  CHECK(open->creds.auth_method.empty());
  CHECK(open->req.username == std::optional<std::string>("alice"));
  out = ch.handle_session_refused(reason_code::bad_user_name_or_password);
  REQUIRE(find_packet<connack>(out) != nullptr);
  CHECK(find_packet<connack>(out)->code
        == reason_code::bad_user_name_or_password);
  CHECK(out.closes());
  SUBCASE("no user name, no password") {
    channel ch2;
    auto out2 = ch2.handle_in(make_connect());
    auto open2 = find_effect<effect::open_session>(out2);
    REQUIRE(open2 != nullptr);
    CHECK_FALSE(open2->creds.has_username);
    CHECK_FALSE(open2->creds.has_password);
  }
}

TEST_CASE("3.1.1 CONNACK return codes for refused logins") {
  channel ch;
  ch.handle_in(make_connect(protocol_version::v311));
  auto out = ch.handle_session_refused(reason_code::bad_user_name_or_password);
  std::string bytes;
  ch.write(out.packets.at(0), bytes);
  CHECK(bytes == std::string("\x20\x02\x00\x04", 4));
  channel ch2;
  ch2.handle_in(make_connect(protocol_version::v311));
  out = ch2.handle_session_refused(reason_code::not_authorized);
  bytes.clear();
  ch2.write(out.packets.at(0), bytes);
  CHECK(bytes == std::string("\x20\x02\x00\x05", 4));
}

TEST_CASE("without an access policy nothing is asked") {
  auto ch = open_channel(nullptr);
  auto out = ch.handle_in(make_publish("anything", 1, 1));
  CHECK(find_effect<effect::route>(out) != nullptr);
  CHECK(find_packet<puback>(out)->code == reason_code::success);
}

TEST_CASE("PUBLISH: allowed, refused per QoS, allowed only if the topic exists") {
  auto a = policy();
  auto ch = open_channel(a);
  SUBCASE("allowed") {
    auto out = ch.handle_in(make_publish("ok", 1, 1));
    CHECK(find_effect<effect::route>(out) != nullptr);
    CHECK(find_packet<puback>(out)->code == reason_code::success);
    CHECK(a->asked == 1);
  }
  SUBCASE("refused QoS 0: dropped, reported") {
    auto out = ch.handle_in(make_publish("no", 0));
    CHECK(out.packets.empty());
    CHECK(find_effect<effect::route>(out) == nullptr);
    REQUIRE(find_effect<effect::publish_refused>(out) != nullptr);
    CHECK(find_effect<effect::publish_refused>(out)->topic == "no");
    CHECK_FALSE(out.closes());
  }
  SUBCASE("refused QoS 1: PUBACK 0x87") {
    auto out = ch.handle_in(make_publish("no", 1, 4));
    CHECK(find_effect<effect::route>(out) == nullptr);
    CHECK(find_packet<puback>(out)->packet_id == 4);
    CHECK(find_packet<puback>(out)->code == reason_code::not_authorized);
  }
  SUBCASE("refused QoS 2: PUBREC 0x87 ends the exchange") {
    auto out = ch.handle_in(make_publish("no", 2, 5));
    CHECK(find_packet<pubrec>(out)->code == reason_code::not_authorized);
    CHECK(ch.inbound_qos2().empty());
    out = ch.handle_in(pubrel{5, reason_code::success, {}});
    CHECK(find_packet<pubcomp>(out)->code
          == reason_code::packet_identifier_not_found);
  }
  SUBCASE("allowed if the topic exists: the connection finds out") {
    auto out = ch.handle_in(make_publish("existing", 1, 6));
    CHECK(out.packets.empty());
    auto r = find_effect<effect::route_if_exists>(out);
    REQUIRE(r != nullptr);
    auto msg = r->msg;
    out = ch.handle_publish_checked(publish{msg}, true);
    CHECK(find_effect<effect::route>(out) != nullptr);
    CHECK(find_packet<puback>(out)->code == reason_code::success);
    out = ch.handle_publish_checked(publish{msg}, false);
    CHECK(find_effect<effect::route>(out) == nullptr);
    CHECK(find_packet<puback>(out)->code == reason_code::not_authorized);
    // QoS 2 that exists: accepted and awaiting PUBREL.
    out = ch.handle_in(make_publish("existing", 2, 7));
    r = find_effect<effect::route_if_exists>(out);
    REQUIRE(r != nullptr);
    out = ch.handle_publish_checked(publish{r->msg}, true);
    CHECK(find_packet<pubrec>(out)->code == reason_code::success);
    CHECK(ch.inbound_qos2().count(7) == 1);
  }
}

TEST_CASE("PUBLISH refused on 3.1.1: acknowledged and dropped") {
  auto ch = open_channel(policy(), protocol_version::v311);
  auto out = ch.handle_in(make_publish("no", 1, 1));
  CHECK(find_effect<effect::route>(out) == nullptr);
  CHECK(find_effect<effect::publish_refused>(out) != nullptr);
  CHECK(find_packet<puback>(out)->code == reason_code::success);
  out = ch.handle_in(make_publish("no", 2, 2));
  CHECK(find_packet<pubrec>(out)->code == reason_code::success);
  out = ch.handle_in(pubrel{2, reason_code::success, {}});
  CHECK(find_packet<pubcomp>(out) != nullptr);
}

TEST_CASE("SUBSCRIBE: a refused filter gets 0x87 (0x80 on 3.1.1)") {
  subscribe s;
  s.packet_id = 3;
  s.subscriptions.push_back(subscription{"ok", 1, false, false, 0});
  s.subscriptions.push_back(subscription{"no", 1, false, false, 0});
  s.subscriptions.push_back(subscription{"$share/g/a/#", 2, false, false, 0});
  s.subscriptions.push_back(subscription{"a/#/x", 2, false, false, 0});
  auto a = policy();
  auto ch = open_channel(a);
  auto out = ch.handle_in(subscribe{s});
  auto eff = find_effect<effect::subscribe>(out);
  REQUIRE(eff != nullptr);
  CHECK(eff->codes[0] == reason_code::granted_qos_1);
  CHECK(eff->codes[1] == reason_code::not_authorized);
  // The shared filter is checked without its $share/g/ prefix.
  CHECK(eff->codes[2] == reason_code::granted_qos_2);
  // An invalid filter is refused as such, before permissions.
  CHECK(eff->codes[3] == reason_code::topic_filter_invalid);
  CHECK(a->asked == 3);
  auto ch3 = open_channel(policy(), protocol_version::v311);
  out = ch3.handle_in(subscribe{s});
  eff = find_effect<effect::subscribe>(out);
  REQUIRE(eff != nullptr);
  out = ch3.handle_suback(3, eff->codes);
  std::string bytes;
  ch3.write(out.packets.at(0), bytes);
  CHECK(bytes == std::string("\x90\x06\x00\x03\x01\x80\x02\x80", 8));
}

TEST_CASE("enhanced authentication: CONNECT, AUTH 0x18 both ways, CONNACK") {
  channel ch;
  auto c = make_connect();
  c.props.authentication_method = "SCRAM-SHA-256";
  c.props.authentication_data = "client-first";
  auto out = ch.handle_in(std::move(c));
  auto open = find_effect<effect::open_session>(out);
  REQUIRE(open != nullptr);
  CHECK(open->creds.auth_method == "SCRAM-SHA-256");
  CHECK(open->creds.auth_data == "client-first");
  out = ch.handle_auth_continue("server-first");
  auto a = find_packet<auth>(out);
  REQUIRE(a != nullptr);
  CHECK(a->code == reason_code::continue_authentication);
  CHECK(a->props.authentication_method
        == std::optional<std::string>("SCRAM-SHA-256"));
  CHECK(a->props.authentication_data
        == std::optional<std::string>("server-first"));
  SUBCASE("the client's answer, then success") {
    auth reply;
    reply.code = reason_code::continue_authentication;
    reply.props.authentication_method = "SCRAM-SHA-256";
    reply.props.authentication_data = "client-final";
    out = ch.handle_in(std::move(reply));
    auto d = find_effect<effect::auth_data>(out);
    REQUIRE(d != nullptr);
    CHECK(d->data == "client-final");
    ch.set_auth_success("server-final");
    out = ch.handle_session_opened(false, {});
    auto ack = find_packet<connack>(out);
    REQUIRE(ack != nullptr);
    CHECK(ack->code == reason_code::success);
    CHECK(ack->props.authentication_method
          == std::optional<std::string>("SCRAM-SHA-256"));
    CHECK(ack->props.authentication_data
          == std::optional<std::string>("server-final"));
    // Re-authentication is not offered.
    auth again;
    again.code = reason_code::re_authenticate;
    again.props.authentication_method = "SCRAM-SHA-256";
    out = ch.handle_in(std::move(again));
    REQUIRE(find_packet<disconnect>(out) != nullptr);
    CHECK(find_packet<disconnect>(out)->code
          == reason_code::implementation_specific_error);
    CHECK(out.closes());
  }
  SUBCASE("another method mid-exchange: protocol error") {
    auth reply;
    reply.code = reason_code::continue_authentication;
    reply.props.authentication_method = "OTHER";
    out = ch.handle_in(std::move(reply));
    REQUIRE(find_packet<connack>(out) != nullptr);
    CHECK(find_packet<connack>(out)->code == reason_code::protocol_error);
    CHECK(out.closes());
  }
  SUBCASE("a wrong proof: CONNACK with the reason, close") {
    out = ch.handle_session_refused(reason_code::not_authorized);
    CHECK(find_packet<connack>(out)->code == reason_code::not_authorized);
    CHECK(out.closes());
  }
}

TEST_CASE("AUTH without enhanced authentication is a protocol error") {
  channel ch;
  ch.handle_in(make_connect());
  auth a;
  a.code = reason_code::continue_authentication;
  auto out = ch.handle_in(std::move(a));
  CHECK(out.closes());
  auto ch2 = open_channel(nullptr);
  auth b;
  b.code = reason_code::re_authenticate;
  out = ch2.handle_in(std::move(b));
  REQUIRE(find_packet<disconnect>(out) != nullptr);
  CHECK(find_packet<disconnect>(out)->code == reason_code::protocol_error);
}
