// actors/session_subscriptions.hpp: which subscriptions a session's rights
// no longer allow (revoked when rights shrink), and how sessions/get lists
// them.

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/session_subscriptions.hpp"
#include "protocol/topic_selector.hpp"
#include "security/security_store.hpp"
#include "security/topic_access.hpp"

using namespace castor;

namespace {

std::shared_ptr<const security::security_store> subs_store() {
  auto r = security::parse_security_store(R"(
roles:
  A:
    paths:
      a: [SELECT_TOPIC, READ_TOPIC]
  D:
    paths:
      data: [SELECT_TOPIC, READ_TOPIC]
)",
                                          "store.yaml");
  if (auto err = std::get_if<security::store_error>(&r))
    FAIL("store: " << err->to_string());
  return std::make_shared<const security::security_store>(
      std::get<security::security_store>(std::move(r)));
}

mqtt::subscription sub(std::string filter, uint8_t qos = 1) {
  mqtt::subscription s;
  s.filter = std::move(filter);
  s.max_qos = qos;
  return s;
}

} // namespace

TEST_CASE("session subscriptions: those the rights no longer allow") {
  mqtt::session_state st{mqtt::session_limits{}};
  st.subscribe(sub("a/#"), 0);
  st.subscribe(sub("$share/g/a/x"), 0);
  st.subscribe(sub("$delta/a/y"), 0);
  st.subscribe(sub("data/#"), 0);
  st.subscribe(sub(selector_key(">a//", false)), 0);
  auto store = subs_store();
  security::topic_access both{store, {"A", "D"}};
  CHECK(unreadable_filters(st, both).empty());
  security::topic_access data_only{store, {"D"}};
  auto gone = unreadable_filters(st, data_only);
  std::sort(gone.begin(), gone.end());
  std::vector<std::string> expected{"$delta/a/y", "$share/g/a/x", "a/#",
                                    selector_key(">a//", false)};
  std::sort(expected.begin(), expected.end());
  CHECK(gone == expected);
  security::topic_access none{store, {}};
  CHECK(unreadable_filters(st, none).size() == 5);
}

TEST_CASE("session subscriptions: as sessions/get lists them") {
  mqtt::session_state st{mqtt::session_limits{}};
  auto s = sub("a/#", 2);
  s.no_local = true;
  s.retain_as_published = true;
  s.retain_handling = 2;
  st.subscribe(s, 42);
  st.subscribe(sub(selector_key(">a//", true), 0), 0);
  auto j = nlohmann::json::parse(subscriptions_json(st));
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  nlohmann::json plain = j[0].contains("filter") ? j[0] : j[1];
  nlohmann::json selected = j[0].contains("filter") ? j[1] : j[0];
  CHECK(plain == nlohmann::json{{"filter", "a/#"},
                                {"qos", 2},
                                {"no_local", true},
                                {"retain_as_published", true},
                                {"retain_handling", 2},
                                {"subscription_id", 42}});
  CHECK(selected["selector"] == ">a//");
  CHECK(selected["delta"] == true);
  CHECK_FALSE(selected.contains("subscription_id"));
  CHECK(mqtt::session_state{mqtt::session_limits{}}.subscriptions().empty());
  CHECK(subscriptions_json(mqtt::session_state{mqtt::session_limits{}}) == "[]");
}

// -- moving a session to another node ----------------------------------------

namespace {

mqtt::delivery queued(const std::string& payload, uint8_t qos) {
  mqtt::publish p;
  p.topic = "a/b";
  p.payload = payload;
  p.qos = qos;
  mqtt::delivery d;
  d.msg = mqtt::make_message(std::move(p), "origin",
                             std::chrono::steady_clock::now());
  d.qos = qos;
  return d;
}

} // namespace

TEST_CASE("a snapshot takes the subscriptions and the unacknowledged "
          "messages, and restoring it gives them back") {
  auto now = std::chrono::steady_clock::now();
  mqtt::session_state old;
  mqtt::subscription a{"a/#", 1, false, true, 0};
  mqtt::subscription s{"$share/g/s/+", 2, false, false, 1};
  mqtt::subscription d{"$delta/d", 0, true, false, 2};
  old.subscribe(a, 7);
  old.subscribe(s, 7);
  old.subscribe(d, 0);
  std::vector<mqtt::outbound> out;
  old.attach(2, now, out);
  for (int i = 0; i < 5; ++i)
    old.enqueue(queued("m" + std::to_string(i), 1), now, out);
  old.enqueue(queued("q0", 0), now, out);
  CHECK(out.size() == 2); // the window: two in flight, four queued
  old.on_puback(out[0].packet_id, now, out);
  old.detach();
  old.inbound_qos2.insert(42);

  auto snap = take_snapshot(old);
  CHECK(snap.present);
  CHECK(snap.subs.size() == 3);
  CHECK(snap.subscription_ids.size() == 3);
  std::vector<std::string> payloads;
  for (auto& m : snap.messages)
    payloads.push_back(m.msg->payload);
  // m0 was acknowledged; m1 and m2 were in flight; QoS 0 does not move.
  CHECK(payloads == std::vector<std::string>{"m1", "m2", "m3", "m4"});
  CHECK(snap.qos2_ids == std::vector<uint16_t>{42});
  CHECK(old.queued_count() == 0);
  CHECK(old.inflight_count() == 0);

  // One SUBSCRIBE per subscription identifier, without retained messages.
  auto reqs = restore_requests(snap, access_ref{"alice", {}, nullptr});
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].subscription_id == 0);
  REQUIRE(reqs[0].subs.size() == 1);
  CHECK(reqs[0].subs[0].filter == "$delta/d");
  CHECK(reqs[0].codes == subscribe_codes{mqtt::reason_code::success});
  CHECK(reqs[1].subscription_id == 7);
  REQUIRE(reqs[1].subs.size() == 2);
  CHECK(reqs[1].codes
        == subscribe_codes{mqtt::reason_code::granted_qos_2,
                           mqtt::reason_code::granted_qos_1});
  for (auto& r : reqs) {
    CHECK(r.access.principal == "alice");
    for (auto& sub : r.subs)
      CHECK(sub.retain_handling == 2);
  }

  mqtt::session_state fresh;
  restore_state(fresh, snap, now);
  auto& subs = fresh.subscriptions();
  REQUIRE(subs.size() == 3);
  CHECK(subs.at("a/#").opts == a); // as the client made it
  CHECK(subs.at("a/#").subscription_id == 7);
  CHECK(subs.at("$share/g/s/+").opts == s);
  CHECK(subs.at("$delta/d").opts == d);
  CHECK(fresh.inbound_qos2.count(42) == 1);
  std::vector<mqtt::outbound> sent;
  fresh.attach(10, now, sent);
  std::vector<std::string> resent;
  for (auto& o : sent)
    resent.push_back(o.msg->payload);
  CHECK(resent == std::vector<std::string>{"m1", "m2", "m3", "m4"});
}
