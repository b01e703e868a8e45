// Conditional updates and patches as a topic decides them
// (protocol/conditional_update.hpp): constraints against the current
// value, read as the explicit type or as an implicit topic infers it; a
// patch makes the new value from a JSON value, or says why it cannot.

#include <doctest/doctest.h>

#include <chrono>

#include "protocol/conditional_update.hpp"

using namespace castor;

namespace {

mqtt::message_ptr msg(std::string payload, bool json = false) {
  mqtt::publish p;
  p.topic = "t";
  p.qos = 1;
  p.payload = std::move(payload);
  if (json)
    p.props.content_type = "application/json";
  return mqtt::make_message(std::move(p), "", std::chrono::steady_clock::now());
}

std::string code_of(const std::variant<mqtt::message_ptr, update_outcome>& r) {
  auto o = std::get_if<update_outcome>(&r);
  return o ? o->code : std::string{};
}

} // namespace

TEST_CASE("constraints decide against the current value") {
  auto last = msg(R"({"n": 1, "s": "x"})", true);
  auto next = msg(R"({"n": 2})", true);
  auto check = [&](const char* constraint, const mqtt::message* current,
                   bool exists = true) {
    return resolve_update({next, constraint, {}}, current, exists, nullptr);
  };
  CHECK(static_cast<bool>(std::get<mqtt::message_ptr>(check("", last.get()))
                          == next));
  CHECK(code_of(check(R"({"value": {"n": 1, "s": "x"}})", last.get())).empty());
  CHECK(code_of(check(R"({"value": {"n": 2}})", last.get()))
        == "CONSTRAINT_FAILED");
  CHECK(code_of(check(R"({"pointer": "/s", "equals": "x"})", last.get()))
            .empty());
  CHECK(code_of(check(R"({"no_topic": true})", nullptr, false)).empty());
  CHECK(code_of(check(R"({"no_topic": true})", nullptr, true))
        == "CONSTRAINT_FAILED");
  CHECK(code_of(check(R"({"no_value": true})", nullptr, true)).empty());
  CHECK(code_of(check(R"({"locked": "l"})", last.get()))
        == "CONSTRAINT_FAILED"); // nobody holds a lock here
  // The locks the lock actor found the caller holding.
  conditional_update held{next, R"({"locked": "l"})", {}, {"k", "l"}};
  CHECK(code_of(resolve_update(held, last.get(), true, nullptr)).empty());
  held.held_locks = {"k"};
  CHECK(code_of(resolve_update(held, last.get(), true, nullptr))
        == "CONSTRAINT_FAILED");
  held.constraint = R"({"or": [{"locked": "l"}, {"locked": "k"}]})";
  CHECK(code_of(resolve_update(held, last.get(), true, nullptr)).empty());
  held.constraint = R"({"and": [{"locked": "k"}, {"value": {"n": 2}}]})";
  CHECK(code_of(resolve_update(held, last.get(), true, nullptr))
        == "CONSTRAINT_FAILED");
  CHECK(code_of(check(R"({"bogus": 1})", last.get())) == "INVALID_CONSTRAINT");
  CHECK(code_of(check("{", last.get())) == "INVALID_CONSTRAINT");
  // An explicit INT64 topic reads "7" as the number 7.
  topic_specification spec;
  spec.type = topic_type::int64;
  auto seven = msg("7");
  CHECK(code_of(resolve_update({next, R"({"value": 7})", {}}, seven.get(), true,
                               &spec))
            .empty());
}

TEST_CASE("a patch makes the new value from a JSON value") {
  auto last = msg(R"({"a": 1, "l": [1]})", true);
  auto tmpl = msg("");
  auto r = resolve_update(
      {tmpl, {}, R"([{"op": "add", "path": "/l/-", "value": 2}])"}, last.get(),
      true, nullptr);
  auto m = std::get<mqtt::message_ptr>(r);
  CHECK(m->payload == R"({"a":1,"l":[1,2]})");
  CHECK(mqtt::props_of(*m).content_type == std::string{"application/json"});
  CHECK(mqtt::props_of(*m).payload_format_indicator == uint8_t{1});
  CHECK(m->topic == "t");
  CHECK(
      code_of(resolve_update({tmpl, {}, R"([{"op": "remove", "path": "/x"}])"},
                             last.get(), true, nullptr))
      == "PATCH_FAILED");
  CHECK(code_of(resolve_update({tmpl, {}, "[]"}, nullptr, true, nullptr))
        == "NO_VALUE");
  auto text = msg("words");
  CHECK(code_of(resolve_update({tmpl, {}, "[]"}, text.get(), true, nullptr))
        == "NOT_JSON");
  CHECK(code_of(resolve_update({tmpl, R"({"pointer": "/a", "equals": 2})",
                                R"([{"op": "remove", "path": "/a"}])"},
                               last.get(), true, nullptr))
        == "CONSTRAINT_FAILED");
}
