#pragma once

// fuzz_channel's client side: the access policy the channel checks, and
// CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, acknowledgements, DISCONNECT
// and AUTH packets built from the fuzz input (tests/fuzz/fuzz_channel.cpp).

#include "protocol/channel.hpp"
#include "protocol/codec.hpp"
#include "protocol/session_state.hpp"
#include "protocol/topic.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "fuzz_check.hpp"

namespace fuzz_channel {

using namespace castor::mqtt;
using castor_fuzz::input;

/// FUZZ_CHANNEL_TRACE=1 prints what the channel writes and asks for (to
/// read a seed or a failing input).
bool trace() {
  static const bool on = std::getenv("FUZZ_CHANNEL_TRACE") != nullptr;
  return on;
}

// -- the access policy
// ---------------------------------------------------------

/// Publishing to topics starting "deny" is refused, to "exist" allowed only
/// to existing topics; subscribing to filters containing "secret" refused.
class fuzz_access : public access_policy {
public:
  publish_check check_publish(std::string_view topic) const override {
    if (topic.substr(0, 4) == "deny")
      return publish_check::deny;
    if (topic.substr(0, 5) == "exist")
      return publish_check::allow_existing;
    return publish_check::allow;
  }
  bool may_subscribe(std::string_view filter) const override {
    return filter.find("secret") == std::string_view::npos;
  }
  bool may_read(std::string_view) const override {
    return true;
  }
};

// -- building packets from the input
// ----------------------------------------------

// clang-format off
const char* const topics[]
    = {"a",       "a/b",       "sensors/1/temp", "deny/x",
       "exist/y", "$SYS/load", "a/b/c/d",        "",
       "+",       "a/#",       "exist/z",        "\xc3\xa9",
       "x/y",     "$castor/api/topics/fetch",    "$castor/x"};
const char* const filters[]
    = {"a/#",        "+/b",       "#",         "a/b",      "$share/g/a/#",
       "$share/g/+", "a/#/b",     "",          "secret/#", "sensors/+/temp",
       "$SYS/#",     "a/b/c/d",   "$share//a", "exist/#",  "+",
       "$share/g/a", "$castor/#", "$share/g/$castor/api/x",
       "$delta/a/#", "$delta/#",  "$share/g/$delta/a/b",   "$delta/",
       "$delta/$castor/#",        "$delta/+/b"};
// clang-format on
const reason_code ack_codes[] = {reason_code::success,
                                 reason_code::no_matching_subscribers,
                                 reason_code::unspecified_error,
                                 reason_code::not_authorized,
                                 reason_code::packet_identifier_in_use,
                                 reason_code::quota_exceeded,
                                 reason_code::payload_format_invalid};
const reason_code disconnect_codes[]
    = {reason_code::success, reason_code::disconnect_with_will_message,
       reason_code::unspecified_error, reason_code::protocol_error,
       reason_code::message_rate_too_high};
const reason_code kick_codes[]
    = {reason_code::session_taken_over,       reason_code::server_shutting_down,
       reason_code::administrative_action,    reason_code::quota_exceeded,
       reason_code::receive_maximum_exceeded, reason_code::keep_alive_timeout,
       reason_code::not_authorized,           reason_code::use_another_server};
const reason_code refuse_codes[] = {reason_code::not_authorized,
                                    reason_code::bad_user_name_or_password,
                                    reason_code::server_unavailable,
                                    reason_code::banned,
                                    reason_code::bad_authentication_method,
                                    reason_code::client_identifier_not_valid,
                                    reason_code::server_busy,
                                    reason_code::protocol_error,
                                    reason_code::unspecified_error};

template <class T, size_t N>
const T& choose(input& in, const T (&items)[N]) {
  return items[in.byte() % N];
}

std::string topic_from(input& in) {
  auto b = in.byte();
  if (b < 0xF0)
    return topics[b % std::size(topics)];
  return std::string(in.string(64));
}

std::string filter_from(input& in) {
  auto b = in.byte();
  if (b < 0xF0)
    return filters[b % std::size(filters)];
  return std::string(in.string(64));
}

/// A JSON document of some 200 bytes, a few fields taken from the input
/// (consecutive ones differ a little: JSON Patch deltas).
std::string json_payload(input& in) {
  std::string s = R"({"pad": ")" + std::string(150, 'p') + R"(", "n": )";
  s += std::to_string(in.byte());
  s += R"(, "list": [)";
  for (int i = in.byte() % 4; i > 0; --i)
    s += std::to_string(in.byte()) + (i > 1 ? ", " : "");
  s += R"(], "s": ")";
  for (char c : in.string(8))
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20
        && static_cast<unsigned char>(c) < 0x80)
      s.push_back(c);
  return s + "\"}";
}

/// A text of 200 bytes with a few bytes changed (binary deltas).
std::string text_payload(input& in) {
  std::string s(200, 't');
  for (int i = in.byte() % 4; i > 0; --i)
    s[in.byte() % s.size()] = static_cast<char>('a' + in.byte() % 26);
  return s;
}

/// Properties of a message (PUBLISH, will) from the input.
void message_props(input& in, properties& p, bool will) {
  auto bits = in.byte();
  if (bits & 0x01)
    p.payload_format_indicator = in.byte() % 3 == 0 ? 0 : 1;
  if (bits & 0x02)
    p.message_expiry_interval = in.byte() % 4;
  if (bits & 0x04)
    p.content_type = std::string(in.string(16));
  if (bits & 0x08)
    p.response_topic = topic_from(in);
  if (bits & 0x10)
    p.correlation_data = std::string(in.string(16));
  if (bits & 0x20)
    p.user_properties.emplace_back(std::string(in.string(8)),
                                   std::string(in.string(8)));
  if (will && (bits & 0x40))
    p.will_delay_interval = in.byte();
}

struct client_model {
  protocol_version version = protocol_version::v5;
  std::vector<uint16_t> outbound_ids; ///< recent ids of the server's PUBLISH
  std::vector<uint16_t> inbound_qos2; ///< ids of QoS 2 publishes sent
};

uint16_t packet_id_from(input& in) {
  auto b = in.byte();
  return b < 0xF8 ? static_cast<uint16_t>(b % 8 + 1) : in.u16();
}

packet make_connect(input& in, client_model& cm) {
  connect c;
  auto bits = in.byte();
  c.version = (bits & 0x01) ? protocol_version::v311 : protocol_version::v5;
  c.clean_start = (bits & 0x02) == 0;
  c.keep_alive = (bits & 0x04) ? in.u16() : 30;
  auto id = in.byte();
  c.client_id = id < 0xC0 ? "c1" : id < 0xE0 ? "" : std::string(in.string(32));
  if (bits & 0x08) {
    will_message w;
    w.topic = topic_from(in);
    w.payload = std::string(in.string(16));
    auto wb = in.byte();
    w.qos = (wb & 0x03) % 3;
    w.retain = (wb & 0x04) != 0;
    if (c.version == protocol_version::v5)
      message_props(in, w.props, true);
    c.will = std::move(w);
  }
  if (bits & 0x10) {
    c.username = std::string(in.string(16));
    if (bits & 0x20)
      c.password = std::string(in.string(16));
  }
  if (c.version == protocol_version::v5) {
    auto pb = in.byte();
    auto& p = c.props;
    if (pb & 0x01)
      p.session_expiry_interval = in.byte() < 0x80 ? in.byte() : in.u32();
    if (pb & 0x02)
      p.receive_maximum = in.byte() % 4;
    if (pb & 0x04) {
      static const uint32_t sizes[] = {0, 20, 40, 64, 128, 1024, 268435455};
      p.maximum_packet_size = choose(in, sizes);
    }
    if (pb & 0x08)
      p.topic_alias_maximum = in.byte() % 4;
    if (pb & 0x10)
      p.request_problem_information = in.byte() % 2;
    if (pb & 0x20) {
      p.authentication_method
          = in.flag() ? std::string("SCRAM-SHA-256") : std::string("OTHER");
      if (in.flag())
        p.authentication_data = std::string(in.string(32));
    }
    if (pb & 0x40)
      p.user_properties.emplace_back("k", std::string(in.string(8)));
  }
  cm.version = c.version;
  return c;
}

packet make_publish(input& in, client_model& cm) {
  publish p;
  auto bits = in.byte();
  p.qos = (bits & 0x03) % 3;
  if ((bits & 0x83) == 0x83)
    p.qos = 3; // malformed: the parser's to refuse
  p.retain = (bits & 0x10) != 0;
  p.dup = (bits & 0x20) != 0 && p.qos > 0;
  p.topic = topic_from(in);
  if (p.qos > 0)
    p.packet_id = packet_id_from(in);
  if (cm.version == protocol_version::v5) {
    message_props(in, p.props, false);
    if (bits & 0x40)
      p.props.topic_alias = in.byte() % 4;
  }
  auto pay = in.byte();
  if (pay < 0x40)
    p.payload = "hello";
  else if (pay < 0x50)
    p.payload = "\xff\xfe";
  else if (pay < 0x60)
    p.payload = std::string(in.u16() % 2048, 'x');
  else if (pay < 0x70)
    p.payload = json_payload(in); // with deltas between them
  else if (pay < 0x78)
    p.payload = text_payload(in);
  else
    p.payload = std::string(in.string(32));
  if (p.qos == 2)
    cm.inbound_qos2.push_back(p.packet_id);
  return p;
}

template <class Ack>
packet make_ack(input& in, client_model& cm, const std::vector<uint16_t>& ids) {
  Ack a;
  auto b = in.byte();
  if (!ids.empty() && b < 0xC0)
    a.packet_id = ids[(b >> 2) % ids.size()];
  else
    a.packet_id = packet_id_from(in);
  if (cm.version == protocol_version::v5 && (b & 0x01))
    a.code = choose(in, ack_codes);
  if (cm.version == protocol_version::v5 && (b & 0x02))
    a.props.reason_string = "why";
  return a;
}

packet make_subscribe(input& in, client_model& cm) {
  subscribe s;
  s.packet_id = packet_id_from(in);
  size_t n = 1 + in.byte() % 4;
  for (size_t i = 0; i < n; ++i) {
    subscription sub;
    sub.filter = filter_from(in);
    auto o = in.byte();
    sub.max_qos = (o & 0x03) % 3;
    if (cm.version == protocol_version::v5) {
      sub.no_local = (o & 0x04) != 0;
      sub.retain_as_published = (o & 0x08) != 0;
      sub.retain_handling = (o >> 4) % 3;
    }
    s.subscriptions.push_back(std::move(sub));
  }
  if (cm.version == protocol_version::v5 && in.byte() % 4 == 0)
    s.props.subscription_identifiers.push_back(1 + in.byte());
  return s;
}

packet make_unsubscribe(input& in, client_model&) {
  unsubscribe u;
  u.packet_id = packet_id_from(in);
  size_t n = 1 + in.byte() % 4;
  for (size_t i = 0; i < n; ++i)
    u.filters.push_back(filter_from(in));
  return u;
}

packet make_disconnect(input& in, client_model& cm) {
  disconnect d;
  if (cm.version == protocol_version::v5) {
    auto b = in.byte();
    d.code = choose(in, disconnect_codes);
    if (b & 0x01)
      d.props.session_expiry_interval = in.byte() % 2 ? 0 : 60;
  }
  return d;
}

packet make_auth(input& in, client_model&) {
  auth a;
  auto b = in.byte();
  a.code = (b & 0x03) == 0   ? reason_code::success
           : (b & 0x03) == 1 ? reason_code::continue_authentication
                             : reason_code::re_authenticate;
  if (b & 0x04)
    a.props.authentication_method
        = (b & 0x08) ? std::string("SCRAM-SHA-256") : std::string("OTHER");
  if (b & 0x10)
    a.props.authentication_data = std::string(in.string(32));
  return a;
}

} // namespace fuzz_channel
