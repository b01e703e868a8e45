// The admin REST API (docs/operations.md, "Admin REST API"): the
// router's part. It authenticates each request through the authenticator
// chain, as an MQTT CONNECT is (HTTP Basic: the store, its password hashed
// on the hashing threads; Bearer: a JWT; no credentials: the anonymous
// rules; the failed-login slow-down counts REST logins too), makes the
// caller's rights as a connection makes its own, and hands the request on:
// principals and roles to app/rest_security.cpp, everything else to a
// worker actor of its own (app/rest_endpoints.cpp). The router only sends
// and forwards answers; nothing here waits.

#include <caf/all.hpp>

#include "actors/authenticator_types.hpp"
#include "actors/tracked.hpp"
#include "actors/iface/timeouts.hpp"
#include "app/rest_detail.hpp"
#include "log/log.hpp"
#include "protocol/owner_access.hpp"
#include "security/crypto.hpp"
#include "security/rights_registry.hpp"
#include "security/topic_access.hpp"

namespace castor {

namespace {

constexpr std::string_view api_prefix = "/api/v1/";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// 401 with the Basic challenge, unless a script asks (X-Requested-With,
/// as the console does): a browser would show its own login dialog.
http::response unauthorized(const http::request& req,
                            std::string_view message) {
  auto r = http::error_response(401, "NOT_AUTHORIZED", message);
  if (!req.header("x-requested-with"))
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"castor\"");
  return r;
}

/// The listener `name` requires a principal (require_auth).
bool requires_principal(const http_context& ctx, const std::string& name) {
  for (auto& l : ctx.cfg.listeners)
    if (l.name == name)
      return l.require_auth;
  return false;
}

/// Principals and roles: app/rest_security.cpp, on the router.
bool security_path(const std::string& rest) {
  for (std::string_view area : {"principals", "roles"})
    if (rest == area
        || (starts_with(rest, area) && rest.size() > area.size()
            && rest[area.size()] == '/'))
      return true;
  return false;
}

/// The caller is who the chain says: its rights, as a connection's
/// (actors/connection_auth.cpp).
rest::job make_job(http_router_actor* self, const http::request& req,
                   std::string rest, std::string principal,
                   std::vector<std::string> roles) {
  auto& ctx = *self->state.ctx;
  rest::job j;
  j.req = req;
  j.rest = std::move(rest);
  j.method = req.method == "HEAD" ? std::string{"GET"} : req.method;
  j.caller.principal = std::move(principal);
  j.caller.roles = std::move(roles);
  // With a store there is a rights registry, which follows the store in
  // effect (edits and reloads swap it); without one, every right.
  std::shared_ptr<security::topic_access> rights;
  if (ctx.rights)
    rights = ctx.rights->rights_of(j.caller.principal, j.caller.roles);
  if (rights) {
    // A topic whose specification names the principal as OWNER.
    j.caller.access
        = mqtt::with_ownership(rights, ctx.mapping, j.caller.principal);
    j.rights = rights;
  }
  j.ctx = self->state.ctx;
  j.listeners = self->state.listeners;
  j.ports = self->state.ports;
  return j;
}

/// Runs the authenticated request.
void dispatch(http_router_actor* self, rest::job j,
              caf::typed_response_promise<http::response> rp) {
  if (security_path(j.rest)) {
    rest_security(self, j.req, j.rest, j.caller, rp);
    return;
  }
  auto worker = rest::spawn_worker(
      self->system(), std::make_shared<const rest::job>(std::move(j)));
  tracked(self->request(worker, http_answer_timeout, http_atom::value))
      .then([rp](http::response& r) mutable { rp.deliver(std::move(r)); },
            [rp](caf::error&) mutable {
              rp.deliver(rest::error("TIMEOUT",
                                     "the request was not answered in time"));
            });
}

} // namespace

void http_rest(http_router_actor* self, http::request& req,
               caf::typed_response_promise<http::response> rp) {
  if (!starts_with(req.path, api_prefix)) {
    rp.deliver(http::error_response(404, "NOT_FOUND",
                                    "no API endpoint at "
                                        + req.path.substr(0, 200)
                                        + " (the API is under /api/v1/)"));
    return;
  }
  auto rest = req.path.substr(api_prefix.size());
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  auto& ctx = *self->state.ctx;
  if (!ctx.auth_chain) {
    // No store, no tokens, anonymous clients allowed: every caller may do
    // everything, as every MQTT client may.
    dispatch(self, make_job(self, req, std::move(rest), {}, {}), rp);
    return;
  }
  authenticate_request ar;
  ar.client_id = "";
  ar.peer_address = req.peer;
  bool bearer = false;
  if (auto auth = req.header("authorization")) {
    std::string_view v = *auth;
    auto sp = v.find(' ');
    auto scheme = std::string{v.substr(0, sp)};
    for (auto& c : scheme)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value
        = sp == std::string_view::npos ? std::string_view{} : v.substr(sp + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    if (scheme == "basic") {
      auto decoded = security::base64_decode(value);
      auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (!decoded || colon == std::string::npos || colon == 0) {
        rp.deliver(unauthorized(req, "malformed Basic credentials (expected "
                                     "base64 of name:password)"));
        return;
      }
      ar.has_username = true;
      ar.username = decoded->substr(0, colon);
      ar.has_password = true;
      ar.password = decoded->substr(colon + 1);
    } else if (scheme == "bearer") {
      if (!ctx.auth.jwt) {
        rp.deliver(unauthorized(req,
                                "bearer tokens are not accepted: security.jwt "
                                "is not configured"));
        return;
      }
      bearer = true;
      ar.has_password = true;
      ar.password = std::string{value};
    } else {
      rp.deliver(unauthorized(req,
                              "unsupported authorization scheme (use Basic "
                              "or Bearer)"));
      return;
    }
  }
  bool anonymous = !ar.has_password;
  auto listener = req.listener;
  auto shared_req = std::make_shared<http::request>(std::move(req));
  tracked(self->request(ctx.auth_chain, auth_timeout, authenticate_atom::value,
                        std::move(ar)))
      .then(
          [=](auth_reply& r) mutable {
            auto& ctx = *self->state.ctx;
            if (r.decision != security::auth_decision::allow) {
              if (r.reason_code == mqtt::reason_code::server_busy
                  || r.reason_code == mqtt::reason_code::server_unavailable) {
                rp.deliver(rest::error("UNAVAILABLE", "authentication is not "
                                                      "available now: "
                                                          + r.reason));
                return;
              }
              if (r.reason_code
                  == mqtt::reason_code::connection_rate_exceeded) {
                rp.deliver(http::error_response(
                    429, "TOO_MANY_LOGINS",
                    "too many failed logins from this address"));
                return;
              }
              CASTOR_LOG(info, "REST " + shared_req->peer,
                         "login refused: " << r.reason << " (" << r.handler
                                           << ")");
              rp.deliver(unauthorized(
                  *shared_req, anonymous ? "this server requires authentication"
                                         : "the credentials were refused"));
              return;
            }
            if (bearer && r.handler != "jwt") {
              rp.deliver(
                  unauthorized(*shared_req, "the bearer token was refused"));
              return;
            }
            if (r.principal.empty() && requires_principal(ctx, listener)) {
              rp.deliver(
                  unauthorized(*shared_req, "listener " + listener
                                                + " requires authentication"));
              return;
            }
            dispatch(self,
                     make_job(self, *shared_req, std::move(rest),
                              std::move(r.principal), std::move(r.roles)),
                     rp);
          },
          [=](caf::error& err) mutable {
            rp.deliver(
                rest::error("UNAVAILABLE", "authentication did not answer: "
                                               + self->system().render(err)));
          });
}

} // namespace castor
