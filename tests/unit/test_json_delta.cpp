// JSON Patch deltas of JSON topics (protocol/json_delta.hpp): over
// randomised sequences of documents (nested objects, arrays, strings with
// escapes, keys with '/' and '~', numbers), applying each patch to the
// previous value gives the new value exactly; a few changed fields give a
// small patch; invalid patches are refused. The in-place application
// (the SDK's value streams) gives the same documents and refusals.

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
  auto in_place = from;
  REQUIRE(apply_json_patch_in_place(in_place, patch));
  CHECK_MESSAGE(in_place == to,
                "in place: from " << from << " to " << to << " by " << patch);
}

/// apply_json_patch_in_place() agrees with apply_json_patch(): the same
/// document, or both refuse.
void check_same(const json& doc, const char* patch_text) {
  auto patch = json::parse(patch_text);
  auto copy = apply_json_patch(doc, patch);
  auto in_place = doc;
  bool ok = apply_json_patch_in_place(in_place, patch);
  CHECK_MESSAGE(ok == copy.has_value(), patch_text);
  if (ok && copy)
    CHECK_MESSAGE(in_place == *copy, patch_text << " gave " << in_place);
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

TEST_CASE("json patch in place: the same results as the copying one") {
  json doc = json::parse(R"({"a":1,"o":{"x":[1,2,3],"-":0},"s":"t","n":null})");
  // replace
  check_same(doc, R"([{"op":"replace","path":"/a","value":{"b":2}}])");
  check_same(doc, R"([{"op":"replace","path":"","value":[1]}])");
  check_same(doc, R"([{"op":"replace","path":"/o/x/2","value":9}])");
  check_same(doc, R"([{"op":"replace","path":"/o/x/3","value":9}])");
  check_same(doc, R"([{"op":"replace","path":"/o/x/-","value":9}])");
  check_same(doc, R"([{"op":"replace","path":"/missing","value":9}])");
  check_same(doc, R"([{"op":"replace","path":"/o/-","value":9}])");
  check_same(doc, R"([{"op":"replace","path":"/a"}])");
  // add
  check_same(doc, R"([{"op":"add","path":"/b","value":[]}])");
  check_same(doc, R"([{"op":"add","path":"/a","value":2}])");
  check_same(doc, R"([{"op":"add","path":"","value":2}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/0","value":0}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/3","value":4}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/-","value":4}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/4","value":4}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/01","value":4}])");
  check_same(doc, R"([{"op":"add","path":"/o/x/a","value":4}])");
  check_same(doc, R"([{"op":"add","path":"/nowhere/b","value":1}])");
  check_same(doc, R"([{"op":"add","path":"/o/-","value":1}])");
  check_same(doc, R"([{"op":"add","path":"a","value":1}])");
  // remove
  check_same(doc, R"([{"op":"remove","path":"/a"}])");
  check_same(doc, R"([{"op":"remove","path":"/o/x/0"}])");
  check_same(doc, R"([{"op":"remove","path":"/o/x/3"}])");
  check_same(doc, R"([{"op":"remove","path":"/o/x/-"}])");
  check_same(doc, R"([{"op":"remove","path":"/missing"}])");
  check_same(doc, R"([{"op":"remove","path":""}])");
  // several, and the other operations (applied the general way)
  check_same(doc, R"([{"op":"remove","path":"/a"},{"op":"add","path":"/a","value":3},
                      {"op":"replace","path":"/o/x/1","value":"y"}])");
  check_same(doc, R"([{"op":"test","path":"/a","value":1},
                      {"op":"replace","path":"/a","value":5}])");
  check_same(doc, R"([{"op":"test","path":"/a","value":2}])");
  check_same(doc, R"([{"op":"move","from":"/a","path":"/b"}])");
  check_same(doc, R"([{"op":"copy","from":"/o","path":"/p"}])");
  check_same(doc, R"([{"path":"/a"}])");
  check_same(doc, R"([{"op":"jump","path":"/a"}])");
  check_same(doc, R"([7])");
  check_same(doc, R"([])");
  auto same = doc;
  CHECK_FALSE(apply_json_patch_in_place(same, json::object()));
  CHECK(same == doc);
}
