// security::topic_access: which publish, subscribe and delivery the store's
// path permissions allow for a set of roles, including wildcard filters that
// are partly permitted, isolated paths and the cache.

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "security/security_store.hpp"
#include "security/topic_access.hpp"

using namespace castor::security;
using castor::mqtt::publish_check;

namespace {

std::shared_ptr<const security_store> store() {
  auto r = parse_security_store(R"(
roles:
  CLIENT:
    default_path: [SELECT_TOPIC, READ_TOPIC]
  DEVICE:
    paths:
      devices: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
      devices/firmware: [SELECT_TOPIC, READ_TOPIC]
  OPERATOR:
    paths:
      ops: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]
      ops/blind: [READ_TOPIC]
  READER:
    paths:
      data: [SELECT_TOPIC, READ_TOPIC]
      a/b/c/d: [SELECT_TOPIC, READ_TOPIC]
  MESSENGER:
    paths:
      svc: [SEND_TO_SESSION]
      svc/handled: [SEND_TO_MESSAGE_HANDLER]
  NOTHING: {}
isolated_paths: [secret, data/secret]
)",
                                "store.yaml");
  if (auto err = std::get_if<store_error>(&r))
    FAIL("store: " << err->to_string());
  return std::make_shared<const security_store>(
      std::get<security_store>(std::move(r)));
}

topic_access access(std::vector<std::string> roles) {
  return topic_access{store(), std::move(roles)};
}

} // namespace

TEST_CASE("publish: UPDATE_TOPIC, and MODIFY_TOPIC to create") {
  auto dev = access({"DEVICE"});
  CHECK(dev.check_publish("devices/1/temp") == publish_check::allow);
  CHECK(dev.check_publish("devices") == publish_check::allow);
  CHECK(dev.check_publish("devices/firmware/v2") == publish_check::deny);
  CHECK(dev.check_publish("devicesX") == publish_check::deny);
  CHECK(dev.check_publish("other") == publish_check::deny);
  auto ops = access({"OPERATOR"});
  CHECK(ops.check_publish("ops/x") == publish_check::allow_existing);
  CHECK(ops.check_publish("ops/blind/x") == publish_check::deny);
  CHECK(access({"NOTHING"}).check_publish("devices/1") == publish_check::deny);
  CHECK(access({"UNKNOWN"}).check_publish("devices/1") == publish_check::deny);
  // Roles add up.
  auto both = access({"OPERATOR", "DEVICE"});
  CHECK(both.check_publish("ops/x") == publish_check::allow_existing);
  CHECK(both.check_publish("devices/x") == publish_check::allow);
}

TEST_CASE("reading: READ_TOPIC, isolated paths") {
  auto client = access({"CLIENT"});
  CHECK(client.may_read("anything/at/all"));
  CHECK_FALSE(client.may_read("secret"));
  CHECK_FALSE(client.may_read("secret/x"));
  CHECK(client.may_read("secretive"));
  auto reader = access({"READER"});
  CHECK(reader.may_read("data/x"));
  CHECK_FALSE(reader.may_read("data/secret/x"));
  CHECK_FALSE(reader.may_read("other"));
  CHECK(access({"OPERATOR"}).may_read("ops/blind/x"));
}

TEST_CASE("subscribe: exact filters need SELECT_TOPIC and READ_TOPIC") {
  auto ops = access({"OPERATOR"});
  CHECK(ops.may_subscribe("ops/a"));
  // READ without SELECT: may not name the path.
  CHECK_FALSE(ops.may_subscribe("ops/blind/a"));
  CHECK_FALSE(ops.may_subscribe("other"));
}

TEST_CASE("subscribe: a wildcard needs one selectable, readable match") {
  auto reader = access({"READER"});
  CHECK(reader.may_subscribe("#"));
  CHECK(reader.may_subscribe("+"));   // "data" itself
  CHECK(reader.may_subscribe("data/#"));
  CHECK(reader.may_subscribe("data/+"));
  CHECK(reader.may_subscribe("+/x")); // data/x
  CHECK(reader.may_subscribe("a/+/c/#"));
  CHECK(reader.may_subscribe("+/+/+/d"));
  CHECK(reader.may_subscribe("a/#")); // a/b/c/d
  CHECK_FALSE(reader.may_subscribe("a/+/x/#"));
  CHECK(reader.may_subscribe("+/+/+/e"));  // data/x/y/e
  CHECK_FALSE(reader.may_subscribe("a/+/+/e"));
  CHECK_FALSE(reader.may_subscribe("data/secret/#"));
  CHECK_FALSE(reader.may_subscribe("data/secret/+"));
  CHECK(reader.may_subscribe("data/+/x")); // data/<any but secret>/x
  CHECK_FALSE(reader.may_subscribe("other/#"));
  CHECK(reader.may_subscribe("+/y/z/w"));  // data/y/z/w
  CHECK_FALSE(reader.may_subscribe("x/+/#"));
  auto client = access({"CLIENT"});
  CHECK(client.may_subscribe("#"));
  CHECK(client.may_subscribe("+/x"));
  CHECK_FALSE(client.may_subscribe("secret/#"));
  CHECK_FALSE(client.may_subscribe("secret/+/a"));
  auto dev = access({"DEVICE"});
  CHECK(dev.may_subscribe("devices/firmware/#"));
  CHECK_FALSE(dev.may_subscribe("x/#"));
  CHECK_FALSE(access({"NOTHING"}).may_subscribe("#"));
}

TEST_CASE("wildcards in the first level do not reach '$' topics") {
  auto r = parse_security_store(R"(
roles:
  SYS:
    paths:
      $SYS: [SELECT_TOPIC, READ_TOPIC]
)",
                                "store.yaml");
  REQUIRE(std::holds_alternative<security_store>(r));
  topic_access sys{std::make_shared<const security_store>(
                       std::get<security_store>(std::move(r))),
                   {"SYS"}};
  CHECK(sys.may_subscribe("$SYS/#"));
  CHECK(sys.may_subscribe("$SYS/+"));
  CHECK_FALSE(sys.may_subscribe("#"));
  CHECK_FALSE(sys.may_subscribe("+/broker"));
}

TEST_CASE("the cache answers as the store does, beyond its size") {
  auto st = store();
  topic_access reader{st, {"READER"}};
  for (size_t i = 0; i < topic_access::max_cached * 2 + 10; ++i) {
    auto t = (i % 3 == 0 ? "data/" : i % 3 == 1 ? "data/secret/" : "x/")
             + std::to_string(i);
    bool want = st->can({"READER"}, permission::read_topic, t);
    REQUIRE(reader.may_read(t) == want);
    REQUIRE(reader.may_read(t) == want); // from the cache
  }
}

TEST_CASE("messaging: SEND_TO_SESSION and SEND_TO_MESSAGE_HANDLER on paths") {
  auto m = access({"MESSENGER"});
  CHECK(m.may_send_to_session("svc"));
  CHECK(m.may_send_to_session("svc/x/y"));
  CHECK_FALSE(m.may_send_to_session("svcx"));
  CHECK_FALSE(m.may_send_to_session("other"));
  // A path's permissions replace its parent's: no SEND_TO_SESSION below
  // svc/handled, where only SEND_TO_MESSAGE_HANDLER is granted.
  CHECK_FALSE(m.may_send_to_session("svc/handled/x"));
  CHECK(m.may_send_to_handler("svc/handled/x"));
  CHECK_FALSE(m.may_send_to_handler("svc/x"));
  CHECK_FALSE(access({"CLIENT"}).may_send_to_session("anything"));
}
