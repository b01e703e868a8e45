// Message handlers in a node group (actors/cluster_handlers.hpp): a node
// sends its own registrations when they changed (and to a member that
// joined); a member's list replaces what it sent before; a member that
// leaves or restarts takes its registrations with it, but a list from its
// next incarnation stays; a list from a node that never becomes a member
// goes after a while.

#define CAF_SUITE castor_cluster_handlers

#include "caf/test/dsl.hpp"

#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/cluster_handlers.hpp"

using namespace caf;
using namespace castor;

namespace {

behavior idle(event_based_actor*) {
  return {[](int) {}};
}

struct fixture : test_coordinator_fixture<> {
  handlers_ptr table = std::make_shared<handlers_table>();
  /// The test's actors stand for this node's connections ...
  actor local_conn = sys.spawn(idle);
  actor router_n2 = sys.spawn(idle);
  actor router_n2_again = sys.spawn(idle);
  actor conn_n2 = sys.spawn(idle);
  /// ... for a sync whose own node is the test's; the same actors stand
  /// for other members' connections for a sync of another node (`other`).
  node_id other = make_node_id(4242, std::string(40, 'a')).value();

  cluster_handlers list(const std::string& node,
                        std::vector<std::pair<std::string, actor>> regs) {
    cluster_handlers h;
    h.node = node;
    for (auto& [path, owner] : regs) {
      h.paths.push_back(path);
      h.owners.push_back(owner);
    }
    return h;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_handlers_tests, fixture)

CAF_TEST(a node sends its own registrations once they changed) {
  handler_sync sync{table, "n1", sys.node()};
  auto first = sync.changed();
  CAF_REQUIRE(first);
  CAF_CHECK(first->paths.empty());
  CAF_CHECK(!sync.changed());
  table->add("plant/oven", local_conn);
  auto h = sync.changed();
  CAF_REQUIRE(h);
  CAF_CHECK_EQUAL(h->node, "n1");
  CAF_CHECK_EQUAL(h->paths, (std::vector<std::string>{"plant/oven"}));
  CAF_CHECK(h->owners == std::vector<actor>{local_conn});
  CAF_CHECK(!sync.changed());
  // Other members' registrations come and go uncounted: nothing to send.
  table->add("remote/x", conn_n2, false);
  CAF_CHECK(!sync.changed());
  table->remove("remote/x", conn_n2, false);
  CAF_CHECK(!sync.changed());
  table->remove_owner(local_conn);
  h = sync.changed();
  CAF_REQUIRE(h);
  CAF_CHECK(h->paths.empty());
}

CAF_TEST(a members list replaces what it sent and goes when it leaves) {
  handler_sync sync{table, "n1", other};
  auto joined = sync.members({{"n2", router_n2}});
  CAF_CHECK(joined == std::vector<actor>{router_n2});
  CAF_CHECK(sync.members({{"n2", router_n2}}).empty());
  sync.take(list("n2", {{"a", conn_n2}, {"a/b", conn_n2}}), router_n2);
  CAF_CHECK_EQUAL(table->size(), 2u);
  CAF_CHECK(table->pick("a/b/c") == conn_n2);
  sync.take(list("n2", {{"c", conn_n2}}), router_n2);
  CAF_CHECK_EQUAL(table->size(), 1u);
  CAF_CHECK(!table->serves("a"));
  CAF_CHECK(table->serves("c/d"));
  // Its own node's list is never taken, nor a registration of one of
  // this node's connections.
  sync.take(list("n1", {{"x", conn_n2}}), router_n2);
  CAF_CHECK(!table->serves("x"));
  // The member leaves: its registrations go.
  CAF_CHECK(sync.members({}).empty());
  CAF_CHECK_EQUAL(table->size(), 0u);
  CAF_CHECK_EQUAL(sync.remote_size(), 0u);
}

CAF_TEST(a restarted member keeps the list of its next incarnation) {
  handler_sync sync{table, "n1", other};
  sync.members({{"n2", router_n2}});
  sync.take(list("n2", {{"old", conn_n2}}), router_n2);
  // The restarted node's list arrives before this node sees its router.
  sync.take(list("n2", {{"new", conn_n2}}), router_n2_again);
  auto joined = sync.members({{"n2", router_n2_again}});
  CAF_CHECK(joined == std::vector<actor>{router_n2_again});
  CAF_CHECK(table->serves("new"));
  CAF_CHECK(!table->serves("old"));
}

CAF_TEST(a list from a node that never becomes a member goes) {
  handler_sync sync{table, "n1", other};
  sync.take(list("n9", {{"stray", conn_n2}}), router_n2);
  for (uint32_t i = 0; i < max_unknown_periods; ++i)
    sync.members({});
  CAF_CHECK(table->serves("stray"));
  sync.members({});
  CAF_CHECK(!table->serves("stray"));
}

CAF_TEST_FIXTURE_SCOPE_END()
