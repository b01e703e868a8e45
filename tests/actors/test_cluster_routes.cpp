// The route table of a node group: a topic's plan names the routers of the
// members whose filters match it, and each share group that matches it with
// the members it has on each node; updates add, replace, count down and
// drop, and a member's restart or removal takes its routes with it.

#define CAF_SUITE castor_cluster_routes

#include "caf/test/dsl.hpp"

#include <string>
#include <utility>
#include <vector>

#include "caf/all.hpp"

#include "actors/cluster_routes.hpp"

using namespace caf;
using namespace castor;

namespace {

behavior idle(event_based_actor*) {
  return {[](int) {}};
}

struct fixture : test_coordinator_fixture<> {
  cluster_routes routes;
  actor r2 = sys.spawn(idle);
  actor r3 = sys.spawn(idle);

  static std::string key(const std::string& group, const std::string& filter) {
    return group + '\0' + filter;
  }

  /// The plan's share groups as (key, [(router, members)]).
  std::vector<std::pair<std::string, std::vector<std::pair<actor, uint32_t>>>>
  shares(const std::string& topic) {
    std::vector<std::pair<std::string, std::vector<std::pair<actor, uint32_t>>>>
        out;
    for (auto& s : routes.plan(topic).shares)
      out.emplace_back(s.key, s.nodes);
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_routes_tests, fixture)

CAF_TEST(a plan names the nodes whose filters match once each) {
  routes.set_member("n2", 1, r2);
  routes.set_member("n3", 1, r3);
  routes.apply("n2", true, {"a/#", "a/+", "b"}, {});
  routes.apply("n3", true, {"a/x"}, {});
  auto p = routes.plan("a/x");
  CAF_CHECK_EQUAL(p.plain.size(), 2u);
  CAF_CHECK(p.shares.empty());
  CAF_CHECK_EQUAL(routes.plan("b").plain, std::vector<actor>{r2});
  CAF_CHECK(routes.plan("c").plain.empty());
  // Shared and delta filters are not plain routes; invalid ones are ignored.
  routes.apply("n3", false, {"$share/g/c", "$delta/c", "c/#/d"}, {"a/x"});
  CAF_CHECK(routes.plan("c").plain.empty());
  CAF_CHECK_EQUAL(routes.plan("a/x").plain, std::vector<actor>{r2});
  CAF_CHECK_EQUAL(routes.size(), 3u);
}

CAF_TEST(share groups carry their members per node) {
  routes.set_member("n2", 1, r2);
  routes.set_member("n3", 1, r3);
  routes.apply("n2", true, {}, {}, {{key("g", "s/#"), 2}});
  routes.apply("n3", true, {}, {},
               {{key("g", "s/#"), 1}, {key("h", "$delta/s/+"), 4}});
  auto got = shares("s/x");
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK_EQUAL(got[0].first, key("g", "s/#"));
  CAF_CHECK((got[0].second
             == std::vector<std::pair<actor, uint32_t>>{{r2, 2}, {r3, 1}}));
  CAF_CHECK_EQUAL(got[1].first, key("h", "$delta/s/+"));
  CAF_CHECK(
      (got[1].second == std::vector<std::pair<actor, uint32_t>>{{r3, 4}}));
  // Share groups are not plain routes.
  CAF_CHECK(routes.plan("s/x").plain.empty());
  CAF_CHECK(shares("t").empty());
  CAF_CHECK_EQUAL(routes.size(), 3u);
  // A count replaces the last; 0 removes; keys that are no share group are
  // ignored.
  routes.apply("n2", false, {}, {},
               {{key("g", "s/#"), 5}, {"nogroup", 1}, {key("g", "s/#/x"), 1}});
  got = shares("s/x");
  CAF_CHECK_EQUAL(got[0].second[0].second, 5u);
  routes.apply("n3", false, {}, {}, {{key("g", "s/#"), 0}});
  got = shares("s/x");
  CAF_CHECK(
      (got[0].second == std::vector<std::pair<actor, uint32_t>>{{r2, 5}}));
  CAF_CHECK_EQUAL(routes.size(), 2u);
  // A full update replaces everything the member had.
  routes.apply("n3", true, {"s/x"}, {}, {});
  CAF_CHECK_EQUAL(shares("s/x").size(), 1u);
  CAF_CHECK_EQUAL(routes.plan("s/x").plain, std::vector<actor>{r3});
}

CAF_TEST(a restart or a removal takes the routes of the member) {
  routes.set_member("n2", 1, r2);
  routes.apply("n2", true, {"a"}, {}, {{key("g", "a"), 1}});
  auto v = routes.version();
  routes.set_member("n2", 1, r2); // the same incarnation: kept
  CAF_CHECK_EQUAL(routes.size(), 2u);
  routes.set_member("n2", 2, r2); // restarted
  CAF_CHECK_EQUAL(routes.size(), 0u);
  CAF_CHECK(routes.plan("a").plain.empty());
  CAF_CHECK(routes.plan("a").shares.empty());
  CAF_CHECK(routes.version() > v);
  routes.apply("n2", true, {"a"}, {}, {{key("g", "a"), 1}});
  routes.drop_member("n2");
  CAF_CHECK_EQUAL(routes.size(), 0u);
  CAF_CHECK(routes.plan("a").shares.empty());
  // Updates of a node that is no member are ignored.
  routes.apply("n9", true, {"a"}, {}, {{key("g", "a"), 1}});
  CAF_CHECK_EQUAL(routes.size(), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
