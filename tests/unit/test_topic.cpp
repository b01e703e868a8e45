// Topic names, filters, shared subscriptions and matching (MQTT 5.0 sections
// 4.7 and 4.8.2).

#include "protocol/topic.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace castor::mqtt;
using namespace std::literals;

namespace {

struct validity_case {
  std::string_view text;
  bool valid;
};

} // namespace

TEST_CASE("topic names") {
  const validity_case cases[] = {
      // 4.7.3: case sensitive, spaces allowed, leading and trailing '/'.
      {"sport/tennis/player1", true},
      {"ACCOUNTS", true},
      {"Accounts payable", true},
      {"/finance", true},
      {"finance/", true},
      {"/", true},
      {"//", true},
      {"a//b", true},
      {"$SYS/monitor/Clients", true},
      {"$share/group/x", true}, // a name, not a filter: nothing special
      {"caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80", true}, // é, €, U+1F600
      {"\x01\x1F\x7F", true}, // control characters: SHOULD NOT, not malformed
      {"\xEF\xBF\xBF", true}, // U+FFFF non-character: SHOULD NOT only
      {"", false},
      {"sport/+", false},
      {"+", false},
      {"#", false},
      {"sport/#", false},
      {"a+b", false},
      {"a#b", false},
      {"a\0b"sv, false},           // U+0000
      {"\xED\xA0\x80", false},     // U+D800, a surrogate
      {"\xED\xBF\xBF", false},     // U+DFFF
      {"\xC0\xAF", false},         // overlong '/'
      {"\xE0\x80\xAF", false},     // overlong '/'
      {"\xF0\x80\x80\xAF", false}, // overlong '/'
      {"\xF4\x90\x80\x80", false}, // above U+10FFFF
      {"\xF8\x88\x80\x80\x80", false},
      {"\x80", false},     // continuation byte alone
      {"a\xC3", false},    // truncated sequence
      {"\xE2\x82", false}, // truncated sequence
      {"\xC3(", false},    // bad continuation
      {"\xFF", false},
  };
  for (auto& c : cases) {
    CAPTURE(std::string{c.text});
    CHECK_EQ(valid_topic_name(c.text), c.valid);
  }
}

TEST_CASE("topic name length limit") {
  CHECK(valid_topic_name(std::string(65535, 'a')));
  CHECK(!valid_topic_name(std::string(65536, 'a')));
  CHECK(valid_topic_name(std::string(65535, '/')));
}

TEST_CASE("topic filters") {
  const validity_case cases[] = {
      // 4.7.1.2 multi-level wildcard.
      {"sport/tennis/player1/#", true},
      {"sport/#", true},
      {"#", true},
      {"sport/tennis/#", true},
      {"sport/tennis#", false},
      {"sport/tennis/#/ranking", false},
      // 4.7.1.3 single-level wildcard.
      {"+", true},
      {"+/tennis/#", true},
      {"sport+", false},
      {"sport/+/player1", true},
      {"+/+", true},
      {"/+", true},
      {"+/", true},
      {"++", false},
      {"+a", false},
      {"a/+b/c", false},
      {"a/b+/c", false},
      {"##", false},
      {"#/", false},
      {"/#", true},
      {"a/#b", false},
      {"a/b#", false},
      {"+/#", true},
      {"+/+/#", true},
      // Plain filters, empty levels, $-topics.
      {"sport/tennis/player1", true},
      {"/", true},
      {"a//b", true},
      {"$SYS/#", true},
      {"$SYS/monitor/+", true},
      {"$share", true}, // no '/' after it: an ordinary first level
      {"$sharex/g/a", true},
      {"", false},
      {"a\0b"sv, false},
      {"\xED\xA0\x80/#", false},
      {"a/\xC0\xAF", false},
  };
  for (auto& c : cases) {
    CAPTURE(std::string{c.text});
    auto info = parse_filter(c.text);
    CHECK_EQ(info.valid, c.valid);
    if (info.valid) {
      CHECK(!info.shared);
      CHECK_EQ(info.filter, c.text);
      CHECK(info.group.empty());
      CHECK_EQ(info.wildcard,
               c.text.find_first_of("+#") != std::string_view::npos);
    } else {
      CHECK(!info.shared);
      CHECK(!info.wildcard);
    }
  }
}

TEST_CASE("topic filter length limit") {
  CHECK(parse_filter(std::string(65535, 'a')).valid);
  CHECK(!parse_filter(std::string(65536, 'a')).valid);
  auto long_share = "$share/g/" + std::string(65535 - 9, 'a');
  CHECK(parse_filter(long_share).valid);
  CHECK(!parse_filter(long_share + "a").valid);
}

TEST_CASE("shared subscriptions") {
  struct shared_case {
    std::string_view text;
    bool valid;
    std::string_view group;
    std::string_view filter;
    bool wildcard;
  };
  const shared_case cases[] = {
      // 4.8.2 examples.
      {"$share/consumer1/sport/tennis/+", true, "consumer1", "sport/tennis/+",
       true},
      {"$share/consumer2/sport/tennis/+", true, "consumer2", "sport/tennis/+",
       true},
      {"$share/consumer1//finance", true, "consumer1", "/finance", false},
      {"$share/consumer1/+/finance", true, "consumer1", "+/finance", true},
      {"$share/g/#", true, "g", "#", true},
      {"$share/g/$SYS/#", true, "g", "$SYS/#", true},
      {"$share/g/a", true, "g", "a", false},
      {"$share/g//", true, "g", "/", false},
      {"$share/$share/a", true, "$share", "a", false},
      {"$share/gr\xC3\xBCn/a", true, "gr\xC3\xBCn", "a", false},
      // Invalid forms.
      {"$share/consumer1", false, "", "", false},  // no filter
      {"$share/consumer1/", false, "", "", false}, // empty filter
      {"$share//x", false, "", "", false},         // empty group
      {"$share/", false, "", "", false},
      {"$share/+/x", false, "", "", false},
      {"$share/#/x", false, "", "", false},
      {"$share/g+/x", false, "", "", false},
      {"$share/g#/x", false, "", "", false},
      {"$share/g/a/#/b", false, "", "", false},
      {"$share/g/a+", false, "", "", false},
      {"$share/g/\xED\xA0\x80", false, "", "", false},
  };
  for (auto& c : cases) {
    CAPTURE(std::string{c.text});
    auto info = parse_filter(c.text);
    CHECK_EQ(info.valid, c.valid);
    CHECK_EQ(info.shared, c.valid);
    if (c.valid) {
      CHECK_EQ(info.group, c.group);
      CHECK_EQ(info.filter, c.filter);
      CHECK_EQ(info.wildcard, c.wildcard);
      // The views point into the input.
      CHECK_EQ(info.filter.data() + info.filter.size(),
               c.text.data() + c.text.size());
    }
  }
}

TEST_CASE("delta subscriptions") {
  struct delta_case {
    std::string_view text;
    bool valid;
    std::string_view filter;
    std::string_view subject;
    bool shared;
    bool wildcard;
  };
  const delta_case cases[] = {
      {"$delta/a/b", true, "$delta/a/b", "a/b", false, false},
      {"$delta/#", true, "$delta/#", "#", false, true},
      {"$delta/+/x", true, "$delta/+/x", "+/x", false, true},
      {"$delta//", true, "$delta//", "/", false, false},
      {"$share/g/$delta/a/+", true, "$delta/a/+", "a/+", true, true},
      {"$delta/", false, "", "", false, false},
      {"$delta/$delta/a", false, "", "", false, false},
      {"$delta/$share/g/a", false, "", "", false, false},
      {"$delta/a/#/b", false, "", "", false, false},
      {"$delta/a+", false, "", "", false, false},
  };
  for (auto& c : cases) {
    CAPTURE(std::string{c.text});
    auto info = parse_filter(c.text);
    CHECK_EQ(info.valid, c.valid);
    if (!c.valid)
      continue;
    CHECK(info.delta);
    CHECK_EQ(info.filter, c.filter);
    CHECK_EQ(info.subject, c.subject);
    CHECK_EQ(info.shared, c.shared);
    CHECK_EQ(info.wildcard, c.wildcard);
  }
  // Not a delta subscription: the subject is the filter proper.
  auto plain = parse_filter("$share/g/$deltas/a");
  CHECK(plain.valid);
  CHECK_FALSE(plain.delta);
  CHECK_EQ(plain.subject, "$deltas/a");
  CHECK(parse_filter("$delta").valid); // a plain filter (reserved, refused)
  CHECK_FALSE(parse_filter("$delta").delta);
  // Reserved names: published into by nobody.
  CHECK(reserved_topic("$delta"));
  CHECK(reserved_topic("$delta/a"));
  CHECK(reserved_topic("$castor/api/x"));
  CHECK_FALSE(reserved_topic("$deltas/a"));
  CHECK_FALSE(reserved_topic("a/$delta"));
}

TEST_CASE("topic matching") {
  struct match_case {
    std::string_view filter;
    std::string_view topic;
    bool matches;
  };
  const match_case cases[] = {
      // 4.7.1.2
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis/player2", false},
      {"sport/tennis/player1/#", "sport/tennis", false},
      {"sport/#", "sport", true},
      {"sport/#", "sport/", true},
      {"sport/#", "sports", false},
      {"#", "sport", true},
      {"#", "/", true},
      {"#", "a/b/c", true},
      // 4.7.1.3
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+/tennis/#", "sport/tennis", true},
      {"+/tennis/#", "sport/tennis/x/y", true},
      {"+/tennis/#", "sport/golf", false},
      {"sport/+/player1", "sport/tennis/player1", true},
      {"sport/+/player1", "sport//player1", true},
      {"sport/+/player1", "sport/tennis/player2", false},
      {"+", "a", true},
      {"+/#", "a", true},
      {"+/+/#", "a", false},
      {"a/+/#", "a", false},
      {"a/+/#", "a/b", true},
      {"a/+", "a/b/c", false},
      // 4.7.2 $-topics
      {"#", "$SYS/monitor/Clients", false},
      {"#", "$SYS", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"+", "$SYS", false},
      {"+/#", "$SYS/x", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/+/Clients", "$SYS/monitor/Clients", true},
      {"a/#", "a/$b", true}, // only the first level is special
      {"a/+", "a/$b", true},
      {"+", "a$", true},
      // 4.7.3: case, spaces, empty levels
      {"ACCOUNTS", "Accounts", false},
      {"Accounts payable", "Accounts payable", true},
      {"/finance", "finance", false},
      {"finance", "/finance", false},
      {"/finance", "/finance", true},
      {"a//b", "a//b", true},
      {"a//b", "a/b", false},
      {"a/+/b", "a//b", true},
      {"/", "/", true},
      {"+/+", "/", true},
      {"+", "/", false},
      {"/#", "/", true},
      {"/#", "/a/b", true},
      {"/#", "a", false},
      {"a/", "a", false},
      {"a", "a/", false},
      {"a/+", "a/", true},
      {"a/b", "a/bc", false},
      {"a/bc", "a/b", false},
  };
  for (auto& c : cases) {
    CAPTURE(std::string{c.filter});
    CAPTURE(std::string{c.topic});
    REQUIRE(parse_filter(c.filter).valid);
    REQUIRE(valid_topic_name(c.topic));
    CHECK_EQ(topic_matches(c.filter, c.topic), c.matches);
  }
}

TEST_CASE("topic matching of a shared subscription uses its filter proper") {
  auto info = parse_filter("$share/consumer1/sport/tennis/+");
  REQUIRE(info.valid);
  CHECK(topic_matches(info.filter, "sport/tennis/player1"));
  CHECK(!topic_matches(info.filter, "sport/golf/player1"));
}
