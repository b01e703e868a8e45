// MQTT over WebSocket for castor::client (RFC 6455, subprotocol `mqtt`):
// the HTTP upgrade with its Sec-WebSocket-Accept checked, masked binary
// frames out (one a packet), and frames in (fragmented messages joined,
// pings answered, a close frame ends the connection).

#include <random>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "client_impl.hpp"

namespace castor {

namespace {

constexpr size_t max_head = 16384;
// The largest message accepted from the server: MQTT's largest packet.
constexpr uint64_t max_ws_message = 268435460;

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                            static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

} // namespace

std::string client::impl::ws_frame(uint8_t opcode, std::string_view payload) const {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::string f;
  f.reserve(payload.size() + 14);
  f += static_cast<char>(0x80 | opcode); // FIN
  auto n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      f += static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff);
  }
  uint32_t m = rng();
  char mask[4] = {static_cast<char>(m >> 24), static_cast<char>(m >> 16),
                  static_cast<char>(m >> 8), static_cast<char>(m)};
  f.append(mask, 4);
  auto at = f.size();
  f.append(payload.data(), payload.size());
  for (size_t i = 0; i < n; ++i)
    f[at + i] = static_cast<char>(f[at + i] ^ mask[i % 4]);
  return f;
}

void client::impl::ws_upgrade(uint64_t gen) {
  std::random_device rd;
  unsigned char key[16];
  for (auto& b : key)
    b = static_cast<unsigned char>(rd());
  ws_key = base64(key, sizeof key);
  http_in.clear();
  ws_in.clear();
  ws_message.clear();
  bool default_port = (opts.tls.enabled && opts.port == 443)
                      || (!opts.tls.enabled && opts.port == 80);
  auto host = opts.host.find(':') != std::string::npos ? "[" + opts.host + "]" : opts.host;
  auto req = std::make_shared<std::string>(
      "GET " + (opts.ws_path.empty() ? std::string("/") : opts.ws_path)
      + " HTTP/1.1\r\nHost: " + host
      + (default_port ? "" : ":" + std::to_string(opts.port))
      + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + ws_key
      + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
  auto self = shared_from_this();
  raw_write(asio::buffer(*req), [self, gen, req](std::error_code ec, size_t) {
    if (gen != self->generation)
      return;
    if (ec)
      return self->lost("WebSocket upgrade: write failed: " + ec.message());
    self->ws_read_head(gen);
  });
}

void client::impl::ws_read_head(uint64_t gen) {
  auto self = shared_from_this();
  raw_read_some(asio::buffer(rbuf), [self, gen](std::error_code ec, size_t n) {
    if (gen != self->generation)
      return;
    if (ec)
      return self->lost("WebSocket upgrade: " + (ec == asio::error::eof
                                                     ? std::string("the server closed the connection")
                                                     : "read failed: " + ec.message()));
    self->http_in.append(self->rbuf.data(), n);
    auto end = self->http_in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (self->http_in.size() > max_head)
        return self->lost("WebSocket upgrade: the answer's head is too long");
      return self->ws_read_head(gen);
    }
    auto head = self->http_in.substr(0, end);
    self->ws_in = self->http_in.substr(end + 4); // frames already sent
    self->http_in.clear();
    // Status line and headers.
    auto eol = head.find("\r\n");
    auto status = head.substr(0, eol);
    if (status.compare(0, 9, "HTTP/1.1 ") != 0 || status.compare(9, 3, "101") != 0)
      return self->lost("WebSocket upgrade refused: " + status);
    std::map<std::string, std::string> h;
    for (size_t at = eol; at != std::string::npos && at < head.size();) {
      auto next = head.find("\r\n", at + 2);
      auto line = head.substr(at + 2, next == std::string::npos ? std::string::npos
                                                                 : next - at - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos)
        h[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
      at = next;
    }
    auto guid = self->ws_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(guid.data()), guid.size(), digest);
    if (h["sec-websocket-accept"] != base64(digest, sizeof digest))
      return self->lost("WebSocket upgrade: wrong Sec-WebSocket-Accept");
    if (lower(h["upgrade"]) != "websocket")
      return self->lost("WebSocket upgrade: no Upgrade: websocket");
    if (h["sec-websocket-protocol"] != "mqtt")
      return self->lost("WebSocket upgrade: the server did not agree to subprotocol mqtt");
    self->on_connected(gen);
  });
}

bool client::impl::ws_feed(std::string_view in, std::string& out) {
  ws_in.append(in.data(), in.size());
  size_t at = 0;
  for (;;) {
    if (ws_in.size() - at < 2)
      break;
    auto b0 = static_cast<uint8_t>(ws_in[at]);
    auto b1 = static_cast<uint8_t>(ws_in[at + 1]);
    bool fin = b0 & 0x80;
    uint8_t opcode = b0 & 0x0f;
    bool masked = b1 & 0x80;
    uint64_t len = b1 & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (ws_in.size() - at < 4)
        break;
      len = (static_cast<uint64_t>(static_cast<uint8_t>(ws_in[at + 2])) << 8)
            | static_cast<uint8_t>(ws_in[at + 3]);
      hl = 4;
    } else if (len == 127) {
      if (ws_in.size() - at < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | static_cast<uint8_t>(ws_in[at + 2 + i]);
      hl = 10;
    }
    if (b0 & 0x70) {
      lost("WebSocket: a frame with reserved bits set");
      return false;
    }
    if (len > max_ws_message || ws_message.size() + len > max_ws_message) {
      lost("WebSocket: a message from the server is too large");
      return false;
    }
    size_t ml = masked ? 4 : 0;
    if (ws_in.size() - at < hl + ml + len)
      break;
    std::string payload = ws_in.substr(at + hl + ml, static_cast<size_t>(len));
    if (masked) // servers do not mask; unmask anyway
      for (size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>(payload[i] ^ ws_in[at + hl + (i % 4)]);
    at += hl + ml + static_cast<size_t>(len);
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text (MQTT is binary; taken as bytes)
      case 0x2:
        ws_message += payload;
        if (fin) {
          out += ws_message;
          ws_message.clear();
        }
        break;
      case 0x8: {
        std::string why = "the server closed the WebSocket";
        if (payload.size() >= 2)
          why += " (" + std::to_string((static_cast<uint8_t>(payload[0]) << 8)
                                       | static_cast<uint8_t>(payload[1]))
                 + ")";
        lost(why);
        return false;
      }
      case 0x9: // ping: pong with its payload
        wq.push_back(ws_frame(0xA, payload));
        queued_bytes += wq.back().size();
        if (!writing)
          write_next();
        break;
      case 0xA:
        break;
      default:
        lost("WebSocket: unknown opcode " + std::to_string(opcode));
        return false;
    }
  }
  ws_in.erase(0, at);
  return true;
}

} // namespace castor
