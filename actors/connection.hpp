#pragma once

// One io::broker per MQTT connection, on the middleman's I/O thread: reads
// into a small buffer (grown for large packets and bursts, shrunk when
// idle), runs the frame parser and the pure channel, and runs the channel's
// effects. Its work is kept short: one message per read per topic (a batch
// of publishes), one message per read with the acknowledgements for the
// session, one flush per batch. Topic actors are cached by topic name so the
// topic tree is asked once per name; publishes to a name whose actor is
// being looked up wait in order.
//
//   new_data_msg                         bytes from the socket: parse, run
//   connection_closed_msg                the socket has closed
//   data_transferred_msg                 bytes written: written_atom to the
//                                           session, resume its flow
//   (out_atom, outbound_batch)           from the session: write to the client
//   (kick_atom, reason_code, bool publish_will)   close (takeover,
//                                           shutdown)
//   (gate_open_atom, seq)                a subscription change it waited for
//                                           has ended
//   (change_timeout_atom, seq)           timer: change `seq` not answered
//   (slow_atom, epoch)                   timer: slow-consumer check
//   (tick_atom, epoch)                   timer: connect timeout, keep alive
//   (rearm_read_atom, epoch_and_step)    timer: trigger reading again
//   (round_atom, seq)                    a round after trigger `seq` has
//                                           begun: held-back halt or close
//   (flush_atom)                         from itself: write what is pending
//   down_msg                             a monitored topic has retired
//   (msg_request_atom, handler_request)  a request for a handler this
//                                           connection registered
//   (msg_answer_atom, handler_answer)    the answer to its client's request
//   (msg_timeout_atom, n)                timer: request n not answered
//                                           (actors/messaging.hpp)

#include <chrono>
#include <functional>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/io/broker.hpp>

#include "metrics/metrics.hpp"
#include "actors/cluster_routes.hpp"
#include "actors/counters.hpp"
#include "actors/session_directory.hpp"
#include "actors/iface/authenticator.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/registry.hpp"
#include "actors/iface/session.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "actors/missing_topics.hpp"
#include "actors/subscription_gate.hpp"
#include "actors/types.hpp"
#include "protocol/channel.hpp"
#include "protocol/codec.hpp"
#include "protocol/session_state_queue.hpp"
#include "security/rights_registry.hpp"
#include "security/scram.hpp"
#include "protocol/session_access.hpp"
#include "security/security_store.hpp"
#include "security/store_holder.hpp"
#include "security/topic_access.hpp"
#include "security/transport.hpp"

namespace castor {

/// What every connection of a listener shares.
struct connection_context {
  registry_interface registry;
  topic_tree_interface tree;
  /// The session locks of the API (actors/locks.hpp).
  locks_interface locks;
  /// Connect timeouts and keep alive (actors/timer_wheel.hpp).
  caf::actor timers;
  /// The store writer when changes are acknowledged once on disk
  /// (storage.durability sync; else null), for the API (api_context).
  caf::actor store_sync;
  /// Subscription changes in progress, shared by every connection of the
  /// server (actors/subscription_gate.hpp).
  std::shared_ptr<subscription_gate> gate;
  /// The message handlers (actors/messaging.hpp), also in opts.handlers.
  handlers_ptr handlers;
  /// The missing-topic handlers (actors/missing_topics.hpp).
  missing_ptr missing;
  /// The sessions the API sees (actors/session_directory.hpp).
  session_directory_ptr sessions;
  /// In a node group, its route table (the API's sessions/list asks its
  /// members); null otherwise.
  cluster_routes_ptr routes;
  /// In a node group, its client-id registry (actors/cluster_claims.hpp),
  /// which keeps the connection's will with the session's replica on
  /// another member; null otherwise.
  caf::actor claims;
  /// How long a handler has to answer a request (messaging.request_timeout_ms).
  uint32_t request_timeout_ms = 10000;
  mqtt::channel_options opts;
  uint32_t connect_timeout_ms = 10000;
  uint32_t max_outbound_bytes = 1048576;
  uint32_t slow_consumer_timeout_ms = 30000;
  bool slow_consumer_disconnect = true;
  /// Pending reads (whose messages topics have not yet taken) before the
  /// connection stops reading.
  uint32_t max_pending_reads = 16;
  /// Bytes of such messages before it stops reading (mqtt.max_inbound_bytes).
  uint32_t max_inbound_bytes = 262144;
  /// Topics retire after this long without a publish (0 = never).
  uint32_t topic_idle_ms = 0;
  std::string listener;
  /// The listener's place in the configuration (the metrics' label).
  uint8_t listener_index = 0;
  std::shared_ptr<broker_counters> counters;
  /// The authenticator chain (actors/authenticator.hpp).
  auth_chain_interface auth;
  /// False when every client is let in with all rights (no store, no JWT,
  /// anonymous clients allowed): CONNECT then skips the chain.
  bool auth_required = false;
  /// The listener refuses anonymous clients (listener require_auth).
  bool require_principal = false;
  /// The security store, for access control and SCRAM; null = none, and
  /// then an authenticated client may do everything. The store in effect
  /// at the time of each use (edits and reloads swap it): store.get().
  security::store_source store;
  /// One shared rights object per principal (with a store): what the
  /// connections, sessions and subscriptions of a principal check.
  std::shared_ptr<security::rights_registry> rights;
  /// The listener's layers below MQTT (TLS, WebSocket); null for plain TCP.
  std::shared_ptr<const security::transport_options> transport;
  /// The HTTP router (app/http_router.hpp) that answers ordinary HTTP
  /// requests on http and https listeners.
  caf::actor http;
  /// Which field of a verified client certificate becomes tls_identity.
  security::cert_principal principal_from
      = security::cert_principal::common_name;
};

using connection_context_ptr = std::shared_ptr<const connection_context>;

/// How a connection keeps the order in which it read packets while a
/// SUBSCRIBE or UNSUBSCRIBE takes effect (actors/subscription_gate.hpp).
/// Allocated while in use.
struct connection_ordering {
  /// The SUBSCRIBE or UNSUBSCRIBE being carried out. The connection handles
  /// no further packet until the session has answered it: what it reads
  /// meanwhile waits in `input`.
  struct change {
    subscription_gate::seq_type seq = 0;
    /// Sends it to the session; runs once the publishes read before it
    /// have reached their topics (no lookup, exists check or held batch
    /// left).
    std::function<void()> start;
    bool started = false;
    /// Answers the client with failure codes (the session did not answer
    /// in time); set once it is sent.
    std::function<void()> fail;
  };
  std::optional<change> current;
  /// Packets and then MQTT bytes read after the change, handled once it is
  /// done (or, while the session opens, once it is open).
  std::vector<mqtt::packet> packets;
  std::string input;
  /// The peer closed the connection after those bytes.
  bool peer_closed = false;
  /// Publish batches held behind other connections' changes, in read
  /// order (once one is held, every later one is too).
  struct held_batch {
    std::string topic;
    std::vector<mqtt::message_ptr> msgs;
    uint64_t read = 0; ///< the pending read it belongs to
    subscription_gate::seq_type mark = 0;
  };
  std::deque<held_batch> held;
  bool unused() const noexcept {
    return !current && packets.empty() && input.empty() && held.empty()
           && !peer_closed;
  }
};

/// The socket and the layers below MQTT (transport concern).
struct connection_net {
  caf::io::connection_handle hdl;
  std::string peer;
  /// The principal named by the client's verified certificate (mutual TLS;
  /// the listener's tls.principal_from field); empty without one.
  std::string tls_identity;
  /// TLS and WebSocket below MQTT; null on plain TCP (bytes go straight
  /// between the socket and the parser).
  std::unique_ptr<security::transport> transport;
  security::transport_input transport_in; // reused for every read
  std::string wire;                       // socket bytes of a flush, reused
  bool transport_up = false; ///< every layer of the transport is up
  /// The size of CAF's read buffer for this socket.
  size_t read_size = 0;
  /// CAF has closed the socket: nothing may be written to its descriptor.
  bool socket_gone = false;
};

/// Reads and inbound flow control: a read whose publishes went to topics
/// is a pending read; its PUBACK and PUBREC bytes are held until every
/// topic it sent to has taken the messages, and released in read order.
/// While too many reads are pending, too many inbound bytes are not taken
/// or the client's receive maximum is used up, the connection stops
/// reading its socket.
struct connection_reading {
  std::unique_ptr<mqtt::frame_parser> parser;
  struct pending_read {
    uint32_t topics_left = 0; ///< topic batches not yet taken
    std::string acks;         ///< PUBACK and PUBREC bytes held back
    uint32_t qos1 = 0;        ///< PUBACKs among the acks
  };
  mqtt::lazy_deque<pending_read> pending;
  uint64_t first_pending = 0; ///< sequence number of pending.front()
  std::string acks;           ///< PUBACK/PUBREC bytes of the current read
  uint32_t acks_qos1 = 0;     ///< PUBACKs in acks
  uint32_t held_qos1 = 0;     ///< PUBACKs held in pending (receive maximum)
  /// Bytes (inbound_size) of messages read that topics have not yet taken.
  uint64_t inbound_bytes = 0;
  /// Why the connection does not read its socket (read_stop bits); 0 =
  /// reading.
  uint8_t stops = 0;
  /// When reading last stopped (the metrics' halt time).
  std::chrono::steady_clock::time_point halted_at{};
  /// Data arrived in a round after the one that last resumed reading (ends
  /// the re-triggers). Data read in the resuming round proves nothing: a
  /// halt issued earlier in that round still applies at its end.
  bool rx_since_resume = true;
  /// Reading was switched on in the multiplexer's current round (CAF 0.17
  /// applies it at the round's end): a halt or close now would cancel it
  /// and leave the socket's stream holding itself (socket and buffers
  /// never freed), so they wait for the next round (round_atom).
  bool armed = false;
  uint64_t arm_seq = 0; ///< triggers so far (round_atom carries the count)
  bool halt_deferred = false;
  bool close_deferred = false;
  uint64_t rearm_epoch = 0;
  std::chrono::steady_clock::time_point last_rx;

  /// The sequence number the next pending read gets.
  uint64_t next_read() const noexcept {
    return first_pending + pending.size();
  }
  /// Pending read `seq`; null once it has been released.
  pending_read* pending_read_at(uint64_t seq) noexcept {
    if (seq < first_pending || seq - first_pending >= pending.size())
      return nullptr;
    return &pending[seq - first_pending];
  }
  /// Releases the leading pending reads whose publishes every topic has
  /// taken: their acknowledgement bytes go to `out`, in read order.
  void release_taken(std::string& out) {
    while (!pending.empty() && pending.front().topics_left == 0) {
      out += pending.front().acks;
      held_qos1 -= pending.front().qos1;
      pending.pop_front();
      ++first_pending;
    }
  }
  bool stopped_for(uint8_t why) const noexcept {
    return (stops & why) != 0;
  }
};

/// Publishes on their way to topics (actors/connection_route.cpp).
struct connection_routing {
  /// Routes of this read, in order, grouped by topic (and by the gate's
  /// mark when they were read).
  struct route_group {
    std::string topic;
    std::vector<mqtt::message_ptr> msgs;
    subscription_gate::seq_type mark = 0;
  };
  std::vector<route_group> routes;
  /// The gate's mark when the packet being handled was read.
  subscription_gate::seq_type read_mark = 0;
  /// The forwarded properties of the last publish read, shared by the
  /// next ones that have the same (mqtt::make_message).
  mqtt::properties_ptr last_props;
  /// A batch on its way to a topic: the pending reads waiting for it, and
  /// its messages in case the topic retires before taking it.
  struct batch_in_flight {
    std::vector<mqtt::message_ptr> msgs;
    std::vector<uint64_t> reads;
    bool done = false;
    /// When it was sent: a topic that has not taken it within
    /// publish_wait_limit() counts as stuck (actors/iface/timeouts.hpp).
    std::chrono::steady_clock::time_point sent;
    /// inbound bytes its answer releases: its own and those of the batches
    /// pushed to the topic before it.
    uint64_t bytes = 0;
  };
  using batch_ptr = std::shared_ptr<batch_in_flight>;
  /// Batches sent to topics and not yet answered (over every topic).
  uint32_t batches_in_flight = 0;
  /// A topic actor this connection publishes to (monitored: idle topics
  /// retire), with its batches not yet answered, oldest first.
  struct cached_topic {
    topic_interface actor;
    std::vector<batch_ptr> in_flight;
    /// QoS 0 batches pushed without an answer since the last request, and
    /// their inbound bytes.
    uint32_t pushed = 0;
    uint32_t pushed_bytes = 0;
    /// When the last answered request was sent: the topic was alive then
    /// and cannot retire for a whole idle period after it.
    std::chrono::steady_clock::time_point confirmed{};
  };
  std::unordered_map<std::string, cached_topic> topics;
  /// Publishes waiting for their topic actor, and the reads they belong to.
  struct lookup {
    std::vector<mqtt::message_ptr> msgs;
    std::vector<uint64_t> reads;
  };
  std::unordered_map<std::string, lookup> lookups;
  /// Publishes that may go only to an existing topic, waiting (in order,
  /// by topic) for the tree to say whether it exists, and how many of them
  /// are QoS 1 or 2 (they count against our receive maximum).
  std::unordered_map<
      std::string,
      std::vector<std::pair<mqtt::publish, subscription_gate::seq_type>>>
      exists_checks;
  uint32_t exists_waiting = 0;

  bool publishes_in_flight() const noexcept {
    return batches_in_flight > 0;
  }
};

/// Who the client is and the session it is attached to (authentication and
/// session attachment, actors/connection_auth.cpp).
struct connection_attachment {
  /// The session actor; null before the session is open and while the
  /// session has none (clean start with expiry 0 and no subscription yet:
  /// the registry holds this connection itself, `registry_holds`).
  session_interface session;
  bool registry_holds = false;
  /// The session directory has this connection's session as connected.
  bool recorded = false;
  /// Asking the registry for a session actor (first SUBSCRIBE); requests
  /// for the session wait in `waiting`, in order.
  bool promoting = false;
  std::vector<std::function<void()>> waiting;
  /// After authentication: the principal (empty = anonymous), its roles
  /// and the rights they give (allow_everything() without a security
  /// store; null before authentication, which allows nothing).
  std::string principal;
  std::vector<std::string> roles;
  mqtt::access_ptr access;
  /// With a security store, `access` is this: what every holder of the
  /// session's rights asks, so that sessions/change-roles reaches them
  /// all; `own_rights` are the session's own once its roles changed.
  std::shared_ptr<mqtt::session_access> session_rights;
  std::shared_ptr<security::topic_access> own_rights;
  /// MQTT 5 enhanced authentication in progress, and the CONNECT waiting
  /// for it.
  std::unique_ptr<security::scram_server> scram;
  std::unique_ptr<mqtt::effect::open_session> pending_open;
  /// The chain's id of a SCRAM exchange in progress (0 = none): how it
  /// ends is recorded for the slow-down.
  uint64_t auth_ticket = 0;
  /// When the authenticator chain was asked (its answer is awaited until
  /// auth_timeout after it, checked by the tick: no CAF request timeout on
  /// the I/O thread, actors/timer_wheel.hpp).
  std::chrono::steady_clock::time_point auth_asked;
  /// The client's acknowledgements of this read, for the session.
  ack_batch client_acks;
  bool detach_sent = false;
};

/// Writes and outbound flow control: bytes for the client, and how far
/// the socket is behind.
struct connection_writing {
  std::string out;            ///< bytes of this step, not yet flushed
  bool flush_pending = false; ///< a flush_atom to self is on its way
  /// Bytes written but not yet sent to the socket.
  uint64_t unsent = 0;
  /// wire_size of what the session handed us and we have not yet reported
  /// written (returned once the socket drains, in batches).
  uint64_t credit = 0;
  bool paused = false; ///< the session was told to hold its messages
  uint64_t slow_epoch = 0;
};

/// A connection in the connections gauge, by listener and protocol level
/// (0 until CONNECT is accepted).
class connection_share {
public:
  connection_share() = default;
  connection_share(const connection_share&) = delete;
  connection_share& operator=(const connection_share&) = delete;
  ~connection_share() {
    if (open_)
      metrics::sub(metrics::local().connections[listener_][level_]);
  }
  void open(size_t listener) noexcept {
    listener_ = listener < metrics::max_listeners ? listener
                                                  : metrics::max_listeners - 1;
    open_ = true;
    metrics::add(metrics::local().connections[listener_][0]);
  }
  void set_level(size_t level) noexcept {
    if (!open_ || level >= metrics::protocol_slots || level == level_)
      return;
    auto& b = metrics::local();
    metrics::sub(b.connections[listener_][level_]);
    metrics::add(b.connections[listener_][level]);
    level_ = level;
  }
  size_t level() const noexcept {
    return level_;
  }

private:
  size_t listener_ = 0;
  size_t level_ = 0;
  bool open_ = false;
};

struct connection_state {
  connection_context_ptr ctx;
  connection_share share;
  std::unique_ptr<mqtt::channel> channel;
  connection_net net;
  connection_reading reading;
  connection_routing routing;
  connection_attachment attachment;
  connection_writing writing;
  /// Packet order around SUBSCRIBE and UNSUBSCRIBE; null while not needed.
  std::unique_ptr<connection_ordering> order;
  /// Requests to this connection's handlers not yet answered
  /// (actors/connection_messaging.cpp); null until the first.
  std::unique_ptr<connection_messaging> messaging;
  uint64_t timer_epoch = 0;
  std::chrono::steady_clock::time_point tick_due; ///< of the pending tick
  bool closing = false;
  bool closed = false;
  mqtt::effect::close close_info;

  static inline const char* name = "connection";
};

using connection_broker = caf::io::stateful_broker<connection_state>;

caf::behavior connection_actor(connection_broker* self,
                               caf::io::connection_handle hdl,
                               connection_context_ptr ctx);

} // namespace castor
