// Principals and roles in the admin REST API (docs/operations.md,
// "Principals and roles"): listing them (VIEW_SECURITY). Names, roles,
// permissions and includes only: password hashes are never shown.
// Changes (MODIFY_SECURITY) are checked and refused: the store is edited
// in its file for now.

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include "app/rest_answers.hpp"
#include "app/rest_api.hpp"
#include "security/security_store.hpp"

namespace castor {

namespace {

using security::permission;
using security::permission_set;

/// The permission names of `s`, in declaration order.
nlohmann::json names_of(permission_set s) {
  auto out = nlohmann::json::array();
  for (size_t i = 0; i < security::permission_count; ++i) {
    auto p = static_cast<permission>(i);
    if (s.contains(p))
      out.push_back(std::string{security::to_string(p)});
  }
  return out;
}

/// The caller holds `p`: every right without a store or with null access.
bool may(const http_context& ctx, const rest_caller& caller, permission p) {
  if (!caller.access || !ctx.auth.store)
    return true;
  return ctx.auth.store->can(caller.roles, p);
}

nlohmann::json principals_json(const security::security_store& store) {
  auto list = nlohmann::json::array();
  for (auto& [name, entry] : store.principals())
    list.push_back({{"name", name}, {"roles", entry.roles}});
  return list;
}

nlohmann::json roles_json(const security::security_store& store) {
  auto list = nlohmann::json::array();
  for (auto& [name, role] : store.roles()) {
    nlohmann::json paths = nlohmann::json::object();
    for (auto& [path, perms] : role.paths)
      paths[path] = names_of(perms);
    list.push_back({{"name", name},
                    {"global", names_of(role.global)},
                    {"default_path", names_of(role.default_path)},
                    {"paths", paths},
                    {"includes", role.includes}});
  }
  return list;
}

http::response answer(const http_context& ctx, const http::request& req,
                      const std::string& rest, const rest_caller& caller) {
  auto slash = rest.find('/');
  auto area = rest.substr(0, slash);
  bool one = slash != std::string::npos;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (get && !one) {
    if (!may(ctx, caller, permission::view_security))
      return rest::error("PERMISSION_DENIED",
                         "listing " + area + " needs VIEW_SECURITY");
    nlohmann::json j{{"ok", true}};
    auto& store = ctx.auth.store;
    if (area == "principals")
      j["principals"] = store ? principals_json(*store)
                              : nlohmann::json::array();
    else
      j["roles"] = store ? roles_json(*store) : nlohmann::json::array();
    return rest::json_response(200, j);
  }
  bool change = (req.method == "POST" && !one && area == "principals")
                || ((req.method == "PUT" || req.method == "DELETE") && one);
  if (!change)
    return http::error_response(405, "METHOD_NOT_ALLOWED",
                                req.method + " is not supported on /api/v1/"
                                    + rest);
  if (!may(ctx, caller, permission::modify_security))
    return rest::error("PERMISSION_DENIED",
                       "changing " + area + " needs MODIFY_SECURITY");
  if (!ctx.auth.store) {
    return http::error_response(409, "NO_STORE",
                                "no security store is configured "
                                "(security.store_file)");
  }
  return http::error_response(501, "UNSUPPORTED",
                              "changing " + area
                                  + " through the REST API is not available;"
                                    " edit the store file");
}

} // namespace

void rest_security(http_router_actor* self, const http::request& req,
                   const std::string& rest, const rest_caller& caller,
                   caf::typed_response_promise<http::response> rp) {
  rp.deliver(answer(*self->state.ctx, req, rest, caller));
}

} // namespace castor
