// PUBLISH in both directions, PUBREL from the client, topic aliases.

#include "protocol/channel.hpp"
#include "metrics/metrics.hpp"

#include "protocol/topic.hpp"

namespace castor::mqtt {

channel_output channel::on_publish(publish&& p) {
  if (p.qos > opts_.maximum_qos)
    return protocol_close(reason_code::qos_not_supported);
  if (p.retain && !opts_.retain_available)
    return protocol_close(reason_code::retain_not_supported);
  if (p.props.topic_alias) {
    auto alias = *p.props.topic_alias;
    if (alias == 0 || alias > opts_.topic_alias_maximum)
      return protocol_close(reason_code::topic_alias_invalid,
                            "topic alias out of range");
    if (!p.topic.empty()) {
      alias_in_[alias] = p.topic;
    } else {
      auto i = alias_in_.find(alias);
      if (i == alias_in_.end())
        return protocol_close(reason_code::protocol_error,
                              "unknown topic alias");
      p.topic = i->second;
    }
    p.props.topic_alias.reset();
  } else if (p.topic.empty()) {
    return protocol_close(reason_code::protocol_error, "empty topic name");
  }
  if (!valid_topic_name(p.topic))
    return protocol_close(reason_code::topic_name_invalid);
  channel_output out;
  if (p.props.payload_format_indicator.value_or(0) == 1
      && !valid_utf8(p.payload)) {
    // Not routed; acknowledged with the reason (QoS 0 is dropped).
    if (p.qos == 1)
      out.packets.emplace_back(
          puback{p.packet_id, reason_code::payload_format_invalid, {}});
    else if (p.qos == 2)
      out.packets.emplace_back(
          pubrec{p.packet_id, reason_code::payload_format_invalid, {}});
    return out;
  }
  // `$castor/` is the server's: requests of the platform API go to it
  // (MQTT 5, with a response topic); nothing is published into it.
  if (reserved_topic(p.topic))
    return api_publish(std::move(p));
  if (p.props.response_topic && opts_.handlers
      && version_ == protocol_version::v5 && opts_.handlers->serves(p.topic))
    return handler_publish(std::move(p));
  if (access_) {
    switch (access_->check_publish(p.topic)) {
    case publish_check::allow:
      break;
    case publish_check::deny:
      return refuse_publish(std::move(p));
    case publish_check::allow_existing:
      if (p.qos == 2 && qos2_.count(p.packet_id) > 0) {
        // A duplicate of a message already accepted.
        out.packets.emplace_back(pubrec{p.packet_id, reason_code::success, {}});
        return out;
      }
      out.effects.emplace_back(effect::route_if_exists{std::move(p)});
      return out;
    }
  }
  return accept_publish(std::move(p));
}

channel_output channel::api_publish(publish&& p) {
  constexpr std::string_view prefix = "$castor/api/";
  if (version_ == protocol_version::v5
      && p.topic.compare(0, 14, "$castor/reply/") == 0)
    return reply_publish(std::move(p));
  if (version_ != protocol_version::v5
      || p.topic.compare(0, prefix.size(), prefix) != 0)
    return refuse_publish(std::move(p));
  channel_output out;
  if (p.qos == 1)
    out.packets.emplace_back(puback{p.packet_id, reason_code::success, {}});
  else if (p.qos == 2) {
    out.packets.emplace_back(pubrec{p.packet_id, reason_code::success, {}});
    if (qos2_.count(p.packet_id) > 0)
      return out; // a duplicate of a request already taken
    if (qos2_.size() >= opts_.receive_maximum)
      return protocol_close(reason_code::receive_maximum_exceeded);
    qos2_.insert(p.packet_id);
  }
  effect::api_request r;
  r.operation = p.topic.substr(prefix.size());
  r.payload = std::move(p.payload);
  // Without a response topic there is nobody to answer: the connection
  // drops it and counts it (operation "" tells it so).
  if (p.props.response_topic)
    r.response_topic = std::move(*p.props.response_topic);
  r.correlation_data = std::move(p.props.correlation_data);
  out.effects.emplace_back(std::move(r));
  return out;
}

bool channel::write_api_answer(const effect::api_request& r, std::string answer,
                               std::string& out) const {
  publish p;
  p.topic = r.response_topic;
  p.payload = std::move(answer);
  p.props.correlation_data = r.correlation_data;
  p.props.content_type = "application/json";
  p.props.payload_format_indicator = 1;
  std::string bytes;
  write(packet{std::move(p)}, bytes);
  if (req_.maximum_packet_size != 0 && bytes.size() > req_.maximum_packet_size)
    return false;
  out += bytes;
  return true;
}

channel_output channel::refuse_publish(publish&& p, reason_code code,
                                       std::string why) {
  // MQTT 5: the code (0x87, 0x99) in PUBACK or PUBREC (which ends a QoS 2
  // exchange). MQTT 3.1.1 has no way to say it: the message is acknowledged
  // and dropped, as Mosquitto does.
  channel_output out;
  auto ack = version_ == protocol_version::v5 ? code : reason_code::success;
  if (p.qos == 1)
    out.packets.emplace_back(puback{p.packet_id, ack, {}});
  else if (p.qos == 2)
    out.packets.emplace_back(pubrec{p.packet_id, ack, {}});
  out.effects.emplace_back(
      effect::publish_refused{std::move(p.topic), p.qos, code, std::move(why)});
  return out;
}

channel_output channel::handle_publish_checked(publish&& p, bool exists) {
  if (phase_ != phase::connected)
    return {};
  if (!exists)
    return refuse_publish(std::move(p));
  return accept_publish(std::move(p));
}

channel_output channel::accept_publish(publish&& p) {
  // An explicit topic takes only what converts to its type.
  if (opts_.mapping && !opts_.mapping->empty()) {
    if (auto spec = opts_.mapping->find(p.topic)) {
      if (auto why = map_publish(*spec, p, principal_))
        return refuse_publish(std::move(p), reason_code::payload_format_invalid,
                              std::move(*why));
    }
  }
  channel_output out;
  switch (p.qos) {
  case 0:
    out.effects.emplace_back(effect::route{std::move(p)});
    break;
  case 1: {
    auto id = p.packet_id;
    out.effects.emplace_back(effect::route{std::move(p)});
    out.packets.emplace_back(puback{id, reason_code::success, {}});
    break;
  }
  default: {
    auto id = p.packet_id;
    if (qos2_.count(id) == 0) {
      if (qos2_.size() >= opts_.receive_maximum)
        return protocol_close(reason_code::receive_maximum_exceeded);
      qos2_.insert(id);
      out.effects.emplace_back(effect::route{std::move(p)});
    }
    // A duplicate of a message not yet released is not routed again.
    out.packets.emplace_back(pubrec{id, reason_code::success, {}});
  }
  }
  return out;
}

channel_output channel::on_pubrel(const pubrel& p) {
  channel_output out;
  pubcomp comp;
  comp.packet_id = p.packet_id;
  if (qos2_.erase(p.packet_id) == 0 && version_ == protocol_version::v5)
    comp.code = reason_code::packet_identifier_not_found;
  out.packets.emplace_back(std::move(comp));
  return out;
}

namespace {

/// Counts a PUBLISH written to the client: by QoS, as a delta, and the
/// time since the server read it (retained messages sent on subscribe are
/// as old as they are, not late: they do not count).
void count_written(const outbound& o, const message& m, bool as_delta,
                   steady_time now) noexcept {
  auto& b = metrics::local();
  auto q = o.qos < 3 ? o.qos : 2;
  metrics::add(b.messages_out[q]);
  metrics::add(b.payload_out[q], m.payload.size());
  if (as_delta) {
    metrics::add(b.deltas_sent);
    if (o.msg->payload.size() > m.payload.size())
      metrics::add(b.delta_bytes_saved,
                   o.msg->payload.size() - m.payload.size());
  }
  if (!o.retain && o.msg->received != steady_time{})
    metrics::observe_latency(now - o.msg->received);
}

} // namespace

bool channel::write(const outbound& o, steady_time now, std::string& out) {
  if (o.type == outbound::kind::pubrel) {
    pubrel rel;
    rel.packet_id = o.packet_id;
    encode(packet{std::move(rel)}, version_, out);
    return true;
  }
  if (expired(*o.msg, now)) {
    metrics::dropped(metrics::drop_reason::expired);
    return false;
  }
  uint64_t* written = nullptr;
  bool as_delta = false;
  if (o.delta_form) {
    written = &delta_written_[o.msg->topic];
    as_delta = o.delta && !o.dup && version_ == protocol_version::v5
               && o.base != 0 && *written == o.base;
  }
  auto& m = as_delta ? *o.delta : *o.msg;
  // One scratch packet per thread (all connections share the I/O thread)
  // keeps its buffers' capacity between messages.
  thread_local packet pkt{publish{}};
  auto& p = std::get<publish>(pkt);
  p.dup = o.dup;
  p.qos = o.qos;
  p.retain = o.retain;
  p.packet_id = o.packet_id;
  if (o.delta_form) {
    p.topic.assign(delta_prefix);
    p.topic.append(m.topic);
  } else {
    p.topic.assign(m.topic);
  }
  p.payload.assign(m.payload);
  p.props = props_of(m);
  if (m.has_expiry)
    p.props.message_expiry_interval = remaining_expiry(m, now);
  p.props.subscription_identifiers = o.subscription_ids;
  bool new_alias = false;
  std::unordered_map<std::string, uint16_t>::iterator new_alias_at;
  if (version_ == protocol_version::v5 && req_.topic_alias_maximum > 0) {
    auto i = alias_out_.find(p.topic);
    if (i != alias_out_.end()) {
      p.props.topic_alias = i->second;
      p.topic.clear();
    } else if (alias_out_.size() < req_.topic_alias_maximum) {
      auto alias = static_cast<uint16_t>(alias_out_.size() + 1);
      new_alias_at = alias_out_.emplace(p.topic, alias).first;
      p.props.topic_alias = alias;
      new_alias = true;
    }
  }
  auto before = out.size();
  encode(pkt, version_, out);
  bool fits = req_.maximum_packet_size == 0
              || out.size() - before <= req_.maximum_packet_size;
  if (!fits) {
    out.resize(before);
    if (new_alias)
      alias_out_.erase(new_alias_at);
    metrics::dropped(metrics::drop_reason::too_large);
  } else {
    if (written)
      *written = o.seq;
    count_written(o, m, as_delta, now);
  }
  if (p.payload.capacity() > 65536)
    std::string{}.swap(p.payload);
  return fits;
}

} // namespace castor::mqtt
