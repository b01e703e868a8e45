// The delta form of updates (protocol/update_delta.hpp): which values get
// which delta, that a delta is sent only when smaller than the value, and
// that it keeps the update's other properties.

#include <doctest/doctest.h>

#include <chrono>

#include "protocol/binary_delta.hpp"
#include "protocol/json_delta.hpp"
#include "protocol/update_delta.hpp"

using namespace castor;

namespace {

update make(uint64_t seq, std::string payload,
            const char* content_type = nullptr, bool utf8 = false) {
  mqtt::publish p;
  p.topic = "t";
  p.payload = std::move(payload);
  p.qos = 1;
  if (content_type)
    p.props.content_type = content_type;
  if (utf8)
    p.props.payload_format_indicator = 1;
  p.props.user_properties.emplace_back("k", "v");
  return update{
      seq,
      value_type::binary,
      mqtt::make_message(std::move(p), "pub", std::chrono::steady_clock::now()),
      nullptr,
      0,
      false};
}

std::string big_doc(int n) {
  std::string s = R"({"pad": ")" + std::string(200, 'p') + R"(", "n": )";
  return s + std::to_string(n) + "}";
}

} // namespace

TEST_CASE("JSON values: a JSON Patch, smaller than the value") {
  auto a = basis_of(make(1, big_doc(1), "application/json"));
  auto b = basis_of(make(2, big_doc(2), nullptr, true)); // by indicator
  CHECK(a.type == topic_type::json);
  CHECK(b.type == topic_type::json);
  auto d = make_delta(a, b);
  REQUIRE(d);
  CHECK(d->payload == R"([{"op":"replace","path":"/n","value":2}])");
  auto& props = mqtt::props_of(*d);
  CHECK(props.content_type == std::string{json_patch_content_type});
  CHECK(props.payload_format_indicator == uint8_t{1});
  REQUIRE(props.user_properties.size() == 1); // kept
  CHECK(d->topic == "t");
  CHECK(d->qos == 1);
  auto back = apply_json_patch(a.json, nlohmann::json::parse(d->payload));
  REQUIRE(back);
  CHECK(*back == b.json);
}

TEST_CASE("text and bytes: a binary delta") {
  std::string text(300, 't');
  auto a = basis_of(make(1, text));
  auto changed = text;
  changed[150] = 'X';
  auto b = basis_of(make(2, changed));
  CHECK(a.type == topic_type::string);
  auto d = make_delta(a, b);
  REQUIRE(d);
  auto& props = mqtt::props_of(*d);
  CHECK(props.content_type == std::string{binary_delta_content_type});
  CHECK_FALSE(props.payload_format_indicator);
  CHECK(apply_binary_delta(text, d->payload) == changed);
  // Bytes that are not UTF-8 the same way.
  std::string bytes(300, '\xff');
  auto c = basis_of(make(3, bytes));
  CHECK(c.type == topic_type::binary);
  bytes[0] = 0;
  auto e = make_delta(c, basis_of(make(4, bytes)));
  REQUIRE(e);
  CHECK(apply_binary_delta(std::string(300, '\xff'), e->payload) == bytes);
  // A text that does not parse as JSON under a JSON content type is text.
  CHECK(basis_of(make(5, "{", "application/json")).type == topic_type::string);
}

TEST_CASE("no delta across kinds, or when not smaller") {
  auto json_a = basis_of(make(1, big_doc(1), "application/json"));
  auto text_b = basis_of(make(2, big_doc(2))); // no hint: text
  CHECK(text_b.type == topic_type::string);
  CHECK_FALSE(make_delta(json_a, text_b));
  CHECK_FALSE(make_delta(text_b, json_a));
  // Small values: the patch is not smaller.
  auto s1 = basis_of(make(3, R"({"n": 1})", "application/json"));
  auto s2 = basis_of(make(4, R"({"n": 2})", "application/json"));
  CHECK_FALSE(make_delta(s1, s2));
  CHECK_FALSE(make_delta(basis_of(make(5, "abc")), basis_of(make(6, "abd"))));
  // Nothing to start from.
  CHECK_FALSE(make_delta(delta_basis{}, s2));
}
