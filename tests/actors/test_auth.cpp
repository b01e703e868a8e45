// Deterministic tests of the authenticator chain on CAF's test coordinator:
// the order in which handlers are asked, the real store / JWT / anonymous
// handlers, and the slow-down of repeated failed logins from one address.

#define CAF_SUITE castor_auth

// Before the test DSL, which defines a function-like macro `allow`.
#include "actors/authenticator.hpp"
#include "security/jwt.hpp"
#include "security/password.hpp"
#include "security/security_store.hpp"

#include "caf/test/dsl.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

using namespace caf;
using namespace castor;
using castor::security::auth_decision;

namespace {

using call_log = std::shared_ptr<std::vector<std::string>>;

/// A handler that always gives `decision` and records that it was asked.
behavior fixed_handler(event_based_actor*, std::string name,
                       auth_decision decision, call_log log) {
  return {
      [=](authenticate_atom, const authenticate_request&) {
        log->push_back(name);
        auth_reply r;
        r.decision = decision;
        r.principal = decision == auth_decision::allow ? name : "";
        r.reason_code = decision == auth_decision::deny ? 0x86 : 0;
        r.handler = name;
        return r;
      },
  };
}

authenticate_request make_req(std::string user, std::string password,
                              std::string peer = "10.0.0.1") {
  authenticate_request req;
  req.client_id = "c1";
  req.has_username = !user.empty();
  req.username = std::move(user);
  req.has_password = !password.empty();
  req.password = std::move(password);
  req.peer_address = std::move(peer);
  return req;
}

constexpr const char* jwt_secret = "0123456789abcdef0123456789abcdef-k";
constexpr int64_t fixed_now = 1700000000;

std::shared_ptr<const security::security_store> make_store() {
  auto hash = security::make_password_hash("right-password", "0123456789abcdef",
                                           1000);
  std::string text = "principals:\n"
                     "  alice:\n"
                     "    password: \""
                     + hash
                     + "\"\n"
                       "    roles: [DEVICE]\n"
                       "roles:\n"
                       "  DEVICE:\n"
                       "    paths:\n"
                       "      devices: [SELECT_TOPIC, READ_TOPIC, "
                       "UPDATE_TOPIC]\n"
                       "  READER:\n"
                       "    default_path: [SELECT_TOPIC, READ_TOPIC]\n";
  auto loaded = security::parse_security_store(text, "test.yaml");
  auto err = std::get_if<security::store_error>(&loaded);
  if (err != nullptr)
    CAF_FAIL("store does not parse: " << err->to_string());
  return std::make_shared<const security::security_store>(
      std::get<security::security_store>(std::move(loaded)));
}

std::shared_ptr<const security::jwt_verifier> make_jwt() {
  security::jwt_options opts;
  opts.hs256_secret = jwt_secret;
  auto made = security::jwt_verifier::make(opts);
  if (auto err = std::get_if<std::string>(&made))
    CAF_FAIL("verifier: " << *err);
  return std::make_shared<const security::jwt_verifier>(
      std::get<security::jwt_verifier>(std::move(made)));
}

struct fixture : test_coordinator_fixture<> {
  call_log log = std::make_shared<std::vector<std::string>>();
  std::vector<actor> to_stop;

  ~fixture() {
    for (auto& a : to_stop)
      anon_send_exit(a, exit_reason::user_shutdown);
    run();
  }

  /// Delivers every queued message without firing timers.
  void drain() {
    while (sched.try_run_once()) {
      // nop
    }
  }

  actor chain_of(std::vector<actor> handlers, auth_chain_limits limits = {}) {
    auto chain = sys.spawn(auth_chain, std::move(handlers), limits);
    to_stop.push_back(chain);
    return chain;
  }

  actor fixed(std::string name, auth_decision d) {
    return sys.spawn(fixed_handler, std::move(name), d, log);
  }

  actor real_chain(anonymous_policy anon, std::vector<std::string> roles,
                   auth_chain_limits limits = {}) {
    auto store = make_store();
    std::vector<actor> handlers{
        sys.spawn(store_authenticator, store),
        sys.spawn(jwt_authenticator, make_jwt(),
                  wall_clock_fn{[] { return fixed_now; }}),
        sys.spawn(anonymous_authenticator, anon, std::move(roles), store),
    };
    return chain_of(std::move(handlers), limits);
  }

  void ask(const actor& chain, authenticate_request req) {
    self->send(chain, authenticate_atom::value, std::move(req));
  }

  bool has_reply() {
    return !self->mailbox().empty();
  }

  auth_reply reply() {
    CAF_REQUIRE(has_reply());
    auth_reply got;
    self->receive([&](auth_reply& r) { got = std::move(r); });
    return got;
  }

  auth_reply decide(const actor& chain, authenticate_request req) {
    ask(chain, std::move(req));
    drain();
    return reply();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(auth_chain_tests, fixture)

CAF_TEST(the first handler that does not abstain decides) {
  auto chain = chain_of({fixed("a", auth_decision::abstain),
                         fixed("b", auth_decision::allow),
                         fixed("c", auth_decision::deny)});
  auto r = decide(chain, make_req("u", "p"));
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "b");
  CAF_CHECK_EQUAL(*log, (std::vector<std::string>{"a", "b"}));
}

CAF_TEST(a denial stops the chain) {
  auto chain = chain_of(
      {fixed("a", auth_decision::deny), fixed("b", auth_decision::allow)});
  auto r = decide(chain, make_req("u", "p"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "a");
  CAF_CHECK_EQUAL(*log, (std::vector<std::string>{"a"}));
}

CAF_TEST(a chain where every handler abstains refuses) {
  auto chain = chain_of(
      {fixed("a", auth_decision::abstain), fixed("b", auth_decision::abstain)});
  auto r = decide(chain, make_req("u", "p"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "chain");
  CAF_CHECK_EQUAL(r.reason_code, 0x86);
  CAF_CHECK_EQUAL(*log, (std::vector<std::string>{"a", "b"}));
  auto empty = chain_of({});
  CAF_CHECK(decide(empty, make_req("", "")).decision == auth_decision::deny);
}

CAF_TEST(store then jwt then anonymous) {
  auto chain = real_chain(anonymous_policy::allow, {"READER"});
  // Known user, right password: the store allows with its roles.
  auto r = decide(chain, make_req("alice", "right-password"));
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "alice");
  CAF_CHECK_EQUAL(r.roles, (std::vector<std::string>{"DEVICE"}));
  CAF_CHECK_EQUAL(r.handler, "store");
  // Known user, wrong password: denied by the store, 0x86.
  r = decide(chain, make_req("alice", "wrong"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "store");
  CAF_CHECK_EQUAL(r.reason_code, 0x86);
  // Unknown user with a valid token: the JWT handler allows.
  auto token = security::make_hs256_token(
      R"({"sub":"bob","roles":["READER"],"exp":1700000100})", jwt_secret);
  r = decide(chain, make_req("bob", token, "10.0.0.2"));
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "bob");
  CAF_CHECK_EQUAL(r.roles, (std::vector<std::string>{"READER"}));
  CAF_CHECK_EQUAL(r.handler, "jwt");
  // An expired token: denied by the JWT handler, 0x87.
  auto expired = security::make_hs256_token(R"({"sub":"bob","exp":1600000000})",
                                            jwt_secret);
  r = decide(chain, make_req("bob", expired, "10.0.0.2"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "jwt");
  CAF_CHECK_EQUAL(r.reason_code, 0x87);
  // Unknown user, plain password: everybody abstains, refused.
  r = decide(chain, make_req("carol", "pw", "10.0.0.3"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "chain");
  // No user name: the anonymous policy allows with its roles.
  r = decide(chain, make_req("", "", "10.0.0.4"));
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "");
  CAF_CHECK_EQUAL(r.roles, (std::vector<std::string>{"READER"}));
  CAF_CHECK_EQUAL(r.handler, "anonymous");
}

CAF_TEST(a verified client certificate names the principal) {
  auto store = make_store();
  auto chain = chain_of({sys.spawn(certificate_authenticator, store),
                         sys.spawn(store_authenticator, store),
                         sys.spawn(anonymous_authenticator,
                                   anonymous_policy::deny,
                                   std::vector<std::string>{}, store)});
  // The certificate's principal is in the store: allowed with its roles,
  // without a password.
  auto req = make_req("", "", "10.0.0.5");
  req.tls_identity = "alice";
  auto r = decide(chain, req);
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "alice");
  CAF_CHECK_EQUAL(r.roles, (std::vector<std::string>{"DEVICE"}));
  CAF_CHECK_EQUAL(r.handler, "certificate");
  // Unknown to the store: the other handlers decide (here: refused as
  // anonymous).
  req.tls_identity = "mallory";
  r = decide(chain, req);
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "anonymous");
  // No certificate: the store checks the password as usual.
  r = decide(chain, make_req("alice", "right-password", "10.0.0.6"));
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.handler, "store");
  // Without a store the certificate's principal is let in with no roles
  // (and then, as every client without a store, may do everything).
  auto bare = chain_of({sys.spawn(certificate_authenticator,
                                  std::shared_ptr<const security::security_store>{})});
  req.tls_identity = "device-7";
  r = decide(bare, req);
  CAF_CHECK(r.decision == auth_decision::allow);
  CAF_CHECK_EQUAL(r.principal, "device-7");
}

CAF_TEST(anonymous clients refused by policy) {
  auto chain = real_chain(anonymous_policy::deny, {});
  auto r = decide(chain, make_req("", ""));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "anonymous");
  CAF_CHECK_EQUAL(r.reason_code, 0x87);
  // The store's own anonymous section (absent: refuse).
  auto by_store = real_chain(anonymous_policy::store, {});
  r = decide(by_store, make_req("", "", "10.0.0.9"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "anonymous");
}

CAF_TEST(repeated failures from one address are answered later) {
  auth_chain_limits limits;
  limits.threshold = 2;
  limits.delay = std::chrono::milliseconds{100};
  limits.max_delay = std::chrono::milliseconds{300};
  auto chain = real_chain(anonymous_policy::deny, {}, limits);
  // Two failures are answered at once.
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  // The third waits 100 ms, even with the right password.
  ask(chain, make_req("alice", "right-password"));
  drain();
  CAF_CHECK(!has_reply());
  // Another address is not slowed down.
  auto other = decide(chain, make_req("alice", "right-password", "10.9.9.9"));
  CAF_CHECK(other.decision == auth_decision::allow);
  advance_time(std::chrono::milliseconds{99});
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::milliseconds{1});
  drain();
  auto r = reply();
  CAF_CHECK(r.decision == auth_decision::allow);
  // The success cleared the count: the next failures start over.
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  // Third failure after 100 ms, fourth after 200 ms, then capped at 300 ms.
  for (auto wait_ms : {100, 200, 300, 300}) {
    ask(chain, make_req("alice", "x"));
    drain();
    advance_time(std::chrono::milliseconds{wait_ms - 1});
    drain();
    CAF_CHECK(!has_reply());
    advance_time(std::chrono::milliseconds{1});
    drain();
    CAF_CHECK(reply().decision == auth_decision::deny);
  }
}

CAF_TEST(exchanges outside the chain pass its gate and count) {
  auth_chain_limits limits;
  limits.threshold = 1;
  limits.delay = std::chrono::milliseconds{100};
  limits.max_delay = std::chrono::milliseconds{100};
  auto chain = real_chain(anonymous_policy::deny, {}, limits);
  auto gate_open = [&] {
    if (!has_reply())
      return false;
    bool got = false;
    self->receive([&](bool b) { got = b; });
    return got;
  };
  // No failure yet: the gate opens at once.
  self->send(chain, auth_gate_atom::value, std::string{"10.0.0.7"});
  drain();
  CAF_CHECK(gate_open());
  // A failed exchange from the address: the next one waits 100 ms ...
  self->send(chain, auth_record_atom::value, std::string{"10.0.0.7"}, true);
  drain();
  self->send(chain, auth_gate_atom::value, std::string{"10.0.0.7"});
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK(gate_open());
  // ... and so does a password login from it.
  ask(chain, make_req("alice", "right-password", "10.0.0.7"));
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK(reply().decision == auth_decision::allow);
  // That success cleared the address.
  self->send(chain, auth_gate_atom::value, std::string{"10.0.0.7"});
  drain();
  CAF_CHECK(gate_open());
}

CAF_TEST(the failure map is bounded and forgets) {
  auth_chain_state st;
  st.threshold = 1;
  st.delay = std::chrono::milliseconds{50};
  st.max_delay = std::chrono::milliseconds{1000};
  st.forget_after = std::chrono::seconds{60};
  st.max_tracked = 2;
  caf::actor_clock::time_point t0{};
  st.record("a", true, t0);
  st.record("b", true, t0 + std::chrono::seconds{1});
  st.record("c", true, t0 + std::chrono::seconds{2});
  CAF_CHECK_EQUAL(st.failures.size(), 2u);
  CAF_CHECK_EQUAL(st.failures.count("a"), 0u); // least recent dropped
  auto now = t0 + std::chrono::seconds{3};
  CAF_CHECK(st.delay_for("b", now) == std::chrono::milliseconds{50});
  CAF_CHECK(st.delay_for("a", now) == caf::actor_clock::duration_type::zero());
  // A minute after the last failure the address is forgotten.
  CAF_CHECK(st.delay_for("c", t0 + std::chrono::seconds{62})
            == caf::actor_clock::duration_type::zero());
  CAF_CHECK_EQUAL(st.failures.count("c"), 0u);
  st.record("b", false, now);
  CAF_CHECK_EQUAL(st.failures.count("b"), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
