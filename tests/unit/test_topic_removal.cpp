// The facts a topic keeps for its removal policy and when it checks it
// (actors/topic_removal.hpp).

#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "actors/topic_removal.hpp"

using namespace castor;

namespace {

constexpr int64_t never = std::numeric_limits<int64_t>::max();

topic_specification spec_of(const std::string& policy) {
  auto s = make_specification("string", {{"REMOVAL", policy}});
  REQUIRE(std::holds_alternative<topic_specification>(s));
  return std::get<topic_specification>(s);
}

} // namespace

TEST_CASE("no updates for: due a period after the last update, checked then") {
  auto s = spec_of("when no updates for 1s");
  topic_removal r;
  CHECK(r.follow(&s, 1000));
  CHECK_FALSE(r.due(1999));
  CHECK(r.next_check(1000) == 2000);
  r.last_update = 1500; // an update moves the moment, nothing else
  CHECK_FALSE(r.due(2000));
  CHECK(r.next_check(2000) == 2500);
  CHECK(r.due(2500));
  CHECK_FALSE(r.watches_adder());
  CHECK_FALSE(r.follow(nullptr, 3000));
  CHECK_FALSE(r.due(10000));
  CHECK(r.next_check(10000) == never);
}

TEST_CASE("subscriptions < N: since when fewer sessions subscribed") {
  auto s = spec_of("when subscriptions < 2 for 1s");
  topic_removal r;
  r.follow(&s, 0);
  CHECK(r.next_check(0) == 1000); // nobody subscribed from the start
  CHECK(r.set_subscribers(2, 500));
  CHECK_FALSE(r.due(5000));
  CHECK(r.next_check(5000) == never); // only an unsubscribe can make it due
  CHECK_FALSE(r.set_subscribers(3, 5000)); // still not below
  CHECK(r.set_subscribers(1, 6000));
  CHECK_FALSE(r.due(6999));
  CHECK(r.next_check(6000) == 7000);
  CHECK_FALSE(r.set_subscribers(0, 6500)); // below since 6000 still
  CHECK(r.due(7000));
}

TEST_CASE("this session closes, time after, and / or") {
  auto s = spec_of("when this session closes or time after 5000");
  topic_removal r;
  r.follow(&s, 0);
  CHECK(r.watches_adder());
  CHECK_FALSE(r.due(100));
  CHECK(r.next_check(100) == 5001);
  r.adder_closed = true;
  CHECK(r.due(100));

  auto a = spec_of("when no updates for 1s and subscriptions < 1 for 2s");
  r.follow(&a, 0);
  CHECK_FALSE(r.adder_closed); // a new policy starts afresh
  r.set_subscribers(1, 0);
  CHECK(r.next_check(0) == 1000); // the earliest timed condition
  CHECK_FALSE(r.due(1000));
  CHECK(r.next_check(1000) == never);
  r.set_subscribers(0, 1500);
  CHECK(r.next_check(1500) == 3500);
  CHECK_FALSE(r.due(3499));
  CHECK(r.due(3500));
}
