#include "security/security_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "security/crypto.hpp"

namespace castor::security {

std::string store_error::to_string() const {
  std::string out = file;
  if (line > 0)
    out += ':' + std::to_string(line);
  out += ": ";
  if (!key.empty())
    out += key + ": ";
  out += message;
  return out;
}

security_store::security_store() {
  make_stand_ins();
}

// -- queries ------------------------------------------------------------------

auth_result security_store::authenticate(std::string_view user,
                                         std::string_view password) const {
  if (user.empty())
    return authenticate_anonymous();
  auto i = principals_.find(user);
  if (i == principals_.end()) {
    // As long as a known user's wrong password takes.
    verify_password(stand_in_hash_, password);
    return auth_result::abstain("unknown principal");
  }
  if (!verify_password(i->second.hash, password))
    return auth_result::deny("wrong password");
  return auth_result::allow(std::string(user), i->second.roles);
}

auth_result security_store::authenticate_anonymous() const {
  if (!anonymous_allowed_)
    return auth_result::deny("anonymous connections are not allowed");
  return auth_result::allow({}, anonymous_roles_);
}

permission_set
security_store::role_path_permissions(const role_entry& role,
                                      std::string_view path) const {
  std::string_view p = path;
  for (;;) {
    if (auto i = role.paths.find(p); i != role.paths.end())
      return i->second;
    if (isolated_.count(p) > 0)
      return {};
    auto slash = p.rfind('/');
    if (slash == std::string_view::npos)
      break;
    p = p.substr(0, slash);
  }
  return role.default_path;
}

namespace {

// Every role reachable from `roles`, each once.
std::set<std::string_view> expand(
    const std::map<std::string, security_store::role_entry, std::less<>>& all,
    const std::vector<std::string>& roles) {
  std::set<std::string_view> out;
  for (auto& name : roles)
    if (auto i = all.find(name); i != all.end())
      for (auto& r : i->second.closure)
        out.insert(r);
  return out;
}

} // namespace

permission_set
security_store::permissions(const std::vector<std::string>& roles,
                            std::string_view path) const {
  permission_set out;
  for (auto name : expand(roles_, roles))
    out |= role_path_permissions(roles_.find(name)->second, path);
  return out;
}

permission_set security_store::global_permissions(
    const std::vector<std::string>& roles) const {
  permission_set out;
  for (auto name : expand(roles_, roles))
    out |= roles_.find(name)->second.global;
  return out;
}

bool security_store::can(const std::vector<std::string>& roles, permission p,
                         std::string_view path) const {
  if (is_path_permission(p))
    return permissions(roles, path).contains(p);
  return global_permissions(roles).contains(p);
}

std::optional<std::vector<std::string>>
security_store::roles_of(std::string_view user) const {
  auto i = principals_.find(user);
  if (i == principals_.end())
    return std::nullopt;
  return i->second.roles;
}

std::optional<scram_credentials>
security_store::scram_credentials_of(std::string_view user) const {
  auto i = principals_.find(user);
  if (i == principals_.end() || i->second.hash.hash.size() != 32)
    return std::nullopt;
  auto& salted = i->second.hash.hash;
  scram_credentials out;
  out.salt = i->second.hash.salt;
  out.iterations = i->second.hash.iterations;
  out.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  out.server_key = hmac_sha256(salted, "Server Key");
  return out;
}

scram_credentials
security_store::scram_credentials_for(std::string_view user) const {
  if (auto known = scram_credentials_of(user))
    return std::move(*known);
  // Stable per name, unguessable without the key, and shaped like a real
  // entry: same salt length, the iteration count most principals have.
  std::string name{user};
  scram_credentials out;
  out.salt = hmac_sha256(stand_in_key_, "salt:" + name).substr(0, 16);
  out.iterations = stand_in_hash_.iterations;
  auto salted = hmac_sha256(stand_in_key_, "salted:" + name);
  out.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  out.server_key = hmac_sha256(salted, "Server Key");
  out.stand_in = true;
  return out;
}

void security_store::set_stand_in_secret(std::string_view secret) {
  stand_in_key_ = hmac_sha256(secret, "castor stand-in key");
  stand_in_secret_set_ = true;
  make_stand_ins();
}

void security_store::keep_stand_in_secret_of(const security_store& other) {
  if (!other.stand_in_secret_set_)
    return;
  stand_in_key_ = other.stand_in_key_;
  stand_in_secret_set_ = true;
  make_stand_ins();
}

void security_store::make_stand_ins() {
  if (!stand_in_secret_set_) {
    std::string all = "castor stand-in key";
    for (auto& [name, p] : principals_) {
      all += p.hash.salt;
      all += p.hash.hash;
    }
    stand_in_key_ = sha256(all);
  }
  // The most common (iterations, length) among the principals; the larger
  // on a tie, so that an unknown name never answers faster than most.
  std::map<std::pair<uint32_t, size_t>, size_t> seen;
  for (auto& [name, p] : principals_)
    ++seen[{p.hash.iterations, p.hash.hash.size()}];
  std::pair<uint32_t, size_t> pick{default_pbkdf2_iterations, 32};
  size_t best = 0;
  for (auto& [params, n] : seen) {
    if (n >= best) {
      best = n;
      pick = params;
    }
  }
  stand_in_hash_.iterations = pick.first;
  stand_in_hash_.salt = hmac_sha256(stand_in_key_, "hash salt").substr(0, 16);
  auto h = hmac_sha256(stand_in_key_, "hash");
  while (h.size() < pick.second)
    h += hmac_sha256(stand_in_key_, h);
  stand_in_hash_.hash = h.substr(0, pick.second);
}

// -- loading ------------------------------------------------------------------

namespace {

struct load_failure {
  store_error err;
};

} // namespace

class store_loader {
public:
  explicit store_loader(std::string name) : name_(std::move(name)) {}

  security_store load(const YAML::Node& root) {
    if (!root || root.IsNull()) {
      store_.make_stand_ins();
      return std::move(store_);
    }
    if (!root.IsMap())
      fail(root, "", "the store must be a mapping");
    for (auto kv : root) {
      auto key = scalar_key(kv.first, "");
      if (key == "principals")
        load_principals(kv.second);
      else if (key == "roles")
        load_roles(kv.second);
      else if (key == "anonymous")
        load_anonymous(kv.second);
      else if (key == "isolated_paths")
        load_isolated(kv.second);
      else
        fail(kv.first, key,
             "unknown key (expected principals, roles, anonymous or "
             "isolated_paths)");
    }
    check_references();
    compute_closures();
    store_.make_stand_ins();
    return std::move(store_);
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         std::string message) {
    store_error err;
    err.file = name_;
    auto mark = at.Mark();
    err.line = mark.line >= 0 ? mark.line + 1 : 0;
    err.key = key;
    err.message = std::move(message);
    throw load_failure{std::move(err)};
  }

private:
  struct ref {
    std::string name;
    YAML::Mark mark;
    std::string key;
  };

  [[noreturn]] void fail_at(const YAML::Mark& mark, const std::string& key,
                            std::string message) {
    store_error err;
    err.file = name_;
    err.line = mark.line >= 0 ? mark.line + 1 : 0;
    err.key = key;
    err.message = std::move(message);
    throw load_failure{std::move(err)};
  }

  std::string scalar_key(const YAML::Node& n, const std::string& parent) {
    if (!n.IsScalar())
      fail(n, parent, "keys must be plain strings");
    return n.Scalar();
  }

  static std::string join(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }

  std::string scalar(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar())
      fail(n, key, "expected a string");
    return n.Scalar();
  }

  std::vector<std::pair<std::string, YAML::Mark>>
  string_list(const YAML::Node& n, const std::string& key) {
    std::vector<std::pair<std::string, YAML::Mark>> out;
    if (n.IsNull())
      return out;
    if (!n.IsSequence())
      fail(n, key, "expected a list");
    for (size_t i = 0; i < n.size(); ++i)
      out.emplace_back(scalar(n[i], key + "[" + std::to_string(i) + "]"),
                       n[i].Mark());
    return out;
  }

  permission_set permissions(const YAML::Node& n, const std::string& key,
                             bool path_permissions) {
    permission_set out;
    if (n.IsNull())
      return out;
    if (!n.IsSequence())
      fail(n, key, "expected a list of permissions");
    for (size_t i = 0; i < n.size(); ++i) {
      auto item_key = key + "[" + std::to_string(i) + "]";
      auto name = scalar(n[i], item_key);
      auto p = parse_permission(name);
      if (!p)
        fail(n[i], item_key, "unknown permission '" + name + "'");
      if (is_path_permission(*p) != path_permissions)
        fail(n[i], item_key,
             "'" + name + "' is a " + (path_permissions ? "global" : "path")
                 + " permission and cannot be listed here");
      out.add(*p);
    }
    return out;
  }

  static bool valid_path(const std::string& p) {
    return !p.empty() && p.find_first_of("+#") == std::string::npos;
  }

  void load_principals(const YAML::Node& n) {
    if (n.IsNull())
      return;
    if (!n.IsMap())
      fail(n, "principals", "expected a mapping of principal names");
    for (auto kv : n) {
      auto name = scalar_key(kv.first, "principals");
      auto key = join("principals", name);
      if (name.empty())
        fail(kv.first, key, "principal names must not be empty");
      if (store_.principals_.count(name) > 0)
        fail(kv.first, key, "duplicate principal");
      auto& body = kv.second;
      if (!body.IsMap())
        fail(body, key, "expected a mapping with password and roles");
      security_store::principal_entry entry;
      bool has_password = false;
      for (auto field : body) {
        auto fname = scalar_key(field.first, key);
        auto fkey = join(key, fname);
        if (fname == "password") {
          auto text = scalar(field.second, fkey);
          std::string why;
          auto h = parse_password_hash(text, why);
          if (!h)
            fail(field.second, fkey, "malformed password hash: " + why);
          entry.hash = std::move(*h);
          has_password = true;
        } else if (fname == "roles") {
          for (auto& [role, mark] : string_list(field.second, fkey)) {
            role_refs_.push_back({role, mark, fkey});
            entry.roles.push_back(role);
          }
        } else {
          fail(field.first, fkey, "unknown key (expected password or roles)");
        }
      }
      if (!has_password)
        fail(kv.first, key, "missing password");
      store_.principals_.emplace(name, std::move(entry));
    }
  }

  void load_roles(const YAML::Node& n) {
    if (n.IsNull())
      return;
    if (!n.IsMap())
      fail(n, "roles", "expected a mapping of role names");
    for (auto kv : n) {
      auto name = scalar_key(kv.first, "roles");
      auto key = join("roles", name);
      if (name.empty())
        fail(kv.first, key, "role names must not be empty");
      if (store_.roles_.count(name) > 0)
        fail(kv.first, key, "duplicate role");
      role_marks_.emplace(name, kv.first.Mark());
      auto& body = kv.second;
      security_store::role_entry entry;
      if (!body.IsNull() && !body.IsMap())
        fail(body, key, "expected a mapping");
      if (body.IsMap()) {
        for (auto field : body) {
          auto fname = scalar_key(field.first, key);
          auto fkey = join(key, fname);
          if (fname == "global") {
            entry.global = permissions(field.second, fkey, false);
          } else if (fname == "default_path") {
            entry.default_path = permissions(field.second, fkey, true);
          } else if (fname == "paths") {
            load_role_paths(field.second, fkey, entry);
          } else if (fname == "includes") {
            for (auto& [role, mark] : string_list(field.second, fkey)) {
              role_refs_.push_back({role, mark, fkey});
              entry.includes.push_back(role);
            }
          } else {
            fail(field.first, fkey,
                 "unknown key (expected global, default_path, paths or "
                 "includes)");
          }
        }
      }
      store_.roles_.emplace(name, std::move(entry));
    }
  }

  void load_role_paths(const YAML::Node& n, const std::string& key,
                       security_store::role_entry& entry) {
    if (n.IsNull())
      return;
    if (!n.IsMap())
      fail(n, key, "expected a mapping of topic paths to permissions");
    for (auto kv : n) {
      auto path = scalar_key(kv.first, key);
      auto pkey = join(key, path);
      if (!valid_path(path))
        fail(kv.first, pkey,
             "a path must be a non-empty topic path without wildcards "
             "(use default_path for the whole tree)");
      if (entry.paths.count(path) > 0)
        fail(kv.first, pkey, "duplicate path");
      entry.paths.emplace(path, permissions(kv.second, pkey, true));
    }
  }

  void load_anonymous(const YAML::Node& n) {
    if (n.IsNull())
      return;
    if (!n.IsMap())
      fail(n, "anonymous", "expected a mapping with allow and roles");
    for (auto field : n) {
      auto fname = scalar_key(field.first, "anonymous");
      auto fkey = join("anonymous", fname);
      if (fname == "allow") {
        auto text = scalar(field.second, fkey);
        // The same spellings as the configuration file accepts.
        if (text == "true" || text == "True" || text == "TRUE")
          store_.anonymous_allowed_ = true;
        else if (text == "false" || text == "False" || text == "FALSE")
          store_.anonymous_allowed_ = false;
        else
          fail(field.second, fkey, "expected true or false");
      } else if (fname == "roles") {
        for (auto& [role, mark] : string_list(field.second, fkey)) {
          role_refs_.push_back({role, mark, fkey});
          store_.anonymous_roles_.push_back(role);
        }
      } else {
        fail(field.first, fkey, "unknown key (expected allow or roles)");
      }
    }
  }

  void load_isolated(const YAML::Node& n) {
    for (auto& [path, mark] : string_list(n, "isolated_paths")) {
      if (!valid_path(path))
        fail_at(mark, "isolated_paths",
                "'" + path + "' is not a topic path without wildcards");
      store_.isolated_.insert(path);
    }
  }

  void check_references() {
    for (auto& r : role_refs_)
      if (store_.roles_.count(r.name) == 0)
        fail_at(r.mark, r.key, "unknown role '" + r.name + "'");
  }

  // Depth-first search over includes; a role met again while on the stack
  // closes a cycle, reported with the whole chain.
  void visit(const std::string& name, std::map<std::string, int>& state,
             std::vector<std::string>& stack) {
    state[name] = 1;
    stack.push_back(name);
    for (auto& inc : store_.roles_.find(name)->second.includes) {
      auto s = state[inc];
      if (s == 1) {
        std::string chain;
        auto begin = std::find(stack.begin(), stack.end(), inc);
        for (auto i = begin; i != stack.end(); ++i)
          chain += *i + " -> ";
        chain += inc;
        fail_at(role_marks_[name], join("roles", name) + ".includes",
                "roles include each other in a cycle: " + chain);
      }
      if (s == 0)
        visit(inc, state, stack);
    }
    stack.pop_back();
    state[name] = 2;
  }

  void compute_closures() {
    std::map<std::string, int> state;
    std::vector<std::string> stack;
    for (auto& [name, role] : store_.roles_)
      if (state[name] == 0)
        visit(name, state, stack);
    // No cycles: collect each closure by a plain traversal.
    for (auto& [name, role] : store_.roles_) {
      std::set<std::string> seen{name};
      std::vector<std::string> todo{name};
      while (!todo.empty()) {
        auto cur = todo.back();
        todo.pop_back();
        for (auto& inc : store_.roles_.find(cur)->second.includes)
          if (seen.insert(inc).second)
            todo.push_back(inc);
      }
      role.closure.assign(seen.begin(), seen.end());
    }
  }

  std::string name_;
  security_store store_;
  std::vector<ref> role_refs_;
  std::map<std::string, YAML::Mark> role_marks_;
};

std::variant<security_store, store_error>
parse_security_store(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    store_error err;
    err.file = name;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.message = "YAML syntax error: " + e.msg;
    return err;
  }
  try {
    store_loader loader{name};
    return loader.load(root);
  } catch (const load_failure& f) {
    return f.err;
  } catch (const YAML::Exception& e) {
    store_error err;
    err.file = name;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.message = e.msg;
    return err;
  }
}

std::variant<security_store, store_error>
load_security_store(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    store_error err;
    err.file = path;
    err.message = std::string("cannot read the file: ") + std::strerror(errno);
    return err;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse_security_store(buf.str(), path);
}

} // namespace castor::security
