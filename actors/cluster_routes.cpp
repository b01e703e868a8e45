#include "actors/cluster_routes.hpp"

#include <algorithm>

#include "protocol/topic.hpp"

namespace castor {

namespace {

/// Nodes that were members and are still taken from, at most.
constexpr size_t max_trusted = 1024;

} // namespace

std::vector<caf::actor> cluster_routes::targets(std::string_view topic,
                                                bool all) const {
  std::vector<caf::actor> out;
  std::lock_guard<std::mutex> guard{mtx_};
  if (all) {
    for (auto& [_, m] : members_)
      if (m.router)
        out.push_back(m.router);
    return out;
  }
  std::set<std::string_view> nodes;
  index_.for_each_match(topic, [&](std::string_view, const std::string& node,
                                   char&) { nodes.insert(node); });
  for (auto node : nodes) {
    auto i = members_.find(std::string{node});
    if (i != members_.end() && i->second.router)
      out.push_back(i->second.router);
  }
  return out;
}

void cluster_routes::set_member(const std::string& node, uint64_t incarnation,
                                caf::actor router) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& m = members_[node];
  if (m.incarnation != incarnation || m.router != router) {
    for (auto& f : m.filters)
      index_.erase(f, node);
    routes_ -= m.filters.size();
    m.filters.clear();
  }
  m.incarnation = incarnation;
  m.router = std::move(router);
  if (m.router
      && std::find(trusted_.begin(), trusted_.end(), m.router.node())
             == trusted_.end()) {
    if (trusted_.size() >= max_trusted)
      trusted_.erase(trusted_.begin());
    trusted_.push_back(m.router.node());
  }
  version_.fetch_add(1, std::memory_order_release);
}

void cluster_routes::apply(const std::string& node, bool full,
                           const std::vector<std::string>& add,
                           const std::vector<std::string>& remove) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = members_.find(node);
  if (i == members_.end())
    return;
  auto& m = i->second;
  if (full) {
    for (auto& f : m.filters)
      index_.erase(f, node);
    routes_ -= m.filters.size();
    m.filters.clear();
  }
  for (auto& f : remove)
    if (m.filters.erase(f) > 0) {
      index_.erase(f, node);
      --routes_;
    }
  for (auto& f : add) {
    // What topics are matched against: a valid filter, never shared.
    auto info = mqtt::parse_filter(f);
    if (!info.valid || info.shared || info.delta)
      continue;
    if (m.filters.insert(f).second) {
      index_.insert(f, node, 0);
      ++routes_;
    }
  }
  version_.fetch_add(1, std::memory_order_release);
}

void cluster_routes::drop_member(const std::string& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = members_.find(node);
  if (i == members_.end())
    return;
  for (auto& f : i->second.filters)
    index_.erase(f, node);
  routes_ -= i->second.filters.size();
  members_.erase(i);
  version_.fetch_add(1, std::memory_order_release);
}

bool cluster_routes::trusted_node(const caf::node_id& n) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::find(trusted_.begin(), trusted_.end(), n) != trusted_.end();
}

size_t cluster_routes::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return routes_;
}

void cluster_routes::set_agent(caf::actor agent) {
  std::lock_guard<std::mutex> guard{mtx_};
  agent_ = std::move(agent);
}

caf::actor cluster_routes::agent() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return agent_;
}

} // namespace castor
