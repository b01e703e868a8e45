#pragma once

// The access rights of one authenticated client, answered from the security
// store's path permissions for the client's roles (docs/security.md,
// "Enforcement"). Immutable after construction apart from a small cache, and
// safe to share between the connection and the topic tree.
//
//   publish to a topic name     UPDATE_TOPIC (and MODIFY_TOPIC to create it)
//   subscribe to a filter       SELECT_TOPIC and READ_TOPIC on at least one
//                               topic name the filter matches
//   receive a topic's messages  READ_TOPIC on that topic name

#include <map>
#include <memory>
#include <mutex>
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
  /// emptied when it is full.
  static constexpr size_t max_cached = 1024;

  topic_access(std::shared_ptr<const security_store> store,
               std::vector<std::string> roles);

  mqtt::publish_check check_publish(std::string_view topic) const override;
  bool may_subscribe(std::string_view filter) const override;
  bool may_read(std::string_view topic) const override;

  /// The path permissions on a topic name (cached).
  permission_set on(std::string_view topic) const;

  const std::vector<std::string>& roles() const noexcept {
    return roles_;
  }

private:
  struct trie_node {
    std::map<std::string, trie_node, std::less<>> children;
  };

  bool any_match(const trie_node* n, const std::vector<std::string_view>& f,
                 size_t i, const std::string& prefix) const;
  bool any_below(const trie_node* n, const std::string& prefix) const;
  bool selectable(const std::string& topic) const;

  std::shared_ptr<const security_store> store_;
  std::vector<std::string> roles_;
  /// Every path that a role assigns permissions to, as a tree of levels:
  /// the only places where a path's permissions can differ from its
  /// parent's (besides isolated paths, which only take permissions away).
  /// Built on the first wildcard subscription.
  mutable trie_node paths_;
  mutable std::once_flag paths_built_;
  mutable std::mutex mtx_;
  mutable std::unordered_map<std::string, permission_set> cache_;
};

} // namespace castor::security
