#pragma once

// The Castor C++ SDK: a client of Castor's API (MQTT 5 request/response on
// `$castor/api/<operation>`, docs/platform.md) and of its value streams
// (`$delta/` subscriptions). See docs/sdk.md.
//
// Thread safety: every member function of `client` may be called from any
// thread. One background thread per client runs the connection (an
// asio::io_context); callbacks (stream values, messages, handlers, state
// changes) run on that thread, one at a time. A callback must not wait on a
// future of the same client (the answer could only arrive on the thread it
// blocks); it may start operations and drop their futures.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace castor {

using json = nlohmann::json;

/// TLS settings (asio::ssl over OpenSSL). The server's certificate is
/// verified against `ca_file` (or the system's store when empty), host name
/// included; `cert_file`/`key_file` give a client certificate.
struct tls_options {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool verify_peer = true;
};

/// Reconnection after a lost connection: waits `initial_delay`, then
/// doubles (`multiplier`) up to `max_delay`, with up to 20% random jitter,
/// and tries again until it succeeds or the client is disconnected.
struct reconnect_options {
  bool enabled = true;
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{10000};
  double multiplier = 2.0;
};

/// How MQTT is carried: straight over TCP (or TLS), or over WebSocket
/// (subprotocol `mqtt`; `wss://` when `tls.enabled`).
enum class transport_kind { tcp, websocket };

struct connect_options {
  std::string host = "localhost";
  uint16_t port = 1883;
  tls_options tls;
  // --- WebSocket transport ---
  transport_kind transport = transport_kind::tcp;
  /// The request path of the WebSocket upgrade (the server's
  /// `websocket.path`, /mqtt by default).
  std::string ws_path = "/mqtt";
  // ---
  std::optional<std::string> username;
  /// The password, or a JWT where the server accepts tokens as passwords
  /// (docs/security.md).
  std::optional<std::string> password;
  /// Empty: a random `castor-sdk-<hex>` identifier, kept for reconnects.
  std::string client_id;
  uint16_t keep_alive = 30; ///< seconds; 0 = none
  /// The first CONNECT's clean start. Reconnects always resume
  /// (clean start false) when `session_expiry` > 0.
  bool clean_start = true;
  uint32_t session_expiry = 0; ///< seconds the server keeps the session
  reconnect_options reconnect;
  std::chrono::milliseconds connect_timeout{10000};
  /// One-shot operations not answered within this time fail with code
  /// `TIMEOUT` (the server answers API requests within 60 s).
  std::chrono::milliseconds request_timeout{70000};
  /// Where answers to send_request() come (subscribed on first use).
  /// Empty: `$castor/client/<client id>/reply`.
  std::string reply_topic;
};

/// An error answer of the server (`{"ok": false, "error": {code,
/// message}}`), a refused SUBSCRIBE/PUBLISH (code `REFUSED`, the reason
/// code in the message), or a client-side failure: `TIMEOUT`,
/// `CONNECTION_LOST` (the connection closed before the answer),
/// `DISCONNECTED` (the client was disconnected), `QUEUE_FULL` (64 MiB
/// wait to be written, or 100,000 operations wait for a reconnect),
/// `PROTOCOL_ERROR`.
class error : public std::runtime_error {
public:
  error(std::string code, std::string message)
    : std::runtime_error(code + ": " + message),
      code_(std::move(code)),
      message_(std::move(message)) {
  }
  const std::string& code() const noexcept {
    return code_;
  }
  const std::string& message() const noexcept {
    return message_;
  }

private:
  std::string code_;
  std::string message_;
};

/// connect() failed: no TCP/TLS connection, a timeout, or a CONNACK that
/// refused (then `reason` is its reason code, else 0).
class connection_error : public std::runtime_error {
public:
  connection_error(const std::string& what, uint8_t reason = 0)
    : std::runtime_error(what), reason_(reason) {
  }
  uint8_t reason() const noexcept {
    return reason_;
  }

private:
  uint8_t reason_;
};

/// An MQTT application message.
struct message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  std::optional<std::string> content_type;
  /// 1: the payload is UTF-8 text (JSON values carry it).
  std::optional<uint8_t> payload_format_indicator;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;
  std::vector<std::pair<std::string, std::string>> user_properties;
  /// The first user property of that name, if any.
  std::optional<std::string> user_property(const std::string& name) const;
};

/// A topic's whole value as a value stream keeps it.
struct value {
  std::string payload;      ///< the bytes
  std::string content_type; ///< as the server sent it ("" if none)
  bool is_json = false;     ///< JSON (then `data` holds it)
  json data;
  bool from_delta = false;  ///< made by applying a delta the server sent
};

using message_callback = std::function<void(const message&)>;
/// `old_value` is empty for the first value of a topic on the stream.
using value_callback = std::function<void(
    const std::string& path, const std::optional<value>& old_value,
    const value& new_value)>;
/// A handler's answer: a payload, or throw castor::error to answer with
/// that error (`castor-error` user property and `{"ok": false, ...}`).
using request_handler = std::function<std::string(const message& request)>;

/// What a missing-topic handler is told: the selector (MQTT filter or
/// topic selector) that selected nothing, the requester's session id, the
/// operation (`subscribe` or `fetch`) and the literal prefix it starts
/// from; `answer(proceed)` ends the request.
struct missing_topic_request {
  std::string selector;
  std::string session;
  std::string operation;
  std::string prefix;
  std::function<void(bool proceed)> answer;
};
using missing_topic_callback = std::function<void(const missing_topic_request&)>;

enum class connection_state { connected, disconnected };
using state_callback = std::function<void(connection_state, const std::string& why)>;

using subscription_id = uint32_t;

/// topics/notify events: `event` is `selected`, `added`, `removed` or
/// `deselected`; `path` the topic's.
using notify_callback = std::function<void(const std::string& event, const std::string& path)>;

class client {
public:
  client();
  ~client(); ///< disconnects
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Connects and waits for the server's CONNACK; throws connection_error.
  /// Later losses of the connection reconnect in the background (see
  /// reconnect_options) and resume the session.
  void connect(const connect_options& options);
  /// Sends DISCONNECT, closes, stops reconnecting; fails what is pending
  /// with `DISCONNECTED`. Idempotent.
  void disconnect();
  bool connected() const;
  /// The client identifier in use (call after connect() returned).
  const std::string& client_id() const;
  /// Called on every connect and loss of connection.
  void on_state(state_callback cb);

  // --- the API ---------------------------------------------------------
  /// Sends `body` to `$castor/api/<operation>`; the future has the answer
  /// (`{"ok": true, ...}`) or throws castor::error.
  std::future<json> request(const std::string& operation, const json& body);

  std::future<json> add_topic(const std::string& path, const json& spec);
  std::future<json> remove_topics(const std::string& selector);
  std::future<json> fetch(const std::string& selector, bool values = true);
  std::future<json> update(const std::string& path, const json& value,
                           const std::optional<json>& constraint = {});
  std::future<json> patch(const std::string& path, const json& patch,
                          const std::optional<json>& constraint = {});
  std::future<json> ts_append(const std::string& path, const json& value);
  std::future<json> ts_edit(const std::string& path, uint64_t original,
                            const json& value);
  /// `range` holds the optional fields of timeseries/range (view, from,
  /// to, limit).
  std::future<json> ts_range(const std::string& path, const json& range = json::object());
  std::future<json> lock(const std::string& name, uint32_t wait_ms = 10000);
  std::future<json> unlock(const std::string& name);

  // --- MQTT ------------------------------------------------------------
  /// Subscribes (QoS 1); the future throws castor::error `REFUSED` if the
  /// SUBACK refuses. Subscriptions are made again when a reconnect finds
  /// no session.
  std::future<subscription_id> subscribe(const std::string& filter, message_callback cb);
  /// Follows the topics `filter` matches by `$delta/<filter>`, keeping each
  /// topic's value and applying JSON Patch and binary deltas, so `cb` sees
  /// whole values.
  std::future<subscription_id> subscribe_values(const std::string& filter,
                                                value_callback cb);
  std::future<void> unsubscribe(subscription_id id);
  /// QoS 0: done when queued; QoS 1 (also for 2): when acknowledged (a
  /// refusal throws castor::error `REFUSED`).
  std::future<void> publish(message msg);

  // --- request-response between clients ------------------------------------
  /// Publishes `payload` to `path` with a response topic and correlation
  /// data; the future has the answer, or throws castor::error (an answer
  /// with a `castor-error` user property, or a timeout).
  std::future<message> send_request(const std::string& path, std::string payload,
                                    std::optional<std::string> content_type = {});
  /// Registers with `handlers/add` and answers each request to `path`
  /// with what `cb` returns (on the I/O thread).
  std::future<json> add_handler(const std::string& path, request_handler cb);
  std::future<json> remove_handler(const std::string& path);

  // --- missing-topic handlers (docs/platform.md) ----------------------------
  /// Registers with `handlers/missing-topic`: `cb` is called (on the I/O
  /// thread) when a subscription or fetch selects no topic under `path`; it
  /// may create the topic (from another thread: this client's futures
  /// complete on the I/O thread) and then calls the request's `answer`
  /// once, from any thread (`proceed` false: a fetch does not look again).
  std::future<json> add_missing_topic_handler(const std::string& path,
                                              missing_topic_callback cb);
  std::future<json> remove_missing_topic_handler(const std::string& path);

  // --- requests to sessions (docs/platform.md, "Requests to sessions") ------
  // (client_sessions_messaging.cpp)
  /// Sets a request stream on `path` (`streams/add`): requests sent to this
  /// client's session for `path` or a path below it are answered with what
  /// `cb` returns (on the I/O thread; throw castor::error to answer with
  /// an error). The stream is set again after every reconnect.
  std::future<json> add_request_stream(const std::string& path, request_handler cb);
  std::future<json> remove_request_stream(const std::string& path);
  /// `messages/send-to-session`: the answer is `{"ok": true, "answer": ...}`
  /// (the session's answer, JSON when it parses, else a string).
  std::future<json> send_to_session(const std::string& session, const std::string& path,
                                    const json& value);
  /// `messages/send-to-filter`: to every connected session the session
  /// filter selects that has a stream for `path`; the answer is
  /// `{"ok": true, "sent": N, "answers": [{"session", "answer" or "error"}]}`.
  std::future<json> send_to_filter(const std::string& filter, const std::string& path,
                                   const json& value);

  // --- selectors, notifications, session administration ----------------
  /// topics/subscribe: the session subscribes by topic selector (richer
  /// than MQTT filters); `cb` gets its messages, whole values or, with
  /// `delta`, values kept as subscribe_values() keeps them (then `cb` is
  /// called with whole values through `on_value`). Messages that carry no
  /// subscription identifier and that no MQTT subscription of this client
  /// matches go to the selector subscriptions (docs/sdk.md). The answer is
  /// `{"ok": true, "qos": N}`; an error answer drops the subscription.
  std::future<json> subscribe_selector(const std::string& selector, message_callback cb,
                                       uint8_t qos = 1);
  std::future<json> subscribe_selector_values(const std::string& selector,
                                              value_callback cb, uint8_t qos = 1);
  /// topics/unsubscribe (`delta`: the value form's subscription).
  std::future<json> unsubscribe_selector(const std::string& selector, bool delta = false);
  /// topics/notify: `cb` is told of the topics the selector selects
  /// (selected, added, removed, deselected); the answer counts the
  /// selected ones. Made again on each new connection.
  std::future<json> notify(const std::string& selector, notify_callback cb);
  /// topics/unnotify: ends the selection (its `deselected` events come
  /// before the answer).
  std::future<json> unnotify(const std::string& selector);
  /// sessions/list, sessions/get, sessions/set-properties, sessions/close,
  /// sessions/subscribe, sessions/unsubscribe (docs/platform.md, "Sessions").
  std::future<json> list_sessions(const std::string& filter = "all",
                                  const json& paging = json::object());
  std::future<json> get_session(const std::string& session);
  std::future<json> set_session_properties(const std::string& session,
                                           const json& properties);
  std::future<json> close_session(const std::string& session);
  std::future<json> close_sessions(const std::string& filter);
  std::future<json> subscribe_session(const std::string& session,
                                      const std::string& selector, uint8_t qos = 1,
                                      bool delta = false);
  std::future<json> unsubscribe_session(const std::string& session,
                                        const std::string& selector, bool delta = false);
  /// sessions/change-roles: the connected session gains `add` and loses
  /// `remove`; the answer's `roles` are its roles now.
  std::future<json> change_roles(const std::string& session,
                                 const std::vector<std::string>& add,
                                 const std::vector<std::string>& remove = {});
  /// messages/send: `value` (as JSON text) to the handler of `path`; the
  /// answer's `answer` is the handler's payload (JSON if it parses).
  std::future<json> send_message(const std::string& path, const json& value);
  // ---------------------------------------------------------------------

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

/// Sends the successive values of one JSON topic as cheaply as it can:
/// keeps the last value sent and sends topics/patch with the JSON Patch
/// from it (nlohmann::json::diff) when that is smaller than the whole
/// value, else topics/update. After a failed set() (or reset()) the next
/// one sends the whole value. Not thread safe: one writer.
class update_stream {
public:
  update_stream(client& c, std::string path) : c_(c), path_(std::move(path)) {
  }
  /// The answer of the update or patch.
  std::shared_future<json> set(const json& v);
  /// Forgets the last value: the next set() sends topics/update.
  void reset() {
    last_.reset();
  }
  const std::string& path() const {
    return path_;
  }
  uint64_t patches() const {
    return patches_;
  }
  uint64_t updates() const {
    return updates_;
  }

private:
  client& c_;
  std::string path_;
  std::optional<json> last_;
  std::shared_future<json> prev_;
  uint64_t patches_ = 0;
  uint64_t updates_ = 0;
};

} // namespace castor
