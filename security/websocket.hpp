#pragma once

// Server side WebSocket (RFC 6455) for MQTT over WebSocket, without I/O:
//
//  - ws_handshake parses the HTTP/1.1 upgrade request (with http-parser)
//    and produces the 101 answer, or an HTTP error response.
//  - ws_session decodes and encodes frames: feed it any split
//    of the bytes read from the socket and get the application bytes (the
//    MQTT stream: packets may span frames and frames may hold several
//    packets), the control frames received, the bytes to write (pong,
//    close) and whether the connection is finished.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "security/http_message.hpp"

namespace castor::security {

// -- HTTP upgrade
// ---------------------------------------------------------------

struct ws_handshake_options {
  /// The request path that upgrades (query string ignored).
  std::string path = "/mqtt";
  /// Subprotocols accepted, in order of preference. A client offering none
  /// of them is refused with 400 (as EMQX does).
  std::vector<std::string> subprotocols{"mqtt", "mqttv3.1"};
  /// Refuse clients that offer no subprotocol at all (EMQX's
  /// fail_if_no_subprotocol); by default they are accepted and answered
  /// without a Sec-WebSocket-Protocol header.
  bool require_subprotocol = false;
  /// Upper bound on the request head, in bytes; larger gets 431.
  size_t max_request_size = 8192;
  /// Listeners of transport http and https: a request for another path
  /// than `path` (or one that is not an upgrade) is an ordinary HTTP
  /// request, returned whole with its body for the HTTP router to answer.
  bool serve_http = false;
  /// Upper bound on such a request's body, in bytes; larger gets 413.
  size_t max_body_size = 1048576;
};

enum class ws_handshake_status : uint8_t {
  need_more, ///< the request head is incomplete
  upgraded,  ///< send `response`, then speak WebSocket
  rejected,  ///< send `response`, then close the connection
  request,   ///< an ordinary HTTP request (serve_http): `request` holds it
};

struct ws_handshake_result {
  ws_handshake_status status = ws_handshake_status::need_more;
  std::string response;    ///< the HTTP response to send
  int http_status = 0;     ///< 101, 400, 404, 405, 426 or 431
  std::string reason;      ///< why a request was rejected (for the log)
  std::string subprotocol; ///< the subprotocol agreed ("" for none)
  std::string remainder;   ///< bytes after the request (first frames)
  std::string path; ///< the request path (query string removed; empty when
                    ///< the request was refused before its head ended)
  http::request request; ///< status request only: the whole request
};

/// Incremental parser of one upgrade request.
class ws_handshake {
public:
  explicit ws_handshake(ws_handshake_options opts = {});
  ~ws_handshake();

  ws_handshake(const ws_handshake&) = delete;
  ws_handshake& operator=(const ws_handshake&) = delete;

  /// Feeds bytes read from the socket. Once a result other than need_more
  /// has been returned, the handshake is over and further calls return it
  /// again with an empty remainder.
  ws_handshake_result feed(std::string_view bytes);

  /// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
  static std::string accept_key(std::string_view key);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// -- frames -------------------------------------------------------------------

/// RFC 6455 section 7.4.1 status codes used here.
namespace ws_close {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t unsupported_data = 1003;
constexpr uint16_t no_status = 1005;
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t policy_violation = 1008;
constexpr uint16_t message_too_big = 1009;
constexpr uint16_t internal_error = 1011;
} // namespace ws_close

struct ws_session_options {
  /// Largest message (the sum of its fragments) a client may send, in
  /// bytes; beyond it the connection is closed with 1009.
  uint64_t max_message_size = 1048576 + 1024;
};

/// A control frame received from the client.
struct ws_control {
  enum kind_t : uint8_t { ping, pong, close } kind = ping;
  std::string payload; ///< ping/pong payload, or the close reason
  uint16_t code = 0;   ///< close only: the status code (1005 when absent)
};

struct ws_result {
  std::string data;                 ///< application bytes, in order
  std::vector<ws_control> controls; ///< control frames, in order
  std::string to_send;              ///< frames to write (pong, close)
  /// The connection is finished: write `to_send`, then close the socket.
  bool finished = false;
  /// Non-empty when the client broke the protocol (a close frame with the
  /// matching status code is in `to_send`).
  std::string error;
  uint16_t close_code = 0; ///< the status code sent, when a close was sent
};

/// One WebSocket connection after the upgrade (server role).
class ws_session {
public:
  explicit ws_session(ws_session_options opts = {});
  ~ws_session();

  ws_session(const ws_session&) = delete;
  ws_session& operator=(const ws_session&) = delete;

  /// Decodes bytes read from the socket (any split).
  ws_result feed(std::string_view bytes);

  /// Encodes `payload` as one binary frame. Empty after a close was sent.
  std::string send_binary(std::string_view payload);

  /// Encodes a ping.
  std::string send_ping(std::string_view payload = {});

  /// Starts the close handshake with `code` and `reason` (at most 123
  /// bytes of UTF-8). The client's close answer then arrives via feed(),
  /// which reports finished.
  std::string close(uint16_t code = ws_close::normal,
                    std::string_view reason = {});

  bool close_sent() const noexcept;
  bool close_received() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace castor::security
