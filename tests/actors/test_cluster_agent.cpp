// The node agent and the router of a node group drop what they have no
// handler for (a plain message, a request, an error message), count it,
// and keep working: CAF's defaults would stop them on an error message.

#define CAF_SUITE castor_cluster_agent

#include "caf/test/dsl.hpp"

#include <memory>
#include <string>

#include "caf/all.hpp"

#include "actors/cluster_agent.hpp"
#include "actors/cluster_router.hpp"
#include "actors/cluster_routes.hpp"

using namespace caf;
using namespace castor;

namespace {

behavior idle(event_based_actor*) {
  return {[](int) {}};
}

// The agent's heartbeat repeats for ever: sched.run() runs what is in the
// mailboxes and leaves the clock alone.
struct fixture : test_coordinator_fixture<> {
  cluster_routes_ptr routes = std::make_shared<cluster_routes>();
  actor tree = sys.spawn(idle);

  cluster_view_ptr view() {
    cluster_settings s;
    s.group = "g";
    s.self.node = "n1";
    s.self.host = "127.0.0.1";
    s.self.port = 7700;
    s.self.incarnation = 1;
    s.secret = std::string(32, 's');
    auto v = std::make_shared<cluster_view>(s);
    v->routes = routes;
    return v;
  }

  uint64_t unexpected() const {
    return routes->unexpected_messages.load();
  }

  /// Sends `a` a plain message, an error message and a request that it
  /// has no handler for; the request must come back as an error.
  void send_strays(const actor& a) {
    self->send(a, std::string("a stray message"));
    self->send(a, make_error(sec::runtime_error));
    auto res = self->request(a, infinite, std::string("a stray request"));
    sched.run();
    bool refused = false;
    res.receive(
        [](const message&) { CAF_FAIL("the stray request was answered"); },
        [&](error& err) {
          CAF_CHECK_EQUAL(err, make_error(sec::unexpected_message));
          refused = true;
        });
    CAF_CHECK(refused);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_agent_tests, fixture)

CAF_TEST(the agent drops what it does not expect and keeps answering) {
  auto router = sys.spawn(idle);
  auto agent = spawn_cluster_agent(sys, view(), routes, router);
  sched.run();
  send_strays(agent);
  CAF_CHECK_EQUAL(unexpected(), 3u);
  // Still there: a hello from another group is refused, not unanswered.
  cluster_hello h;
  h.version = cluster_protocol_version;
  h.group = "another";
  h.from.node = "n2";
  h.from.host = "127.0.0.1";
  h.from.port = 7701;
  h.from.incarnation = 1;
  h.nonce = std::string(16, 'n');
  auto res = self->request(agent, infinite, cl_hello_atom::value, h);
  sched.run();
  std::string refused;
  res.receive([&](cluster_challenge& c) { refused = c.refused; },
              [](error& err) { CAF_FAIL("no answer: " << to_string(err)); });
  CAF_CHECK(!refused.empty());
  anon_send_exit(agent, exit_reason::user_shutdown);
  anon_send_exit(router, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(the router drops what it does not expect and keeps running) {
  auto router = spawn_cluster_router(
      sys, actor_cast<topic_tree_interface>(tree), routes);
  sched.run();
  send_strays(router);
  CAF_CHECK_EQUAL(unexpected(), 3u);
  // Still running: one more stray is counted (a router that had stopped
  // would answer with request_receiver_down and count nothing).
  auto res = self->request(router, infinite, std::string("one more"));
  sched.run();
  res.receive([](const message&) {}, [](error&) {});
  CAF_CHECK_EQUAL(unexpected(), 4u);
  anon_send_exit(router, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()
