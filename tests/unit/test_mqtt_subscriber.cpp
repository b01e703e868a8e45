// The MQTT delivery rules a session applies to a topic's updates
// (protocol/mqtt_subscriber.hpp): QoS downgrade, no local, retain as
// published, subscription identifiers, shared subscriptions and the retain
// handling of a new subscription.

#include <doctest/doctest.h>

#include <chrono>

#include "protocol/mqtt_subscriber.hpp"

using namespace castor;
using namespace castor::mqtt;

namespace {

update make_update(uint8_t qos, bool retain, std::string origin = "pub",
                   uint64_t seq = 7) {
  publish p;
  p.topic = "a/b";
  p.payload = "v";
  p.qos = qos;
  p.retain = retain;
  return update{seq,
                value_type::binary,
                make_message(std::move(p), std::move(origin),
                             std::chrono::steady_clock::now()),
                nullptr,
                0,
                false};
}

delivery_options opts(uint8_t max_qos, bool no_local = false, bool rap = false,
                      uint32_t id = 0) {
  return delivery_options{max_qos, no_local, rap, id, false};
}

/// The plain delivery of `u` through `o` (no `$delta/` subscription).
bool plain_through(const update& u, const std::string& client_id,
                   const std::vector<delivery_options>& o, delivery& d) {
  delivery unused;
  auto made = deliver_through(u, client_id, o, d, unused);
  CHECK((made & delta_delivery) == 0);
  return (made & plain_delivery) != 0;
}

} // namespace

TEST_CASE("an update goes once, at the highest QoS a subscription grants") {
  auto u = make_update(2, false);
  delivery d;
  REQUIRE(plain_through(u, "me", {opts(0), opts(1)}, d));
  CHECK(d.qos == 1);
  CHECK((d.msg == u.msg)); // the shared message, not a copy
  CHECK(d.seq == 7);
  CHECK_FALSE(d.from_share);
  // Never above the QoS it was published with.
  auto u0 = make_update(0, false);
  REQUIRE(plain_through(u0, "me", {opts(2)}, d));
  CHECK(d.qos == 0);
}

TEST_CASE("no local skips the publisher's own subscriptions only") {
  auto u = make_update(1, false, "me");
  delivery d;
  CHECK_FALSE(plain_through(u, "me", {opts(1, true)}, d));
  // Another of its subscriptions without no local still delivers.
  REQUIRE(plain_through(u, "me", {opts(1, true, false, 4), opts(0)}, d));
  CHECK(d.qos == 0);
  CHECK(d.subscription_ids.empty()); // the no-local one did not match
  // Another session gets it.
  CHECK(plain_through(u, "other", {opts(1, true)}, d));
  // A message the server publishes (no origin) is nobody's own.
  auto s = make_update(1, false, "");
  CHECK(plain_through(s, "me", {opts(1, true)}, d));
}

TEST_CASE("retain as published and every subscription identifier") {
  auto u = make_update(1, true);
  delivery d;
  REQUIRE(plain_through(u, "me", {opts(1, false, false, 3)}, d));
  CHECK_FALSE(d.retain); // live messages lose RETAIN by default
  CHECK(d.subscription_ids == std::vector<uint32_t>{3});
  REQUIRE(plain_through(
      u, "me", {opts(1, false, false, 3), opts(0, false, true, 9)}, d));
  CHECK(d.retain);
  CHECK(d.subscription_ids == std::vector<uint32_t>{3, 9});
  // Reusing the delivery does not keep identifiers of the last one.
  REQUIRE(plain_through(u, "me", {opts(1)}, d));
  CHECK(d.subscription_ids.empty());
}

TEST_CASE("a share member gets its subscription's QoS, no local aside") {
  auto u = make_update(2, true, "me");
  auto d = share_delivery(u, opts(1, true, true, 5));
  CHECK((d.msg == u.msg));
  CHECK(d.qos == 1);
  CHECK(d.retain);
  CHECK(d.from_share);
  CHECK(d.subscription_ids == std::vector<uint32_t>{5});
}

TEST_CASE("retained messages on subscribe follow retain handling") {
  auto u = make_update(2, true, "pub");
  subscription sub;
  sub.filter = "a/#";
  sub.max_qos = 1;
  delivery d;
  REQUIRE(retained_delivery(u, "me", sub, 6, false, false, false, d));
  CHECK(d.retain); // keeps RETAIN
  CHECK(d.qos == 1);
  CHECK(d.subscription_ids == std::vector<uint32_t>{6});
  // 1: only for a new subscription.
  sub.retain_handling = 1;
  CHECK(retained_delivery(u, "me", sub, 0, false, false, false, d));
  CHECK_FALSE(retained_delivery(u, "me", sub, 0, true, false, false, d));
  // 2: never.
  sub.retain_handling = 2;
  CHECK_FALSE(retained_delivery(u, "me", sub, 0, false, false, false, d));
  // Never to a shared subscription.
  sub.retain_handling = 0;
  CHECK_FALSE(retained_delivery(u, "me", sub, 0, false, true, false, d));
  // No local: not the session's own.
  sub.no_local = true;
  CHECK_FALSE(retained_delivery(u, "pub", sub, 0, false, false, false, d));
  CHECK(retained_delivery(u, "me", sub, 0, false, false, false, d));
  // No current value: nothing.
  CHECK_FALSE(
      retained_delivery(update{}, "me", sub, 0, false, false, false, d));
}

TEST_CASE("an update keeps, clears or leaves the current value") {
  CHECK(make_update(0, true).keeps_value());
  CHECK_FALSE(make_update(0, false).keeps_value());
  publish p;
  p.topic = "a/b";
  p.retain = true; // empty payload
  update clear{
      1,
      value_type::binary,
      make_message(std::move(p), "pub", std::chrono::steady_clock::now()),
      nullptr,
      0,
      false};
  CHECK(clear.clears_value());
  CHECK_FALSE(clear.keeps_value());
}
