#pragma once

// Functions shared by the files of the connection actor: connection.cpp
// (reading, writing, pending reads, the behavior) and connection_auth.cpp
// (authentication and opening the session). Not for other actors.

#include <chrono>
#include <functional>
#include <string>

#include <caf/atom.hpp>

#include "actors/connection.hpp"
#include "actors/iface/timeouts.hpp"

namespace castor::connection_detail {

using clock_type = std::chrono::steady_clock;

/// "session ID" once known, else "connection PEER": the log context.
std::string context_of(connection_broker* self);

/// A tick after `d` (connect timeout, keep alive); replaces the pending one.
void schedule_tick(connection_broker* self, std::chrono::milliseconds d);

/// A tick within `d`, reusing the pending one if it comes earlier.
void ensure_tick(connection_broker* self, std::chrono::milliseconds d);

/// Applies what the channel produced: writes its packets (PUBACK and PUBREC
/// held with their read) and carries out its effects.
void apply_output(connection_broker* self, mqtt::channel_output&& o);

/// Ends a step (a read, an answer, a timer: whatever produced channel
/// output): sends this read's publishes to their topics and the client's
/// acknowledgements to the session, holds or releases PUBACKs, flushes,
/// closes if due.
void end_step(connection_broker* self);

/// CONNECT accepted by the channel: authenticate, then open the session.
void start_session(connection_broker* self, mqtt::effect::open_session&& open);

/// Tells the session (or, without one, the registry) that the connection
/// has gone (once).
void send_detach(connection_broker* self);

/// After the close: detaches and stops the actor unless a session actor is
/// on its way or publishes still wait for other connections' subscription
/// changes (then it is called again when they have gone).
void maybe_quit(connection_broker* self);

/// Runs `f` once the connection has a session actor, asking the registry
/// for one if it has none yet.
void with_session(connection_broker* self, std::function<void()> f);

/// Runs bytes read from the socket through the transport: writes what it
/// answers and leaves the MQTT bytes in st.net.transport_in.data. Returns
/// true when the transport has finished (connection_transport.cpp).
bool transport_read(connection_broker* self, std::string_view bytes);

/// After a transport read: notes an established transport and logs how a
/// finished one ended. Returns true when it has finished (close).
bool transport_check(connection_broker* self);

/// Writes socket bytes (connection.cpp).
void send_bytes(connection_broker* self, std::string_view bytes);

/// An ordinary HTTP request the transport read (st.net.transport_in.http):
/// asks the HTTP router and writes its answer (connection_http.cpp).
void http_request_in(connection_broker* self);

/// The client's next AUTH packet of an enhanced authentication.
void continue_auth(connection_broker* self, const std::string& data);

// -- reading and pending reads (connection.cpp)
// --------------------------------

/// Why a connection does not read its socket (connection_reading::stops).
enum read_stop : uint8_t {
  /// Too many reads whose messages topics have not yet taken.
  stop_pending_reads = 1,
  /// A SUBSCRIBE or UNSUBSCRIBE is taking effect.
  stop_change = 2,
  /// Many packets wait for the session to open.
  stop_opening = 4,
  /// Too many bytes of messages read that topics have not yet taken.
  stop_bytes = 8,
  /// A 3.1.1 client has the receive maximum of QoS 1/2 publishes
  /// unacknowledged (an MQTT 5 client is disconnected instead).
  stop_window = 16,
};

/// QoS 1 and 2 publishes of the client not yet acknowledged (PUBACK held,
/// PUBREL missing, or waiting for a topic to be found).
uint32_t unacknowledged_inbound(connection_broker* self);

/// Stops reading the socket for `why`.
void stop_reading(connection_broker* self, read_stop why);

/// Ends the stop `why`; reads again when no other stop remains.
void resume_reading(connection_broker* self, read_stop why);

/// Sends one topic's batch of the pending read `seq` on its way (cached topic,
/// behind a lookup in progress, or after a new lookup). Returns true if the
/// read waits for an answer.
bool dispatch(connection_broker* self, const std::string& topic,
              std::vector<mqtt::message_ptr>&& msgs, uint64_t seq);

/// A topic has taken a batch of the pending read `seq`.
void read_batch_taken(connection_broker* self, uint64_t seq);

// -- platform API requests (connection_api.cpp) -------------------------------

/// Writes st.writing.out to the socket (once a burst of messages waiting
/// in the mailbox is handled, unless `now`).
void flush_out(connection_broker* self, bool now);

/// Runs a request of the platform API in an actor of its own and writes
/// its answer to this connection's client (nobody else gets it).
void run_api_request(connection_broker* self, mqtt::effect::api_request&& r);

/// What the connection handles for the platform API: subscriptions by
/// selector, notifications, message handlers' requests and answers,
/// sessions closed by an administrator.
caf::message_handler api_handlers(connection_broker* self);

/// topics/subscribe: the session subscribes to `key` (a selector key or an
/// MQTT filter) at `qos`, as if the client had; the granted QoS or a
/// reason code.
caf::result<uint8_t> api_subscribe(connection_broker* self, std::string key,
                                   uint8_t qos);

/// topics/notify: writes a JSON event to the client, to the request's
/// response topic with its correlation data (as an API answer).
void write_notification(connection_broker* self, std::string topic,
                        std::string correlation, bool has_correlation,
                        std::string event);

/// topics/unsubscribe: whether the session had the subscription.
caf::result<bool> api_unsubscribe(connection_broker* self, std::string key);
// -- request-response messaging (connection_messaging.cpp) -------------------

/// The client sent a request to a message handler: on to its connection.
void run_message_request(connection_broker* self,
                         mqtt::effect::message_request&& m);
/// The client (a handler) answered a request: back to the requester.
void run_message_answer(connection_broker* self,
                        mqtt::effect::message_answer&& a);
/// A request for a handler this connection registered (or, `stream`, to
/// its session through a request stream): to the client.
void on_handler_request(connection_broker* self, handler_request& r,
                        bool stream = false);
/// An answer (or error) to a request of this connection's client.
void on_handler_answer(connection_broker* self, handler_answer& a);
/// (msg_timeout_atom, id): the handler's client did not answer request id.
void on_request_timeout(connection_broker* self, uint64_t id);
/// The connection closes: its registrations and request streams end, its
/// pending requests fail with HANDLER_GONE.
void messaging_closed(connection_broker* self);

// -- requests to sessions (connection_streams.cpp) ----------------------------

/// A request to this connection's session: to the client if the session
/// has a request stream for its path, else NO_STREAM to the requester.
void on_stream_request(connection_broker* self, handler_request& r);
/// streams/add of this connection's client.
stream_added add_request_stream(connection_broker* self,
                                const std::string& path);
/// streams/remove: false if the connection had no stream for `path`.
bool remove_request_stream(connection_broker* self, const std::string& path);

// -- publishes on their way to topics (connection_route.cpp) ------------------

/// Adds a PUBLISH read now to the current read's batch for its topic.
void route(connection_broker* self, mqtt::publish&& p);

/// A PUBLISH the client may send only to a topic that exists: asks the
/// tree (unless the topic is cached) and hands the answer to the channel,
/// in order behind the changes read before it.
void route_if_exists(connection_broker* self, mqtt::publish&& p);

/// Sends the current read's batches; returns how many wait for an answer.
uint32_t flush_routes(connection_broker* self, uint64_t seq);

/// Asks the topics that took pushed batches without an answer to confirm
/// them, so that their bytes count no longer.
void confirm_pushes(connection_broker* self);

/// A cached topic has retired: its unanswered batches go through the tree.
void topic_gone(connection_broker* self, const caf::actor_addr& t);

/// How long a batch of publishes may wait for its topic: the slow-consumer
/// timeout (a slow subscriber may hold a topic back that long) and then
/// publish_timeout (actors/iface/timeouts.hpp).
std::chrono::milliseconds publish_wait_limit(const connection_context& ctx);

/// Ends the connection with DISCONNECT 0x89 (server busy) if a topic has
/// held a batch longer than publish_wait_limit(); returns true if it did.
bool publish_waits_expired(connection_broker* self,
                           std::chrono::steady_clock::time_point now);

/// A request of this connection failed (`what` did not answer in time, or
/// has gone): the connection ends with DISCONNECT 0x89 (server busy); the
/// client resends its unacknowledged QoS 1 and 2 messages when it
/// reconnects.
void request_failed(connection_broker* self, const char* what,
                    const caf::error& err);

/// Ends the connection from the server's side with `rc` (DISCONNECT in
/// MQTT 5), publishing the will if `publish_will`.
void end_connection(connection_broker* self, mqtt::reason_code rc,
                    bool publish_will);

// -- packet order around SUBSCRIBE and UNSUBSCRIBE (connection_order.cpp) -----

/// (change_timeout_atom, seq): the change `seq` was not answered in time.
using change_timeout_atom = caf::atom_constant<caf::atom("chgtimeout")>;

/// (reply, epoch) to this connection after `delay`, from the timer wheel:
/// never CAF's clock on the I/O thread (actors/timer_wheel.hpp).
void set_timer(connection_broker* self, std::chrono::milliseconds delay,
               caf::atom_value reply, uint64_t epoch);

/// The change `seq` was not answered in time: it fails.
void change_timed_out(connection_broker* self, uint64_t seq);

/// The authenticator chain did not answer in time.
void auth_unavailable(connection_broker* self, const caf::error& err);

/// The connection's ordering state, allocated on first use.
connection_ordering& ordering_of(connection_broker* self);

/// Frees the ordering state once nothing uses it.
void release_ordering(connection_broker* self);

/// True while a SUBSCRIBE or UNSUBSCRIBE of this connection takes effect.
bool change_pending(connection_broker* self);

/// A SUBSCRIBE (UNSUBSCRIBE) read now: registered with the gate at once,
/// sent to the session once the publishes read before it have gone.
void begin_subscribe(connection_broker* self, mqtt::effect::subscribe&& s);
void begin_unsubscribe(connection_broker* self, mqtt::effect::unsubscribe&& u);

/// Sends the pending change to the session if nothing read before it is
/// still on its way to a topic.
void try_start_change(connection_broker* self);

/// True while the connection handles no further packet: a SUBSCRIBE or
/// UNSUBSCRIBE takes effect, or many packets wait for the session to open.
bool input_stopped(connection_broker* self);

/// Runs the packets in `in` through the channel until the input stops;
/// keeps what follows for continue_input.
void consume_input(connection_broker* self, std::string_view in);

/// Handles the packets and bytes kept while the input was stopped (after a
/// change, or once the session is open), then reads again.
void continue_input(connection_broker* self);

/// Holds a batch that must wait for another connection's subscription
/// change (or behind batches already held). Returns false if it may go now.
bool hold_if_needed(connection_broker* self, connection_routing::route_group& r,
                    uint64_t seq);

/// A change this connection waited for has ended: sends the held batches
/// that may go now, in order.
void release_held(connection_broker* self);

} // namespace castor::connection_detail
