#include "actors/session_registry.hpp"

#include <caf/io/all.hpp>
#include <caf/all.hpp>

#include "app/log.hpp"

namespace castor {

template <class Self>
caf::behavior session_registry_impl(Self* self, caf::actor tree,
                               session_config cfg) {
  self->state.tree = std::move(tree);
  self->state.cfg = cfg;
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
        m.erase(i);
        break;
      }
    }
  });
  return {
      [=](open_atom, attach_request& ar) {
        auto& st = self->state;
        auto& e = st.sessions[ar.req.client_id];
        if (e.session && ar.req.clean_start) {
          self->send(e.session, end_atom::value);
          e.session = nullptr;
        }
        if (!e.session) {
          if (st.cfg.on_io_thread) {
            e.session = self->home_system().middleman().spawn_broker(
                session_broker, ar.req.client_id,
                caf::actor_cast<caf::actor>(self), st.tree, st.cfg);
            self->link_to(e.session);
          } else {
            e.session = self->template spawn<caf::linked>(
                session_actor, ar.req.client_id,
                caf::actor_cast<caf::actor>(self), st.tree, st.cfg);
          }
          e.attaches = 0;
        }
        ++e.attaches;
        return self->delegate(e.session, attach_atom::value, std::move(ar));
      },
      [=](expire_atom, const std::string& id, uint64_t attaches) -> bool {
        auto& m = self->state.sessions;
        auto i = m.find(id);
        auto sender = self->current_sender();
        if (i == m.end()
            || caf::actor_cast<caf::strong_actor_ptr>(i->second.session)
                   != sender)
          return true; // not registered (replaced): it may end
        if (i->second.attaches != attaches)
          return false; // an attach is on its way
        m.erase(i);
        return true;
      },
      [=](stats_atom) -> uint64_t { return self->state.sessions.size(); },
  };
}

caf::behavior session_registry(session_registry_actor* self, caf::actor tree,
                               session_config cfg) {
  return session_registry_impl(self, std::move(tree), cfg);
}

caf::behavior session_registry_broker(session_registry_broker_type* self,
                                      caf::actor tree, session_config cfg) {
  return session_registry_impl(self, std::move(tree), cfg);
}

} // namespace castor
