// `castor-loadgen --self-test`: checks the generator's own codec and stream
// checks without a broker, so that a broken generator cannot report a
// broker's figures as good.

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

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

void test_sequence_gaps() {
  using v = sequence_checker::verdict;
  sequence_checker c;
  // 0..9 arrive, 10..999 are lost, 1000 arrives; then 500 late, which
  // splits the gap; then the ends of both halves.
  for (uint64_t s = 0; s < 10; ++s)
    c.observe(7, s);
  expect(c.observe(7, 1000) == v::gap, "wide gap");
  auto inf = c.info(7);
  expect(inf.expected == 1001 && inf.missing == 990 && inf.first_missing == 10,
         "a wide gap is counted message by message");
  expect(c.observe(7, 500) == v::late, "late arrival inside a wide gap");
  expect(c.observe(7, 10) == v::late && c.observe(7, 999) == v::late,
         "late arrivals at both ends of a gap");
  expect(c.observe(7, 500) == v::duplicate, "a late arrival repeated");
  auto g = c.gaps(7);
  expect(g.size() == 2 && g[0].first == 11 && g[0].second == 500
             && g[1].first == 501 && g[1].second == 999,
         "the gap is split around late arrivals");
  expect(c.info(7).missing == 987 && c.info(7).first_missing == 11,
         "missing count after late arrivals");
  expect(c.seen(7, 0) && c.seen(7, 10) && c.seen(7, 500) && c.seen(7, 999)
             && c.seen(7, 1000),
         "seen: arrived messages");
  expect(!c.seen(7, 11) && !c.seen(7, 499) && !c.seen(7, 501) && !c.seen(7, 998)
             && !c.seen(7, 1001) && !c.seen(8, 0),
         "seen: missing, future and unknown messages");
  // Ten million lost in one gap cost one entry, not ten million.
  sequence_checker big;
  big.observe(1, 10000000);
  expect(big.info(1).missing == 10000000 && big.gaps(1).size() == 1,
         "a huge gap is one range");
}

void test_ack_ledger() {
  // Publisher 3 sent 0..9. The broker acknowledged 0..7 (6 with a failure
  // reason: not in the ledger) and delivered 0..3, 5, 8 and 9 (8 and 9
  // never acknowledged: in flight at the end).
  ack_ledger l;
  l.resize(4);
  for (uint64_t s : {0, 1, 2, 3, 4, 5, 7})
    l.acknowledge(3, s);
  sequence_checker c;
  for (uint64_t s : {0, 1, 2, 3, 5, 8, 9})
    c.observe(3, s);
  auto t = l.compare(3, c);
  expect(t.acked == 7, "ledger: acknowledged count");
  expect(t.acked_lost == 2 && t.first_lost == 4,
         "ledger: acknowledged but never delivered (4 and 7)");
  expect(t.delivered_unacked == 2, "ledger: delivered but not acknowledged");
  expect(l.acknowledged(3, 7) && !l.acknowledged(3, 6)
             && !l.acknowledged(3, 100) && !l.acknowledged(9, 0),
         "ledger: lookups");
  // Acknowledged messages beyond everything delivered are lost too, and a
  // publisher the subscriber never heard from loses all of them.
  l.acknowledge(3, 20);
  l.acknowledge(1, 0);
  l.acknowledge(1, 1);
  expect(l.compare(3, c).acked_lost == 3, "ledger: lost tail");
  auto t1 = l.compare(1, c);
  expect(t1.acked == 2 && t1.acked_lost == 2 && t1.first_lost == 0,
         "ledger: silent publisher");
  auto t2 = l.compare(2, c);
  expect(t2.acked == 0 && t2.acked_lost == 0 && t2.delivered_unacked == 0,
         "ledger: idle publisher");
  // Nothing lost: every acknowledged message arrived, some more than once.
  ack_ledger ok;
  sequence_checker d;
  for (uint64_t s = 0; s < 100; ++s) {
    ok.acknowledge(0, s);
    d.observe(0, s);
  }
  d.observe(0, 50);
  auto t3 = ok.compare(0, d);
  expect(t3.acked == 100 && t3.acked_lost == 0 && t3.delivered_unacked == 0
             && d.duplicates() == 1,
         "ledger: a duplicate is not a loss");
}

void test_pacer() {
  byte_pacer p;
  const uint64_t s = 1000000000ull;
  p.start(s, 1000, 300); // 1,000 bytes/s, bursts of 300
  expect(p.available(s) == 0, "pacer starts empty");
  expect(p.available(s + s / 10) == 100, "pacer refills with time");
  p.consume(60);
  expect(p.available(s + s / 10) == 40, "pacer consumes");
  expect(p.available(s + 10 * s) == 300, "pacer caps bursts");
  p.consume(300);
  expect(p.available(s + 10 * s) == 0, "pacer empty after a burst");
  expect(p.available(s + 10 * s + s / 2) == 300,
         "pacer refills after a burst (capped)");
  expect(written_in_full(10, 0, 80) == 10, "written: nothing pending");
  expect(written_in_full(10, 80, 80) == 9, "written: one frame pending");
  expect(written_in_full(10, 81, 80) == 8, "written: a frame in part");
  expect(written_in_full(1, 800, 80) == 0, "written: never negative");
}

void test_overload_options() {
  const char* a1[] = {"lg", "--scenario", "overload"};
  auto o = parse_options(3, const_cast<char**>(a1));
  expect(o && o->qos == 1 && o->publishers == 100 && o->subscribers == 1
             && o->credit == 0 && o->sub_receive_maximum == 10
             && o->sub_rcvbuf == 4096 && o->topics == 1,
         "overload defaults");
  const char* a2[] = {"lg", "--scenario", "overload", "--window", "8"};
  // The refusal prints the usage: not here.
  std::fflush(stderr);
  int saved = dup(2);
  int null = ::open("/dev/null", O_WRONLY);
  dup2(null, 2);
  auto o2 = parse_options(5, const_cast<char**>(a2));
  std::fflush(stderr);
  dup2(saved, 2);
  ::close(null);
  ::close(saved);
  expect(!o2, "overload publishers take no window");
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
  test_sequence_gaps();
  test_ack_ledger();
  test_pacer();
  test_overload_options();
  test_latency();
  test_loopback_only();
  std::printf("self-test: %d checks, %d passed, %d failed\n", checks,
              checks - failures, failures);
  return failures == 0 ? 0 : 1;
}

} // namespace castor::bench
