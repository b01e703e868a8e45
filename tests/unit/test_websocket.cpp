// MQTT over WebSocket: the HTTP upgrade and the frame layer, fed at every
// split point.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "security/websocket.hpp"

using namespace castor::security;

namespace {

// A client frame (masked unless told otherwise).
std::string frame(uint8_t opcode, std::string_view payload, bool fin = true,
                  bool mask = true, uint8_t rsv = 0) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode);
  uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out += static_cast<char>(m | payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(m | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i)
      out += static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xFF);
  }
  const char key[4] = {'\x37', '\xfa', '\x21', '\x3d'};
  if (mask)
    out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return out;
}

std::string close_payload(uint16_t code, std::string_view reason = {}) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  out += reason;
  return out;
}

struct server_frame {
  bool fin = false;
  uint8_t opcode = 0;
  std::string payload;
};

// Parses what the server wrote; server frames are never masked.
std::vector<server_frame> parse(std::string_view in) {
  std::vector<server_frame> out;
  while (!in.empty()) {
    REQUIRE(in.size() >= 2);
    server_frame f;
    auto b0 = static_cast<uint8_t>(in[0]);
    auto b1 = static_cast<uint8_t>(in[1]);
    f.fin = (b0 & 0x80) != 0;
    f.opcode = b0 & 0x0F;
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
    f.payload = std::string(in.substr(pos, len));
    in.remove_prefix(pos + len);
    out.push_back(std::move(f));
  }
  return out;
}

std::string upgrade_request(std::string_view extra = "Sec-WebSocket-Protocol: "
                                                     "mqtt\r\n",
                            std::string_view target = "/mqtt") {
  std::string r = "GET ";
  r += target;
  r += " HTTP/1.1\r\n"
       "Host: 127.0.0.1:8080\r\n"
       "Upgrade: websocket\r\n"
       "Connection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

ws_handshake_result handshake(const std::string& request,
                              ws_handshake_options opts = {}) {
  ws_handshake hs{opts};
  return hs.feed(request);
}

// Everything a session produced over several feeds.
struct collected {
  std::string data;
  std::vector<ws_control> controls;
  std::string sent;
  std::string error;
  bool finished = false;
  uint16_t close_code = 0;

  void add(ws_result r) {
    data += r.data;
    for (auto& c : r.controls)
      controls.push_back(std::move(c));
    sent += r.to_send;
    if (error.empty())
      error = r.error;
    finished = finished || r.finished;
    if (r.close_code != 0)
      close_code = r.close_code;
  }
};

collected feed_split(std::string_view stream, size_t split,
                     ws_session_options opts = {}) {
  ws_session s{opts};
  collected c;
  c.add(s.feed(stream.substr(0, split)));
  c.add(s.feed(stream.substr(split)));
  return c;
}

collected feed_all(std::string_view stream, ws_session_options opts = {}) {
  ws_session s{opts};
  collected c;
  c.add(s.feed(stream));
  return c;
}

} // namespace

TEST_CASE("websocket handshake: the RFC 6455 accept key") {
  CHECK(ws_handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ==")
        == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket handshake: upgrade at every split point") {
  auto first_frame = frame(2, "\x10\x0c\x00\x04MQTT");
  auto request = upgrade_request() + first_frame;
  for (size_t split = 0; split <= request.size(); ++split) {
    ws_handshake hs;
    auto r1 = hs.feed(std::string_view{request}.substr(0, split));
    ws_handshake_result r = r1;
    std::string remainder = r1.remainder;
    if (r1.status == ws_handshake_status::need_more) {
      r = hs.feed(std::string_view{request}.substr(split));
      remainder = r.remainder;
    } else {
      remainder += std::string(request.substr(split));
    }
    REQUIRE(r.status == ws_handshake_status::upgraded);
    CHECK(r.http_status == 101);
    CHECK(r.subprotocol == "mqtt");
    CHECK(r.path == "/mqtt");
    CHECK(remainder == first_frame);
    CHECK(r.response
          == "HTTP/1.1 101 Switching Protocols\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    // Later feeds repeat the outcome and carry nothing further.
    auto again = hs.feed("more");
    CHECK(again.status == ws_handshake_status::upgraded);
    CHECK(again.remainder.empty());
  }
}

TEST_CASE("websocket handshake: subprotocol choices") {
  auto r = handshake(upgrade_request("Sec-WebSocket-Protocol: mqttv3.1\r\n"));
  CHECK(r.status == ws_handshake_status::upgraded);
  CHECK(r.subprotocol == "mqttv3.1");
  CHECK(r.response.find("Sec-WebSocket-Protocol: mqttv3.1\r\n")
        != std::string::npos);

  r = handshake(upgrade_request("Sec-WebSocket-Protocol: chat, mqtt\r\n"));
  CHECK(r.subprotocol == "mqtt");

  r = handshake(upgrade_request("Sec-WebSocket-Protocol: mqttv3.1\r\n"
                                "Sec-WebSocket-Protocol: mqtt\r\n"));
  CHECK(r.subprotocol == "mqtt");

  // None offered: accepted, and no protocol named in the answer.
  r = handshake(upgrade_request(""));
  CHECK(r.status == ws_handshake_status::upgraded);
  CHECK(r.subprotocol.empty());
  CHECK(r.response.find("Sec-WebSocket-Protocol") == std::string::npos);

  ws_handshake_options strict;
  strict.require_subprotocol = true;
  r = handshake(upgrade_request(""), strict);
  CHECK(r.status == ws_handshake_status::rejected);
  CHECK(r.http_status == 400);

  r = handshake(upgrade_request("Sec-WebSocket-Protocol: soap, wamp\r\n"));
  CHECK(r.status == ws_handshake_status::rejected);
  CHECK(r.http_status == 400);
  CHECK(r.response.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
}

TEST_CASE("websocket handshake: header names and tokens are case-insensitive") {
  std::string req = "GET /mqtt?client=1 HTTP/1.1\r\n"
                    "host: x\r\n"
                    "UPGRADE: WebSocket\r\n"
                    "connection: keep-alive, Upgrade\r\n"
                    "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "SEC-WEBSOCKET-VERSION: 13\r\n"
                    "sec-websocket-protocol: mqtt\r\n\r\n";
  auto r = handshake(req);
  CHECK(r.status == ws_handshake_status::upgraded);
  CHECK(r.path == "/mqtt");

  ws_handshake_options other;
  other.path = "/ws";
  CHECK(handshake(upgrade_request("", "/ws"), other).status
        == ws_handshake_status::upgraded);
  CHECK(handshake(upgrade_request(), other).http_status == 404);
}

TEST_CASE("websocket handshake: refusals get proper HTTP responses") {
  auto check = [](const std::string& req, int status, const char* phrase) {
    auto r = handshake(req);
    CHECK(r.status == ws_handshake_status::rejected);
    CHECK(r.http_status == status);
    CHECK(r.response.rfind(
              "HTTP/1.1 " + std::to_string(status) + " " + phrase + "\r\n", 0)
          == 0);
    CHECK(r.response.find("Connection: close\r\n") != std::string::npos);
    // The body is the reason and its length is right.
    auto body = r.response.substr(r.response.find("\r\n\r\n") + 4);
    CHECK(r.response.find("Content-Length: " + std::to_string(body.size()))
          != std::string::npos);
    CHECK(body == r.reason + "\n");
    CHECK(r.remainder.empty());
    return r;
  };
  // A plain page request on the endpoint.
  auto r
      = check("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", 426, "Upgrade Required");
  CHECK(r.response.find("Upgrade: websocket\r\n") != std::string::npos);
  check("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404, "Not Found");
  check(upgrade_request("", "/other"), 404, "Not Found");
  r = check("POST /mqtt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
            "Method Not Allowed");
  CHECK(r.response.find("Allow: GET\r\n") != std::string::npos);

  std::string v8 = upgrade_request();
  v8.replace(v8.find("Version: 13"), 11, "Version: 8");
  r = check(v8, 426, "Upgrade Required");
  CHECK(r.response.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);

  std::string no_key = upgrade_request();
  no_key.erase(
      no_key.find("Sec-WebSocket-Key"),
      std::string("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").size());
  check(no_key, 400, "Bad Request");

  std::string bad_key = upgrade_request();
  bad_key.replace(bad_key.find("dGhlIHNhbXBsZSBub25jZQ=="), 24, "c2hvcnQ=");
  check(bad_key, 400, "Bad Request");

  std::string no_host = upgrade_request();
  no_host.erase(no_host.find("Host"),
                std::string("Host: 127.0.0.1:8080\r\n").size());
  check(no_host, 400, "Bad Request");

  std::string http10 = upgrade_request();
  http10.replace(http10.find("HTTP/1.1"), 8, "HTTP/1.0");
  check(http10, 400, "Bad Request");

  std::string no_conn = upgrade_request();
  no_conn.replace(no_conn.find("Connection: Upgrade"), 19, "Connection: close");
  check(no_conn, 426, "Upgrade Required");

  r = check("\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, "Bad Request");
  CHECK(r.reason.find("malformed HTTP request") != std::string::npos);

  // A head that never ends is refused at the limit.
  ws_handshake_options small;
  small.max_request_size = 256;
  ws_handshake hs{small};
  auto first = hs.feed("GET /mqtt HTTP/1.1\r\nHost: x\r\n");
  CHECK(first.status == ws_handshake_status::need_more);
  ws_handshake_result last;
  for (int i = 0; i < 100 && last.status == ws_handshake_status::need_more; ++i)
    last = hs.feed("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  CHECK(last.status == ws_handshake_status::rejected);
  CHECK(last.http_status == 431);
}

TEST_CASE("websocket frames: MQTT bytes across frames at every split point") {
  // Two MQTT packets in one frame, then one packet spread over a fragmented
  // message with a ping between the fragments, then a 16-bit length frame.
  std::string big(300, 'b');
  std::string two_packets("\x30\x03\x00\x01"
                          "a"
                          "\xc0\x00",
                          7);
  std::string stream = frame(2, two_packets)
                       + frame(2, std::string("\x30\x05\x00", 3), false)
                       + frame(9, "hb") + frame(0, "\x01", false)
                       + frame(0, "zz") + frame(2, big) + frame(10, "");
  std::string expected
      = two_packets + std::string("\x30\x05\x00\x01zz", 6) + big;
  auto check = [&](const collected& c) {
    CHECK(c.error.empty());
    CHECK_FALSE(c.finished);
    CHECK(c.data == expected);
    REQUIRE(c.controls.size() == 2);
    CHECK(c.controls[0].kind == ws_control::ping);
    CHECK(c.controls[0].payload == "hb");
    CHECK(c.controls[1].kind == ws_control::pong);
    auto frames = parse(c.sent);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].opcode == 10);
    CHECK(frames[0].payload == "hb");
  };
  check(feed_all(stream));
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    check(feed_split(stream, split));
  }
  // One byte at a time.
  ws_session s;
  collected c;
  for (char ch : stream)
    c.add(s.feed(std::string_view{&ch, 1}));
  check(c);
}

TEST_CASE("websocket frames: 64-bit lengths and encoding") {
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i * 7);
  auto c = feed_all(frame(2, payload));
  CHECK(c.data == payload);
  CHECK(c.error.empty());

  ws_session s;
  for (size_t n : {size_t{0}, size_t{125}, size_t{126}, size_t{65535},
                   size_t{65536}, size_t{70000}}) {
    auto out = s.send_binary(std::string_view{payload}.substr(0, n));
    size_t header = n < 126 ? 2 : n < 65536 ? 4 : 10;
    CHECK(out.size() == header + n);
    auto frames = parse(out);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].fin);
    CHECK(frames[0].opcode == 2);
    CHECK(frames[0].payload == payload.substr(0, n));
  }
  auto ping = parse(s.send_ping("x"));
  REQUIRE(ping.size() == 1);
  CHECK(ping[0].opcode == 9);
}

TEST_CASE("websocket frames: close handshake started by the client") {
  auto stream = frame(2, "ab") + frame(8, close_payload(1000, "bye"));
  for (size_t split = 0; split <= stream.size(); ++split) {
    auto c = feed_split(stream, split);
    CHECK(c.data == "ab");
    CHECK(c.error.empty());
    CHECK(c.finished);
    REQUIRE(c.controls.size() == 1);
    CHECK(c.controls[0].kind == ws_control::close);
    CHECK(c.controls[0].code == 1000);
    CHECK(c.controls[0].payload == "bye");
    auto frames = parse(c.sent);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].opcode == 8);
    CHECK(frames[0].payload.substr(0, 2) == close_payload(1000));
  }
  // A valid multi-byte reason passes at every split.
  auto utf8
      = frame(8, close_payload(1001, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"));
  for (size_t split = 0; split <= utf8.size(); ++split) {
    auto c = feed_split(utf8, split);
    CHECK(c.error.empty());
    REQUIRE(c.controls.size() == 1);
    CHECK(c.controls[0].code == 1001);
    CHECK(c.controls[0].payload == "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(c.close_code == 1001);
  }
  // A close without a status code is answered without one.
  auto c = feed_all(frame(8, ""));
  CHECK(c.finished);
  REQUIRE(c.controls.size() == 1);
  CHECK(c.controls[0].code == ws_close::no_status);
  // Data after the close is ignored.
  c = feed_all(frame(8, close_payload(1001)) + frame(2, "late"));
  CHECK(c.data.empty());
}

TEST_CASE("websocket frames: close handshake started by the server") {
  ws_session s;
  auto out = parse(s.close(ws_close::normal, "server shutting down"));
  REQUIRE(out.size() == 1);
  CHECK(out[0].opcode == 8);
  CHECK(out[0].payload == close_payload(1000, "server shutting down"));
  CHECK(s.close_sent());
  CHECK(s.send_binary("too late").empty());
  auto r = s.feed(frame(2, "still"));
  CHECK_FALSE(r.finished);
  r = s.feed(frame(8, close_payload(1000)));
  CHECK(r.finished);
  CHECK(r.error.empty());
  CHECK(r.to_send.empty()); // the close was already sent
  CHECK(s.close_received());
  // A reason longer than a control frame allows is cut at a character.
  ws_session s2;
  std::string long_reason;
  for (int i = 0; i < 70; ++i)
    long_reason += "\xc3\xa9"; // U+00E9, two bytes
  auto f = parse(s2.close(ws_close::going_away, long_reason));
  REQUIRE(f.size() == 1);
  CHECK(f[0].payload.size() == 2 + 122);
}

namespace {

void check_failure(const std::string& stream, uint16_t code,
                   ws_session_options opts = {}) {
  CAPTURE(stream.size());
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    auto c = feed_split(stream, split, opts);
    CHECK(c.finished);
    CHECK_FALSE(c.error.empty());
    CHECK(c.close_code == code);
    auto frames = parse(c.sent);
    REQUIRE_FALSE(frames.empty());
    CHECK(frames.back().opcode == 8);
    CHECK(frames.back().payload.substr(0, 2) == close_payload(code));
  }
}

} // namespace

TEST_CASE("websocket frames: protocol violations close with the right code") {
  // Text frames carry no MQTT: 1003.
  check_failure(frame(1, "hello"), ws_close::unsupported_data);
  check_failure(frame(2, "ab", false) + frame(1, "x"),
                ws_close::protocol_error); // text inside a fragmented message
  // Frames from a client must be masked: 1002.
  check_failure(frame(2, "abc", true, false), ws_close::protocol_error);
  // Reserved bits without an extension.
  check_failure(frame(2, "abc", true, true, 4), ws_close::protocol_error);
  // Unknown opcode.
  check_failure(frame(3, "abc"), ws_close::protocol_error);
  // A continuation with nothing to continue.
  check_failure(frame(0, "abc"), ws_close::protocol_error);
  // A fragmented or oversized control frame.
  check_failure(frame(9, "abc", false), ws_close::protocol_error);
  check_failure(frame(9, std::string(126, 'p')), ws_close::protocol_error);
  // A close code that may not be sent.
  check_failure(frame(8, close_payload(1005)), ws_close::protocol_error);
  check_failure(frame(8, close_payload(999)), ws_close::protocol_error);
  // Invalid UTF-8 in a close reason (also an overlong form and a
  // surrogate), wherever the reason is split.
  check_failure(frame(8, close_payload(1000, "ok\xff")),
                ws_close::invalid_payload);
  check_failure(frame(8, close_payload(1000, "\xc0\xaf")),
                ws_close::invalid_payload);
  check_failure(frame(8, close_payload(1000, "\xed\xa0\x80")),
                ws_close::invalid_payload);
  check_failure(frame(8, close_payload(1000, "\xe2\x82")),
                ws_close::invalid_payload);
  // A one-byte close payload.
  check_failure(frame(8, "\x03"), ws_close::protocol_error);
  // Lengths not in their shortest form.
  std::string long16 = frame(2, std::string(200, 'a'));
  long16[1] = static_cast<char>(0x80 | 126);
  long16.replace(2, 2, std::string("\x00\x05", 2));
  check_failure(long16.substr(0, 4 + 4 + 5), ws_close::protocol_error);
}

TEST_CASE("websocket frames: message size limit closes with 1009") {
  ws_session_options opts;
  opts.max_message_size = 100;
  // Exactly at the limit is fine, also when fragmented.
  auto ok = feed_all(frame(2, std::string(60, 'a'), false)
                         + frame(0, std::string(40, 'b')),
                     opts);
  CHECK(ok.error.empty());
  CHECK(ok.data.size() == 100);
  // One frame over the limit: refused before its payload arrives.
  ws_session s{opts};
  std::string big = frame(2, std::string(101, 'x'));
  auto r = s.feed(std::string_view{big}.substr(0, 8));
  CHECK(r.finished);
  CHECK(r.close_code == ws_close::message_too_big);
  CHECK(r.data.empty());
  check_failure(big, ws_close::message_too_big, opts);
  // Fragments that add up to more than the limit.
  check_failure(frame(2, std::string(60, 'a'), false)
                    + frame(0, std::string(41, 'b')),
                ws_close::message_too_big, opts);
  // The count restarts with each message.
  auto two = feed_all(
      frame(2, std::string(90, 'a')) + frame(2, std::string(90, 'b')), opts);
  CHECK(two.error.empty());
  CHECK(two.data.size() == 180);
}
