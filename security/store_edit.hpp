#pragma once

// Editing the security store while the server runs (the REST API's
// principals and roles, docs/operations.md): a store as a document of
// names (store_doc), changed, written as the store's YAML and read back
// with the same checks as loading a store file (unknown permissions or
// roles, include cycles, malformed hashes), then saved atomically.

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "security/security_store.hpp"

namespace castor::security {

/// A store by names, in the shape of its YAML file.
struct store_doc {
  struct principal {
    std::string hash; ///< the text form (security/password.hpp)
    std::vector<std::string> roles;
  };
  struct role {
    std::vector<std::string> global;
    std::vector<std::string> default_path;
    std::map<std::string, std::vector<std::string>> paths;
    std::vector<std::string> includes;
  };
  std::map<std::string, principal> principals;
  std::map<std::string, role> roles;
  bool anonymous_allowed = false;
  std::vector<std::string> anonymous_roles;
  std::vector<std::string> isolated_paths;
};

/// The permission names of `s`, in declaration order.
std::vector<std::string> permission_names(permission_set s);

/// The document of a loaded store.
store_doc doc_of(const security_store& store);

/// The store's YAML file text (comments of the original are not kept).
std::string to_yaml(const store_doc& doc);

/// Reads `doc` back as a store, checked as a store file is (`name` stands
/// in for the file name in errors); the stand-ins of `previous` (its
/// stand-in secret, if it has one) carry over.
std::variant<security_store, store_error>
build_store(const store_doc& doc, const security_store& previous,
            const std::string& name);

/// The roles that name `role`: principals "principals.P", roles including
/// it "roles.R.includes", "anonymous.roles". Empty if none.
std::vector<std::string> uses_of(const store_doc& doc, const std::string& role);

/// Replaces the file `path` with `text` atomically: a temporary file in
/// the same directory, with the old file's mode (0600 for a new one),
/// written, fsync'ed and renamed over it, then the directory fsync'ed.
/// Nothing, or why it failed.
std::optional<std::string> save_file_atomically(const std::string& path,
                                                const std::string& text);

} // namespace castor::security
