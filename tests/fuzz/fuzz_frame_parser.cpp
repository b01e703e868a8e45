// libFuzzer target for the MQTT frame parser.
//
// Input: one control byte, then the byte stream. The control byte picks the
// chunk size the stream is fed in and the maximum packet size. The stream is
// parsed by several parsers (server side learning the version from CONNECT,
// client side for each version, `any`), each fed in chunks and compared with
// a parse of the whole input at once: the split must not change the outcome.
// Every packet parsed is encoded again, parsed again, and must come back
// equal (and encode to the same bytes).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"

using namespace castor::mqtt;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "fuzz_frame_parser: %s\n", what);
    abort();
  }
}

struct outcome {
  std::vector<packet> packets;
  bool failed = false;
  reason_code code = reason_code::success;
  std::string cause;
};

outcome run(parser_options opts, std::string_view data, size_t chunk) {
  frame_parser parser{opts};
  outcome out;
  size_t pos = 0;
  while (pos < data.size() && !out.failed) {
    auto n
        = chunk == 0 ? data.size() - pos : std::min(chunk, data.size() - pos);
    std::string_view in = data.substr(pos, n);
    pos += n;
    for (;;) {
      auto r = parser.feed(in);
      if (r.need_more()) {
        check(in.empty(), "need_more with input left");
        break;
      }
      if (r.failed()) {
        check(r.error.code == reason_code::packet_too_large
                  || is_error(r.error.code),
              "error without an error reason code");
        check(!r.error.cause.empty(), "error without a cause");
        out.failed = true;
        out.code = r.error.code;
        out.cause = r.error.cause;
        break;
      }
      check(r.size <= opts.max_packet_size, "packet larger than the limit");
      auto v = parser.version().value_or(protocol_version::v5);
      if (auto c = std::get_if<connect>(&r.pkt))
        v = c->version;
      // Round trip: encode, parse again, compare.
      std::string bytes;
      check(encode(r.pkt, v, bytes) > 0, "parsed packet does not encode");
      check(bytes.size() <= r.size, "re-encoding grew the packet");
      parser_options again;
      again.side = parser_options::role::any;
      again.version = v;
      frame_parser reparser{again};
      std::string_view rin = bytes;
      auto r2 = reparser.feed(rin);
      check(r2.ok(), "re-encoded packet does not parse");
      check(rin.empty(), "re-encoded packet not consumed");
      check(r2.pkt == r.pkt, "round trip changed the packet");
      check(encode(r2.pkt, v) == bytes, "encoding not deterministic");
      out.packets.push_back(std::move(r.pkt));
    }
  }
  // Once failed, the parser stays failed.
  if (out.failed) {
    std::string_view more = "\xc0\x00";
    check(parser.feed(more).failed(), "parser recovered after an error");
  }
  parser.shrink();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  std::string_view stream{reinterpret_cast<const char*>(data + 1), size - 1};
  size_t chunk = (ctl & 0x0F) + 1;
  static constexpr uint32_t limits[] = {64, 512, 4096, 268435460};
  uint32_t max_size = limits[(ctl >> 4) & 0x03];

  using role = parser_options::role;
  struct config {
    role side;
    std::optional<protocol_version> version;
  };
  const config configs[] = {
      {role::server, std::nullopt},
      {role::client, protocol_version::v5},
      {role::client, protocol_version::v311},
      {role::any, std::nullopt},
      {role::any, protocol_version::v311},
  };
  for (auto& c : configs) {
    parser_options opts;
    opts.side = c.side;
    opts.version = c.version;
    opts.max_packet_size = max_size;
    auto whole = run(opts, stream, 0);
    auto split = run(opts, stream, chunk);
    check(whole.packets == split.packets, "split changed the packets");
    check(whole.failed == split.failed, "split changed the outcome");
    check(whole.code == split.code && whole.cause == split.cause,
          "split changed the error");
  }
  return 0;
}
