#pragma once

// The access rights of one principal, answered from the security store's
// path permissions for the principal's roles (docs/security.md,
// "Enforcement"). One object per principal (security/rights_registry.hpp)
// is shared by all its connections, its sessions and their subscriptions in
// the topic tree, and every check asks it at the time of the check: when
// `update` swaps the store or the roles (a reload, an API that changes a
// principal's roles) the next publish, subscribe and delivery see the new
// rights. Thread-safe; a check on the message path costs a shared lock
// (readers do not block each other: the sessions of one principal on
// several scheduler threads) and a hash lookup in a cache.
//
//   publish to a topic name     UPDATE_TOPIC (and MODIFY_TOPIC to create it)
//   subscribe to a filter       SELECT_TOPIC and READ_TOPIC on at least one
//                               topic name the filter matches
//   receive a topic's messages  READ_TOPIC on that topic name

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/channel.hpp"
#include "security/permissions.hpp"
#include "security/security_store.hpp"

namespace castor::security {

class topic_access final : public mqtt::access_policy {
public:
  /// Topic names whose permissions are remembered at once; the cache is
  /// emptied when it is full. One cache serves all the connections and the
  /// session of a principal (all anonymous devices, for instance).
  static constexpr size_t max_cached = 8192;

  topic_access(std::shared_ptr<const security_store> store,
               std::vector<std::string> roles);

  mqtt::publish_check check_publish(std::string_view topic) const override;
  bool may_subscribe(std::string_view filter) const override;
  bool may_read(std::string_view topic) const override;
  bool may_modify(std::string_view topic) const override;
  bool may_register_handler() const override;
  bool may_send_to_handler(std::string_view path) const override;
  bool may_send_to_session(std::string_view path) const override;
  bool may_view_sessions() const override;
  bool may_modify_sessions() const override;

  /// The path permissions on a topic name (cached).
  permission_set on(std::string_view topic) const;

  /// The roles as they are now.
  std::vector<std::string> roles() const;

  /// The store as it is now.
  std::shared_ptr<const security_store> store() const;

  /// Replaces the store and the roles; every check from now on uses them.
  void update(std::shared_ptr<const security_store> store,
              std::vector<std::string> roles);

  /// Counts the updates (0 before the first).
  uint64_t generation() const;

private:
  struct trie_node {
    std::map<std::string, trie_node, std::less<>> children;
  };

  /// What the rights are computed from; immutable once made (apart from
  /// the path tree, built once on the first wildcard subscription).
  struct basis {
    std::shared_ptr<const security_store> store;
    std::vector<std::string> roles;
    /// Every path that a role assigns permissions to, as a tree of levels:
    /// the only places where a path's permissions can differ from its
    /// parent's (besides isolated paths, which only take permissions
    /// away).
    trie_node paths;
    std::once_flag paths_built;

    bool any_match(const trie_node* n, const std::vector<std::string_view>& f,
                   size_t i, const std::string& prefix) const;
    bool any_below(const trie_node* n, const std::string& prefix) const;
    bool selectable(const std::string& topic) const;
  };

  std::shared_ptr<basis> current() const;

  mutable std::shared_mutex mtx_;
  std::shared_ptr<basis> basis_;
  uint64_t generation_ = 0;
  mutable std::unordered_map<std::string, permission_set> cache_;
};

} // namespace castor::security
