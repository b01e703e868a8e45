// Request-response messaging on the channel (docs/platform.md,
// "Request-response messaging"): an MQTT 5 PUBLISH with a response topic to
// a path a message handler serves is a request; a handler's PUBLISH to
// `$castor/reply/<id>` is its answer. Both are acknowledged here and carried
// out by the connection (actors/connection_messaging.cpp).

#include "protocol/channel.hpp"

namespace castor::mqtt {

bool channel::ack_taken(const publish& p, channel_output& out) {
  if (p.qos == 1) {
    out.packets.emplace_back(puback{p.packet_id, reason_code::success, {}});
  } else if (p.qos == 2) {
    out.packets.emplace_back(pubrec{p.packet_id, reason_code::success, {}});
    if (qos2_.count(p.packet_id) > 0)
      return false; // a duplicate of one already taken
    if (qos2_.size() >= opts_.receive_maximum) {
      out = protocol_close(reason_code::receive_maximum_exceeded);
      return false;
    }
    qos2_.insert(p.packet_id);
  }
  return true;
}

channel_output channel::handler_publish(publish&& p) {
  if (access_ && !access_->may_send_to_handler(p.topic))
    return refuse_publish(std::move(p));
  channel_output out;
  if (ack_taken(p, out))
    out.effects.emplace_back(effect::message_request{std::move(p)});
  return out;
}

channel_output channel::reply_publish(publish&& p) {
  channel_output out;
  if (ack_taken(p, out)) {
    effect::message_answer a;
    a.id = p.topic.substr(14); // after "$castor/reply/"
    a.msg = std::move(p);
    out.effects.emplace_back(std::move(a));
  }
  return out;
}

bool channel::write_direct(publish&& p, std::string& out) const {
  p.qos = 0;
  p.packet_id = 0;
  std::string bytes;
  write(packet{std::move(p)}, bytes);
  if (req_.maximum_packet_size != 0 && bytes.size() > req_.maximum_packet_size)
    return false;
  out += bytes;
  return true;
}

} // namespace castor::mqtt
