#include "actors/census.hpp"
#include "actors/locks.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "protocol/constraint.hpp"

namespace castor {

namespace {

/// How long a member waits for the keeper's answer beyond the wait_ms of
/// an acquire (the API waits 5 s beyond it).
constexpr std::chrono::seconds keeper_margin{4};
/// How long a member waits for the keeper's answer to a release or an
/// update (the API waits topic_request_timeout for the update).
constexpr std::chrono::seconds keeper_timeout{20};

/// An acquire that waits for its lock.
struct lock_wait {
  std::string lock;
  std::string session;
  caf::actor_addr connection; ///< that asked
  bool on_disconnect = false;
  caf::response_promise rp; ///< (code, token)
};

/// How the holder of a lock acquired it.
struct lock_holding {
  std::string session;
  /// The connection that acquired it; null once that has gone.
  caf::actor_addr connection;
  bool on_disconnect = false; ///< released when `connection` goes
};

/// A request this member handed to the keeper: `failed` answers it if the
/// keeper's node goes before the keeper does.
struct relay {
  caf::actor_addr keeper;
  std::function<void(const caf::error&)> failed;
};

/// An update whose constraint names locks, in its turn: once its topic is
/// known (the keeper looks it up in this node's tree), the locks the
/// session holds are filled in and it goes to the topic.
struct pass_on {
  conditional_update cu;
  std::string session;
  std::vector<std::string> names;
  topic_interface topic;
  bool ready = false;
  caf::response_promise rp; ///< update_outcome
};

struct locks_state {
  lock_table table;
  /// Lock -> its holder (every lock the table grants).
  std::map<std::string, lock_holding> held;
  /// The waits by id (ids grow: in the order asked).
  std::map<uint64_t, lock_wait> waits;
  /// (lock, session) -> the ids of its waits.
  std::map<std::pair<std::string, std::string>, std::vector<uint64_t>> queued;
  /// Session -> the locks it holds or waits for.
  std::map<std::string, std::set<std::string>> by_session;
  /// The actors monitored: connections that wait or hold a lock, and the
  /// keeper's router.
  std::set<caf::actor_addr> watched;
  uint64_t next_id = 0;

  // -- in a node group -------------------------------------------------------

  topic_tree_interface tree;
  cluster_routes_ptr routes;
  /// The keeper's router (null: this node), as of routes version
  /// `keeper_version`; whether this node kept the locks then.
  caf::actor keeper;
  uint64_t keeper_version = 0;
  bool keeping = true;
  /// Requests handed to the keeper, by id.
  std::map<uint64_t, relay> relays;
  /// Updates in the order they came (by id), each sent on when it and every
  /// one before it is ready.
  std::map<uint64_t, pass_on> passes;

  static inline const char* name = "locks";
};

using locks_actor = caf::stateful_actor<locks_state>;

uint64_t clock_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void watch(locks_actor* self, const caf::actor_addr& a) {
  if (a && self->state.watched.insert(a).second)
    self->monitor(a);
}

/// The keeper's router, null when this node keeps the group's locks (and
/// outside a group). A node that becomes the keeper starts its tokens
/// above the clock.
caf::actor keeper(locks_actor* self) {
  auto& st = self->state;
  if (!st.routes)
    return {};
  auto v = st.routes->version();
  if (v != st.keeper_version) {
    st.keeper_version = v;
    st.keeper = st.routes->lock_keeper();
    if (!st.keeper && !st.keeping)
      st.table.raise_tokens(clock_us());
    st.keeping = !st.keeper;
  }
  return st.keeper;
}

/// Records a request handed to the keeper's router `k`; returns its id.
uint64_t track(locks_actor* self, const caf::actor& k,
               std::function<void(const caf::error&)> failed) {
  auto& st = self->state;
  auto id = ++st.next_id;
  st.relays.emplace(id, relay{k.address(), std::move(failed)});
  watch(self, k.address());
  return id;
}

/// Whether the request `id` is still unanswered; it is no longer tracked.
bool untrack(locks_actor* self, uint64_t id) {
  return self->state.relays.erase(id) > 0;
}

/// Whether the keeper answered `err` because it speaks a version without
/// the group's locks (it answers every message it does not know so).
bool older_keeper(const caf::error& err) {
  return err == caf::sec::unexpected_message;
}

/// Forgets that `session` has `lock` unless it still holds or waits for it.
void tidy(locks_actor* self, const std::string& session,
          const std::string& lock) {
  auto& st = self->state;
  if (st.table.holds(lock, session) || st.table.waits(lock, session))
    return;
  auto i = st.by_session.find(session);
  if (i == st.by_session.end())
    return;
  i->second.erase(lock);
  if (i->second.empty())
    st.by_session.erase(i);
}

/// The table granted a lock to a session that waits: its waits are
/// answered with the token (the first of them says how it holds it).
void granted(locks_actor* self, std::optional<lock_table::grant> g) {
  auto& st = self->state;
  while (g) {
    auto q = st.queued.find({g->lock, g->session});
    if (q != st.queued.end()) {
      auto ids = std::move(q->second);
      st.queued.erase(q);
      bool first = true;
      for (auto id : ids) {
        auto w = st.waits.find(id);
        if (w == st.waits.end())
          continue;
        if (first)
          st.held[g->lock] = lock_holding{g->session, w->second.connection,
                                          w->second.on_disconnect};
        first = false;
        w->second.rp.deliver(std::string{}, g->token);
        st.waits.erase(w);
      }
      if (!first)
        return;
    }
    // Nobody waits for it any longer: the next one.
    auto lock = g->lock;
    auto session = g->session;
    g = st.table.release(lock, session);
    tidy(self, session, lock);
  }
}

/// Releases `lock` of its holder `session`; the next waiter is granted.
void release_held(locks_actor* self, const std::string& lock,
                  const std::string& session) {
  auto& st = self->state;
  st.held.erase(lock);
  auto next = st.table.release(lock, session);
  tidy(self, session, lock);
  granted(self, std::move(next));
}

/// Ends the wait `id` without a grant: answered with `code`, out of the
/// queue.
void end_wait(locks_actor* self, uint64_t id, const char* code) {
  auto& st = self->state;
  auto w = st.waits.find(id);
  if (w == st.waits.end())
    return;
  auto lock = w->second.lock;
  auto session = w->second.session;
  w->second.rp.deliver(std::string{code}, uint64_t{0});
  st.waits.erase(w);
  auto q = st.queued.find({lock, session});
  if (q != st.queued.end()) {
    auto& ids = q->second;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (!ids.empty())
      return; // another request of the session still waits
    st.queued.erase(q);
  }
  if (!st.table.holds(lock, session))
    st.table.release(lock, session); // out of the queue
  tidy(self, session, lock);
}

/// An acquire, decided here (as the keeper, or outside a group): `rp` is
/// answered when the lock is granted or the wait ends.
void acquire_here(locks_actor* self, const std::string& lock,
                  const std::string& session, const caf::actor& connection,
                  uint64_t wait_ms, bool on_disconnect,
                  caf::response_promise rp) {
  auto& st = self->state;
  auto refuse
      = [&](const char* code) { rp.deliver(std::string{code}, uint64_t{0}); };
  auto h = st.held.find(lock);
  if (h == st.held.end() || h->second.session == session) {
    // Free, or held by the session already (its grant again; the latest
    // acquire says how it is held).
    auto mine = st.by_session.find(session);
    if (h == st.held.end() && mine != st.by_session.end()
        && mine->second.size() >= max_session_locks
        && !mine->second.count(lock))
      return refuse("TOO_MANY_LOCKS");
    auto g = st.table.acquire(lock, session);
    st.held[lock] = lock_holding{session, connection.address(), on_disconnect};
    st.by_session[session].insert(lock);
    watch(self, connection.address()); // marked gone when it goes
    rp.deliver(std::string{}, g->token);
    return;
  }
  if (wait_ms == 0)
    return refuse("LOCK_TIMEOUT");
  if (!st.table.waits(lock, session)) {
    auto mine = st.by_session.find(session);
    if (mine != st.by_session.end() && mine->second.size() >= max_session_locks)
      return refuse("TOO_MANY_LOCKS");
    if (st.table.waiting(lock) >= max_lock_waiters)
      return refuse("LOCK_QUEUE_FULL");
  }
  st.table.acquire(lock, session); // queued (once per session)
  st.by_session[session].insert(lock);
  auto id = ++st.next_id;
  st.waits.emplace(id, lock_wait{lock, session, connection.address(),
                                 on_disconnect, std::move(rp)});
  st.queued[{lock, session}].push_back(id);
  watch(self, connection.address());
  self->delayed_send(self, std::chrono::milliseconds(wait_ms),
                     lock_wait_atom::value, id);
}

bool release_here(locks_actor* self, const std::string& lock,
                  const std::string& session) {
  if (!self->state.table.holds(lock, session))
    return false;
  release_held(self, lock, session);
  return true;
}

/// The session has ended on the node `origin`: its waits and the locks it
/// holds through a connection of that node, or through one that has gone,
/// go. (What it holds through a live connection of another node is the
/// session's there now: a session that moved, or started again.)
void closed_here(locks_actor* self, const std::string& session,
                 const caf::node_id& origin) {
  auto& st = self->state;
  auto mine = st.by_session.find(session);
  if (mine == st.by_session.end())
    return;
  auto ours
      = [&](const caf::actor_addr& c) { return !c || c.node() == origin; };
  auto locks = mine->second;
  for (auto& lock : locks) {
    auto q = st.queued.find({lock, session});
    if (q == st.queued.end())
      continue;
    auto ids = q->second;
    for (auto id : ids) {
      auto w = st.waits.find(id);
      if (w != st.waits.end() && ours(w->second.connection))
        end_wait(self, id, "LOCK_TIMEOUT");
    }
  }
  for (auto& lock : locks) {
    auto h = st.held.find(lock);
    if (h != st.held.end() && h->second.session == session
        && ours(h->second.connection))
      release_held(self, lock, session);
  }
  for (auto& lock : locks)
    tidy(self, session, lock);
}

/// Sends on the updates whose turn has come: the locks the session holds
/// now are filled in, and the topic answers the requester.
void pass_ready(locks_actor* self) {
  auto& st = self->state;
  while (!st.passes.empty() && st.passes.begin()->second.ready) {
    auto p = std::move(st.passes.begin()->second);
    st.passes.erase(st.passes.begin());
    if (!p.topic) {
      p.rp.deliver(
          update_outcome{"UNAVAILABLE", "the topic could not be reached"});
      continue;
    }
    for (auto& name : p.names)
      if (st.table.holds(name, p.session))
        p.cu.held_locks.push_back(name);
    p.rp.delegate(p.topic, update_atom::value, std::move(p.cu));
  }
}

/// An update in its turn behind those before it; `topic` null: the
/// keeper looks it up in this node's tree.
void pass_update(locks_actor* self, topic_interface topic,
                 conditional_update&& cu, std::string&& session,
                 std::vector<std::string>&& names, caf::response_promise rp) {
  auto& st = self->state;
  auto id = ++st.next_id;
  bool ready = topic || !st.tree || !cu.msg;
  auto name = cu.msg ? cu.msg->topic : std::string{};
  st.passes.emplace(id,
                    pass_on{std::move(cu), std::move(session), std::move(names),
                            std::move(topic), ready, std::move(rp)});
  if (ready)
    return pass_ready(self);
  auto done = [self, id](topic_interface t) {
    auto i = self->state.passes.find(id);
    if (i == self->state.passes.end())
      return;
    i->second.topic = std::move(t);
    i->second.ready = true;
    pass_ready(self);
  };
  self->request(st.tree, lookup_timeout, lookup_atom::value, name, true)
      .then([=](topic_interface& t) { done(std::move(t)); },
            [=](caf::error&) { done(topic_interface{}); });
}

caf::behavior locks_behavior(locks_actor* self, topic_tree_interface tree,
                             cluster_routes_ptr routes) {
  self->state.tree = std::move(tree);
  self->state.routes = std::move(routes);
  self->state.table.raise_tokens(clock_us());
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    st.watched.erase(dm.source);
    // The keeper's node has gone: what it was asked is answered.
    std::vector<std::function<void(const caf::error&)>> failed;
    for (auto i = st.relays.begin(); i != st.relays.end();) {
      if (i->second.keeper == dm.source) {
        failed.push_back(std::move(i->second.failed));
        i = st.relays.erase(i);
      } else {
        ++i;
      }
    }
    for (auto& f : failed)
      f(caf::make_error(caf::sec::request_receiver_down));
    // A connection has gone: its waits end (nobody would read the
    // answer), and the locks it holds with release_on disconnect go; the
    // others it holds are its session's until that ends.
    std::vector<uint64_t> ended;
    for (auto& [id, w] : st.waits)
      if (w.connection == dm.source)
        ended.push_back(id);
    for (auto id : ended)
      end_wait(self, id, "LOCK_TIMEOUT");
    std::vector<std::pair<std::string, std::string>> dropped;
    for (auto& [lock, h] : st.held) {
      if (h.connection != dm.source)
        continue;
      if (h.on_disconnect)
        dropped.emplace_back(lock, h.session);
      else
        h.connection = caf::actor_addr{};
    }
    for (auto& [lock, session] : dropped)
      release_held(self, lock, session);
  });
  return census(
      self, metrics::actor_kind::locks,
      implement<locks_interface>(
          [=](lock_acquire_atom, std::string& lock, std::string& session,
              caf::actor& connection, uint64_t wait_ms,
              bool on_disconnect) -> caf::result<std::string, uint64_t> {
            auto rp = self->make_response_promise();
            auto k = keeper(self);
            if (!k) {
              acquire_here(self, lock, session, connection, wait_ms,
                           on_disconnect, rp);
              return caf::delegated<std::string, uint64_t>{};
            }
            auto id = track(
                self, k, [rp](const caf::error& e) mutable { rp.deliver(e); });
            self->request(k, std::chrono::milliseconds(wait_ms) + keeper_margin,
                          cl_lock_atom::value, lock_acquire_atom::value, lock,
                          session, connection, wait_ms, on_disconnect)
                .then(
                    [=](std::string& code, uint64_t token) mutable {
                      if (!untrack(self, id))
                        return;
                      self->state.table.raise_tokens(token);
                      rp.deliver(std::move(code), token);
                    },
                    [=](caf::error& err) mutable {
                      if (!untrack(self, id))
                        return;
                      if (older_keeper(err))
                        return acquire_here(self, lock, session, connection,
                                            wait_ms, on_disconnect, rp);
                      rp.deliver(err);
                    });
            return caf::delegated<std::string, uint64_t>{};
          },
          [=](lock_release_atom, std::string& lock,
              std::string& session) -> caf::result<bool> {
            auto k = keeper(self);
            if (!k)
              return release_here(self, lock, session);
            auto rp = self->make_response_promise();
            auto id = track(
                self, k, [rp](const caf::error& e) mutable { rp.deliver(e); });
            self->request(k, keeper_timeout, cl_lock_atom::value,
                          lock_release_atom::value, lock, session)
                .then(
                    [=](bool held) mutable {
                      if (untrack(self, id))
                        rp.deliver(held);
                    },
                    [=](caf::error& err) mutable {
                      if (!untrack(self, id))
                        return;
                      if (older_keeper(err))
                        return rp.deliver(release_here(self, lock, session));
                      rp.deliver(err);
                    });
            return caf::delegated<bool>{};
          },
          [=](lock_closed_atom, std::string& session) {
            // This node's session: decided here too, for what this node
            // kept (outside a group, or as the keeper, or before).
            closed_here(self, session, self->node());
            if (auto k = keeper(self))
              self->send(k, cl_lock_atom::value, lock_closed_atom::value,
                         std::move(session));
          },
          [=](update_atom, topic_interface& topic, conditional_update& cu,
              std::string& session,
              std::vector<std::string>& names) -> caf::result<update_outcome> {
            auto rp = self->make_response_promise();
            auto k = keeper(self);
            if (!k) {
              pass_update(self, std::move(topic), std::move(cu),
                          std::move(session), std::move(names), rp);
              return caf::delegated<update_outcome>{};
            }
            auto unreachable = [rp](const caf::error&) mutable {
              rp.deliver(update_outcome{
                  "UNAVAILABLE",
                  "the node that keeps the locks did not answer in time"});
            };
            auto id = track(self, k, unreachable);
            self->request(k, keeper_timeout, cl_lock_atom::value,
                          update_atom::value, cu, session, names)
                .then(
                    [=](update_outcome& o) mutable {
                      if (untrack(self, id))
                        rp.deliver(std::move(o));
                    },
                    [=](caf::error& err) mutable {
                      if (!untrack(self, id))
                        return;
                      if (!older_keeper(err))
                        return unreachable(err);
                      pass_update(self, topic, std::move(cu),
                                  std::move(session), std::move(names), rp);
                    });
            return caf::delegated<update_outcome>{};
          },
          [=](lock_wait_atom, uint64_t id) {
            end_wait(self, id, "LOCK_TIMEOUT");
          },
          // -- as the group's keeper, for the other members ----------------
          [=](cl_lock_atom, lock_acquire_atom, std::string& lock,
              std::string& session, caf::actor& connection, uint64_t wait_ms,
              bool on_disconnect) -> caf::result<std::string, uint64_t> {
            keeper(self); // tokens above the clock if it just became keeper
            auto rp = self->make_response_promise();
            acquire_here(self, lock, session, connection, wait_ms,
                         on_disconnect, rp);
            return caf::delegated<std::string, uint64_t>{};
          },
          [=](cl_lock_atom, lock_release_atom, std::string& lock,
              std::string& session) {
            return release_here(self, lock, session);
          },
          [=](cl_lock_atom, lock_closed_atom, std::string& session,
              caf::node_id& origin) { closed_here(self, session, origin); },
          [=](cl_lock_atom, update_atom, conditional_update& cu,
              std::string& session,
              std::vector<std::string>& names) -> caf::result<update_outcome> {
            auto rp = self->make_response_promise();
            pass_update(self, topic_interface{}, std::move(cu),
                        std::move(session), std::move(names), rp);
            return caf::delegated<update_outcome>{};
          }));
}

} // namespace

locks_interface spawn_locks(caf::actor_system& sys, topic_tree_interface tree,
                            cluster_routes_ptr routes) {
  return caf::actor_cast<locks_interface>(
      sys.spawn(locks_behavior, std::move(tree), std::move(routes)));
}

} // namespace castor
