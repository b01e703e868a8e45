#pragma once

// The admin REST API's answers (docs/operations.md, "Admin REST API"):
// the HTTP status of an API error code, API answers as HTTP responses, and
// the configuration in effect as JSON. Without CAF (app/rest_util.cpp).

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "security/http_message.hpp"

namespace castor::rest {

/// The HTTP status of an API error code: PERMISSION_DENIED 403,
/// NOT_AUTHORIZED 401, NO_SUCH_* and NOT_FOUND 404, *EXISTS*, CONFLICT and
/// LOCKED 409, TIMEOUT 504, UNAVAILABLE and BUSY 503, others 400.
int status_of(std::string_view code);

/// A JSON answer with `status`.
http::response json_response(int status, const nlohmann::json& j);

/// An API answer (JSON text) as an HTTP response: 200 (or `ok_status`)
/// when it is ok, else the status of its error code (500 if it is not an
/// answer at all).
http::response from_answer(const std::string& answer, int ok_status = 200);

/// An error answer whose status comes from its code.
http::response error(std::string_view code, std::string_view message);

/// The configuration as JSON: the values of app/config.hpp's to_yaml, in
/// the order of config/castor.yaml; numbers and booleans as JSON's.
nlohmann::ordered_json config_json(const config& cfg);

} // namespace castor::rest
