// Fences of a node group (actors/cluster_claims.hpp): a node's fence ends
// once every batch its topics forwarded before it began has been answered
// by the node it went to; batches forwarded after it began do not hold it
// up, fences take turns, and one whose batches are never answered ends
// after node_fence_timeout. A session that moved waits for the group's
// fence before it unsubscribes on its old node, so that what the members
// forwarded there before the new session's subscriptions were in force
// reaches it (and goes on to the new session).

#define CAF_SUITE castor_cluster_fence

#include "caf/test/dsl.hpp"

#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/cluster_claims.hpp"
#include "actors/cluster_routes.hpp"
#include "actors/topic.hpp"

using namespace caf;
using namespace castor;

namespace {

/// A member's router that takes forwarded batches and answers them only
/// when the test says so.
struct held_batches {
  std::vector<response_promise> answers;
  size_t messages = 0;
};

behavior slow_router(event_based_actor* self,
                     std::shared_ptr<held_batches> held) {
  return {
      [=](publish_atom, publish_batch& b) -> result<bool> {
        held->messages += b.msgs.size();
        held->answers.push_back(self->make_response_promise());
        return delegated<bool>{};
      },
      [=](size_t i) { held->answers.at(i).deliver(true); },
  };
}

/// Asks `claims` for a fence (a member's, or with `group` a session's)
/// and sets `done` once it is answered.
void ask_fence(actor_system& sys, const actor& claims,
               std::shared_ptr<bool> done, bool group = false) {
  sys.spawn([=](event_based_actor* self) {
    auto answered = [=](bool) {
      *done = true;
      self->quit();
    };
    if (group)
      self->request(claims, infinite, fence_atom::value, true).then(answered);
    else
      self->request(claims, infinite, fence_atom::value).then(answered);
  });
}

mqtt::message_ptr make_msg(const std::string& topic, uint8_t qos) {
  mqtt::publish p;
  p.topic = topic;
  p.payload = "v";
  p.qos = qos;
  return mqtt::make_message(std::move(p), "pub",
                            std::chrono::steady_clock::now());
}

struct fixture : test_coordinator_fixture<> {
  cluster_routes_ptr routes = std::make_shared<cluster_routes>();
  std::shared_ptr<held_batches> held = std::make_shared<held_batches>();
  actor router = sys.spawn(slow_router, held);
  actor claims;

  fixture() {
    routes->self_node = "n1";
    routes->set_member("n2", 1, router);
    routes->apply("n2", true, {"a/#"}, {});
    claims = spawn_cluster_claims(sys, routes, nullptr);
    sched.run();
  }

  ~fixture() {
    anon_send_exit(claims, exit_reason::user_shutdown);
    anon_send_exit(router, exit_reason::user_shutdown);
    sched.run();
  }

  actor topic(const std::string& name) {
    auto r = routes;
    return sys.spawn(
        [r](topic_actor_type* t, std::string n, mapping_ptr m) {
          t->state.routes = r;
          return topic_actor(t, std::move(n), std::move(m));
        },
        name, mapping_ptr{});
  }

  /// The router answers the batch it took `i`th.
  void answer(size_t i) {
    self->send(router, i);
    sched.run();
  }

  /// Publishes one message of `qos` at `t`, as a connection does.
  void publish(const actor& t, uint8_t qos) {
    self->send(t, publish_atom::value, publish_batch{{make_msg("a/b", qos)}});
    sched.run();
  }

  /// Delivers the queued messages and lets a few of the fence's 1 ms
  /// polls happen (short of the forwards' and the fence's timeouts).
  void poll(int times = 5) {
    for (int i = 0; i < times; ++i) {
      sched.run();
      sched.advance_time(std::chrono::milliseconds{1});
      sched.run();
    }
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_fence_tests, fixture)

CAF_TEST(a fence waits for the batches forwarded before it) {
  auto t = topic("a/b");
  publish(t, 1);
  publish(t, 0);
  CAF_REQUIRE_EQUAL(held->answers.size(), 2u);
  auto fence = routes->begin_fence();
  CAF_CHECK(!routes->fence_passed(fence));
  // A batch forwarded after the fence began does not hold it up.
  publish(t, 1);
  CAF_REQUIRE_EQUAL(held->answers.size(), 3u);
  answer(0);
  sched.run();
  CAF_CHECK(!routes->fence_passed(fence));
  answer(1);
  sched.run();
  CAF_CHECK(routes->fence_passed(fence));
  // The next fence waits for the third.
  auto next = routes->begin_fence();
  CAF_CHECK(!routes->fence_passed(next));
  answer(2);
  sched.run();
  CAF_CHECK(routes->fence_passed(next));
  anon_send_exit(t, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a batch that goes nowhere leaves the fence at once) {
  auto t = topic("x/y"); // no member routes x/y
  publish(t, 1);
  CAF_CHECK_EQUAL(held->answers.size(), 0u);
  auto fence = routes->begin_fence();
  CAF_CHECK(routes->fence_passed(fence));
  anon_send_exit(t, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a topic that ends leaves what it forwarded) {
  auto t = topic("a/b");
  publish(t, 1);
  CAF_REQUIRE_EQUAL(held->answers.size(), 1u);
  auto fence = routes->begin_fence();
  CAF_CHECK(!routes->fence_passed(fence));
  anon_send_exit(t, exit_reason::kill);
  sched.run();
  CAF_CHECK(routes->fence_passed(fence));
}

CAF_TEST(the claims actor answers a fence of a member once it has passed) {
  auto t = topic("a/b");
  publish(t, 1);
  CAF_REQUIRE_EQUAL(held->answers.size(), 1u);
  auto first = std::make_shared<bool>(false);
  auto second = std::make_shared<bool>(false);
  ask_fence(sys, claims, first);
  poll();
  CAF_CHECK(!*first);
  // A second fence while the first is under way waits for its turn, and
  // then for nothing more (the batch has been answered by then).
  ask_fence(sys, claims, second);
  poll();
  CAF_CHECK(!*second);
  answer(0);
  poll();
  CAF_CHECK(*first);
  CAF_CHECK(*second);
  anon_send_exit(t, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a fence whose forwards never leave ends in time) {
  auto ticket = routes->enter_forward(); // a forward that never leaves
  auto done = std::make_shared<bool>(false);
  ask_fence(sys, claims, done);
  poll();
  CAF_CHECK(!*done);
  sched.advance_time(node_fence_timeout - std::chrono::milliseconds{20});
  poll();
  CAF_CHECK(!*done);
  sched.advance_time(std::chrono::milliseconds{20});
  poll();
  CAF_CHECK(*done);
  routes->leave_forward(ticket);
}

CAF_TEST(the group fence of a session asks every member) {
  // The member's router answers fences through its claims actor; here
  // the slow router has no handler for it, so it answers with an error,
  // as a node of an older version does: the fence goes on without it.
  auto done = std::make_shared<bool>(false);
  ask_fence(sys, claims, done, true);
  poll();
  CAF_CHECK(*done);
}

CAF_TEST_FIXTURE_SCOPE_END()
