// SUBSCRIBE and UNSUBSCRIBE.

#include "protocol/channel.hpp"

#include "protocol/topic.hpp"

namespace castor::mqtt {

channel_output channel::on_subscribe(subscribe&& s) {
  effect::subscribe eff;
  eff.packet_id = s.packet_id;
  if (!s.props.subscription_identifiers.empty()) {
    if (!opts_.subscription_identifier_available)
      return protocol_close(
          reason_code::subscription_identifiers_not_supported);
    eff.subscription_id = s.props.subscription_identifiers.front();
  }
  eff.codes.reserve(s.subscriptions.size());
  for (auto& sub : s.subscriptions) {
    auto info = parse_filter(sub.filter);
    reason_code rc;
    if (!info.valid) {
      rc = reason_code::topic_filter_invalid;
    } else if (info.shared && !opts_.shared_subscription_available) {
      rc = reason_code::shared_subscriptions_not_supported;
    } else if (info.shared && sub.no_local) {
      return protocol_close(reason_code::protocol_error,
                            "no local on a shared subscription");
    } else if (info.wildcard && !opts_.wildcard_subscription_available) {
      rc = reason_code::wildcard_subscriptions_not_supported;
    } else if (reserved_topic(info.subject)
               || (access_ && !access_->may_subscribe(info.subject))) {
      // `$castor/` is the server's: API answers reach the requester alone.
      // A `$delta/` subscription needs the rights its subject needs.
      // MQTT 3.1.1 encodes every refusal as 0x80.
      rc = reason_code::not_authorized;
    } else {
      sub.max_qos = std::min(sub.max_qos, opts_.maximum_qos);
      rc = static_cast<reason_code>(sub.max_qos);
    }
    eff.codes.push_back(rc);
  }
  eff.subs = std::move(s.subscriptions);
  channel_output out;
  out.effects.emplace_back(std::move(eff));
  return out;
}

channel_output channel::handle_suback(uint16_t packet_id,
                                      std::vector<reason_code> codes) {
  channel_output out;
  if (phase_ != phase::connected)
    return out;
  suback ack;
  ack.packet_id = packet_id;
  ack.codes = std::move(codes);
  out.packets.emplace_back(std::move(ack));
  return out;
}

channel_output channel::on_unsubscribe(unsubscribe&& u) {
  effect::unsubscribe eff;
  eff.packet_id = u.packet_id;
  for (auto& f : u.filters)
    eff.codes.push_back(parse_filter(f).valid
                            ? reason_code::success
                            : reason_code::topic_filter_invalid);
  eff.filters = std::move(u.filters);
  channel_output out;
  out.effects.emplace_back(std::move(eff));
  return out;
}

channel_output channel::handle_unsuback(uint16_t packet_id,
                                        std::vector<reason_code> codes) {
  channel_output out;
  if (phase_ != phase::connected)
    return out;
  unsuback ack;
  ack.packet_id = packet_id;
  if (version_ == protocol_version::v5)
    ack.codes = std::move(codes);
  out.packets.emplace_back(std::move(ack));
  return out;
}

} // namespace castor::mqtt
