#pragma once

// The MQTT channel: the per-connection protocol state machine as a value (in
// the manner of EMQX's emqx_channel). It takes decoded packets from the
// client and answers with the packets to send back and the effects the
// connection actor must run (open the session, route a message, forward a
// subscription, close). No actors, no sockets: unit-testable as is.
//
// Handlers live in channel_connect.cpp (CONNECT, DISCONNECT, timers),
// channel_publish.cpp (PUBLISH and acknowledgements both ways) and
// channel_subscribe.cpp (SUBSCRIBE, UNSUBSCRIBE).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/packet.hpp"
#include "protocol/session_state.hpp"
#include "protocol/handler_table.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor::mqtt {

/// The server's limits and features as the channel applies them.
struct channel_options {
  uint32_t max_packet_size = 1048576;
  uint16_t receive_maximum = 256;
  uint16_t topic_alias_maximum = 64;
  uint16_t max_keep_alive = 65535;
  uint32_t max_session_expiry = 4294967295u;
  uint8_t maximum_qos = 2;
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifier_available = true;
  bool shared_subscription_available = true;
  bool allow_empty_client_id = true;
  /// The payload mapping (explicit topics); null or empty: every topic is
  /// implicit and takes any payload.
  castor::mapping_ptr mapping;
  /// The message handlers (protocol/handler_table.hpp): an MQTT 5 PUBLISH
  /// with a response topic to a path one serves is a request to it. Null:
  /// none.
  std::shared_ptr<const castor::handler_lookup> handlers;
};

/// The session-related content of a CONNECT, after validation.
struct session_request {
  std::string client_id;
  bool assigned_id = false;
  bool clean_start = true;
  protocol_version version = protocol_version::v5;
  uint32_t session_expiry = 0; ///< seconds, 0xFFFFFFFF = never
  bool has_will = false;
  /// Non-null iff has_will; the will delay is removed from its properties.
  /// Shared and on the heap: most clients have none, and the request is
  /// kept by the channel and the session.
  std::shared_ptr<const will_message> will;
  uint32_t will_delay = 0;          ///< seconds
  uint16_t receive_maximum = 65535; ///< the client's
  uint32_t maximum_packet_size = 0; ///< the client's, 0 = none
  uint16_t topic_alias_maximum = 0; ///< the client's
  std::optional<std::string> username;
  /// MQTT 5: the CONNECT's user properties (session properties of the
  /// API). Local: not serialized.
  std::vector<std::pair<std::string, std::string>> user_properties{};
};

/// What the channel asks before it lets a publish through.
enum class publish_check : uint8_t {
  allow,          ///< may publish, creating the topic if need be
  deny,           ///< may not publish to this topic
  allow_existing, ///< may publish if the topic exists, may not create it
};

/// The access rights of the client on this connection, as the channel and
/// the topic tree ask them. Implementations are immutable and thread-safe
/// (security/topic_access.hpp); a null pointer means everything is allowed.
class access_policy {
public:
  virtual ~access_policy() = default;
  /// May the client publish to the topic name `topic`?
  virtual publish_check check_publish(std::string_view topic) const = 0;
  /// May the client subscribe to `filter` (without "$share/group/")?
  virtual bool may_subscribe(std::string_view filter) const = 0;
  /// May messages of the topic name `topic` be delivered to the client?
  virtual bool may_read(std::string_view topic) const = 0;
  /// True if may_read() is true for every topic (no per-message check).
  virtual bool reads_everything() const noexcept {
    return false;
  }
  /// May the client add or remove the topic `topic` (the platform API)?
  virtual bool may_modify(std::string_view topic) const {
    return check_publish(topic) == publish_check::allow;
  }
  /// May the client register message handlers (REGISTER_HANDLER)?
  virtual bool may_register_handler() const {
    return true;
  }
  /// May the client send requests to the handler of `path`
  /// (SEND_TO_MESSAGE_HANDLER)?
  virtual bool may_send_to_handler(std::string_view) const {
    return true;
  }
  /// May the client send requests to sessions through `path`
  /// (SEND_TO_SESSION)?
  virtual bool may_send_to_session(std::string_view) const {
    return true;
  }
  /// May the client see other sessions (VIEW_SESSION)?
  virtual bool may_view_sessions() const {
    return true;
  }
  /// May the client change and close other sessions (MODIFY_SESSION)?
  virtual bool may_modify_sessions() const {
    return true;
  }
};

using access_ptr = std::shared_ptr<const access_policy>;

/// Credentials of a CONNECT. Kept apart from session_request, which travels
/// to the session: nothing here may be logged or leave the connection.
struct credentials {
  bool has_username = false;
  std::string username;
  bool has_password = false;
  std::string password;
  std::string auth_method; ///< MQTT 5 enhanced authentication, or ""
  std::string auth_data;   ///< its first data (binary)
};

namespace effect {

/// Find or create the session and attach this connection to it; answer with
/// channel::handle_session_opened or handle_session_refused.
struct open_session {
  session_request req;
  credentials creds;
};

/// MQTT 5 enhanced authentication: the client's next AUTH data for the
/// exchange started at CONNECT; answer with handle_auth_continue,
/// handle_session_opened (after set_auth_success) or handle_session_refused.
struct auth_data {
  std::string data;
};

/// A PUBLISH was refused for lack of permission (already acknowledged as
/// the protocol version requires); for counting and the log.
struct publish_refused {
  std::string topic;
  uint8_t qos = 0;
  /// not_authorized, or payload_format_invalid (the payload does not
  /// convert to its explicit topic's type).
  reason_code reason = reason_code::not_authorized;
  std::string why; ///< for the log: what did not convert
};

/// A request of the platform API: an MQTT 5 PUBLISH to
/// `$castor/api/<operation>` with a response topic (already acknowledged).
/// The answer goes to this connection's client only (channel::api_answer).
struct api_request {
  std::string operation; ///< what follows `$castor/api/`
  std::string payload;
  std::string response_topic;
  std::optional<std::string> correlation_data;
};

/// A request to a message handler (docs/platform.md, "Request-response
/// messaging"): an MQTT 5 PUBLISH with a response topic to a path a handler
/// serves (already acknowledged; the client may send to handlers there).
struct message_request {
  publish msg;
};

/// A handler's answer: a PUBLISH to `$castor/reply/<id>` (acknowledged).
struct message_answer {
  std::string id; ///< what follows `$castor/reply/`
  publish msg;
};

/// Forward an inbound application message (topic resolved, alias removed).
struct route {
  publish msg;
};

/// A PUBLISH the client may send only to a topic that exists: find out and
/// answer with channel::handle_publish_checked. Not acknowledged yet.
struct route_if_exists {
  publish msg;
};

/// Forward subscriptions to the session; answer with handle_suback.
/// `codes[i]` is an error for a rejected filter (not to be subscribed) or
/// the granted QoS.
struct subscribe {
  uint16_t packet_id = 0;
  std::vector<subscription> subs;
  std::vector<reason_code> codes;
  uint32_t subscription_id = 0; ///< 0 = none
};

/// Forward unsubscriptions to the session; answer with handle_unsuback.
struct unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
  std::vector<reason_code> codes; ///< pre-filled errors, else success
};

/// The client acknowledged an outbound message (PUBACK, PUBREC, PUBCOMP).
struct outbound_ack {
  packet_type kind = packet_type::puback;
  uint16_t packet_id = 0;
  reason_code code = reason_code::success;
};

/// Close the connection once the packets of this output are written, and
/// detach from the session (if one is open).
struct close {
  reason_code reason = reason_code::success;
  bool publish_will = true;
  /// A new session expiry interval set by DISCONNECT.
  std::optional<uint32_t> session_expiry;
};

} // namespace effect

using channel_effect
    = std::variant<effect::open_session, effect::route, effect::subscribe,
                   effect::unsubscribe, effect::outbound_ack, effect::close,
                   effect::auth_data, effect::route_if_exists,
                   effect::publish_refused, effect::api_request,
                   effect::message_request, effect::message_answer>;

/// What a handler produced: packets to send (in order) and effects to run
/// (in order, after the packets are queued for writing).
struct channel_output {
  std::vector<packet> packets;
  std::vector<channel_effect> effects;

  bool closes() const noexcept;
};

class channel {
public:
  enum class phase : uint8_t {
    awaiting_connect,
    connecting,
    connected,
    closed
  };

  explicit channel(channel_options opts = {});

  // -- inbound --------------------------------------------------------------

  /// One decoded packet from the client.
  channel_output handle_in(packet&& p);

  /// The frame parser failed: DISCONNECT (v5) or CONNACK (before CONNECT)
  /// with its reason code, then close. `version` is what the parser saw of
  /// the CONNECT (if anything).
  channel_output handle_parse_error(const parse_error& err,
                                    std::optional<protocol_version> version
                                    = std::nullopt);

  /// The keep alive (1.5 times) or the connect timeout passed without a
  /// packet from the client.
  channel_output handle_timeout();

  /// The server closes the connection (session taken over 0x8E, shutting
  /// down 0x8B, administrative action, ...). `publish_will` is decided by the
  /// caller (the session decides it on takeover).
  channel_output handle_kick(reason_code reason, bool publish_will);

  /// The peer closed the socket.
  channel_output handle_closed();

  // -- answers to effects ----------------------------------------------------

  /// The session is open: CONNACK. What arrived meanwhile is then
  /// take_deferred()'s, to be handled with handle_in in order (the caller
  /// may stop behind a SUBSCRIBE, as it does with packets it reads).
  channel_output handle_session_opened(bool session_present,
                                       const std::set<uint16_t>& qos2_ids);

  /// The packets that arrived while the session opened (AUTH aside), in
  /// order; empty afterwards.
  std::vector<packet> take_deferred();

  /// How many packets wait for the session to open.
  size_t deferred_count() const noexcept {
    return deferred_.size();
  }

  /// The session could not be opened: CONNACK with `reason` and close.
  channel_output handle_session_refused(reason_code reason);

  channel_output handle_suback(uint16_t packet_id,
                               std::vector<reason_code> codes);

  channel_output handle_unsuback(uint16_t packet_id,
                                 std::vector<reason_code> codes);

  /// Enhanced authentication goes on: AUTH 0x18 with `data`.
  channel_output handle_auth_continue(std::string data);

  /// Enhanced authentication succeeded: the CONNACK that
  /// handle_session_opened sends carries the method and `data`.
  void set_auth_success(std::string data);

  /// The answer to effect::route_if_exists: routed and acknowledged when
  /// `exists`, else refused as a publish without permission.
  channel_output handle_publish_checked(publish&& p, bool exists);

  // -- access control ----------------------------------------------------------

  /// The client's rights, set once it is authenticated (null = all).
  void set_access(access_ptr a) {
    access_ = std::move(a);
  }
  /// The authenticated principal (empty: anonymous): the author of the
  /// events the client appends to time series.
  void set_principal(std::string principal) {
    principal_ = std::move(principal);
  }
  const access_ptr& access() const noexcept {
    return access_;
  }

  // -- outbound ---------------------------------------------------------------

  /// Appends the encoding of an outbound PUBLISH (topic alias applied,
  /// remaining expiry set) or PUBREL to `out`. Returns false and appends
  /// nothing when the packet exceeds the client's maximum packet size (the
  /// message is then to be treated as delivered).
  /// A message in the delta form goes on `$delta/{topic}`: as its delta
  /// when the client's last value of the topic (the last one written
  /// here) is the delta's basis, the connection is MQTT 5 (3.1.1 has no
  /// content type to tell them apart) and it is not a retransmission;
  /// else whole.
  bool write(const outbound& o, steady_time now, std::string& out);

  /// Appends the encoding of a packet for this connection's version.
  void write(const packet& p, std::string& out) const;

  /// The answer to an effect::api_request: a QoS 0 PUBLISH of the JSON
  /// `answer` to the request's response topic, with its correlation data,
  /// content type application/json and payload format indicator 1. False
  /// (nothing appended) when it would exceed the client's maximum packet
  /// size.
  bool write_api_answer(const effect::api_request& r, std::string answer,
                        std::string& out) const;

  /// Appends `p` (QoS 0, written straight to the client: a request to a
  /// handler, an answer to a requester) to `out`; false (nothing appended)
  /// when it would exceed the client's maximum packet size.
  bool write_direct(publish&& p, std::string& out) const;

  // -- state ------------------------------------------------------------------

  phase state() const noexcept {
    return phase_;
  }
  protocol_version version() const noexcept {
    return version_;
  }
  const session_request& session() const noexcept {
    return req_;
  }
  /// Keep alive in seconds as agreed at CONNECT (0 = none).
  uint16_t keep_alive() const noexcept {
    return keep_alive_;
  }
  /// Largest packet the client accepts (0 = no limit).
  uint32_t client_max_packet_size() const noexcept {
    return req_.maximum_packet_size;
  }
  /// The inbound QoS 2 identifiers awaiting PUBREL (returned to the session
  /// at detach).
  const std::set<uint16_t>& inbound_qos2() const noexcept {
    return qos2_;
  }
  const channel_options& options() const noexcept {
    return opts_;
  }

private:
  channel_output on_connect(connect&& c);
  channel_output on_publish(publish&& p);
  channel_output on_pubrel(const pubrel& p);
  channel_output on_subscribe(subscribe&& s);
  channel_output on_unsubscribe(unsubscribe&& u);
  channel_output on_disconnect(const disconnect& d);
  channel_output on_auth(auth&& a);
  channel_output accept_publish(publish&& p);
  /// A publish to `$castor/`: an API request, or refused.
  channel_output api_publish(publish&& p);
  /// An MQTT 5 publish with a response topic to a path a handler serves;
  /// and a handler's answer to `$castor/reply/` (channel_messaging.cpp).
  channel_output handler_publish(publish&& p);
  channel_output reply_publish(publish&& p);
  /// Acknowledges a publish taken as a request or answer (QoS 1, 2).
  bool ack_taken(const publish& p, channel_output& out);
  /// Acknowledges a publish that is not routed: MQTT 5 with `code` in
  /// PUBACK or PUBREC (a QoS 0 one is dropped); MQTT 3.1.1 cannot say why,
  /// and acknowledges it as success.
  channel_output refuse_publish(publish&& p,
                                reason_code code = reason_code::not_authorized,
                                std::string why = {});
  channel_output dispatch(packet&& p);

  /// DISCONNECT with `reason` (v5 only) and close; the will is published.
  channel_output protocol_close(reason_code reason, std::string why = {});
  void disconnect_into(channel_output& out, reason_code reason,
                       bool publish_will, std::string why = {});
  std::string assign_client_id();

  channel_options opts_;
  phase phase_ = phase::awaiting_connect;
  protocol_version version_ = protocol_version::v5;
  session_request req_;
  uint16_t keep_alive_ = 0;
  bool session_open_ = false;
  bool problem_information_ = true;
  access_ptr access_;
  std::string principal_;
  std::string auth_method_;  ///< enhanced authentication in use, or ""
  bool authenticating_ = false; ///< AUTH exchange before CONNACK
  std::optional<std::string> auth_success_data_;
  std::vector<packet> deferred_; // received while the session opens
  std::set<uint16_t> qos2_;
  std::unordered_map<uint16_t, std::string> alias_in_;
  std::unordered_map<std::string, uint16_t> alias_out_;
  /// Per topic, the update whose value the client last got on
  /// `$delta/{topic}` (a delta follows only that one).
  std::unordered_map<std::string, uint64_t> delta_written_;
};

} // namespace castor::mqtt
