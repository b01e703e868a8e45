// The admin REST API's endpoints other than principals and roles
// (docs/operations.md, "Admin REST API"), each request in a worker actor
// of its own: sessions and topics run the `$castor/api/` operations through
// an API request actor (actors/api.hpp) with the caller's rights, so that
// permissions and answers are those of the MQTT API; publish goes through
// the tree to the topic as a connection's publish does; listeners asks each
// listener how many connections it holds; config answers the configuration
// in effect.

#include <chrono>
#include <memory>

#include <caf/all.hpp>

#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "metrics/metrics.hpp"
#include "actors/api.hpp"
#include "actors/iface/timeouts.hpp"
#include "app/rest_detail.hpp"
#include "protocol/codec.hpp"
#include "protocol/topic.hpp"
#include "security/crypto.hpp"
#include "security/topic_access.hpp"

namespace castor::rest {

namespace {

/// How long a worker waits for the actors it asks (the connection gives up
/// after http_answer_timeout).
constexpr std::chrono::seconds worker_wait{25};

using promise = caf::typed_response_promise<http::response>;

struct worker_state {
  job_ptr j;
  promise rp;
  bool answered = false;
  static inline const char* name = "rest-request";
};

using worker_actor = caf::stateful_actor<worker_state>;

void answer(worker_actor* self, http::response r) {
  auto& st = self->state;
  if (!st.answered) {
    st.answered = true;
    st.rp.deliver(std::move(r));
  }
  self->quit();
}

http::response method_not_allowed(const job& j, const char* allow) {
  auto r = http::error_response(405, "METHOD_NOT_ALLOWED",
                                j.method + " is not allowed on /api/v1/"
                                    + j.rest.substr(0, 200) + " (use " + allow
                                    + ")");
  r.headers.emplace_back("Allow", allow);
  return r;
}

/// The caller holds the global permission `p` (no store: every one).
bool may(const job& j, security::permission p) {
  if (!j.rights)
    return true;
  auto store = j.rights->store();
  return !store || store->can(j.rights->roles(), p);
}

api_context context_of(const job& j) {
  auto& ctx = *j.ctx;
  api_context a{ctx.tree,           j.caller.access,
                ctx.mapping,        ctx.cfg.mqtt.topic_idle_timeout_ms,
                j.caller.principal, ctx.locks,
                std::string{},      caf::actor{},
                caf::actor{}};
  a.handlers = ctx.handlers;
  a.missing = ctx.missing;
  a.sessions = ctx.sessions;
  if (ctx.cluster)
    a.routes = ctx.cluster->routes;
  a.request_timeout_ms = ctx.cfg.messaging.request_timeout_ms;
  a.store_sync = ctx.store_sync;
  return a;
}

/// Runs the API operation `op` with `payload`; `then` makes the response
/// from the answer (JSON text).
template <class F>
void run_api(worker_actor* self, const std::string& op,
             const nlohmann::json& payload, F then) {
  auto& j = *self->state.j;
  auto api = spawn_api_request(self->system(), context_of(j), op);
  tracked(self->request(api, worker_wait, api_atom::value, op, payload.dump()))
      .then(
          [=](std::string& text) mutable {
            metrics::count_api(op, text);
            answer(self, then(text));
          },
          [=](caf::error&) {
            metrics::count_api(op, "{\"error\":{\"code\":\"TIMEOUT\"}}");
            answer(self, error("TIMEOUT", "the operation " + op
                                              + " was not answered in time"));
          });
}

void run_api(worker_actor* self, const std::string& op,
             const nlohmann::json& payload, int ok_status = 200) {
  run_api(self, op, payload, [ok_status](const std::string& text) {
    return from_answer(text, ok_status);
  });
}

/// An unsigned query parameter into `out[key]`; false (and answered) if
/// it is not a number.
bool number_param(worker_actor* self, const char* name, nlohmann::json& out) {
  auto& req = self->state.j->req;
  if (!req.has_query_param(name))
    return true;
  auto text = req.query_param(name);
  uint64_t n = 0;
  bool ok = !text.empty() && text.size() <= 18;
  for (auto c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok)
      n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok) {
    answer(self, error("INVALID_REQUEST", std::string{"query parameter "} + name
                                              + " must be a number"));
    return false;
  }
  out[name] = n;
  return true;
}

/// The request body as a JSON object; nothing (and answered) otherwise.
/// It must say it is JSON: an HTML form on another site cannot send that
/// content type, so a browser that remembers Basic credentials for this
/// server cannot be made to change it from elsewhere.
std::optional<nlohmann::json> body_object(worker_actor* self) {
  auto type = self->state.j->req.header("content-type");
  if (!type || type->compare(0, 16, "application/json") != 0) {
    answer(self, http::error_response(415, "UNSUPPORTED_MEDIA_TYPE",
                                      "the body must be JSON, sent with "
                                      "Content-Type: application/json"));
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(self->state.j->req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    answer(self, error("INVALID_REQUEST", "the body must be a JSON object"));
    return std::nullopt;
  }
  return j;
}

/// Quoted for a session filter.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (auto c : s) {
    if (c == '\'' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "'";
}

// -- sessions
// ------------------------------------------------------------------

void sessions(worker_actor* self, const std::string& id) {
  auto& j = *self->state.j;
  if (id.empty()) {
    if (j.method != "GET")
      return answer(self, method_not_allowed(j, "GET"));
    nlohmann::json p = nlohmann::json::object();
    if (j.req.has_query_param("filter"))
      p["filter"] = j.req.query_param("filter");
    if (j.req.has_query_param("after"))
      p["after"] = j.req.query_param("after");
    if (!number_param(self, "limit", p))
      return;
    return run_api(self, "sessions/list", p);
  }
  // A session by its client identifier (or the API's session id).
  auto filter
      = "$ClientId is " + quoted(id) + " or $SessionId is " + quoted(id);
  if (j.method == "GET") {
    // Found by client id (or session id) in the list, then read with
    // sessions/get, which adds its subscriptions.
    auto& jj = *self->state.j;
    auto api
        = spawn_api_request(self->system(), context_of(jj), "sessions/list");
    nlohmann::json p{{"filter", filter}, {"limit", 2}};
    self->request(api, worker_wait, api_atom::value,
                  std::string{"sessions/list"}, p.dump())
        .then(
            [=](std::string& text) {
              auto a = nlohmann::json::parse(text, nullptr, false);
              if (!a.is_object() || !a.value("ok", false))
                return answer(self, from_answer(text));
              nlohmann::json found;
              for (auto& s : a["sessions"]) {
                if (found.is_null()
                    || s["properties"].value("$ClientId", "") == id)
                  found = s;
              }
              if (found.is_null())
                return answer(self,
                              error("NO_SUCH_SESSION",
                                    "no session of client id '" + id + "'"));
              run_api(self, "sessions/get",
                      {{"session", found.value("id", std::string{})}});
            },
            [=](caf::error&) {
              answer(self, error("TIMEOUT", "the operation sessions/list was "
                                            "not answered in time"));
            });
    return;
  }
  if (j.method == "DELETE") {
    return run_api(self, "sessions/close", {{"filter", filter}},
                   [id](const std::string& text) {
                     auto a = nlohmann::json::parse(text, nullptr, false);
                     if (a.is_object() && a.value("ok", false)
                         && a.value("closed", 0) + a.value("offline", 0) == 0)
                       return error("NO_SUCH_SESSION",
                                    "no session of client id '" + id + "'");
                     return from_answer(text);
                   });
  }
  answer(self, method_not_allowed(j, "GET, DELETE"));
}

// -- topics
// --------------------------------------------------------------------

void topics(worker_actor* self, const std::string& path) {
  auto& j = *self->state.j;
  if (path.empty()) {
    if (j.method == "GET") {
      nlohmann::json p{{"selector", j.req.has_query_param("selector")
                                        ? j.req.query_param("selector")
                                        : std::string{"#"}}};
      if (j.req.has_query_param("values")) {
        auto v = j.req.query_param("values");
        if (v != "true" && v != "false")
          return answer(self, error("INVALID_REQUEST",
                                    "query parameter values must be true or "
                                    "false"));
        p["values"] = v == "true";
      }
      if (!number_param(self, "limit", p))
        return;
      return run_api(self, "topics/fetch", p);
    }
    if (j.method == "POST") {
      auto body = body_object(self);
      if (!body)
        return;
      return run_api(self, "topics/add", *body, [](const std::string& text) {
        auto a = nlohmann::json::parse(text, nullptr, false);
        bool existed = a.is_object() && a.value("exists", false);
        return from_answer(text, existed ? 200 : 201);
      });
    }
    if (j.method == "DELETE") {
      if (!j.req.has_query_param("selector"))
        return answer(self, error("INVALID_REQUEST",
                                  "DELETE /api/v1/topics needs a selector "
                                  "(?selector=...) or a path "
                                  "(/api/v1/topics/{path})"));
      return run_api(self, "topics/remove",
                     {{"selector", j.req.query_param("selector")}});
    }
    return answer(self, method_not_allowed(j, "GET, POST, DELETE"));
  }
  if (!mqtt::valid_topic_name(path)
      || path.find_first_of("+#") != std::string::npos)
    return answer(
        self, error("INVALID_REQUEST",
                    "'" + path.substr(0, 200) + "' is not a valid topic path"));
  if (j.method == "GET")
    return run_api(self, "topics/fetch", {{"selector", path}});
  if (j.method == "PUT") {
    auto body = body_object(self);
    if (!body)
      return;
    auto given = body->find("path");
    if (given != body->end() && *given != path)
      return answer(
          self, error("INVALID_REQUEST", "the body's path is not the URL's"));
    (*body)["path"] = path;
    return run_api(self, "topics/update", *body);
  }
  if (j.method == "DELETE")
    return run_api(self, "topics/remove", {{"selector", path}});
  answer(self, method_not_allowed(j, "GET, PUT, DELETE"));
}

// -- publish
// -------------------------------------------------------------------

/// The publish a body describes, or the error answered.
std::optional<mqtt::publish> publish_of(worker_actor* self,
                                        const nlohmann::json& b) {
  auto bad = [self](const std::string& why) {
    answer(self, error("INVALID_REQUEST", why));
    return std::nullopt;
  };
  auto& cfg = self->state.j->ctx->cfg.mqtt;
  mqtt::publish p;
  std::string encoding = "utf8";
  for (auto& [k, v] : b.items()) {
    if (k == "topic" && v.is_string())
      p.topic = v.get<std::string>();
    else if (k == "payload" && v.is_string())
      p.payload = v.get<std::string>();
    else if (k == "encoding" && v.is_string())
      encoding = v.get<std::string>();
    else if (k == "qos" && v.is_number_unsigned() && v.get<uint64_t>() <= 2)
      p.qos = static_cast<uint8_t>(v.get<uint64_t>());
    else if (k == "retain" && v.is_boolean())
      p.retain = v.get<bool>();
    else if (k == "content_type" && v.is_string())
      p.props.content_type = v.get<std::string>();
    else if (k == "user_properties" && v.is_object()) {
      for (auto& [uk, uv] : v.items()) {
        if (!uv.is_string())
          return bad("user_properties: each value must be a string");
        p.props.user_properties.emplace_back(uk, uv.get<std::string>());
      }
    } else
      return bad("field '" + k + "' is unknown or has the wrong type");
  }
  if (!b.contains("topic"))
    return bad("field 'topic' is missing");
  if (encoding == "base64") {
    auto bytes = security::base64_decode(p.payload);
    if (!bytes)
      return bad("payload is not valid base64");
    p.payload = std::move(*bytes);
  } else if (encoding != "utf8") {
    return bad("encoding must be utf8 or base64");
  }
  if (!mqtt::valid_topic_name(p.topic))
    return bad("'" + p.topic.substr(0, 200) + "' is not a valid topic name");
  if (p.qos > cfg.maximum_qos)
    return bad("qos " + std::to_string(p.qos) + " exceeds mqtt.maximum_qos");
  if (p.retain && !cfg.retain_available)
    return bad("retained messages are off (mqtt.retain_available)");
  if (p.topic.size() + p.payload.size() > cfg.max_packet_size)
    return bad("the message exceeds mqtt.max_packet_size");
  return p;
}

void deliver_publish(worker_actor* self, mqtt::message_ptr msg, bool create,
                     int tries) {
  auto tree = self->state.j->ctx->tree;
  auto topic = msg->topic;
  tracked(self->request(tree, worker_wait, lookup_atom::value, topic, create))
      .then(
          [=](topic_interface& t) {
            if (!t)
              return answer(
                  self, error("PERMISSION_DENIED",
                              "creating '" + topic + "' needs MODIFY_TOPIC"));
            tracked(self->request(t, worker_wait, publish_atom::value,
                                  publish_batch{{msg}}))
                .then(
                    [=](bool) {
                      answer(self, json_response(200, {{"ok", true}}));
                    },
                    [=](caf::error&) {
                      // Retired meanwhile: the tree has a new one.
                      if (tries > 0)
                        return deliver_publish(self, msg, create, tries - 1);
                      answer(self,
                             error("UNAVAILABLE", "the topic did not take the "
                                                  "message in time"));
                    });
          },
          [=](caf::error&) {
            answer(self, error("UNAVAILABLE",
                               "the topic tree did not answer in time"));
          });
}

void publish(worker_actor* self) {
  auto& j = *self->state.j;
  if (j.method != "POST")
    return answer(self, method_not_allowed(j, "POST"));
  auto body = body_object(self);
  if (!body)
    return;
  auto parsed = publish_of(self, *body);
  if (!parsed)
    return;
  auto& p = *parsed;
  if (mqtt::reserved_topic(p.topic))
    return answer(self, error("PERMISSION_DENIED",
                              "'" + p.topic.substr(0, 200)
                                  + "' is the server's: nothing is published "
                                    "into $castor/"));
  // Checked as an MQTT PUBLISH is (protocol/channel_publish.cpp).
  bool create = true;
  if (j.caller.access) {
    switch (j.caller.access->check_publish(p.topic)) {
    case mqtt::publish_check::allow:
      break;
    case mqtt::publish_check::deny:
      return answer(self,
                    error("PERMISSION_DENIED", "publishing to '" + p.topic
                                                   + "' needs UPDATE_TOPIC"));
    case mqtt::publish_check::allow_existing:
      create = false;
      break;
    }
  }
  // An explicit topic takes only what converts to its type.
  auto& mapping = j.ctx->mapping;
  if (mapping && !mapping->empty()) {
    if (auto spec = mapping->find(p.topic)) {
      if (auto why = map_publish(*spec, p, j.caller.principal))
        return answer(self, error("INVALID_VALUE", *why));
    }
  }
  auto& b = metrics::local();
  metrics::add(b.messages_in[p.qos < 3 ? p.qos : 2]);
  metrics::add(b.payload_in[p.qos < 3 ? p.qos : 2], p.payload.size());
  auto msg = mqtt::make_message(std::move(p), std::string{},
                                std::chrono::steady_clock::now());
  deliver_publish(self, std::move(msg), create, 1);
}

// -- listeners
// -----------------------------------------------------------------

void listeners(worker_actor* self) {
  auto& j = *self->state.j;
  if (j.method != "GET")
    return answer(self, method_not_allowed(j, "GET"));
  if (!may(j, security::permission::view_server))
    return answer(self, error("PERMISSION_DENIED",
                              "listing the listeners needs VIEW_SERVER"));
  auto& ls = j.ctx->cfg.listeners;
  auto n = std::min({ls.size(), j.listeners.size(), j.ports.size()});
  auto out = std::make_shared<nlohmann::json>(nlohmann::json::array());
  for (size_t i = 0; i < n; ++i) {
    auto& l = ls[i];
    out->push_back({{"name", l.name},
                    {"transport", l.transport},
                    {"bind", l.bind},
                    {"port", j.ports[i]},
                    {"connections", nullptr},
                    {"max_connections", l.max_connections},
                    {"reuse_port", l.reuse_port}});
  }
  auto pending = std::make_shared<size_t>(n + 1);
  auto done = [=] {
    if (--*pending == 0)
      answer(self, json_response(
                       200, {{"ok", true}, {"listeners", std::move(*out)}}));
  };
  for (size_t i = 0; i < n; ++i)
    tracked(self->request(j.listeners[i], worker_wait, stats_atom::value))
        .then(
            [=](uint64_t count) {
              (*out)[i]["connections"] = count;
              done();
            },
            [=](caf::error&) { done(); });
  done();
}

// -- config
// --------------------------------------------------------------------

void configuration(worker_actor* self) {
  auto& j = *self->state.j;
  if (j.method != "GET")
    return answer(self, method_not_allowed(j, "GET"));
  if (!may(j, security::permission::view_server))
    return answer(self, error("PERMISSION_DENIED",
                              "reading the configuration needs VIEW_SERVER"));
  nlohmann::ordered_json out{{"ok", true}, {"config", config_json(j.ctx->cfg)}};
  http::response r;
  r.body = out.dump() + "\n";
  answer(self, std::move(r));
}

// -- cluster
// -------------------------------------------------------------------

void cluster(worker_actor* self) {
  auto& j = *self->state.j;
  if (j.method != "GET")
    return answer(self, method_not_allowed(j, "GET"));
  if (!may(j, security::permission::view_server))
    return answer(self, error("PERMISSION_DENIED",
                              "reading the node group needs VIEW_SERVER"));
  nlohmann::ordered_json out{{"ok", true}};
  auto& v = j.ctx->cluster;
  out["enabled"] = v != nullptr;
  if (v) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    auto& s = v->settings();
    auto member = [](const cluster_member& m) {
      return nlohmann::ordered_json{{"node", m.node},
                                    {"host", m.host},
                                    {"port", m.port},
                                    {"incarnation", m.incarnation}};
    };
    out["group"] = s.group;
    out["node"] = member(s.self);
    auto members = nlohmann::ordered_json::array();
    for (auto& m : v->members()) {
      auto item = member(m.info);
      item["since_ms"]
          = duration_cast<milliseconds>(m.since.time_since_epoch()).count();
      members.push_back(std::move(item));
    }
    out["members"] = std::move(members);
  }
  http::response r;
  r.body = out.dump() + "\n";
  answer(self, std::move(r));
}

// -- backup
// --------------------------------------------------------------------

/// A consistent copy of the store, taken while the server runs (a RocksDB
/// checkpoint: hard links where it can); usable as a data_dir as it is.
void backup(worker_actor* self) {
  auto& j = *self->state.j;
  if (j.method != "POST")
    return answer(self, method_not_allowed(j, "POST"));
  if (!may(j, security::permission::control_server))
    return answer(self,
                  error("PERMISSION_DENIED", "a backup needs CONTROL_SERVER"));
  auto writer = j.ctx->store_writer;
  if (!writer)
    return answer(self, error("CONFLICT", "storage is off (storage.enabled: "
                                          "false): there is nothing to back "
                                          "up"));
  auto body = body_object(self);
  if (!body)
    return;
  auto dir = body->value("dir", std::string{});
  if (dir.empty() || dir.front() != '/' || body->size() != 1)
    return answer(self, error("INVALID_REQUEST",
                              "the body is {\"dir\": an absolute path that "
                              "does not exist yet}"));
  tracked(self->request(writer, worker_wait, backup_atom::value, dir))
      .then(
          [=](std::string& err) {
            if (!err.empty())
              return answer(self, error("BACKUP_FAILED", err));
            answer(self, json_response(200, {{"ok", true}, {"dir", dir}}));
          },
          [=](caf::error& err) {
            answer(self, error("TIMEOUT", "the store writer did not answer: "
                                              + caf::to_string(err)));
          });
}

void route(worker_actor* self) {
  auto& j = *self->state.j;
  auto slash = j.rest.find('/');
  auto area = j.rest.substr(0, slash);
  auto tail
      = slash == std::string::npos ? std::string{} : j.rest.substr(slash + 1);
  if (area == "sessions")
    return sessions(self, tail);
  if (area == "topics")
    return topics(self, tail);
  if (tail.empty()) {
    if (area == "publish")
      return publish(self);
    if (area == "listeners")
      return listeners(self);
    if (area == "config")
      return configuration(self);
    if (area == "cluster")
      return cluster(self);
    if (area == "backup")
      return backup(self);
  }
  answer(self, http::error_response(404, "NOT_FOUND",
                                    "no API endpoint at /api/v1/"
                                        + j.rest.substr(0, 200)));
}

caf::behavior worker(worker_actor* self, job_ptr j) {
  self->state.j = std::move(j);
  return census(self, metrics::actor_kind::rest_worker,
                caf::behavior{
                    [=](http_atom) -> caf::result<http::response> {
                      self->state.rp
                          = self->make_response_promise<http::response>();
                      auto rp = self->state.rp;
                      route(self);
                      return rp;
                    },
                });
}

} // namespace

caf::actor spawn_worker(caf::actor_system& sys, job_ptr j) {
  return sys.spawn(worker, std::move(j));
}

} // namespace castor::rest
