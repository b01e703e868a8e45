// Fuzzes the layered transport of a WebSocket listener (security/transport):
// the HTTP upgrade followed by frames, as one byte stream.
//
// Input: the first byte gives the chunk size (1..256); bit 0 of the second
// picks whether a valid upgrade request is put before the rest (so that the
// frame layer is reached quickly) or the rest is the whole stream. The
// stream is fed once whole and once in chunks; both runs must agree on the
// MQTT bytes, the bytes sent back, whether and why the transport finished.

#include "security/transport.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace castor::security;

namespace {

void check_at(bool condition, int line) {
  if (!condition) {
    std::fprintf(stderr, "fuzz_transport: check on line %d failed\n", line);
    std::abort();
  }
}
#define check(condition) check_at((condition), __LINE__)

const char upgrade[] = "GET /mqtt HTTP/1.1\r\n"
                       "Host: 127.0.0.1\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: mqtt\r\n"
                       "\r\n";

struct run_result {
  std::string data;
  std::string sent;
  std::string error;
  bool closed = false;
  bool established = false;
};

run_result run(const transport_options& opts, std::string_view input,
               size_t chunk) {
  transport t{opts};
  run_result r;
  transport_input in;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    t.read(input.substr(pos, chunk), in);
    if (r.closed) {
      // Nothing more comes out of a finished transport.
      check(in.closed && in.data.empty() && in.to_send.empty());
      continue;
    }
    r.data += in.data;
    r.sent += in.to_send;
    if (!in.error.empty())
      r.error = in.error;
    r.closed = in.closed;
  }
  r.established = t.established();
  check(r.data.size() <= input.size());
  check(r.data.empty() || r.established);
  // Writing works until the transport closed, and never before the upgrade.
  std::string out;
  t.write(std::string_view{"\xc0\x00", 2}, out);
  check(r.closed || !r.established ? out.empty() : out.size() == 4);
  auto bye = t.close();
  check(t.closed());
  if (r.closed || !r.established)
    check(bye.empty());
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  size_t chunk = size_t{data[0]} + 1;
  std::string input;
  if (data[1] & 1)
    input = upgrade;
  input.append(reinterpret_cast<const char*>(data) + 2, size - 2);
  transport_options opts;
  opts.kind = transport_kind::ws;
  opts.websocket.max_message_size = 2048;
  opts.handshake.max_request_size = 1024;
  auto whole = run(opts, input, input.size() + 1);
  auto split = run(opts, input, chunk);
  check(whole.data == split.data);
  check(whole.sent == split.sent);
  check(whole.error == split.error);
  check(whole.closed == split.closed);
  check(whole.established == split.established);
  return 0;
}
