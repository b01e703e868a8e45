// session_state: the in-flight window, the bounded queue, retransmission on
// resume, message expiry, flow pauses and the slow consumer policy.

#include <doctest/doctest.h>

#include <chrono>

#include "protocol/session_state.hpp"

using namespace castor::mqtt;

namespace {

steady_time t0 = std::chrono::steady_clock::now();

delivery make(const std::string& payload, uint8_t qos,
              std::optional<uint32_t> expiry = std::nullopt) {
  publish p;
  p.topic = "a/b";
  p.payload = payload;
  p.qos = qos;
  if (expiry)
    p.props.message_expiry_interval = *expiry;
  delivery d;
  d.msg = make_message(std::move(p), "origin", t0);
  d.qos = qos;
  return d;
}

std::vector<std::string> payloads(const std::vector<outbound>& out) {
  std::vector<std::string> result;
  for (auto& o : out)
    result.push_back(o.msg ? o.msg->payload : "PUBREL");
  return result;
}

} // namespace

TEST_CASE("subscribe reports whether the filter existed") {
  session_state s;
  subscription sub;
  sub.filter = "a/+";
  CHECK_FALSE(s.subscribe(sub, 0));
  CHECK(s.subscribe(sub, 7));
  CHECK(s.subscriptions().at("a/+").subscription_id == 7);
  CHECK(s.unsubscribe("a/+"));
  CHECK_FALSE(s.unsubscribe("a/+"));
}

TEST_CASE("the in-flight window follows the client's receive maximum") {
  session_state s;
  std::vector<outbound> out;
  s.attach(2, t0, out);
  CHECK(out.empty());
  for (auto p : {"1", "2", "3", "4"})
    s.enqueue(make(p, 1), t0, out);
  REQUIRE(out.size() == 2);
  CHECK(payloads(out) == std::vector<std::string>{"1", "2"});
  CHECK(out[0].packet_id != out[1].packet_id);
  CHECK(s.inflight_count() == 2);
  CHECK(s.queued_count() == 2);
  auto first = out[0].packet_id;
  out.clear();
  s.on_puback(first, t0, out);
  CHECK(payloads(out) == std::vector<std::string>{"3"});
  // A QoS 0 message does not overtake queued ones.
  out.clear();
  s.enqueue(make("q0", 0), t0, out);
  CHECK(out.empty());
  CHECK(s.queued_count() == 2);
}

TEST_CASE("QoS 2 completes with PUBCOMP, an error PUBREC ends it early") {
  session_state s;
  std::vector<outbound> out;
  s.attach(10, t0, out);
  s.enqueue(make("x", 2), t0, out);
  s.enqueue(make("y", 2), t0, out);
  REQUIRE(out.size() == 2);
  auto x = out[0].packet_id;
  auto y = out[1].packet_id;
  out.clear();
  s.on_pubrec(x, false, t0, out);
  CHECK(s.inflight_count() == 2);
  s.on_puback(x, t0, out); // wrong kind: ignored
  CHECK(s.inflight_count() == 2);
  s.on_pubcomp(x, t0, out);
  CHECK(s.inflight_count() == 1);
  s.on_pubrec(y, true, t0, out);
  CHECK(s.inflight_count() == 0);
}

TEST_CASE("resume retransmits in-flight messages with DUP, then PUBREL") {
  session_state s;
  std::vector<outbound> out;
  s.attach(10, t0, out);
  s.enqueue(make("one", 1), t0, out);
  s.enqueue(make("two", 2), t0, out);
  s.enqueue(make("three", 2), t0, out);
  REQUIRE(out.size() == 3);
  auto two = out[1].packet_id;
  out.clear();
  s.on_pubrec(two, false, t0, out);
  REQUIRE(payloads(out) == std::vector<std::string>{"PUBREL"});
  CHECK(out[0].packet_id == two);
  out.clear();
  s.on_pubrec(two, false, t0, out); // again: PUBREL again
  CHECK(payloads(out) == std::vector<std::string>{"PUBREL"});
  out.clear();
  s.detach();
  s.enqueue(make("later", 1), t0, out);
  CHECK(out.empty());
  s.attach(10, t0, out);
  REQUIRE(out.size() == 4);
  CHECK(out[0].dup);
  CHECK(out[0].msg->payload == "one");
  CHECK(out[1].type == outbound::kind::pubrel);
  CHECK(out[1].packet_id == two);
  CHECK(out[2].dup);
  CHECK(out[2].msg->payload == "three");
  CHECK_FALSE(out[3].dup);
  CHECK(out[3].msg->payload == "later");
}

TEST_CASE("resume within a smaller receive maximum resends the rest later") {
  session_state s;
  std::vector<outbound> out;
  s.attach(10, t0, out);
  for (auto p : {"a", "b", "c", "d"})
    s.enqueue(make(p, 1), t0, out);
  s.enqueue(make("e", 2), t0, out);
  REQUIRE(out.size() == 5);
  auto b = out[1].packet_id;
  auto e = out[4].packet_id;
  out.clear();
  s.on_pubrec(e, false, t0, out);
  out.clear();
  s.detach();
  s.enqueue(make("later", 1), t0, out);
  // Receive maximum 2: two PUBLISHes again, and the PUBREL (which sends
  // no PUBLISH, but waits for PUBCOMP within the window).
  s.attach(2, t0, out);
  CHECK(payloads(out) == std::vector<std::string>{"a", "b", "PUBREL"});
  CHECK(out[0].dup);
  CHECK(out[1].dup);
  auto a = out[0].packet_id;
  out.clear();
  // Nothing queued overtakes the retransmissions, not even QoS 0.
  s.enqueue(make("q0", 0), t0, out);
  CHECK(out.empty());
  s.on_puback(a, t0, out);
  CHECK(out.empty()); // still two in flight (b, e)
  s.on_pubcomp(e, t0, out);
  REQUIRE(payloads(out) == std::vector<std::string>{"c"});
  CHECK(out[0].dup);
  auto c = out[0].packet_id;
  out.clear();
  s.on_puback(b, t0, out);
  REQUIRE(payloads(out) == std::vector<std::string>{"d"});
  CHECK(out[0].dup);
  out.clear();
  s.on_puback(c, t0, out);
  REQUIRE(payloads(out) == std::vector<std::string>{"later", "q0"});
  CHECK_FALSE(out[0].dup);
  auto later = out[0].packet_id;
  // Again with receive maximum 1: d goes; "later", acknowledged before its
  // turn (the client had it from the earlier connection), is not sent
  // again.
  out.clear();
  s.detach();
  s.attach(1, t0, out);
  REQUIRE(payloads(out) == std::vector<std::string>{"d"});
  auto d = out[0].packet_id;
  out.clear();
  s.on_puback(later, t0, out);
  CHECK(out.empty());
  s.on_puback(d, t0, out);
  CHECK(out.empty());
  CHECK(s.inflight_count() == 0);
}

TEST_CASE("offline: QoS 0 is dropped, the queue is bounded and counted") {
  session_limits lim;
  lim.max_queued = 2;
  SUBCASE("drop oldest") {
    session_state s{lim};
    std::vector<outbound> out;
    s.enqueue(make("q0", 0), t0, out);
    CHECK(s.counters().dropped_qos0_offline == 1);
    for (auto p : {"1", "2", "3"})
      s.enqueue(make(p, 1), t0, out);
    CHECK(s.counters().dropped_queue_full == 1);
    s.attach(10, t0, out);
    CHECK(payloads(out) == std::vector<std::string>{"2", "3"});
  }
  SUBCASE("drop newest") {
    lim.overflow = overflow_policy::drop_newest;
    session_state s{lim};
    std::vector<outbound> out;
    for (auto p : {"1", "2", "3"})
      s.enqueue(make(p, 1), t0, out);
    s.attach(10, t0, out);
    CHECK(payloads(out) == std::vector<std::string>{"1", "2"});
  }
}

TEST_CASE("expired messages are not delivered; the rest carry their expiry") {
  session_state s;
  std::vector<outbound> out;
  s.enqueue(make("short", 1, 1), t0, out);
  s.enqueue(make("long", 1, 100), t0, out);
  s.attach(10, t0 + std::chrono::seconds(5), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].msg->payload == "long");
  CHECK(s.counters().dropped_expired == 1);
  CHECK(remaining_expiry(*out[0].msg, t0 + std::chrono::seconds(5)) == 95);
  CHECK(remaining_expiry(*out[0].msg, t0 + std::chrono::milliseconds(5500))
        == 95);
}

TEST_CASE("a paused connection queues; the session becomes congested") {
  session_limits lim;
  lim.congestion_threshold = 3;
  session_state s{lim};
  std::vector<outbound> out;
  s.attach(100, t0, out);
  s.set_paused(true, false, t0, out);
  for (auto p : {"1", "2", "3"})
    s.enqueue(make(p, 0), t0, out);
  CHECK(out.empty());
  CHECK(s.congested());
  s.set_paused(false, false, t0, out);
  CHECK(payloads(out) == std::vector<std::string>{"1", "2", "3"});
  CHECK_FALSE(s.congested());
}

TEST_CASE("slow consumer with drop_qos0 keeps the bound, QoS 0 first") {
  session_limits lim;
  lim.max_queued = 2;
  lim.congestion_threshold = 1;
  session_state s{lim};
  std::vector<outbound> out;
  s.attach(100, t0, out);
  s.set_paused(true, true, t0, out);
  s.enqueue(make("a", 0), t0, out);
  s.enqueue(make("b", 1), t0, out);
  s.enqueue(make("c", 0), t0, out);
  CHECK_FALSE(s.congested());
  CHECK(s.queued_count() == 2);
  CHECK(s.counters().dropped_qos0_slow == 1);
  s.set_paused(false, false, t0, out);
  CHECK(payloads(out) == std::vector<std::string>{"b", "c"});
}

TEST_CASE("packet identifiers skip those in flight and never use 0") {
  session_state s;
  std::vector<outbound> out;
  s.attach(65535, t0, out);
  for (int i = 0; i < 70000 && s.inflight_count() < 65535; ++i)
    s.enqueue(make("x", 1), t0, out);
  CHECK(s.inflight_count() == 65535);
  for (auto& o : out)
    CHECK(o.packet_id != 0);
  auto id = out[100].packet_id;
  std::vector<outbound> more;
  s.on_puback(id, t0, more);
  s.enqueue(make("y", 1), t0, more);
  REQUIRE(more.size() == 1);
  CHECK(more[0].packet_id == id);
}

TEST_CASE("take_unacknowledged returns in-flight then queued QoS 1/2") {
  session_state s;
  std::vector<outbound> out;
  s.attach(1, t0, out);
  s.enqueue(make("1", 1), t0, out);
  s.enqueue(make("2", 1), t0, out);
  s.enqueue(make("q0", 0), t0, out);
  auto taken = s.take_unacknowledged();
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].msg->payload == "1");
  CHECK(taken[1].msg->payload == "2");
  CHECK(s.inflight_count() == 0);
  CHECK(s.queued_count() == 0);
}

TEST_CASE("the connection is handed at most max_unwritten_bytes until it "
          "reports them written") {
  session_limits limits;
  limits.max_unwritten_bytes = 1000;
  session_state s{limits};
  std::vector<outbound> out;
  s.attach(10, t0, out);
  std::string payload(100, 'x');
  for (int i = 0; i < 50; ++i)
    s.enqueue(make(payload, i % 2), t0, out);
  // wire_size is 3 + 100 + 16 = 119 bytes: 9 fit below 1000, the 9th
  // crosses it.
  CHECK(out.size() == 9);
  CHECK(s.unwritten() == 9 * 119);
  CHECK(s.queued_count() == 41);
  CHECK(s.congested() == false); // below the congestion threshold of 64
  uint64_t handed = 0;
  for (auto& o : out)
    handed += wire_size(o);
  CHECK(handed == s.unwritten());
  out.clear();
  s.on_written(handed, t0, out);
  CHECK(out.size() == 9);
  CHECK(s.queued_count() == 32);
  // QoS 1 messages also wait for the receive maximum (10): 5 + 5 of the
  // 18 sent so far are QoS 1.
  out.clear();
  s.on_written(2000, t0, out);
  CHECK(s.unwritten() <= 1000 + 119);
  // A new connection starts with nothing unwritten.
  s.detach();
  CHECK(s.unwritten() == 0);
}

TEST_CASE("a conflating topic keeps one message waiting, the latest") {
  session_state s;
  std::vector<outbound> out;
  s.attach(1, t0, out);
  auto conflating = [](const char* payload, bool delta_form = false) {
    auto d = make(payload, 1);
    d.conflate = true;
    d.delta_form = delta_form;
    return d;
  };
  s.enqueue(conflating("1"), t0, out); // in flight: not replaced
  s.enqueue(conflating("2"), t0, out);
  s.enqueue(make("plain", 1), t0, out);
  s.enqueue(conflating("3"), t0, out);      // takes the place of "2"
  s.enqueue(conflating("d1", true), t0, out); // another form: its own
  s.enqueue(conflating("d2", true), t0, out);
  CHECK(payloads(out) == std::vector<std::string>{"1"});
  CHECK(s.queued_count() == 3);
  CHECK(s.counters().conflated == 2);
  // In the queue's order, "3" where "2" was.
  std::vector<std::string> sent;
  for (int i = 0; i < 3; ++i) {
    auto id = out.back().packet_id;
    out.clear();
    s.on_puback(id, t0, out);
    REQUIRE(out.size() == 1);
    sent.push_back(out[0].msg->payload);
  }
  CHECK(sent == std::vector<std::string>{"3", "plain", "d2"});
}

TEST_CASE("messages of a connection share equal forwarded properties") {
  properties_ptr last;
  auto with = [&](const char* content_type, uint32_t expiry = 0) {
    publish p;
    p.topic = "a";
    p.props.content_type = content_type;
    if (expiry)
      p.props.message_expiry_interval = expiry; // per message: not compared
    return make_message(std::move(p), "o", t0, &last);
  };
  auto a = with("application/json");
  auto b = with("application/json", 30);
  auto c = with("text/plain");
  auto d = with("text/plain");
  CHECK(a->props.get() == b->props.get());
  CHECK(b->has_expiry);
  CHECK(c->props.get() != b->props.get());
  CHECK(*c->props->content_type == "text/plain");
  CHECK(d->props.get() == c->props.get());
  CHECK(*a->props->content_type == "application/json");
  publish none;
  none.topic = "a";
  CHECK_FALSE(
      static_cast<bool>(make_message(std::move(none), "o", t0, &last)->props));
}

TEST_CASE("unsubscribing drops what is queued of a tidied topic") {
  session_state s;
  std::vector<outbound> out;
  s.attach(1, t0, out);
  auto sub = [&](const char* filter) {
    subscription x;
    x.filter = filter;
    x.max_qos = 1;
    s.subscribe(x, 0);
  };
  sub("a/b");
  sub("a/+");
  sub("$delta/a/b");
  auto of = [](const char* payload, bool tidy, bool delta_form = false,
               bool share = false) {
    auto d = make(payload, 1); // topic a/b
    d.tidy = tidy;
    d.delta_form = delta_form;
    d.from_share = share;
    return d;
  };
  s.enqueue(of("sent", true), t0, out); // in flight: stays
  s.enqueue(of("t1", true), t0, out);
  s.enqueue(of("plain", false), t0, out); // not a tidied topic
  s.enqueue(of("d1", true, true), t0, out);
  s.enqueue(of("shared", true, false, true), t0, out); // the group's
  s.enqueue(of("t2", true), t0, out);
  CHECK(s.queued_count() == 5);
  // a/+ still brings a/b: nothing goes.
  s.unsubscribe("a/b");
  CHECK(s.tidy({"a/b"}) == 0);
  // Nothing brings plain a/b any more: its tidied messages go, the delta
  // form stays (its subscription is there).
  s.unsubscribe("a/+");
  CHECK(s.tidy({"a/+"}) == 2);
  CHECK(s.queued_count() == 3);
  CHECK(s.counters().tidied == 2);
  s.unsubscribe("$delta/a/b");
  CHECK(s.tidy({"$delta/a/b"}) == 1);
  std::vector<std::string> sent;
  for (int i = 0; i < 3; ++i) {
    auto id = out.back().packet_id;
    out.clear();
    s.on_puback(id, t0, out);
    if (out.empty())
      break;
    sent.push_back(out[0].msg->payload);
  }
  CHECK(sent == std::vector<std::string>{"plain", "shared"});
}

namespace {

delivery kept(const std::string& payload, uint8_t qos) {
  auto d = make(payload, qos);
  d.store_key = "q:" + payload;
  return d;
}

} // namespace

TEST_CASE("kept messages report their records as they are delivered or "
          "dropped, and QoS 2 state changes in order") {
  session_limits limits;
  limits.max_queued = 2;
  session_state s{limits};
  std::vector<outbound> out;
  s.attach(10, t0, out);
  s.enqueue(kept("one", 1), t0, out);
  s.enqueue(kept("two", 2), t0, out);
  s.enqueue(make("free", 1), t0, out); // not kept: nothing to erase
  REQUIRE(out.size() == 3);
  auto one = out[0].packet_id;
  auto two = out[1].packet_id;
  out.clear();
  // The QoS 2 PUBLISH went with `two`: the store must learn it first.
  auto f = s.take_flights();
  REQUIRE(f.size() == 1);
  CHECK(f[0].key == "q:two");
  CHECK(f[0].packet_id == two);
  CHECK_FALSE(f[0].released);
  CHECK(f[0].d.msg->payload == "two");
  s.on_puback(one, t0, out);
  CHECK(s.take_released() == std::vector<std::string>{"q:one"});
  s.on_pubrec(two, false, t0, out);
  f = s.take_flights();
  REQUIRE(f.size() == 1);
  CHECK(f[0].released);
  CHECK(f[0].d.qos == 2); // the record says what it is, without the message
  CHECK_FALSE(static_cast<bool>(f[0].d.msg));
  CHECK(s.take_released().empty());
  CHECK(s.stored_keys() == std::vector<std::string>{"q:two"});
  s.on_pubcomp(two, t0, out);
  CHECK(s.take_released() == std::vector<std::string>{"q:two"});
  // Offline, the queue keeps its bound: the oldest kept one goes.
  s.detach();
  s.enqueue(kept("a", 1), t0, out);
  s.enqueue(kept("b", 1), t0, out);
  s.enqueue(kept("c", 1), t0, out);
  CHECK(s.take_released() == std::vector<std::string>{"q:a"});
  CHECK(s.stored_keys() == (std::vector<std::string>{"q:b", "q:c"}));
}

TEST_CASE("a restored QoS 2 message goes again with its packet identifier") {
  session_state s;
  std::vector<outbound> out;
  s.restore_inflight(41, false, kept("sent", 2));
  s.restore_inflight(42, true, kept("received", 2));
  s.enqueue(kept("queued", 2), t0, out);
  CHECK(out.empty());
  s.attach(10, t0, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].packet_id == 41);
  CHECK(out[0].dup);
  CHECK(out[0].msg->payload == "sent");
  CHECK(out[1].type == outbound::kind::pubrel);
  CHECK(out[1].packet_id == 42);
  CHECK(out[2].packet_id == 43); // a new identifier above those restored
  CHECK(out[2].msg->payload == "queued");
}

TEST_CASE("a restored record of a QoS 2 message whose PUBREC came brings its "
          "PUBREL back, whatever QoS the record names") {
  // Records of released messages hold no message; older stores wrote them
  // with QoS 0. Either way the identifier stays taken until PUBCOMP: the
  // client holds it, and a new message sent with it would be taken for
  // the old one and lost.
  for (uint8_t qos : {uint8_t{0}, uint8_t{2}}) {
    CAPTURE(int{qos});
    session_state s;
    std::vector<outbound> out;
    delivery rel;
    rel.qos = qos;
    rel.store_key = "q:rel";
    CHECK(s.restore(7, true, rel, t0, out));
    CHECK(s.restore(0, false, kept("queued", 2), t0, out));
    CHECK_FALSE(s.restore(0, false, delivery{}, t0, out)); // nothing to keep
    CHECK(out.empty());
    s.attach(10, t0, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].type == outbound::kind::pubrel);
    CHECK(out[0].packet_id == 7);
    CHECK(out[1].type == outbound::kind::publish);
    CHECK(out[1].packet_id == 8);
    CHECK(out[1].msg->payload == "queued");
    out.clear();
    s.on_pubcomp(7, t0, out);
    CHECK(s.take_released() == std::vector<std::string>{"q:rel"});
  }
}
