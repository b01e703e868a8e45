#include "actors/cluster_handlers.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace castor {

handler_sync::handler_sync(handlers_ptr table, std::string self_node,
                           caf::node_id node)
    : table_(std::move(table)), self_(std::move(self_node)), node_(node) {}

cluster_handlers handler_sync::local() const {
  cluster_handlers h;
  h.node = self_;
  auto mine = table_->registrations(
      [&](const caf::actor& owner) { return owner && owner.node() == node_; });
  for (auto& [path, owner] : mine) {
    h.paths.push_back(path);
    h.owners.push_back(owner);
  }
  return h;
}

std::optional<cluster_handlers> handler_sync::changed() {
  auto c = table_->changes();
  if (c == sent_)
    return std::nullopt;
  sent_ = c;
  return local();
}

std::vector<caf::actor> handler_sync::members(
    const std::vector<std::pair<std::string, caf::actor>>& now) {
  std::map<std::string, caf::actor> next(now.begin(), now.end());
  std::vector<caf::actor> joined;
  for (auto& [node, router] : next) {
    auto i = members_.find(node);
    if (i == members_.end() || i->second != router)
      joined.push_back(router);
  }
  for (auto& [node, router] : members_) {
    auto i = next.find(node);
    if (i == next.end() || i->second != router)
      forget(node, router);
  }
  members_ = std::move(next);
  std::vector<std::string> stale;
  for (auto& [node, m] : remote_) {
    if (members_.count(node) > 0)
      m.unknown = 0;
    else if (++m.unknown > max_unknown_periods)
      stale.push_back(node);
  }
  for (auto& node : stale)
    forget(node);
  return joined;
}

void handler_sync::forget(const std::string& node, const caf::actor& router) {
  auto i = remote_.find(node);
  if (i == remote_.end() || (router && i->second.router != router))
    return;
  for (auto& [path, owner] : i->second.entries)
    table_->remove(path, owner, false);
  remote_.erase(i);
}

void handler_sync::take(const cluster_handlers& h, const caf::actor& router) {
  if (h.node == self_ || h.paths.size() != h.owners.size())
    return;
  forget(h.node);
  auto& mine = remote_[h.node];
  mine.router = router;
  auto n = std::min(h.paths.size(), max_member_handlers);
  if (n < h.paths.size())
    CASTOR_LOG(warning, "cluster",
               "member " << h.node << " has " << h.paths.size()
                         << " message handlers; " << n << " are taken");
  for (size_t i = 0; i < n; ++i) {
    auto& owner = h.owners[i];
    if (!owner || owner.node() == node_ || !valid_handler_path(h.paths[i]))
      continue;
    if (table_->add(h.paths[i], owner, false)
        == handlers_table::add_result::added)
      mine.entries.emplace_back(h.paths[i], owner);
  }
}

size_t handler_sync::remote_size() const {
  size_t n = 0;
  for (auto& [_, m] : remote_)
    n += m.entries.size();
  return n;
}

} // namespace castor
