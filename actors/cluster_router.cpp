#include "actors/cluster_router.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/api_sessions.hpp"
#include "actors/api_streams.hpp"
#include "actors/census.hpp"
#include "actors/cluster_guard.hpp"
#include "actors/cluster_handlers.hpp"
#include "actors/cluster_topics.hpp"
#include "actors/http_types.hpp"
#include "actors/iface/timeouts.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

/// Retained messages go to a member that joined in batches of at most
/// this many; the tree has this long to gather them.
constexpr size_t sync_chunk = 1000;
constexpr std::chrono::seconds sync_timeout{60};

/// Hands `req` (a conditional update, or a time series' append or edit,
/// of another member) to the topic it names, as its owner here; `Answer`
/// tells why not if the topic cannot be reached.
template <class Answer, class Request>
caf::response_promise to_owned_topic(caf::event_based_actor* self,
                                     const topic_tree_interface& tree,
                                     Request&& req) {
  auto rp = self->make_response_promise();
  auto name = req.msg->topic;
  auto unavailable = [](std::string why) {
    Answer a;
    if constexpr (std::is_same_v<Answer, update_outcome>) {
      a = update_outcome{"UNAVAILABLE", std::move(why)};
    } else {
      a.code = "UNAVAILABLE";
      a.message = std::move(why);
    }
    return a;
  };
  self->request(tree, lookup_timeout, lookup_atom::value, name, true)
      .then(
          [=, req = std::move(req)](topic_interface& t) mutable {
            if (!t)
              return rp.deliver(unavailable("no topic '" + name + "' here"));
            rp.delegate(t, cl_owner_atom::value, std::move(req));
          },
          [=](caf::error&) mutable {
            rp.deliver(unavailable("the topic tree did not answer in time"));
          });
  return rp;
}

/// Whether the current message comes from a member's node; counts what it
/// carries if so.
bool take(caf::event_based_actor* self, cluster_routes& routes,
          publish_batch& b) {
  auto& sender = self->current_sender();
  if (!sender || !routes.trusted_node(sender->node())) {
    CASTOR_LOG(warning, "cluster",
               "dropped publishes from a node that never was a member");
    return false;
  }
  // A message that did not decode is dropped (load_message gives null),
  // and the share picks are renumbered without it.
  auto n = b.msgs.size();
  bool holes = std::find(b.msgs.begin(), b.msgs.end(), nullptr) != b.msgs.end();
  for (auto& p : b.picks) {
    if (!std::is_sorted(p.indices.begin(), p.indices.end())
        || std::adjacent_find(p.indices.begin(), p.indices.end())
               != p.indices.end()
        || (!p.indices.empty() && p.indices.back() >= n))
      return false; // not ascending positions in the batch
    if (!holes)
      continue;
    std::vector<uint32_t> now;
    for (auto i : p.indices)
      if (b.msgs[i])
        now.push_back(static_cast<uint32_t>(
            i - std::count(b.msgs.begin(), b.msgs.begin() + i, nullptr)));
    p.indices = std::move(now);
  }
  b.msgs.erase(std::remove(b.msgs.begin(), b.msgs.end(), nullptr),
               b.msgs.end());
  if (b.msgs.empty())
    return false;
  auto& name = b.msgs.front()->topic;
  if (std::any_of(b.msgs.begin(), b.msgs.end(),
                  [&](auto& m) { return m->topic != name; }))
    return false; // one topic per batch, as topics send them
  b.remote = true;
  routes.received_batches.fetch_add(1, std::memory_order_relaxed);
  routes.received_messages.fetch_add(b.msgs.size(), std::memory_order_relaxed);
  return true;
}

/// Sends the member's agent `to` this node's retained messages and the
/// topics the API added here, as this node's agent `agent`.
void sync_to(caf::event_based_actor* self, const topic_tree_interface& tree,
             const mapping_ptr& mapping, const caf::actor& agent,
             const caf::actor& to) {
  if (mapping) {
    auto ts = added_topics(*mapping);
    for (size_t i = 0; i < ts.size(); i += cluster_topics_chunk) {
      auto end = std::min(ts.size(), i + cluster_topics_chunk);
      caf::send_as(
          agent, to, cl_topic_atom::value,
          std::vector<cluster_topic>(ts.begin() + i, ts.begin() + end));
    }
  }
  self->request(tree, sync_timeout, cl_sync_atom::value)
      .then(
          [=](publish_batch& all) {
            auto& ms = all.msgs;
            for (size_t i = 0; i < ms.size(); i += sync_chunk) {
              publish_batch b;
              auto end = std::min(ms.size(), i + sync_chunk);
              b.msgs.assign(ms.begin() + i, ms.begin() + end);
              caf::send_as(agent, to, cl_sync_atom::value, std::move(b));
            }
            CASTOR_LOG(debug, "cluster",
                       "sent " << ms.size() << " retained messages to "
                               << to_string(to.node()));
          },
          [=](caf::error& err) {
            CASTOR_LOG(warning, "cluster",
                       "cannot gather the retained messages for "
                           << to_string(to.node()) << ": " << to_string(err));
          });
}

/// A page of this node's sessions for a member's sessions/list.
cluster_session_page list_sessions(const session_directory& sessions,
                                   const std::string& filter,
                                   const std::string& after, uint32_t limit) {
  cluster_session_page out;
  auto f = parse_session_filter(filter);
  auto parsed = std::get_if<session_filter>(&f);
  if (!parsed)
    return out; // checked where the request was made
  auto page = sessions.list(*parsed, after,
                            std::min(limit, cluster_session_page_max));
  out.more = page.more;
  out.sessions.reserve(page.sessions.size());
  for (auto& r : page.sessions) {
    auto all = r.facts.all();
    out.sessions.push_back({r.id, {all.begin(), all.end()}});
  }
  return out;
}

/// The registrations this node shares with the members: message handlers
/// and missing-topic handlers (either may be null).
struct handler_syncs {
  std::shared_ptr<handler_sync> message;
  std::shared_ptr<handler_sync> missing;
};

/// How long the members must stay as they are before the owners send
/// their typed topics' values (a partition heals in steps: one member
/// after another joins).
constexpr std::chrono::seconds values_quiet{1};

/// The members as the router last saw them, and whether the values of the
/// typed topics this node owns are still to be sent to them.
struct value_sync {
  std::vector<std::pair<std::string, caf::actor_addr>> members;
  std::chrono::steady_clock::time_point changed;
  bool pending = false;
};

/// A second after the members last changed, has the typed topics this
/// node owns send their values to every member (the sides of a healed
/// partition held different values; each topic takes its owner's).
void send_values(
    caf::event_based_actor* self, const topic_tree_interface& tree,
    value_sync& vs,
    const std::vector<std::pair<std::string, caf::actor>>& members) {
  std::vector<std::pair<std::string, caf::actor_addr>> now;
  for (auto& [node, router] : members)
    now.emplace_back(node, router.address());
  auto t = std::chrono::steady_clock::now();
  if (now != vs.members) {
    vs.members = std::move(now);
    vs.changed = t;
    vs.pending = !vs.members.empty();
    return;
  }
  if (!vs.pending || t - vs.changed < values_quiet)
    return;
  vs.pending = false;
  self->send(tree, cl_values_atom::value);
}

/// Sends the members (`members`, now) this node's registrations of `sync`
/// as `atom`: all of them if they changed, else to those that joined.
template <class Atom>
void share_handlers(
    caf::event_based_actor* self, const std::shared_ptr<handler_sync>& sync,
    const std::vector<std::pair<std::string, caf::actor>>& members, Atom atom) {
  if (!sync)
    return;
  auto joined = sync->members(members);
  if (auto h = sync->changed()) {
    for (auto& m : members)
      self->send(m.second, atom, *h);
  } else if (!joined.empty()) {
    auto h = sync->local();
    for (auto& r : joined)
      self->send(r, atom, h);
  }
}

/// The router's handlers; `tree` takes what it hands on.
caf::message_handler handlers(caf::event_based_actor* self,
                              topic_tree_interface tree,
                              cluster_routes_ptr routes,
                              const router_options& opts, handler_syncs sync) {
  auto sessions = opts.sessions;
  auto claims = opts.claims;
  auto mapping = opts.mapping;
  auto topic_idle_ms = opts.topic_idle_ms;
  auto locks = opts.locks;
  auto store = opts.store;
  auto values = std::make_shared<value_sync>();
  // What this node's own actors send (the agent).
  auto local = [self] {
    auto& sender = self->current_sender();
    return sender && sender->node() == self->node();
  };
  // What members send (a route update may be ahead of the join, but these
  // are not).
  auto member = [self, routes] {
    auto& sender = self->current_sender();
    return sender && routes->trusted_node(sender->node());
  };
  return {
      // The group's client-id registry (actors/cluster_claims.hpp).
      [=](claim_atom, std::string& id,
          std::string& node) -> caf::result<std::string> {
        if (!claims || !member())
          return node; // no handover: the claimer starts on its own
        auto rp = self->make_response_promise();
        rp.delegate(claims, claim_atom::value, std::move(id), std::move(node));
        return caf::delegated<std::string>{};
      },
      [=](claimed_atom, std::string& id, std::string& claimer,
          std::string& holder) {
        if (claims && member())
          self->send(claims, claimed_atom::value, std::move(id),
                     std::move(claimer), std::move(holder));
      },
      [=](release_atom, std::string& id, std::string& node) {
        if (claims && member())
          self->send(claims, release_atom::value, std::move(id),
                     std::move(node));
      },
      [=](claim_atom, std::vector<std::string>& ids, std::string& node) {
        if (claims && member())
          self->send(claims, claim_atom::value, std::move(ids),
                     std::move(node));
      },
      [=](handover_atom, std::string& id, bool resume,
          std::string& principal) -> caf::result<session_snapshot> {
        if (!claims || !member())
          return session_snapshot{};
        auto rp = self->make_response_promise();
        rp.delegate(claims, handover_atom::value, std::move(id), resume,
                    std::move(principal));
        return caf::delegated<session_snapshot>{};
      },
      [=](replica_atom, std::vector<session_replica>& rs) {
        if (claims && member())
          self->send(claims, replica_atom::value, std::move(rs));
      },
      [=](replica_atom, std::vector<std::string>& ids, std::string& holder) {
        if (claims && member())
          self->send(claims, replica_atom::value, std::move(ids),
                     std::move(holder));
      },
      [=](replica_atom, will_atom, std::vector<std::string>& ids,
          std::string& holder) -> caf::result<bool> {
        if (!claims || !member())
          return true;
        auto rp = self->make_response_promise();
        rp.delegate(claims, replica_atom::value, will_atom::value,
                    std::move(ids), std::move(holder));
        return caf::delegated<bool>{};
      },
      [=](fence_atom) -> caf::result<bool> {
        if (!claims || !member())
          return true;
        auto rp = self->make_response_promise();
        rp.delegate(claims, fence_atom::value);
        return caf::delegated<bool>{};
      },
      [=](publish_atom, publish_batch& b) -> caf::result<bool> {
        if (!take(self, *routes, b))
          return true;
        // Answered by the topic, once it has fanned the batch out.
        return self->delegate(tree, publish_atom::value, std::move(b));
      },
      [=](cl_owner_atom, publish_batch& b) -> caf::result<bool> {
        // A typed topic's publishes from another member, for this node to
        // take as the owner: fanned out here and sent to every member.
        if (!take(self, *routes, b))
          return true;
        b.remote = false;
        b.owned = true;
        return self->delegate(tree, publish_atom::value, std::move(b));
      },
      [=](cl_owner_atom,
          conditional_update& cu) -> caf::result<update_outcome> {
        if (!member() || !cu.msg)
          return update_outcome{"UNAVAILABLE", "not a member of the group"};
        return to_owned_topic<update_outcome>(self, tree, std::move(cu));
      },
      [=](cl_owner_atom, series_request& r) -> caf::result<series_answer> {
        // A member's append or edit of a time series, for this node to
        // make as its owner.
        if (!member() || !r.msg) {
          series_answer a;
          a.code = "UNAVAILABLE";
          a.message = "not a member of the group";
          return a;
        }
        return to_owned_topic<series_answer>(self, tree, std::move(r));
      },
      [=](cl_events_atom, publish_batch& b) -> caf::result<bool> {
        // The events a time series' owner made, kept here as made.
        if (!take(self, *routes, b))
          return true;
        b.events = true;
        return self->delegate(tree, publish_atom::value, std::move(b));
      },
      [=](cl_topic_atom, std::vector<cluster_topic>& ts) {
        // Topics the API added or removed on a member (from its API, or
        // through this node's agent when it joined).
        if (mapping && (local() || member()))
          take_topics(self, tree, *mapping, ts, topic_idle_ms);
      },
      [=](cl_handler_atom) {
        // Its own timer: this node's message handlers and missing-topic
        // handlers to the members, if they changed (all of them to a
        // member that joined); a member that left takes its own.
        if (self->current_sender() != self->ctrl())
          return;
        auto members = routes->member_routers();
        share_handlers(self, sync.message, members, cl_handler_atom::value);
        share_handlers(self, sync.missing, members, cl_missing_atom::value);
        send_values(self, tree, *values, members);
        self->delayed_send(self, handler_sync_period, cl_handler_atom::value);
      },
      [=](cl_values_atom, publish_batch& b) {
        // The values of typed topics a member owns: each topic here takes
        // its owner's.
        if (member())
          self->send(tree, cl_values_atom::value, std::move(b),
                     self->current_sender()->node());
      },
      [=](cl_handler_atom, cluster_handlers& h) {
        if (sync.message && member())
          sync.message->take(
              h, caf::actor_cast<caf::actor>(self->current_sender()));
      },
      [=](cl_missing_atom, cluster_handlers& h) {
        if (sync.missing && member())
          sync.missing->take(
              h, caf::actor_cast<caf::actor>(self->current_sender()));
      },
      // The group's locks (actors/locks.hpp), for this node as their
      // keeper.
      [=](cl_lock_atom, lock_acquire_atom, std::string& lock,
          std::string& session, caf::actor& connection, uint64_t wait_ms,
          bool on_disconnect) -> caf::result<std::string, uint64_t> {
        if (!locks || !member())
          return caf::make_error(caf::sec::feature_disabled);
        return self->delegate(locks, cl_lock_atom::value,
                              lock_acquire_atom::value, std::move(lock),
                              std::move(session), std::move(connection),
                              wait_ms, on_disconnect);
      },
      [=](cl_lock_atom, lock_release_atom, std::string& lock,
          std::string& session) -> caf::result<bool> {
        if (!locks || !member())
          return caf::make_error(caf::sec::feature_disabled);
        return self->delegate(locks, cl_lock_atom::value,
                              lock_release_atom::value, std::move(lock),
                              std::move(session));
      },
      [=](cl_lock_atom, lock_closed_atom, std::string& session) {
        if (locks && member())
          self->send(locks, cl_lock_atom::value, lock_closed_atom::value,
                     std::move(session), self->current_sender()->node());
      },
      [=](cl_lock_atom, update_atom, conditional_update& cu,
          std::string& session,
          std::vector<std::string>& names) -> caf::result<update_outcome> {
        if (!locks || !member())
          return update_outcome{"UNAVAILABLE", "not a member of the group"};
        return self->delegate(locks, cl_lock_atom::value, update_atom::value,
                              std::move(cu), std::move(session),
                              std::move(names));
      },
      // The group's security store (app/store_group.hpp), for this node as
      // its keeper.
      [=](cl_store_atom, http::request& req) -> caf::result<caf::message> {
        if (!store || !member())
          return caf::make_error(caf::sec::feature_disabled);
        return self->delegate(store, cl_store_atom::value, std::move(req));
      },
      [=](cl_store_atom, update_atom,
          std::string& text) -> caf::result<caf::message> {
        if (!store || !member())
          return caf::make_error(caf::sec::feature_disabled);
        return self->delegate(store, cl_store_atom::value, update_atom::value,
                              std::move(text));
      },
      [=](cl_store_atom, std::string& digest) -> caf::result<caf::message> {
        if (!store || !member())
          return caf::make_error(caf::sec::feature_disabled);
        return self->delegate(store, cl_store_atom::value, std::move(digest));
      },
      [=](cl_store_atom) {
        if (store && member())
          self->send(store, cl_store_atom::value);
      },
      [=](close_atom, const std::string& session,
          const std::string& filter) -> cluster_closed {
        // A member's sessions/close, for this node's sessions.
        if (!sessions || !member())
          return {};
        return close_sessions_here(*sessions, session, filter);
      },
      // sessions/get, set-properties and change-roles of a member, for a
      // session it does not have (actors/api_sessions.hpp).
      [=](cl_sget_atom,
          std::string& id) -> caf::result<std::string, std::string> {
        if (!sessions || !member())
          return {std::string{"NO_SUCH_SESSION"}, std::string{}};
        auto rp = self->make_response_promise<std::string, std::string>();
        get_session_here(self, *sessions, id, routes->self_node,
                         [rp](std::string code, std::string text) mutable {
                           rp.deliver(std::move(code), std::move(text));
                         });
        return rp;
      },
      [=](cl_sput_atom, std::string& id,
          std::vector<std::string>& kv) -> caf::result<std::string, bool> {
        if (sessions && member() && set_properties_here(*sessions, id, kv))
          return {std::string{}, true};
        return {std::string{"NO_SUCH_SESSION"}, false};
      },
      [=](cl_sroles_atom, std::string& id, std::vector<std::string>& add,
          std::vector<std::string>& remove)
          -> caf::result<std::string, std::vector<std::string>> {
        if (!sessions || !member())
          return {std::string{"NO_SUCH_SESSION"}, std::vector<std::string>{}};
        auto rp = self->make_response_promise<std::string,
                                              std::vector<std::string>>();
        change_roles_here(
            self, *sessions, id, std::move(add), std::move(remove),
            [rp](std::string code, std::vector<std::string> roles) mutable {
              rp.deliver(std::move(code), std::move(roles));
            });
        return rp;
      },
      [=](cl_sconn_atom,
          const std::string& id) -> std::tuple<std::string, caf::actor> {
        // sessions/subscribe of a member: the connection it then asks.
        auto r = sessions && member() ? sessions->get(id) : std::nullopt;
        if (!r)
          return {"NO_SUCH_SESSION", caf::actor{}};
        if (!r->connection)
          return {"NOT_CONNECTED", caf::actor{}};
        return {std::string{}, r->connection};
      },
      [=](kick_atom, std::string& id) {
        // The owner of a client id held on two nodes: this node's session
        // of it ends (actors/cluster_claims.hpp).
        if (claims && member())
          self->send(claims, kick_atom::value, std::move(id));
      },
      [=](cl_sreach_atom, const std::string& filter,
          uint32_t limit) -> cluster_reach {
        // A member's messages/send-to-filter, for this node's sessions.
        if (!sessions || !member())
          return {};
        return reach_sessions_here(
            *sessions, filter, std::min<uint32_t>(limit, max_filter_sessions));
      },
      [=](cl_sessions_atom, const std::string& filter, const std::string& after,
          uint32_t limit) -> cluster_session_page {
        if (!sessions || !member())
          return {};
        return list_sessions(*sessions, filter, after, limit);
      },
      [=](cl_sync_atom, const caf::actor& to) {
        // From the agent: a member's agent to send the retained messages.
        if (local() && to)
          sync_to(self, tree, mapping,
                  caf::actor_cast<caf::actor>(self->current_sender()), to);
      },
      [=](cl_sync_atom, publish_batch& b) {
        // From the agent: a member's retained messages, to fill in the
        // topics that have none.
        if (!local())
          return;
        auto& ms = b.msgs;
        ms.erase(std::remove_if(ms.begin(), ms.end(),
                                [](auto& m) {
                                  return !m || !m->retain || m->payload.empty();
                                }),
                 ms.end());
        if (ms.size() > sync_chunk)
          ms.resize(sync_chunk);
        if (!ms.empty())
          self->send(tree, cl_sync_atom::value, std::move(b));
      },
  };
}

caf::behavior router(caf::event_based_actor* self, topic_tree_interface tree,
                     cluster_routes_ptr routes, router_options opts) {
  drop_unexpected(self, routes, "the router");
  handler_syncs sync;
  if (opts.handlers)
    sync.message = std::make_shared<handler_sync>(
        opts.handlers, routes->self_node, self->node());
  if (opts.missing)
    sync.missing = std::make_shared<handler_sync>(
        handlers_ptr{opts.missing, &opts.missing->handlers}, routes->self_node,
        self->node());
  // The router's timer: handlers and typed topics' values to the members.
  self->send(self, cl_handler_atom::value);
  return census(self, metrics::actor_kind::cluster_router,
                handlers(self, std::move(tree), std::move(routes), opts,
                         std::move(sync)));
}

} // namespace

caf::actor spawn_cluster_router(caf::actor_system& sys,
                                topic_tree_interface tree,
                                cluster_routes_ptr routes,
                                router_options opts) {
  return sys.spawn(router, std::move(tree), std::move(routes), std::move(opts));
}

} // namespace castor
