#pragma once

// The state behind castor::client. Everything but the atomics is touched
// only on the client's I/O thread (public calls post to it).

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "castor/client.hpp"
#include "protocol/codec.hpp"
#include "protocol/packet.hpp"

namespace castor {

using clock_type = std::chrono::steady_clock;
using ssl_stream = asio::ssl::stream<asio::ip::tcp::socket>;

struct client::impl : std::enable_shared_from_this<client::impl> {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<asio::ssl::context> ssl_ctx;
  std::shared_ptr<ssl_stream> stream;
  asio::ip::tcp::resolver resolver{io};
  asio::steady_timer keepalive_timer{io};
  asio::steady_timer reconnect_timer{io};
  asio::steady_timer connect_timer{io};
  asio::steady_timer sweep_timer{io};

  connect_options opts;
  std::string cid;
  std::string reply_topic;
  mqtt::frame_parser parser;
  std::array<char, 65536> rbuf{};
  std::deque<std::string> wq;
  size_t queued_bytes = 0; ///< in wq
  bool writing = false;
  /// Bounds of what waits: bytes not yet written, operations waiting for
  /// a reconnect. Beyond them operations fail with QUEUE_FULL.
  static constexpr size_t max_queued_bytes = 64u << 20;
  static constexpr size_t max_deferred = 100000;
  bool full() const {
    return queued_bytes > max_queued_bytes || deferred.size() >= max_deferred;
  }
  uint64_t generation = 0; ///< connection attempts; stale handlers compare
  std::atomic<bool> up{false};
  bool started = false;  ///< connect() was called and disconnect() not yet
  bool stopping = false;
  bool ever_up = false;
  int attempts = 0; ///< failed attempts since the last connection
  clock_type::time_point last_rx;
  std::shared_ptr<std::promise<void>> first_connect;

  uint16_t next_pid = 1;
  uint64_t next_corr = 1;

  struct pending_api {
    std::promise<json> promise;
    clock_type::time_point deadline;
    bool sent = false; ///< written (a lost connection fails it then)
    /// Called with the server's answer (true: ok) before the promise is
    /// set; not on a local failure (lost, timeout).
    std::function<void(bool)> on_answer;
  };
  struct pending_msg {
    std::promise<message> promise;
    clock_type::time_point deadline;
    bool sent = false;
  };
  std::map<std::string, pending_api> api;
  std::map<std::string, pending_msg> msg_requests;
  /// PUBACK, SUBACK, UNSUBACK by packet id: called with the (first) reason
  /// code, or with nullopt when the connection is lost first.
  std::map<uint16_t, std::function<void(std::optional<mqtt::reason_code>)>> acks;
  std::set<uint16_t> qos2_in; ///< QoS 2 packet ids received, not released
  /// Runs once connected (operations started while reconnecting).
  std::vector<std::function<void()>> deferred;

  /// A value stream's topic: its value and the one before, in two slots
  /// that take turns, so that neither is copied per value. A JSON Patch
  /// turns the older slot into the new value (the patch that made the
  /// current value from it, then the new one, both in place), and the
  /// callback gets the untouched current one as the old value.
  struct kept_value {
    std::optional<value> slot[2];
    int cur = 0; ///< slot[cur] is the value; slot[1 - cur] the one before
    /// The patch that made slot[cur] from slot[1 - cur] (none: it came
    /// whole or from a binary delta; the next patch then starts from a copy).
    std::optional<json> last_patch;
  };
  struct sub {
    std::string filter; ///< as subscribed ($delta/... for value streams)
    bool values = false;
    message_callback on_message;
    value_callback on_value;
    std::map<std::string, kept_value> kept; ///< value streams: path -> value
    /// A subscription by selector (topics/subscribe; made again with it on
    /// a new session): `filter` is then the selector.
    bool by_selector = false;
    uint8_t qos = 1;
  };
  std::map<subscription_id, sub> subs;
  subscription_id next_sub = 1;
  std::map<std::string, request_handler> handlers;
  /// Missing-topic handlers by path (client_missing.cpp).
  std::map<std::string, missing_topic_callback> missing_handlers;
  bool reply_subscribed = false;
  bool delivering_dup = false; ///< the PUBLISH being delivered is a retransmission
  bool sweeping = false;
  bool closing = false; ///< disconnect(): close once DISCONNECT is written
  std::vector<std::shared_ptr<std::promise<void>>> closed_waiters;
  state_callback on_state;

  // topics/notify selections (client_admin.cpp): correlation data -> the
  // selection; made again on each new connection.
  struct selection {
    std::string selector;
    notify_callback cb;
    bool made = false; ///< answered ok (then made again on reconnects)
  };
  std::map<std::string, selection> selections;
  bool notify_event(const std::string& corr, const message& m);
  void renotify();
  void prune_selections();
  /// api_request() with the given correlation data, on the I/O thread.
  std::future<json> api_request_as(const std::string& operation, json body,
                                   const std::string& corr);
  /// Puts the request in `api` (its answer goes to `pr`) and sends it when
  /// connected; on the I/O thread.
  void start_api_request(std::promise<json> pr, const std::string& operation,
                         json body, const std::string& c);
  /// Delivers a message no subscription identifier or MQTT filter
  /// claimed to the selector subscriptions; false if there is none.
  bool deliver_to_selectors(const message& m);

  // WebSocket transport (client_websocket.cpp)
  bool websocket() const {
    return opts.transport == transport_kind::websocket;
  }
  std::string ws_key;    ///< this attempt's Sec-WebSocket-Key
  std::string http_in;   ///< the upgrade answer read so far
  std::string ws_in;     ///< frame bytes not yet parsed
  std::string ws_message; ///< a fragmented message's payload so far
  void ws_upgrade(uint64_t gen);
  void ws_read_head(uint64_t gen);
  /// Parses frames; appends MQTT bytes to `out`; false (and lost()) on an
  /// error or a close frame.
  bool ws_feed(std::string_view in, std::string& out);
  std::string ws_frame(uint8_t opcode, std::string_view payload) const;
  // Reads and writes on the TCP or TLS layer.
  template <class Buffer, class Handler>
  void raw_write(const Buffer& b, Handler&& h) {
    if (opts.tls.enabled)
      asio::async_write(*stream, b, std::forward<Handler>(h));
    else
      asio::async_write(stream->next_layer(), b, std::forward<Handler>(h));
  }
  template <class Buffer, class Handler>
  void raw_read_some(const Buffer& b, Handler&& h) {
    if (opts.tls.enabled)
      stream->async_read_some(b, std::forward<Handler>(h));
    else
      stream->next_layer().async_read_some(b, std::forward<Handler>(h));
  }
  /// MQTT bytes received (after WebSocket framing): parses and handles.
  void on_bytes(uint64_t gen, std::string_view in);

  impl();
  ~impl();

  // connection (client_connection.cpp)
  void start_attempt();
  void on_connected(uint64_t gen);
  void read_loop(uint64_t gen);
  void handle(mqtt::packet&& p);
  void lost(const std::string& why);
  void close_stream();
  void schedule_reconnect();
  void send(const mqtt::packet& p);
  void write_next();
  void keepalive(uint64_t gen);
  void sweep();
  uint16_t pid();
  /// Runs `f` now if connected, later if reconnecting; false if the client
  /// is disconnected or too much waits (the caller fails its operation
  /// with not_sent()).
  bool when_up(std::function<void()> f);
  void on_up(bool session_present);
  /// Why when_up() refused: QUEUE_FULL or DISCONNECTED.
  std::exception_ptr not_sent() const;

  // messages and API (client_api.cpp)
  std::string corr();
  void on_publish(mqtt::publish&& p);
  void deliver(sub& s, subscription_id id, const message& m);
  void send_subscribe(subscription_id id,
                      std::function<void(std::optional<mqtt::reason_code>)> done);
  std::future<json> api_request(const std::string& operation, json body);
  void finish_disconnect(const std::string& why);
  void fail_all(const std::string& code, const std::string& why, bool only_sent);
  void ensure_reply_subscription(std::function<void(bool)> done);

  // missing-topic handlers (client_missing.cpp)
  /// True if `m` was a missing-topic request (handed to its handler).
  bool serve_missing(const message& m);
  // requests to sessions (client_sessions_messaging.cpp)
  /// The request streams: path -> what answers requests below it.
  std::map<std::string, request_handler> request_streams;
  /// The callback of the stream with the longest path that is `topic` or a
  /// prefix of it by levels; null if none.
  const request_handler* stream_for(const std::string& topic) const;
  /// Runs `h` for the request `m` and publishes its answer (or error) to
  /// the request's response topic.
  void answer_request(const request_handler& h, const message& m);
  /// After a (re)connect: sets the request streams again.
  void restore_streams();
};

message to_message(mqtt::publish&& p);
bool topic_matches(const std::string& filter, const std::string& topic);

} // namespace castor
