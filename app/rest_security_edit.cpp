#include "app/rest_security_edit.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include "actors/http_types.hpp"
#include "app/rest_answers.hpp"
#include "log/log.hpp"
#include "security/password.hpp"
#include "security/store_edit.hpp"

namespace castor {

namespace {

using nlohmann::json;
using security::store_doc;

struct bad_request {
  std::string message;
};

/// A list of strings at `key` of `body`, if there.
std::optional<std::vector<std::string>> strings_at(const json& body,
                                                   const char* key) {
  auto i = body.find(key);
  if (i == body.end())
    return std::nullopt;
  if (!i->is_array())
    throw bad_request{std::string{key} + " must be a list of strings"};
  std::vector<std::string> out;
  for (auto& x : *i) {
    if (!x.is_string())
      throw bad_request{std::string{key} + " must be a list of strings"};
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::optional<std::string> string_at(const json& body, const char* key) {
  auto i = body.find(key);
  if (i == body.end())
    return std::nullopt;
  if (!i->is_string())
    throw bad_request{std::string{key} + " must be a string"};
  return i->get<std::string>();
}

void only_keys(const json& body, std::initializer_list<const char*> keys) {
  for (auto& [k, v] : body.items()) {
    bool known = false;
    std::string list;
    for (auto key : keys) {
      known = known || k == key;
      list += (list.empty() ? "" : ", ") + std::string{key};
    }
    if (!known)
      throw bad_request{"unknown key '" + k + "' (expected " + list + ")"};
  }
}

json role_json(const std::string& name, const store_doc::role& r) {
  return {{"name", name},         {"global", r.global},
          {"default_path", r.default_path}, {"paths", r.paths},
          {"includes", r.includes}};
}

struct outcome {
  int status = 200;
  json answer;
  std::string log;
};

/// Applies the change to `doc`; throws bad_request, or answers an error.
std::variant<outcome, http::response>
apply(store_doc& doc, const http_context& ctx, const http::request& req,
      const std::string& area, const std::string& name, const json& body) {
  outcome out;
  out.answer = {{"ok", true}};
  if (area == "principals" && req.method == "POST") {
    only_keys(body, {"name", "password", "roles"});
    auto who = string_at(body, "name").value_or("");
    auto password = string_at(body, "password").value_or("");
    if (who.empty())
      throw bad_request{"a principal needs a non-empty name"};
    if (password.empty())
      throw bad_request{"a principal needs a non-empty password"};
    if (doc.principals.count(who) > 0)
      return rest::error("PRINCIPAL_EXISTS",
                         "a principal '" + who + "' exists");
    auto roles = strings_at(body, "roles").value_or(std::vector<std::string>{});
    // As `castor passwd` hashes: PBKDF2, a fresh salt, the default count.
    auto hash = security::make_password_hash(password);
    password.assign(password.size(), '\0');
    doc.principals[who] = store_doc::principal{hash, roles};
    out.status = 201;
    out.answer["principal"] = {{"name", who}, {"roles", roles}};
    out.log = "principal " + who + " added";
    return out;
  }
  if (area == "principals") {
    auto i = doc.principals.find(name);
    if (i == doc.principals.end())
      return rest::error("NO_SUCH_PRINCIPAL", "no principal '" + name + "'");
    if (req.method == "DELETE") {
      doc.principals.erase(i);
      out.log = "principal " + name + " removed";
      return out;
    }
    only_keys(body, {"password", "roles"});
    auto password = string_at(body, "password");
    auto roles = strings_at(body, "roles");
    if (!password && !roles)
      throw bad_request{"give a password, roles or both"};
    if (password && password->empty())
      throw bad_request{"the password must not be empty"};
    if (password) {
      i->second.hash = security::make_password_hash(*password);
      password->assign(password->size(), '\0');
    }
    if (roles)
      i->second.roles = *roles;
    out.answer["principal"] = {{"name", name}, {"roles", i->second.roles}};
    out.log = "principal " + name + " changed ("
              + (password ? std::string{"password"} : std::string{})
              + (password && roles ? " and " : "")
              + (roles ? std::string{"roles"} : std::string{}) + ")";
    return out;
  }
  // roles
  auto i = doc.roles.find(name);
  if (req.method == "DELETE") {
    if (i == doc.roles.end())
      return rest::error("NO_SUCH_ROLE", "no role '" + name + "'");
    auto uses = security::uses_of(doc, name);
    for (auto& r : ctx.cfg.security.anonymous_roles)
      if (r == name)
        uses.emplace_back("security.anonymous_roles of the configuration");
    if (!uses.empty()) {
      std::string list;
      for (auto& u : uses)
        list += (list.empty() ? "" : ", ") + u;
      return http::error_response(409, "ROLE_IN_USE",
                                  "role '" + name
                                            + "' is still used by " + list
                                            + "; remove those uses first");
    }
    doc.roles.erase(i);
    out.log = "role " + name + " removed";
    return out;
  }
  only_keys(body, {"global", "default_path", "paths", "includes"});
  store_doc::role r;
  r.global = strings_at(body, "global").value_or(std::vector<std::string>{});
  r.default_path
      = strings_at(body, "default_path").value_or(std::vector<std::string>{});
  r.includes
      = strings_at(body, "includes").value_or(std::vector<std::string>{});
  if (auto p = body.find("paths"); p != body.end()) {
    if (!p->is_object())
      throw bad_request{"paths must map topic paths to lists of permissions"};
    for (auto& [path, perms] : p->items())
      r.paths[path] = strings_at(json{{"paths." + path, perms}},
                                 ("paths." + path).c_str())
                          .value_or(std::vector<std::string>{});
  }
  out.status = i == doc.roles.end() ? 201 : 200;
  out.log = "role " + name + (i == doc.roles.end() ? " added" : " replaced");
  doc.roles[name] = r;
  out.answer["role"] = role_json(name, r);
  return out;
}

} // namespace

http::response edit_store(const http_context& ctx, const http::request& req) {
  // The router sent /api/v1/principals[/name] or /api/v1/roles/name.
  std::string rest = req.path.substr(std::string_view{"/api/v1/"}.size());
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  auto slash = rest.find('/');
  auto area = rest.substr(0, slash);
  std::string name = slash == std::string::npos ? std::string{}
                                                : rest.substr(slash + 1);
  auto& holder = ctx.auth.store_state;
  if (!holder)
    return http::error_response(409, "NO_STORE",
                                "no security store is configured "
                                "(security.store_file)");
  auto current = holder->get();
  auto doc = security::doc_of(*current);
  json body = json::object();
  if (req.method != "DELETE" && !req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return rest::error("INVALID_REQUEST", "the body must be a JSON object");
  }
  std::variant<outcome, http::response> applied;
  try {
    applied = apply(doc, ctx, req, area, name, body);
  } catch (const bad_request& e) {
    return rest::error("INVALID_REQUEST", e.message);
  } catch (const std::exception& e) {
    return rest::error("INVALID_REQUEST", e.what());
  }
  if (auto r = std::get_if<http::response>(&applied))
    return std::move(*r);
  auto& out = std::get<outcome>(applied);
  auto& file = ctx.cfg.security.store_file;
  auto built = security::build_store(doc, *current, file);
  if (auto err = std::get_if<security::store_error>(&built))
    return rest::error(area == "roles" ? "INVALID_ROLE" : "INVALID_PRINCIPAL",
                       err->key.empty() ? err->message
                                        : err->key + ": " + err->message);
  if (auto why = security::save_file_atomically(file, security::to_yaml(doc))) {
    CASTOR_LOG(error, "security", "store " << file << ": " << *why);
    return http::error_response(500, "STORE_NOT_SAVED",
                                "the store file could not be saved, nothing "
                                "changed: "
                                    + *why);
  }
  holder->replace(std::make_shared<const security::security_store>(
      std::get<security::security_store>(std::move(built))));
  CASTOR_LOG(info, "security",
             "store " << file << ": " << out.log << " through the REST API");
  return rest::json_response(out.status, out.answer);
}

std::string store_text(const http_context& ctx) {
  auto& holder = ctx.auth.store_state;
  return holder ? security::to_yaml(security::doc_of(*holder->get()))
                : std::string{};
}

std::optional<std::string> take_store(const http_context& ctx,
                                      const std::string& text) {
  auto& holder = ctx.auth.store_state;
  if (!holder)
    return "no security store is configured (security.store_file)";
  auto& file = ctx.cfg.security.store_file;
  auto parsed = security::parse_security_store(text, file);
  if (auto err = std::get_if<security::store_error>(&parsed))
    return err->key.empty() ? err->message : err->key + ": " + err->message;
  // Built again over the store in effect, so that its stand-ins (the
  // secret that answers for unknown names) carry over.
  auto current = holder->get();
  auto built = security::build_store(
      security::doc_of(std::get<security::security_store>(parsed)), *current,
      file);
  if (auto err = std::get_if<security::store_error>(&built))
    return err->key.empty() ? err->message : err->key + ": " + err->message;
  if (auto why = security::save_file_atomically(file, text))
    return "the store file could not be saved, nothing changed: " + *why;
  holder->replace(std::make_shared<const security::security_store>(
      std::get<security::security_store>(std::move(built))));
  return std::nullopt;
}

caf::behavior security_editor(caf::event_based_actor*, http_context_ptr ctx) {
  return {[ctx](http_atom, http::request& req) -> http::response {
    return edit_store(*ctx, req);
  }};
}

} // namespace castor
