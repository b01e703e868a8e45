// Requests of the platform API (`$castor/api/`, docs/platform.md) read by
// this connection: each runs in an API request actor (actors/api.hpp) and
// its answer is written to this connection's client alone, as a QoS 0
// PUBLISH to the request's response topic. Part of the connection actor
// (connection.cpp); declarations in connection_detail.hpp.

#include <algorithm>
#include <memory>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/api.hpp"
#include "actors/tracked.hpp"
#include "actors/connection_detail.hpp"
#include "actors/iface/timeouts.hpp"
#include "log/log.hpp"
#include "protocol/api_request.hpp"
#include "protocol/owner_access.hpp"

namespace castor::connection_detail {

namespace {

void write_answer(connection_broker* self, const mqtt::effect::api_request& r,
                  std::string answer) {
  auto& st = self->state;
  metrics::count_api(r.operation, answer);
  if (st.closed || st.closing)
    return; // the client has gone: nobody to answer
  if (!st.channel->write_api_answer(r, std::move(answer), st.writing.out)) {
    CASTOR_LOG(debug, context_of(self),
               "API answer to " << r.operation
                                << " exceeds the client's maximum packet size");
    st.channel->write_api_answer(
        r,
        api::error_answer({"ANSWER_TOO_LARGE",
                           "the answer exceeds the client's maximum packet "
                           "size; ask for less (limit)"}),
        st.writing.out);
  }
  flush_out(self, false);
}

} // namespace

void run_api_request(connection_broker* self, mqtt::effect::api_request&& r) {
  auto& st = self->state;
  if (r.response_topic.empty()) {
    broker_counters::add(st.ctx->counters->api_dropped);
    CASTOR_LOG(debug, context_of(self),
               "API request " << r.operation
                              << " without a response topic: dropped");
    return;
  }
  broker_counters::add(st.ctx->counters->api_requests);
  // The session that adds a topic is what its removal policy's `this
  // session closes` watches: the session actor, or this connection while
  // the session has none (it ends with the connection then).
  auto adder = st.attachment.session
                   ? caf::actor_cast<caf::actor>(st.attachment.session)
                   : caf::actor_cast<caf::actor>(self);
  api_context actx{st.ctx->tree, st.channel->access(),
                   st.channel->options().mapping, st.ctx->topic_idle_ms,
                   st.attachment.principal, st.ctx->locks,
                   st.channel->session().client_id,
                   caf::actor_cast<caf::actor>(self), std::move(adder),
                   r.response_topic, r.correlation_data};
  actx.handlers = st.ctx->handlers;
  actx.missing = st.ctx->missing;
  actx.sessions = st.ctx->sessions;
  actx.routes = st.ctx->routes;
  actx.request_timeout_ms = st.ctx->request_timeout_ms;
  actx.store_sync = st.ctx->store_sync;
  auto worker = spawn_api_request(self->system(), std::move(actx), r.operation);
  auto req = std::make_shared<mqtt::effect::api_request>(std::move(r));
  tracked(self->request(worker, api_timeout, api_atom::value, req->operation,
                        std::move(req->payload)))
      .then([=](std::string& answer) { write_answer(self, *req, answer); },
            [=](caf::error&) {
              write_answer(
                  self, *req,
                  api::error_answer(
                      {"UNAVAILABLE", "the request was not answered within "
                                          + std::to_string(api_timeout.count())
                                          + " s"}));
            });
}

caf::result<uint8_t> api_subscribe(connection_broker* self, std::string key,
                                   uint8_t qos) {
  auto& st = self->state;
  auto failed = static_cast<uint8_t>(mqtt::reason_code::unspecified_error);
  if (st.closed || st.closing)
    return failed;
  mqtt::subscription sub;
  sub.filter = std::move(key);
  sub.max_qos = std::min(qos, st.ctx->opts.maximum_qos);
  subscribe_request sr;
  sr.codes.push_back(static_cast<mqtt::reason_code>(sub.max_qos));
  sr.subs.push_back(std::move(sub));
  sr.access.principal = st.attachment.principal;
  sr.access.roles = st.attachment.roles;
  sr.access.ptr = st.attachment.access;
  auto rp = self->make_response_promise<uint8_t>();
  // Through the session, as SUBSCRIBE goes (made for it if the connection
  // kept the session itself so far). The session's answer is in the order
  // of the client's own subscription changes.
  with_session(self, [self, rp, failed, sr = std::move(sr)]() mutable {
    tracked(self->request(self->state.attachment.session, api_session_timeout,
                          subscribe_atom::value, std::move(sr)))
        .then(
            [=](subscribe_codes& codes) mutable {
              rp.deliver(codes.empty() ? failed
                                       : static_cast<uint8_t>(codes.front()));
            },
            [=](caf::error&) mutable { rp.deliver(failed); });
  });
  return rp;
}

caf::result<bool> api_unsubscribe(connection_broker* self, std::string key) {
  auto& st = self->state;
  if (st.closed || st.closing || !st.attachment.session)
    return false; // no session actor: nothing was subscribed
  auto rp = self->make_response_promise<bool>();
  subscribe_codes codes{mqtt::reason_code::success};
  tracked(self->request(
              st.attachment.session, api_session_timeout, unsub_atom::value,
              std::vector<std::string>{std::move(key)}, std::move(codes)))
      .then(
          [=](subscribe_codes& out) mutable {
            rp.deliver(!out.empty()
                       && out.front() == mqtt::reason_code::success);
          },
          [=](caf::error&) mutable { rp.deliver(false); });
  return rp;
}

void write_notification(connection_broker* self, std::string topic,
                        std::string correlation, bool has_correlation,
                        std::string event) {
  mqtt::effect::api_request r;
  r.response_topic = std::move(topic);
  if (has_correlation)
    r.correlation_data = std::move(correlation);
  write_answer(self, r, std::move(event));
}

/// sessions/close: DISCONNECT 0x98 (administrative action) to an MQTT 5
/// client, the will published, and the session ends with the connection.
void close_by_admin(connection_broker* self) {
  auto& st = self->state;
  if (st.closing || st.closed)
    return;
  CASTOR_LOG(info, context_of(self), "closed by an administrator");
  apply_output(self, st.channel->handle_kick(
                         mqtt::reason_code::administrative_action, true));
  st.close_info.publish_will = true;
  st.close_info.session_expiry = 0;
  st.closing = true;
  end_step(self);
}

/// sessions/change-roles: the session's roles gain `add` and lose
/// `remove`. Its rights follow at once wherever they are held (its
/// channel, session and subscriptions ask the one session_access).
caf::result<std::vector<std::string>>
change_roles(connection_broker* self, const std::vector<std::string>& add,
             const std::vector<std::string>& remove) {
  auto& st = self->state;
  auto roles = st.attachment.roles;
  for (auto& r : remove)
    roles.erase(std::remove(roles.begin(), roles.end(), r), roles.end());
  for (auto& r : add)
    if (std::find(roles.begin(), roles.end(), r) == roles.end())
      roles.push_back(r);
  if (roles.size() > 256)
    return caf::make_error(caf::sec::invalid_argument);
  auto& a = st.attachment;
  a.roles = roles;
  if (a.session_rights) {
    if (a.own_rights) {
      a.own_rights->update(a.own_rights->store(), roles);
    } else {
      a.own_rights = st.ctx->rights
                         ? st.ctx->rights->session_rights(roles)
                         : std::make_shared<security::topic_access>(
                             st.ctx->store.get(), roles);
      a.session_rights->replace(mqtt::with_ownership(
          a.own_rights, st.channel->options().mapping, a.principal));
    }
  }
  if (a.recorded && st.ctx->sessions)
    st.ctx->sessions->set_roles(st.channel->session().client_id,
                                caf::actor_cast<caf::actor>(self), roles);
  std::string text;
  for (auto& r : roles)
    text += (text.empty() ? "" : ",") + r;
  CASTOR_LOG(info, context_of(self), "roles changed by an administrator: ["
                                         << text << "]");
  return roles;
}

caf::message_handler api_handlers(connection_broker* self) {
  return {
      [=](subscribe_atom, std::string& key,
          uint8_t qos) -> caf::result<uint8_t> {
        return api_subscribe(self, std::move(key), qos);
      },
      [=](unsub_atom, std::string& key) -> caf::result<bool> {
        return api_unsubscribe(self, std::move(key));
      },
      [=](notify_atom, std::string& topic, std::string& correlation,
          bool has_correlation, std::string& event) {
        write_notification(self, std::move(topic), std::move(correlation),
                           has_correlation, std::move(event));
      },
      [=](msg_request_atom, handler_request& r) { on_handler_request(self, r); },
      [=](msg_answer_atom, handler_answer& a) { on_handler_answer(self, a); },
      [=](msg_timeout_atom, uint64_t id) { on_request_timeout(self, id); },
      // Requests to sessions (connection_streams.cpp).
      [=](msg_stream_atom, handler_request& r) { on_stream_request(self, r); },
      [=](stream_add_atom, std::string& path) -> uint8_t {
        return static_cast<uint8_t>(add_request_stream(self, path));
      },
      [=](stream_remove_atom, std::string& path) -> bool {
        return remove_request_stream(self, path);
      },
      [=](close_atom) { close_by_admin(self); },
      [=](roles_atom, std::vector<std::string>& add,
          std::vector<std::string>& remove)
          -> caf::result<std::vector<std::string>> {
        return change_roles(self, add, remove);
      },
  };
}

} // namespace castor::connection_detail
