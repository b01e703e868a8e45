#include "actors/api_sessions.hpp"
#include "actors/tracked.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "actors/cluster_types.hpp"
#include "actors/iface/timeouts.hpp"

namespace castor {

namespace {

/// A session as the API shows it: its id and properties (name, value
/// pairs, of this node's directory or of a member's page).
template <class Properties>
nlohmann::json session_json(const std::string& id, const Properties& ps) {
  nlohmann::json props = nlohmann::json::object();
  for (auto& [k, v] : ps)
    props[k] = v;
  return {{"id", id}, {"properties", std::move(props)}};
}

nlohmann::json session_json(const session_record& r) {
  return session_json(r.id, r.facts.all());
}

api::error denied(const char* permission, const char* what) {
  return {"PERMISSION_DENIED",
          std::string{what} + " needs " + permission};
}

api::error no_such(const std::string& id) {
  return {"NO_SUCH_SESSION", "no session '" + id + "'"};
}

session_filter parsed(const std::string& text) {
  // Checked by the request's reader.
  return std::get<session_filter>(parse_session_filter(text));
}

} // namespace

cluster_closed close_sessions_here(session_directory& sessions,
                                   const std::string& session,
                                   const std::string& filter) {
  cluster_closed out;
  std::vector<session_record> targets;
  if (!session.empty()) {
    auto r = sessions.get(session);
    if (!r)
      return out;
    targets.push_back(std::move(*r));
  } else {
    // Every session the filter selects (a page at a time).
    auto f = parse_session_filter(filter);
    auto checked = std::get_if<session_filter>(&f);
    if (!checked)
      return out;
    std::string after;
    for (;;) {
      auto page = sessions.list(*checked, after, 1000);
      for (auto& r : page.sessions)
        targets.push_back(std::move(r));
      if (!page.more || targets.empty())
        break;
      after = targets.back().id;
    }
  }
  out.found = !targets.empty();
  for (auto& r : targets) {
    if (!r.connection) {
      ++out.offline;
      continue;
    }
    // From now on, no request finds the session connected (its request
    // streams end with the connection).
    sessions.disconnected(r.client_id, r.connection);
    caf::anon_send(r.connection, close_atom::value);
    ++out.closed;
  }
  return out;
}

void run_close_sessions(caf::event_based_actor* self, const api_context& ctx,
                        api::close_sessions c,
                        caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_modify_sessions())
    return finish(
        api::error_answer(denied("MODIFY_SESSION", "closing sessions")));
  if (!ctx.sessions)
    return finish(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  struct gathered {
    cluster_closed sum;
    size_t left = 0;
    std::vector<std::string> unanswered;
  };
  auto g = std::make_shared<gathered>();
  g->sum = close_sessions_here(*ctx.sessions, c.session, c.filter);
  auto members = ctx.routes ? ctx.routes->member_routers()
                            : std::vector<std::pair<std::string, caf::actor>>{};
  // A session id names one session: found here, it is nowhere else.
  if (!c.session.empty() && g->sum.found)
    members.clear();
  auto done = [g, c, finish]() mutable {
    if (g->left > 0 && --g->left > 0)
      return;
    if (!c.session.empty() && !g->sum.found && g->unanswered.empty())
      return finish(api::error_answer(no_such(c.session)));
    nlohmann::json answer{{"closed", g->sum.closed},
                          {"offline", g->sum.offline}};
    if (!g->unanswered.empty()) {
      std::sort(g->unanswered.begin(), g->unanswered.end());
      answer["unanswered"] = g->unanswered;
    }
    finish(api::ok_answer(std::move(answer)));
  };
  if (members.empty())
    return done();
  g->left = members.size();
  for (auto& [node, router] : members) {
    self->request(router, cluster_session_timeout, close_atom::value, c.session,
                  c.filter)
        .then(
            [=](cluster_closed& part) mutable {
              g->sum.closed += part.closed;
              g->sum.offline += part.offline;
              g->sum.found = g->sum.found || part.found;
              done();
            },
            [=, node = node](caf::error&) mutable {
              // Gone, too slow, or a version that closes its own only.
              g->unanswered.push_back(node);
              done();
            });
  }
}

void run_list_sessions(caf::event_based_actor* self, const api_context& ctx,
                       api::list_sessions l,
                       caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_view_sessions())
    return finish(
        api::error_answer(denied("VIEW_SESSION", "listing sessions")));
  if (!ctx.sessions)
    return finish(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  auto page = ctx.sessions->list(parsed(l.filter), l.after, l.limit);
  auto members = ctx.routes ? ctx.routes->member_routers()
                            : std::vector<std::pair<std::string, caf::actor>>{};
  if (members.empty()) {
    auto out = nlohmann::json::array();
    for (auto& r : page.sessions)
      out.push_back(session_json(r));
    return finish(
        api::ok_answer({{"sessions", std::move(out)}, {"more", page.more}}));
  }
  // In a node group: every member's page too, merged by id; each session
  // names its node.
  struct gathered {
    std::vector<std::pair<std::string, nlohmann::json>> sessions; // by id
    bool more = false;
    size_t left = 0;
    std::vector<std::string> unanswered;
  };
  auto g = std::make_shared<gathered>();
  g->more = page.more;
  g->left = members.size();
  auto self_node = ctx.routes->self_node;
  for (auto& r : page.sessions) {
    auto s = session_json(r);
    s["node"] = self_node;
    g->sessions.emplace_back(r.id, std::move(s));
  }
  auto limit = l.limit;
  auto done = [g, limit, finish]() mutable {
    if (--g->left > 0)
      return;
    std::stable_sort(g->sessions.begin(), g->sessions.end(),
                     [](auto& a, auto& b) { return a.first < b.first; });
    if (g->sessions.size() > limit) {
      g->sessions.resize(limit);
      g->more = true;
    }
    auto out = nlohmann::json::array();
    for (auto& [_, s] : g->sessions)
      out.push_back(std::move(s));
    nlohmann::json answer{{"sessions", std::move(out)}, {"more", g->more}};
    if (!g->unanswered.empty()) {
      std::sort(g->unanswered.begin(), g->unanswered.end());
      answer["unanswered"] = g->unanswered;
    }
    finish(api::ok_answer(std::move(answer)));
  };
  auto asked = static_cast<uint32_t>(std::min<size_t>(limit, UINT32_MAX));
  for (auto& [node, router] : members) {
    self->request(router, cluster_session_timeout, cl_sessions_atom::value,
                  l.filter, l.after, asked)
        .then(
            [=, node = node](cluster_session_page& p) mutable {
              g->more = g->more || p.more;
              for (auto& cs : p.sessions) {
                auto s = session_json(cs.id, cs.properties);
                s["node"] = node;
                g->sessions.emplace_back(cs.id, std::move(s));
              }
              done();
            },
            [=, node = node](caf::error&) mutable {
              // Gone, too slow, or a version without group-wide lists.
              g->unanswered.push_back(node);
              done();
            });
  }
}

void get_session_here(caf::event_based_actor* self,
                      const session_directory& sessions, const std::string& id,
                      const std::string& node, session_answer done) {
  auto r = sessions.get(id);
  if (!r)
    return done("NO_SUCH_SESSION", no_such(id).message);
  auto s = session_json(*r);
  if (!node.empty())
    s["node"] = node;
  if (!r->session) {
    // The connection keeps the session itself: nothing subscribed yet.
    s["subscriptions"] = nlohmann::json::array();
    return done("", s.dump());
  }
  // The subscriptions are the session actor's to tell.
  self->request(r->session, api_session_timeout, subs_atom::value)
      .then(
          [=](std::string& text) mutable {
            auto subs = nlohmann::json::parse(text, nullptr, false);
            s["subscriptions"] = subs.is_array() ? std::move(subs)
                                                 : nlohmann::json::array();
            done("", s.dump());
          },
          [=](caf::error& err) mutable {
            if (err == caf::sec::request_timeout)
              return done("UNAVAILABLE", "the session did not answer in time");
            // Otherwise it ended meanwhile.
            done("NO_SUCH_SESSION", no_such(id).message);
          });
}

void change_roles_here(caf::event_based_actor* self,
                       const session_directory& sessions, const std::string& id,
                       std::vector<std::string> add,
                       std::vector<std::string> remove, roles_answer done) {
  auto r = sessions.get(id);
  if (!r)
    return done("NO_SUCH_SESSION", {});
  if (!r->connection)
    return done("NOT_CONNECTED", {});
  tracked(self->request(r->connection, api_connection_timeout,
                        roles_atom::value, std::move(add), std::move(remove)))
      .then([=](std::vector<std::string>& roles) mutable { done("", roles); },
            [=](caf::error& err) mutable {
              done(err == caf::sec::invalid_argument ? "TOO_MANY_ROLES"
                                                     : "CLOSED",
                   {});
            });
}

void run_get_session(caf::event_based_actor* self, const api_context& ctx,
                     api::get_session g,
                     caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_view_sessions())
    return finish(
        api::error_answer(denied("VIEW_SESSION", "reading a session")));
  if (!ctx.sessions)
    return finish(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  auto answer = [finish](std::pair<std::string, std::string> r) mutable {
    if (!r.first.empty())
      return finish(api::error_answer({r.first, r.second}));
    auto s = nlohmann::json::parse(r.second, nullptr, false);
    finish(api::ok_answer({{"session", std::move(s)}}));
  };
  auto node = ctx.routes ? ctx.routes->self_node : std::string{};
  get_session_here(self, *ctx.sessions, g.session, node,
                   [=](std::string code, std::string text) mutable {
                     if (code != "NO_SUCH_SESSION")
                       return answer({std::move(code), std::move(text)});
                     // Another member's, if any.
                     ask_members(self, ctx,
                                 std::pair<std::string, std::string>{
                                     std::move(code), std::move(text)},
                                 answer, cl_sget_atom::value, g.session);
                   });
}

void run_set_properties(caf::event_based_actor* self, const api_context& ctx,
                        api::set_session_properties p,
                        caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_modify_sessions())
    return finish(api::error_answer(
        denied("MODIFY_SESSION", "setting session properties")));
  if (!ctx.sessions)
    return finish(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  if (ctx.sessions->set_properties(p.session, p.properties))
    return finish(api::ok_answer());
  // Another member's, if any: names and values in turn.
  std::vector<std::string> kv;
  for (auto& [k, v] : p.properties) {
    kv.push_back(k);
    kv.push_back(v);
  }
  auto id = p.session;
  ask_members(
      self, ctx, std::pair<std::string, bool>{"NO_SUCH_SESSION", false},
      [=](std::pair<std::string, bool> r) mutable {
        if (r.first.empty())
          return finish(api::ok_answer());
        finish(api::error_answer(no_such(id)));
      },
      cl_sput_atom::value, p.session, std::move(kv));
}

bool set_properties_here(session_directory& sessions, const std::string& id,
                         const std::vector<std::string>& kv) {
  std::map<std::string, std::string> props;
  for (size_t i = 0; i + 1 < kv.size(); i += 2)
    props[kv[i]] = kv[i + 1];
  return sessions.set_properties(id, props);
}

void run_change_roles(caf::event_based_actor* self, const api_context& ctx,
                      api::change_session_roles c,
                      caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_modify_sessions())
    return finish(api::error_answer(
        denied("MODIFY_SESSION", "changing the roles of a session")));
  if (!ctx.sessions)
    return finish(api::error_answer(
        {"UNAVAILABLE", "this server keeps no session directory"}));
  auto id = c.session;
  auto answer
      = [=](std::pair<std::string, std::vector<std::string>> r) mutable {
          auto& code = r.first;
          if (code.empty())
            return finish(api::ok_answer({{"roles", std::move(r.second)}}));
          if (code == "NOT_CONNECTED")
            return finish(api::error_answer(
                {code, "session '" + id
                           + "' is offline: its roles are those its next "
                             "connection authenticates with"}));
          if (code == "TOO_MANY_ROLES")
            return finish(
                api::error_answer({code, "a session has at most 256 roles"}));
          if (code == "CLOSED")
            return finish(api::error_answer(
                {"NOT_CONNECTED", "the session's connection closed"}));
          finish(api::error_answer(no_such(id)));
        };
  change_roles_here(
      self, *ctx.sessions, c.session, c.add, c.remove,
      [=](std::string code, std::vector<std::string> roles) mutable {
        if (code != "NO_SUCH_SESSION")
          return answer({std::move(code), std::move(roles)});
        ask_members(self, ctx,
                    std::pair<std::string, std::vector<std::string>>{
                        std::move(code), {}},
                    answer, cl_sroles_atom::value, c.session, c.add, c.remove);
      });
}

} // namespace castor
