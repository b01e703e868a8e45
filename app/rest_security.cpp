#include <caf/all.hpp>

#include "app/rest_api.hpp"

namespace castor {

void rest_security(http_router_actor*, const http::request& req,
                   const std::string&, const rest_caller&,
                   caf::typed_response_promise<http::response> rp) {
  rp.deliver(http::error_response(404, "NOT_FOUND",
                                  "no API endpoint at " + req.path));
}

} // namespace castor
