// Sessions belong to their principal (session registry), and a session's
// deliveries follow its principal's rights as they are now (a change of
// roles reaches existing subscriptions).

#define CAF_SUITE castor_ownership

// Before the test DSL, which defines a function-like macro `allow`.
#include "actors/session.hpp"
#include "actors/session_registry.hpp"
#include "actors/types.hpp"
#include "security/security_store.hpp"
#include "security/topic_access.hpp"

#include "caf/test/dsl.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

using namespace caf;
using namespace castor;

namespace {

struct seen {
  std::vector<attach_result> attached;
  std::vector<uint8_t> kicks;
  std::vector<std::string> out_topics;
};

using seen_ptr = std::shared_ptr<seen>;

/// A connection stand-in: records what it gets, detaches when kicked.
behavior recording_connection(event_based_actor* self, seen_ptr s) {
  return {
      [=](attach_result& r) { s->attached.push_back(r); },
      [=](kick_atom, mqtt::reason_code reason, bool) {
        s->kicks.push_back(static_cast<uint8_t>(reason));
        auto session = actor_cast<actor>(self->current_sender());
        self->send(session, detach_atom::value,
                   detach_info{false, false, 0, {}});
        self->quit();
      },
      [=](out_atom, outbound_batch& b) {
        for (auto& o : b.items)
          if (o.msg)
            s->out_topics.push_back(o.msg->topic);
      },
  };
}

behavior quiet_tree(event_based_actor*) {
  return {
      [](publish_atom, mqtt::message_ptr&) {},
      [](subscribe_atom, topic_subscription&) { return retained_batch{}; },
      [](unsub_atom, topic_unsubscription&) {},
  };
}

mqtt::session_request session_req(std::string id, bool clean, uint32_t expiry) {
  mqtt::session_request req;
  req.client_id = std::move(id);
  req.clean_start = clean;
  req.session_expiry = expiry;
  req.receive_maximum = 10;
  return req;
}

std::shared_ptr<const security::security_store> store() {
  auto r = security::parse_security_store(R"(
roles:
  READER:
    paths:
      data/public: [SELECT_TOPIC, READ_TOPIC]
  ADMIN:
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
)",
                                          "store.yaml");
  if (auto err = std::get_if<security::store_error>(&r))
    CAF_FAIL("store: " << err->to_string());
  return std::make_shared<const security::security_store>(
      std::get<security::security_store>(std::move(r)));
}

mqtt::message_ptr make_message_on(std::string topic) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = "v";
  p.qos = 0;
  return mqtt::make_message(std::move(p), "pub",
                            std::chrono::steady_clock::now());
}

struct fixture : test_coordinator_fixture<> {
  actor tree;
  actor registry;
  std::shared_ptr<broker_counters> counters
      = std::make_shared<broker_counters>();

  fixture() {
    tree = sys.spawn(quiet_tree);
    registry = make_registry(foreign_session_policy::refuse);
  }

  ~fixture() {
    anon_send_exit(registry, exit_reason::user_shutdown);
    anon_send_exit(tree, exit_reason::user_shutdown);
    run();
  }

  actor make_registry(foreign_session_policy policy) {
    registry_options opts;
    opts.foreign_session = policy;
    opts.counters = counters;
    auto r = sys.spawn(session_registry, actor_cast<topic_tree_interface>(tree),
                       session_config{}, opts);
    run();
    return r;
  }

  void drain() {
    while (sched.try_run_once()) {
      // nop
    }
  }

  /// A connection of `principal` opening `req`; what it got.
  std::pair<actor, seen_ptr> open(const actor& reg, mqtt::session_request req,
                                  std::string principal,
                                  mqtt::access_ptr access = nullptr) {
    auto s = std::make_shared<seen>();
    auto conn = sys.spawn(recording_connection, s);
    attach_request ar{std::move(req), conn};
    ar.principal = std::move(principal);
    ar.access = std::move(access);
    send_as(conn, reg, open_atom::value, std::move(ar));
    drain();
    return {conn, s};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(ownership_tests, fixture)

CAF_TEST(another principal can neither resume nor take over a session) {
  auto [admin, a] = open(registry, session_req("dev", false, 60), "admin");
  CAF_REQUIRE_EQUAL(a->attached.size(), 1u);
  auto session = a->attached[0].session;
  // Live: the reader is refused, the admin keeps its connection.
  auto [r1, r] = open(registry, session_req("dev", false, 60), "reader");
  CAF_REQUIRE_EQUAL(r->attached.size(), 1u);
  CAF_CHECK(r->attached[0].refused == mqtt::reason_code::not_authorized);
  CAF_CHECK(!r->attached[0].session);
  CAF_CHECK(a->kicks.empty());
  // Not with a clean start either.
  auto [r2, rc] = open(registry, session_req("dev", true, 0), "reader");
  CAF_CHECK(rc->attached.at(0).refused == mqtt::reason_code::not_authorized);
  CAF_CHECK(a->kicks.empty());
  // Offline: still the admin's.
  send_as(admin, session, detach_atom::value, detach_info{false, false, 0, {}});
  drain();
  auto [r3, ro] = open(registry, session_req("dev", false, 60), "reader");
  CAF_CHECK(ro->attached.at(0).refused == mqtt::reason_code::not_authorized);
  // Anonymous clients are a principal of their own ("").
  auto [r4, an] = open(registry, session_req("dev", false, 60), "");
  CAF_CHECK(an->attached.at(0).refused == mqtt::reason_code::not_authorized);
  CAF_CHECK_EQUAL(counters->auth.foreign_session_refused.load(), 4u);
  // The admin resumes it.
  auto [admin2, a2] = open(registry, session_req("dev", false, 60), "admin");
  CAF_REQUIRE_EQUAL(a2->attached.size(), 1u);
  CAF_CHECK(a2->attached[0].refused == mqtt::reason_code::success);
  CAF_CHECK(a2->attached[0].session_present);
  CAF_CHECK_EQUAL(a2->attached[0].session, session);
}

CAF_TEST(a session without an actor belongs to its principal too) {
  // Clean start, expiry 0: the registry holds the connection itself.
  auto [admin, a] = open(registry, session_req("direct", true, 0), "admin");
  CAF_REQUIRE_EQUAL(a->attached.size(), 1u);
  auto [reader, r] = open(registry, session_req("direct", true, 0), "reader");
  CAF_CHECK(r->attached.at(0).refused == mqtt::reason_code::not_authorized);
  CAF_CHECK(a->kicks.empty());
}

CAF_TEST(replace ends the session of the other principal and starts clean) {
  auto reg = make_registry(foreign_session_policy::replace);
  auto [admin, a] = open(reg, session_req("dev", false, 60), "admin");
  auto session = a->attached.at(0).session;
  auto [reader, r] = open(reg, session_req("dev", false, 60), "reader");
  CAF_REQUIRE_EQUAL(r->attached.size(), 1u);
  CAF_CHECK(r->attached[0].refused == mqtt::reason_code::success);
  CAF_CHECK(!r->attached[0].session_present);
  CAF_CHECK_NOT_EQUAL(r->attached[0].session, session);
  CAF_CHECK_EQUAL(a->kicks, (std::vector<uint8_t>{0x8E}));
  CAF_CHECK_EQUAL(counters->auth.foreign_session_replaced.load(), 1u);
  anon_send_exit(reg, exit_reason::user_shutdown);
}

CAF_TEST(deliveries follow the rights of the principal as they are now) {
  auto rights = std::make_shared<security::topic_access>(
      store(), std::vector<std::string>{"ADMIN"});
  auto [conn, c] = open(registry, session_req("s", false, 60), "admin", rights);
  auto session = c->attached.at(0).session;
  auto deliver = [&](std::string topic) {
    update_batch b;
    b.items = std::make_shared<const std::vector<update>>(
        1, update{1, value_type::binary, make_message_on(std::move(topic)),
                  nullptr, 0, false});
    b.options = std::make_shared<const std::vector<mqtt::delivery_options>>(
        1, mqtt::delivery_options{});
    self->send(session, deliver_atom::value, std::move(b));
    drain();
  };
  deliver("data/private/x");
  deliver("data/public/x");
  CAF_CHECK_EQUAL(c->out_topics, (std::vector<std::string>{"data/private/x",
                                                           "data/public/x"}));
  // The admin becomes a reader (a reload, an API): the subscriptions it
  // made as an admin no longer deliver what a reader may not read.
  rights->update(store(), {"READER"});
  c->out_topics.clear();
  deliver("data/private/x");
  deliver("data/public/x");
  CAF_CHECK_EQUAL(c->out_topics, (std::vector<std::string>{"data/public/x"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
