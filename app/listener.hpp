#pragma once

// A TCP listener: an io::broker with one doorman that forks a connection
// broker per accepted connection, enforces max_connections, and on shutdown
// closes every connection it started (an actor system with live brokers
// would not terminate).
//
//   (open_atom)      -> uint16_t port, or an error if it could not listen
//   (stats_atom)     -> uint64_t: the connections it holds
//   (shutdown_atom)  -> kick every connection (server shutting down), quit
//   new_connection_msg  -> fork a connection broker (monitored), or close
//                          the socket at max_connections (counted, logged)
//   acceptor_closed_msg -> logged
//   down_msg            -> a connection has ended: forgotten
//
// New connections get the context in the listener's slot at the time they
// are accepted: a reload swaps it (new TLS certificates), while the
// connections already open keep the one they started with.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include <caf/io/broker.hpp>

#include "actors/connection.hpp"
#include "app/config.hpp"

namespace castor {

/// The context a listener gives its new connections; the server swaps it
/// from another thread. Thread-safe.
class connection_context_slot {
public:
  explicit connection_context_slot(connection_context_ptr ctx)
    : ctx_(std::move(ctx)) {
  }

  connection_context_ptr get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return ctx_;
  }

  void replace(connection_context_ptr ctx) {
    std::lock_guard<std::mutex> guard{mtx_};
    ctx_ = std::move(ctx);
  }

private:
  mutable std::mutex mtx_;
  connection_context_ptr ctx_;
};

using connection_context_slot_ptr = std::shared_ptr<connection_context_slot>;

struct listener_state {
  listener_config cfg;
  /// The context the listener started with: its counters and limits, which
  /// a swap never changes.
  connection_context_ptr ctx;
  connection_context_slot_ptr slot;
  uint16_t port = 0;
  caf::error failure;
  std::unordered_set<caf::actor> connections;
  /// Shut down: it ends in the multiplexer's next round (listener.cpp).
  bool stopping = false;

  static inline const char* name = "listener";
};

using listener_broker = caf::io::stateful_broker<listener_state>;

caf::behavior listener_actor(listener_broker* self, listener_config cfg,
                             connection_context_slot_ptr slot);

} // namespace castor
