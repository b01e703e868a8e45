#pragma once

// A topic's publishes on their way to the other nodes of a node group
// (docs/cluster.md, "Routing"): once per batch and node whose filters
// match the topic's name (every member for a retained message), never
// once per remote subscriber. Part of the topic actor (actors/topic.cpp).

#include <algorithm>
#include <memory>
#include <vector>

#include <caf/response_promise.hpp>

#include "actors/cluster_router.hpp"
#include "actors/topic.hpp"

namespace castor {

/// The answer to a publisher's batch, given once the local fan-out and
/// every node it was forwarded to have taken it (or failed to answer in
/// time: a node that has gone does not hold up the publisher).
struct forward_acks {
  caf::response_promise rp;
  size_t left = 0;
  void done() {
    if (--left == 0)
      rp.deliver(true);
  }
};

/// Forwards a local batch of the topic `self` to the nodes that want it.
/// With `rp` (a QoS 1 or 2 batch) it returns what answers `rp`: the caller
/// calls done() once it has fanned the batch out here; null when the
/// batch went nowhere or was sent without an answer.
template <class Self>
std::shared_ptr<forward_acks>
forward_publishes(Self* self, const std::vector<mqtt::message_ptr>& msgs,
                  caf::response_promise* rp) {
  auto& st = self->state;
  auto& routes = *st.routes;
  auto v = routes.version();
  if (v != st.route_version) {
    st.route_targets = routes.targets(st.name, false);
    st.route_version = v;
  }
  bool retained = std::any_of(msgs.begin(), msgs.end(),
                              [](auto& m) { return m->retain; });
  std::vector<caf::actor> every;
  if (retained)
    every = routes.targets(st.name, true);
  auto& targets = retained ? every : st.route_targets;
  if (targets.empty())
    return nullptr;
  routes.forwarded_batches.fetch_add(targets.size(), std::memory_order_relaxed);
  routes.forwarded_messages.fetch_add(targets.size() * msgs.size(),
                                      std::memory_order_relaxed);
  publish_batch b{msgs};
  if (rp == nullptr) {
    for (auto& t : targets)
      self->send(t, push_atom::value, b);
    return nullptr;
  }
  auto acks = std::make_shared<forward_acks>();
  acks->rp = *rp;
  acks->left = targets.size() + 1;
  st.forwarding += targets.size();
  auto failed = [self, acks](caf::error&) {
    --self->state.forwarding;
    self->state.routes->forwards_failed.fetch_add(1, std::memory_order_relaxed);
    acks->done();
  };
  for (auto& t : targets)
    self->request(t, cluster_forward_timeout, publish_atom::value, b)
        .then(
            [self, acks](bool) {
              --self->state.forwarding;
              acks->done();
            },
            failed);
  return acks;
}

} // namespace castor
