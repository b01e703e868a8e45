// CONNECT, DISCONNECT, timeouts, kicks and the session answers.

#include "protocol/channel.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

namespace castor::mqtt {

bool channel_output::closes() const noexcept {
  for (auto& e : effects)
    if (std::holds_alternative<effect::close>(e))
      return true;
  return false;
}

channel::channel(channel_options opts) : opts_(opts) {
  // nop
}

channel_output channel::handle_in(packet&& p) {
  switch (phase_) {
  case phase::closed:
    return {};
  case phase::awaiting_connect:
    if (auto c = std::get_if<connect>(&p))
      return on_connect(std::move(*c));
    // The first packet must be CONNECT: close without a reply.
    {
      channel_output out;
      phase_ = phase::closed;
      out.effects.emplace_back(
          effect::close{reason_code::protocol_error, false, std::nullopt});
      return out;
    }
  case phase::connecting:
    if (std::holds_alternative<connect>(p))
      return protocol_close(reason_code::protocol_error, "second CONNECT");
    if (auto a = std::get_if<auth>(&p))
      return on_auth(std::move(*a));
    deferred_.emplace_back(std::move(p));
    return {};
  case phase::connected:
    return dispatch(std::move(p));
  }
  return {};
}

channel_output channel::dispatch(packet&& p) {
  switch (type_of(p)) {
  case packet_type::publish:
    return on_publish(std::move(std::get<publish>(p)));
  case packet_type::puback: {
    channel_output out;
    auto& a = std::get<puback>(p);
    out.effects.emplace_back(
        effect::outbound_ack{packet_type::puback, a.packet_id, a.code});
    return out;
  }
  case packet_type::pubrec: {
    // The session answers with PUBREL (session_state::on_pubrec), once a
    // persistent session's store knows that PUBREC came.
    channel_output out;
    auto& a = std::get<pubrec>(p);
    out.effects.emplace_back(
        effect::outbound_ack{packet_type::pubrec, a.packet_id, a.code});
    return out;
  }
  case packet_type::pubrel:
    return on_pubrel(std::get<pubrel>(p));
  case packet_type::pubcomp: {
    channel_output out;
    auto& a = std::get<pubcomp>(p);
    out.effects.emplace_back(
        effect::outbound_ack{packet_type::pubcomp, a.packet_id, a.code});
    return out;
  }
  case packet_type::subscribe:
    return on_subscribe(std::move(std::get<subscribe>(p)));
  case packet_type::unsubscribe:
    return on_unsubscribe(std::move(std::get<unsubscribe>(p)));
  case packet_type::pingreq: {
    channel_output out;
    out.packets.emplace_back(pingresp{});
    return out;
  }
  case packet_type::disconnect:
    return on_disconnect(std::get<disconnect>(p));
  case packet_type::connect:
    return protocol_close(reason_code::protocol_error, "second CONNECT");
  case packet_type::auth:
    if (auth_method_.empty())
      return protocol_close(reason_code::protocol_error,
                            "AUTH without authentication method");
    // Re-authentication (AUTH 0x19) is not offered: the spec lets the
    // server close the connection instead.
    return protocol_close(reason_code::implementation_specific_error,
                          "re-authentication is not supported");
  default:
    return protocol_close(reason_code::protocol_error,
                          "packet not allowed from a client");
  }
}

namespace {

channel_output refuse(reason_code rc) {
  channel_output out;
  connack ack;
  ack.code = rc;
  out.packets.emplace_back(std::move(ack));
  out.effects.emplace_back(effect::close{rc, false, std::nullopt});
  return out;
}

} // namespace

std::string channel::assign_client_id() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd()
           ^ static_cast<uint64_t>(
               std::chrono::system_clock::now().time_since_epoch().count());
  }();
  char buf[48];
  std::snprintf(buf, sizeof(buf), "castor-%016llx-%llu",
                static_cast<unsigned long long>(salt),
                static_cast<unsigned long long>(++counter));
  return buf;
}

channel_output channel::on_connect(connect&& c) {
  version_ = c.version;
  const bool v5 = version_ == protocol_version::v5;
  auto fail = [this](reason_code rc) {
    phase_ = phase::closed;
    return refuse(rc);
  };
  credentials creds;
  if (c.props.authentication_method) {
    // MQTT 5 enhanced authentication: the connection runs the exchange
    // (effect::auth_data) before it opens the session.
    creds.auth_method = *c.props.authentication_method;
    creds.auth_data = c.props.authentication_data.value_or(std::string{});
  }
  if (c.username) {
    creds.has_username = true;
    creds.username = *c.username;
  }
  if (c.password) {
    creds.has_password = true;
    creds.password = std::move(*c.password);
  }
  if (v5 && c.props.receive_maximum && *c.props.receive_maximum == 0)
    return fail(reason_code::protocol_error);
  if (v5 && c.props.maximum_packet_size && *c.props.maximum_packet_size == 0)
    return fail(reason_code::protocol_error);
  session_request req;
  req.version = version_;
  req.clean_start = c.clean_start;
  req.username = std::move(c.username);
  if (c.client_id.empty()) {
    if (!v5 && !c.clean_start)
      return fail(reason_code::client_identifier_not_valid);
    if (!opts_.allow_empty_client_id)
      return fail(reason_code::client_identifier_not_valid);
    req.client_id = assign_client_id();
    req.assigned_id = true;
  } else {
    req.client_id = std::move(c.client_id);
  }
  // Keep alive: a v5 client is told when the server wants a lower one.
  keep_alive_ = c.keep_alive;
  if (v5 && opts_.max_keep_alive < 65535
      && (c.keep_alive == 0 || c.keep_alive > opts_.max_keep_alive))
    keep_alive_ = opts_.max_keep_alive;
  // Session expiry.
  uint32_t expiry;
  if (v5)
    expiry = c.props.session_expiry_interval.value_or(0);
  else
    expiry = c.clean_start ? 0 : 0xFFFFFFFFu;
  req.session_expiry = std::min(expiry, opts_.max_session_expiry);
  if (v5) {
    req.receive_maximum = c.props.receive_maximum.value_or(65535);
    req.maximum_packet_size = c.props.maximum_packet_size.value_or(0);
    req.topic_alias_maximum = c.props.topic_alias_maximum.value_or(0);
    for (auto& up : c.props.user_properties)
      req.user_properties.emplace_back(up.first, up.second);
    problem_information_ = c.props.request_problem_information.value_or(1) != 0;
  }
  if (c.will) {
    auto& w = *c.will;
    if (w.qos > opts_.maximum_qos)
      return fail(reason_code::qos_not_supported);
    if (w.retain && !opts_.retain_available)
      return fail(reason_code::retain_not_supported);
    req.has_will = true;
    req.will_delay = w.props.will_delay_interval.value_or(0);
    w.props.will_delay_interval.reset();
    req.will = std::make_shared<will_message>(std::move(w));
  }
  req_ = std::move(req);
  phase_ = phase::connecting;
  auth_method_ = creds.auth_method;
  authenticating_ = !auth_method_.empty();
  channel_output out;
  out.effects.emplace_back(effect::open_session{req_, std::move(creds)});
  return out;
}

channel_output channel::on_auth(auth&& a) {
  if (!authenticating_)
    return protocol_close(reason_code::protocol_error,
                          "AUTH without authentication method");
  if (a.code != reason_code::continue_authentication
      || a.props.authentication_method.value_or(std::string{})
             != auth_method_) {
    // [MQTT-4.12.0-5]: the same method throughout.
    phase_ = phase::closed;
    channel_output out;
    connack ack;
    ack.code = reason_code::protocol_error;
    out.packets.emplace_back(std::move(ack));
    out.effects.emplace_back(
        effect::close{reason_code::protocol_error, false, std::nullopt});
    return out;
  }
  channel_output out;
  out.effects.emplace_back(effect::auth_data{
      a.props.authentication_data.value_or(std::string{})});
  return out;
}

channel_output channel::handle_auth_continue(std::string data) {
  channel_output out;
  if (phase_ != phase::connecting || !authenticating_)
    return out;
  auth a;
  a.code = reason_code::continue_authentication;
  a.props.authentication_method = auth_method_;
  a.props.authentication_data = std::move(data);
  out.packets.emplace_back(std::move(a));
  return out;
}

void channel::set_auth_success(std::string data) {
  authenticating_ = false;
  auth_success_data_ = std::move(data);
}

channel_output
channel::handle_session_opened(bool session_present,
                               const std::set<uint16_t>& qos2_ids) {
  channel_output out;
  if (phase_ != phase::connecting)
    return out;
  phase_ = phase::connected;
  session_open_ = true;
  qos2_ = qos2_ids;
  connack ack;
  ack.session_present = session_present && !req_.clean_start;
  if (version_ == protocol_version::v5) {
    auto& p = ack.props;
    if (req_.assigned_id)
      p.assigned_client_identifier = req_.client_id;
    p.receive_maximum = opts_.receive_maximum;
    p.maximum_packet_size = opts_.max_packet_size;
    if (opts_.topic_alias_maximum > 0)
      p.topic_alias_maximum = opts_.topic_alias_maximum;
    if (opts_.maximum_qos < 2)
      p.maximum_qos = opts_.maximum_qos;
    if (!opts_.retain_available)
      p.retain_available = 0;
    if (!opts_.wildcard_subscription_available)
      p.wildcard_subscription_available = 0;
    if (!opts_.subscription_identifier_available)
      p.subscription_identifier_available = 0;
    if (!opts_.shared_subscription_available)
      p.shared_subscription_available = 0;
    if (opts_.max_session_expiry < 0xFFFFFFFFu
        && req_.session_expiry == opts_.max_session_expiry)
      p.session_expiry_interval = req_.session_expiry;
    if (opts_.max_keep_alive < 65535)
      p.server_keep_alive = keep_alive_;
    if (!auth_method_.empty()) {
      p.authentication_method = auth_method_;
      if (auth_success_data_)
        p.authentication_data = std::move(*auth_success_data_);
      auth_success_data_.reset();
    }
  }
  out.packets.emplace_back(std::move(ack));
  return out;
}

std::vector<packet> channel::take_deferred() {
  auto pending = std::move(deferred_);
  deferred_ = std::vector<packet>{};
  return pending;
}

channel_output channel::handle_session_refused(reason_code reason) {
  if (phase_ != phase::connecting)
    return {};
  phase_ = phase::closed;
  return refuse(reason);
}

channel_output channel::on_disconnect(const disconnect& d) {
  std::optional<uint32_t> expiry;
  if (version_ == protocol_version::v5 && d.props.session_expiry_interval) {
    auto requested = *d.props.session_expiry_interval;
    if (req_.session_expiry == 0 && requested != 0)
      return protocol_close(reason_code::protocol_error,
                            "session expiry changed from 0 at DISCONNECT");
    expiry = std::min(requested, opts_.max_session_expiry);
    req_.session_expiry = *expiry;
  }
  phase_ = phase::closed;
  channel_output out;
  out.effects.emplace_back(
      effect::close{d.code, d.code != reason_code::success, expiry});
  return out;
}

void channel::disconnect_into(channel_output& out, reason_code reason,
                              bool publish_will, std::string why) {
  if (phase_ == phase::closed)
    return;
  // Only a DISCONNECT reason code goes out (a client would take any other
  // for a malformed packet).
  if (!reason_code_allowed(reason, packet_type::disconnect))
    reason = reason_code::unspecified_error;
  if (version_ == protocol_version::v5 && phase_ == phase::connected) {
    disconnect d;
    d.code = reason;
    if (!why.empty() && problem_information_) {
      d.props.reason_string = std::move(why);
      // Not if it makes the packet larger than the client accepts
      // [MQTT-3.14.2-3].
      if (req_.maximum_packet_size != 0
          && encode(packet{d}, version_).size() > req_.maximum_packet_size)
        d.props.reason_string.reset();
    }
    out.packets.emplace_back(std::move(d));
  }
  phase_ = phase::closed;
  out.effects.emplace_back(effect::close{reason, publish_will, std::nullopt});
}

channel_output channel::protocol_close(reason_code reason, std::string why) {
  channel_output out;
  disconnect_into(out, reason, true, std::move(why));
  return out;
}

channel_output
channel::handle_parse_error(const parse_error& err,
                            std::optional<protocol_version> version) {
  channel_output out;
  if (phase_ == phase::closed)
    return out;
  if (phase_ == phase::awaiting_connect) {
    // A CONNECT that cannot be accepted: CONNACK with the reason where the
    // version is known (the 3.1.1 form, return code 1, for a protocol level
    // we do not speak), then close.
    if (err.code == reason_code::unsupported_protocol_version) {
      if (err.cause == "unsupported_protocol_level") {
        version_ = protocol_version::v311;
        connack ack;
        ack.code = err.code;
        out.packets.emplace_back(std::move(ack));
      }
    } else if (version == protocol_version::v5) {
      version_ = protocol_version::v5;
      connack ack;
      ack.code = err.code;
      out.packets.emplace_back(std::move(ack));
    }
    phase_ = phase::closed;
    out.effects.emplace_back(effect::close{err.code, false, std::nullopt});
    return out;
  }
  // A CONNECT after the first is a protocol error [MQTT-3.1.0-2], whatever
  // is wrong with it: its own reason codes (0x84 unsupported protocol
  // version, 0x85 client identifier not valid, ...) exist only in CONNACK
  // and may not appear in DISCONNECT.
  auto reason = err.code;
  if (!reason_code_allowed(reason, packet_type::disconnect))
    reason = reason_code::protocol_error;
  disconnect_into(out, reason, true, err.cause);
  return out;
}

channel_output channel::handle_timeout() {
  channel_output out;
  if (phase_ == phase::awaiting_connect || phase_ == phase::connecting) {
    phase_ = phase::closed;
    out.effects.emplace_back(
        effect::close{reason_code::maximum_connect_time, false, std::nullopt});
    return out;
  }
  disconnect_into(out, reason_code::keep_alive_timeout, true);
  return out;
}

channel_output channel::handle_kick(reason_code reason, bool publish_will) {
  channel_output out;
  disconnect_into(out, reason, publish_will);
  return out;
}

channel_output channel::handle_closed() {
  channel_output out;
  if (phase_ == phase::closed)
    return out;
  phase_ = phase::closed;
  out.effects.emplace_back(
      effect::close{reason_code::unspecified_error, true, std::nullopt});
  return out;
}

void channel::write(const packet& p, std::string& out) const {
  encode(p, version_, out);
}

} // namespace castor::mqtt
