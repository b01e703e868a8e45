// Topic specifications (protocol/topic_spec.hpp): types, properties, the
// removal-policy and range languages, their errors and canonical forms.

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "protocol/topic_spec.hpp"

using namespace castor;
using namespace std::chrono_literals;

namespace {

removal_policy policy(std::string_view text) {
  auto p = parse_removal_policy(text);
  if (auto e = std::get_if<expression_error>(&p))
    FAIL("'" << text << "': " << e->message << " at " << e->offset);
  return std::get<removal_policy>(p);
}

expression_error policy_error(std::string_view text) {
  auto p = parse_removal_policy(text);
  REQUIRE(std::holds_alternative<expression_error>(p));
  return std::get<expression_error>(p);
}

using props = std::map<std::string, std::string>;

specification_error spec_error(std::string_view type, props p) {
  auto s = make_specification(type, p);
  REQUIRE(std::holds_alternative<specification_error>(s));
  return std::get<specification_error>(s);
}

topic_specification spec(std::string_view type, props p = {}) {
  auto s = make_specification(type, p);
  if (auto e = std::get_if<specification_error>(&s))
    FAIL(e->property << ": " << e->message);
  return std::get<topic_specification>(s);
}

/// Facts at `now` for a topic last updated at `last`, with `subs`
/// subscribers, below each threshold since `below` when it is below it.
removal_policy::facts facts(int64_t now, int64_t last, uint64_t subs = 0,
                            int64_t below = 0, bool closed = false) {
  removal_policy::facts f;
  f.now = now;
  f.last_update = last;
  f.below_since = [subs, below](uint64_t n) -> std::optional<int64_t> {
    if (subs < n)
      return below;
    return std::nullopt;
  };
  f.session_closed = closed;
  return f;
}

} // namespace

TEST_CASE("topic types by their API names") {
  for (auto name :
       {"json", "string", "int64", "double", "binary", "time_series"}) {
    auto t = parse_topic_type(name);
    REQUIRE(t);
    CHECK(to_string(*t) == name);
  }
  CHECK_FALSE(parse_topic_type("JSON"));
  CHECK_FALSE(parse_topic_type("float"));
  CHECK_FALSE(parse_topic_type(""));
}

TEST_CASE("removal policies: each condition, and their canonical text") {
  CHECK(policy("when no updates for 10m").to_string()
        == "when no updates for 10m");
  CHECK(policy("WHEN No Updates FOR 600s").to_string()
        == "when no updates for 10m");
  CHECK(policy("when subscriptions < 1 for 5m").to_string()
        == "when subscriptions < 1 for 5m");
  CHECK(policy("when subscriptions<2 for 90s").to_string()
        == "when subscriptions < 2 for 90s");
  CHECK(policy("when this session closes").to_string()
        == "when this session closes");
  CHECK(policy("when time after 1700000000000").to_string()
        == "when time after 1700000000000");
  CHECK(policy("when no updates for 1d").to_string()
        == "when no updates for 1d");
  CHECK(policy("when no updates for 1500ms").to_string()
        == "when no updates for 1500ms");
}

TEST_CASE("removal policies: and binds tighter than or, parentheses group") {
  auto p = policy("when this session closes or no updates for 1h and "
                  "subscriptions < 1 for 10m");
  CHECK(p.root.what == removal_policy::node::op::any);
  REQUIRE(p.root.parts.size() == 2);
  CHECK(p.root.parts[1].what == removal_policy::node::op::all);
  CHECK(p.to_string()
        == "when this session closes or no updates for 1h and "
           "subscriptions < 1 for 10m");
  auto q = policy("when (this session closes or no updates for 1h) and "
                  "subscriptions < 1 for 10m");
  CHECK(q.root.what == removal_policy::node::op::all);
  CHECK(q.to_string()
        == "when (this session closes or no updates for 1h) and "
           "subscriptions < 1 for 10m");
  // Redundant parentheses go; the canonical text parses to itself.
  auto r = policy("when ((no updates for 10m))");
  CHECK(r.to_string() == "when no updates for 10m");
  CHECK(policy(q.to_string()).to_string() == q.to_string());
}

TEST_CASE("removal policies: when they are due") {
  const int64_t m = 60'000;
  auto idle = policy("when no updates for 10m");
  CHECK_FALSE(idle.due(facts(100 * m, 91 * m)));
  CHECK(idle.due(facts(100 * m, 90 * m)));
  auto unsubscribed = policy("when subscriptions < 1 for 5m");
  CHECK_FALSE(unsubscribed.due(facts(100 * m, 0, 1))); // one subscriber
  CHECK_FALSE(unsubscribed.due(facts(100 * m, 0, 0, 96 * m)));
  CHECK(unsubscribed.due(facts(100 * m, 0, 0, 95 * m)));
  auto closes = policy("when this session closes");
  CHECK_FALSE(closes.due(facts(0, 0)));
  CHECK(closes.due(facts(0, 0, 0, 0, true)));
  auto at = policy("when time after 1000");
  CHECK_FALSE(at.due(facts(1000, 0)));
  CHECK(at.due(facts(1001, 0)));
  auto both = policy("when no updates for 10m and subscriptions < 1 for 5m");
  CHECK_FALSE(both.due(facts(100 * m, 80 * m, 1)));
  CHECK_FALSE(both.due(facts(100 * m, 95 * m, 0, 80 * m)));
  CHECK(both.due(facts(100 * m, 80 * m, 0, 80 * m)));
  auto either = policy("when this session closes or time after 1000");
  CHECK(either.due(facts(1001, 0)));
  CHECK(either.due(facts(0, 0, 0, 0, true)));
  CHECK_FALSE(either.due(facts(999, 0)));
}

TEST_CASE("removal policies: no session has '<filter>' for a period") {
  auto p = policy("when no session has '$ClientId is \"pump-7\"' for 5s");
  CHECK(p.to_string()
        == "when no session has '$ClientId is \"pump-7\"' for 5s");
  // A filter with single quotes is written in double ones.
  auto q = policy("when no session has \"region in ['eu', 'us']\" for 1m or "
                  "no updates for 1h");
  CHECK(q.to_string()
        == "when no session has \"region in ['eu', 'us']\" for 1m or no "
           "updates for 1h");
  CHECK(policy(q.to_string()).to_string() == q.to_string());
  REQUIRE(static_cast<bool>(p.root.condition.sessions));
  session_facts pump;
  pump.properties["$ClientId"] = "pump-7";
  CHECK(p.root.condition.sessions->selects(pump));
  // Due when none has been seen for the period.
  auto since = [](std::optional<int64_t> s) {
    removal_policy::facts f;
    f.now = 10'000;
    f.none_since = [s](const session_filter&) { return s; };
    return f;
  };
  CHECK(p.due(since(5'000)));
  CHECK_FALSE(p.due(since(5'001)));
  CHECK_FALSE(p.due(since(std::nullopt))); // one exists now
  CHECK_FALSE(p.due(facts(10'000, 0)));    // nobody asked the sessions
  // Errors point into the filter.
  auto e = policy_error("when no session has 'region is' for 5s");
  CHECK(e.offset == 30);
  CHECK(e.message.find("session filter:") != std::string::npos);
  e = policy_error("when no session has region for 5s");
  CHECK(e.message.find("a session filter in quotes") != std::string::npos);
  e = policy_error("when no session has 'all for 5s");
  CHECK(e.offset == 20);
  CHECK(e.message.find("no closing '") != std::string::npos);
  e = policy_error("when no session has 'all'");
  CHECK(e.message.find("'for'") != std::string::npos);
  e = policy_error("when no sessions for 5s");
  CHECK(e.message.find("'updates' or 'session'") != std::string::npos);
}

TEST_CASE("removal policies: errors say where and what was expected") {
  auto e = policy_error("no updates for 10m");
  CHECK(e.offset == 0);
  CHECK(e.message.find("'when'") != std::string::npos);
  e = policy_error("when no updates for 10");
  CHECK(e.offset == 20);
  CHECK(e.message.find("period") != std::string::npos);
  e = policy_error("when no updates for 10y");
  CHECK(e.offset == 22);
  CHECK(e.message.find("unknown unit 'y'") != std::string::npos);
  e = policy_error("when no updates for 10m or");
  CHECK(e.message.find("found the end") != std::string::npos);
  e = policy_error("when (this session closes");
  CHECK(e.message.find("')'") != std::string::npos);
  e = policy_error("when subscriptions 1 for 5m");
  CHECK(e.message.find("'<'") != std::string::npos);
  e = policy_error("when subscriptions < 0 for 5m");
  CHECK(e.message.find("above 0") != std::string::npos);
  e = policy_error("when this topic closes");
  CHECK(e.offset == 10);
  CHECK(e.message.find("'session'") != std::string::npos);
  e = policy_error("when time after soon");
  CHECK(e.message.find("a number") != std::string::npos);
  e = policy_error("when no updates for 10m, or this session closes");
  CHECK(e.offset == 23);
  CHECK(e.message.find("unexpected ','") != std::string::npos);
  e = policy_error("when no updates for 10m this session closes");
  CHECK(e.message.find("'and', 'or' or the end") != std::string::npos);
  e = policy_error("when time after 99999999999999999999999");
  CHECK(e.message.find("too large") != std::string::npos);
  e = policy_error("when");
  CHECK(e.message.find("a condition") != std::string::npos);
  // Nesting is bounded (the parser recurses per level).
  std::string deep = "when " + std::string(16, '(') + "this session closes"
                     + std::string(16, ')');
  CHECK(policy(deep).to_string() == "when this session closes");
  e = policy_error("when " + std::string(17, '(') + "this session closes"
                   + std::string(17, ')'));
  CHECK(e.offset == 21);
  CHECK(e.message.find("at most 16 levels") != std::string::npos);
}

TEST_CASE("ranges: limit, last, both; the smaller wins") {
  auto parse = [](std::string_view t) {
    auto r = parse_range(t);
    REQUIRE(std::holds_alternative<range_expression>(r));
    return std::get<range_expression>(r);
  };
  auto unbounded = parse("");
  CHECK(unbounded.keeps(1'000'000, 1000h));
  CHECK(unbounded.to_string().empty());
  auto limit = parse("limit 3");
  CHECK(limit.keeps(2, 1000h));
  CHECK_FALSE(limit.keeps(3, 0ms));
  auto last = parse("last 10s");
  CHECK(last.keeps(1000, 10s));
  CHECK_FALSE(last.keeps(0, 10001ms));
  auto both = parse("last 1m limit 5");
  CHECK(both.to_string() == "limit 5 last 1m");
  CHECK(both.keeps(4, 60s));
  CHECK_FALSE(both.keeps(5, 1s));  // the limit is smaller here
  CHECK_FALSE(both.keeps(0, 61s)); // the period is smaller here
  auto err = [](std::string_view t) {
    auto r = parse_range(t);
    REQUIRE(std::holds_alternative<expression_error>(r));
    return std::get<expression_error>(r).message;
  };
  CHECK(err("limit").find("a number after 'limit'") != std::string::npos);
  CHECK(err("limit 3 limit 4").find("given twice") != std::string::npos);
  CHECK(err("last 10").find("a period such as 10s") != std::string::npos);
  CHECK(err("first 3").find("'limit' or 'last'") != std::string::npos);
}

TEST_CASE("specifications: properties checked, canonical, compared") {
  auto s = spec("json", {{"CONFLATION", "always"},
                         {"REMOVAL", "when no updates for 600s"},
                         {"OWNER", "alice"},
                         {"VALIDATE_VALUES", "true"},
                         {"DONT_RETAIN_VALUE", "false"}});
  CHECK(s.type == topic_type::json);
  CHECK(s.conflation == conflation_mode::always);
  CHECK(s.validate_values);
  CHECK_FALSE(s.dont_retain_value);
  CHECK(s.owner == "alice");
  REQUIRE(s.removal);
  CHECK(s.properties()
        == props{{"CONFLATION", "always"},
                 {"OWNER", "alice"},
                 {"REMOVAL", "when no updates for 10m"},
                 {"VALIDATE_VALUES", "true"}});
  // The same specification written differently is equal; another is not.
  CHECK(s
        == spec("json", {{"CONFLATION", "always"},
                         {"REMOVAL", "WHEN no updates for 10m"},
                         {"OWNER", "alice"},
                         {"VALIDATE_VALUES", "true"}}));
  CHECK(s != spec("json", {{"CONFLATION", "always"}, {"OWNER", "alice"}}));
  CHECK(s != spec("string", s.properties()));
  CHECK(spec("binary") == spec("binary", {{"TIDY_ON_UNSUBSCRIBE", "false"}}));
}

TEST_CASE("specifications: time series") {
  auto s = spec("time_series", {{"TIME_SERIES_EVENT_VALUE_TYPE", "double"},
                                {"TIME_SERIES_RETAINED_RANGE", "limit 1000"},
                                {"TIME_SERIES_SUBSCRIPTION_RANGE", "last 1h"}});
  CHECK(s.event_type == topic_type::double_);
  CHECK(s.retained_range.limit == 1000u);
  CHECK(s.subscription_range.last == std::chrono::milliseconds(3'600'000));
  auto e = spec_error("time_series", {});
  CHECK(e.property == "TIME_SERIES_EVENT_VALUE_TYPE");
  CHECK(e.message == "required for time_series topics");
  e = spec_error("time_series",
                 {{"TIME_SERIES_EVENT_VALUE_TYPE", "time_series"}});
  CHECK(e.message.find("expected json, string") != std::string::npos);
  e = spec_error("json", {{"TIME_SERIES_RETAINED_RANGE", "limit 5"}});
  CHECK(e.property == "TIME_SERIES_RETAINED_RANGE");
  CHECK(e.message == "only for time_series topics");
  e = spec_error("time_series", {{"TIME_SERIES_EVENT_VALUE_TYPE", "json"},
                                 {"TIME_SERIES_RETAINED_RANGE", "limit x"}});
  CHECK(e.property == "TIME_SERIES_RETAINED_RANGE");
  CHECK(e.message.find("at offset 6") != std::string::npos);
}

TEST_CASE("specifications: errors name the property") {
  auto e = spec_error("float", {});
  CHECK(e.property.empty());
  CHECK(e.message.find("unknown type 'float'") != std::string::npos);
  e = spec_error("json", {{"VALIDATE_VALUES", "yes"}});
  CHECK(e.property == "VALIDATE_VALUES");
  CHECK(e.message == "expected true or false, found 'yes'");
  e = spec_error("json", {{"CONFLATION", "sometimes"}});
  CHECK(e.property == "CONFLATION");
  e = spec_error("json", {{"REMOVAL", "when never"}});
  CHECK(e.property == "REMOVAL");
  CHECK(e.message.find("at offset 5") != std::string::npos);
  e = spec_error("json", {{"OWNER", ""}});
  CHECK(e.property == "OWNER");
  e = spec_error("json", {{"COLOUR", "blue"}});
  CHECK(e.property == "COLOUR");
  CHECK(e.message == "unknown property");
}
