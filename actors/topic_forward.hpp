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

/// Batches a topic has forwarded to one node and not had answered, at
/// most: past it, its QoS 0 batches for that node are dropped (and
/// counted), so that a node that falls behind never makes a queue grow
/// without bound on either side. QoS 1 and 2 batches still go: their
/// publishers wait for the answers.
inline constexpr uint32_t max_forwards_in_flight = 64;

/// A node's answer to a forwarded batch (or its error, or none in time).
template <class Self>
void forward_answered(Self* self, const caf::actor& node,
                      const std::shared_ptr<forward_acks>& acks, bool failed) {
  auto& st = self->state;
  auto i = st.forwards_in_flight.find(node);
  if (i != st.forwards_in_flight.end() && --i->second == 0)
    st.forwards_in_flight.erase(i);
  if (failed)
    st.routes->forwards_failed.fetch_add(1, std::memory_order_relaxed);
  if (acks)
    acks->done();
}

/// Forwards a local batch of the topic `self` to the nodes that want it.
/// For a batch with QoS 1 or 2 messages and `rp`, it returns what answers
/// `rp`: the caller calls done() once it has fanned the batch out here;
/// null when the batch went nowhere or its answer need not wait.
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
  // The publisher waits for the nodes only for QoS 1 and 2 (a QoS 0 batch
  // may ask for an answer too: the connection's flow control, which the
  // fan-out here answers).
  bool wait = rp && std::any_of(msgs.begin(), msgs.end(), [](auto& m) {
                return m->qos > 0;
              });
  std::shared_ptr<forward_acks> acks;
  if (wait) {
    acks = std::make_shared<forward_acks>();
    acks->rp = *rp;
    acks->left = 1; // the fan-out here
  }
  publish_batch b{msgs};
  size_t sent = 0;
  for (auto& t : targets) {
    auto& n = st.forwards_in_flight[t];
    if (!acks && n >= max_forwards_in_flight) {
      routes.forwards_dropped.fetch_add(msgs.size(), std::memory_order_relaxed);
      continue;
    }
    ++n;
    ++sent;
    if (acks)
      ++acks->left;
    // Every batch is answered (QoS 0 ones too), once the node's topic has
    // fanned it out: that is what bounds the batches in flight.
    self->request(t, cluster_forward_timeout, publish_atom::value, b)
        .then([self, t, acks](bool) { forward_answered(self, t, acks, false); },
              [self, t, acks](caf::error&) {
                forward_answered(self, t, acks, true);
              });
  }
  routes.forwarded_batches.fetch_add(sent, std::memory_order_relaxed);
  routes.forwarded_messages.fetch_add(sent * msgs.size(),
                                      std::memory_order_relaxed);
  return sent > 0 ? acks : nullptr;
}

} // namespace castor
