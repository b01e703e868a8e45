// JSON Patch deltas of JSON topics (protocol/json_delta.hpp): over
// randomised sequences of documents (nested objects, arrays, strings with
// escapes, keys with '/' and '~', numbers), applying each patch to the
// previous value gives the new value exactly; a few changed fields give a
// small patch; invalid patches are refused.

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "protocol/json_delta.hpp"
#include "tests/unit/json_random.hpp"

using namespace castor;
using json = nlohmann::json;
using namespace castor_test;

namespace {

void check_round_trip(const json& from, const json& to) {
  auto patch = make_json_patch(from, to);
  REQUIRE(patch.is_array());
  auto back = apply_json_patch(from, patch);
  REQUIRE(back);
  CHECK_MESSAGE(*back == to,
                "from " << from << " to " << to << " by " << patch);
}

} // namespace

TEST_CASE("json patch: random sequences of documents") {
  std::mt19937 rng(1204);
  for (int run = 0; run < 30; ++run) {
    auto doc = random_json(rng, 4);
    for (int step = 0; step < 60; ++step) {
      auto next = doc;
      for (int k = rng() % 3; k >= 0; --k)
        mutate(rng, next);
      check_round_trip(doc, next);
      doc = std::move(next);
    }
  }
}

TEST_CASE("json patch: edge cases") {
  check_round_trip(json(1), json("one"));
  check_round_trip(json::object(), json::array());
  check_round_trip(json{{"a", 1}}, json{{"a", 1}});
  CHECK(make_json_patch(json{{"a", 1}}, json{{"a", 1}}).empty());
  check_round_trip(json{{"x/y", 1}, {"t~1", 2}},
                   json{{"x/y", 3}, {"t~1", 4}, {"~/", 5}});
  check_round_trip(json::array({1, 2, 3}), json::array({0, 1, 2, 3}));
  check_round_trip(json::array({1, 2, 3, 4}), json::array({1, 3, 4}));
  check_round_trip(json::array({1, 2, 3}), json::array());
  check_round_trip(json::array(), json::array({1, 2}));
  // A member named "-" changes by `add` (python3-jsonpatch refuses
  // `replace` there, taking "-" for the end of an array).
  auto dash
      = make_json_patch(json{{"-", 1}, {"k", 1}}, json{{"-", 2}, {"k", 1}});
  CHECK(dash == json::parse(R"([{"op":"add","path":"/-","value":2}])"));
  check_round_trip(json{{"-", 1}, {"k", 1}}, json{{"-", 2}, {"k", 1}});
}

TEST_CASE("json patch: a few changed fields give a small patch") {
  json doc = json::object();
  for (int i = 0; i < 40; ++i)
    doc["sensor" + std::to_string(i)]
        = {{"temp", 20.5 + i}, {"unit", "C"}, {"ok", true}, {"id", i}};
  auto size = doc.dump().size();
  REQUIRE(size > 2000);
  auto one = doc;
  one["sensor7"]["temp"] = 99.25;
  auto p1 = make_json_patch(doc, one);
  CHECK(p1
        == json::parse(
            R"([{"op":"replace","path":"/sensor7/temp","value":99.25}])"));
  auto two = one;
  two["sensor30"]["ok"] = false;
  auto p2 = make_json_patch(doc, two);
  CHECK(p2.size() == 2);
  CHECK(p2.dump().size() * 10 < size); // far more than 70% saved
  // An element inserted at the front of an array is one operation.
  json list = {{"list", json::array()}};
  for (int i = 0; i < 50; ++i)
    list["list"].push_back(i);
  auto front = list;
  front["list"].insert(front["list"].begin(), -1);
  auto p3 = make_json_patch(list, front);
  CHECK(p3 == json::parse(R"([{"op":"add","path":"/list/0","value":-1}])"));
  // Everything changed: the value whole.
  auto p4 = make_json_patch(json{{"a", 1}, {"b", 2}}, json{{"c", 3}});
  CHECK(p4 == json::parse(R"([{"op":"replace","path":"","value":{"c":3}}])"));
}

TEST_CASE("json patch: invalid patches are refused") {
  json doc = {{"a", 1}};
  CHECK_FALSE(apply_json_patch(doc, json::object()));
  CHECK_FALSE(apply_json_patch(doc, json::parse(R"([{"op":"jump"}])")));
  CHECK_FALSE(apply_json_patch(
      doc, json::parse(R"([{"op":"remove","path":"/missing"}])")));
  CHECK_FALSE(apply_json_patch(
      doc, json::parse(R"([{"op":"test","path":"/a","value":2}])")));
  auto ok = apply_json_patch(
      doc, json::parse(R"([{"op":"test","path":"/a","value":1},
                           {"op":"add","path":"/b","value":[1]}])"));
  REQUIRE(ok);
  CHECK(*ok == json{{"a", 1}, {"b", {1}}});
}
