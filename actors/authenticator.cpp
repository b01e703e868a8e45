#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/authenticator.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"

namespace castor {

namespace {

/// How long the chain waits for one handler: the store's waits for a
/// hashing thread behind the logins queued before it (a burst of a hundred
/// takes seconds), but less than the connection waits for the chain
/// (actors/iface/timeouts.hpp).
constexpr auto handler_timeout = auth_handler_timeout;
static_assert(auth_handler_timeout < auth_timeout);

using security::auth_decision;
using security::auth_result;

constexpr auto bad_credentials = mqtt::reason_code::bad_user_name_or_password;
constexpr auto not_authorized = mqtt::reason_code::not_authorized;
constexpr auto server_unavailable = mqtt::reason_code::server_unavailable;
constexpr auto server_busy = mqtt::reason_code::server_busy;
constexpr auto connection_rate_exceeded
    = mqtt::reason_code::connection_rate_exceeded;

/// Adds one to an authentication counter, if there are counters.
void count(const std::shared_ptr<broker_counters>& c,
           std::atomic<uint64_t> auth_counters::*which) {
  if (c)
    broker_counters::add(c->auth.*which);
}

auth_reply to_reply(auth_result r, mqtt::reason_code deny_code,
                    const char* handler) {
  auth_reply result;
  result.decision = r.decision;
  result.principal = std::move(r.principal);
  result.roles = std::move(r.roles);
  result.reason = std::move(r.reason);
  result.reason_code = r.decision == auth_decision::deny
                           ? deny_code
                           : mqtt::reason_code::success;
  result.handler = handler;
  return result;
}

/// Reads a whole file; false (and `why`) when it cannot.
bool read_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    why = "cannot read the file";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = text.str();
  return true;
}

} // namespace

std::variant<auth_settings, std::string>
load_auth_settings(const security_config& cfg) {
  auth_settings result;
  if (!cfg.store_file.empty()) {
    auto loaded = security::load_security_store(cfg.store_file);
    if (auto err = std::get_if<security::store_error>(&loaded))
      return err->to_string();
    auto store = std::get<security::security_store>(std::move(loaded));
    if (!cfg.stand_in_secret_file.empty()) {
      std::string secret;
      std::string why;
      if (!read_file(cfg.stand_in_secret_file, secret, why))
        return cfg.stand_in_secret_file
               + ": security.stand_in_secret_file: " + why;
      if (secret.size() < 16)
        return cfg.stand_in_secret_file
               + ": security.stand_in_secret_file: the secret must have at "
                 "least 16 bytes";
      store.set_stand_in_secret(secret);
    }
    result.store
        = std::make_shared<const security::security_store>(std::move(store));
    result.store_state
        = std::make_shared<security::store_holder>(result.store);
    for (const auto& role : cfg.anonymous_roles)
      if (result.store->roles().count(role) == 0)
        return "security.anonymous_roles: role '" + role
               + "' is not defined in " + cfg.store_file;
  }
  if (cfg.anonymous == anonymous_policy::store && !result.store)
    return "security.anonymous: 'store' needs security.store_file";
  const auto& j = cfg.jwt;
  if (!j.hs256_secret_file.empty() || !j.rs256_public_key_file.empty()) {
    security::jwt_options opts;
    if (!j.hs256_secret_file.empty()) {
      std::string why;
      if (!read_file(j.hs256_secret_file, opts.hs256_secret, why))
        return j.hs256_secret_file + ": security.jwt.hs256_secret_file: " + why;
      if (!opts.hs256_secret.empty() && opts.hs256_secret.back() == '\n')
        opts.hs256_secret.pop_back();
      if (!opts.hs256_secret.empty() && opts.hs256_secret.back() == '\r')
        opts.hs256_secret.pop_back();
    }
    opts.rs256_public_key_file = j.rs256_public_key_file;
    opts.roles_claim = j.roles_claim;
    opts.issuer = j.issuer;
    opts.audience = j.audience;
    opts.leeway_seconds = j.leeway_seconds;
    auto made = security::jwt_verifier::make(std::move(opts));
    if (auto err = std::get_if<std::string>(&made))
      return "security.jwt: " + *err;
    result.jwt = std::make_shared<const security::jwt_verifier>(
        std::get<security::jwt_verifier>(std::move(made)));
    result.jwt_state = std::make_shared<security::jwt_holder>(result.jwt);
  }
  result.anonymous = cfg.anonymous;
  result.anonymous_roles = cfg.anonymous_roles;
  auto& t = result.throttle;
  t.user_threshold = cfg.failed_login_threshold;
  t.address_threshold = cfg.failed_login_address_threshold;
  t.delay = std::chrono::milliseconds{cfg.failed_login_delay_ms};
  t.max_delay = std::chrono::milliseconds{cfg.failed_login_max_delay_ms};
  t.address_rate = cfg.failed_login_rate_per_minute;
  result.hash_threads = cfg.hash_threads;
  result.hash_threads_priority = cfg.hash_threads_priority;
  result.hash_queue_limit = cfg.hash_queue_limit;
  result.foreign_session = cfg.foreign_session;
  return result;
}

caf::behavior store_authenticator(caf::stateful_actor<store_auth_state>* self,
                                  store_auth_options opts) {
  auto source = opts.store;
  auto pool = opts.pool;
  auto counters = opts.counters;
  bool defer_tokens = opts.defer_tokens;
  return census(
      self, metrics::actor_kind::authenticator,
      implement<store_authenticator_interface>(
          [=](authenticate_atom,
              authenticate_request& req) -> caf::result<auth_reply> {
            if (!req.has_username || req.username.empty())
              return to_reply(auth_result::abstain("no user name"),
                              bad_credentials, "store");
            if (defer_tokens
                && security::jwt_verifier::looks_like_jwt(req.password))
              return to_reply(auth_result::abstain("a bearer token"),
                              bad_credentials, "store");
            if (!pool) {
              count(counters, &auth_counters::hashes);
              return to_reply(
                  source.get()->authenticate(req.username, req.password),
                  bad_credentials, "store");
            }
            auto& st = self->state;
            auto id = st.next_id++;
            auto me = self->address();
            auto job = [store = source.get(), counters, me, id,
                        user = std::move(req.username),
                        password = std::move(req.password)]() mutable {
              auto r = store->authenticate(user, password);
              password.assign(password.size(), '\0');
              count(counters, &auth_counters::hashes);
              if (auto dst = caf::actor_cast<caf::actor>(me))
                caf::anon_send(
                    dst, auth_hashed_atom::value, id,
                    to_reply(std::move(r), bad_credentials, "store"));
            };
            if (!pool->submit(req.peer_address, std::move(job))) {
              count(counters, &auth_counters::refused_busy);
              auth_reply busy;
              busy.decision = security::auth_decision::deny;
              busy.reason = "server busy: too many logins wait for a hashing "
                            "thread";
              busy.reason_code = server_busy;
              busy.handler = "store";
              return busy;
            }
            auto rp = self->make_response_promise();
            st.hashing.emplace(id, rp);
            return caf::delegated<auth_reply>{};
          },
          [=](auth_hashed_atom, uint64_t id, auth_reply& reply) {
            auto& hashing = self->state.hashing;
            auto i = hashing.find(id);
            if (i == hashing.end())
              return;
            i->second.deliver(std::move(reply));
            hashing.erase(i);
          }));
}

caf::behavior certificate_authenticator(caf::event_based_actor* self,
                                        security::store_source source) {
  return census(
      self, metrics::actor_kind::authenticator,
      implement<authenticator_interface>([source](
                                             authenticate_atom,
                                             const authenticate_request& req) {
        auto store = source.get();
        if (req.tls_identity.empty())
          return to_reply(auth_result::abstain("no client certificate"),
                          not_authorized, "certificate");
        // The TLS handshake verified the certificate: its principal needs no
        // password. Without a store there are no roles to look up.
        if (!store)
          return to_reply(auth_result::allow(req.tls_identity, {}),
                          not_authorized, "certificate");
        if (auto roles = store->roles_of(req.tls_identity))
          return to_reply(auth_result::allow(req.tls_identity, *roles),
                          not_authorized, "certificate");
        return to_reply(
            auth_result::abstain("certificate principal not in the store"),
            not_authorized, "certificate");
      }));
}

caf::behavior jwt_authenticator(caf::event_based_actor* self,
                                security::jwt_source jwt, wall_clock_fn now) {
  return census(
      self, metrics::actor_kind::authenticator,
      implement<authenticator_interface>(
          [jwt, now](authenticate_atom, const authenticate_request& req) {
            if (!req.has_password)
              return to_reply(auth_result::abstain("no password"),
                              not_authorized, "jwt");
            auto verifier = jwt.get();
            if (!verifier)
              return to_reply(auth_result::abstain("no JWT keys"),
                              not_authorized, "jwt");
            return to_reply(verifier->authenticate(req.password, now()),
                            not_authorized, "jwt");
          }));
}

caf::behavior
anonymous_authenticator(caf::event_based_actor* self, anonymous_policy policy,
                        std::vector<std::string> roles,
                        security::store_source source) {
  return census(
      self, metrics::actor_kind::authenticator,
      implement<authenticator_interface>([=](authenticate_atom,
                                             const authenticate_request& req) {
        if (req.has_username && !req.username.empty())
          return to_reply(auth_result::abstain("has a user name"),
                          not_authorized, "anonymous");
        switch (policy) {
        case anonymous_policy::allow:
          return to_reply(auth_result::allow({}, roles), not_authorized,
                          "anonymous");
        case anonymous_policy::store:
          if (auto store = source.get())
            return to_reply(store->authenticate_anonymous(), not_authorized,
                            "anonymous");
          break;
        case anonymous_policy::deny:
          break;
        }
        return to_reply(auth_result::deny("anonymous clients are refused"),
                        not_authorized, "anonymous");
      }));
}

namespace {

using chain_ptr = caf::stateful_actor<auth_chain_state>*;
using security::login_throttle;

/// The throttle's user key of a request: its user name, unless it has none
/// or presents a bearer token (many devices may share one dummy name).
std::string user_key(const auth_chain_state& st,
                     const authenticate_request& req) {
  if (!req.has_username || req.username.empty())
    return {};
  if (st.jwt_enabled && security::jwt_verifier::looks_like_jwt(req.password))
    return {};
  return req.username;
}

/// Ends attempt `id` in the throttle and forgets it.
void settle(chain_ptr self, uint64_t id, login_throttle::outcome how) {
  auto& st = self->state;
  auto i = st.attempts.find(id);
  if (i == st.attempts.end())
    return;
  st.throttle->end(i->second.address, i->second.user, how, self->clock().now());
  st.attempts.erase(i);
  if (how == login_throttle::outcome::success)
    count(st.counters, &auth_counters::accepted);
  else if (how == login_throttle::outcome::failure)
    count(st.counters, &auth_counters::refused);
}

/// How a reply counts for the slow-down.
login_throttle::outcome outcome_of(const auth_reply& reply) {
  if (reply.decision == auth_decision::allow)
    return login_throttle::outcome::success;
  if (reply.reason_code == server_busy)
    return login_throttle::outcome::neutral; // nothing was checked
  return login_throttle::outcome::failure;
}

/// An outcome in the metrics, by the authenticator that decided.
void count_outcome(const std::string& handler, login_throttle::outcome how) {
  if (how == login_throttle::outcome::neutral)
    return;
  auto source = metrics::auth_source::none;
  if (handler == "store" || handler == "scram")
    source = metrics::auth_source::store;
  else if (handler == "certificate")
    source = metrics::auth_source::certificate;
  else if (handler == "jwt")
    source = metrics::auth_source::jwt;
  else if (handler == "anonymous")
    source = metrics::auth_source::anonymous;
  bool failed = how == login_throttle::outcome::failure;
  metrics::add(metrics::local().auth[failed][static_cast<size_t>(source)]);
}

void finish(chain_ptr self, uint64_t id, auth_reply reply,
            login_throttle::outcome how) {
  auto& st = self->state;
  auto i = st.attempts.find(id);
  if (i == st.attempts.end())
    return;
  count_outcome(reply.handler, how);
  auto rp = std::move(i->second.rp);
  settle(self, id, how);
  rp.deliver(std::move(reply));
}

void finish(chain_ptr self, uint64_t id, auth_reply reply) {
  auto how = outcome_of(reply);
  finish(self, id, std::move(reply), how);
}

void ask(chain_ptr self, uint64_t id, size_t index) {
  auto& st = self->state;
  auto i = st.attempts.find(id);
  if (i == st.attempts.end())
    return;
  auto req = i->second.req;
  auto& handlers = st.handlers;
  if (index >= handlers.size()) {
    auth_reply reply;
    reply.decision = auth_decision::deny;
    reply.reason = "no authentication handler accepted the client";
    reply.reason_code = req->has_username ? bad_credentials : not_authorized;
    reply.handler = "chain";
    finish(self, id, std::move(reply));
    return;
  }
  tracked(self->request(handlers[index], handler_timeout,
                        authenticate_atom::value, *req))
      .then(
          [=](auth_reply& reply) {
            if (reply.decision == auth_decision::abstain)
              ask(self, id, index + 1);
            else
              finish(self, id, std::move(reply));
          },
          [=](caf::error& err) {
            auth_reply reply;
            reply.decision = auth_decision::deny;
            reply.reason = "authentication handler failed: "
                           + self->system().render(err);
            reply.reason_code = server_unavailable;
            reply.handler = "chain";
            // Nothing was decided about the credentials.
            finish(self, id, std::move(reply),
                   login_throttle::outcome::neutral);
          });
}

/// A gate's attempt may go on: the exchange runs in the connection, which
/// records how it ended (or the timer does).
void open_gate(chain_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.attempts.find(id);
  if (i == st.attempts.end() || i->second.open)
    return;
  i->second.open = true;
  auto rp = std::move(i->second.rp);
  self->delayed_send(self, st.gate_timeout, auth_expire_atom::value, id);
  rp.deliver(mqtt::reason_code::success, id);
}

} // namespace

caf::behavior auth_chain(caf::stateful_actor<auth_chain_state>* self,
                         std::vector<authenticator_interface> handlers,
                         auth_chain_limits limits) {
  auto& st = self->state;
  st.handlers = std::move(handlers);
  st.throttle = std::make_unique<login_throttle>(limits.throttle);
  st.jwt_enabled = limits.jwt_enabled;
  st.gate_timeout = limits.gate_timeout;
  st.counters = limits.counters;
  for (auto& h : st.handlers)
    self->link_to(h);
  // Starts an attempt: refused at once, or registered (and waiting if the
  // slow-down says so). Returns its id, 0 if refused.
  auto begin
      = [=](std::string address, std::string user,
            std::shared_ptr<const authenticate_request> req,
            caf::response_promise rp, bool gate, bool& waits) -> uint64_t {
    auto& st = self->state;
    auto adm = st.throttle->begin(address, user, self->clock().now());
    waits = false;
    if (adm.kind == login_throttle::admission::refuse) {
      count(st.counters, &auth_counters::refused_rate);
      return 0;
    }
    auto id = st.next_id++;
    auth_chain_state::attempt a;
    a.address = std::move(address);
    a.user = std::move(user);
    a.req = std::move(req);
    a.rp = std::move(rp);
    a.gate = gate;
    st.attempts.emplace(id, std::move(a));
    if (adm.kind == login_throttle::admission::wait) {
      // Answered later; the client waits for its CONNACK meanwhile.
      count(st.counters, &auth_counters::delayed);
      waits = true;
      if (gate)
        self->delayed_send(self, adm.delay, auth_gate_atom::value, id);
      else
        self->delayed_send(self, adm.delay, auth_resume_atom::value, id);
    }
    return id;
  };
  return census(
      self, metrics::actor_kind::authenticator,
      implement<auth_chain_interface>(
          [=](authenticate_atom,
              authenticate_request& req) -> caf::result<auth_reply> {
            auto rp = self->make_response_promise();
            auto shared
                = std::make_shared<const authenticate_request>(std::move(req));
            auto user = user_key(self->state, *shared);
            bool waits = false;
            auto id = begin(shared->peer_address, std::move(user), shared, rp,
                            false, waits);
            if (id == 0) {
              auth_reply reply;
              reply.decision = auth_decision::deny;
              reply.reason = "too many failed logins from the address";
              reply.reason_code = connection_rate_exceeded;
              reply.handler = "chain";
              rp.deliver(std::move(reply));
              return rp;
            }
            if (!waits)
              ask(self, id, 0);
            return rp;
          },
          [=](auth_resume_atom, uint64_t id) { ask(self, id, 0); },
          [=](auth_gate_atom, std::string& address,
              std::string& user) -> caf::result<mqtt::reason_code, uint64_t> {
            auto rp = self->make_response_promise();
            bool waits = false;
            auto id = begin(std::move(address), std::move(user), nullptr, rp,
                            true, waits);
            if (id == 0)
              rp.deliver(connection_rate_exceeded, uint64_t{0});
            else if (!waits)
              open_gate(self, id);
            return rp;
          },
          [=](auth_gate_atom, uint64_t id) { open_gate(self, id); },
          [=](auth_record_atom, uint64_t id, bool failed) {
            auto i = self->state.attempts.find(id);
            if (i == self->state.attempts.end() || !i->second.gate)
              return;
            auto how = failed ? login_throttle::outcome::failure
                              : login_throttle::outcome::success;
            count_outcome("scram", how);
            settle(self, id, how);
          },
          [=](auth_expire_atom, uint64_t id) {
            auto i = self->state.attempts.find(id);
            if (i != self->state.attempts.end() && i->second.gate)
              settle(self, id, login_throttle::outcome::failure);
          }));
}

auth_chain_interface
spawn_authenticators(caf::actor_system& sys, const auth_settings& settings,
                     std::shared_ptr<broker_counters> counters) {
  std::vector<authenticator_interface> handlers;
  auto add = [&](caf::actor a) {
    handlers.push_back(caf::actor_cast<authenticator_interface>(std::move(a)));
  };
  // A verified client certificate decides first (mutual TLS listeners with
  // principal_from); clients without one go on to the other handlers.
  // The store in effect at each login (edits and reloads swap it).
  security::store_source current = settings.store;
  if (settings.store_state)
    current = settings.store_state;
  add(sys.spawn(certificate_authenticator, current));
  if (settings.store) {
    security::hash_pool::options po;
    po.threads = settings.hash_threads != 0
                     ? settings.hash_threads
                     : security::hash_pool::default_threads(
                         std::thread::hardware_concurrency());
    po.max_waiting = settings.hash_queue_limit;
    switch (settings.hash_threads_priority) {
    case hash_priority::idle:
      po.prio = security::hash_pool::priority::idle;
      break;
    case hash_priority::low:
      po.prio = security::hash_pool::priority::low;
      break;
    case hash_priority::normal:
      po.prio = security::hash_pool::priority::normal;
      break;
    }
    store_auth_options so;
    so.store = current;
    so.pool = std::make_shared<security::hash_pool>(po);
    so.defer_tokens = settings.jwt != nullptr;
    so.counters = counters;
    add(sys.spawn(store_authenticator, std::move(so)));
  }
  // The verifier in effect at each login (reloads swap it).
  security::jwt_source jwt = settings.jwt;
  if (settings.jwt_state)
    jwt = settings.jwt_state;
  if (settings.jwt)
    add(sys.spawn(jwt_authenticator, jwt, [] {
      return static_cast<int64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
    }));
  add(sys.spawn(anonymous_authenticator, settings.anonymous,
                settings.anonymous_roles, current));
  auth_chain_limits limits;
  limits.throttle = settings.throttle;
  limits.jwt_enabled = settings.jwt != nullptr;
  limits.counters = std::move(counters);
  return caf::actor_cast<auth_chain_interface>(
      sys.spawn(auth_chain, std::move(handlers), limits));
}

} // namespace castor
