// Ordinary HTTP requests on http listeners: the transport returns each
// request whole (head and body, at every split point), answers it, keeps
// the connection for the next one or closes it, and still upgrades the
// MQTT path to WebSocket. Also the request and response helpers.

#include <doctest/doctest.h>

#include <string>

#include "security/http_message.hpp"
#include "security/transport.hpp"

using namespace castor;
using namespace castor::security;

namespace {

transport_options http_options() {
  transport_options o;
  o.kind = transport_kind::http;
  o.handshake.serve_http = true;
  o.handshake.max_body_size = 64;
  return o;
}

const std::string get_health = "GET /health?x=1 HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\n"
                               "Accept: */*\r\n\r\n";

const std::string post_topic = "POST /api/v1/topics/a%2Fb HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 11\r\n\r\n"
                               "{\"value\":1}";

const std::string upgrade = "GET /mqtt HTTP/1.1\r\n"
                            "Host: 127.0.0.1:8080\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Protocol: mqtt\r\n"
                            "\r\n";

} // namespace

TEST_CASE("http: a request with a body arrives whole at every split point") {
  auto opts = http_options();
  for (size_t split = 0; split <= post_topic.size(); ++split) {
    CAPTURE(split);
    transport t{opts};
    transport_input in;
    t.read(std::string_view{post_topic}.substr(0, split), in);
    if (split < post_topic.size()) {
      CHECK_FALSE(in.http.has_value());
      CHECK_FALSE(in.closed);
      t.read(std::string_view{post_topic}.substr(split), in);
    }
    REQUIRE(in.http.has_value());
    CHECK(in.http->method == "POST");
    CHECK(in.http->path == "/api/v1/topics/a/b");
    CHECK(in.http->query.empty());
    CHECK(in.http->body == "{\"value\":1}");
    REQUIRE(in.http->header("content-type") != nullptr);
    CHECK(*in.http->header("content-type") == "application/json");
    CHECK(in.http->keep_alive);
    CHECK(in.data.empty());
    CHECK(t.http_busy());
  }
}

TEST_CASE("http: keep-alive, pipelined requests and the upgrade behind them") {
  auto opts = http_options();
  transport t{opts};
  transport_input in;
  // Two requests and an upgrade in one read: one at a time.
  t.read(get_health + post_topic + upgrade, in);
  REQUIRE(in.http.has_value());
  CHECK(in.http->path == "/health");
  CHECK(in.http->query == "x=1");
  CHECK(in.http->query_param("x") == "1");
  CHECK_FALSE(t.established());
  // Nothing more is parsed until the answer.
  t.read("", in);
  CHECK_FALSE(in.http.has_value());
  std::string out;
  http::response r;
  r.body = "{}";
  t.respond(r, false, true, out);
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("Connection: keep-alive\r\n") != std::string::npos);
  CHECK(out.find("Content-Length: 2\r\n") != std::string::npos);
  t.resume(in);
  REQUIRE(in.http.has_value());
  CHECK(in.http->method == "POST");
  out.clear();
  t.respond(r, false, true, out);
  t.resume(in);
  CHECK_FALSE(in.http.has_value());
  CHECK(in.to_send.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(t.established());
  // A request read while the one before is answered waits for it.
  transport t2{opts};
  t2.read(get_health, in);
  REQUIRE(in.http.has_value());
  t2.read(post_topic.substr(0, 30), in);
  CHECK_FALSE(in.http.has_value());
  t2.read(post_topic.substr(30), in);
  CHECK_FALSE(in.http.has_value());
  out.clear();
  t2.respond(r, false, true, out);
  t2.resume(in);
  REQUIRE(in.http.has_value());
  CHECK(in.http->body == "{\"value\":1}");
}

TEST_CASE("http: without keep-alive the transport closes after the answer") {
  auto opts = http_options();
  transport t{opts};
  transport_input in;
  t.read("GET /version HTTP/1.0\r\n\r\n", in);
  REQUIRE(in.http.has_value());
  CHECK_FALSE(in.http->keep_alive);
  std::string out;
  http::response r;
  t.respond(r, true, false, out);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
  CHECK(t.closed());
  // HEAD: the headers alone, with the body's length.
  CHECK(out.size() == out.find("\r\n\r\n") + 4);
}

TEST_CASE("http: bounds and malformed requests get an error and close") {
  auto opts = http_options();
  auto refused = [&](const std::string& request, int status) {
    transport t{opts};
    transport_input in;
    t.read(request, in);
    CHECK_FALSE(in.http.has_value());
    CHECK(in.closed);
    CHECK(in.to_send.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0)
          == 0);
  };
  refused("POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"
              + std::string(65, 'x'),
          413);
  refused("POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          "41\r\n"
              + std::string(65, 'x') + "\r\n0\r\n\r\n",
          413);
  refused("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 431);
  refused("BREW /pot HTTP/1.1\r\n\r\n", 400);
  refused("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400);
  // Pipelined bytes beyond the bounds while a request is answered.
  transport t{opts};
  transport_input in;
  t.read(get_health, in);
  REQUIRE(in.http.has_value());
  t.read(std::string(9000, 'a'), in);
  CHECK(in.closed);
}

TEST_CASE("http: a ws listener still refuses ordinary requests") {
  transport_options o;
  o.kind = transport_kind::ws;
  transport t{o};
  transport_input in;
  t.read(get_health, in);
  CHECK_FALSE(in.http.has_value());
  CHECK(in.closed);
  CHECK(in.to_send.rfind("HTTP/1.1 404 ", 0) == 0);
}

TEST_CASE("http: query parameters, percent decoding and error answers") {
  http::request req;
  req.query = "selector=%3Fa%2F.*&values=false&q=a+b&flag&bad=%zz";
  CHECK(req.query_param("selector") == "?a/.*");
  CHECK(req.query_param("values") == "false");
  CHECK(req.query_param("q") == "a b");
  CHECK(req.has_query_param("flag"));
  CHECK_FALSE(req.has_query_param("nope"));
  CHECK(req.query_param("nope").empty());
  CHECK(req.query_param("bad").empty());
  std::string out;
  CHECK(http::percent_decode("a%20b%2f", out));
  CHECK(out == "a b/");
  CHECK_FALSE(http::percent_decode("a%2", out));
  CHECK_FALSE(http::percent_decode("%", out));
  auto e = http::error_response(404, "NO_SUCH_TOPIC", "no \"x\"");
  CHECK(e.status == 404);
  CHECK(e.body
        == "{\"error\":{\"code\":\"NO_SUCH_TOPIC\",\"message\":\"no "
           "\\\"x\\\"\"},\"ok\":false}\n");
  CHECK(http::reason_phrase(503) == "Service Unavailable");
  CHECK(to_string(transport_kind::https) == std::string{"https"});
  CHECK(transport_kind_of("http") == transport_kind::http);
  CHECK(uses_tls(transport_kind::https));
  CHECK(serves_http(transport_kind::http));
  CHECK_FALSE(serves_http(transport_kind::ws));
}
