#pragma once

// The admin REST API under /api/v1/ (docs/operations.md): JSON over the
// HTTP listeners, authenticated with the security store (HTTP Basic or a
// bearer JWT) and checked with the same permissions as `$castor/api/`.
// app/rest_api.cpp authenticates and dispatches; principals and roles are
// in app/rest_security.cpp.

#include <string>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "app/http_router.hpp"
#include "protocol/channel.hpp"

namespace castor {

/// Who called, once authenticated.
struct rest_caller {
  std::string principal; ///< "" = anonymous
  std::vector<std::string> roles;
  /// The caller's rights; null = every right (no store: as MQTT clients).
  mqtt::access_ptr access;
};

/// /api/v1/principals[/{name}] and /api/v1/roles[/{name}]: `rest` is the
/// path after /api/v1/. Answers through `rp`.
void rest_security(http_router_actor* self, const http::request& req,
                   const std::string& rest, const rest_caller& caller,
                   caf::typed_response_promise<http::response> rp);

} // namespace castor
