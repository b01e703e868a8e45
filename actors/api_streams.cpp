#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/api_streams.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/api_sessions.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/messaging.hpp"

namespace castor {

namespace {

using json = nlohmann::json;

/// The answers one messages/send-to-filter gathers may hold this many
/// bytes of payload together; answers beyond it are TOO_LARGE errors.
constexpr size_t max_filter_answer_bytes = 16u << 20;

const api::error no_connection{"UNAVAILABLE",
                               "the caller's connection did not answer"};

api::error denied(const std::string& path) {
  return {"PERMISSION_DENIED", "sending requests to sessions through '" + path
                                   + "' needs SEND_TO_SESSION"};
}

/// A session's answer as JSON: parsed when it parses, else a string.
json answer_json(const handler_answer& a) {
  auto j = json::parse(a.payload, nullptr, false);
  if (!j.is_discarded())
    return j;
  return json(a.payload);
}

/// The error object of a server-made error answer.
json error_json(const handler_answer& a) {
  auto j = json::parse(a.payload, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object())
    return j["error"];
  return {{"code", a.error}, {"message", a.payload}};
}

/// The request as the session's client gets it: the value's JSON text.
handler_request make_request(caf::event_based_actor* self,
                             const api_context& ctx, const std::string& path,
                             const json& value) {
  handler_request req;
  req.path = path;
  req.payload = value.dump(-1, ' ', false, json::error_handler_t::replace);
  req.props.content_type = "application/json";
  req.props.payload_format_indicator = 1;
  req.requester = caf::actor_cast<caf::actor>(self);
  req.timeout_ms = ctx.request_timeout_ms;
  return req;
}

/// How long a request actor waits for sessions' connections that have
/// gone without a word: beyond the connections' own timeouts.
std::chrono::milliseconds guard_of(const api_context& ctx) {
  return std::chrono::milliseconds(ctx.request_timeout_ms)
         + std::chrono::seconds(2);
}

void run_add(caf::event_based_actor* self, const api_context& ctx,
             const std::string& path,
             caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.connection)
    return finish(api::error_answer(no_connection));
  tracked(self->request(ctx.connection, api_connection_timeout,
                        stream_add_atom::value, path))
      .then(
          [=](uint8_t r) mutable {
            switch (static_cast<stream_added>(r)) {
            case stream_added::too_many:
              return finish(api::error_answer(
                  {"TOO_MANY_STREAMS", "a connection may set at most "
                                           + std::to_string(max_request_streams)
                                           + " request streams"}));
            case stream_added::exists:
              return finish(api::ok_answer({{"added", false}}));
            default:
              return finish(api::ok_answer({{"added", true}}));
            }
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(no_connection));
          });
}

void run_remove(caf::event_based_actor* self, const api_context& ctx,
                const std::string& path,
                caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.connection)
    return finish(api::error_answer(no_connection));
  tracked(self->request(ctx.connection, api_connection_timeout,
                        stream_remove_atom::value, path))
      .then(
          [=](bool existed) mutable {
            if (!existed)
              return finish(api::error_answer(
                  {"NO_STREAM", "this connection has no request stream for '"
                                    + path + "'"}));
            finish(api::ok_answer());
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(no_connection));
          });
}

void send_to_connection(caf::event_based_actor* self, const api_context& ctx,
                        const api::send_to_session& s, caf::actor conn,
                        std::function<void(std::string)> finish,
                        caf::typed_response_promise<std::string> rp);

void run_to_session(caf::event_based_actor* self, const api_context& ctx,
                    const api::send_to_session& s,
                    caf::typed_response_promise<std::string> rp) {
  std::function<void(std::string)> finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_send_to_session(s.path))
    return finish(api::error_answer(denied(s.path)));
  auto r = ctx.sessions ? ctx.sessions->get(s.session) : std::nullopt;
  if (r)
    return send_to_connection(self, ctx, s, r->connection, finish, rp);
  // A session of another member, if any: its connection there.
  ask_members(
      self, ctx, std::pair<std::string, caf::actor>{"NO_SUCH_SESSION", nullptr},
      [=](std::pair<std::string, caf::actor> found) mutable {
        if (found.first == "NO_SUCH_SESSION")
          return finish(api::error_answer(
              {"NO_SUCH_SESSION", "no session '" + s.session + "'"}));
        send_to_connection(self, ctx, s, found.second, finish, rp);
      },
      cl_sconn_atom::value, s.session);
}

/// messages/send-to-session, once the session's connection (here or on
/// another member; null: the session is offline) is known.
void send_to_connection(caf::event_based_actor* self, const api_context& ctx,
                        const api::send_to_session& s, caf::actor conn,
                        std::function<void(std::string)> finish,
                        caf::typed_response_promise<std::string> rp) {
  if (!conn)
    return finish(api::error_answer(
        {"NOT_CONNECTED", "session '" + s.session + "' is offline"}));
  self->send(conn, msg_stream_atom::value,
             make_request(self, ctx, s.path, s.value));
  // A connection that has gone (or goes without answering) is HANDLER_GONE.
  // The monitor ends with the request (it would stay with the connection).
  self->monitor(conn);
  finish = [self, rp, conn](std::string answer) mutable {
    self->demonitor(conn);
    answer_and_quit(self, rp)(std::move(answer));
  };
  auto gone = [=]() mutable {
    finish(api::error_answer(
        {"HANDLER_GONE", "session '" + s.session + "' did not answer"}));
  };
  auto on_down = std::make_shared<decltype(gone)>(gone);
  self->set_down_handler([on_down](caf::down_msg&) { (*on_down)(); });
  self->delayed_send(self, guard_of(ctx), msg_timeout_atom::value, uint64_t{0});
  self->become(counted(
      self, metrics::actor_kind::api_request,
      caf::behavior{[=](msg_answer_atom, handler_answer& a) mutable {
                      if (!a.error.empty())
                        return finish(api::error_answer(
                            {a.error,
                             error_json(a).value("message", a.payload)}));
                      finish(api::ok_answer({{"answer", answer_json(a)}}));
                    },
                    [=](msg_timeout_atom, uint64_t) mutable { gone(); }}));
}

/// What one messages/send-to-filter gathers: for each session reached (in
/// id order) its answer, or error, once it comes.
struct filter_gather {
  std::vector<std::string> ids;
  std::vector<caf::actor> connections;
  std::vector<std::optional<json>> results; ///< null: no stream
  std::vector<bool> done;
  std::map<caf::actor_addr, size_t> by_connection;
  size_t outstanding = 0;
  size_t bytes = 0;
};

/// Sends the request of `s` to the sessions `g` holds (in id order), and
/// answers once each has answered or failed; `unanswered`: the members
/// that did not say which of their sessions the filter selects.
void send_to_reached(caf::event_based_actor* self, const api_context& ctx,
                     const api::send_to_filter& s,
                     std::shared_ptr<filter_gather> g,
                     std::vector<std::string> unanswered,
                     caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  auto n = g->ids.size();
  g->results.resize(n);
  g->done.resize(n, false);
  g->outstanding = n;
  auto complete = [=]() mutable {
    auto answers = json::array();
    for (size_t i = 0; i < n; ++i)
      if (g->results[i])
        answers.push_back(std::move(*g->results[i]));
    auto sent = answers.size();
    // The monitors end with the request (they would stay with the
    // connections).
    for (auto& c : g->connections)
      self->demonitor(c);
    auto doc = json{{"sent", sent}, {"answers", std::move(answers)}};
    if (!unanswered.empty())
      doc["unanswered"] = unanswered;
    finish(api::ok_answer(std::move(doc)));
  };
  if (n == 0)
    return complete();
  // One session's outcome: `r` null when it has no stream for the path.
  auto settle = [=](size_t i, std::optional<json> r) mutable {
    if (i >= n || g->done[i])
      return;
    g->done[i] = true;
    g->results[i] = std::move(r);
    if (--g->outstanding == 0)
      complete();
  };
  auto failed = [=](size_t i, const std::string& code,
                    const std::string& message) mutable {
    settle(i, json{{"session", g->ids[i]},
                   {"error", {{"code", code}, {"message", message}}}});
  };
  auto proto = make_request(self, ctx, s.path, s.value);
  for (size_t i = 0; i < n; ++i) {
    auto req = proto;
    // The answer names the session by its place in `ids`.
    req.props.response_topic = std::to_string(i);
    self->send(g->connections[i], msg_stream_atom::value, std::move(req));
    g->by_connection.emplace(g->connections[i].address(), i);
    self->monitor(g->connections[i]);
  }
  auto on_down = std::make_shared<decltype(failed)>(failed);
  self->set_down_handler([g, on_down](caf::down_msg& dm) {
    auto it = g->by_connection.find(dm.source);
    if (it != g->by_connection.end())
      (*on_down)(it->second, "HANDLER_GONE",
                 "the session disconnected before answering");
  });
  self->delayed_send(self, guard_of(ctx), msg_timeout_atom::value, uint64_t{0});
  self->become(counted(
      self, metrics::actor_kind::api_request,
      caf::behavior{
          [=](msg_answer_atom, handler_answer& a) mutable {
            size_t i = n;
            try {
              i = static_cast<size_t>(std::stoull(a.topic));
            } catch (...) {
              return;
            }
            if (i >= n)
              return;
            if (a.error == "NO_STREAM")
              return settle(i, std::nullopt);
            if (!a.error.empty())
              return settle(
                  i, json{{"session", g->ids[i]}, {"error", error_json(a)}});
            g->bytes += a.payload.size();
            if (g->bytes > max_filter_answer_bytes)
              return failed(i, "TOO_LARGE",
                            "the answers exceed "
                                + std::to_string(max_filter_answer_bytes)
                                + " bytes together");
            settle(i, json{{"session", g->ids[i]}, {"answer", answer_json(a)}});
          },
          [=](msg_timeout_atom, uint64_t) mutable {
            for (size_t i = 0; i < n && g->outstanding > 0; ++i)
              if (!g->done[i])
                failed(i, "HANDLER_GONE",
                       "the session's connection did not answer");
          }}));
}

/// messages/send-to-filter: the connected sessions the filter selects on
/// this node and, in a node group, on every member (each asked at once,
/// for cluster_session_timeout), then the request to each.
void run_to_filter(caf::event_based_actor* self, const api_context& ctx,
                   const api::send_to_filter& s,
                   caf::typed_response_promise<std::string> rp) {
  if (ctx.access && !ctx.access->may_send_to_session(s.path))
    return answer_and_quit(self, rp)(api::error_answer(denied(s.path)));
  if (!ctx.sessions)
    return answer_and_quit(self, rp)(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  struct gathering {
    std::vector<std::pair<std::string, caf::actor>> found;
    std::vector<std::string> unanswered;
    size_t left = 0;
    bool too_many = false;
  };
  auto all = std::make_shared<gathering>();
  auto take = [all](cluster_reach& r) {
    all->too_many = all->too_many || r.more;
    for (size_t i = 0; i < r.ids.size() && i < r.connections.size(); ++i)
      all->found.emplace_back(std::move(r.ids[i]), std::move(r.connections[i]));
  };
  auto here = reach_sessions_here(*ctx.sessions, s.filter,
                                  static_cast<uint32_t>(max_filter_sessions));
  take(here);
  auto done = [=] {
    if (all->too_many || all->found.size() > max_filter_sessions)
      return answer_and_quit(self, rp)(api::error_answer(
          {"TOO_MANY_SESSIONS",
           "the filter selects more than " + std::to_string(max_filter_sessions)
               + " connected sessions: nothing was sent"}));
    std::sort(all->found.begin(), all->found.end(),
              [](auto& a, auto& b) { return a.first < b.first; });
    auto g = std::make_shared<filter_gather>();
    for (auto& [id, c] : all->found) {
      g->ids.push_back(id);
      g->connections.push_back(c);
    }
    std::sort(all->unanswered.begin(), all->unanswered.end());
    send_to_reached(self, ctx, s, g, all->unanswered, rp);
  };
  auto members = ctx.routes ? ctx.routes->member_routers()
                            : std::vector<std::pair<std::string, caf::actor>>{};
  if (members.empty() || all->too_many)
    return done();
  all->left = members.size();
  for (auto& [node, router] : members)
    self->request(router, cluster_session_timeout, cl_sreach_atom::value,
                  s.filter, static_cast<uint32_t>(max_filter_sessions))
        .then(
            [=](cluster_reach& r) mutable {
              take(r);
              if (--all->left == 0)
                done();
            },
            [=](caf::error&) mutable {
              // Gone, too slow, or a version without it.
              all->unanswered.push_back(node);
              if (--all->left == 0)
                done();
            });
}

} // namespace

cluster_reach reach_sessions_here(const session_directory& sessions,
                                  const std::string& filter, uint32_t limit) {
  cluster_reach out;
  auto parsed = parse_session_filter(filter);
  auto f = std::get_if<session_filter>(&parsed);
  if (!f)
    return out;
  std::string after;
  for (;;) {
    auto page = sessions.list(*f, after, 1000);
    for (auto& r : page.sessions) {
      after = r.id;
      if (!r.connection)
        continue;
      if (out.ids.size() >= limit) {
        out.more = true;
        return out;
      }
      out.ids.push_back(r.id);
      out.connections.push_back(r.connection);
    }
    if (!page.more || page.sessions.empty())
      return out;
  }
}

bool is_stream_request(const api::request& req) {
  return std::holds_alternative<api::add_stream>(req)
         || std::holds_alternative<api::remove_stream>(req)
         || std::holds_alternative<api::send_to_session>(req)
         || std::holds_alternative<api::send_to_filter>(req);
}

void run_stream_request(caf::event_based_actor* self, const api_context& ctx,
                        api::request req,
                        caf::typed_response_promise<std::string> rp) {
  if (auto a = std::get_if<api::add_stream>(&req))
    return run_add(self, ctx, a->path, rp);
  if (auto r = std::get_if<api::remove_stream>(&req))
    return run_remove(self, ctx, r->path, rp);
  if (auto s = std::get_if<api::send_to_session>(&req))
    return run_to_session(self, ctx, *s, rp);
  if (auto f = std::get_if<api::send_to_filter>(&req))
    return run_to_filter(self, ctx, *f, rp);
}

} // namespace castor
