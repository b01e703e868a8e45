// Principals and roles in the admin REST API (docs/operations.md,
// "Principals and roles"): listing them (VIEW_SECURITY). Names, roles,
// permissions and includes only: password hashes are never shown.
// Changes (MODIFY_SECURITY) go to the store's editor, an actor of its own
// (app/rest_security_edit.hpp), which answers through the promise.

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include "app/rest_answers.hpp"
#include "actors/tracked.hpp"
#include "app/rest_api.hpp"
#include "app/rest_security_edit.hpp"
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

/// The store in effect (edits swap it).
std::shared_ptr<const security::security_store>
store_of(const http_context& ctx) {
  return ctx.auth.store_state ? ctx.auth.store_state->get() : ctx.auth.store;
}

/// The caller holds `p`: every right without a store or with null access.
bool may(const http_context& ctx, const rest_caller& caller, permission p) {
  auto store = store_of(ctx);
  if (!caller.access || !store)
    return true;
  return store->can(caller.roles, p);
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

/// The answer, or nothing when the change goes to the editor.
std::optional<http::response> answer(const http_context& ctx, const http::request& req,
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
    auto store = store_of(ctx);
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
  if (!ctx.auth.store_state)
    return http::error_response(409, "NO_STORE",
                                "no security store is configured "
                                "(security.store_file)");
  return std::nullopt;
}

} // namespace

void rest_security(http_router_actor* self, const http::request& req,
                   const std::string& rest, const rest_caller& caller,
                   caf::typed_response_promise<http::response> rp) {
  if (auto r = answer(*self->state.ctx, req, rest, caller)) {
    rp.deliver(std::move(*r));
    return;
  }
  auto& st = self->state;
  if (!st.security_editor)
    st.security_editor = st.ctx->store_editor
                             ? st.ctx->store_editor
                             : self->spawn<caf::detached + caf::linked>(
                                 security_editor, st.ctx);
  tracked(self->request(st.security_editor, http_answer_timeout,
                        http_atom::value, req))
      .then([rp](http::response& r) mutable { rp.deliver(std::move(r)); },
            [rp](caf::error&) mutable {
              rp.deliver(rest::error("TIMEOUT",
                                     "the store was not edited in time"));
            });
}

} // namespace castor
