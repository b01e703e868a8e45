// `castor-loadgen --self-test`: checks the generator's own codec and stream
// checks without a broker, so that a broken generator cannot report a
// broker's figures as good.

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "json_doc.hpp"
#include "options.hpp"
#include "scenarios.hpp"
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

/// Options parsed with stderr silenced (refusals print the usage).
std::optional<options> parse_quietly(std::vector<const char*> args) {
  std::fflush(stderr);
  int saved = dup(2);
  int null = ::open("/dev/null", O_WRONLY);
  dup2(null, 2);
  auto o = parse_options(static_cast<int>(args.size()),
                         const_cast<char**>(args.data()));
  std::fflush(stderr);
  dup2(saved, 2);
  ::close(null);
  ::close(saved);
  return o;
}

/// The members of a flat JSON object of numbers and letter-only strings,
/// as "key:value" texts; empty when `doc` is not such an object.
std::vector<std::string> flat_members(const std::string& doc) {
  std::vector<std::string> out;
  if (doc.size() < 2 || doc.front() != '{' || doc.back() != '}')
    return {};
  std::string body = doc.substr(1, doc.size() - 2);
  size_t at = 0;
  while (at <= body.size()) {
    size_t comma = body.find(',', at);
    std::string m = body.substr(
        at, comma == std::string::npos ? std::string::npos : comma - at);
    // "key":value with value a number or a "string" of letters
    size_t colon = m.find(':');
    if (m.size() < 5 || m[0] != '"' || colon == std::string::npos
        || m[colon - 1] != '"' || colon + 1 >= m.size())
      return {};
    std::string v = m.substr(colon + 1);
    bool num = v.find_first_not_of("0123456789") == std::string::npos
               && (v.size() == 1 || v[0] != '0');
    bool str = v.size() >= 2 && v.front() == '"' && v.back() == '"'
               && v.find_first_not_of("abcdefghijklmnopqrstuvwxyz", 1)
                      == v.size() - 1;
    if (str && v.find("seq") != std::string::npos)
      return {}; // the readers would take it for the key
    if (!num && !str)
      return {};
    out.push_back(m);
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  return out;
}

size_t differing(const std::vector<std::string>& a,
                 const std::vector<std::string>& b) {
  if (a.size() != b.size())
    return SIZE_MAX;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    n += a[i] != b[i];
  return n;
}

void test_json_doc() {
  for (uint32_t changed : {1u, 2u})
    for (bool with_time : {false, true})
      for (size_t size : {64, 2048}) {
        json_doc d;
        d.build(size, changed, with_time);
        std::vector<uint8_t> a, b;
        d.render(42, 123456, 1700000000000000000ull, a);
        d.render(42, 123457, 1700000000000001000ull, b);
        std::string sa(a.begin(), a.end()), sb(b.begin(), b.end());
        auto ma = flat_members(sa), mb = flat_members(sb);
        expect(!ma.empty() && !mb.empty(), "JSON document is a flat object");
        expect(sa.size() + 8 >= size && sa.size() <= size + 8,
               "JSON document of about the size asked for");
        expect(size < 2048 || (ma.size() > 100 && d.fields() == ma.size()),
               "a 2 KB JSON document has many fields");
        expect(differing(ma, mb) == changed + (with_time ? 1 : 0),
               "JSON documents differ in the changed fields only");
        json_stamp st;
        expect(read_json_stamp(b.data(), b.size(), st) && st.pid == 42
                   && st.seq == 123457 && st.has_ts == with_time
                   && (!with_time || st.ts == 1700000000000001000ull),
               "JSON document read back (id, sequence, time)");
      }
  json_doc d;
  d.build(2048, 1, false);
  std::vector<uint8_t> a;
  d.render(0, 0, 0, a);
  json_stamp st;
  expect(read_json_stamp(a.data(), a.size(), st) && st.pid == 0 && st.seq == 0,
         "JSON document of message 0");
  d.render(4000000000u, 18446744073709551615ull, 0, a);
  expect(read_json_stamp(a.data(), a.size(), st) && st.pid == 4000000000u
             && st.seq == 18446744073709551615ull,
         "JSON document with the largest numbers");
  auto stamp = [](const char* text, json_stamp& out) {
    return read_json_stamp(reinterpret_cast<const uint8_t*>(text),
                           std::strlen(text), out);
  };
  expect(stamp("{\"f0\": 1, \"seq\" : 42, \"ts\":9, \"pub\":7}", st)
             && st.pid == 7 && st.seq == 42 && st.has_ts && st.ts == 9,
         "JSON stamp with the keys reordered and blanks");
  expect(!stamp("{\"pub\":1}", st) && !stamp("[1,2]", st)
             && !stamp("{\"pub\":\"x\",\"seq\":1}", st) && !stamp("", st)
             && !stamp("{\"pub\":99999999999,\"seq\":1}", st),
         "JSON stamp refuses other documents");
  auto patch = [](const char* text, uint64_t& seq) {
    return read_patch_seq(reinterpret_cast<const uint8_t*>(text),
                          std::strlen(text), seq);
  };
  uint64_t seq = 0;
  expect(patch("[{\"op\":\"replace\",\"path\":\"/seq\",\"value\":42}]", seq)
             && seq == 42,
         "patch: sequence number");
  expect(patch("[{\"op\":\"replace\",\"path\":\"/counter\",\"value\":5},"
               "{\"op\":\"replace\",\"path\":\"/seq\",\"value\":43}]",
               seq)
             && seq == 43,
         "patch: sequence number in the second operation");
  expect(
      patch("[{\"value\": 44, \"path\": \"/seq\", \"op\": \"replace\"}]", seq)
          && seq == 44,
      "patch: keys in another order");
  expect(patch("[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"pub\":1,"
               "\"seq\":45,\"f0\":3}}]",
               seq)
             && seq == 45,
         "patch: the whole document replaced");
  expect(!patch("[{\"op\":\"replace\",\"path\":\"/f1\",\"value\":3}]", seq)
             && !patch("[{\"op\":\"replace\",\"path\":\"/sequence\","
                       "\"value\":9}]",
                       seq)
             && !patch("", seq),
         "patch: none without a sequence number");
}

void test_json_wire() {
  const std::string doc = "{\"pub\":1,\"seq\":2}";
  for (bool v5 : {false, true})
    for (uint8_t qos : {0, 1}) {
      byte_buffer buf;
      encode_publish(buf, v5, "bench/fanout", qos, 9,
                     reinterpret_cast<const uint8_t*>(doc.data()), doc.size(),
                     json_content_type);
      frame f{};
      long used = next_frame(buf.data(), buf.size(), f);
      publish_view pv;
      expect(used > 0 && static_cast<size_t>(used) == buf.size()
                 && frame_wire_size(f.size) == buf.size()
                 && decode_publish(f, v5, pv),
             "PUBLISH with a content type decodes");
      expect(pv.content_type == (v5 ? json_content_type : std::string_view{})
                 && pv.topic == "bench/fanout" && !pv.retain
                 && std::string(reinterpret_cast<const char*>(pv.payload),
                                pv.payload_size)
                        == doc,
             "PUBLISH content type (MQTT 5 only) and payload");
    }
  // The Content Type property's bytes: 0x03, length, text.
  byte_buffer buf;
  encode_publish(buf, true, "t", 0, 0, nullptr, 0, "a/b");
  const uint8_t want[] = {0x30, 10, 0, 1, 't', 6, 0x03, 0, 3, 'a', '/', 'b'};
  expect(buf.size() == sizeof(want)
             && std::memcmp(buf.data(), want, sizeof(want)) == 0,
         "PUBLISH Content Type bytes");
  buf.clear();
  encode_subscribe(buf, true, 1, "$delta/a", 1, 2);
  const uint8_t sub[]
      = {0x82, 14, 0, 1, 0, 0, 8, '$', 'd', 'e', 'l', 't', 'a', '/', 'a', 0x21};
  expect(buf.size() == sizeof(sub)
             && std::memcmp(buf.data(), sub, sizeof(sub)) == 0,
         "SUBSCRIBE with retain handling 2");
  for (size_t n : {20, 120, 200, 20000, 3000000}) {
    byte_buffer b;
    std::vector<uint8_t> p(n, 'x');
    encode_publish(b, true, "bench/0", 1, 1, p.data(), p.size());
    frame f{};
    expect(next_frame(b.data(), b.size(), f) == static_cast<long>(b.size())
               && frame_wire_size(f.size) == b.size(),
           "bytes on the wire of a frame");
  }
  // A server's PUBLISH with RETAIN, a subscription identifier and the
  // patch content type.
  const std::string ct(json_patch_content_type);
  byte_buffer srv = {0x31, 0, 0, 3, 'a', '/', 'b'};
  srv.push_back(static_cast<uint8_t>(2 + 3 + ct.size()));
  srv.push_back(0x0B);
  srv.push_back(5);
  srv.push_back(0x03);
  srv.push_back(0);
  srv.push_back(static_cast<uint8_t>(ct.size()));
  srv.insert(srv.end(), ct.begin(), ct.end());
  srv.push_back('[');
  srv.push_back(']');
  srv[1] = static_cast<uint8_t>(srv.size() - 2);
  frame f{};
  publish_view pv;
  expect(next_frame(srv.data(), srv.size(), f) == static_cast<long>(srv.size())
             && decode_publish(f, true, pv) && pv.retain
             && pv.content_type == json_patch_content_type
             && pv.payload_size == 2,
         "server PUBLISH: retain, properties, patch content type");
}

void test_json_options() {
  auto o = parse_quietly({"lg", "--scenario", "fan-out", "--json-doc", "2048",
                          "--delta", "--changed-fields", "2"});
  expect(o && o->json_doc == 2048 && o->delta && o->changed_fields == 2,
         "JSON and delta options");
  expect(!parse_quietly({"lg", "--scenario", "fan-out", "--json-doc", "2048",
                         "--delta", "--protocol", "3.1.1"}),
         "--delta needs MQTT 5");
  expect(!parse_quietly({"lg", "--scenario", "fan-out", "--delta"}),
         "--delta needs --json-doc");
  expect(!parse_quietly({"lg", "--scenario", "overload", "--json-doc", "64"}),
         "no JSON documents in overload");
  expect(!parse_quietly({"lg", "--json-doc", "64", "--changed-fields", "3"}),
         "at most two changed fields");
}

void test_request_wire() {
  // Response Topic and Correlation Data (binary, with a zero byte), exact
  // bytes: properties 0x08 and 0x09, each with a two-byte length.
  const std::string corr("\x01\x00\x02", 3);
  publish_properties props;
  props.response_topic = "r/1";
  props.correlation_data = corr;
  byte_buffer buf;
  const uint8_t pl[] = {'p', 'q'};
  encode_publish(buf, true, "q/1", 0, 0, pl, sizeof(pl), props);
  const uint8_t want[] = {0x30, 20,  0, 3,   'q', '/', '1', 12, 0x08, 0,
                          3,    'r', '/', '1', 0x09, 0,   3,   1,  0,    2,
                          'p',  'q'};
  expect(buf.size() == sizeof(want)
             && std::memcmp(buf.data(), want, sizeof(want)) == 0,
         "PUBLISH Response Topic and Correlation Data bytes");
  // Every split of it (and a PUBACK behind it), then the whole.
  encode_ack(buf, packet_kind::puback, 3);
  frame f{};
  bool early = false;
  for (size_t cut = 0; cut < sizeof(want); ++cut)
    early = early || next_frame(buf.data(), cut, f) != 0;
  expect(!early, "a truncated request was taken for a whole frame");
  request_view pv;
  expect(next_frame(buf.data(), buf.size(), f)
                 == static_cast<long>(sizeof(want))
             && decode_publish(f, true, pv) && pv.topic == "q/1"
             && pv.response_topic == "r/1" && pv.correlation_data == corr
             && pv.content_type.empty() && pv.payload_size == 2
             && pv.payload[0] == 'p',
         "request decodes: Response Topic, Correlation Data, payload");
  publish_view plain;
  expect(decode_publish(f, true, plain) && plain.topic == "q/1"
             && plain.payload_size == 2 && plain.payload[1] == 'q',
         "a request decodes as a plain PUBLISH too");
  // All three properties, QoS 1, a large payload; a decoded view is reset
  // by the next decode (no stale properties).
  for (uint8_t qos : {0, 1}) {
    byte_buffer b;
    std::vector<uint8_t> big(20000, 'z');
    publish_properties all;
    all.content_type = "application/json";
    all.response_topic = "$castor/resp/abc";
    all.correlation_data = corr;
    encode_publish(b, true, "bench/req/7", qos, 99, big.data(), big.size(),
                   all);
    encode_publish(b, true, "bench/x", 0, 0, big.data(), 1);
    frame g{};
    long used = next_frame(b.data(), b.size(), g);
    request_view v;
    expect(used > 0 && decode_publish(g, true, v)
               && v.content_type == "application/json"
               && v.response_topic == "$castor/resp/abc"
               && v.correlation_data == corr && v.payload_size == big.size()
               && (qos == 0 || v.packet_id == 99)
               && frame_wire_size(g.size) == static_cast<size_t>(used),
           "PUBLISH with all three properties");
    frame h{};
    expect(next_frame(b.data() + used, b.size() - used, h) > 0
               && decode_publish(h, true, v) && v.response_topic.empty()
               && v.correlation_data.empty() && v.content_type.empty()
               && v.topic == "bench/x",
           "no stale properties after the next decode");
  }
  // Empty properties: the same bytes as the plain encoder; 3.1.1 drops them.
  for (bool v5 : {false, true}) {
    byte_buffer a, b, c;
    encode_publish(a, v5, "bench/1", 1, 5, pl, sizeof(pl));
    encode_publish(b, v5, "bench/1", 1, 5, pl, sizeof(pl),
                   publish_properties{});
    encode_publish(c, v5, "bench/1", 1, 5, pl, sizeof(pl), props);
    expect(a == b, "empty properties: the plain PUBLISH");
    expect(v5 || a == c, "3.1.1: no properties");
  }
  // A server's PUBLISH: Correlation Data before Response Topic, a user
  // property and a subscription identifier among them.
  byte_buffer srv = {0x30, 0, 0, 1, 't'};
  const uint8_t p5[] = {0x09, 0, 2,   'c', 'd', 0x26, 0,   1,   'k', 0,
                        1,    'v', 0x0B, 3,  0x08, 0,    2,   'r', 't'};
  srv.push_back(sizeof(p5));
  srv.insert(srv.end(), p5, p5 + sizeof(p5));
  srv.push_back('x');
  srv[1] = static_cast<uint8_t>(srv.size() - 2);
  request_view sv;
  expect(next_frame(srv.data(), srv.size(), f) == static_cast<long>(srv.size())
             && decode_publish(f, true, sv) && sv.correlation_data == "cd"
             && sv.response_topic == "rt" && sv.payload_size == 1,
         "server PUBLISH: Correlation Data, user property, Response Topic");
  // A Correlation Data length past the property block is malformed.
  byte_buffer bad = {0x30, 8, 0, 1, 't', 4, 0x09, 0, 5, 'c'};
  expect(next_frame(bad.data(), bad.size(), f) == static_cast<long>(bad.size())
             && !decode_publish(f, true, sv),
         "Correlation Data longer than the properties is malformed");
}

void test_request_options() {
  auto o = parse_quietly({"lg", "--scenario", "request"});
  expect(o && o->requesters == 1 && o->window == 1 && !o->handler_castor
             && o->record_latency && o->qos == 0,
         "request defaults: 1 requester, 1 in flight, mqtt handler");
  o = parse_quietly({"lg", "--scenario", "request", "--requesters", "100",
                     "--handler-mode", "castor", "--window", "4"});
  expect(o && o->requesters == 100 && o->handler_castor && o->window == 4,
         "request options");
  expect(!parse_quietly({"lg", "--scenario", "request", "--handler-mode",
                         "http"}),
         "unknown handler mode");
  expect(!parse_quietly({"lg", "--scenario", "request", "--protocol",
                         "3.1.1"}),
         "request needs MQTT 5");
  expect(!parse_quietly({"lg", "--scenario", "request", "--qos", "1"}),
         "request is QoS 0");
  expect(is_ok_answer(R"({"ok": true})") && is_ok_answer("{\"ok\":true}")
             && is_ok_answer(R"({ "ok" : true, "id": 3 })")
             && is_ok_answer(R"({"handler": {"path": "a"}, "ok": true})"),
         "API success answers");
  expect(!is_ok_answer(R"({"ok": false, "error": {"code": "X"}})")
             && !is_ok_answer(R"({"ok": true)") && !is_ok_answer("")
             && !is_ok_answer(R"({"ok": truex})")
             && !is_ok_answer(R"({"e": {"ok": true}, "ok": false})")
             && !is_ok_answer(R"({"e": "\"ok\":true", "ok": 1})")
             && !is_ok_answer(R"([{"ok": true}])")
             && !is_ok_answer(R"({"e": "a\", \"ok\": true", "ok": 0})"),
         "API error answers");
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
  test_json_doc();
  test_json_wire();
  test_json_options();
  test_request_wire();
  test_request_options();
  std::printf("self-test: %d checks, %d passed, %d failed\n", checks,
              checks - failures, failures);
  return failures == 0 ? 0 : 1;
}

} // namespace castor::bench
