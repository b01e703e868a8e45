// Time series (protocol/time_series.hpp): append, edit, the retained range
// and range queries, against a brute-force model of the same rules.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "protocol/series_event.hpp"
#include "protocol/time_series.hpp"

using namespace castor;
using namespace std::chrono_literals;

namespace {

value_ptr val(const std::string& s) {
  auto v = std::make_shared<typed_value>();
  v->type = topic_type::string;
  v->bytes = s;
  return v;
}

/// The same rules, written the slow and obvious way.
struct model {
  range_expression retained;
  std::vector<ts_event> all; ///< retained events, by seq
  uint64_t next = 0;
  int64_t last = 0;

  void drop(int64_t now) {
    for (;;) {
      if (all.empty())
        return;
      auto& o = all.front();
      if (retained.keeps(all.size() - 1,
                         std::chrono::milliseconds(
                             std::max<int64_t>(0, now - o.timestamp))))
        return;
      auto seq = o.seq;
      bool orig = !o.original;
      all.erase(all.begin());
      if (orig)
        all.erase(std::remove_if(
                      all.begin(), all.end(),
                      [&](const ts_event& e) { return e.original == seq; }),
                  all.end());
    }
  }
  void append(const std::string& v, int64_t now) {
    last = std::max(last, now);
    all.push_back(ts_event{next++, last, "a", val(v), {}});
    drop(now);
  }
  bool edit(uint64_t orig, const std::string& v, int64_t now) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const ts_event& e) { return e.seq == orig; });
    if (it == all.end() || it->original)
      return false;
    last = std::max(last, now);
    all.push_back(ts_event{next++, last, "a", val(v), orig});
    drop(now);
    return true;
  }
  ts_event merged(const ts_event& o) const {
    ts_event out = o;
    for (auto& e : all)
      if (e.original == o.seq)
        out = e;
    return out;
  }
  std::vector<ts_event> range(const range_query& q, int64_t now) const {
    std::vector<ts_event> c;
    for (auto& e : all)
      if (q.what == range_query::view::edits || !e.original)
        c.push_back(e);
    std::vector<ts_event> out;
    std::optional<int64_t> anchor_time;
    bool started = false;
    uint64_t taken = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      auto& e = c[i];
      if (!started) {
        bool at = true;
        if (q.from_seq)
          at = e.seq >= *q.from_seq;
        else if (q.from_time)
          at = e.timestamp >= *q.from_time;
        else if (q.from_last)
          at = c.size() - i <= *q.from_last;
        else if (q.from_last_for)
          at = e.timestamp >= now - q.from_last_for->count();
        if (!at)
          continue;
        started = true;
        anchor_time = e.timestamp;
      }
      if (q.to_seq && e.seq > *q.to_seq)
        break;
      if (q.to_time && e.timestamp > *q.to_time)
        break;
      if (!q.to_seq && !q.to_time && q.next && taken == *q.next)
        break;
      if (!q.to_seq && !q.to_time && !q.next && q.next_for
          && e.timestamp > *anchor_time + q.next_for->count())
        break;
      ++taken;
      out.push_back(q.what == range_query::view::values ? merged(e) : e);
    }
    return out;
  }
};

bool same(const std::vector<ts_event>& a, const std::vector<ts_event>& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].seq != b[i].seq || a[i].timestamp != b[i].timestamp
        || a[i].value->bytes != b[i].value->bytes
        || a[i].original != b[i].original)
      return false;
  return true;
}

} // namespace

TEST_CASE("time series: appends and edits, values and edits views") {
  time_series ts;
  auto e0 = ts.append(val("a"), "alice", 1000);
  auto e1 = ts.append(val("b"), "bob", 2000);
  CHECK(e0.seq == 0);
  CHECK(e1.seq == 1);
  CHECK(e1.author == "bob");
  auto ed = ts.edit(0, val("A"), "carol", 3000);
  REQUIRE(std::holds_alternative<ts_event>(ed));
  CHECK(std::get<ts_event>(ed).seq == 2);
  CHECK(std::get<ts_event>(ed).original == 0u);
  ts.edit(0, val("AA"), "carol", 3500);
  // Values: the originals, the latest edit winning.
  auto v = ts.range({}, 4000).events;
  REQUIRE(v.size() == 2);
  CHECK(v[0].value->bytes == "AA");
  CHECK(v[0].original == 0u);
  CHECK(v[1].value->bytes == "b");
  // Edits: everything as appended.
  range_query q;
  q.what = range_query::view::edits;
  CHECK(ts.range(q, 4000).events.size() == 4);
  // An edit is not edited, a missing event neither.
  auto bad = ts.edit(2, val("x"), "a", 5000);
  REQUIRE(std::holds_alternative<std::string>(bad));
  CHECK(std::get<std::string>(bad).find("edit event 0") != std::string::npos);
  CHECK(std::holds_alternative<std::string>(ts.edit(9, val("x"), "a", 0)));
  CHECK(ts.latest()->value->bytes == "b");
  // Time never runs backwards within a series.
  CHECK(ts.append(val("c"), "a", 10).timestamp == 3500);
}

TEST_CASE("time series: a member keeps the events another series made") {
  // The owner's series, and the events as their messages carry them.
  time_series owner;
  std::vector<mqtt::message_ptr> msgs;
  auto sent = [&](const ts_event& e) {
    msgs.push_back(event_message("m", topic_type::string, e, 1, false));
  };
  sent(owner.append(val("a"), "alice", 1000));
  sent(owner.append(val("b"), "", 900)); // the clock went back
  sent(std::get<ts_event>(owner.edit(0, val("A"), "bob", 2000)));
  time_series member;
  for (auto& m : msgs) {
    auto e = event_of(*m, topic_type::string);
    REQUIRE(e.has_value());
    CHECK(member.take(*e, 2000));
  }
  range_query q;
  q.what = range_query::view::edits;
  auto want = owner.range(q, 2000).events;
  auto got = member.range(q, 2000).events;
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].seq == want[i].seq);
    CHECK(got[i].timestamp == want[i].timestamp);
    CHECK(got[i].author == want[i].author);
    CHECK(got[i].original == want[i].original);
    CHECK(got[i].value->bytes == want[i].value->bytes);
  }
  CHECK(member.range({}, 2000).events.front().value->bytes == "A");
  // Taken twice, or older than the newest: not kept again.
  CHECK_FALSE(member.take(*event_of(*msgs[1], topic_type::string), 2000));
  CHECK(member.size() == 3);
  // The member goes on numbering after the owner's events (it is the next
  // owner); a gap in the numbers is kept as it is.
  CHECK(member.append(val("c"), "", 2100).seq == 3);
  auto late = owner.append(val("x"), "", 2200);
  late.seq = 7;
  CHECK(member.take(late, 2200));
  CHECK(member.next_seq() == 8);
  // A message that is not an event, or whose value is not of the type.
  mqtt::publish p;
  p.topic = "m";
  p.payload = "1";
  auto plain = mqtt::make_message(std::move(p), "", {});
  CHECK_FALSE(event_of(*plain, topic_type::string).has_value());
  ts_event n{0, 5, "", val("not a number"), {}};
  CHECK_FALSE(event_of(*event_message("m", topic_type::string, n, 0, false),
                       topic_type::int64)
                  .has_value());
}

TEST_CASE("time series: the retained range drops old events and their edits") {
  time_series ts{range_expression{4, std::nullopt}};
  for (int i = 0; i < 5; ++i)
    ts.append(val(std::to_string(i)), "a", i * 1000);
  CHECK(ts.size() == 4);
  CHECK(ts.range({}, 5000).events.front().seq == 1);
  // An edit counts as an event: editing 2 drops 1.
  ts.edit(2, val("two"), "a", 6000);
  CHECK(ts.size() == 4);
  CHECK(ts.range({}, 6000).events.front().value->bytes == "two");
  // The next append drops 2, and its edit with it.
  ts.append(val("5"), "a", 7000);
  CHECK(ts.size() == 3);
  auto v = ts.range({}, 7000).events;
  REQUIRE(!v.empty());
  CHECK(v.front().seq == 3);
  time_series by_age{range_expression{std::nullopt, 10s}};
  by_age.append(val("old"), "a", 0);
  by_age.append(val("new"), "a", 10'000);
  CHECK(by_age.size() == 2);
  by_age.append(val("newer"), "a", 10'001);
  CHECK(by_age.size() == 2);
}

TEST_CASE("time series: queries against a brute-force model") {
  std::mt19937 rng(42);
  for (int run = 0; run < 40; ++run) {
    range_expression retained;
    if (rng() % 2)
      retained.limit = 5 + rng() % 40;
    if (rng() % 2)
      retained.last = std::chrono::milliseconds(1000 + rng() % 20000);
    time_series ts{retained};
    model m{retained, {}, 0, 0};
    int64_t now = 0;
    for (int step = 0; step < 200; ++step) {
      now += rng() % 500;
      if (rng() % 4 == 0 && m.next > 0) {
        auto orig = rng() % m.next;
        auto got = ts.edit(orig, val("e" + std::to_string(step)), "a", now);
        bool ok = m.edit(orig, "e" + std::to_string(step), now);
        CHECK(std::holds_alternative<ts_event>(got) == ok);
      } else {
        ts.append(val("v" + std::to_string(step)), "a", now);
        m.append("v" + std::to_string(step), now);
      }
      CHECK(ts.size() == m.all.size());
      range_query q;
      q.what = rng() % 2 ? range_query::view::values : range_query::view::edits;
      switch (rng() % 5) {
      case 0:
        q.from_seq = rng() % (m.next + 1);
        break;
      case 1:
        q.from_time = static_cast<int64_t>(rng() % (now + 1));
        break;
      case 2:
        q.from_last = rng() % 20;
        break;
      case 3:
        q.from_last_for = std::chrono::milliseconds(rng() % 5000);
        break;
      default:
        break;
      }
      switch (rng() % 5) {
      case 0:
        q.to_seq = rng() % (m.next + 1);
        break;
      case 1:
        q.to_time = static_cast<int64_t>(rng() % (now + 1));
        break;
      case 2:
        q.next = rng() % 20;
        break;
      case 3:
        q.next_for = std::chrono::milliseconds(rng() % 5000);
        break;
      default:
        break;
      }
      auto expected = m.range(q, now);
      if (rng() % 3 == 0)
        q.limit = rng() % 10;
      auto got = ts.range(q, now);
      if (q.limit && expected.size() > *q.limit) {
        CHECK(got.more);
        expected.resize(*q.limit);
      } else {
        CHECK_FALSE(got.more);
      }
      CHECK(same(got.events, expected));
    }
  }
}

TEST_CASE("time series: what a new subscriber gets first") {
  time_series ts;
  CHECK(ts.subscription_events({}, 0).empty());
  for (int i = 0; i < 5; ++i)
    ts.append(val("v" + std::to_string(i)), "a", 1000 * i);
  REQUIRE(std::holds_alternative<ts_event>(ts.edit(3, val("v3'"), "b", 5000)));
  auto values = [](const std::vector<ts_event>& es) {
    std::vector<std::string> out;
    for (auto& e : es)
      out.push_back(e.value->bytes);
    return out;
  };
  // Unbounded: the latest original event only.
  CHECK(values(ts.subscription_events({}, 5000))
        == std::vector<std::string>{"v4"});
  range_expression limit3;
  limit3.limit = 3;
  // Originals only, oldest first, the edit merged into event 3.
  CHECK(values(ts.subscription_events(limit3, 5000))
        == std::vector<std::string>{"v2", "v3'", "v4"});
  range_expression last;
  last.last = 1500ms; // events of times 3000 and 4000 at now = 4500
  CHECK(values(ts.subscription_events(last, 4500))
        == std::vector<std::string>{"v3'", "v4"});
  // Both: the smaller wins.
  range_expression both = last;
  both.limit = 1;
  CHECK(values(ts.subscription_events(both, 4500))
        == std::vector<std::string>{"v4"});
}
