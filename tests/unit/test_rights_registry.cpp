// security::rights_registry and topic_access::update: one rights object per
// principal, shared by everything that acts for it, and a change of roles
// or of the store reaches every holder at its next check.

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "security/rights_registry.hpp"
#include "security/security_store.hpp"
#include "security/topic_access.hpp"

using namespace castor::security;

namespace {

std::shared_ptr<const security_store> make_store(const std::string& text) {
  auto r = parse_security_store(text, "store.yaml");
  if (auto err = std::get_if<store_error>(&r))
    FAIL("store: " << err->to_string());
  return std::make_shared<const security_store>(
      std::get<security_store>(std::move(r)));
}

const char* roles_text = R"(
principals:
  reader:
    password: "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    roles: [READER]
roles:
  READER:
    paths:
      data/public: [SELECT_TOPIC, READ_TOPIC]
  ADMIN:
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
)";

} // namespace

TEST_CASE("rights: an update reaches every holder at once") {
  auto store = make_store(roles_text);
  topic_access rights{store, {"ADMIN"}};
  // What a subscription in the topic tree and a session hold: the object.
  const castor::mqtt::access_policy& held = rights;
  CHECK(held.may_read("data/private/x"));
  CHECK(held.may_subscribe("data/#"));
  CHECK(rights.generation() == 0);
  rights.update(store, {"READER"});
  CHECK(rights.generation() == 1);
  CHECK_FALSE(held.may_read("data/private/x")); // the cache was emptied
  CHECK(held.may_read("data/public/x"));
  CHECK_FALSE(held.may_subscribe("data/private/#"));
  CHECK(held.check_publish("data/public/x")
        == castor::mqtt::publish_check::deny);
  CHECK(rights.roles() == std::vector<std::string>{"READER"});
}

TEST_CASE("rights registry: one object per principal") {
  auto store = make_store(roles_text);
  rights_registry reg{store};
  auto a = reg.rights_of("reader", {"READER"});
  auto b = reg.rights_of("reader", {"READER"});
  CHECK((a == b));
  auto anonymous = reg.rights_of("", {"ADMIN"}); // anonymous clients: ""
  CHECK((anonymous != a));
  CHECK(reg.size() == 2);
  // A login with other roles changes them for every holder.
  auto c = reg.rights_of("reader", {"ADMIN"});
  CHECK((c == a));
  CHECK(a->may_read("data/private/x"));
  // An API that changes a principal's roles.
  CHECK(reg.set_roles("reader", {"READER"}));
  CHECK_FALSE(a->may_read("data/private/x"));
  CHECK_FALSE(reg.set_roles("nobody", {"ADMIN"}));
  // Held weakly: a principal nobody holds is forgotten.
  a.reset();
  b.reset();
  c.reset();
  CHECK((reg.find("reader") == nullptr));
}

TEST_CASE("rights registry: a new store for everyone") {
  auto store = make_store(roles_text);
  rights_registry reg{store};
  auto reader = reg.rights_of("reader", {"READER"});
  auto token = reg.rights_of("device-9", {"ADMIN"}); // roles from a token
  CHECK(reader->may_read("data/public/x"));
  // The new store gives the reader no roles and no longer grants
  // data/public to READER.
  auto next = make_store(R"(
principals:
  reader:
    password: "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    roles: []
roles:
  READER: {}
  ADMIN:
    default_path: [SELECT_TOPIC, READ_TOPIC]
)");
  reg.replace_store(next);
  CHECK_FALSE(reader->may_read("data/public/x"));
  CHECK(reader->roles().empty());
  CHECK(token->roles() == std::vector<std::string>{"ADMIN"});
  CHECK(token->may_read("data/private/x"));
  CHECK(token->check_publish("data/private/x")
        == castor::mqtt::publish_check::deny); // ADMIN lost UPDATE_TOPIC
  // A principal the old store knew and the new one does not loses all.
  auto gone = make_store("roles:\n  READER: {}\n  ADMIN: {}\n");
  reg.replace_store(gone);
  CHECK(reader->roles().empty());
}

TEST_CASE("rights registry: the listener hears of rights that may shrink") {
  auto store = make_store(roles_text);
  rights_registry reg{store};
  std::vector<std::string> heard; // "*": every principal
  reg.on_change([&](const std::optional<std::string>& p) {
    heard.push_back(p ? *p : "*");
  });
  auto a = reg.rights_of("reader", {"READER"});
  CHECK(heard.empty()); // a first login changes nobody's rights
  auto b = reg.rights_of("reader", {"READER"});
  CHECK(heard.empty()); // the same roles again
  reg.rights_of("reader", {"ADMIN"});
  CHECK(heard == std::vector<std::string>{"reader"}); // other roles
  CHECK(reg.set_roles("reader", {"READER"}));
  CHECK_FALSE(reg.set_roles("nobody", {"READER"}));
  CHECK(heard == std::vector<std::string>{"reader", "reader"});
  reg.replace_store(make_store(roles_text));
  CHECK(heard == std::vector<std::string>{"reader", "reader", "*"});
  reg.on_change({});
  reg.replace_store(store);
  CHECK(heard.size() == 3);
}
