#include "app/listener.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/broker_exit.hpp"
#include "actors/census.hpp"
#include "log/log.hpp"

namespace castor {

caf::behavior listener_actor(listener_broker* self, listener_config cfg,
                             connection_context_slot_ptr slot) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.ctx = slot->get();
  st.slot = std::move(slot);
  auto res = self->add_tcp_doorman(st.cfg.port, st.cfg.bind.c_str(), true);
  if (res)
    st.port = res->second;
  else
    st.failure = res.error();
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& conns = self->state.connections;
    for (auto i = conns.begin(); i != conns.end(); ++i) {
      if (i->address() == dm.source) {
        conns.erase(i);
        break;
      }
    }
  });
  return census(
      self, metrics::actor_kind::listener,
      {
          [=](open_atom) -> caf::result<uint16_t> {
            auto& st = self->state;
            if (st.failure)
              return st.failure;
            return st.port;
          },
          [=](const caf::io::new_connection_msg& msg) {
            auto& st = self->state;
            if (st.connections.size() >= st.cfg.max_connections) {
              broker_counters::add(st.ctx->counters->connections_refused);
              CASTOR_LOG(warning, "listener " << st.cfg.name,
                         "connection refused: max_connections ("
                             << st.cfg.max_connections << ") reached");
              self->close(msg.handle);
              return;
            }
            broker_counters::add(st.ctx->counters->connections_accepted);
            auto conn = self->fork(connection_actor, msg.handle, st.slot->get());
            drain_mailbox_on_exit(conn);
            self->monitor(conn);
            st.connections.insert(conn);
          },
          [=](stats_atom) -> uint64_t {
            // The connections it holds (GET /api/v1/listeners).
            return self->state.connections.size();
          },
          [=](const caf::io::acceptor_closed_msg&) {
            CASTOR_LOG(error, "listener " << self->state.cfg.name,
                       "acceptor closed");
          },
          [=](shutdown_atom) {
            auto& st = self->state;
            for (auto& c : st.connections)
              self->send(c, kick_atom::value,
                         mqtt::reason_code::server_shutting_down, false);
            st.connections.clear();
            self->quit();
          },
      });
}

} // namespace castor
