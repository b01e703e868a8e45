// The topic tree binds a wildcard subscription only to the topics its
// client may read (existing ones with their retained messages, and ones
// created later), and looks topics up without creating them.

#define CAF_SUITE castor_access

#include "caf/test/dsl.hpp"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/topic_tree.hpp"
#include "actors/types.hpp"

using namespace caf;
using namespace castor;

namespace {

/// Reads topics starting with "ok/" only.
struct ok_only : mqtt::access_policy {
  mqtt::publish_check check_publish(std::string_view) const override {
    return mqtt::publish_check::allow;
  }
  bool may_subscribe(std::string_view) const override {
    return true;
  }
  bool may_read(std::string_view topic) const override {
    return topic.substr(0, 3) == "ok/";
  }
};

using seen_ptr = std::shared_ptr<std::vector<std::string>>;

/// A session stand-in: records the topics delivered and gives credit back.
behavior recording_session(event_based_actor* self, seen_ptr seen) {
  return {
      [=](deliver_atom, update_batch& b) {
        for (auto& u : *b.items)
          seen->push_back(u.msg->topic);
        auto topic = actor_cast<actor>(self->current_sender());
        uint64_t bytes = 0;
        for (auto& u : *b.items)
          bytes += u.footprint();
        self->send(topic, credit_atom::value, uint32_t{1}, bytes);
      },
  };
}

mqtt::message_ptr retained(std::string topic) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = "v";
  p.retain = true;
  return mqtt::make_message(std::move(p), "pub",
                            std::chrono::steady_clock::now());
}

struct fixture : test_coordinator_fixture<> {
  actor tree;

  fixture() {
    tree = sys.spawn(topic_tree, mapping_ptr{}, missing_ptr{});
    run();
  }

  ~fixture() {
    anon_send_exit(tree, exit_reason::user_shutdown);
    run();
  }

  /// What a session subscribed to "#" with `access` gets: the retained
  /// message of "no/3" (in its retained batch) and a live one on "no/4".
  struct reach {
    size_t retained = 0;
    size_t live = 0;
  };

  reach reach_with(access_ref access) {
    self->send(tree, publish_atom::value, retained("no/3"));
    run();
    auto seen = std::make_shared<std::vector<std::string>>();
    auto session = sys.spawn(recording_session, seen);
    topic_subscription ts;
    ts.session = session;
    ts.filter = "#";
    ts.access = std::move(access);
    self->send(tree, subscribe_atom::value, ts);
    run();
    reach got;
    self->receive([&](retained_batch& b) { got.retained = b.items.size(); });
    auto m = retained("no/4");
    const_cast<mqtt::message&>(*m).retain = false;
    self->send(tree, publish_atom::value, m);
    run();
    got.live = seen->size();
    anon_send_exit(session, exit_reason::user_shutdown);
    return got;
  }

  topic_interface lookup(const std::string& name, bool create) {
    self->send(tree, lookup_atom::value, name, create);
    run();
    topic_interface got;
    self->receive([&](topic_interface& a) { got = std::move(a); });
    return got;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(access_tests, fixture)

CAF_TEST(a lookup without create finds only existing topics) {
  CAF_CHECK(!lookup("a/b", false));
  auto made = lookup("a/b", true);
  CAF_REQUIRE(made);
  CAF_CHECK_EQUAL(lookup("a/b", false), made);
}

CAF_TEST(wildcards reach only readable topics) {
  for (auto t : {"ok/1", "no/1"}) {
    self->send(tree, publish_atom::value, retained(t));
    run();
  }
  auto seen = std::make_shared<std::vector<std::string>>();
  auto session = sys.spawn(recording_session, seen);
  topic_subscription ts;
  ts.session = session;
  ts.filter = "+/#";
  ts.access.ptr = std::make_shared<ok_only>();
  self->send(tree, subscribe_atom::value, ts);
  run();
  retained_batch got;
  self->receive([&](retained_batch& b) { got = std::move(b); });
  CAF_REQUIRE_EQUAL(got.items.size(), 1u);
  CAF_CHECK_EQUAL(got.items[0].msg->topic, "ok/1");
  // Existing and new topics: only readable ones deliver.
  for (auto t : {"ok/1", "no/1", "ok/2", "no/2"}) {
    auto m = retained(t);
    const_cast<mqtt::message&>(*m).retain = false;
    self->send(tree, publish_atom::value, m);
    run();
  }
  std::multiset<std::string> topics(seen->begin(), seen->end());
  CAF_CHECK_EQUAL(topics.size(), 2u);
  CAF_CHECK_EQUAL(topics.count("ok/1"), 1u);
  CAF_CHECK_EQUAL(topics.count("ok/2"), 1u);
  anon_send_exit(session, exit_reason::user_shutdown);
}

CAF_TEST(without a policy nothing is reachable) {
  access_ref access;
  access.principal = "reader"; // as if it came from another node
  auto got = reach_with(access);
  CAF_CHECK_EQUAL(got.retained, 0u);
  CAF_CHECK_EQUAL(got.live, 0u);
}

CAF_TEST(without a security store everything is reachable) {
  access_ref access;
  access.ptr = allow_everything();
  auto got = reach_with(access);
  CAF_CHECK_EQUAL(got.retained, 1u);
  CAF_CHECK_EQUAL(got.live, 1u);
}

CAF_TEST(rights travel as data and come back allowing nothing) {
  topic_subscription ts;
  ts.filter = "data/#";
  ts.access.principal = "reader";
  ts.access.roles = {"readers", "devices"};
  ts.access.ptr = allow_everything();
  std::vector<char> buf;
  binary_serializer sink{sys, buf};
  CAF_REQUIRE_EQUAL(sink(ts), none);
  topic_subscription back;
  binary_deserializer source{sys, buf};
  CAF_REQUIRE_EQUAL(source(back), none);
  CAF_CHECK_EQUAL(back.filter, "data/#");
  CAF_CHECK_EQUAL(back.access.principal, "reader");
  CAF_CHECK_EQUAL(back.access.roles,
                  (std::vector<std::string>{"readers", "devices"}));
  // The policy object stays on its node: the copy reads nothing until the
  // receiver resolves the principal in its own registry.
  CAF_CHECK(!back.access.resolved());
  CAF_CHECK(!back.access.may_read("data/x"));
  CAF_CHECK(ts.access.may_read("data/x"));
  // A subscribe request carries them the same way.
  subscribe_request sr;
  sr.access = ts.access;
  buf.clear();
  binary_serializer sink2{sys, buf};
  CAF_REQUIRE_EQUAL(sink2(sr), none);
  subscribe_request sr_back;
  binary_deserializer source2{sys, buf};
  CAF_REQUIRE_EQUAL(source2(sr_back), none);
  CAF_CHECK_EQUAL(sr_back.access.principal, "reader");
  CAF_CHECK(!sr_back.access.may_read("data/x"));
}

CAF_TEST(updates and their delivery options travel as data) {
  mqtt::publish p;
  p.topic = "data/x";
  p.payload = "42";
  p.qos = 1;
  p.retain = true;
  update_batch b;
  b.items = std::make_shared<const std::vector<update>>(
      1, update{17, value_type::binary,
                mqtt::make_message(std::move(p), "pub",
                                   std::chrono::steady_clock::now()),
                nullptr, 0, false});
  b.options = std::make_shared<const std::vector<mqtt::delivery_options>>(
      1, mqtt::delivery_options{1, true, true, 9, false});
  b.shared = true;
  b.bytes = 321;
  std::vector<char> buf;
  binary_serializer sink{sys, buf};
  CAF_REQUIRE_EQUAL(sink(b), none);
  update_batch back;
  binary_deserializer source{sys, buf};
  CAF_REQUIRE_EQUAL(source(back), none);
  CAF_REQUIRE(back.items && back.options);
  CAF_REQUIRE_EQUAL(back.items->size(), 1u);
  auto& u = back.items->at(0);
  CAF_CHECK_EQUAL(u.seq, 17u);
  CAF_CHECK(u.type == value_type::binary);
  CAF_CHECK_EQUAL(u.value(), "42");
  CAF_CHECK_EQUAL(u.publisher(), "pub");
  CAF_CHECK(u.keeps_value());
  CAF_CHECK_EQUAL(u.msg->qos, 1);
  CAF_REQUIRE_EQUAL(back.options->size(), 1u);
  CAF_CHECK(back.options->at(0) == (mqtt::delivery_options{1, true, true, 9, false}));
  CAF_CHECK(back.shared);
  CAF_CHECK_EQUAL(back.bytes, 321u);
}

CAF_TEST_FIXTURE_SCOPE_END()
