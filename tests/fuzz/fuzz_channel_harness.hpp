#pragma once

// fuzz_channel's harness: drives a channel as the connection actor does,
// answers its effects, delivers messages through a session_state, and
// checks every packet and effect (tests/fuzz/fuzz_channel.cpp says what).

#include "fuzz_channel_packets.hpp"
#include "protocol/topic.hpp"
#include "protocol/binary_delta.hpp"
#include "protocol/json_delta.hpp"
#include "protocol/update_delta.hpp"
#include "protocol/value.hpp"

namespace fuzz_channel {

using castor::apply_binary_delta;
using castor::apply_json_patch;
using castor::basis_of;
using castor::binary_delta_content_type;
using castor::delta_basis;
using castor::json_patch_content_type;
using castor::make_delta;
using castor::parse_json;
using castor::update;
using castor::value_type;

// -- the harness
// ---------------------------------------------------------------------

/// An effect that waits for an answer.
struct waiting {
  channel_effect effect;
  bool auth_continued = false; ///< open_session with SCRAM: AUTH sent
};

struct harness {
  channel_options opts;
  channel ch;
  frame_parser parser;
  std::shared_ptr<fuzz_access> access;
  bool use_access = false;
  client_model cm;
  session_state sess;
  uint64_t update_seq = 0;
  std::map<std::string, delta_basis> bases; ///< per topic, for `$delta/`
  /// Per topic: the update (number, value) a `$delta/` client has.
  std::map<std::string, std::pair<uint64_t, std::string>> client_values;
  castor::mqtt::steady_time now{std::chrono::hours(1)};

  std::deque<waiting> pending;
  bool close_seen = false;
  bool connack_seen = false;  ///< a CONNACK (any) was written
  bool connected_ack = false; ///< a successful CONNACK was written
  bool auth_exchange = false; ///< SCRAM-like exchange in progress
  std::map<uint16_t, std::string> client_aliases;

  // Answers the client waits for.
  std::multiset<uint16_t> want_puback, want_pubrec, want_pubcomp, want_suback,
      want_unsuback, want_pubrel;
  size_t want_pingresp = 0;
  /// Every answer is checked for; false once something made the count
  /// uncertain (e.g. a kick for receive maximum).
  bool counting = true;

  harness(channel_options o, bool with_access)
      : opts(o), ch(o), parser(parser_options{o.max_packet_size, std::nullopt,
                                              parser_options::role::server}),
        access(std::make_shared<fuzz_access>()), use_access(with_access) {}

  bool closed() const {
    return ch.state() == channel::phase::closed;
  }

  // -- what the channel produced
  // -------------------------------------------------

  void check_packet(const packet& p) {
    auto t = type_of(p);
    if (trace()) {
      std::fprintf(stderr, "  <- %s", std::string(to_string(t)).c_str());
      if (auto d = std::get_if<disconnect>(&p))
        std::fprintf(stderr, " 0x%02x %s", static_cast<int>(d->code),
                     d->props.reason_string.value_or("").c_str());
      if (auto a = std::get_if<connack>(&p))
        std::fprintf(stderr, " 0x%02x", static_cast<int>(a->code));
      std::fprintf(stderr, "\n");
    }
    FUZZ_CHECK(t != packet_type::connect && t != packet_type::publish
               && t != packet_type::subscribe && t != packet_type::unsubscribe
               && t != packet_type::pingreq);
    // The bytes, as the connection writes them.
    std::string bytes;
    ch.write(p, bytes);
    FUZZ_CHECK(!bytes.empty());
    parser_options popts;
    popts.side = parser_options::role::client;
    popts.version = ch.version();
    frame_parser client{popts};
    std::string_view view = bytes;
    auto r = client.feed(view);
    if (!r.ok()) {
      std::fprintf(stderr, "fuzz_channel: %s (v%d) does not parse: %s\n",
                   std::string(to_string(t)).c_str(),
                   static_cast<int>(ch.version()), r.error.cause.c_str());
      FUZZ_CHECK(!"a written packet parses");
    }
    FUZZ_CHECK(view.empty());
    FUZZ_CHECK(encode(r.pkt, ch.version()) == bytes);
    // A reason string or user property may not make a packet larger than
    // the client's maximum packet size (MQTT 5.0 3.1.2.6 and the packets'
    // property sections).
    auto max = ch.client_max_packet_size();
    if (max != 0 && bytes.size() > max) {
      const properties* props = std::visit(
          [](auto& x) -> const properties* {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<
                              T, pingreq> || std::is_same_v<T, pingresp>)
              return nullptr;
            else
              return &x.props;
          },
          r.pkt);
      if (props != nullptr) {
        FUZZ_CHECK(!props->reason_string);
        FUZZ_CHECK(props->user_properties.empty());
      }
    }
    if (ch.version() == protocol_version::v5)
      FUZZ_CHECK(r.pkt == p);
    // Before the CONNACK only AUTH; the CONNACK once.
    if (!connack_seen)
      FUZZ_CHECK(t == packet_type::connack || t == packet_type::auth);
    if (t == packet_type::connack) {
      FUZZ_CHECK(!connack_seen);
      connack_seen = true;
      connected_ack = !is_error(std::get<connack>(p).code);
    }
    if (t == packet_type::auth)
      FUZZ_CHECK(!connack_seen && ch.version() == protocol_version::v5);
    if (t == packet_type::disconnect)
      FUZZ_CHECK(ch.version() == protocol_version::v5 && connected_ack);
    // Every acknowledgement answers a packet that asked for it.
    auto take = [&](std::multiset<uint16_t>& want, uint16_t id) {
      auto i = want.find(id);
      if (counting)
        FUZZ_CHECK(i != want.end());
      if (i != want.end())
        want.erase(i);
    };
    switch (t) {
    case packet_type::puback:
      take(want_puback, std::get<puback>(p).packet_id);
      break;
    case packet_type::pubrec:
      take(want_pubrec, std::get<pubrec>(p).packet_id);
      break;
    case packet_type::pubcomp:
      take(want_pubcomp, std::get<pubcomp>(p).packet_id);
      break;
    case packet_type::pubrel:
      take(want_pubrel, std::get<pubrel>(p).packet_id);
      break;
    case packet_type::suback:
      take(want_suback, std::get<suback>(p).packet_id);
      break;
    case packet_type::unsuback:
      take(want_unsuback, std::get<unsuback>(p).packet_id);
      break;
    case packet_type::pingresp:
      if (counting)
        FUZZ_CHECK(want_pingresp > 0);
      if (want_pingresp > 0)
        --want_pingresp;
      break;
    default:
      break;
    }
  }

  /// `live`: the channel was connected when it produced the message (it is
  /// now, or the same output closes it later).
  void check_route(const publish& m, bool checked_exists, bool live) {
    FUZZ_CHECK(live);
    FUZZ_CHECK(valid_topic_name(m.topic));
    FUZZ_CHECK(!m.props.topic_alias);
    FUZZ_CHECK(m.qos <= opts.maximum_qos);
    FUZZ_CHECK(!m.retain || opts.retain_available);
    if (m.props.payload_format_indicator.value_or(0) == 1)
      FUZZ_CHECK(valid_utf8(m.payload));
    if (ch.access()) {
      auto c = ch.access()->check_publish(m.topic);
      FUZZ_CHECK(checked_exists ? c == publish_check::allow_existing
                                : c == publish_check::allow);
    }
  }

  /// Takes in what one channel call produced, as the connection's run()
  /// does.
  void take(channel_output&& out) {
    if (close_seen) {
      FUZZ_CHECK(out.packets.empty() && out.effects.empty());
      return;
    }
    for (auto& p : out.packets)
      check_packet(p);
    // Effects before a close of the same output were made while connected.
    bool live = ch.state() == channel::phase::connected || out.closes();
    std::vector<outbound> to_write;
    for (auto& e : out.effects) {
      if (trace())
        std::fprintf(stderr, "  effect %zu\n", e.index());
      FUZZ_CHECK(!close_seen); // the close is the last effect
      if (auto c = std::get_if<effect::close>(&e)) {
        close_seen = true;
        FUZZ_CHECK(closed());
        (void)c;
      } else if (auto o = std::get_if<effect::open_session>(&e)) {
        FUZZ_CHECK(ch.state() == channel::phase::connecting);
        auto& req = o->req;
        FUZZ_CHECK(!req.client_id.empty());
        FUZZ_CHECK(req.has_will == (req.will != nullptr));
        FUZZ_CHECK(req.session_expiry <= opts.max_session_expiry);
        FUZZ_CHECK(req.receive_maximum >= 1);
        if (req.will) {
          FUZZ_CHECK(!req.will->props.will_delay_interval);
          FUZZ_CHECK(req.will->qos <= opts.maximum_qos);
        }
        if (opts.max_keep_alive < 65535 && req.version == protocol_version::v5)
          FUZZ_CHECK(ch.keep_alive() <= opts.max_keep_alive
                     && ch.keep_alive() > 0);
        pending.push_back(waiting{e});
      } else if (std::holds_alternative<effect::auth_data>(e)) {
        FUZZ_CHECK(ch.state() == channel::phase::connecting);
        pending.push_back(waiting{e});
      } else if (auto r = std::get_if<effect::route>(&e)) {
        check_route(r->msg, false, live);
        // An explicit topic's publish converted, in its type's MQTT form.
        if (auto spec
            = opts.mapping ? opts.mapping->find(r->msg.topic) : nullptr) {
          FUZZ_CHECK(std::holds_alternative<castor::typed_value>(
              castor::convert_payload(spec->type, r->msg.payload)));
          auto form = castor::mqtt_form_of(spec->type);
          FUZZ_CHECK(r->msg.props.payload_format_indicator.value_or(0)
                     == (form.utf8 ? 1 : 0));
        }
        deliver_routed(r->msg, to_write);
      } else if (auto r = std::get_if<effect::route_if_exists>(&e)) {
        FUZZ_CHECK(ch.access() != nullptr);
        FUZZ_CHECK(ch.access()->check_publish(r->msg.topic)
                   == publish_check::allow_existing);
        pending.push_back(waiting{e});
      } else if (auto r = std::get_if<effect::publish_refused>(&e)) {
        // Refused by the access rules, or into the server's `$castor/`,
        // or a payload that does not convert to its explicit topic's type.
        if (r->reason == reason_code::payload_format_invalid)
          FUZZ_CHECK(opts.mapping && opts.mapping->find(r->topic));
        else
          FUZZ_CHECK(ch.access() != nullptr || reserved_topic(r->topic));
        FUZZ_CHECK(r->qos <= 2);
      } else if (auto a = std::get_if<effect::api_request>(&e)) {
        // Only MQTT 5 can ask (3.1.1 has no response topic); the answer
        // is a PUBLISH the client can decode.
        FUZZ_CHECK(live);
        FUZZ_CHECK(ch.version() == protocol_version::v5);
        if (!a->response_topic.empty()) {
          std::string answer;
          if (ch.write_api_answer(*a, "{\"ok\": true}", answer))
            FUZZ_CHECK(!answer.empty());
        }
      } else if (auto s = std::get_if<effect::subscribe>(&e)) {
        FUZZ_CHECK(live);
        FUZZ_CHECK(s->codes.size() == s->subs.size());
        for (size_t i = 0; i < s->subs.size(); ++i) {
          auto code = static_cast<uint8_t>(s->codes[i]);
          if (code < 0x80) {
            FUZZ_CHECK(code == s->subs[i].max_qos);
            FUZZ_CHECK(code <= opts.maximum_qos);
            auto info = parse_filter(s->subs[i].filter);
            FUZZ_CHECK(info.valid);
            FUZZ_CHECK(!info.shared || opts.shared_subscription_available);
            FUZZ_CHECK(!info.wildcard || opts.wildcard_subscription_available);
            FUZZ_CHECK(!ch.access()
                       || ch.access()->may_subscribe(info.subject));
            FUZZ_CHECK(!reserved_topic(info.subject));
          }
        }
        if (s->subscription_id != 0)
          FUZZ_CHECK(opts.subscription_identifier_available);
        pending.push_back(waiting{e});
      } else if (auto u = std::get_if<effect::unsubscribe>(&e)) {
        FUZZ_CHECK(live);
        FUZZ_CHECK(u->codes.size() == u->filters.size());
        pending.push_back(waiting{e});
      } else if (auto a = std::get_if<effect::outbound_ack>(&e)) {
        FUZZ_CHECK(live);
        switch (a->kind) {
        case packet_type::puback:
          sess.on_puback(a->packet_id, now, to_write);
          break;
        case packet_type::pubrec:
          sess.on_pubrec(a->packet_id, is_error(a->code), now, to_write);
          break;
        case packet_type::pubcomp:
          sess.on_pubcomp(a->packet_id, now, to_write);
          break;
        default:
          FUZZ_CHECK(!"an outbound ack is PUBACK, PUBREC or PUBCOMP");
        }
      }
    }
    write_out(to_write);
    // The channel is closed exactly when it has said so.
    FUZZ_CHECK(closed() == close_seen);
  }

  // -- outbound
  // ------------------------------------------------------------------

  /// A routed message reaches this client's own subscriptions; a `$delta/`
  /// one in the delta form, with the delta from the last message of the
  /// topic (as a topic makes it).
  void deliver_routed(const publish& m, std::vector<outbound>& to_write) {
    for (auto& [filter, sub] : sess.subscriptions()) {
      auto info = parse_filter(filter);
      if (!info.valid || !topic_matches(info.subject, m.topic))
        continue;
      if (sub.opts.no_local)
        continue;
      publish copy = m;
      auto msg = make_message(std::move(copy), ch.session().client_id, now);
      delivery d;
      d.msg = msg;
      d.seq = ++update_seq;
      d.qos = std::min(m.qos, sub.opts.max_qos);
      d.retain = sub.opts.retain_as_published && m.retain;
      if (sub.subscription_id != 0)
        d.subscription_ids.push_back(sub.subscription_id);
      if (info.delta) {
        auto& last = bases[m.topic];
        auto next = basis_of(
            update{d.seq, value_type::binary, msg, nullptr, 0, false});
        d.delta_form = true;
        d.delta = make_delta(last, next);
        d.base = last.seq;
        FUZZ_CHECK(!d.delta || d.delta->payload.size() < msg->payload.size());
        last = std::move(next);
      }
      sess.enqueue(std::move(d), now, to_write);
      return; // once per message is enough here
    }
  }

  void write_out(std::vector<outbound>& to_write) {
    // The connection writes only while connected (out_atom handler).
    while (!to_write.empty()) {
      auto batch = std::move(to_write);
      to_write.clear();
      for (auto& o : batch) {
        if (close_seen || ch.state() != channel::phase::connected)
          return;
        write_one(o, to_write);
      }
    }
  }

  void write_one(const outbound& o, std::vector<outbound>& more) {
    std::string out = "prefix";
    bool ok = ch.write(o, now, out);
    if (trace())
      std::fprintf(stderr, "  <- %s %u (qos %d)%s\n",
                   o.type == outbound::kind::pubrel ? "PUBREL" : "PUBLISH",
                   o.packet_id, o.qos, ok ? "" : " too large");
    if (!ok) {
      FUZZ_CHECK(out == "prefix");
      if (o.packet_id != 0)
        sess.on_dropped(o.packet_id, now, more);
      return;
    }
    FUZZ_CHECK(out.size() > 6);
    std::string_view bytes = std::string_view{out}.substr(6);
    auto max = ch.client_max_packet_size();
    if (o.type == outbound::kind::publish && max != 0)
      FUZZ_CHECK(bytes.size() <= max);
    parser_options popts;
    popts.side = parser_options::role::client;
    popts.version = ch.version();
    frame_parser client{popts};
    auto r = client.feed(bytes);
    if (!r.ok()) {
      std::fprintf(stderr, "fuzz_channel: outbound does not parse: %s\n",
                   r.error.cause.c_str());
      FUZZ_CHECK(!"an outbound packet parses");
    }
    FUZZ_CHECK(bytes.empty());
    if (o.type == outbound::kind::pubrel) {
      auto rel = std::get_if<pubrel>(&r.pkt);
      FUZZ_CHECK(rel != nullptr && rel->packet_id == o.packet_id);
      // The session answers PUBREC with PUBREL (also resent on attach).
      if (auto i = want_pubrel.find(o.packet_id); i != want_pubrel.end())
        want_pubrel.erase(i);
      return;
    }
    auto p = std::get_if<publish>(&r.pkt);
    FUZZ_CHECK(p != nullptr);
    FUZZ_CHECK(p->qos == o.qos && p->packet_id == o.packet_id);
    FUZZ_CHECK(p->dup == o.dup && p->retain == o.retain);
    // In the delta form: the delta only where the client has its basis.
    bool as_delta = o.delta_form && o.delta && p->payload != o.msg->payload;
    const auto& sent = as_delta ? *o.delta : *o.msg;
    FUZZ_CHECK(p->payload == sent.payload);
    if (o.delta_form)
      follow_delta(o, as_delta, p->payload);
    std::string topic = p->topic;
    if (p->props.topic_alias) {
      auto alias = *p->props.topic_alias;
      FUZZ_CHECK(ch.version() == protocol_version::v5);
      FUZZ_CHECK(alias >= 1 && alias <= ch.session().topic_alias_maximum);
      if (!topic.empty()) {
        client_aliases[alias] = topic;
      } else {
        auto i = client_aliases.find(alias);
        FUZZ_CHECK(i != client_aliases.end());
        topic = i->second;
      }
    }
    FUZZ_CHECK(topic
               == (o.delta_form ? std::string{delta_prefix} : std::string{})
                      + o.msg->topic);
    if (ch.version() == protocol_version::v5) {
      FUZZ_CHECK(p->props.subscription_identifiers == o.subscription_ids);
      FUZZ_CHECK(p->props.message_expiry_interval.has_value()
                 == o.msg->has_expiry);
      FUZZ_CHECK(p->props.content_type == props_of(sent).content_type);
      FUZZ_CHECK(p->props.correlation_data
                 == props_of(*o.msg).correlation_data);
    } else {
      FUZZ_CHECK(p->props.empty());
    }
    if (o.qos > 0)
      cm.outbound_ids.push_back(o.packet_id);
    if (cm.outbound_ids.size() > 16)
      cm.outbound_ids.erase(cm.outbound_ids.begin());
  }

  /// What a `$delta/` client keeps: the value of the last update it got
  /// per topic, rebuilt from deltas; each must equal the update's value.
  void follow_delta(const outbound& o, bool as_delta,
                    const std::string& payload) {
    auto& have = client_values[o.msg->topic];
    if (!as_delta) {
      have = {o.seq, o.msg->payload};
      return;
    }
    FUZZ_CHECK(ch.version() == protocol_version::v5 && !o.dup);
    FUZZ_CHECK(have.first == o.base && o.base != 0);
    auto ctype = props_of(*o.delta).content_type.value_or("");
    if (ctype == json_patch_content_type) {
      auto from = parse_json(have.second);
      auto to = parse_json(o.msg->payload);
      FUZZ_CHECK(from && to);
      auto patch = nlohmann::json::parse(payload);
      auto got = apply_json_patch(*from, patch);
      FUZZ_CHECK(got && *got == *to);
      // The client's value is the document now, not the publisher's text.
    } else {
      FUZZ_CHECK(ctype == binary_delta_content_type);
      auto got = apply_binary_delta(have.second, payload);
      FUZZ_CHECK(got && *got == o.msg->payload);
    }
    have = {o.seq, o.msg->payload};
  }

  /// A message from elsewhere for this client.
  void deliver(input& in) {
    if (close_seen || ch.state() != channel::phase::connected)
      return;
    publish p;
    p.topic = topic_from(in);
    if (!valid_topic_name(p.topic))
      p.topic = "t";
    auto bits = in.byte();
    p.qos = (bits & 0x03) % 3;
    p.retain = (bits & 0x04) != 0;
    message_props(in, p.props, false);
    // What reaches a session came through a frame parser: valid strings.
    auto& props = p.props;
    if (props.content_type && !valid_utf8(*props.content_type))
      props.content_type.reset();
    if (props.response_topic && !valid_topic_name(*props.response_topic))
      props.response_topic.reset();
    for (auto& [k, v] : props.user_properties)
      if (!valid_utf8(k) || !valid_utf8(v))
        k = v = "x";
    p.payload = in.byte() < 0x40 ? std::string(in.u16() % 2048, 'y')
                                 : std::string(in.string(32));
    delivery d;
    d.msg = make_message(std::move(p), "other", now);
    d.qos = d.msg->qos;
    d.retain = d.msg->retain;
    if (bits & 0x08)
      d.subscription_ids.push_back(1 + in.byte());
    std::vector<outbound> out;
    sess.enqueue(std::move(d), now, out);
    write_out(out);
  }

  // -- inbound
  // -------------------------------------------------------------------

  /// What the client expects back for a packet the channel is given now.
  void expect(const packet& p) {
    if (ch.state() == channel::phase::awaiting_connect)
      return;
    switch (type_of(p)) {
    case packet_type::publish: {
      auto& m = std::get<publish>(p);
      if (m.qos == 1)
        want_puback.insert(m.packet_id);
      if (m.qos == 2)
        want_pubrec.insert(m.packet_id);
      break;
    }
    case packet_type::pubrel:
      want_pubcomp.insert(std::get<pubrel>(p).packet_id);
      break;
    case packet_type::pubrec:
      if (!is_error(std::get<pubrec>(p).code))
        want_pubrel.insert(std::get<pubrec>(p).packet_id);
      break;
    case packet_type::subscribe:
      want_suback.insert(std::get<subscribe>(p).packet_id);
      break;
    case packet_type::unsubscribe:
      want_unsuback.insert(std::get<unsubscribe>(p).packet_id);
      break;
    case packet_type::pingreq:
      ++want_pingresp;
      break;
    default:
      break;
    }
  }

  /// Bytes from the client, as the connection's new_data_msg handler reads
  /// them.
  void read(std::string_view bytes) {
    while (!close_seen) {
      auto r = parser.feed(bytes);
      if (r.need_more())
        break;
      if (r.failed()) {
        take(ch.handle_parse_error(r.error, parser.version()));
        FUZZ_CHECK(close_seen);
        break;
      }
      expect(r.pkt);
      if (trace())
        std::fprintf(stderr, "-> %s\n",
                     std::string(to_string(type_of(r.pkt))).c_str());
      take(ch.handle_in(std::move(r.pkt)));
    }
  }

  void send_packet(const packet& p) {
    read(encode(p, cm.version));
  }

  // -- answers to effects
  // -------------------------------------------------------

  void answer(input& in, size_t index) {
    if (pending.empty())
      return;
    index %= pending.size();
    auto w = std::move(pending[index]);
    pending.erase(pending.begin() + static_cast<long>(index));
    auto how = in.byte();
    if (auto o = std::get_if<effect::open_session>(&w.effect)) {
      if (!o->creds.auth_method.empty() && !w.auth_continued) {
        // The actor runs SCRAM-SHA-256 only; any other method is refused.
        if (o->creds.auth_method != "SCRAM-SHA-256" || how % 4 == 0) {
          take(ch.handle_session_refused(
              how % 4 == 0 ? reason_code::not_authorized
                           : reason_code::bad_authentication_method));
          return;
        }
        take(ch.handle_auth_continue(std::string(in.string(32))));
        auth_exchange = true;
        w.auth_continued = true;
        pending.push_back(std::move(w)); // waits for the client's AUTH
        return;
      }
      if (w.auth_continued) {
        // The client does not go on with the exchange: the connect
        // timeout ends it (connection.cpp, tick_atom).
        take(ch.handle_timeout());
        return;
      }
      open(in, how);
    } else if (std::holds_alternative<effect::auth_data>(w.effect)) {
      // connection_auth.cpp: continue_auth.
      auto open_it = std::find_if(pending.begin(), pending.end(), [](auto& x) {
        return std::holds_alternative<effect::open_session>(x.effect);
      });
      if (!auth_exchange || open_it == pending.end()) {
        take(ch.handle_session_refused(reason_code::protocol_error));
        return;
      }
      pending.erase(open_it);
      auth_exchange = false;
      switch (how % 3) {
      case 0:
        ch.set_auth_success(std::string(in.string(32)));
        open(in, in.byte());
        break;
      case 1:
        take(ch.handle_session_refused(reason_code::not_authorized));
        break;
      default:
        take(ch.handle_session_refused(reason_code::protocol_error));
        break;
      }
    } else if (auto s = std::get_if<effect::subscribe>(&w.effect)) {
      // actors/session.cpp: handle_subscribe.
      auto codes = s->codes;
      for (size_t i = 0; i < codes.size(); ++i) {
        if (is_error(codes[i]))
          continue;
        if (how & (1u << (i % 8))) {
          codes[i] = reason_code::quota_exceeded;
          continue;
        }
        sess.subscribe(s->subs[i], s->subscription_id);
      }
      take(ch.handle_suback(s->packet_id, std::move(codes)));
    } else if (auto u = std::get_if<effect::unsubscribe>(&w.effect)) {
      auto codes = u->codes;
      for (size_t i = 0; i < codes.size(); ++i)
        if (!is_error(codes[i]) && !sess.unsubscribe(u->filters[i]))
          codes[i] = reason_code::no_subscription_existed;
      take(ch.handle_unsuback(u->packet_id, std::move(codes)));
    } else if (auto r = std::get_if<effect::route_if_exists>(&w.effect)) {
      bool exists = (how & 1) != 0;
      auto msg = r->msg;
      auto out = ch.handle_publish_checked(std::move(r->msg), exists);
      for (auto& e : out.effects)
        if (auto rr = std::get_if<effect::route>(&e))
          FUZZ_CHECK(exists && rr->msg.topic == msg.topic);
      // handle_publish_checked routes without asking the policy again.
      if (close_seen) {
        FUZZ_CHECK(out.packets.empty() && out.effects.empty());
        return;
      }
      for (auto& p : out.packets)
        check_packet(p);
      std::vector<outbound> to_write;
      for (auto& e : out.effects) {
        if (auto rr = std::get_if<effect::route>(&e)) {
          check_route(rr->msg, true,
                      ch.state() == channel::phase::connected || out.closes());
          deliver_routed(rr->msg, to_write);
        } else if (auto c = std::get_if<effect::close>(&e)) {
          close_seen = true;
          (void)c;
        }
      }
      write_out(to_write);
    }
  }

  /// The session opened (or the registry refused it).
  void open(input& in, uint8_t how) {
    if (how % 8 == 7) {
      take(ch.handle_session_refused(choose(in, refuse_codes)));
      return;
    }
    if (use_access)
      ch.set_access(access); // connection_auth.cpp: authenticated()
    std::set<uint16_t> ids;
    if (how & 0x10)
      ids = {1, 2};
    take(ch.handle_session_opened((how & 0x08) != 0, ids));
    // What arrived while the session opened, handled in order after
    // CONNACK (connection_auth.cpp: on_session_opened).
    for (auto& p : ch.take_deferred())
      take(ch.handle_in(std::move(p)));
    if (ch.state() == channel::phase::connected) {
      std::vector<outbound> out;
      sess.attach(ch.session().receive_maximum, now, out);
      write_out(out);
    }
  }

  void answer_all(input& in) {
    for (int rounds = 0; rounds < 64 && !pending.empty(); ++rounds)
      answer(in, 0);
  }

  // -- the end
  // --------------------------------------------------------------------

  void finish() {
    // After a close nothing comes out of the channel any more.
    if (close_seen) {
      FUZZ_CHECK(closed());
      take(ch.handle_in(pingreq{}));
      take(ch.handle_timeout());
      take(ch.handle_kick(reason_code::server_shutting_down, true));
      take(ch.handle_closed());
      take(ch.handle_session_opened(false, {}));
      take(ch.handle_suback(1, {reason_code::success}));
      take(ch.handle_unsuback(1, {reason_code::success}));
      take(ch.handle_auth_continue("x"));
      return;
    }
    // Open with nothing waiting: every question has had its answer.
    if (counting && pending.empty()
        && ch.state() == channel::phase::connected) {
      FUZZ_CHECK(want_puback.empty());
      FUZZ_CHECK(want_pubrec.empty());
      FUZZ_CHECK(want_pubcomp.empty());
      FUZZ_CHECK(want_pubrel.empty());
      FUZZ_CHECK(want_suback.empty());
      FUZZ_CHECK(want_unsuback.empty());
      FUZZ_CHECK(want_pingresp == 0);
      FUZZ_CHECK(ch.inbound_qos2().size() <= opts.receive_maximum + 2u);
    }
    take(ch.handle_closed());
    FUZZ_CHECK(close_seen);
  }
};

} // namespace fuzz_channel
