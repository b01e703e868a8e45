// The resumable frame parser: any split of the stream yields the same
// packets, the size limit applies before the body arrives, whole frames are
// decoded from the input without buffering.

#include <doctest/doctest.h>

#include <random>

#include "protocol/codec.hpp"
#include "test_codec_samples.hpp"

using namespace castor::mqtt;
using namespace castor::mqtt::test;

namespace {

using role = parser_options::role;

std::string stream_of(const std::vector<packet>& pkts, protocol_version v) {
  std::string out;
  for (auto& p : pkts)
    encode(p, v, out);
  return out;
}

/// Feeds `chunks` in order and collects every packet; fails the test on a
/// parse error.
std::vector<packet> feed_all(frame_parser& parser,
                             const std::vector<std::string_view>& chunks) {
  std::vector<packet> out;
  for (auto chunk : chunks) {
    for (;;) {
      auto r = parser.feed(chunk);
      if (r.need_more()) {
        CHECK(chunk.empty());
        break;
      }
      REQUIRE_MESSAGE(r.ok(), r.error.cause);
      out.push_back(std::move(r.pkt));
    }
  }
  return out;
}

parser_options any_v5() {
  parser_options opts;
  opts.side = role::any;
  opts.version = protocol_version::v5;
  return opts;
}

} // namespace

TEST_CASE("parser: every split point of a stream yields the same packets") {
  auto pkts = v5_samples();
  auto bytes = stream_of(pkts, protocol_version::v5);
  std::string_view all = bytes;
  for (size_t i = 0; i <= all.size(); ++i) {
    CAPTURE(i);
    frame_parser parser{any_v5()};
    auto got = feed_all(parser, {all.substr(0, i), all.substr(i)});
    REQUIRE(got.size() == pkts.size());
    CHECK(got == pkts);
    CHECK(parser.buffered() == 0);
  }
}

TEST_CASE("parser: one byte at a time") {
  auto pkts = v5_samples();
  auto bytes = stream_of(pkts, protocol_version::v5);
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < bytes.size(); ++i)
    chunks.emplace_back(bytes.data() + i, 1);
  frame_parser parser{any_v5()};
  auto got = feed_all(parser, chunks);
  CHECK(got == pkts);
}

TEST_CASE("parser: random chunkings of a 3.1.1 stream") {
  std::vector<packet> pkts;
  for (auto& p : v5_samples()) {
    packet q;
    if (as_v311(p, q))
      pkts.push_back(q);
  }
  auto bytes = stream_of(pkts, protocol_version::v311);
  std::mt19937 rng{42};
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> chunks;
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t n = std::uniform_int_distribution<size_t>{1, 64}(rng);
      n = std::min(n, bytes.size() - pos);
      chunks.emplace_back(bytes.data() + pos, n);
      pos += n;
    }
    parser_options opts;
    opts.side = role::any;
    opts.version = protocol_version::v311;
    frame_parser parser{opts};
    auto got = feed_all(parser, chunks);
    CHECK(got == pkts);
  }
}

TEST_CASE("parser: a server learns the version from CONNECT") {
  for (auto v : {protocol_version::v311, protocol_version::v5}) {
    CAPTURE(static_cast<int>(v));
    connect c;
    c.version = v;
    c.client_id = "dev";
    publish p;
    p.topic = "t";
    p.qos = 1;
    p.packet_id = 9;
    p.payload = "x";
    if (v == protocol_version::v5)
      p.props.topic_alias = 1;
    std::vector<packet> pkts = {c, p, pingreq{}, disconnect{}};
    auto bytes = stream_of(pkts, v);
    frame_parser parser; // server side, version unknown
    CHECK(!parser.version());
    std::string_view in = bytes;
    auto got = feed_all(parser, {in});
    CHECK(got == pkts);
    CHECK(parser.version() == v);
  }
}

TEST_CASE("parser: whole frames are decoded in place, partial ones buffered") {
  publish p;
  p.topic = "t";
  p.payload = std::string(5000, 'z');
  auto bytes = encode(p, protocol_version::v5);
  frame_parser parser{any_v5()};
  std::string_view in = bytes;
  auto r = parser.feed(in);
  REQUIRE(r.ok());
  CHECK(r.size == bytes.size());
  CHECK(parser.buffered() == 0);
  // Half a frame is held, the rest completes it.
  std::string_view first{bytes.data(), 2500};
  std::string_view second{bytes.data() + 2500, bytes.size() - 2500};
  r = parser.feed(first);
  CHECK(r.need_more());
  CHECK(first.empty());
  CHECK(parser.buffered() == 2500 - 3); // body bytes, header consumed
  parser.shrink();                      // in use: nothing released
  CHECK(parser.buffered() == 2500 - 3);
  r = parser.feed(second);
  REQUIRE(r.ok());
  CHECK(std::get<publish>(r.pkt) == p);
  CHECK(parser.buffered() == 0);
  parser.shrink();
  // A frame followed by part of the next: only the first is returned, the
  // rest stays in the input for the next call.
  auto two = bytes + bytes.substr(0, 10);
  in = two;
  r = parser.feed(in);
  REQUIRE(r.ok());
  CHECK(in.size() == 10);
  r = parser.feed(in);
  CHECK(r.need_more());
  CHECK(in.empty());
}

TEST_CASE("parser: max_packet_size rejects a frame before its body") {
  parser_options opts = any_v5();
  opts.max_packet_size = 100;
  {
    frame_parser parser{opts};
    // PUBLISH with remaining length 200: only the fixed header is sent.
    std::string header = hex("30 c8 01");
    std::string_view in = header;
    auto r = parser.feed(in);
    REQUIRE(r.failed());
    CHECK(r.error.code == reason_code::packet_too_large);
    CHECK(r.error.cause == "frame_too_large");
    CHECK(r.error.limit == 100);
    CHECK(r.error.received == 203);
    CHECK(parser.buffered() == 0);
  }
  {
    // The largest remaining length is refused without allocating.
    frame_parser parser{opts};
    std::string header = hex("30 ff ff ff 7f");
    std::string_view in = header;
    auto r = parser.feed(in);
    REQUIRE(r.failed());
    CHECK(r.error.code == reason_code::packet_too_large);
    CHECK(r.error.received == 268435455u + 5);
  }
  {
    // Exactly at the limit (fixed header included) passes; one more fails.
    publish p;
    p.topic = "t";
    p.payload = std::string(100 - 2 - 3 - 1, 'a');
    auto bytes = encode(p, protocol_version::v5);
    REQUIRE(bytes.size() == 100);
    frame_parser parser{opts};
    std::string_view in = bytes;
    CHECK(parser.feed(in).ok());
    p.payload.push_back('a');
    bytes = encode(p, protocol_version::v5);
    frame_parser parser2{opts};
    in = bytes;
    auto r = parser2.feed(in);
    REQUIRE(r.failed());
    CHECK(r.error.code == reason_code::packet_too_large);
    CHECK(r.error.received == 101);
  }
  {
    // The limit can change (after CONNECT) and applies to the next frame.
    frame_parser parser{any_v5()};
    parser.set_max_packet_size(10);
    std::string bytes = hex("30 09 00 01 61 00 61 61 61 61 61");
    std::string_view in = bytes;
    auto r = parser.feed(in);
    CHECK(r.failed());
    CHECK(r.error.received == 11);
  }
}

TEST_CASE("parser: errors in the middle of a stream stop it") {
  std::string bytes
      = hex("c0 00") + hex("c0 00") + hex("60 02 00 01") + hex("c0 00");
  frame_parser parser{any_v5()};
  std::string_view in = bytes;
  CHECK(parser.feed(in).ok());
  CHECK(parser.feed(in).ok());
  auto r = parser.feed(in);
  REQUIRE(r.failed());
  CHECK(r.error.code == reason_code::malformed_packet);
  r = parser.feed(in);
  CHECK(r.failed());
  CHECK(r.error.cause == "invalid_fixed_header_flags");
}
