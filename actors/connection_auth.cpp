// A connection's session: authentication (the authenticator chain,
// SCRAM-SHA-256 through AUTH), the access rights of the principal, the will
// check, opening it at the session registry, asking for a session actor
// when the session has none yet, and the detach at close. Part of the
// connection actor (actors/connection.cpp).

#include <algorithm>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/authenticator_types.hpp"
#include "actors/tracked.hpp"
#include "actors/connection_detail.hpp"
#include "log/log.hpp"
#include "protocol/owner_access.hpp"
#include "security/topic_access.hpp"

namespace castor::connection_detail {

void refuse_connect(connection_broker* self, mqtt::reason_code rc,
                    const std::string& why);

/// The session, as the API sees it, is connected through this connection
/// (actors/session_directory.hpp).
void record_session(connection_broker* self, bool resumed) {
  auto& st = self->state;
  auto& req = st.channel->session();
  session_directory::opening o;
  o.client_id = req.client_id;
  o.principal = st.attachment.principal;
  o.client_ip = st.net.peer;
  o.transport = st.ctx->transport
                    ? security::to_string(st.ctx->transport->kind)
                    : "tcp";
  o.listener = st.ctx->listener;
  o.roles = st.attachment.roles;
  o.user_properties = req.user_properties;
  o.resumed = resumed;
  o.session = caf::actor_cast<caf::actor>(st.attachment.session);
  st.ctx->sessions->opened(o, caf::actor_cast<caf::actor>(self));
  st.attachment.recorded = true;
}

/// In a node group, the client's will goes with its session's replica to
/// another member, which publishes it if this node dies while the client
/// is connected (actors/cluster_replicas.hpp). The claims actor monitors
/// the connection: the will part goes when the connection has ended
/// (having published the will, handed it to its session, or dropped it).
namespace {

void replicate_will(connection_broker* self) {
  auto& st = self->state;
  auto& req = st.channel->session();
  if (!st.ctx->claims || !req.will)
    return;
  session_replica r;
  r.client_id = req.client_id;
  r.principal = st.attachment.principal;
  r.will_part = true;
  r.has_will = true;
  r.will = *req.will;
  r.will_delay = std::min(req.will_delay, req.session_expiry);
  self->send(st.ctx->claims, replica_atom::value, std::move(r));
}

} // namespace

void on_session_opened(connection_broker* self, attach_result& r) {
  auto& st = self->state;
  if (r.refused != mqtt::reason_code::success) {
    refuse_connect(self, r.refused,
                   "client id " + st.channel->session().client_id
                       + " has a session of another principal");
    end_step(self);
    return;
  }
  st.attachment.session = caf::actor_cast<session_interface>(r.session);
  st.attachment.registry_holds = !r.session;
  std::set<uint16_t> ids(r.qos2_ids.begin(), r.qos2_ids.end());
  apply_output(self, st.channel->handle_session_opened(r.session_present, ids));
  if (!st.closing && st.ctx->sessions)
    record_session(self, r.session_present);
  if (!st.closing)
    replicate_will(self);
  if (!st.closing) {
    CASTOR_LOG(debug, context_of(self),
               "connected from "
                   << st.net.peer
                   << (r.session_present ? " (session resumed)" : ""));
    auto ka = st.channel->keep_alive();
    // The pending connect timeout tick finds the connection connected and
    // goes on with keep alive (or stops when there is none).
    if (ka > 0)
      ensure_tick(self, std::chrono::milliseconds(ka * 1500));
    // What the client sent while the session opened, then what was read
    // after it.
    auto deferred = st.channel->take_deferred();
    if (!deferred.empty()) {
      auto& kept = ordering_of(self).packets;
      kept.insert(kept.begin(), std::make_move_iterator(deferred.begin()),
                  std::make_move_iterator(deferred.end()));
    }
  }
  continue_input(self);
}

/// Reports how a SCRAM exchange that passed the chain's gate ended, for
/// the slow-down (once).
void record_scram(connection_broker* self, bool failed) {
  auto& st = self->state;
  if (st.attachment.auth_ticket == 0 || !st.ctx->auth)
    return;
  self->send(st.ctx->auth, auth_record_atom::value, st.attachment.auth_ticket,
             failed);
  st.attachment.auth_ticket = 0;
}

// -- session actor ------------------------------------------------------------

void send_detach(connection_broker* self) {
  auto& st = self->state;
  if (st.attachment.recorded) {
    st.attachment.recorded = false;
    st.ctx->sessions->disconnected(st.channel->session().client_id,
                                   caf::actor_cast<caf::actor>(self));
  }
  record_scram(self, true); // an exchange left unfinished counts as failed
  if (st.attachment.session && !st.attachment.detach_sent) {
    st.attachment.detach_sent = true;
    detach_info di;
    di.publish_will = st.close_info.publish_will;
    if (st.close_info.session_expiry) {
      di.has_expiry = true;
      di.expiry = *st.close_info.session_expiry;
    }
    auto& ids = st.channel->inbound_qos2();
    di.qos2_ids.assign(ids.begin(), ids.end());
    self->send(st.attachment.session, detach_atom::value, std::move(di));
  } else if (st.attachment.registry_holds && !st.attachment.detach_sent) {
    // Session expiry 0: the session ends now, and with it the will's delay.
    st.attachment.detach_sent = true;
    auto& req = st.channel->session();
    if (st.close_info.publish_will && req.will) {
      CASTOR_LOG(debug, context_of(self),
                 "publishing will on " << req.will->topic);
      self->send(st.ctx->tree, publish_atom::value,
                 make_will_message(*req.will, req.client_id));
    }
    self->send(st.ctx->registry, detach_atom::value, req.client_id);
  }
}

/// Runs `f` once the connection has a session actor, asking the registry
/// for one if it has none yet.
void with_session(connection_broker* self, std::function<void()> f) {
  auto& st = self->state;
  if (st.attachment.session) {
    f();
    return;
  }
  st.attachment.waiting.emplace_back(std::move(f));
  if (st.attachment.promoting || !st.attachment.registry_holds)
    return;
  st.attachment.promoting = true;
  attach_request ar;
  ar.req = st.channel->session();
  ar.connection = caf::actor_cast<caf::actor>(self);
  ar.principal = st.attachment.principal;
  ar.roles = st.attachment.roles;
  ar.access = st.attachment.access;
  tracked(self->request(st.ctx->registry, registry_request_timeout,
                        promote_atom::value, std::move(ar)))
      .then(
          [=](attach_result& r) {
            auto& st = self->state;
            st.attachment.promoting = false;
            st.attachment.registry_holds = false;
            st.attachment.session
                = caf::actor_cast<session_interface>(r.session);
            if (st.attachment.recorded && st.ctx->sessions)
              st.ctx->sessions->set_session(
                  st.channel->session().client_id,
                  caf::actor_cast<caf::actor>(self), r.session);
            CASTOR_LOG(debug, context_of(self), "session actor started");
            if (st.closed) {
              st.attachment.waiting.clear();
              maybe_quit(self);
              return;
            }
            if (st.writing.paused)
              self->send(st.attachment.session, flow_atom::value,
                         flow_mode::paused);
            auto fs = std::move(st.attachment.waiting);
            st.attachment.waiting.clear();
            for (auto& g : fs)
              g();
          },
          [=](caf::error& err) {
            auto& st = self->state;
            st.attachment.promoting = false;
            st.attachment.waiting.clear();
            if (st.closed) {
              maybe_quit(self);
              return;
            }
            // Otherwise taken over meanwhile: the kick is on its way (or
            // here).
            if (err == caf::sec::request_timeout && !st.closing)
              request_failed(self, "the session registry", err);
          });
}

// -- authentication
// -------------------------------------------------------------

void open_registry(connection_broker* self, mqtt::session_request&& req) {
  auto& st = self->state;
  attach_request ar;
  ar.req = std::move(req);
  ar.connection = caf::actor_cast<caf::actor>(self);
  ar.principal = st.attachment.principal;
  ar.roles = st.attachment.roles;
  ar.access = st.attachment.access;
  tracked(self->request(st.ctx->registry, registry_request_timeout,
                        open_atom::value, std::move(ar)))
      .then([=](attach_result& r) { on_session_opened(self, r); },
            [=](caf::error&) {
              apply_output(self, self->state.channel->handle_session_refused(
                                     mqtt::reason_code::server_unavailable));
              end_step(self);
            });
}

void refuse_connect(connection_broker* self, mqtt::reason_code rc,
                    const std::string& why) {
  auto& st = self->state;
  broker_counters::add(st.ctx->counters->auth_failures);
  CASTOR_LOG(info, context_of(self),
             "connection from " << st.net.peer << " refused ("
                                << mqtt::to_string(rc) << "): " << why);
  st.attachment.scram.reset();
  st.attachment.pending_open.reset();
  apply_output(self, st.channel->handle_session_refused(rc));
}

void auth_unavailable(connection_broker* self, const caf::error& err) {
  if (self->state.closing
      || self->state.channel->state() != mqtt::channel::phase::connecting)
    return;
  refuse_connect(self, mqtt::reason_code::server_unavailable,
                 "authentication failed: " + self->system().render(err));
  end_step(self);
}

/// The client is who it says: keep its principal and rights, check its
/// will, then open the session.
void authenticated(connection_broker* self, mqtt::effect::open_session&& open,
                   std::string principal, std::vector<std::string> roles) {
  auto& st = self->state;
  st.attachment.principal = std::move(principal);
  st.attachment.roles = std::move(roles);
  // The principal's one rights object, shared with its other connections,
  // its session and its subscriptions: a change of its roles reaches all.
  if (st.ctx->rights)
    st.attachment.access = st.ctx->rights->rights_of(st.attachment.principal,
                                                     st.attachment.roles);
  else if (auto store = st.ctx->store.get())
    st.attachment.access = std::make_shared<security::topic_access>(
        store, st.attachment.roles);
  else
    st.attachment.access = allow_everything(); // no security store configured
  // A topic whose specification names the principal as OWNER grants it
  // its rights on that topic (asked only where its roles refuse).
  if (st.ctx->rights || st.ctx->store.get()) {
    st.attachment.access = mqtt::with_ownership(
        st.attachment.access, st.channel->options().mapping,
        st.attachment.principal);
    // What sessions/change-roles changes for this session alone.
    st.attachment.session_rights
        = std::make_shared<mqtt::session_access>(st.attachment.access);
    st.attachment.access = st.attachment.session_rights;
  }
  st.channel->set_access(st.attachment.access);
  st.channel->set_principal(st.attachment.principal);
  // A will the client may not publish is refused at CONNECT (0x87), as
  // Mosquitto does.
  if (open.req.has_will && st.attachment.access
      && st.attachment.access->check_publish(open.req.will->topic)
             == mqtt::publish_check::deny) {
    refuse_connect(self, mqtt::reason_code::not_authorized,
                   "will topic " + open.req.will->topic + " not authorized");
    return;
  }
  CASTOR_LOG(debug, context_of(self),
             "authenticated as " << (st.attachment.principal.empty()
                                         ? std::string{"(anonymous)"}
                                         : st.attachment.principal));
  open_registry(self, std::move(open.req));
}

/// Sends the server-first message of a SCRAM exchange that passed the
/// chain's gate; the client has the connect timeout to answer.
void continue_scram(connection_broker* self, std::string server_first) {
  auto& st = self->state;
  apply_output(self, st.channel->handle_auth_continue(std::move(server_first)));
  schedule_tick(self, std::chrono::milliseconds(st.ctx->connect_timeout_ms));
}

/// MQTT 5 enhanced authentication with SCRAM-SHA-256 against the store.
/// The client-first message names the user; the chain's gate then holds
/// the exchange back as the slow-down of that user name and the address
/// says (or refuses it), and the server-first message goes out after it.
/// An unknown user gets stand-in parameters and fails at the proof.
void start_scram(connection_broker* self, mqtt::effect::open_session&& open) {
  auto& st = self->state;
  auto store = st.ctx->store.get();
  // Kept aside until the gate opens: an AUTH before the server-first
  // message is out of turn.
  auto scram = std::make_shared<std::unique_ptr<security::scram_server>>(
      std::make_unique<security::scram_server>(
          [store](std::string_view user)
              -> std::optional<security::scram_credentials> {
            return store->scram_credentials_for(user);
          }));
  auto step = (*scram)->step(open.creds.auth_data);
  open.creds.auth_data.clear();
  if (step.status != security::scram_step::continue_auth) {
    // Malformed or unsupported: no password was tried.
    refuse_connect(self, mqtt::reason_code::not_authorized,
                   "SCRAM-SHA-256: " + step.reason);
    return;
  }
  auto pending = std::make_shared<mqtt::effect::open_session>(std::move(open));
  auto server_first = std::make_shared<std::string>(std::move(step.message));
  st.attachment.auth_asked = clock_type::now();
  tracked(self->request(st.ctx->auth, auth_timeout, auth_gate_atom::value,
                        st.net.peer, (*scram)->user()))
      .then(
          [=](mqtt::reason_code code, uint64_t ticket) {
            auto& st = self->state;
            if (st.closing || st.closed) {
              if (ticket != 0)
                self->send(st.ctx->auth, auth_record_atom::value, ticket, true);
              return;
            }
            if (code != mqtt::reason_code::success) {
              refuse_connect(self, code,
                             "too many failed logins from " + st.net.peer);
            } else {
              st.attachment.auth_ticket = ticket;
              st.attachment.scram = std::move(*scram);
              st.attachment.pending_open
                  = std::make_unique<mqtt::effect::open_session>(
                      std::move(*pending));
              continue_scram(self, std::move(*server_first));
            }
            end_step(self);
          },
          [=](caf::error& err) { auth_unavailable(self, err); });
}

void start_session(connection_broker* self, mqtt::effect::open_session&& open) {
  auto& st = self->state;
  auto& creds = open.creds;
  if (!creds.auth_method.empty()) {
    // MQTT 5 enhanced authentication; SCRAM-SHA-256 against the store.
    if (creds.auth_method != "SCRAM-SHA-256" || !st.ctx->store.get()) {
      refuse_connect(self, mqtt::reason_code::bad_authentication_method,
                     "authentication method " + creds.auth_method
                         + " is not supported");
      return;
    }
    start_scram(self, std::move(open));
    return;
  }
  if (!st.ctx->auth_required) {
    // No store, no tokens, anonymous clients allowed: everyone is in, and
    // may do everything (the channel checks nothing: no policy there).
    st.attachment.access = allow_everything();
    open_registry(self, std::move(open.req));
    return;
  }
  authenticate_request ar;
  ar.client_id = open.req.client_id;
  ar.has_username = creds.has_username;
  ar.username = creds.username;
  ar.has_password = creds.has_password;
  ar.password = std::move(creds.password);
  ar.peer_address = st.net.peer;
  ar.tls_identity = st.net.tls_identity;
  auto pending = std::make_shared<mqtt::effect::open_session>(std::move(open));
  pending->creds.password.clear();
  st.attachment.auth_asked = clock_type::now();
  tracked(self->request(st.ctx->auth, auth_timeout, authenticate_atom::value,
                        std::move(ar)))
      .then(
          [=](auth_reply& reply) {
            if (self->state.closing)
              return;
            if (reply.decision == security::auth_decision::allow
                && reply.principal.empty()
                && self->state.ctx->require_principal) {
              refuse_connect(self, mqtt::reason_code::not_authorized,
                             "listener " + self->state.ctx->listener
                                 + " requires authentication");
            } else if (reply.decision == security::auth_decision::allow) {
              authenticated(self, std::move(*pending),
                            std::move(reply.principal), std::move(reply.roles));
            } else {
              auto rc = reply.reason_code != mqtt::reason_code::success
                            ? reply.reason_code
                            : mqtt::reason_code::not_authorized;
              refuse_connect(self, rc,
                             reply.reason + " (" + reply.handler + ")");
            }
            end_step(self);
          },
          [=](caf::error& err) { auth_unavailable(self, err); });
}

void continue_auth(connection_broker* self, const std::string& data) {
  auto& st = self->state;
  if (!st.attachment.scram || !st.attachment.pending_open) {
    refuse_connect(self, mqtt::reason_code::protocol_error, "AUTH out of turn");
    return;
  }
  auto step = st.attachment.scram->step(data);
  switch (step.status) {
  case security::scram_step::success: {
    record_scram(self, false);
    auto user = st.attachment.scram->user();
    auto roles
        = st.ctx->store.get()->roles_of(user).value_or(std::vector<std::string>{});
    auto open = std::move(st.attachment.pending_open);
    st.attachment.scram.reset();
    st.channel->set_auth_success(std::move(step.message));
    authenticated(self, std::move(*open), std::move(user), std::move(roles));
    return;
  }
  case security::scram_step::failure:
    record_scram(self, true);
    refuse_connect(self, mqtt::reason_code::not_authorized,
                   "SCRAM-SHA-256: " + step.reason);
    return;
  case security::scram_step::continue_auth:
    refuse_connect(self, mqtt::reason_code::protocol_error,
                   "SCRAM-SHA-256: unexpected step");
    return;
  }
}

// -- access control
// ------------------------------------------------------------

/// A publish the client may send only to an existing topic (UPDATE_TOPIC
/// without MODIFY_TOPIC): asks the tree, which does not create it. Later
/// publishes to the same topic wait behind the question, in order.

} // namespace castor::connection_detail
