#include <caf/all.hpp>

#include "app/http_router.hpp"

namespace castor {

http::response http_console(http_router_actor*, const http::request& req) {
  return http::error_response(404, "NOT_FOUND",
                              "the console is not installed (" + req.path
                                  + ")");
}

} // namespace castor
