#include <doctest/doctest.h>

#include "protocol/channel.hpp"
#include "protocol/topic_mapping.hpp"

using namespace castor;

namespace {

topic_specification spec_of(const char* type) {
  return std::get<topic_specification>(make_specification(type, {}));
}

std::vector<mapping_rule> rule_list() {
  return {{"sensors/+/temp", spec_of("double")},
          {"sensors/#", spec_of("string")},
          {"count/+", spec_of("int64")},
          {"doc/#", spec_of("json")},
          {"blob/#", spec_of("binary")}};
}

topic_mapping rules() {
  return topic_mapping{rule_list()};
}

mqtt::publish pub(std::string topic, std::string payload, uint8_t qos = 0,
                  uint16_t id = 0) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.packet_id = id;
  return p;
}

} // namespace

TEST_SUITE("topic mapping") {
  TEST_CASE("the first matching rule decides; no rule: implicit") {
    auto m = rules();
    REQUIRE(static_cast<bool>(m.find("sensors/a/temp")));
    CHECK(m.find("sensors/a/temp")->type == topic_type::double_);
    CHECK(m.find("sensors/a/humidity")->type == topic_type::string);
    CHECK(m.find("sensors")->type == topic_type::string);
    CHECK(m.find("count/x")->type == topic_type::int64);
    CHECK_FALSE(static_cast<bool>(m.find("count/x/y")));
    CHECK_FALSE(static_cast<bool>(m.find("other")));
    CHECK_FALSE(static_cast<bool>(topic_mapping{}.find("x")));
    // The $-rule: a leading wildcard does not match $ topics.
    topic_mapping all{{{"#", spec_of("json")}}};
    CHECK(static_cast<bool>(all.find("a/b")));
    CHECK_FALSE(static_cast<bool>(all.find("$castor/api/x")));
  }

  TEST_CASE("topics the API adds come before the rules; added, exists, "
            "conflicts; removed") {
    auto m = rules();
    auto json = std::make_shared<const topic_specification>(spec_of("json"));
    CHECK(m.find("count/x")->type == topic_type::int64);
    CHECK(m.add("count/x", json) == topic_mapping::add_result::added);
    CHECK(m.find("count/x")->type == topic_type::json);
    CHECK(m.find("count/y")->type == topic_type::int64);
    CHECK(m.add("count/x",
                std::make_shared<const topic_specification>(spec_of("json")))
          == topic_mapping::add_result::exists);
    CHECK(m.add("count/x",
                std::make_shared<const topic_specification>(spec_of("string")))
          == topic_mapping::add_result::conflicts);
    CHECK(m.find("count/x")->type == topic_type::json);
    CHECK(static_cast<bool>(m.added("count/x")));
    CHECK_FALSE(static_cast<bool>(m.added("count/y")));
    CHECK(m.remove("count/x"));
    CHECK_FALSE(m.remove("count/x"));
    CHECK(m.find("count/x")->type == topic_type::int64);
    topic_mapping none;
    CHECK(none.empty());
    CHECK(none.add("free", json) == topic_mapping::add_result::added);
    CHECK_FALSE(none.empty());
    CHECK(none.find("free")->type == topic_type::json);
    CHECK_FALSE(static_cast<bool>(none.find("other")));
    none.remove("free");
    CHECK(none.empty());
  }

  TEST_CASE("a publish converts to its topic's type and MQTT form") {
    auto p = pub("doc/1", R"({"a": 1})");
    p.props.content_type = "text/plain";
    CHECK_FALSE(map_publish(spec_of("json"), p).has_value());
    CHECK_EQ(*p.props.content_type, "application/json");
    CHECK_EQ(*p.props.payload_format_indicator, 1);
    CHECK_EQ(p.payload, R"({"a": 1})");

    p = pub("count/1", "-42");
    CHECK_FALSE(map_publish(spec_of("int64"), p).has_value());
    CHECK_FALSE(p.props.content_type.has_value());
    CHECK_EQ(*p.props.payload_format_indicator, 1);

    p = pub("blob/1", std::string("\xff\x00", 2));
    p.props.payload_format_indicator = 1;
    p.props.content_type = "x";
    CHECK_FALSE(map_publish(spec_of("binary"), p).has_value());
    CHECK_FALSE(p.props.payload_format_indicator.has_value());
    CHECK_FALSE(p.props.content_type.has_value());
  }

  TEST_CASE("a publish to a time series is an event of its event type") {
    auto spec = std::get<topic_specification>(make_specification(
        "time_series", {{"TIME_SERIES_EVENT_VALUE_TYPE", "int64"}}));
    auto p = pub("meter/1", "17");
    // The publisher's user properties of the server's names are dropped;
    // the author is the principal.
    p.props.user_properties = {
        {"seq", "99"}, {"author", "mallory"}, {"unit", "kWh"}};
    CHECK_FALSE(map_publish(spec, p, "alice").has_value());
    CHECK_EQ(*p.props.payload_format_indicator, 1);
    CHECK(p.props.user_properties
          == std::vector<mqtt::user_property>{{"unit", "kWh"},
                                              {"author", "alice"}});
    p = pub("meter/1", "seventeen");
    p.props.user_properties = {{"seq", "1"}};
    CHECK(map_publish(spec, p, "alice").has_value());
    CHECK_EQ(p.props.user_properties.size(), 1u); // refused: unchanged
  }

  TEST_CASE("what does not convert is refused with the reason") {
    auto p = pub("count/1", "4.5");
    auto why = map_publish(spec_of("int64"), p);
    REQUIRE(why.has_value());
    CHECK_NE(why->find("int64"), std::string::npos);
    CHECK_FALSE(p.props.payload_format_indicator.has_value());
    p = pub("sensors/a/temp", "warm");
    CHECK(map_publish(spec_of("double"), p).has_value());
    p = pub("doc/1", "{not json");
    CHECK(map_publish(spec_of("json"), p).has_value());
    p = pub("sensors/x", std::string("\xc3\x28", 2));
    CHECK(map_publish(spec_of("string"), p).has_value());
  }

  TEST_CASE("the channel refuses with 0x99 in MQTT 5 and acknowledges in "
            "3.1.1; implicit topics and converted payloads are routed") {
    auto opts = mqtt::channel_options{};
    opts.mapping = std::make_shared<topic_mapping>(rule_list());
    for (auto version :
         {mqtt::protocol_version::v5, mqtt::protocol_version::v311}) {
      mqtt::channel ch{opts};
      mqtt::connect c;
      c.client_id = "c";
      c.version = version;
      auto out = ch.handle_in(mqtt::packet{c});
      REQUIRE_FALSE(out.effects.empty());
      ch.handle_session_opened(false, {});
      auto expect = version == mqtt::protocol_version::v5
                        ? mqtt::reason_code::payload_format_invalid
                        : mqtt::reason_code::success;
      for (uint8_t qos : {uint8_t{1}, uint8_t{2}}) {
        out = ch.handle_in(mqtt::packet{pub("count/1", "x", qos, 7)});
        REQUIRE_EQ(out.packets.size(), 1u);
        auto code = qos == 1 ? std::get<mqtt::puback>(out.packets[0]).code
                             : std::get<mqtt::pubrec>(out.packets[0]).code;
        CHECK(code == expect);
        REQUIRE_EQ(out.effects.size(), 1u);
        auto& refused = std::get<mqtt::effect::publish_refused>(out.effects[0]);
        CHECK(refused.reason == mqtt::reason_code::payload_format_invalid);
        CHECK_NE(refused.why.find("int64"), std::string::npos);
      }
      // QoS 2 refused: the packet id is free again (no PUBREL expected).
      out = ch.handle_in(mqtt::packet{pub("count/1", "12", 2, 7)});
      REQUIRE_EQ(out.effects.size(), 1u);
      CHECK(std::holds_alternative<mqtt::effect::route>(out.effects[0]));
      out = ch.handle_in(mqtt::packet{pub("count/1", "x", 0)});
      CHECK(out.packets.empty());
      REQUIRE_EQ(out.effects.size(), 1u);
      CHECK(std::holds_alternative<mqtt::effect::publish_refused>(
          out.effects[0]));
      out = ch.handle_in(mqtt::packet{pub("free/1", "anything", 0)});
      REQUIRE_EQ(out.effects.size(), 1u);
      auto& r = std::get<mqtt::effect::route>(out.effects[0]);
      CHECK_FALSE(r.msg.props.payload_format_indicator.has_value());
      out = ch.handle_in(mqtt::packet{pub("doc/1", "[1,2]", 0)});
      REQUIRE_EQ(out.effects.size(), 1u);
      auto& j = std::get<mqtt::effect::route>(out.effects[0]);
      CHECK_EQ(*j.msg.props.content_type, "application/json");
    }
  }
}
