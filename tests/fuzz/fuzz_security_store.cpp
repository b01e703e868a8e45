// Fuzzes the security store loader (security/security_store): any text
// either loads or is refused with an error naming the file, the line and the
// key; the loader never throws or crashes.
//
// Input: the store's YAML text. A loaded store is queried: role references
// resolve, inclusion closures are closed and acyclic, path permissions hold
// only path permissions and global ones only global ones, the permissions of
// several roles are the union of each role's, an assigned path grants at
// least what it assigns (below an isolated path only what is assigned
// there), and authentication follows the anonymous policy and the
// principals (passwords are checked only for cheap hashes).

#include "security/security_store.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

using namespace castor::security;

namespace {

const std::string name = "store.yaml";

bool only(permission_set s, bool path) {
  for (size_t i = 0; i < permission_count; ++i) {
    auto p = static_cast<permission>(i);
    if (s.contains(p) && is_path_permission(p) != path)
      return false;
  }
  return true;
}

permission_set union_of(const security_store& store,
                        const std::vector<std::string>& roles,
                        std::string_view path) {
  permission_set out;
  for (auto& r : roles)
    out |= store.permissions({r}, path);
  return out;
}

void check_store(const security_store& store) {
  auto& roles = store.roles();
  for (auto& [role, entry] : roles) {
    FUZZ_CHECK(!role.empty());
    FUZZ_CHECK(only(entry.global, false));
    FUZZ_CHECK(only(entry.default_path, true));
    // The closure: the role, every role it includes, closed, no cycle.
    std::set<std::string> closure(entry.closure.begin(), entry.closure.end());
    FUZZ_CHECK(closure.size() == entry.closure.size());
    FUZZ_CHECK(closure.count(role) == 1);
    for (auto& inc : entry.includes) {
      auto i = roles.find(inc);
      FUZZ_CHECK(i != roles.end());
      FUZZ_CHECK(closure.count(inc) == 1);
      for (auto& r : i->second.closure)
        FUZZ_CHECK(closure.count(r) == 1);
      FUZZ_CHECK(std::find(i->second.closure.begin(), i->second.closure.end(),
                           role)
                 == i->second.closure.end());
    }
    std::vector<std::string> just{role};
    FUZZ_CHECK(only(store.global_permissions(just), false));
    for (auto& [path, perms] : entry.paths) {
      FUZZ_CHECK(!path.empty()
                 && path.find_first_of("+#") == std::string::npos);
      FUZZ_CHECK(only(perms, true));
      auto got = store.permissions(just, path);
      FUZZ_CHECK(only(got, true));
      // At least what the role assigns here.
      permission_set both = got;
      both |= perms;
      FUZZ_CHECK(both == got);
      for (size_t i = 0; i < permission_count; ++i) {
        auto p = static_cast<permission>(i);
        if (perms.contains(p))
          FUZZ_CHECK(store.can(just, p, path));
      }
      // Below it, the same unless something more specific or isolated
      // comes between.
      auto below = path + "/x";
      bool assigned_below = store.is_isolated(below);
      for (auto& r : entry.closure)
        assigned_below = assigned_below || roles.at(r).paths.count(below) > 0;
      if (!assigned_below)
        FUZZ_CHECK(store.permissions(just, below) == got);
    }
  }
  std::vector<std::string> names;
  for (auto& [role, entry] : roles)
    names.push_back(role);
  if (names.size() > 8)
    names.resize(8);
  std::vector<std::string> paths{"a", "a/b", "", "/", "x/y/z"};
  for (auto& [role, entry] : roles)
    for (auto& [path, perms] : entry.paths)
      if (paths.size() < 16)
        paths.push_back(path);
  for (auto& path : paths) {
    auto all = store.permissions(names, path);
    FUZZ_CHECK(all == union_of(store, names, path));
    FUZZ_CHECK(store.permissions({}, path).empty());
    FUZZ_CHECK(store.permissions({"no such role"}, path).empty());
  }
  for (auto& [user, entry] : store.principals()) {
    FUZZ_CHECK(!user.empty());
    for (auto& r : entry.roles)
      FUZZ_CHECK(roles.count(r) == 1);
    auto assigned = store.roles_of(user);
    FUZZ_CHECK(assigned && *assigned == entry.roles);
    auto keys = store.scram_credentials_of(user);
    FUZZ_CHECK(keys.has_value() == (entry.hash.hash.size() == 32));
    if (keys) {
      FUZZ_CHECK(keys->salt == entry.hash.salt);
      FUZZ_CHECK(keys->iterations == entry.hash.iterations);
      FUZZ_CHECK(keys->stored_key.size() == 32
                 && keys->server_key.size() == 32);
    }
    FUZZ_CHECK(entry.hash.iterations >= min_pbkdf2_iterations
               && entry.hash.iterations <= max_pbkdf2_iterations);
    if (entry.hash.iterations <= 2000) {
      auto r = store.authenticate(user, "not the password");
      // A wrong password is denied (the odds of guessing it are nil).
      FUZZ_CHECK(r.decision == auth_decision::deny);
    }
  }
  auto anon = store.authenticate_anonymous();
  FUZZ_CHECK(anon.decision != auth_decision::abstain);
  FUZZ_CHECK(anon.principal.empty());
  auto empty = store.authenticate("", "whatever");
  FUZZ_CHECK(empty.decision == anon.decision && empty.roles == anon.roles);
  if (anon.decision == auth_decision::allow)
    for (auto& r : anon.roles)
      FUZZ_CHECK(roles.count(r) == 1);
  if (store.principals().count("nobody at all") == 0)
    FUZZ_CHECK(store.authenticate("nobody at all", "x").decision
               == auth_decision::abstain);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = parse_security_store(text, name);
  if (auto err = std::get_if<store_error>(&result)) {
    FUZZ_CHECK(err->file == name);
    FUZZ_CHECK(!err->message.empty());
    size_t lines = 1;
    for (char c : text)
      lines += c == '\n' || c == '\r' ? 1 : 0;
    FUZZ_CHECK(err->line >= 0 && static_cast<size_t>(err->line) <= lines + 1);
    FUZZ_CHECK(err->to_string().rfind(name, 0) == 0);
    return 0;
  }
  check_store(std::get<security_store>(result));
  return 0;
}
