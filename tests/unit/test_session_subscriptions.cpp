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
