#include "actors/authenticator.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>

namespace castor {

namespace {

using security::auth_decision;
using security::auth_result;

constexpr uint8_t bad_credentials = 0x86; // bad user name or password
constexpr uint8_t not_authorized = 0x87;

auth_reply to_reply(auth_result r, uint8_t deny_code, const char* handler) {
  auth_reply result;
  result.decision = r.decision;
  result.principal = std::move(r.principal);
  result.roles = std::move(r.roles);
  result.reason = std::move(r.reason);
  result.reason_code = r.decision == auth_decision::deny ? deny_code : 0;
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
    result.store = std::make_shared<const security::security_store>(
        std::get<security::security_store>(std::move(loaded)));
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
  }
  result.anonymous = cfg.anonymous;
  result.anonymous_roles = cfg.anonymous_roles;
  result.failed_login_threshold = cfg.failed_login_threshold;
  result.failed_login_delay
      = std::chrono::milliseconds{cfg.failed_login_delay_ms};
  result.failed_login_max_delay
      = std::chrono::milliseconds{cfg.failed_login_max_delay_ms};
  return result;
}

caf::behavior
store_authenticator(caf::event_based_actor* self,
                    std::shared_ptr<const security::security_store> store) {
  return {
      [store](authenticate_atom, const authenticate_request& req) {
        if (!req.has_username || req.username.empty())
          return to_reply(auth_result::abstain("no user name"), bad_credentials,
                          "store");
        return to_reply(store->authenticate(req.username, req.password),
                        bad_credentials, "store");
      },
  };
}

caf::behavior
certificate_authenticator(caf::event_based_actor* self,
                          std::shared_ptr<const security::security_store> store) {
  return {
      [store](authenticate_atom, const authenticate_request& req) {
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
      },
  };
}

caf::behavior
jwt_authenticator(caf::event_based_actor* self,
                  std::shared_ptr<const security::jwt_verifier> jwt,
                  wall_clock_fn now) {
  return {
      [jwt, now](authenticate_atom, const authenticate_request& req) {
        if (!req.has_password)
          return to_reply(auth_result::abstain("no password"), not_authorized,
                          "jwt");
        return to_reply(jwt->authenticate(req.password, now()), not_authorized,
                        "jwt");
      },
  };
}

caf::behavior
anonymous_authenticator(caf::event_based_actor* self, anonymous_policy policy,
                        std::vector<std::string> roles,
                        std::shared_ptr<const security::security_store> store) {
  return {
      [=](authenticate_atom, const authenticate_request& req) {
        if (req.has_username && !req.username.empty())
          return to_reply(auth_result::abstain("has a user name"),
                          not_authorized, "anonymous");
        switch (policy) {
        case anonymous_policy::allow:
          return to_reply(auth_result::allow({}, roles), not_authorized,
                          "anonymous");
        case anonymous_policy::store:
          if (store)
            return to_reply(store->authenticate_anonymous(), not_authorized,
                            "anonymous");
          break;
        case anonymous_policy::deny:
          break;
        }
        return to_reply(auth_result::deny("anonymous clients are refused"),
                        not_authorized, "anonymous");
      },
  };
}

caf::actor_clock::duration_type
auth_chain_state::delay_for(const std::string& address,
                            caf::actor_clock::time_point now) {
  auto i = failures.find(address);
  if (i == failures.end())
    return caf::actor_clock::duration_type::zero();
  if (now - i->second.last >= forget_after) {
    failures.erase(i);
    return caf::actor_clock::duration_type::zero();
  }
  if (i->second.failures < threshold)
    return caf::actor_clock::duration_type::zero();
  auto result = delay;
  for (auto n = threshold; n < i->second.failures && result < max_delay; ++n)
    result *= 2;
  return std::min(result, max_delay);
}

void auth_chain_state::record(const std::string& address, bool failed,
                              caf::actor_clock::time_point now) {
  if (!failed) {
    failures.erase(address);
    return;
  }
  auto i = failures.find(address);
  if (i == failures.end()) {
    if (failures.size() >= max_tracked && !failures.empty()) {
      auto oldest = std::min_element(failures.begin(), failures.end(),
                                     [](const auto& a, const auto& b) {
                                       return a.second.last < b.second.last;
                                     });
      failures.erase(oldest);
    }
    i = failures.emplace(address, failed_login{}).first;
  }
  ++i->second.failures;
  i->second.last = now;
}

namespace {

using chain_ptr = caf::stateful_actor<auth_chain_state>*;

void finish(chain_ptr self, const authenticate_request& req,
            caf::response_promise rp, auth_reply reply) {
  self->state.record(req.peer_address, reply.decision != auth_decision::allow,
                     self->clock().now());
  rp.deliver(std::move(reply));
}

void ask(chain_ptr self, size_t index,
         std::shared_ptr<const authenticate_request> req,
         caf::response_promise rp) {
  auto& handlers = self->state.handlers;
  if (index >= handlers.size()) {
    auth_reply reply;
    reply.decision = auth_decision::deny;
    reply.reason = "no authentication handler accepted the client";
    reply.reason_code = req->has_username ? bad_credentials : not_authorized;
    reply.handler = "chain";
    finish(self, *req, std::move(rp), std::move(reply));
    return;
  }
  self->request(handlers[index], std::chrono::seconds{10},
                authenticate_atom::value, *req)
      .then(
          [=](auth_reply& reply) mutable {
            if (reply.decision == auth_decision::abstain)
              ask(self, index + 1, req, std::move(rp));
            else
              finish(self, *req, std::move(rp), std::move(reply));
          },
          [=](caf::error& err) mutable {
            auth_reply reply;
            reply.decision = auth_decision::deny;
            reply.reason = "authentication handler failed: "
                           + self->system().render(err);
            reply.reason_code = not_authorized;
            reply.handler = "chain";
            finish(self, *req, std::move(rp), std::move(reply));
          });
}

} // namespace

caf::behavior auth_chain(caf::stateful_actor<auth_chain_state>* self,
                         std::vector<caf::actor> handlers,
                         auth_chain_limits limits) {
  auto& st = self->state;
  st.handlers = std::move(handlers);
  st.threshold = limits.threshold;
  st.delay = limits.delay;
  st.max_delay = limits.max_delay;
  st.forget_after = limits.forget_after;
  st.max_tracked = limits.max_tracked;
  for (auto& h : st.handlers)
    self->link_to(h);
  return {
      [=](authenticate_atom, authenticate_request& req) {
        auto rp = self->make_response_promise();
        auto shared
            = std::make_shared<const authenticate_request>(std::move(req));
        auto wait
            = self->state.delay_for(shared->peer_address, self->clock().now());
        if (wait > caf::actor_clock::duration_type::zero()) {
          // Answered later; the client waits for its CONNACK meanwhile.
          auto id = self->state.next_pending++;
          self->state.pending.emplace(id, std::make_pair(shared, rp));
          self->delayed_send(self, wait, auth_resume_atom::value, id);
          return rp;
        }
        ask(self, 0, std::move(shared), rp);
        return rp;
      },
      [=](auth_gate_atom, const std::string& address) {
        auto rp = self->make_response_promise();
        auto wait = self->state.delay_for(address, self->clock().now());
        if (wait <= caf::actor_clock::duration_type::zero()) {
          rp.deliver(true);
          return rp;
        }
        auto id = self->state.next_pending++;
        self->state.gates.emplace(id, rp);
        self->delayed_send(self, wait, auth_gate_atom::value, id);
        return rp;
      },
      [=](auth_gate_atom, uint64_t id) {
        auto i = self->state.gates.find(id);
        if (i == self->state.gates.end())
          return;
        auto rp = std::move(i->second);
        self->state.gates.erase(i);
        rp.deliver(true);
      },
      [=](auth_record_atom, const std::string& address, bool failed) {
        self->state.record(address, failed, self->clock().now());
      },
      [=](auth_resume_atom, uint64_t id) {
        auto i = self->state.pending.find(id);
        if (i == self->state.pending.end())
          return;
        auto [req, rp] = std::move(i->second);
        self->state.pending.erase(i);
        ask(self, 0, std::move(req), std::move(rp));
      },
  };
}

caf::actor spawn_authenticators(caf::actor_system& sys,
                                const auth_settings& settings) {
  std::vector<caf::actor> handlers;
  // A verified client certificate decides first (mutual TLS listeners with
  // principal_from); clients without one go on to the other handlers.
  handlers.push_back(sys.spawn(certificate_authenticator, settings.store));
  if (settings.store)
    handlers.push_back(sys.spawn(store_authenticator, settings.store));
  if (settings.jwt)
    handlers.push_back(sys.spawn(jwt_authenticator, settings.jwt, [] {
      return static_cast<int64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
    }));
  handlers.push_back(sys.spawn(anonymous_authenticator, settings.anonymous,
                               settings.anonymous_roles, settings.store));
  auth_chain_limits limits;
  limits.threshold = settings.failed_login_threshold;
  limits.delay = settings.failed_login_delay;
  limits.max_delay = settings.failed_login_max_delay;
  limits.forget_after = settings.forget_after;
  limits.max_tracked = settings.max_tracked_addresses;
  return sys.spawn(auth_chain, std::move(handlers), limits);
}

} // namespace castor
