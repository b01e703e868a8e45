#pragma once

// The byte transport of one connection, without I/O: the layers between the
// socket and the MQTT stream for a listener of kind tcp, tls, ws or wss.
//
//   socket bytes --read()--> [TLS] --> [HTTP upgrade, then WebSocket] --> MQTT
//   MQTT bytes --write()--> [WebSocket binary frame] --> [TLS] --> socket
//
// TLS lies below WebSocket (wss). read() also returns what has to go back
// to the socket on its own: TLS handshake records and alerts, the HTTP 101
// answer or an HTTP error, pongs and close frames. Plain TCP has no layers;
// a connection on a tcp listener does not need a transport at all.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "security/tls_session.hpp"
#include "security/websocket.hpp"

namespace castor::security {

/// http and https are ws and wss that also answer ordinary HTTP requests
/// (metrics, health, the REST API and the console) besides the WebSocket
/// upgrade for MQTT.
enum class transport_kind : uint8_t { tcp, tls, ws, wss, http, https };

/// "tcp", "tls", "ws", "wss", "http" or "https".
const char* to_string(transport_kind kind) noexcept;

/// The kind for a name as in the configuration; nothing for other names.
std::optional<transport_kind> transport_kind_of(std::string_view name);

constexpr bool uses_tls(transport_kind k) noexcept {
  return k == transport_kind::tls || k == transport_kind::wss
         || k == transport_kind::https;
}

constexpr bool uses_websocket(transport_kind k) noexcept {
  return k == transport_kind::ws || k == transport_kind::wss
         || k == transport_kind::http || k == transport_kind::https;
}

constexpr bool serves_http(transport_kind k) noexcept {
  return k == transport_kind::http || k == transport_kind::https;
}

/// What every connection of a listener shares.
struct transport_options {
  transport_kind kind = transport_kind::tcp;
  /// The listener's server context; required for tls and wss.
  std::shared_ptr<const tls_context> tls;
  ws_handshake_options handshake;
  ws_session_options websocket;
};

/// What one read produced.
struct transport_input {
  std::string data;    ///< MQTT stream bytes, in order
  std::string to_send; ///< socket bytes to write now, before anything else
  /// The connection is finished: write `to_send`, then close the socket.
  bool closed = false;
  /// Why it was closed when the peer broke a protocol or a limit (for the
  /// log; never holds secrets). Empty for an orderly close by the peer.
  std::string error;
  /// An ordinary HTTP request (http and https listeners): answer it with
  /// transport::respond(); until then the transport reads no further.
  std::optional<http::request> http;

  void clear() {
    data.clear();
    to_send.clear();
    closed = false;
    error.clear();
    http.reset();
  }
};

/// The layers of one connection.
class transport {
public:
  /// `opts` must outlive the transport (it is the listener's).
  explicit transport(const transport_options& opts);
  ~transport();

  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Processes bytes read from the socket (any split). `out` is cleared
  /// first. Once closed, every further call reports closed with nothing
  /// else.
  void read(std::string_view bytes, transport_input& out);

  /// Appends the socket bytes for MQTT bytes `mqtt` to `out` (one binary
  /// frame on WebSocket, then TLS records). Nothing is written before the
  /// WebSocket upgrade or after the transport closed; before the TLS
  /// handshake has finished the bytes are kept and sent once it has.
  void write(std::string_view mqtt, std::string& out);

  /// Answers the HTTP request that read() returned: appends the response's
  /// socket bytes to `out`. With `keep_alive` the next request may follow
  /// (call resume() to parse what arrived meanwhile); without, the
  /// transport is closed after the response (TLS close_notify included).
  void respond(const http::response& r, bool head_only, bool keep_alive,
               std::string& out);

  /// Parses what arrived while a request was being answered.
  void resume(transport_input& out);

  /// A request is being answered.
  bool http_busy() const noexcept {
    return http_busy_;
  }

  /// HTTP requests answered so far.
  uint64_t http_answered() const noexcept {
    return http_answered_;
  }

  /// An orderly close from our side: a WebSocket close frame (1000) and a
  /// TLS close_notify, as far as they apply. Empty when the transport is
  /// already closed or never got that far. The transport is closed after.
  std::string close();

  /// Every layer is up: the TLS handshake has finished and the WebSocket
  /// upgrade has been answered with 101.
  bool established() const noexcept;

  bool closed() const noexcept {
    return closed_;
  }

  /// What is still missing before MQTT bytes can flow ("TLS handshake",
  /// "WebSocket upgrade"), or nullptr when established.
  const char* pending_stage() const noexcept;

  /// The client's certificate once the TLS handshake has finished; nullptr
  /// before that and without TLS.
  const peer_identity* peer() const noexcept;

  /// "TLSv1.3 TLS_AES_256_GCM_SHA384" after the handshake, "" otherwise.
  std::string tls_description() const;

  /// The WebSocket subprotocol agreed ("" for none or before the upgrade).
  const std::string& subprotocol() const noexcept {
    return subprotocol_;
  }

  transport_kind kind() const noexcept {
    return opts_.kind;
  }

private:
  void from_websocket(std::string_view bytes, transport_input& out);
  void to_socket(std::string_view bytes, std::string& out);
  void fail(transport_input& out, std::string why);

  const transport_options& opts_;
  std::unique_ptr<tls_session> tls_;
  std::unique_ptr<ws_handshake> handshake_;
  std::unique_ptr<ws_session> ws_;
  std::string subprotocol_;
  bool upgraded_ = false;
  bool closed_ = false;
  bool http_busy_ = false;
  uint64_t http_answered_ = 0;
  std::string http_pending_; ///< plaintext read while http_busy_
};

} // namespace castor::security
