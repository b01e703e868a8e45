// Typed values (protocol/value.hpp): conversion of publish payloads to an
// explicit topic's type and their refusals, inference for implicit topics,
// and the form MQTT subscribers receive.

#include <doctest/doctest.h>

#include <string>

#include "protocol/value.hpp"

using namespace castor;

namespace {

typed_value converted(topic_type t, std::string_view payload) {
  auto v = convert_payload(t, payload);
  if (auto e = std::get_if<conversion_error>(&v))
    FAIL(to_string(t) << " '" << payload << "': " << e->message);
  return std::get<typed_value>(v);
}

bool refused(topic_type t, std::string_view payload) {
  return std::holds_alternative<conversion_error>(convert_payload(t, payload));
}

} // namespace

TEST_CASE("values: JSON") {
  auto v = converted(topic_type::json, R"({"a": [1, 2.5, "x"]})");
  CHECK(v.type == topic_type::json);
  CHECK(v.json["a"][1] == 2.5);
  CHECK(v.bytes == R"({"a": [1, 2.5, "x"]})"); // as published
  CHECK(converted(topic_type::json, "42").json == 42);
  CHECK(converted(topic_type::json, "\"text\"").json == "text");
  CHECK(refused(topic_type::json, "{\"a\": }"));
  CHECK(refused(topic_type::json, ""));
  CHECK(refused(topic_type::json, "{} {}"));
  CHECK(refused(topic_type::json, "\"\xff\""));
  // A NUL byte is not the end of the document (nlohmann's reader would
  // stop at it and take "1").
  CHECK(refused(topic_type::json, std::string("1\0x", 3)));
  CHECK(refused(topic_type::json, std::string("{}\0", 3)));
  CHECK(infer_value(std::string("1\0x", 3), "application/json", true).type
        == topic_type::binary);
}

TEST_CASE("values: STRING") {
  CHECK(converted(topic_type::string, "h\xc3\xa9llo").bytes == "h\xc3\xa9llo");
  CHECK(converted(topic_type::string, "").bytes.empty());
  CHECK(refused(topic_type::string, "\xff\xfe"));
  CHECK(refused(topic_type::string, std::string("a\0b", 3)));
  CHECK(refused(topic_type::string, "\xed\xa0\x80")); // a surrogate
}

TEST_CASE("values: INT64") {
  CHECK(converted(topic_type::int64, "42").int64 == 42);
  CHECK(converted(topic_type::int64, "-7").int64 == -7);
  CHECK(converted(topic_type::int64, "+7").int64 == 7);
  CHECK(converted(topic_type::int64, "9223372036854775807").int64 == INT64_MAX);
  CHECK(converted(topic_type::int64, "-9223372036854775808").int64
        == INT64_MIN);
  CHECK(refused(topic_type::int64, "9223372036854775808"));
  CHECK(refused(topic_type::int64, "-9223372036854775809"));
  for (auto bad : {"", "-", "1.5", " 1", "1 ", "0x10", "1e3", "abc"})
    CHECK_MESSAGE(refused(topic_type::int64, bad), bad);
}

TEST_CASE("values: DOUBLE") {
  CHECK(converted(topic_type::double_, "2.5").number == 2.5);
  CHECK(converted(topic_type::double_, "-3").number == -3.0);
  CHECK(converted(topic_type::double_, ".5").number == 0.5);
  CHECK(converted(topic_type::double_, "1e3").number == 1000.0);
  CHECK(converted(topic_type::double_, "6.02E+23").number == 6.02e23);
  for (auto bad :
       {"", ".", "-", "nan", "inf", "1e", "1e999", " 1", "0x1p3", "1,5"})
    CHECK_MESSAGE(refused(topic_type::double_, bad), bad);
}

TEST_CASE("values: BINARY takes anything; a time series takes events") {
  auto v = converted(topic_type::binary, std::string("\0\xff", 2));
  CHECK(v.bytes.size() == 2);
  CHECK(refused(topic_type::time_series, "1"));
}

TEST_CASE("values: an implicit topic infers the type of each payload") {
  CHECK(infer_value(R"({"t": 1})", "application/json", false).type
        == topic_type::json);
  CHECK(
      infer_value(R"({"t": 1})", "application/json; charset=utf-8", false).type
      == topic_type::json);
  CHECK(infer_value(R"({"t": 1})", "", true).type == topic_type::json);
  // JSON text without either hint stays text: a plain MQTT client's
  // payload is not reinterpreted.
  CHECK(infer_value(R"({"t": 1})", "", false).type == topic_type::string);
  CHECK(infer_value("not json", "application/json", false).type
        == topic_type::string);
  CHECK(infer_value("hello", "", true).type == topic_type::string);
  CHECK(infer_value("\xff\x00", "", false).type == topic_type::binary);
  auto j = infer_value("[1,2]", "", true);
  CHECK(j.json == nlohmann::json::array({1, 2}));
  CHECK(j.bytes == "[1,2]");
}

TEST_CASE("values: what MQTT subscribers receive") {
  CHECK(mqtt_form_of(topic_type::json).content_type == "application/json");
  CHECK(mqtt_form_of(topic_type::json).utf8);
  CHECK(mqtt_form_of(topic_type::string).utf8);
  CHECK(mqtt_form_of(topic_type::string).content_type.empty());
  CHECK(mqtt_form_of(topic_type::int64).utf8);
  CHECK(mqtt_form_of(topic_type::double_).utf8);
  CHECK_FALSE(mqtt_form_of(topic_type::binary).utf8);
}
