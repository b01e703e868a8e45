#include "actors/census.hpp"
#include "actors/session_registry.hpp"

#include <caf/io/all.hpp>
#include <caf/all.hpp>

#include "actors/broker_exit.hpp"
#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/store_records.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

/// Spawns the session actor of `client_id`, linked to the registry.
template <class Self>
session_interface spawn_session(Self* self, const std::string& client_id) {
  auto& st = self->state;
  auto me = caf::actor_cast<registry_interface>(self);
  if (st.cfg.on_io_thread) {
    auto s = self->home_system().middleman().spawn_broker(
        session_broker, client_id, me, st.tree, st.cfg);
    drain_mailbox_on_exit(s);
    self->link_to(s);
    return caf::actor_cast<session_interface>(std::move(s));
  }
  return caf::actor_cast<session_interface>(self->template spawn<caf::linked>(
      session_actor, client_id, me, st.tree, st.cfg));
}

/// The session of `client_id` has ended: its locks go (actors/locks.hpp).
/// Told before anything a new session of the client id could ask. Unless
/// the client id stays claimed (`claimed`: another session of it starts
/// here, or it moves to another node), the group's client-id registry
/// forgets that this node holds it. A session that moves on to another
/// node (`moves`) keeps its locks: they are the group's.
template <class Self>
void session_ended(Self* self, const std::string& client_id,
                   bool claimed = false, bool moves = false) {
  auto& opts = self->state.opts;
  if (opts.sessions)
    opts.sessions->ended(client_id);
  if (opts.locks && !moves)
    self->send(opts.locks, lock_closed_atom::value, client_id);
  if (opts.claims && !claimed)
    self->send(opts.claims, release_atom::value, client_id);
}

/// Ends what holds the session of `e` now: the session actor (a clean start
/// replaces it), or the connection that keeps it itself (taken over).
template <class Self>
void end_holder(Self* self, session_registry_state::entry& e,
                const std::string& client_id) {
  if (e.held())
    session_ended(self, client_id, true); // replaced here
  // Its record in the store goes from here, before the new session can
  // write one (the old session leaves it, docs/persistence.md).
  if (e.session && self->state.cfg.store)
    self->send(self->state.cfg.store->writer, store_atom::value,
               records::key(records::session_prefix, client_id), std::string{});
  if (e.connection)
    self->send(e.connection, kick_atom::value,
               mqtt::reason_code::session_taken_over, true);
  else if (e.session)
    send_as<session_interface>(self, caf::actor_cast<caf::actor>(e.session),
                               end_atom::value);
  e.session = nullptr;
  e.connection = nullptr;
}

} // namespace

/// The attach request comes from another principal than the one whose
/// session `e` is: refused (true, answered), or the old session ended so
/// that a clean one starts (false).
template <class Self>
bool refuse_foreign(Self* self, session_registry_state::entry& e,
                    const attach_request& ar, caf::response_promise& rp) {
  auto& st = self->state;
  if (!e.held() || e.principal == ar.principal)
    return false;
  auto& counters = st.opts.counters;
  if (st.opts.foreign_session == foreign_session_policy::refuse) {
    if (counters)
      broker_counters::add(counters->auth.foreign_session_refused);
    CASTOR_LOG(info, "session " << ar.req.client_id,
               "refused: the session belongs to another principal");
    attach_result refused;
    refused.refused = mqtt::reason_code::not_authorized;
    rp.deliver(std::move(refused));
    return true;
  }
  if (counters)
    broker_counters::add(counters->auth.foreign_session_replaced);
  CASTOR_LOG(info, "session " << ar.req.client_id,
             "ended for a connection of another principal");
  end_holder(self, e, ar.req.client_id);
  return false;
}

/// A CONNECT (claimed in the group, if any): refused, or the session to
/// attach to, whose attach answers `rp`.
template <class Self>
void open_session(Self* self, attach_request& ar, caf::response_promise& rp) {
  auto& st = self->state;
  auto& e = st.sessions[ar.req.client_id];
  if (refuse_foreign(self, e, ar, rp))
    return;
  e.principal = ar.principal;
  if (ar.req.clean_start || e.connection) {
    // A clean start replaces the session; a session without an actor
    // had expiry 0 and ends with its connection, which is taken over.
    end_holder(self, e, ar.req.client_id);
  }
  if (!e.session && ar.req.clean_start && ar.req.session_expiry == 0) {
    // Nothing to keep beyond the connection: no session actor until
    // the client subscribes (promote_atom).
    e.connection = ar.connection;
    e.attaches = 0;
    rp.deliver(attach_result{});
    return;
  }
  if (!e.session) {
    e.session = spawn_session(self, ar.req.client_id);
    e.attaches = 0;
  }
  ++e.attaches;
  rp.delegate(e.session, attach_atom::value, std::move(ar));
}

/// The client id connects on another node of the group as `principal`:
/// what holds its session here goes, handing over the session's state if
/// `resume` (answered once its connection has gone). A session of another
/// principal stays and the CONNECT there is refused, unless the policy
/// replaces foreign sessions (then the state does not move).
template <class Self>
caf::result<session_snapshot> hand_over(Self* self, const std::string& id,
                                        bool resume,
                                        const std::string& principal) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i == st.sessions.end() || !i->second.held())
    return session_snapshot{};
  auto& e = i->second;
  bool foreign = e.principal != principal;
  if (foreign && st.opts.foreign_session == foreign_session_policy::refuse) {
    if (st.opts.counters)
      broker_counters::add(st.opts.counters->auth.foreign_session_refused);
    CASTOR_LOG(info, "session " << id,
               "kept: a connection on another node is of another principal");
    session_snapshot refused;
    refused.refused = true;
    return refused;
  }
  CASTOR_LOG(debug, "session " << id, "moves to another node of the group");
  auto session = e.session;
  // Its locks move with it when it goes on there (with its state).
  session_ended(self, id, true, resume && !foreign && session);
  if (e.connection)
    self->send(e.connection, kick_atom::value,
               mqtt::reason_code::session_taken_over, true);
  st.sessions.erase(i);
  if (!session)
    return session_snapshot{};
  auto rp = self->make_response_promise();
  rp.delegate(session, handover_atom::value, resume && !foreign);
  return caf::delegated<session_snapshot>{};
}

/// The persistent sessions the store kept, back (offline): answered once
/// all of them are; then their due wills start their delay (so that the
/// subscribers of a will's topic are back before it goes).
template <class Self>
caf::result<bool> restore_sessions(Self* self,
                                   std::vector<stored_session>& xs) {
  struct pending {
    size_t left = 0;
    caf::response_promise rp;
    std::vector<session_interface> back;
  };
  auto p = std::make_shared<pending>();
  p->rp = self->make_response_promise();
  for (auto& x : xs) {
    auto& e = self->state.sessions[x.client_id];
    if (e.held())
      continue; // one record per client id: cannot happen
    e.principal = x.principal;
    e.session = spawn_session(self, x.client_id);
    e.attaches = 0;
    p->back.push_back(e.session);
    ++p->left;
    auto done = [p] {
      if (--p->left > 0)
        return;
      for (auto& s : p->back)
        caf::anon_send(s, restore_atom::value);
      p->rp.deliver(true);
    };
    self->request(e.session, caf::infinite, restore_atom::value, std::move(x))
        .then([done](bool) { done(); }, [done](caf::error&) { done(); });
  }
  if (p->left == 0)
    p->rp.deliver(true);
  return caf::delegated<bool>{};
}

template <class Self>
caf::behavior session_registry_impl(Self* self, topic_tree_interface tree,
                                    session_config cfg, registry_options opts) {
  self->state.tree = std::move(tree);
  self->state.cfg = cfg;
  self->state.opts = std::move(opts);
  if (!self->state.cfg.counters)
    self->state.cfg.counters = self->state.opts.counters;
  // Sessions are linked: they end with the registry. A session that fails
  // is forgotten.
  self->set_exit_handler([=](caf::exit_msg& em) {
    if (em.source == self->state.tree.address()
        || em.reason == caf::exit_reason::user_shutdown) {
      self->quit(em.reason);
      return;
    }
    if (em.reason == caf::exit_reason::normal)
      return;
    auto& m = self->state.sessions;
    for (auto i = m.begin(); i != m.end(); ++i) {
      if (i->second.session.address() == em.source) {
        session_ended(self, i->first);
        m.erase(i);
        break;
      }
    }
  });
  return implement<registry_interface>(
      [=](open_atom, attach_request& ar) -> caf::result<attach_result> {
        auto rp = self->make_response_promise();
        if (!self->state.opts.claims) {
          open_session(self, ar, rp);
          return caf::delegated<attach_result>{};
        }
        // In a group: the client id is claimed first, which serialises its
        // CONNECTs across the group and moves its session here.
        auto resume = !ar.req.clean_start;
        auto id = ar.req.client_id;
        auto principal = ar.principal;
        self->request(self->state.opts.claims, claim_request_timeout,
                      claim_atom::value, std::move(id), resume,
                      std::move(principal))
            .then(
                [=](session_snapshot& snap) mutable {
                  if (snap.refused) {
                    attach_result refused;
                    refused.refused = mqtt::reason_code::not_authorized;
                    rp.deliver(std::move(refused));
                    return;
                  }
                  if (snap.present)
                    ar.restore = std::make_shared<const session_snapshot>(
                        std::move(snap));
                  open_session(self, ar, rp);
                },
                [=](caf::error& err) mutable {
                  CASTOR_LOG(warning, "session " << ar.req.client_id,
                             "not claimed in the group (" << to_string(err)
                                                          << "): opened here");
                  open_session(self, ar, rp);
                });
        return caf::delegated<attach_result>{};
      },
      [=](handover_atom, const std::string& id, bool resume,
          const std::string& principal) -> caf::result<session_snapshot> {
        return hand_over(self, id, resume, principal);
      },
      [=](kick_atom, const std::string& id) {
        auto& st = self->state;
        auto i = st.sessions.find(id);
        if (i == st.sessions.end() || !i->second.held())
          return;
        CASTOR_LOG(info, "session " << id,
                   "ends: the group holds the client id's session on "
                   "another node (taken while the group was partitioned)");
        auto principal = i->second.principal;
        hand_over(self, id, false, principal);
      },
      [=](promote_atom, attach_request& ar) -> caf::result<attach_result> {
        // A connection without a session actor needs one (it subscribes).
        auto& st = self->state;
        auto rp = self->make_response_promise();
        auto i = st.sessions.find(ar.req.client_id);
        if (i == st.sessions.end() || !i->second.connection
            || i->second.connection != ar.connection) {
          // Taken over meanwhile: the connection is being kicked.
          rp.deliver(caf::make_error(caf::sec::request_receiver_down));
          return caf::delegated<attach_result>{};
        }
        auto& e = i->second;
        e.session = spawn_session(self, ar.req.client_id);
        e.connection = nullptr;
        e.attaches = 1;
        rp.delegate(e.session, attach_atom::value, std::move(ar));
        return caf::delegated<attach_result>{};
      },
      [=](detach_atom, const std::string& id) {
        // A connection without a session actor has closed.
        auto& m = self->state.sessions;
        auto i = m.find(id);
        if (i != m.end() && i->second.connection
            && caf::actor_cast<caf::strong_actor_ptr>(i->second.connection)
                   == self->current_sender()) {
          session_ended(self, id);
          m.erase(i);
        }
      },
      [=](expire_atom, const std::string& id, uint64_t attaches) -> bool {
        auto& m = self->state.sessions;
        auto i = m.find(id);
        auto sender = self->current_sender();
        if (i == m.end() || !i->second.session
            || caf::actor_cast<caf::strong_actor_ptr>(i->second.session)
                   != sender)
          return true; // not registered (replaced): it may end
        if (i->second.attaches != attaches)
          return false; // an attach is on its way
        session_ended(self, id);
        m.erase(i);
        // Its record goes from here, before a new session of the client id
        // can write one (the session leaves it).
        if (self->state.cfg.store)
          self->send(self->state.cfg.store->writer, store_atom::value,
                     records::key(records::session_prefix, id), std::string{});
        return true;
      },
      [=](revoke_atom) {
        for (auto& [id, e] : self->state.sessions)
          if (e.session)
            self->send(e.session, revoke_atom::value);
      },
      [=](revoke_atom, const std::string& principal) {
        for (auto& [id, e] : self->state.sessions)
          if (e.session && e.principal == principal)
            self->send(e.session, revoke_atom::value);
      },
      [=](stats_atom) -> uint64_t { return self->state.sessions.size(); },
      [=](restore_atom, std::vector<stored_session>& xs) -> caf::result<bool> {
        return restore_sessions(self, xs);
      });
}

caf::behavior session_registry(session_registry_actor* self,
                               topic_tree_interface tree, session_config cfg,
                               registry_options opts) {
  return census(
      self, metrics::actor_kind::session_registry,
      session_registry_impl(self, std::move(tree), cfg, std::move(opts)));
}

caf::behavior session_registry_broker(session_registry_broker_type* self,
                                      topic_tree_interface tree,
                                      session_config cfg,
                                      registry_options opts) {
  return census(
      self, metrics::actor_kind::session_registry,
      session_registry_impl(self, std::move(tree), cfg, std::move(opts)));
}

} // namespace castor
