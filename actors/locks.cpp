#include "actors/census.hpp"
#include "actors/locks.hpp"

#include <chrono>
#include <map>
#include <set>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/iface/implement.hpp"
#include "protocol/constraint.hpp"

namespace castor {

namespace {

/// An acquire that waits for its lock.
struct lock_wait {
  std::string lock;
  std::string session;
  caf::actor_addr connection; ///< that asked
  bool on_disconnect = false;
  caf::typed_response_promise<std::string, uint64_t> rp;
};

/// How the holder of a lock acquired it.
struct lock_holding {
  std::string session;
  caf::actor_addr connection;
  bool on_disconnect = false; ///< released when `connection` goes
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
  /// The connections monitored (they wait, or hold with release_on
  /// disconnect).
  std::set<caf::actor_addr> watched;
  uint64_t next_id = 0;

  static inline const char* name = "locks";
};

using locks_actor = caf::stateful_actor<locks_state>;

void watch(locks_actor* self, const caf::actor& connection) {
  if (connection && self->state.watched.insert(connection.address()).second)
    self->monitor(connection);
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

caf::result<std::string, uint64_t> refused(const char* code) {
  return caf::result<std::string, uint64_t>(std::string{code}, uint64_t{0});
}

caf::behavior locks_behavior(locks_actor* self) {
  self->set_down_handler([=](caf::down_msg& dm) {
    // A connection has gone: its waits end (nobody would read the
    // answer), and the locks it holds with release_on disconnect go.
    auto& st = self->state;
    st.watched.erase(dm.source);
    std::vector<uint64_t> ended;
    for (auto& [id, w] : st.waits)
      if (w.connection == dm.source)
        ended.push_back(id);
    for (auto id : ended)
      end_wait(self, id, "LOCK_TIMEOUT");
    std::vector<std::pair<std::string, std::string>> dropped;
    for (auto& [lock, h] : st.held)
      if (h.on_disconnect && h.connection == dm.source)
        dropped.emplace_back(lock, h.session);
    for (auto& [lock, session] : dropped)
      release_held(self, lock, session);
  });
  return census(
      self, metrics::actor_kind::locks,
      implement<locks_interface>(
          [=](lock_acquire_atom, std::string& lock, std::string& session,
              caf::actor& connection, uint64_t wait_ms,
              bool on_disconnect) -> caf::result<std::string, uint64_t> {
            auto& st = self->state;
            auto h = st.held.find(lock);
            if (h == st.held.end() || h->second.session == session) {
              // Free, or held by the session already (its grant again; the
              // latest acquire says how it is held).
              auto mine = st.by_session.find(session);
              if (h == st.held.end() && mine != st.by_session.end()
                  && mine->second.size() >= max_session_locks
                  && !mine->second.count(lock))
                return refused("TOO_MANY_LOCKS");
              auto g = st.table.acquire(lock, session);
              st.held[lock]
                  = lock_holding{session, connection.address(), on_disconnect};
              st.by_session[session].insert(lock);
              if (on_disconnect)
                watch(self, connection);
              return caf::result<std::string, uint64_t>(std::string{},
                                                        g->token);
            }
            if (wait_ms == 0)
              return refused("LOCK_TIMEOUT");
            if (!st.table.waits(lock, session)) {
              auto mine = st.by_session.find(session);
              if (mine != st.by_session.end()
                  && mine->second.size() >= max_session_locks)
                return refused("TOO_MANY_LOCKS");
              if (st.table.waiting(lock) >= max_lock_waiters)
                return refused("LOCK_QUEUE_FULL");
            }
            st.table.acquire(lock, session); // queued (once per session)
            st.by_session[session].insert(lock);
            auto id = ++st.next_id;
            auto rp = self->make_response_promise<std::string, uint64_t>();
            st.waits.emplace(id, lock_wait{lock, session, connection.address(),
                                           on_disconnect, rp});
            st.queued[{lock, session}].push_back(id);
            watch(self, connection);
            self->delayed_send(self, std::chrono::milliseconds(wait_ms),
                               lock_wait_atom::value, id);
            return rp;
          },
          [=](lock_release_atom, std::string& lock, std::string& session) {
            if (!self->state.table.holds(lock, session))
              return false;
            release_held(self, lock, session);
            return true;
          },
          [=](lock_closed_atom, std::string& session) {
            auto& st = self->state;
            auto mine = st.by_session.find(session);
            if (mine == st.by_session.end())
              return;
            auto locks = mine->second;
            for (auto& lock : locks) {
              auto q = st.queued.find({lock, session});
              if (q == st.queued.end())
                continue;
              auto ids = q->second;
              for (auto id : ids)
                end_wait(self, id, "LOCK_TIMEOUT");
            }
            for (auto& lock : locks) {
              auto h = st.held.find(lock);
              if (h != st.held.end() && h->second.session == session)
                release_held(self, lock, session);
            }
            st.by_session.erase(session);
          },
          [=](update_atom, topic_interface& topic, conditional_update& cu,
              std::string& session,
              std::vector<std::string>& names) -> caf::result<update_outcome> {
            for (auto& name : names)
              if (self->state.table.holds(name, session))
                cu.held_locks.push_back(name);
            auto rp = self->make_response_promise();
            rp.delegate(topic, update_atom::value, std::move(cu));
            return caf::delegated<update_outcome>{};
          },
          [=](lock_wait_atom, uint64_t id) {
            end_wait(self, id, "LOCK_TIMEOUT");
          }));
}

} // namespace

locks_interface spawn_locks(caf::actor_system& sys) {
  return caf::actor_cast<locks_interface>(sys.spawn(locks_behavior));
}

} // namespace castor
