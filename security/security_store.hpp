#pragma once

// The security store: principals with salted password hashes, roles with
// global and path permissions, role inclusion, isolated paths and the policy
// for anonymous connections, read from YAML (format in docs/security.md).
//
// Path permissions a role assigns to a path apply to that path and every path
// below it, until a more specific assignment of the same role replaces them
// or an isolated path stops the inheritance. A role's default path
// permissions apply where none of its assignments does (and not below an
// isolated path). A role has the union of its own permissions and those of
// the roles it includes, each evaluated on its own.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "security/auth.hpp"
#include "security/password.hpp"
#include "security/permissions.hpp"

namespace castor::security {

/// A load error names the file, the line and the key.
struct store_error {
  std::string file;
  int line = 0;    ///< 1-based; 0 when unknown
  std::string key; ///< dotted path, e.g. "principals.admin.password"
  std::string message;
  std::string to_string() const; ///< "file:line: key: message"
};

/// What SCRAM-SHA-256 needs for one user (RFC 5802 section 3).
struct scram_credentials {
  std::string salt;
  uint32_t iterations = 0;
  std::string stored_key; ///< H(HMAC(SaltedPassword, "Client Key"))
  std::string server_key; ///< HMAC(SaltedPassword, "Server Key")
  /// Made up for a user the store does not know (see
  /// security_store::scram_credentials_for): no proof verifies against it.
  bool stand_in = false;
};

class security_store {
public:
  struct principal_entry {
    password_hash hash;
    std::vector<std::string> roles;
  };

  struct role_entry {
    permission_set global;
    permission_set default_path;
    std::map<std::string, permission_set, std::less<>> paths;
    std::vector<std::string> includes;
    /// This role and every role it includes, directly or not.
    std::vector<std::string> closure;
  };

  /// An empty store (refuses anonymous clients).
  security_store();

  /// Checks a user name and password. An unknown user abstains, so that a
  /// later handler in the chain may know it; a known user with a wrong
  /// password is denied. An empty user name follows the anonymous policy.
  /// An unknown user's password is hashed as well, against the stand-in
  /// hash, so that the answer takes as long as for a known user: the time
  /// does not tell which names exist.
  auth_result authenticate(std::string_view user,
                           std::string_view password) const;

  /// What a password of an unknown user is hashed against: the iteration
  /// count and hash length most principals of the store use (100,000 and
  /// 32 bytes without principals), a salt and hash that match no password.
  const password_hash& stand_in_hash() const noexcept {
    return stand_in_hash_;
  }

  /// Derives the stand-ins (stand_in_hash, SCRAM parameters of unknown
  /// users) from `secret` instead of from the store's own hashes, so that
  /// they stay the same when principals are added or removed.
  void set_stand_in_secret(std::string_view secret);

  /// The decision for a connection without credentials.
  auth_result authenticate_anonymous() const;

  /// Path permissions that `roles` grant on `path` (a topic name, levels
  /// separated by '/').
  permission_set permissions(const std::vector<std::string>& roles,
                             std::string_view path) const;

  /// Global permissions that `roles` grant.
  permission_set
  global_permissions(const std::vector<std::string>& roles) const;

  /// True if `roles` grant `p`; `path` is ignored for global permissions.
  bool can(const std::vector<std::string>& roles, permission p,
           std::string_view path = {}) const;

  /// The roles the store assigns to `user`, if it knows the user.
  std::optional<std::vector<std::string>> roles_of(std::string_view user) const;

  /// SCRAM-SHA-256 keys of `user`; nothing for an unknown user or a hash
  /// that is not 32 bytes long.
  std::optional<scram_credentials>
  scram_credentials_of(std::string_view user) const;

  /// The same, or for a user without SCRAM keys plausible stand-ins
  /// (`stand_in` set): the stand-in hash's iteration count, a salt derived
  /// from the name with the stand-in secret (the same for the same name
  /// every time) and keys that no proof matches. A client cannot tell an
  /// unknown name from a known one by the server-first message.
  scram_credentials scram_credentials_for(std::string_view user) const;

  const std::set<std::string, std::less<>>& isolated_paths() const noexcept {
    return isolated_;
  }

  bool anonymous_allowed() const noexcept {
    return anonymous_allowed_;
  }

  const std::vector<std::string>& anonymous_roles() const noexcept {
    return anonymous_roles_;
  }

  /// Takes the stand-in secret of `other`, if it was given one
  /// (set_stand_in_secret): an edited store keeps the stand-ins.
  void keep_stand_in_secret_of(const security_store& other);

  bool is_isolated(std::string_view path) const {
    return isolated_.count(path) > 0;
  }

  const std::map<std::string, principal_entry, std::less<>>&
  principals() const noexcept {
    return principals_;
  }

  const std::map<std::string, role_entry, std::less<>>& roles() const noexcept {
    return roles_;
  }

private:
  friend class store_loader;

  permission_set role_path_permissions(const role_entry& role,
                                       std::string_view path) const;

  /// Makes stand_in_hash_ from stand_in_key_ and the principals' hashes.
  void make_stand_ins();

  std::map<std::string, principal_entry, std::less<>> principals_;
  std::map<std::string, role_entry, std::less<>> roles_;
  std::set<std::string, std::less<>> isolated_;
  bool anonymous_allowed_ = false;
  std::vector<std::string> anonymous_roles_;
  /// Key for the stand-ins: by default a digest of every principal's hash
  /// (secret, and stable while the store is), else from
  /// set_stand_in_secret.
  std::string stand_in_key_;
  bool stand_in_secret_set_ = false;
  password_hash stand_in_hash_;
};

/// Reads a store from a YAML file. Unknown keys, unknown permissions or
/// roles, malformed hashes and role cycles are errors.
std::variant<security_store, store_error>
load_security_store(const std::string& path);

/// Same, from text; `name` stands in for the file name in errors.
std::variant<security_store, store_error>
parse_security_store(const std::string& text, const std::string& name);

} // namespace castor::security
