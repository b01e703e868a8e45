#include <caf/all.hpp>

#include "app/http_router.hpp"

namespace castor {

void http_rest(http_router_actor*, http::request& req,
               caf::typed_response_promise<http::response> rp) {
  rp.deliver(http::error_response(404, "NOT_FOUND",
                                  "no API endpoint at " + req.path));
}

} // namespace castor
