// OWNER: the principal a topic's specification names has its rights on it
// (protocol/owner_access.hpp).

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "protocol/owner_access.hpp"

using namespace castor;
using mqtt::publish_check;

namespace {

/// Rights on nothing; counts the questions.
struct nothing final : mqtt::access_policy {
  mutable int asked = 0;
  publish_check check_publish(std::string_view) const override {
    ++asked;
    return publish_check::deny;
  }
  bool may_subscribe(std::string_view) const override {
    ++asked;
    return false;
  }
  bool may_read(std::string_view) const override {
    ++asked;
    return false;
  }
};

topic_mapping::spec_ptr owned_by(const std::string& owner) {
  auto s = make_specification("string", {{"OWNER", owner}});
  REQUIRE(std::holds_alternative<topic_specification>(s));
  return std::make_shared<const topic_specification>(
      std::get<topic_specification>(s));
}

} // namespace

TEST_CASE("the owner of a topic has its rights, nobody else gains any") {
  auto mapping = std::make_shared<topic_mapping>(std::vector<mapping_rule>{
      {"rule/+", *owned_by("bob")}});
  mapping->add("own/a", owned_by("alice"));
  auto inner = std::make_shared<nothing>();
  auto alice = mqtt::with_ownership(inner, mapping, "alice");
  auto bob = mqtt::with_ownership(inner, mapping, "bob");
  CHECK(alice->check_publish("own/a") == publish_check::allow);
  CHECK(alice->may_subscribe("own/a"));
  CHECK(alice->may_read("own/a"));
  CHECK(alice->may_modify("own/a"));
  CHECK_FALSE(alice->may_subscribe("own/+")); // wildcards: the roles decide
  CHECK(alice->check_publish("own/b") == publish_check::deny);
  CHECK_FALSE(alice->may_read("rule/x"));
  CHECK(bob->check_publish("own/a") == publish_check::deny);
  CHECK(bob->may_read("rule/x")); // a mapping rule's OWNER
  CHECK(bob->may_modify("rule/x"));
  // Removed: no longer owned.
  mapping->remove("own/a");
  CHECK(alice->check_publish("own/a") == publish_check::deny);
  CHECK_FALSE(alice->may_read("own/a"));
}

TEST_CASE("nothing to own: the policy itself") {
  auto inner = std::make_shared<nothing>();
  auto mapping = std::make_shared<topic_mapping>();
  mqtt::access_ptr base = inner;
  CHECK(mqtt::with_ownership(base, mapping, "").get() == base.get()); // anonymous
  CHECK(mqtt::with_ownership(base, nullptr, "alice").get() == base.get());
  CHECK_FALSE(static_cast<bool>(mqtt::with_ownership(nullptr, mapping, "alice")));
}
