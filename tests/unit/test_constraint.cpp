// Update constraints and session locks (protocol/constraint.hpp).

#include <doctest/doctest.h>

#include <string>

#include "protocol/constraint.hpp"

using namespace castor;
using json = nlohmann::json;

namespace {

update_constraint parsed(const char* text) {
  auto c = parse_constraint(json::parse(text));
  if (auto e = std::get_if<std::string>(&c))
    FAIL(text << ": " << *e);
  return std::get<update_constraint>(c);
}

std::string error_of(const json& j) {
  auto c = parse_constraint(j);
  REQUIRE(std::holds_alternative<std::string>(c));
  return std::get<std::string>(c);
}

typed_value json_value(const char* text) {
  return std::get<typed_value>(convert_payload(topic_type::json, text));
}

} // namespace

TEST_CASE("constraints: values, absence, pointers") {
  auto doc = json_value(R"({"a": {"b": 2}, "s": "x"})");
  constraint_facts with{true, &doc, {}};
  constraint_facts empty{true, nullptr, {}};
  constraint_facts none{false, nullptr, {}};
  CHECK(satisfied(parsed(R"({"value": {"s": "x", "a": {"b": 2}}})"), with));
  CHECK_FALSE(satisfied(parsed(R"({"value": {"a": {"b": 3}}})"), with));
  CHECK_FALSE(satisfied(parsed(R"({"value": 1})"), empty));
  CHECK(satisfied(parsed(R"({"no_value": true})"), empty));
  CHECK_FALSE(satisfied(parsed(R"({"no_value": true})"), with));
  CHECK_FALSE(satisfied(parsed(R"({"no_value": true})"), none));
  CHECK(satisfied(parsed(R"({"no_topic": true})"), none));
  CHECK_FALSE(satisfied(parsed(R"({"no_topic": true})"), empty));
  CHECK(satisfied(parsed(R"({"pointer": "/a/b", "equals": 2})"), with));
  CHECK_FALSE(satisfied(parsed(R"({"pointer": "/a/b", "equals": "2"})"), with));
  CHECK(satisfied(parsed(R"({"pointer": "/a", "exists": true})"), with));
  CHECK(satisfied(parsed(R"({"pointer": "/a/c", "exists": false})"), with));
  CHECK_FALSE(satisfied(parsed(R"({"pointer": "/s", "exists": false})"), with));
  // A pointer through a non-object is simply absent.
  CHECK(satisfied(parsed(R"({"pointer": "/s/t", "exists": false})"), with));
}

TEST_CASE("constraints: typed values") {
  auto s = std::get<typed_value>(convert_payload(topic_type::string, "hi"));
  auto i = std::get<typed_value>(convert_payload(topic_type::int64, "42"));
  auto d = std::get<typed_value>(convert_payload(topic_type::double_, "2.5"));
  CHECK(satisfied(parsed(R"({"value": "hi"})"), {true, &s, {}}));
  CHECK_FALSE(satisfied(parsed(R"({"value": 42})"), {true, &s, {}}));
  CHECK(satisfied(parsed(R"({"value": 42})"), {true, &i, {}}));
  CHECK_FALSE(satisfied(parsed(R"({"value": 42.5})"), {true, &i, {}}));
  CHECK(satisfied(parsed(R"({"value": 2.5})"), {true, &d, {}}));
  CHECK_FALSE(satisfied(parsed(R"({"value": "2.5"})"), {true, &d, {}}));
}

TEST_CASE("constraints: and, or, locks") {
  auto doc = json_value(R"({"v": 1})");
  constraint_facts f{true, &doc,
                     [](const std::string& l) { return l == "mine"; }};
  CHECK(satisfied(parsed(R"({"locked": "mine"})"), f));
  CHECK_FALSE(satisfied(parsed(R"({"locked": "theirs"})"), f));
  CHECK(satisfied(
      parsed(
          R"({"and": [{"locked": "mine"}, {"pointer": "/v", "equals": 1}]})"),
      f));
  CHECK_FALSE(satisfied(
      parsed(R"({"and": [{"locked": "theirs"}, {"value": {"v": 1}}]})"), f));
  CHECK(satisfied(
      parsed(R"({"or": [{"locked": "theirs"}, {"value": {"v": 1}}]})"), f));
  CHECK(satisfied(
      parsed(R"({"or": [{"no_topic": true}, {"and": [{"locked": "mine"}]}]})"),
      f));
}

TEST_CASE("constraints: malformed ones are refused with a reason") {
  CHECK(error_of(json::array()).find("non-empty JSON object")
        != std::string::npos);
  CHECK(error_of(json::object()).find("non-empty") != std::string::npos);
  CHECK(error_of(json{{"when", 1}}).find("unknown constraint 'when'")
        != std::string::npos);
  CHECK(error_of(json{{"value", 1}, {"extra", 2}}).find("unexpected key")
        != std::string::npos);
  CHECK(error_of(json{{"no_value", false}}).find("takes true")
        != std::string::npos);
  CHECK(error_of(json{{"pointer", "a/b"}, {"exists", true}})
            .find("not a JSON pointer")
        != std::string::npos);
  CHECK(error_of(json{{"pointer", "/a"}}).find("needs 'equals' or 'exists'")
        != std::string::npos);
  CHECK(error_of(json{{"and", json::array()}}).find("1 to 64")
        != std::string::npos);
  CHECK(error_of(json{{"locked", ""}}).find("lock name") != std::string::npos);
  json deep = {{"no_topic", true}};
  for (int i = 0; i < 17; ++i)
    deep = {{"and", {deep}}};
  CHECK(error_of(deep).find("16 deep") != std::string::npos);
}

TEST_CASE("locks: grants, waiters in order, fencing tokens, closed sessions") {
  lock_table t;
  auto a = t.acquire("L", "s1");
  REQUIRE(a);
  CHECK(a->session == "s1");
  CHECK(t.holds("L", "s1"));
  CHECK(t.acquire("L", "s1")->token == a->token); // again: the same grant
  CHECK_FALSE(t.acquire("L", "s2"));
  CHECK_FALSE(t.acquire("L", "s3"));
  CHECK_FALSE(t.acquire("L", "s2")); // queued once
  CHECK(t.waiting("L") == 2);
  CHECK(t.waits("L", "s2"));
  CHECK(t.waits("L", "s3"));
  CHECK_FALSE(t.waits("L", "s1")); // the holder does not wait
  CHECK(t.waiting("M") == 0);
  CHECK_FALSE(t.waits("M", "s2"));
  // Release: s2 next, with a larger token.
  auto b = t.release("L", "s1");
  REQUIRE(b);
  CHECK(b->session == "s2");
  CHECK(b->token > a->token);
  CHECK_FALSE(t.holds("L", "s1"));
  // A release by a non-holder only ends its wait.
  CHECK_FALSE(t.release("L", "s3"));
  CHECK_FALSE(t.waits("L", "s3"));
  CHECK(t.waiting("L") == 0);
  CHECK_FALSE(t.release("L", "s2").has_value()); // nobody waits now
  CHECK(t.size() == 0);
  // A closing session gives up its locks and its waits.
  t.acquire("A", "x");
  t.acquire("B", "x");
  t.acquire("A", "y");
  t.acquire("B", "z");
  t.acquire("C", "y");
  t.acquire("C", "x"); // x waits for C
  auto grants = t.session_closed("x");
  REQUIRE(grants.size() == 2);
  CHECK(t.holds("A", "y"));
  CHECK(t.holds("B", "z"));
  CHECK(t.holds("C", "y"));
  CHECK(t.release("C", "y") == std::nullopt); // x no longer waits
  CHECK_FALSE(t.holds("C", "x"));
}
