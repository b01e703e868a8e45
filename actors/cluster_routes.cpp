#include "actors/cluster_routes.hpp"

#include <algorithm>

#include "protocol/topic.hpp"

namespace castor {

namespace {

/// Nodes that were members and are still taken from, at most.
constexpr size_t max_trusted = 1024;

/// What topic names are matched against for the share group `key`
/// ("group\0filter"); empty if the key is not a valid share group.
std::string share_subject(const std::string& key) {
  auto sep = key.find('\0');
  if (sep == std::string::npos)
    return {};
  auto full = "$share/" + key.substr(0, sep) + "/" + key.substr(sep + 1);
  auto info = mqtt::parse_filter(full);
  if (!info.valid || !info.shared)
    return {};
  return std::string{info.subject};
}

std::string share_index_key(const std::string& node, const std::string& key) {
  return node + '\0' + key;
}

} // namespace

route_plan cluster_routes::plan(std::string_view topic) const {
  route_plan p;
  std::lock_guard<std::mutex> guard{mtx_};
  std::set<std::string_view> nodes;
  index_.for_each_match(topic, [&](std::string_view, const std::string& node,
                                   char&) { nodes.insert(node); });
  for (auto node : nodes) {
    auto i = members_.find(std::string{node});
    if (i != members_.end() && i->second.router)
      p.plain.push_back(i->second.router);
  }
  // By group and node name, so that every plan of one table is alike.
  std::map<std::string_view, std::map<std::string_view, share_entry*>> groups;
  share_index_.for_each_match(
      topic, [&](std::string_view, const std::string&, share_entry& e) {
        groups[e.key][e.node] = &e;
      });
  for (auto& [key, on] : groups) {
    share_route r{std::string{key}, {}};
    for (auto& [node, e] : on) {
      auto i = members_.find(std::string{node});
      if (i != members_.end() && i->second.router && e->members > 0)
        r.nodes.emplace_back(i->second.router, e->members);
    }
    if (!r.nodes.empty())
      p.shares.push_back(std::move(r));
  }
  return p;
}

caf::actor cluster_routes::lock_keeper() const {
  std::pair<uint64_t, std::string_view> best{self_incarnation.load(),
                                             self_node};
  caf::actor keeper;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [node, m] : members_) {
    std::pair<uint64_t, std::string_view> key{m.incarnation, node};
    if (m.router && key < best) {
      best = key;
      keeper = m.router;
    }
  }
  return keeper;
}

void cluster_routes::forget_routes(const std::string& node, member& m) {
  for (auto& f : m.filters)
    index_.erase(f, node);
  for (auto& [key, _] : m.shares)
    share_index_.erase(share_subject(key), share_index_key(node, key));
  routes_ -= m.filters.size() + m.shares.size();
  m.filters.clear();
  m.shares.clear();
}

std::vector<caf::actor> cluster_routes::routers() const {
  std::vector<caf::actor> out;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [_, m] : members_)
    if (m.router)
      out.push_back(m.router);
  return out;
}

std::vector<std::pair<std::string, caf::actor>>
cluster_routes::member_routers() const {
  std::vector<std::pair<std::string, caf::actor>> out;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [node, m] : members_)
    if (m.router)
      out.emplace_back(node, m.router);
  return out;
}

void cluster_routes::set_member(const std::string& node, uint64_t incarnation,
                                caf::actor router) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& m = members_[node];
  if (m.incarnation != incarnation || m.router != router)
    forget_routes(node, m);
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
                           const std::vector<std::string>& remove,
                           const std::vector<cluster_share>& shares) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = members_.find(node);
  if (i == members_.end())
    return;
  auto& m = i->second;
  if (full)
    forget_routes(node, m);
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
  for (auto& sh : shares) {
    auto subject = share_subject(sh.key);
    if (subject.empty())
      continue;
    auto ikey = share_index_key(node, sh.key);
    if (sh.members == 0) {
      if (m.shares.erase(sh.key) > 0) {
        share_index_.erase(subject, ikey);
        --routes_;
      }
      continue;
    }
    if (m.shares.insert_or_assign(sh.key, sh.members).second)
      ++routes_;
    share_index_.insert(subject, ikey, share_entry{node, sh.key, sh.members});
  }
  version_.fetch_add(1, std::memory_order_release);
}

void cluster_routes::drop_member(const std::string& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = members_.find(node);
  if (i == members_.end())
    return;
  forget_routes(i->first, i->second);
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
