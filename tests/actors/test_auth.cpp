// Deterministic tests of the authenticator chain on CAF's test coordinator:
// the order in which handlers are asked, the real store / JWT / anonymous
// handlers, and the slow-down of password guessing (per address and user
// name, attempts in progress counted, a rate beyond which an address is
// refused at once). The store hashes inline here (no hash pool threads).

#define CAF_SUITE castor_auth

// Before the test DSL, which defines a function-like macro `allow`.
#include "actors/authenticator.hpp"
#include "actors/iface/timeouts.hpp"
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
        r.reason_code = decision == auth_decision::deny
                            ? mqtt::reason_code::bad_user_name_or_password
                            : mqtt::reason_code::success;
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
    std::vector<authenticator_interface> typed;
    for (auto& h : handlers)
      typed.push_back(actor_cast<authenticator_interface>(h));
    auto chain = sys.spawn(auth_chain, std::move(typed), limits);
    to_stop.push_back(chain);
    return chain;
  }

  actor fixed(std::string name, auth_decision d) {
    return sys.spawn(fixed_handler, std::move(name), d, log);
  }

  actor real_chain(anonymous_policy anon, std::vector<std::string> roles,
                   auth_chain_limits limits = {}) {
    auto store = make_store();
    store_auth_options so;
    so.store = store;
    so.defer_tokens = true; // a JWT handler follows
    std::vector<actor> handlers{
        sys.spawn(store_authenticator, so),
        sys.spawn(jwt_authenticator, make_jwt(),
                  wall_clock_fn{[] { return fixed_now; }}),
        sys.spawn(anonymous_authenticator, anon, std::move(roles), store),
    };
    limits.jwt_enabled = true;
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
  CAF_CHECK(r.reason_code == mqtt::reason_code::bad_user_name_or_password);
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
  CAF_CHECK(r.reason_code == mqtt::reason_code::bad_user_name_or_password);
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
  CAF_CHECK(r.reason_code == mqtt::reason_code::not_authorized);
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
  auto chain
      = chain_of({sys.spawn(certificate_authenticator, store),
                  sys.spawn(store_authenticator,
                            store_auth_options{store, nullptr, false, nullptr}),
                  sys.spawn(anonymous_authenticator, anonymous_policy::deny,
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
  auto bare = chain_of(
      {sys.spawn(certificate_authenticator,
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
  CAF_CHECK(r.reason_code == mqtt::reason_code::not_authorized);
  // The store's own anonymous section (absent: refuse).
  auto by_store = real_chain(anonymous_policy::store, {});
  r = decide(by_store, make_req("", "", "10.0.0.9"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK_EQUAL(r.handler, "anonymous");
}

/// Limits for the slow-down tests: 100 ms after two failures per user
/// name, doubling up to 300 ms; a large address threshold and no rate
/// unless a test sets them.
auth_chain_limits slow_limits() {
  auth_chain_limits limits;
  limits.throttle.user_threshold = 2;
  limits.throttle.address_threshold = 100;
  limits.throttle.delay = std::chrono::milliseconds{100};
  limits.throttle.max_delay = std::chrono::milliseconds{300};
  limits.throttle.address_rate = 0;
  return limits;
}

CAF_TEST(repeated failures of a user name are answered later) {
  auto chain = real_chain(anonymous_policy::deny, {}, slow_limits());
  // Two failures are answered at once.
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  // The third waits 100 ms, even with the right password, and from
  // another address too: the user name is counted wherever it comes from.
  ask(chain, make_req("alice", "right-password", "10.9.9.9"));
  drain();
  CAF_CHECK(!has_reply());
  // Another user name from the first address is not slowed down.
  auto other = decide(chain, make_req("carol", "pw"));
  CAF_CHECK(other.decision == auth_decision::deny);
  advance_time(std::chrono::milliseconds{99});
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::milliseconds{1});
  drain();
  auto r = reply();
  CAF_CHECK(r.decision == auth_decision::allow);
  // The success cleared alice's count: the next failures start over.
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

CAF_TEST(guesses sent side by side count while in progress) {
  auto chain = real_chain(anonymous_policy::deny, {}, slow_limits());
  // Five guesses at once: the first two go on, the third waits 100 ms, the
  // fourth 200 ms, the fifth 300 ms (decided at their start, not after).
  for (int i = 0; i < 5; ++i)
    ask(chain, make_req("alice", "guess"));
  drain();
  auto answered = [&] {
    size_t n = 0;
    while (has_reply()) {
      CAF_CHECK(reply().decision == auth_decision::deny);
      ++n;
    }
    return n;
  };
  CAF_CHECK_EQUAL(answered(), 2u);
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK_EQUAL(answered(), 1u);
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK_EQUAL(answered(), 1u);
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK_EQUAL(answered(), 1u);
}

CAF_TEST(a success of another user name does not clear a count) {
  auto chain = real_chain(anonymous_policy::allow, {"READER"}, slow_limits());
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  CAF_CHECK(decide(chain, make_req("alice", "x")).decision
            == auth_decision::deny);
  // A success from the same address (an anonymous client here).
  CAF_CHECK(decide(chain, make_req("", "")).decision == auth_decision::allow);
  ask(chain, make_req("alice", "x"));
  drain();
  CAF_CHECK(!has_reply()); // still slowed down
  advance_time(std::chrono::milliseconds{100});
  drain();
  CAF_CHECK(reply().decision == auth_decision::deny);
}

CAF_TEST(an address over its rate is refused at once) {
  auto limits = slow_limits();
  limits.throttle.user_threshold = 100;
  limits.throttle.address_rate = 3;
  auto counters = std::make_shared<broker_counters>();
  limits.counters = counters;
  auto chain = real_chain(anonymous_policy::deny, {}, limits);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(decide(chain, make_req("u" + std::to_string(i), "x")).reason_code
              == mqtt::reason_code::bad_user_name_or_password);
  auto r = decide(chain, make_req("u9", "x"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK(r.reason_code == mqtt::reason_code::connection_rate_exceeded);
  CAF_CHECK_EQUAL(r.handler, "chain");
  CAF_CHECK_EQUAL(counters->auth.refused_rate.load(), 1u);
  CAF_CHECK_EQUAL(counters->auth.refused.load(), 3u);
  // Other addresses are not affected.
  CAF_CHECK(
      decide(chain, make_req("alice", "right-password", "10.7.7.7")).reason_code
      == mqtt::reason_code::success);
  CAF_CHECK_EQUAL(counters->auth.accepted.load(), 1u);
}

CAF_TEST(too many logins waiting for a hash are refused as busy) {
  auto store = make_store();
  security::hash_pool::options po;
  po.threads = 1;
  po.max_waiting = 0; // nothing may wait: every submit is refused
  auto counters = std::make_shared<broker_counters>();
  store_auth_options so{store, std::make_shared<security::hash_pool>(po), false,
                        counters};
  auto limits = slow_limits();
  auto chain = chain_of({sys.spawn(store_authenticator, so)}, limits);
  auto r = decide(chain, make_req("alice", "right-password"));
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK(r.reason_code == mqtt::reason_code::server_busy);
  CAF_CHECK_EQUAL(counters->auth.refused_busy.load(), 1u);
  // Not a failure: busy answers do not slow the user name down.
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(decide(chain, make_req("alice", "x")).reason_code
              == mqtt::reason_code::server_busy);
}

CAF_TEST(exchanges outside the chain pass its gate and count) {
  auto limits = slow_limits();
  limits.throttle.user_threshold = 1;
  auto chain = real_chain(anonymous_policy::deny, {}, limits);
  auto gate = [&](const std::string& user) -> std::pair<uint8_t, uint64_t> {
    self->send(chain, auth_gate_atom::value, std::string{"10.0.0.7"}, user);
    drain();
    if (!has_reply())
      return {0xFF, 0};
    std::pair<uint8_t, uint64_t> got;
    self->receive([&](mqtt::reason_code code, uint64_t id) {
      got = {static_cast<uint8_t>(code), id};
    });
    return got;
  };
  // No failure yet: the gate opens at once with an id.
  auto g = gate("alice");
  CAF_CHECK_EQUAL(g.first, 0);
  CAF_REQUIRE(g.second != 0);
  // The exchange failed: the next one for alice waits 100 ms ...
  self->send(chain, auth_record_atom::value, g.second, true);
  drain();
  CAF_CHECK_EQUAL(gate("alice").first, 0xFF);
  advance_time(std::chrono::milliseconds{100});
  drain();
  uint64_t id = 0;
  self->receive([&](mqtt::reason_code code, uint64_t x) {
    CAF_CHECK(code == mqtt::reason_code::success);
    id = x;
  });
  // ... and so does a password login for alice while that one runs.
  ask(chain, make_req("alice", "right-password", "10.0.0.7"));
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::milliseconds{200});
  drain();
  CAF_CHECK(reply().decision == auth_decision::allow);
  // An exchange never recorded counts as failed after the gate timeout.
  advance_time(std::chrono::seconds{60});
  drain();
  CAF_CHECK_EQUAL(gate("alice").first, 0xFF);
}

CAF_TEST(an authenticator that does not answer in time denies as unavailable) {
  // A handler that takes the request and never answers.
  auto silent = sys.spawn([](event_based_actor*) -> behavior {
    return {
        [](authenticate_atom, authenticate_request&) -> result<auth_reply> {
          return delegated<auth_reply>{};
        },
    };
  });
  to_stop.push_back(silent);
  auto chain = chain_of({silent});
  ask(chain, make_req("alice", "right-password"));
  drain();
  CAF_CHECK(!has_reply());
  advance_time(auth_handler_timeout - std::chrono::seconds(1));
  drain();
  CAF_CHECK(!has_reply());
  advance_time(std::chrono::seconds(1));
  drain();
  auto r = reply();
  CAF_CHECK(r.decision == auth_decision::deny);
  CAF_CHECK(r.reason_code == mqtt::reason_code::server_unavailable);
  CAF_CHECK_EQUAL(r.handler, "chain");
}

CAF_TEST(a request prints without its password and travels with it) {
  authenticate_request req;
  req.client_id = "c1";
  req.has_username = true;
  req.username = "alice";
  req.has_password = true;
  req.password = "s3cret-pass";
  // Logs and traces print messages with to_string.
  auto text = deep_to_string(make_message(authenticate_atom::value, req));
  CAF_CHECK(text.find("alice") != std::string::npos);
  CAF_CHECK(text.find("s3cret-pass") == std::string::npos);
  CAF_CHECK(text.find("<hidden>") != std::string::npos);
  std::vector<char> buf;
  binary_serializer sink{sys, buf};
  CAF_REQUIRE_EQUAL(sink(req), none);
  authenticate_request back;
  binary_deserializer source{sys, buf};
  CAF_REQUIRE_EQUAL(source(back), none);
  CAF_CHECK_EQUAL(back.password, "s3cret-pass");
  CAF_CHECK_EQUAL(back.username, "alice");
}

CAF_TEST_FIXTURE_SCOPE_END()
