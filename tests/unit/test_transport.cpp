// The layered byte transport of a connection (security/transport): plain
// TCP, TLS, WebSocket and WebSocket over TLS, driven by a client made of
// the same building blocks (a client tls_session and hand-built frames).

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "app/server.hpp"
#include "security/transport.hpp"
#include "test_pki.hpp"

using namespace castor::security;
using castor_test::test_pki;

namespace {

// A masked client frame.
std::string frame(uint8_t opcode, std::string_view payload, bool fin = true) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | opcode);
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      out += static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xFF);
  }
  const char key[4] = {'\x12', '\x9a', '\x5c', '\x01'};
  out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out += static_cast<char>(payload[i] ^ key[i % 4]);
  return out;
}

struct server_frame {
  uint8_t opcode = 0;
  std::string payload;
};

// Server frames (unmasked); stops at an incomplete frame.
std::vector<server_frame> parse_frames(std::string_view in) {
  std::vector<server_frame> out;
  while (in.size() >= 2) {
    auto b0 = static_cast<uint8_t>(in[0]);
    auto b1 = static_cast<uint8_t>(in[1]);
    REQUIRE((b1 & 0x80) == 0);
    uint64_t len = b1 & 0x7F;
    size_t pos = 2;
    if (len == 126) {
      len = (uint64_t{static_cast<uint8_t>(in[2])} << 8)
            | static_cast<uint8_t>(in[3]);
      pos = 4;
    } else if (len == 127) {
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | static_cast<uint8_t>(in[2 + i]);
      pos = 10;
    }
    REQUIRE(in.size() >= pos + len);
    out.push_back(server_frame{static_cast<uint8_t>(b0 & 0x0F),
                               std::string(in.substr(pos, len))});
    in.remove_prefix(pos + len);
  }
  return out;
}

const std::string upgrade = "GET /mqtt HTTP/1.1\r\n"
                            "Host: 127.0.0.1:8080\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Protocol: mqtt\r\n"
                            "\r\n";

// Two MQTT packets: a CONNECT (MQTT 5, client id "c1") and a PINGREQ.
const std::string connect_packet{"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00"
                                 "\x00\x02"
                                 "c1",
                                 17};
const std::string pingreq{"\xc0\x00", 2};

// The CONNECT split across two frames (the second also carries the
// PINGREQ), then a ping, then both packets again in one frame.
std::string client_frames() {
  return frame(0x2, connect_packet.substr(0, 5), false)
         + frame(0x0, connect_packet.substr(5) + pingreq)
         + frame(0x9, "hi") + frame(0x2, connect_packet + pingreq);
}

const std::string expected_mqtt
    = connect_packet + pingreq + connect_packet + pingreq;

transport_options ws_options() {
  transport_options o;
  o.kind = transport_kind::ws;
  return o;
}

struct collected {
  std::string data;
  std::string sent;
  std::string error;
  bool closed = false;

  void add(const transport_input& in) {
    data += in.data;
    sent += in.to_send;
    if (error.empty())
      error = in.error;
    closed = closed || in.closed;
  }
};

// Feeds `bytes` in pieces of `chunk` bytes.
collected feed(transport& t, std::string_view bytes, size_t chunk = SIZE_MAX) {
  collected c;
  transport_input in;
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    t.read(bytes.substr(i, chunk), in);
    c.add(in);
  }
  return c;
}

// The server's answer to `upgrade`, then the frames that follow it.
std::vector<server_frame> frames_after_head(const std::string& sent) {
  auto end = sent.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  return parse_frames(std::string_view{sent}.substr(end + 4));
}

uint16_t close_code(const server_frame& f) {
  REQUIRE(f.opcode == 0x8);
  REQUIRE(f.payload.size() >= 2);
  return static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8)
                               | static_cast<uint8_t>(f.payload[1]));
}

// -- TLS ----------------------------------------------------------------------

std::shared_ptr<const tls_context> server_tls(verify_mode verify) {
  auto& p = test_pki();
  tls_options opts;
  opts.cert_chain_file = p.path("server.pem");
  opts.key_file = p.path("server.key");
  if (verify != verify_mode::none)
    opts.ca_file = p.path("ca.pem");
  opts.verify = verify;
  auto r = tls_context::make_server(opts);
  if (auto err = std::get_if<std::string>(&r))
    FAIL("server context: " << *err);
  return std::make_shared<const tls_context>(
      std::get<tls_context>(std::move(r)));
}

tls_context client_tls(const char* cert = nullptr, const char* key = nullptr,
                       int max_version = 0) {
  auto& p = test_pki();
  tls_options opts;
  opts.ca_file = p.path("ca.pem");
  opts.server_name = "localhost";
  if (cert != nullptr) {
    opts.cert_chain_file = p.path(cert);
    opts.key_file = p.path(key);
  }
  auto r = tls_context::make_client(opts);
  if (auto err = std::get_if<std::string>(&r))
    FAIL("client context: " << *err);
  auto ctx = std::get<tls_context>(std::move(r));
  if (max_version != 0)
    SSL_CTX_set_max_proto_version(ctx.native(), max_version);
  return ctx;
}

transport_options tls_options_for(transport_kind kind, verify_mode verify) {
  transport_options o;
  o.kind = kind;
  o.tls = server_tls(verify);
  return o;
}

struct client_view {
  std::string plain; ///< what the client decrypted
  std::string error; ///< the client's TLS error
};

// Moves bytes between a client TLS session and the server transport until
// both are quiet; the server side is fed `chunk` bytes at a time.
void pump(tls_session& client, transport& server, std::string to_server,
          collected& srv, client_view& cli, size_t chunk = SIZE_MAX) {
  for (int round = 0; round < 50; ++round) {
    if (to_server.empty())
      break;
    auto got = feed(server, to_server, chunk);
    to_server.clear();
    srv.data += got.data;
    if (srv.error.empty())
      srv.error = got.error;
    srv.closed = srv.closed || got.closed;
    if (got.sent.empty())
      break;
    auto r = client.feed_ciphertext(got.sent);
    cli.plain += r.plaintext;
    if (!r.ok()) {
      cli.error = r.error;
      break;
    }
    to_server = std::move(r.ciphertext);
  }
}

} // namespace

TEST_CASE("transport: kinds by name") {
  CHECK(transport_kind_of("tcp") == transport_kind::tcp);
  CHECK(transport_kind_of("tls") == transport_kind::tls);
  CHECK(transport_kind_of("ws") == transport_kind::ws);
  CHECK(transport_kind_of("wss") == transport_kind::wss);
  CHECK_FALSE(transport_kind_of("quic").has_value());
  CHECK(std::string{to_string(transport_kind::wss)} == "wss");
  CHECK(uses_tls(transport_kind::wss));
  CHECK_FALSE(uses_tls(transport_kind::ws));
  CHECK(uses_websocket(transport_kind::wss));
  CHECK_FALSE(uses_websocket(transport_kind::tls));
}

TEST_CASE("transport: tcp passes bytes through both ways") {
  transport_options o;
  transport t{o};
  CHECK(t.established());
  CHECK(t.peer() == nullptr);
  auto c = feed(t, expected_mqtt, 3);
  CHECK(c.data == expected_mqtt);
  CHECK(c.sent.empty());
  CHECK_FALSE(c.closed);
  std::string out;
  t.write(connect_packet, out);
  CHECK(out == connect_packet);
}

TEST_CASE("transport ws: upgrade and frames split at every byte") {
  auto opts = ws_options();
  auto stream = upgrade + client_frames();
  auto check = [&](const collected& c) {
    CHECK(c.error.empty());
    CHECK_FALSE(c.closed);
    CHECK(c.data == expected_mqtt);
    REQUIRE(c.sent.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    CHECK(c.sent.find("Sec-WebSocket-Protocol: mqtt\r\n") != std::string::npos);
    auto frames = frames_after_head(c.sent);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].opcode == 0xA);
    CHECK(frames[0].payload == "hi");
  };
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    transport t{opts};
    CHECK(std::string{t.pending_stage()} == "WebSocket upgrade");
    transport_input in;
    collected c;
    t.read(std::string_view{stream}.substr(0, split), in);
    c.add(in);
    t.read(std::string_view{stream}.substr(split), in);
    c.add(in);
    check(c);
    CHECK(t.established());
    CHECK(t.subprotocol() == "mqtt");
  }
  transport t{opts};
  auto c = feed(t, stream, 1);
  check(c);
}

TEST_CASE("transport ws: MQTT bytes go out as binary frames after the "
          "upgrade only") {
  auto opts = ws_options();
  transport t{opts};
  std::string out;
  t.write(pingreq, out);
  CHECK(out.empty()); // no frames before the 101
  auto c = feed(t, upgrade);
  REQUIRE(t.established());
  out.clear();
  const std::string connack{"\x20\x03\x00\x00\x00", 5};
  t.write(connack + connack, out);
  auto frames = parse_frames(out);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].opcode == 0x2);
  CHECK(frames[0].payload == connack + connack);
  // A large write is one frame with a 64-bit length.
  out.clear();
  std::string big(70000, 'm');
  t.write(big, out);
  frames = parse_frames(out);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].payload == big);
  // Our close: a close frame with 1000; nothing is written after it.
  auto bye = parse_frames(t.close());
  REQUIRE(bye.size() == 1);
  CHECK(close_code(bye[0]) == 1000);
  CHECK(t.closed());
  out.clear();
  t.write(connack, out);
  CHECK(out.empty());
  CHECK(t.close().empty());
}

TEST_CASE("transport ws: requests that are not an upgrade get an HTTP error "
          "and close") {
  auto opts = ws_options();
  auto refused = [&](const std::string& request, int status) {
    transport t{opts};
    auto c = feed(t, request);
    CHECK(c.closed);
    CHECK(c.data.empty());
    CHECK(c.sent.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0);
    CHECK(c.error.find("HTTP " + std::to_string(status)) != std::string::npos);
    CHECK_FALSE(t.established());
    // Closed for good.
    transport_input in;
    t.read(upgrade, in);
    CHECK(in.closed);
    CHECK(in.to_send.empty());
    CHECK(in.data.empty());
    return c;
  };
  refused("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", 426);
  auto wrong = upgrade;
  wrong.replace(wrong.find("/mqtt"), 5, "/other");
  auto c = refused(wrong, 404);
  CHECK(c.error.find("'/other'") != std::string::npos);
  // A TLS ClientHello on a plain WebSocket listener.
  refused(std::string{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11}
              + "\r\n\r\n",
          400);
  // Another path can be configured.
  transport_options other = ws_options();
  other.handshake.path = "/other";
  transport t{other};
  auto ok = feed(t, wrong);
  CHECK_FALSE(ok.closed);
  CHECK(t.established());
}

TEST_CASE("transport ws: an oversized frame closes with 1009") {
  auto opts = ws_options();
  opts.websocket.max_message_size = 100;
  transport t{opts};
  auto c = feed(t, upgrade + frame(0x2, pingreq) + frame(0x2, std::string(101, 'x'))
                       + frame(0x2, pingreq));
  CHECK(c.closed);
  CHECK(c.data == pingreq); // what came before the big frame, no more
  CHECK_FALSE(c.error.empty());
  auto frames = frames_after_head(c.sent);
  REQUIRE(frames.size() == 1);
  CHECK(close_code(frames[0]) == 1009);
  // At the limit is fine.
  transport t2{opts};
  auto ok = feed(t2, upgrade + frame(0x2, std::string(100, 'x')));
  CHECK_FALSE(ok.closed);
  CHECK(ok.data.size() == 100);
}

TEST_CASE("transport ws: a close frame from the client is answered and "
          "closes without error") {
  auto opts = ws_options();
  transport t{opts};
  std::string code{"\x03\xe8", 2};
  auto c = feed(t, upgrade + frame(0x2, pingreq) + frame(0x8, code));
  CHECK(c.closed);
  CHECK(c.error.empty());
  CHECK(c.data == pingreq);
  auto frames = frames_after_head(c.sent);
  REQUIRE(frames.size() == 1);
  CHECK(close_code(frames[0]) == 1000);
  CHECK(t.close().empty());
}

TEST_CASE("transport tls: handshake, then MQTT bytes both ways, split at "
          "every byte") {
  auto opts = tls_options_for(transport_kind::tls, verify_mode::none);
  auto cctx = client_tls();
  tls_session client{cctx};
  transport server{opts};
  CHECK(std::string{server.pending_stage()} == "TLS handshake");
  CHECK(server.peer() == nullptr);
  collected srv;
  client_view cli;
  pump(client, server, client.start(), srv, cli);
  REQUIRE(cli.error.empty());
  REQUIRE(srv.error.empty());
  CHECK(client.handshake_done());
  CHECK(server.established());
  CHECK(server.pending_stage() == nullptr);
  CHECK(server.tls_description().rfind("TLSv1.3 ", 0) == 0);
  REQUIRE(server.peer() != nullptr);
  CHECK_FALSE(server.peer()->present);

  auto records = client.write_plaintext(expected_mqtt);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, records.size()}) {
    CAPTURE(chunk);
    if (chunk != 1)
      records = client.write_plaintext(expected_mqtt);
    auto c = feed(server, records, chunk);
    CHECK(c.data == expected_mqtt);
    CHECK_FALSE(c.closed);
  }
  std::string out;
  server.write(connect_packet, out);
  CHECK(out.find("MQTT") == std::string::npos); // encrypted
  auto r = client.feed_ciphertext(out);
  CHECK(r.ok());
  CHECK(r.plaintext == connect_packet);
  // Our close sends close_notify.
  auto bye = client.feed_ciphertext(server.close());
  CHECK(bye.peer_closed);
  out.clear();
  server.write(connect_packet, out);
  CHECK(out.empty());
}

TEST_CASE("transport tls: TLS 1.2 works too") {
  auto opts = tls_options_for(transport_kind::tls, verify_mode::none);
  auto cctx = client_tls(nullptr, nullptr, TLS1_2_VERSION);
  tls_session client{cctx};
  transport server{opts};
  collected srv;
  client_view cli;
  pump(client, server, client.start(), srv, cli);
  REQUIRE(cli.error.empty());
  REQUIRE(server.established());
  CHECK(server.tls_description().rfind("TLSv1.2 ", 0) == 0);
  auto c = feed(server, client.write_plaintext(connect_packet));
  CHECK(c.data == connect_packet);
}

TEST_CASE("transport tls: the client certificate of mutual TLS") {
  auto opts = tls_options_for(transport_kind::tls, verify_mode::required);
  {
    auto cctx = client_tls("client.pem", "client.key");
    tls_session client{cctx};
    transport server{opts};
    collected srv;
    client_view cli;
    pump(client, server, client.start(), srv, cli);
    REQUIRE(srv.error.empty());
    REQUIRE(server.established());
    auto peer = server.peer();
    REQUIRE(peer != nullptr);
    CHECK(peer->present);
    CHECK(principal_from(*peer, cert_principal::common_name) == "sensor-1");
    CHECK(principal_from(*peer, cert_principal::dns)
          == "sensor-1.example.com");
  }
  // Without a certificate, or with one from another CA: refused.
  for (auto [cert, key] : {std::pair<const char*, const char*>{nullptr, nullptr},
                           {"rogue.pem", "rogue.key"},
                           {"expired.pem", "expired.key"}}) {
    CAPTURE(cert ? cert : "none");
    auto cctx = client_tls(cert, key);
    tls_session client{cctx};
    transport server{opts};
    collected srv;
    client_view cli;
    pump(client, server, client.start(), srv, cli);
    CHECK(srv.closed);
    CHECK_FALSE(srv.error.empty());
    CHECK_FALSE(server.established());
    CHECK(server.peer() == nullptr);
    transport_input in;
    server.read("more", in);
    CHECK(in.closed);
    CHECK(in.data.empty());
  }
}

TEST_CASE("transport tls: bytes that are not TLS close the connection") {
  auto opts = tls_options_for(transport_kind::tls, verify_mode::none);
  for (std::string junk : {std::string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
                           std::string(64, '\0'),
                           std::string{"\x10\x0f\x00\x04MQTT", 8}}) {
    transport server{opts};
    auto c = feed(server, junk);
    CHECK(c.closed);
    CHECK(c.data.empty());
    CHECK(c.error.find("TLS") != std::string::npos);
  }
}

TEST_CASE("transport tls: close_notify from the client closes cleanly") {
  auto opts = tls_options_for(transport_kind::tls, verify_mode::none);
  auto cctx = client_tls();
  tls_session client{cctx};
  transport server{opts};
  collected srv;
  client_view cli;
  pump(client, server, client.start(), srv, cli);
  REQUIRE(server.established());
  auto bytes = client.write_plaintext(pingreq);
  bytes += client.close();
  auto c = feed(server, bytes);
  CHECK(c.data == pingreq);
  CHECK(c.closed);
  CHECK(c.error.empty());
}

TEST_CASE("transport wss: WebSocket inside TLS") {
  auto opts = tls_options_for(transport_kind::wss, verify_mode::optional);
  auto cctx = client_tls("client.pem", "client.key");
  tls_session client{cctx};
  transport server{opts};
  collected srv;
  client_view cli;
  pump(client, server, client.start(), srv, cli);
  REQUIRE(srv.error.empty());
  REQUIRE(client.handshake_done());
  CHECK(std::string{server.pending_stage()} == "WebSocket upgrade");
  REQUIRE(server.peer() != nullptr);
  CHECK(principal_from(*server.peer(), cert_principal::email)
        == "ops@example.com");
  // The upgrade and the frames, fed a byte at a time.
  auto c = feed(server, client.write_plaintext(upgrade + client_frames()), 1);
  CHECK(c.error.empty());
  CHECK_FALSE(c.closed);
  CHECK(c.data == expected_mqtt);
  CHECK(server.established());
  auto r = client.feed_ciphertext(c.sent);
  REQUIRE(r.ok());
  REQUIRE(r.plaintext.rfind("HTTP/1.1 101 ", 0) == 0);
  auto pong = frames_after_head(r.plaintext);
  REQUIRE(pong.size() == 1);
  CHECK(pong[0].opcode == 0xA);
  // Server to client: a binary frame inside TLS.
  std::string out;
  server.write(pingreq, out);
  r = client.feed_ciphertext(out);
  REQUIRE(r.ok());
  auto frames = parse_frames(r.plaintext);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].opcode == 0x2);
  CHECK(frames[0].payload == pingreq);
  // Our close: a close frame, then close_notify.
  r = client.feed_ciphertext(server.close());
  CHECK(r.peer_closed);
  frames = parse_frames(r.plaintext);
  REQUIRE(frames.size() == 1);
  CHECK(close_code(frames[0]) == 1000);
}

TEST_CASE("transport wss: a refused upgrade is answered inside TLS") {
  auto opts = tls_options_for(transport_kind::wss, verify_mode::none);
  auto cctx = client_tls();
  tls_session client{cctx};
  transport server{opts};
  collected srv;
  client_view cli;
  pump(client, server, client.start(), srv, cli);
  REQUIRE(client.handshake_done());
  auto c = feed(server, client.write_plaintext(
                            "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.closed);
  auto r = client.feed_ciphertext(c.sent);
  CHECK(r.plaintext.rfind("HTTP/1.1 426 ", 0) == 0);
  CHECK(r.peer_closed);
}

TEST_CASE("transport: a TLS listener without a context refuses") {
  transport_options o;
  o.kind = transport_kind::tls;
  transport t{o};
  auto c = feed(t, "x");
  CHECK(c.closed);
  CHECK_FALSE(c.error.empty());
}

TEST_CASE("transport: a listener's options from its configuration") {
  using castor::listener_config;
  using castor::make_transport_options;
  using options_ptr = std::shared_ptr<const transport_options>;
  listener_config l;
  l.name = "plain";
  auto r = make_transport_options(l, 1000);
  REQUIRE(std::holds_alternative<options_ptr>(r));
  CHECK(std::get<options_ptr>(r) == nullptr); // tcp: no layers

  l.name = "web";
  l.transport = "ws";
  r = make_transport_options(l, 1000);
  REQUIRE(std::holds_alternative<options_ptr>(r));
  auto o = std::get<options_ptr>(r);
  REQUIRE(o != nullptr);
  CHECK(o->kind == transport_kind::ws);
  CHECK(o->tls == nullptr);
  CHECK(o->handshake.path == "/mqtt");
  CHECK(o->websocket.max_message_size == 1000 + 1024);
  l.websocket.path = "/x";
  l.websocket.max_frame_size = 500;
  o = std::get<options_ptr>(make_transport_options(l, 1000));
  CHECK(o->handshake.path == "/x");
  CHECK(o->websocket.max_message_size == 500);

  auto& p = test_pki();
  l.name = "secure";
  l.transport = "wss";
  l.tls.cert_file = p.path("server.pem");
  l.tls.key_file = p.path("server.key");
  l.tls.ca_file = p.path("ca.pem");
  l.tls.verify_client = castor::tls_verify_client::required;
  r = make_transport_options(l, 1000);
  REQUIRE(std::holds_alternative<options_ptr>(r));
  o = std::get<options_ptr>(r);
  CHECK(o->kind == transport_kind::wss);
  REQUIRE(o->tls != nullptr);
  CHECK(o->tls->options().verify == verify_mode::required);

  // Bad files: the error names the listener and the file.
  l.tls.key_file = p.path("client.key");
  r = make_transport_options(l, 1000);
  REQUIRE(std::holds_alternative<std::string>(r));
  auto err = std::get<std::string>(r);
  CHECK(err.rfind("listener secure: TLS: ", 0) == 0);
  CHECK(err.find(p.path("client.key")) != std::string::npos);
  l.tls.key_file = p.path("server.key");
  l.tls.cert_file = p.path("missing.pem");
  err = std::get<std::string>(make_transport_options(l, 1000));
  CHECK(err.find(p.path("missing.pem")) != std::string::npos);
}
