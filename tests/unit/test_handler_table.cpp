// The message handler table (protocol/handler_table.hpp): the most specific
// prefix by levels, round robin over its registrations, removal by path and
// by owner, the bound per owner.

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "protocol/handler_table.hpp"

using namespace castor;

namespace {
using table = handler_table<int>;
}

TEST_CASE("handlers: the most specific prefix by whole levels") {
  table t;
  CHECK_FALSE(t.serves("a"));
  CHECK_FALSE(t.pick("a"));
  CHECK(t.add("a", 1) == table::add_result::added);
  CHECK(t.add("a/b", 2) == table::add_result::added);
  CHECK(t.add("a/b/c/d", 3) == table::add_result::added);
  CHECK(*t.pick("a") == 1);
  CHECK(*t.pick("a/x") == 1);
  CHECK(*t.pick("a/bc") == 1); // not below a/b
  CHECK(*t.pick("a/b") == 2);
  CHECK(*t.pick("a/b/c") == 2);
  CHECK(*t.pick("a/b/c/d/e") == 3);
  CHECK_FALSE(t.pick("ab"));
  CHECK_FALSE(t.pick("b/a"));
  CHECK(t.serves("a/b/z"));
  CHECK_FALSE(t.serves("x"));
  CHECK(t.size() == 3);
}

TEST_CASE("handlers: round robin over the registrations of one prefix") {
  table t;
  t.add("p", 1);
  t.add("p", 2);
  t.add("p", 3);
  std::map<int, int> got;
  for (int i = 0; i < 30; ++i)
    ++got[*t.pick("p/q")];
  CHECK(got == std::map<int, int>{{1, 10}, {2, 10}, {3, 10}});
  // With `skip`, another registration is taken when there is one.
  for (int i = 0; i < 10; ++i)
    CHECK(*t.pick("p", &got.begin()->first) != 1);
}

TEST_CASE("handlers: removal by path and by owner, and the bound") {
  table t{3};
  CHECK(t.add("a", 1) == table::add_result::added);
  CHECK(t.add("a", 1) == table::add_result::exists);
  CHECK(t.add("a/b", 1) == table::add_result::added);
  CHECK(t.add("c", 1) == table::add_result::added);
  CHECK(t.add("d", 1) == table::add_result::too_many);
  CHECK(t.add("a/b", 2) == table::add_result::added);
  CHECK(t.size() == 4);
  CHECK_FALSE(t.remove("a", 2));
  CHECK(t.remove("a", 1));
  CHECK_FALSE(t.remove("a", 1));
  CHECK_FALSE(t.pick("a"));
  CHECK(t.add("d", 1) == table::add_result::added); // room again
  CHECK(t.remove_owner(1) == 3);
  CHECK(t.paths_of(1).empty());
  CHECK(t.size() == 1);
  for (int i = 0; i < 5; ++i)
    CHECK(*t.pick("a/b/x") == 2);
  CHECK_FALSE(t.pick("c"));
  CHECK(t.remove_owner(2) == 1);
  CHECK(t.size() == 0);
  CHECK_FALSE(t.serves("a/b"));
}

TEST_CASE("handlers: valid paths") {
  CHECK(valid_handler_path("a"));
  CHECK(valid_handler_path("a/b c/d"));
  CHECK_FALSE(valid_handler_path(""));
  CHECK_FALSE(valid_handler_path("a/+/b"));
  CHECK_FALSE(valid_handler_path("#"));
  CHECK_FALSE(valid_handler_path("$castor/x"));
  CHECK_FALSE(valid_handler_path("/a"));
  CHECK_FALSE(valid_handler_path("a/"));
  CHECK_FALSE(valid_handler_path("a//b"));
}
