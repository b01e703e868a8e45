#include "security/topic_access.hpp"

#include "protocol/topic.hpp"

namespace castor::security {

namespace {

std::vector<std::string_view> split_levels(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    auto slash = s.find('/');
    out.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos)
      return out;
    s.remove_prefix(slash + 1);
  }
}

/// A level name that no path of the store uses: it stands for every
/// topic level the store says nothing about.
const std::string fresh_level = "\x01";

std::string join(const std::string& prefix, std::string_view level) {
  if (prefix.empty())
    return std::string{level};
  std::string out = prefix;
  out += '/';
  out += level;
  return out;
}

} // namespace

topic_access::topic_access(std::shared_ptr<const security_store> store,
                           std::vector<std::string> roles)
    : basis_(std::make_shared<basis>()) {
  basis_->store = std::move(store);
  basis_->roles = std::move(roles);
}

std::shared_ptr<topic_access::basis> topic_access::current() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return basis_;
}

std::vector<std::string> topic_access::roles() const {
  return current()->roles;
}

std::shared_ptr<const security_store> topic_access::store() const {
  return current()->store;
}

uint64_t topic_access::generation() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return generation_;
}

void topic_access::update(std::shared_ptr<const security_store> store,
                          std::vector<std::string> roles) {
  auto next = std::make_shared<basis>();
  next->store = std::move(store);
  next->roles = std::move(roles);
  std::unique_lock<std::shared_mutex> guard{mtx_};
  basis_ = std::move(next);
  ++generation_;
  cache_.clear();
}

permission_set topic_access::on(std::string_view topic) const {
  std::string key{topic};
  std::shared_ptr<basis> b;
  {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (auto i = cache_.find(key); i != cache_.end())
      return i->second;
    b = basis_;
  }
  auto perms = b->store->permissions(b->roles, topic);
  std::unique_lock<std::shared_mutex> guard{mtx_};
  if (b != basis_)
    return perms; // updated meanwhile: not for the cache
  if (cache_.size() >= max_cached)
    cache_.clear();
  cache_.emplace(std::move(key), perms);
  return perms;
}

mqtt::publish_check topic_access::check_publish(std::string_view topic) const {
  auto perms = on(topic);
  if (!perms.contains(permission::update_topic))
    return mqtt::publish_check::deny;
  if (perms.contains(permission::modify_topic))
    return mqtt::publish_check::allow;
  return mqtt::publish_check::allow_existing;
}

bool topic_access::may_read(std::string_view topic) const {
  return on(topic).contains(permission::read_topic);
}

bool topic_access::may_modify(std::string_view topic) const {
  return on(topic).contains(permission::modify_topic);
}

bool topic_access::may_register_handler() const {
  auto b = current();
  return !b->store || b->store->can(b->roles, permission::register_handler);
}

bool topic_access::may_view_sessions() const {
  auto b = current();
  return !b->store || b->store->can(b->roles, permission::view_session);
}

bool topic_access::may_modify_sessions() const {
  auto b = current();
  return !b->store || b->store->can(b->roles, permission::modify_session);
}

bool topic_access::may_send_to_handler(std::string_view path) const {
  return on(path).contains(permission::send_to_message_handler);
}

bool topic_access::may_send_to_session(std::string_view path) const {
  return on(path).contains(permission::send_to_session);
}

bool topic_access::basis::selectable(const std::string& topic) const {
  auto perms = store->permissions(roles, topic);
  return perms.contains(permission::select_topic)
         && perms.contains(permission::read_topic);
}

bool topic_access::may_subscribe(std::string_view filter) const {
  auto info = mqtt::parse_filter(filter);
  if (!info.wildcard) {
    auto perms = on(filter);
    return perms.contains(permission::select_topic)
           && perms.contains(permission::read_topic);
  }
  // Is there a topic name that the filter matches and the roles may select
  // and read? A name's permissions depend only on its longest prefix that
  // is an assigned path (isolated paths only take permissions away), so it
  // is enough to try the names that follow the assigned paths as far as the
  // filter allows, with a fresh level wherever a wildcard leaves them.
  auto b = current();
  std::call_once(b->paths_built, [&b] {
    for (auto& [name, role] : b->store->roles())
      for (auto& [path, perms] : role.paths) {
        auto* n = &b->paths;
        for (auto level : split_levels(path))
          n = &n->children[std::string{level}];
      }
  });
  auto levels = split_levels(filter);
  return b->any_match(&b->paths, levels, 0, std::string{});
}

bool topic_access::basis::any_match(const trie_node* n,
                             const std::vector<std::string_view>& f, size_t i,
                             const std::string& prefix) const {
  if (i == f.size())
    return selectable(prefix);
  auto level = f[i];
  // Wildcards in the first level do not match names starting with '$'.
  auto skip = [&](const std::string& name) {
    return i == 0 && !name.empty() && name[0] == '$';
  };
  if (level == "#") {
    // "a/#" matches "a" itself, and every name below it.
    if (i > 0 && selectable(prefix))
      return true;
    if (selectable(join(prefix, fresh_level)))
      return true;
    if (n != nullptr)
      for (auto& [name, child] : n->children)
        if (!skip(name) && any_below(&child, join(prefix, name)))
          return true;
    return false;
  }
  if (level == "+") {
    if (n != nullptr)
      for (auto& [name, child] : n->children)
        if (!skip(name) && any_match(&child, f, i + 1, join(prefix, name)))
          return true;
    return any_match(nullptr, f, i + 1, join(prefix, fresh_level));
  }
  const trie_node* next = nullptr;
  if (n != nullptr)
    if (auto c = n->children.find(level); c != n->children.end())
      next = &c->second;
  return any_match(next, f, i + 1, join(prefix, level));
}

bool topic_access::basis::any_below(const trie_node* n,
                             const std::string& prefix) const {
  if (selectable(prefix) || selectable(join(prefix, fresh_level)))
    return true;
  for (auto& [name, child] : n->children)
    if (any_below(&child, join(prefix, name)))
      return true;
  return false;
}

} // namespace castor::security
