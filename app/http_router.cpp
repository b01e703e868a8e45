#include "app/http_router.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/census.hpp"
#include "actors/types.hpp"
#include "app/cli.hpp"
#include "app/rest_answers.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

using rest::json_response;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

http::response health(http_router_actor* self) {
  auto& ctx = *self->state.ctx;
  if (ctx.stopping.load())
    return json_response(503, {{"status", "stopping"},
                               {"reason", "the server is shutting down"}});
  if (!ctx.ready.load())
    return json_response(503, {{"status", "starting"},
                               {"reason", "the listeners are not all open"}});
  auto up = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now() - ctx.started);
  return json_response(200, {{"status", "ready"}, {"uptime_s", up.count()}});
}

http::response version() {
  return json_response(200, {{"name", "castor"},
                             {"version", std::string(castor_version)},
                             {"mqtt", {"3.1.1", "5.0"}}});
}

/// Only reading methods for the fixed endpoints.
bool readable(const http::request& req) {
  return req.method == "GET" || req.method == "HEAD";
}

} // namespace

caf::behavior http_router(http_router_actor* self, http_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  return census(
      self, metrics::actor_kind::http_router,
      caf::behavior{
          [=](open_atom, caf::actor& listener, uint16_t port) {
            self->state.listeners.push_back(std::move(listener));
            self->state.ports.push_back(port);
          },
          [=](http_atom, http::request& req) -> caf::result<http::response> {
            const auto& path = req.path;
            if (starts_with(path, "/api/")) {
              auto rp = self->make_response_promise<http::response>();
              http_rest(self, req, rp);
              return rp;
            }
            if (path == "/console" || starts_with(path, "/console/"))
              return http_console(self, req);
            if (!readable(req)) {
              auto r = http::error_response(405, "METHOD_NOT_ALLOWED",
                                            req.method + " is not allowed on "
                                                + path + " (use GET)");
              r.headers.emplace_back("Allow", "GET, HEAD");
              return r;
            }
            if (path == "/metrics")
              return http_metrics(self, req);
            if (path == "/health")
              return health(self);
            if (path == "/version")
              return version();
            if (path == "/") {
              http::response r;
              r.status = 302;
              r.headers.emplace_back("Location", "/console/");
              r.content_type.clear();
              return r;
            }
            return http::error_response(404, "NOT_FOUND",
                                        "nothing at " + path.substr(0, 200));
          },
      });
}

} // namespace castor
