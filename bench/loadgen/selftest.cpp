// `castor-loadgen --self-test`: checks the generator's own codec and stream
// checks without a broker, so that a broken generator cannot report a
// broker's figures as good.

#include <cstdio>
#include <cstring>
#include <string>

#include "options.hpp"
#include "stats.hpp"
#include "wire.hpp"

namespace castor::bench {

namespace {

int failures = 0;
int checks = 0;

void expect(bool ok, const char* what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what);
  }
}

void test_publish_round_trip(bool v5, uint8_t qos, size_t payload_size) {
  byte_buffer buf;
  std::string payload(payload_size, 'x');
  for (size_t i = 0; i < payload_size; ++i)
    payload[i] = static_cast<char>(i * 7);
  encode_publish(buf, v5, "bench/42", qos, 513,
                 reinterpret_cast<const uint8_t*>(payload.data()),
                 payload.size());
  // A second packet right behind it, and every split of the first.
  encode_ack(buf, packet_kind::puback, 7);
  frame f{};
  for (size_t cut = 0; cut < buf.size() - 4; ++cut)
    if (next_frame(buf.data(), cut, f) != 0) {
      expect(false, "a truncated PUBLISH was taken for a whole frame");
      return;
    }
  long used = next_frame(buf.data(), buf.size(), f);
  expect(used > 0 && static_cast<size_t>(used) == buf.size() - 4,
         "PUBLISH frame length");
  expect(f.kind == packet_kind::publish, "PUBLISH frame kind");
  publish_view pv;
  expect(decode_publish(f, v5, pv), "PUBLISH decodes");
  expect(pv.qos == qos, "PUBLISH QoS");
  expect(pv.topic == "bench/42", "PUBLISH topic");
  expect(qos == 0 || pv.packet_id == 513, "PUBLISH packet id");
  expect(pv.payload_size == payload.size()
             && std::memcmp(pv.payload, payload.data(), payload.size()) == 0,
         "PUBLISH payload");
  frame g{};
  long used2 = next_frame(buf.data() + used, buf.size() - used, g);
  ack_view a;
  expect(used2 == 4 && g.kind == packet_kind::puback && decode_ack(g, a)
             && a.packet_id == 7 && a.reason == 0,
         "PUBACK after PUBLISH");
}

void test_connack() {
  // MQTT 5 CONNACK with Receive Maximum 20, a reason string and a user
  // property before it.
  const uint8_t bytes[] = {0x20, 0x16, 0x00, 0x00, 0x13, 0x1F, 0x00, 0x02,
                           'o',  'k',  0x26, 0x00, 0x01, 'k',  0x00, 0x01,
                           'v',  0x21, 0x00, 0x14, 0x24, 0x01, 0x25, 0x01};
  frame f{};
  expect(next_frame(bytes, sizeof(bytes), f) == sizeof(bytes),
         "CONNACK frame length");
  connack_view ca;
  expect(decode_connack(f, true, ca), "CONNACK decodes");
  expect(ca.reason == 0 && ca.receive_maximum == 20, "CONNACK Receive Maximum");
  const uint8_t v3[] = {0x20, 0x02, 0x00, 0x05};
  expect(next_frame(v3, sizeof(v3), f) == 4 && decode_connack(f, false, ca)
             && ca.reason == 5,
         "3.1.1 CONNACK return code");
  const uint8_t bad[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  expect(next_frame(bad, sizeof(bad), f) < 0, "malformed Remaining Length");
}

void test_connect_bytes() {
  byte_buffer buf;
  encode_connect(buf, false, "ab", 60, 0);
  const uint8_t want[]
      = {0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'a', 'b'};
  expect(buf.size() == sizeof(want)
             && std::memcmp(buf.data(), want, sizeof(want)) == 0,
         "3.1.1 CONNECT bytes");
  buf.clear();
  encode_subscribe(buf, true, 1, "a/#", 1);
  const uint8_t sub[] = {0x82, 9, 0, 1, 0, 0, 3, 'a', '/', '#', 1};
  expect(buf.size() == sizeof(sub)
             && std::memcmp(buf.data(), sub, sizeof(sub)) == 0,
         "MQTT 5 SUBSCRIBE bytes");
  buf.clear();
  encode_ack(buf, packet_kind::pubrel, 0x0102);
  const uint8_t rel[] = {0x62, 2, 1, 2};
  expect(buf.size() == 4 && std::memcmp(buf.data(), rel, 4) == 0,
         "PUBREL bytes (flags 0010)");
}

void test_sequence_checker() {
  using v = sequence_checker::verdict;
  sequence_checker c;
  expect(c.observe(1, 0) == v::in_order, "first message in order");
  expect(c.observe(1, 1) == v::in_order, "second message in order");
  expect(c.observe(1, 4) == v::gap, "gap detected");
  expect(c.observe(1, 2) == v::late, "late arrival counted as reordering");
  expect(c.observe(1, 2) == v::duplicate, "repeat counted as duplicate");
  expect(c.observe(1, 4) == v::duplicate, "repeat of the newest");
  expect(c.observe(2, 0) == v::in_order, "streams are separate");
  auto inf = c.info(1);
  expect(inf.expected == 5 && inf.missing == 1 && inf.first_missing == 3,
         "stream info names the missing message");
  expect(c.duplicates() == 2 && c.reordered() == 1, "totals");
}

void test_latency() {
  latency_recorder r;
  r.start(1000000000ull);
  for (uint64_t i = 0; i < 1000; ++i) // second 0: 1..1000 us
    r.add(1000000000ull + i * 1000, 1000000000ull + i * 1000 + (i + 1) * 1000);
  for (uint64_t i = 0; i < 100; ++i) // second 1: all 5 ms
    r.add(2000000000ull + i, 2000000000ull + i + 5000000);
  r.add(500, 600); // before the window: ignored
  auto s = r.summarize();
  expect(s.samples == 1100, "latency sample count");
  expect(s.seconds == 2, "per-second buckets");
  expect(s.max_us == 5000, "latency max");
  expect(s.p50_us > 500 && s.p50_us < 600, "latency p50");
  // per-second p99s: ~990 us and 5000 us; the median of two is their mean
  expect(s.median_p99_per_s_us > 2900 && s.median_p99_per_s_us < 3100,
         "median of per-second p99s");
}

void test_loopback_only() {
  expect(is_loopback("127.0.0.1") && is_loopback("127.1.2.3")
             && is_loopback("::1") && is_loopback("localhost"),
         "loopback hosts accepted");
  expect(!is_loopback("10.0.0.1") && !is_loopback("192.168.1.1")
             && !is_loopback("::") && !is_loopback("0.0.0.0")
             && !is_loopback("example.com") && !is_loopback("128.0.0.1"),
         "other hosts refused");
}

} // namespace

int run_self_test() {
  for (bool v5 : {false, true})
    for (uint8_t qos : {0, 1, 2})
      for (size_t n : {20, 64, 200, 20000})
        test_publish_round_trip(v5, qos, n);
  test_connack();
  test_connect_bytes();
  test_sequence_checker();
  test_latency();
  test_loopback_only();
  std::printf("self-test: %d checks, %d passed, %d failed\n", checks,
              checks - failures, failures);
  return failures == 0 ? 0 : 1;
}

} // namespace castor::bench
