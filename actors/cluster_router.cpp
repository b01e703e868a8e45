#include "actors/cluster_router.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/census.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

/// Whether the current message comes from a member's node; counts what it
/// carries if so.
bool take(caf::event_based_actor* self, cluster_routes& routes,
          publish_batch& b) {
  auto& sender = self->current_sender();
  if (!sender || !routes.member_node(sender->node())) {
    CASTOR_LOG(warning, "cluster",
               "dropped publishes from a node that is not a member");
    return false;
  }
  // A message that did not decode is dropped (load_message gives null).
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

caf::behavior router(caf::event_based_actor* self, topic_tree_interface tree,
                     cluster_routes_ptr routes) {
  return census(self, metrics::actor_kind::cluster_router,
                {
                    [=](publish_atom, publish_batch& b) -> caf::result<bool> {
                      if (!take(self, *routes, b))
                        return true;
                      // Answered by the topic, once it has fanned the batch
                      // out.
                      return self->delegate(tree, publish_atom::value,
                                            std::move(b));
                    },
                    [=](push_atom, publish_batch& b) {
                      if (take(self, *routes, b))
                        self->send(tree, push_atom::value, std::move(b));
                    },
                });
}

} // namespace

caf::actor spawn_cluster_router(caf::actor_system& sys,
                                topic_tree_interface tree,
                                cluster_routes_ptr routes) {
  return sys.spawn(router, std::move(tree), std::move(routes));
}

} // namespace castor
