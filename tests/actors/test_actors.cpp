// Deterministic tests of the broker actors on CAF's test coordinator:
// fan-out from a topic, takeover of a session, will delay and session expiry.

#define CAF_SUITE castor_actors

#include "caf/test/dsl.hpp"
#include "caf/test/unit_test_impl.hpp"

#include <chrono>
#include <memory>
#include <vector>

#include "caf/all.hpp"

#include "actors/session.hpp"
#include "actors/session_registry.hpp"
#include "actors/topic.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/types.hpp"

using namespace caf;
using namespace castor;

namespace {

/// What a fake connection or session saw.
struct journal {
  std::vector<update_batch> deliveries;
  std::vector<attach_result> attached;
  std::vector<uint8_t> kicks;
  std::vector<outbound_batch> outbound;
  std::vector<mqtt::message_ptr> published;
  std::vector<topic_unsubscription> unsubscribed;
};

using journal_ptr = std::shared_ptr<journal>;

/// The bytes a topic counts for a batch (mqtt::footprint).
uint64_t bytes_of(const update_batch& b) {
  uint64_t n = 0;
  for (auto& u : *b.items)
    n += u.footprint();
  return n;
}

/// A session stand-in: records deliveries and gives credit back.
behavior fake_session(event_based_actor* self, journal_ptr j) {
  return {
      [=](deliver_atom, update_batch& b) {
        j->deliveries.push_back(b);
        auto topic = actor_cast<actor>(self->current_sender());
        self->send(topic, credit_atom::value, uint32_t{1}, bytes_of(b));
      },
  };
}

/// A connection stand-in: records what the session sends and detaches when
/// kicked, as the real connection does.
behavior fake_connection(event_based_actor* self, journal_ptr j) {
  return {
      [=](attach_result& r) { j->attached.push_back(r); },
      [=](kick_atom, mqtt::reason_code reason, bool) {
        j->kicks.push_back(static_cast<uint8_t>(reason));
        auto session = actor_cast<actor>(self->current_sender());
        self->send(session, detach_atom::value,
                   detach_info{false, false, 0, {}});
        self->quit();
      },
      [=](out_atom, outbound_batch& b) { j->outbound.push_back(b); },
  };
}

/// A topic tree stand-in: records wills and unsubscriptions.
behavior fake_tree(event_based_actor*, journal_ptr j) {
  return {
      [=](publish_atom, mqtt::message_ptr& m) { j->published.push_back(m); },
      [=](subscribe_atom, topic_subscription&) { return retained_batch{}; },
      [=](unsub_atom, topic_unsubscription& u) {
        j->unsubscribed.push_back(u);
      },
  };
}

mqtt::message_ptr make_msg(std::string topic, std::string payload, uint8_t qos,
                           std::string origin = "pub") {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  return mqtt::make_message(std::move(p), std::move(origin),
                            std::chrono::steady_clock::now());
}

topic_subscription make_sub(actor session, std::string filter, uint8_t qos) {
  topic_subscription ts;
  ts.session = std::move(session);
  ts.filter = std::move(filter);
  ts.options.max_qos = qos;
  ts.access.ptr = allow_everything();
  return ts;
}

mqtt::session_request make_request(std::string id, bool clean,
                                   uint32_t expiry) {
  mqtt::session_request req;
  req.client_id = std::move(id);
  req.clean_start = clean;
  req.session_expiry = expiry;
  req.receive_maximum = 10;
  return req;
}

struct fixture : test_coordinator_fixture<> {
  journal_ptr tree_log = std::make_shared<journal>();
  actor tree;
  actor registry;

  fixture() {
    tree = sys.spawn(fake_tree, tree_log);
    registry
        = sys.spawn(session_registry, actor_cast<topic_tree_interface>(tree),
                    session_config{}, registry_options{});
    run();
  }

  ~fixture() {
    anon_send_exit(registry, exit_reason::user_shutdown);
    anon_send_exit(tree, exit_reason::user_shutdown);
    run();
  }

  /// Delivers every queued message without firing timers (run() would jump
  /// the clock to the next timeout).
  void drain() {
    while (sched.try_run_once()) {
      // nop
    }
  }

  /// Opens a session for `conn` as a connection does.
  void open(const actor& conn, mqtt::session_request req) {
    attach_request ar{std::move(req), conn};
    ar.access = allow_everything();
    send_as(conn, registry, open_atom::value, std::move(ar));
  }

  /// Subscribes at a topic as the tree does and returns the retained
  /// messages it answers with.
  retained_batch subscribe(const actor& topic, topic_subscription ts) {
    self->send(topic, subscribe_atom::value, std::move(ts));
    run();
    retained_batch got;
    self->receive([&](retained_batch& b) { got = std::move(b); });
    return got;
  }

  uint64_t sessions() {
    uint64_t n = 0;
    self->send(registry, stats_atom::value);
    drain();
    self->receive([&](uint64_t x) { n = x; });
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(broker_actor_tests, fixture)

CAF_TEST(fan out numbers the update and shares one list with every subscriber) {
  auto topic = sys.spawn(topic_actor, std::string{"a/b"}, mapping_ptr{});
  auto j1 = std::make_shared<journal>();
  auto j2 = std::make_shared<journal>();
  auto j3 = std::make_shared<journal>();
  auto s1 = sys.spawn(fake_session, j1);
  auto s2 = sys.spawn(fake_session, j2);
  auto s3 = sys.spawn(fake_session, j3);
  self->send(topic, attach_atom::value, make_sub(s1, "a/b", 2));
  self->send(topic, attach_atom::value, make_sub(s2, "a/+", 0));
  auto nl = make_sub(s3, "a/#", 1);
  nl.options.no_local = true; // the publisher's own subscription
  self->send(topic, attach_atom::value, nl);
  run();
  self->send(
      topic, publish_atom::value,
      publish_batch{{make_msg("a/b", "v1", 1), make_msg("a/b", "v2", 2)}});
  expect((publish_atom, publish_batch), from(self).to(topic));
  run();
  CAF_REQUIRE_EQUAL(j1->deliveries.size(), 1u);
  CAF_REQUIRE_EQUAL(j2->deliveries.size(), 1u);
  CAF_REQUIRE_EQUAL(j3->deliveries.size(), 1u);
  auto& b1 = j1->deliveries[0];
  auto& b2 = j2->deliveries[0];
  auto& b3 = j3->deliveries[0];
  // One list of updates for all, numbered from 1 in publish order.
  CAF_CHECK_EQUAL(b1.items.get(), b2.items.get());
  CAF_CHECK_EQUAL(b1.items.get(), b3.items.get());
  CAF_REQUIRE_EQUAL(b1.items->size(), 2u);
  CAF_CHECK_EQUAL(b1.items->at(0).seq, 1u);
  CAF_CHECK_EQUAL(b1.items->at(1).seq, 2u);
  CAF_CHECK_EQUAL(b1.items->at(1).value(), "v2");
  CAF_CHECK(!b1.shared);
  // The credit it takes, counted once for every subscriber.
  CAF_CHECK_EQUAL(b1.bytes, bytes_of(b1));
  CAF_CHECK_EQUAL(b3.bytes, b1.bytes);
  // Each with the options its subscriptions asked for, which the session's
  // MQTT adapter applies.
  CAF_REQUIRE_EQUAL(b2.options->size(), 1u);
  CAF_CHECK_EQUAL(b2.options->at(0).max_qos, 0);
  auto& u = b1.items->at(0);
  mqtt::delivery d;
  mqtt::delivery dd; // the delta form: none here
  CAF_REQUIRE(mqtt::deliver_through(u, "one", *b1.options, d, dd)
              == mqtt::plain_delivery);
  CAF_CHECK_EQUAL(d.qos, 1);
  CAF_CHECK_EQUAL(d.seq, 1u);
  CAF_REQUIRE(mqtt::deliver_through(u, "two", *b2.options, d, dd)
              == mqtt::plain_delivery);
  CAF_CHECK_EQUAL(d.qos, 0); // downgraded to the subscription's maximum
  CAF_CHECK(!mqtt::deliver_through(u, "pub", *b3.options, d, dd)); // no local
  // A second publish continues the numbering.
  self->send(topic, publish_atom::value,
             publish_batch{{make_msg("a/b", "v3", 0)}});
  run();
  CAF_REQUIRE_EQUAL(j1->deliveries.size(), 2u);
  CAF_CHECK_EQUAL(j1->deliveries[1].items->at(0).seq, 3u);
}

CAF_TEST(retained message on subscribe and its deletion) {
  auto topic = sys.spawn(topic_actor, std::string{"r"}, mapping_ptr{});
  auto m = make_msg("r", "kept", 1);
  const_cast<mqtt::message&>(*m).retain = true;
  self->send(topic, publish_atom::value, publish_batch{{m}});
  run();
  auto j = std::make_shared<journal>();
  auto s = sys.spawn(fake_session, j);
  auto got = subscribe(topic, make_sub(s, "r", 2));
  CAF_REQUIRE_EQUAL(got.items.size(), 1u);
  CAF_CHECK(got.items[0].keeps_value());
  CAF_CHECK_EQUAL(got.items[0].value(), "kept");
  CAF_CHECK_EQUAL(got.items[0].seq, 1u);
  auto del = make_msg("r", "", 0);
  const_cast<mqtt::message&>(*del).retain = true;
  self->send(topic, publish_atom::value, publish_batch{{del}});
  run();
  auto j2 = std::make_shared<journal>();
  auto s2 = sys.spawn(fake_session, j2);
  got = subscribe(topic, make_sub(s2, "r", 2));
  CAF_CHECK(got.items.empty());
}

CAF_TEST(a subscriber without credit holds back the topic) {
  auto topic = sys.spawn(topic_actor, std::string{"f"}, mapping_ptr{});
  // A session that never gives credit.
  auto silent = sys.spawn([](event_based_actor*) -> behavior {
    return {[](deliver_atom, update_batch&) {}};
  });
  self->send(topic, attach_atom::value, make_sub(silent, "f", 0));
  run();
  // A publisher's connection: counts the answers to its batches.
  auto answers = std::make_shared<int>(0);
  auto pub = sys.spawn([answers](event_based_actor*) -> behavior {
    return {[answers](bool) { ++*answers; }};
  });
  for (uint32_t i = 0; i < max_outstanding_batches; ++i)
    send_as(pub, topic, publish_atom::value,
            publish_batch{{make_msg("f", "x", 0)}});
  run();
  CAF_CHECK_EQUAL(*answers, static_cast<int>(max_outstanding_batches));
  // The next batch waits: its publisher gets no answer yet.
  send_as(pub, topic, publish_atom::value,
          publish_batch{{make_msg("f", "late", 0)}});
  run();
  CAF_CHECK_EQUAL(*answers, static_cast<int>(max_outstanding_batches));
  // Credit arrives: the stashed batch goes out and is answered.
  send_as(silent, topic, credit_atom::value, uint32_t{1},
          mqtt::footprint(*make_msg("f", "x", 0)));
  run();
  CAF_CHECK_EQUAL(*answers, static_cast<int>(max_outstanding_batches) + 1);
}

CAF_TEST(takeover kicks the old connection and resumes the session) {
  auto j1 = std::make_shared<journal>();
  auto j2 = std::make_shared<journal>();
  auto c1 = sys.spawn(fake_connection, j1);
  auto c2 = sys.spawn(fake_connection, j2);
  open(c1, make_request("dev", false, 60));
  run();
  CAF_REQUIRE_EQUAL(j1->attached.size(), 1u);
  CAF_CHECK(!j1->attached[0].session_present);
  auto session = j1->attached[0].session;
  open(c2, make_request("dev", false, 60));
  expect((open_atom, attach_request), from(c2).to(registry));
  expect((attach_atom, attach_request), from(c2).to(session));
  expect((kick_atom, mqtt::reason_code, bool),
         from(session).to(c1).with(_, mqtt::reason_code::session_taken_over,
                                   false));
  expect((detach_atom, detach_info), from(c1).to(session));
  expect((attach_result), from(session).to(c2));
  CAF_REQUIRE_EQUAL(j2->attached.size(), 1u);
  CAF_CHECK(j2->attached[0].session_present);
  CAF_CHECK_EQUAL(j2->attached[0].session, session);
  CAF_CHECK_EQUAL(sessions(), 1u);
  // A clean start replaces the session.
  auto j3 = std::make_shared<journal>();
  auto c3 = sys.spawn(fake_connection, j3);
  open(c3, make_request("dev", true, 0));
  run();
  CAF_REQUIRE_EQUAL(j3->attached.size(), 1u);
  CAF_CHECK(!j3->attached[0].session_present);
  CAF_CHECK_NOT_EQUAL(j3->attached[0].session, session);
  CAF_CHECK_EQUAL(j2->kicks.size(), 1u);
}

CAF_TEST(a subscription the tree does not answer completes at its timeout) {
  // A tree that takes the subscription and never answers (stuck, or on a
  // node that has gone).
  auto silent = sys.spawn([](event_based_actor*) -> behavior {
    return {
        [](subscribe_atom, topic_subscription&) -> result<retained_batch> {
          return delegated<retained_batch>{};
        },
    };
  });
  auto session
      = sys.spawn(session_actor, std::string{"s"}, registry_interface{},
                  actor_cast<topic_tree_interface>(silent), session_config{});
  subscribe_request sr;
  mqtt::subscription sub;
  sub.filter = "a/b";
  sub.max_qos = 1;
  sr.subs.push_back(sub);
  sr.codes.push_back(mqtt::reason_code::granted_qos_1);
  sr.access.ptr = allow_everything();
  self->send(session, subscribe_atom::value, std::move(sr));
  drain();
  CAF_CHECK(self->mailbox().empty());
  advance_time(tree_request_timeout - std::chrono::seconds(1));
  drain();
  CAF_CHECK(self->mailbox().empty());
  // Then SUBACK's codes, without the retained messages it never got.
  advance_time(std::chrono::seconds(1));
  drain();
  CAF_REQUIRE(!self->mailbox().empty());
  subscribe_codes got;
  self->receive([&](subscribe_codes& c) { got = std::move(c); });
  CAF_CHECK(got == subscribe_codes{mqtt::reason_code::granted_qos_1});
  anon_send_exit(session, exit_reason::user_shutdown);
  anon_send_exit(silent, exit_reason::user_shutdown);
}

CAF_TEST(will delay and session expiry) {
  auto j = std::make_shared<journal>();
  auto c = sys.spawn(fake_connection, j);
  auto req = make_request("w", false, 10);
  req.has_will = true;
  auto will = std::make_shared<mqtt::will_message>();
  will->topic = "will/w";
  will->payload = "gone";
  req.will = will;
  req.will_delay = 5;
  open(c, req);
  drain();
  CAF_REQUIRE_EQUAL(j->attached.size(), 1u);
  auto session = j->attached[0].session;
  // The connection drops without DISCONNECT.
  CAF_CHECK_EQUAL(sessions(), 1u);
  send_as(c, session, detach_atom::value, detach_info{true, false, 0, {}});
  drain();
  CAF_CHECK_EQUAL(sessions(), 1u);
  CAF_CHECK(tree_log->published.empty());
  advance_time(std::chrono::seconds(4));
  drain();
  CAF_CHECK(tree_log->published.empty());
  advance_time(std::chrono::seconds(1));
  drain();
  CAF_REQUIRE_EQUAL(tree_log->published.size(), 1u);
  CAF_CHECK_EQUAL(tree_log->published[0]->topic, "will/w");
  CAF_CHECK_EQUAL(tree_log->published[0]->payload, "gone");
  CAF_CHECK_EQUAL(sessions(), 1u);
  // The session expires 10 s after the connection went, and is gone.
  advance_time(std::chrono::seconds(5));
  drain();
  CAF_CHECK_EQUAL(sessions(), 0u);
  CAF_CHECK_EQUAL(tree_log->published.size(), 1u); // the will went once
}

CAF_TEST(reconnecting within the will delay cancels the will) {
  auto j = std::make_shared<journal>();
  auto c = sys.spawn(fake_connection, j);
  auto req = make_request("w2", false, 100);
  req.has_will = true;
  auto will = std::make_shared<mqtt::will_message>();
  will->topic = "will/w2";
  req.will = will;
  req.will_delay = 5;
  open(c, req);
  drain();
  auto session = j->attached.at(0).session;
  send_as(c, session, detach_atom::value, detach_info{true, false, 0, {}});
  drain();
  advance_time(std::chrono::seconds(2));
  drain();
  auto j2 = std::make_shared<journal>();
  auto c2 = sys.spawn(fake_connection, j2);
  open(c2, make_request("w2", false, 100));
  drain();
  CAF_REQUIRE_EQUAL(j2->attached.size(), 1u);
  CAF_CHECK(j2->attached[0].session_present);
  advance_time(std::chrono::seconds(10));
  drain();
  CAF_CHECK(tree_log->published.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
