#pragma once

// One shared, swappable rights object (security::topic_access) per
// principal. Every connection of a principal, its session and the
// subscriptions it made in the topic tree hold the same object and ask it
// at the time of each check, so a change of the principal's roles or of
// the store reaches all of them at once: a reload, or an API that changes
// roles, calls `replace_store` or `set_roles` and nothing else. Checks
// see the new rights at once; subscriptions made under the old ones are
// checked again by whoever listens (`on_change`).
//
// The registry holds the objects weakly: a principal without connections
// or sessions costs nothing. Thread-safe (connections ask it on the I/O
// thread; a reload may come from anywhere).

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "security/security_store.hpp"
#include "security/topic_access.hpp"

namespace castor::security {

class rights_registry {
public:
  explicit rights_registry(std::shared_ptr<const security_store> store);

  /// The rights of `principal` (anonymous clients: ""), made on first use.
  /// `roles` are those the authenticating handler gave now; if they differ
  /// from the object's, the object takes them, for every holder (the
  /// principal's rights are what its latest login says they are).
  std::shared_ptr<topic_access>
  rights_of(const std::string& principal,
            const std::vector<std::string>& roles);

  /// Rights of one session of its own (sessions/change-roles): not shared
  /// with the principal's other sessions, but, like theirs, under the
  /// store in effect (a reload swaps it and keeps the session's roles).
  std::shared_ptr<topic_access>
  session_rights(std::vector<std::string> roles);

  /// The rights of `principal` if some connection or session holds them.
  std::shared_ptr<topic_access> find(const std::string& principal) const;

  /// New roles for one principal, now, wherever its rights are held.
  /// False if nobody holds them (the next login brings its own roles).
  bool set_roles(const std::string& principal, std::vector<std::string> roles);

  /// Roles for a principal after a store reload: the new roles, or nothing
  /// to keep the old ones (for instance principals that came with a token).
  using reroles_fn = std::function<std::optional<std::vector<std::string>>(
      const std::string& principal, const std::vector<std::string>& roles)>;

  /// Swaps the store for every principal held; `reroles` gives each its
  /// roles under the new store. By default a principal of the new store
  /// gets the roles it assigns, a principal of the old store that the new
  /// one no longer knows gets none, and any other (anonymous clients,
  /// token and certificate principals) keeps its roles.
  void replace_store(std::shared_ptr<const security_store> store,
                     reroles_fn reroles = {});

  /// Principals whose rights are held now.
  size_t size() const;

  /// Told after rights may have shrunk, so that subscriptions made under
  /// the old rights can be checked again: `principal` names the one
  /// principal whose roles changed (`set_roles`, or a login that brought
  /// other roles); nothing when the store was replaced (every principal,
  /// and sessions with roles of their own). Runs on the caller's thread,
  /// without the registry's lock; it must not block.
  using change_fn
      = std::function<void(const std::optional<std::string>& principal)>;
  void on_change(change_fn fn);

private:
  void changed(const std::optional<std::string>& principal) const;

  void prune_locked();

  mutable std::mutex mtx_;
  std::shared_ptr<const security_store> store_;
  std::unordered_map<std::string, std::weak_ptr<topic_access>> by_principal_;
  std::vector<std::weak_ptr<topic_access>> sessions_own_;
  size_t prune_at_ = 64;
  std::shared_ptr<const change_fn> on_change_;
};

} // namespace castor::security
