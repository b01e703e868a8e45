#pragma once

// sessions/list, sessions/get, sessions/close, sessions/set-properties and
// sessions/change-roles of the platform API (docs/platform.md,
// "Sessions"): answered from the session directory
// (actors/session_directory.hpp) (sessions/get asks the session actor for
// its subscriptions too); in a node group, sessions/list and
// sessions/close ask every member too, and the others (sessions/subscribe
// too, actors/api_subscribe.hpp) ask every member for a session this node
// does not have (ask_members). A session closed is told to
// its connection, which sends an MQTT 5 client DISCONNECT 0x98 and ends
// the session.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "actors/cluster_types.hpp"
#include "protocol/api_request.hpp"

namespace castor {

/// What a node answers of one of its sessions: a code ("" when done, else
/// NO_SUCH_SESSION, NOT_CONNECTED, TOO_MANY_ROLES, CLOSED or UNAVAILABLE)
/// and, for sessions/get, the session as JSON text (else the message), or
/// for change-roles the session's roles.
using session_answer = std::function<void(std::string, std::string)>;
using roles_answer = std::function<void(std::string, std::vector<std::string>)>;

/// sessions/get on this node (for its API, or a member's): `node` (if
/// any) is named in the answer.
void get_session_here(caf::event_based_actor* self,
                      const session_directory& sessions, const std::string& id,
                      const std::string& node, session_answer done);

/// sessions/change-roles on this node, through the session's connection.
void change_roles_here(caf::event_based_actor* self,
                       const session_directory& sessions, const std::string& id,
                       std::vector<std::string> add,
                       std::vector<std::string> remove, roles_answer done);

/// sessions/set-properties on this node; `kv`: names and values in turn.
bool set_properties_here(session_directory& sessions, const std::string& id,
                         const std::vector<std::string>& kv);

/// sessions/set-properties: on this node, or on the member that has the
/// session.
void run_set_properties(caf::event_based_actor* self, const api_context& ctx,
                        api::set_session_properties p,
                        caf::typed_response_promise<std::string> rp);

/// How long sessions/list in a node group waits for each member's page;
/// a member that does not answer in time is named in `unanswered`.
inline constexpr std::chrono::seconds cluster_session_timeout{2};

/// Asks every member's router `xs...` (a request for one session, which
/// only the member that has it answers with anything but
/// NO_SUCH_SESSION), and calls `done` with the first answer that is not
/// that, or with NO_SUCH_SESSION once every member has answered or let
/// cluster_session_timeout pass (gone, too slow, or a version that serves
/// its own sessions only).
template <class What, class Done, class... Ts>
void ask_members(caf::event_based_actor* self, const api_context& ctx,
                 std::pair<std::string, What> none, Done done, Ts... xs) {
  using Result = std::pair<std::string, What>;
  auto members = ctx.routes ? ctx.routes->member_routers()
                            : std::vector<std::pair<std::string, caf::actor>>{};
  if (members.empty())
    return done(std::move(none));
  struct asked {
    size_t left;
    bool answered = false;
  };
  auto a = std::make_shared<asked>(asked{members.size()});
  auto one = [a, done, none](Result* r) mutable {
    --a->left;
    if (a->answered)
      return;
    if (r && r->first != "NO_SUCH_SESSION") {
      a->answered = true;
      return done(std::move(*r));
    }
    if (a->left == 0) {
      a->answered = true;
      done(std::move(none));
    }
  };
  for (auto& m : members)
    self->request(m.second, cluster_session_timeout, xs...)
        .then(
            [one](std::string& code, What& what) mutable {
              Result r{std::move(code), std::move(what)};
              one(&r);
            },
            [one](caf::error&) mutable { one(nullptr); });
}

/// sessions/close on this node: the connections of the sessions that
/// `session` names (an id; empty: none) or `filter` selects (a checked
/// filter) are told to close. From then on, the directory lists them
/// offline.
cluster_closed close_sessions_here(session_directory& sessions,
                                   const std::string& session,
                                   const std::string& filter);

/// sessions/close: on this node, and in a node group on every member
/// (which answer within cluster_session_timeout or are named in
/// `unanswered`).
void run_close_sessions(caf::event_based_actor* self, const api_context& ctx,
                        api::close_sessions c,
                        caf::typed_response_promise<std::string> rp);

/// sessions/list: from the session directory; in a node group, merged
/// with every member's sessions, each naming its node.
void run_list_sessions(caf::event_based_actor* self, const api_context& ctx,
                       api::list_sessions l,
                       caf::typed_response_promise<std::string> rp);

/// sessions/get: the session's properties from the directory, its
/// subscriptions from its session actor; in a node group, of the member
/// that has the session if this node does not.
void run_get_session(caf::event_based_actor* self, const api_context& ctx,
                     api::get_session g,
                     caf::typed_response_promise<std::string> rp);

/// sessions/change-roles: through the session's connection, which changes
/// the rights of every holder of the session's rights at once; in a node
/// group, on the member that has the session if this node does not.
void run_change_roles(caf::event_based_actor* self, const api_context& ctx,
                      api::change_session_roles c,
                      caf::typed_response_promise<std::string> rp);

} // namespace castor
