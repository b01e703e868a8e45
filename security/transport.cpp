#include "security/transport.hpp"

namespace castor::security {

const char* to_string(transport_kind kind) noexcept {
  switch (kind) {
  case transport_kind::tcp:
    return "tcp";
  case transport_kind::tls:
    return "tls";
  case transport_kind::ws:
    return "ws";
  case transport_kind::wss:
    return "wss";
  case transport_kind::http:
    return "http";
  case transport_kind::https:
    return "https";
  }
  return "?";
}

std::optional<transport_kind> transport_kind_of(std::string_view name) {
  for (auto k : {transport_kind::tcp, transport_kind::tls, transport_kind::ws,
                 transport_kind::wss, transport_kind::http,
                 transport_kind::https})
    if (name == to_string(k))
      return k;
  return std::nullopt;
}

transport::transport(const transport_options& opts) : opts_(opts) {
  if (uses_tls(opts_.kind) && opts_.tls)
    tls_ = std::make_unique<tls_session>(*opts_.tls);
  if (uses_websocket(opts_.kind)) {
    handshake_ = std::make_unique<ws_handshake>(opts_.handshake);
    ws_ = std::make_unique<ws_session>(opts_.websocket);
  }
}

transport::~transport() = default;

void transport::fail(transport_input& out, std::string why) {
  closed_ = true;
  out.closed = true;
  if (out.error.empty())
    out.error = std::move(why);
}

void transport::to_socket(std::string_view bytes, std::string& out) {
  if (bytes.empty())
    return;
  if (tls_)
    out += tls_->write_plaintext(bytes);
  else
    out.append(bytes.data(), bytes.size());
}

void transport::read(std::string_view bytes, transport_input& out) {
  out.clear();
  if (closed_) {
    out.closed = true;
    return;
  }
  if (uses_tls(opts_.kind) && !tls_)
    return fail(out, "no TLS context for this listener");
  std::string plaintext;
  bool tls_closed = false;
  if (tls_) {
    auto r = tls_->feed_ciphertext(bytes);
    out.to_send = std::move(r.ciphertext);
    if (!r.ok())
      return fail(out, std::move(r.error));
    plaintext = std::move(r.plaintext);
    tls_closed = r.peer_closed;
    bytes = plaintext;
  }
  if (ws_) {
    from_websocket(bytes, out);
  } else if (tls_) {
    out.data = std::move(plaintext);
  } else {
    out.data.assign(bytes.data(), bytes.size());
  }
  if (tls_closed && !closed_) {
    // close_notify from the client: answer it, then close.
    out.to_send += tls_->close();
    fail(out, {});
  }
}

void transport::from_websocket(std::string_view bytes, transport_input& out) {
  std::string remainder;
  if (!upgraded_) {
    if (bytes.empty())
      return;
    if (http_busy_) {
      // Pipelined: parsed once the current request has been answered.
      if (http_pending_.size() + bytes.size()
          > opts_.handshake.max_request_size + opts_.handshake.max_body_size)
        return fail(out, "too many bytes pipelined behind an HTTP request");
      http_pending_.append(bytes.data(), bytes.size());
      return;
    }
    auto r = handshake_->feed(bytes);
    switch (r.status) {
    case ws_handshake_status::need_more:
      return;
    case ws_handshake_status::request:
      http_busy_ = true;
      http_pending_ = std::move(r.remainder);
      out.http = std::move(r.request);
      return;
    case ws_handshake_status::rejected:
      to_socket(r.response, out.to_send);
      if (tls_)
        out.to_send += tls_->close();
    {
      // The path is the client's: shortened for the log.
      std::string what = "the request";
      if (!r.path.empty())
        what = "'" + r.path.substr(0, 64) + (r.path.size() > 64 ? "...'" : "'");
      return fail(out, "HTTP " + std::to_string(r.http_status) + " for "
                           + what + ": " + r.reason);
    }
    case ws_handshake_status::upgraded:
      break;
    }
    to_socket(r.response, out.to_send);
    upgraded_ = true;
    subprotocol_ = std::move(r.subprotocol);
    handshake_.reset();
    remainder = std::move(r.remainder);
    bytes = remainder;
  }
  if (bytes.empty())
    return;
  auto r = ws_->feed(bytes);
  if (out.data.empty())
    out.data = std::move(r.data);
  else
    out.data += r.data;
  to_socket(r.to_send, out.to_send);
  if (r.finished) {
    if (tls_)
      out.to_send += tls_->close();
    fail(out, std::move(r.error));
  }
}

void transport::write(std::string_view mqtt, std::string& out) {
  if (closed_ || mqtt.empty())
    return;
  if (ws_) {
    if (!upgraded_)
      return;
    to_socket(ws_->send_binary(mqtt), out);
    return;
  }
  to_socket(mqtt, out);
}

void transport::respond(const http::response& r, bool head_only,
                        bool keep_alive, std::string& out) {
  if (closed_ || !http_busy_)
    return;
  to_socket(http::serialize(r, keep_alive, head_only), out);
  http_busy_ = false;
  ++http_answered_;
  if (!keep_alive) {
    if (tls_ && tls_->handshake_done())
      out += tls_->close();
    closed_ = true;
    return;
  }
  handshake_ = std::make_unique<ws_handshake>(opts_.handshake);
}

void transport::resume(transport_input& out) {
  out.clear();
  if (closed_ || http_busy_ || http_pending_.empty())
    return;
  std::string bytes = std::move(http_pending_);
  http_pending_.clear();
  from_websocket(bytes, out);
}

std::string transport::close() {
  std::string out;
  if (closed_)
    return out;
  closed_ = true;
  if (ws_ && upgraded_ && !ws_->close_sent())
    to_socket(ws_->close(ws_close::normal), out);
  if (tls_ && tls_->handshake_done())
    out += tls_->close();
  return out;
}

bool transport::established() const noexcept {
  return pending_stage() == nullptr;
}

const char* transport::pending_stage() const noexcept {
  if (uses_tls(opts_.kind) && !(tls_ && tls_->handshake_done()))
    return "TLS handshake";
  if (ws_ && !upgraded_)
    return "WebSocket upgrade";
  return nullptr;
}

const peer_identity* transport::peer() const noexcept {
  if (tls_ && tls_->handshake_done())
    return &tls_->peer();
  return nullptr;
}

std::string transport::tls_description() const {
  if (!tls_ || !tls_->handshake_done())
    return {};
  return tls_->protocol_version() + " " + tls_->cipher();
}

} // namespace castor::security
