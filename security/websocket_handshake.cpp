#include "security/websocket.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <http_parser.h>

#include "security/crypto.hpp"

namespace castor::security {

namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The comma-separated tokens of a header value, trimmed, empty ones dropped.
std::vector<std::string_view> tokens(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto tok = trim(value.substr(0, comma));
    if (!tok.empty())
      out.push_back(tok);
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool has_token(std::string_view value, std::string_view token) {
  for (auto t : tokens(value))
    if (iequals(t, token))
      return true;
  return false;
}

std::string response(int status, std::string_view phrase,
                     std::string_view extra_headers, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += phrase;
  out += "\r\n";
  out += extra_headers;
  out += "Content-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(body.size() + 1);
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  out += '\n';
  return out;
}

} // namespace

struct ws_handshake::impl {
  ws_handshake_options opts;
  http_parser parser{};
  http_parser_settings settings{};
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  bool in_value = false;
  bool headers_done = false;
  bool message_done = false;
  bool body_too_large = false;
  std::string body;
  size_t seen = 0; // bytes fed so far
  std::optional<ws_handshake_result> final;

  static impl& self(http_parser* p) {
    return *static_cast<impl*>(p->data);
  }

  static int on_url(http_parser* p, const char* at, size_t len) {
    self(p).url.append(at, len);
    return 0;
  }

  static int on_field(http_parser* p, const char* at, size_t len) {
    auto& s = self(p);
    if (s.in_value || s.headers.empty()) {
      s.headers.emplace_back();
      s.in_value = false;
    }
    s.headers.back().first.append(at, len);
    return 0;
  }

  static int on_value(http_parser* p, const char* at, size_t len) {
    auto& s = self(p);
    s.in_value = true;
    if (s.headers.empty())
      s.headers.emplace_back();
    s.headers.back().second.append(at, len);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    self(p).headers_done = true;
    return 0;
  }

  static int on_body(http_parser* p, const char* at, size_t len) {
    auto& s = self(p);
    if (s.body.size() + len > s.opts.max_body_size) {
      s.body_too_large = true;
      return 1;
    }
    s.body.append(at, len);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    // Stop here: whatever follows is not part of this request.
    self(p).message_done = true;
    http_parser_pause(p, 1);
    return 0;
  }

  /// A WebSocket upgrade for the MQTT path; anything else is an ordinary
  /// request when serving HTTP.
  bool is_upgrade() const {
    if (!opts.serve_http)
      return true;
    auto path = std::string_view{url}.substr(0, url.find('?'));
    if (path != opts.path)
      return false;
    auto upgrade = header("Upgrade");
    return upgrade.has_value() || !opts.serve_http;
  }

  ws_handshake_result http_request() {
    ws_handshake_result r;
    auto target = std::string_view{url};
    auto q = target.find('?');
    std::string path;
    if (!http::percent_decode(target.substr(0, q), path))
      return reject(400, "Bad Request", "malformed percent escape in the path");
    r.status = ws_handshake_status::request;
    r.path = path;
    auto& req = r.request;
    req.method = http_method_str(static_cast<http_method>(parser.method));
    req.path = std::move(path);
    if (q != std::string_view::npos)
      req.query = std::string(target.substr(q + 1));
    req.headers.reserve(headers.size());
    for (auto& [k, v] : headers) {
      std::string name;
      name.reserve(k.size());
      for (char c : k)
        name += lower(c);
      req.headers.emplace_back(std::move(name), std::string(trim(v)));
    }
    req.body = std::move(body);
    req.keep_alive = http_should_keep_alive(&parser) != 0;
    return r;
  }

  // All values of header `name`, joined with ", "; nothing when absent.
  std::optional<std::string> header(std::string_view name) const {
    std::optional<std::string> out;
    for (auto& [k, v] : headers) {
      if (!iequals(k, name))
        continue;
      if (out)
        *out += ", " + std::string(trim(v));
      else
        out = std::string(trim(v));
    }
    return out;
  }

  ws_handshake_result reject(int status, std::string_view phrase,
                             std::string reason,
                             std::string_view extra_headers = {}) {
    ws_handshake_result r;
    r.status = ws_handshake_status::rejected;
    r.http_status = status;
    r.response = response(status, phrase, extra_headers, reason);
    r.reason = std::move(reason);
    // The path is known for certain only once the head is complete.
    if (headers_done)
      r.path = std::string(std::string_view{url}.substr(0, url.find('?')));
    return r;
  }

  ws_handshake_result decide() {
    auto path = std::string_view{url}.substr(0, url.find('?'));
    if (path != opts.path)
      return reject(404, "Not Found",
                    "no WebSocket endpoint at this path (use " + opts.path
                        + ")");
    if (parser.method != HTTP_GET)
      return reject(
          405, "Method Not Allowed",
          std::string("the WebSocket upgrade needs GET, not ")
              + http_method_str(static_cast<http_method>(parser.method)),
          "Allow: GET\r\n");
    if (parser.http_major < 1
        || (parser.http_major == 1 && parser.http_minor < 1))
      return reject(400, "Bad Request", "the WebSocket upgrade needs HTTP/1.1");
    if (!header("Host"))
      return reject(400, "Bad Request", "missing Host header");
    constexpr std::string_view upgrade_headers
        = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\n";
    auto upgrade = header("Upgrade");
    auto connection = header("Connection");
    if (!upgrade || !has_token(*upgrade, "websocket") || !connection
        || !has_token(*connection, "upgrade"))
      return reject(426, "Upgrade Required",
                    "this endpoint speaks MQTT over WebSocket only",
                    upgrade_headers);
    auto version = header("Sec-WebSocket-Version");
    if (!version || *version != "13")
      return reject(426, "Upgrade Required",
                    "unsupported WebSocket version (13 is supported)",
                    "Sec-WebSocket-Version: 13\r\n");
    auto key = header("Sec-WebSocket-Key");
    if (!key)
      return reject(400, "Bad Request", "missing Sec-WebSocket-Key");
    auto raw_key = base64_decode(*key);
    if (!raw_key || raw_key->size() != 16)
      return reject(400, "Bad Request",
                    "Sec-WebSocket-Key must be base64 of 16 bytes");
    std::string chosen;
    auto offered = header("Sec-WebSocket-Protocol");
    auto offered_tokens
        = offered ? tokens(*offered) : std::vector<std::string_view>{};
    if (offered_tokens.empty()) {
      if (opts.require_subprotocol)
        return reject(400, "Bad Request",
                      "a WebSocket subprotocol (mqtt) is required");
    } else {
      for (auto& supported : opts.subprotocols) {
        if (std::find(offered_tokens.begin(), offered_tokens.end(), supported)
            != offered_tokens.end()) {
          chosen = supported;
          break;
        }
      }
      if (chosen.empty())
        return reject(400, "Bad Request",
                      "none of the offered WebSocket subprotocols is "
                      "supported (mqtt is)");
    }
    ws_handshake_result r;
    r.status = ws_handshake_status::upgraded;
    r.http_status = 101;
    r.subprotocol = chosen;
    r.path = std::string(path);
    r.response = "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: "
                 + accept_key(*key) + "\r\n";
    if (!chosen.empty())
      r.response += "Sec-WebSocket-Protocol: " + chosen + "\r\n";
    r.response += "\r\n";
    return r;
  }
};

ws_handshake::ws_handshake(ws_handshake_options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  http_parser_init(&impl_->parser, HTTP_REQUEST);
  impl_->parser.data = impl_.get();
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_url = impl::on_url;
  impl_->settings.on_header_field = impl::on_field;
  impl_->settings.on_header_value = impl::on_value;
  impl_->settings.on_headers_complete = impl::on_headers_complete;
  impl_->settings.on_message_complete = impl::on_message_complete;
  impl_->settings.on_body = impl::on_body;
}

ws_handshake::~ws_handshake() = default;

std::string ws_handshake::accept_key(std::string_view key) {
  std::string text(key);
  text += ws_guid;
  return base64_encode(sha1(text));
}

ws_handshake_result ws_handshake::feed(std::string_view bytes) {
  auto& s = *impl_;
  if (s.final) {
    auto r = *s.final;
    r.remainder.clear();
    return r;
  }
  // Parse no further than the size limits allow, so that a huge head (or
  // body) is refused without being buffered.
  size_t used = 0;
  for (;;) {
    size_t limit = s.opts.max_request_size
                   + (s.opts.serve_http ? s.opts.max_body_size : 0);
    size_t room = limit > s.seen ? limit - s.seen : 0;
    if (!s.headers_done)
      room = s.opts.max_request_size > s.seen ? s.opts.max_request_size - s.seen
                                              : 0;
    auto chunk = bytes.substr(used, room);
    size_t n = http_parser_execute(&s.parser, &s.settings, chunk.data(),
                                   chunk.size());
    s.seen += n;
    used += n;
    auto err = HTTP_PARSER_ERRNO(&s.parser);
    if (s.body_too_large) {
      s.final = s.reject(413, "Payload Too Large",
                         "the request body exceeds "
                             + std::to_string(s.opts.max_body_size)
                             + " bytes");
      return *s.final;
    }
    if (err != HPE_OK && err != HPE_PAUSED) {
      s.final = s.reject(400, "Bad Request",
                         std::string("malformed HTTP request: ")
                             + http_errno_description(err));
      return *s.final;
    }
    if (!s.headers_done) {
      if (s.seen >= s.opts.max_request_size) {
        s.final = s.reject(431, "Request Header Fields Too Large",
                           "the request head exceeds "
                               + std::to_string(s.opts.max_request_size)
                               + " bytes");
        return *s.final;
      }
      return {};
    }
    if (s.is_upgrade())
      break;
    // An ordinary request: complete once its body is.
    if (s.message_done)
      break;
    if (used >= bytes.size() || n == 0) {
      if (s.seen >= limit) {
        s.final = s.reject(413, "Payload Too Large",
                           "the request body exceeds "
                               + std::to_string(s.opts.max_body_size)
                               + " bytes");
        return *s.final;
      }
      return {};
    }
  }
  if (!s.is_upgrade()) {
    s.final = s.http_request();
    auto r = std::move(*s.final);
    s.final->request = {};
    r.remainder = std::string(bytes.substr(used));
    return r;
  }
  s.final = s.decide();
  auto r = *s.final;
  if (r.status == ws_handshake_status::upgraded)
    r.remainder = std::string(bytes.substr(used));
  return r;
}

} // namespace castor::security
