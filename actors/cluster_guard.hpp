#pragma once

// What the node agent and the router do with a message they have no
// handler for. CAF's defaults print it, answer the sender with an error,
// and stop the actor on an error message that nothing handles: one stray
// answer from another node (or another version's message during a rolling
// upgrade) would take a node out of its group. Here such a message is
// counted (castor_cluster_unexpected_messages_total), logged (the first
// ten, then every thousandth), and dropped;
// a request among them gets sec::unexpected_message back, so that its
// sender's error handler runs instead of waiting for the timeout.

#include <memory>

#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

#include "actors/cluster_routes.hpp"
#include "log/log.hpp"

namespace castor {

namespace cluster_detail {

/// Counts one unexpected message: whether to log it.
inline bool count_unexpected(cluster_routes& routes) {
  auto n = routes.unexpected_messages.fetch_add(1, std::memory_order_relaxed);
  return n < 10 || n % 1000 == 0;
}

} // namespace cluster_detail

/// Installs the drop-and-count handlers on `self` (`who` names it in the
/// log). Call it before the actor's behavior is returned.
inline void drop_unexpected(caf::scheduled_actor* self,
                            std::shared_ptr<cluster_routes> routes,
                            const char* who) {
  self->set_default_handler(
      [routes, who](caf::scheduled_actor* s,
                    caf::message_view& x) -> caf::result<caf::message> {
        if (cluster_detail::count_unexpected(*routes)) {
          auto from = s->current_sender();
          auto what = x.content().stringify();
          if (what.size() > 200)
            what = what.substr(0, 200) + "...";
          CASTOR_LOG(
              warning, "cluster",
              who << " dropped an unexpected message from "
                  << (from ? to_string(from->node()) : "an unknown sender")
                  << ": " << what);
        }
        if (s->current_message_id().is_request())
          return caf::sec::unexpected_message;
        return caf::make_message(); // no answer to a plain message
      });
  self->set_error_handler([routes, who](caf::scheduled_actor*, caf::error& e) {
    if (cluster_detail::count_unexpected(*routes))
      CASTOR_LOG(warning, "cluster",
                 who << " dropped an error message: " << to_string(e));
  });
}

} // namespace castor
