// WebSocket robustness: random frame sequences and random bytes, fed in
// random splits, give the same outcome as one feed; mutated upgrade requests
// always end in a well-formed answer. Fixed seeds: failures reproduce.

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "security/websocket.hpp"

using namespace castor::security;

namespace {

std::string masked_frame(std::mt19937& rng, uint8_t opcode,
                         std::string_view payload, bool fin) {
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
  char key[4];
  for (auto& k : key)
    k = static_cast<char>(rng());
  out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out += static_cast<char>(payload[i] ^ key[i % 4]);
  return out;
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

struct outcome {
  std::string data;
  std::string sent;
  std::vector<std::pair<int, std::string>> controls;
  std::string error;
  bool finished = false;
  uint16_t close_code = 0;

  void add(ws_result r) {
    data += r.data;
    sent += r.to_send;
    for (auto& c : r.controls)
      controls.emplace_back(c.kind * 100000 + c.code, c.payload);
    if (error.empty())
      error = r.error;
    finished = finished || r.finished;
    if (r.close_code != 0)
      close_code = r.close_code;
  }

  bool operator==(const outcome& o) const {
    return data == o.data && sent == o.sent && controls == o.controls
           && error == o.error && finished == o.finished
           && close_code == o.close_code;
  }
};

outcome feed_random_splits(std::mt19937& rng, std::string_view stream,
                           ws_session_options opts) {
  ws_session s{opts};
  outcome o;
  while (!stream.empty()) {
    size_t n = std::min<size_t>(stream.size(), 1 + rng() % 40);
    o.add(s.feed(stream.substr(0, n)));
    stream.remove_prefix(n);
  }
  return o;
}

} // namespace

TEST_CASE("websocket random: valid streams in random splits") {
  std::mt19937 rng{20261125};
  for (int round = 0; round < 300; ++round) {
    std::string stream;
    std::string expected;
    std::vector<std::string> pings;
    int messages = 1 + static_cast<int>(rng() % 5);
    for (int m = 0; m < messages; ++m) {
      int fragments = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < fragments; ++f) {
        size_t len = rng() % 4 == 0 ? 126 + rng() % 400 : rng() % 30;
        auto payload = random_bytes(rng, len);
        expected += payload;
        stream
            += masked_frame(rng, f == 0 ? 2 : 0, payload, f + 1 == fragments);
        if (rng() % 3 == 0) {
          auto ping = random_bytes(rng, rng() % 20);
          pings.push_back(ping);
          stream += masked_frame(rng, 9, ping, true);
        }
      }
    }
    ws_session_options opts;
    ws_session whole{opts};
    outcome once;
    once.add(whole.feed(stream));
    REQUIRE(once.error.empty());
    CHECK(once.data == expected);
    REQUIRE(once.controls.size() == pings.size());
    for (size_t i = 0; i < pings.size(); ++i)
      CHECK(once.controls[i].second == pings[i]);
    CHECK(feed_random_splits(rng, stream, opts) == once);
  }
}

TEST_CASE("websocket random: arbitrary bytes never depend on the split") {
  std::mt19937 rng{42};
  ws_session_options opts;
  opts.max_message_size = 4096;
  int failed = 0;
  for (int round = 0; round < 2000; ++round) {
    // Mostly plausible first bytes, so that parsing gets somewhere.
    std::string stream;
    if (rng() % 2 == 0)
      stream += masked_frame(rng, 2, random_bytes(rng, rng() % 50),
                             rng() % 2 == 0);
    stream += random_bytes(rng, rng() % 200);
    ws_session whole{opts};
    outcome once;
    once.add(whole.feed(stream));
    CHECK(feed_random_splits(rng, stream, opts) == once);
    if (!once.error.empty()) {
      ++failed;
      CHECK(once.finished);
      CHECK(once.close_code >= 1002);
      CHECK(once.close_code <= 1009);
    }
  }
  CHECK(failed > 0);
}

TEST_CASE("websocket random: mutated upgrade requests get a proper answer") {
  std::mt19937 rng{7};
  const std::string base = "GET /mqtt HTTP/1.1\r\n"
                           "Host: x\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  int upgraded = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string req = base;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % req.size();
      switch (rng() % 3) {
      case 0:
        req[pos] = static_cast<char>(rng());
        break;
      case 1:
        req.erase(pos, 1 + rng() % 5);
        break;
      default:
        req.insert(pos, 1, static_cast<char>(rng()));
      }
    }
    ws_handshake hs;
    ws_handshake_result r;
    std::string_view rest = req;
    while (!rest.empty() && r.status == ws_handshake_status::need_more) {
      size_t n = std::min<size_t>(rest.size(), 1 + rng() % 64);
      r = hs.feed(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    if (r.status == ws_handshake_status::upgraded) {
      ++upgraded;
      CHECK(r.response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    } else if (r.status == ws_handshake_status::rejected) {
      ++rejected;
      CHECK(r.response.rfind("HTTP/1.1 4", 0) == 0);
      CHECK(r.response.find("\r\n\r\n") != std::string::npos);
    }
  }
  CHECK(upgraded > 0);
  CHECK(rejected > 0);
}
