#include "app/listener.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/broker_exit.hpp"
#include "actors/census.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

/// The listener's end, a multiplexer round after its shutdown.
using lstop_atom = caf::atom_constant<caf::atom("lstop")>;

/// A listening socket with SO_REUSEPORT (and SO_REUSEADDR), non-blocking:
/// several processes may listen on the same address and port, and the
/// kernel spreads the connections over them.
caf::expected<caf::io::network::native_socket>
open_reuse_port(const std::string& bind, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(bind.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    return caf::make_error(caf::sec::cannot_open_port, bind, gai_strerror(rc));
  std::string why = "no address";
  int fd = -1;
  for (auto a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  a->ai_protocol);
    if (fd < 0) {
      why = std::string{"socket: "} + std::strerror(errno);
      continue;
    }
    int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0
        || ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      why = std::string{"setsockopt: "} + std::strerror(errno);
    } else if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::string{"bind: "} + std::strerror(errno);
    } else if (::listen(fd, SOMAXCONN) != 0) {
      why = std::string{"listen: "} + std::strerror(errno);
    } else {
      break;
    }
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0)
    return caf::make_error(caf::sec::cannot_open_port, bind + ":" + service,
                           why);
  return fd;
}

/// The listener's doorman: CAF's own socket, or one with SO_REUSEPORT
/// (`reuse_port`). Returns the port it listens on.
caf::expected<uint16_t> open_doorman(listener_broker* self,
                                     const listener_config& cfg) {
  if (!cfg.reuse_port) {
    auto res = self->add_tcp_doorman(cfg.port, cfg.bind.c_str(), true);
    if (!res)
      return res.error();
    return res->second;
  }
  auto fd = open_reuse_port(cfg.bind, cfg.port);
  if (!fd)
    return fd.error();
  self->add_doorman(*fd);
  return cfg.port;
}

} // namespace

caf::behavior listener_actor(listener_broker* self, listener_config cfg,
                             connection_context_slot_ptr slot) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.ctx = slot->get();
  st.slot = std::move(slot);
  auto res = open_doorman(self, st.cfg);
  if (res)
    st.port = *res;
  else
    st.failure = res.error();
  self->set_down_handler([=](caf::down_msg& dm) {
    // The set's own reference keeps the handle valid: a lookup, not a scan
    // (a scan made closing N connections cost N^2 / 2 comparisons).
    self->state.connections.erase(caf::actor_cast<caf::actor>(dm.source));
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
            if (st.stopping) {
              self->close(msg.handle);
              return;
            }
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
            if (st.stopping)
              return;
            st.stopping = true;
            // Ending closes the doorman. CAF 0.17 registers a doorman with
            // epoll at the end of the multiplexer's round that launched
            // it; a close in that round (a shutdown right after the start)
            // cancels the registration but keeps the doorman's reference
            // to itself, and it leaks. So the listener ends a round later.
            auto me = caf::actor_cast<caf::actor>(self);
            self->backend().post(
                [me] { caf::anon_send(me, lstop_atom::value); });
          },
          [=](lstop_atom) { self->quit(); },
      });
}

} // namespace castor
