#pragma once

// An HTTP/1.1 request as read from a connection of an http or https
// listener, and the response to it, without I/O. The transport parses
// requests (security/transport.hpp); the HTTP router actor answers them
// (app/http_router.hpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace castor::http {

struct request {
  std::string method; ///< "GET", "POST", ...
  std::string path;   ///< the target's path, percent-decoded, without query
  std::string query;  ///< the raw query string (without '?'), "" when none
  /// Header names in lower case, values trimmed, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;     ///< the client's address
  std::string listener; ///< the listener's name
  bool keep_alive = true; ///< the client keeps the connection open after it

  /// The first value of header `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const noexcept {
    for (auto& [k, v] : headers)
      if (k == name)
        return &v;
    return nullptr;
  }

  /// The value of query parameter `name`, percent-decoded; "" when absent.
  std::string query_param(std::string_view name) const;
  bool has_query_param(std::string_view name) const;
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  /// Extra headers (Content-Type, Content-Length and Connection are added
  /// by serialize()).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// The standard reason phrase of a status ("Not Found").
std::string_view reason_phrase(int status) noexcept;

/// The bytes of `r` on the wire. HEAD requests get the headers only.
std::string serialize(const response& r, bool keep_alive,
                      bool head_only = false);

/// A JSON error answer: {"ok": false, "error": {"code", "message"}}, as the
/// `$castor/api/` answers look.
response error_response(int status, std::string_view code,
                        std::string_view message);

/// Percent-decodes `s` ('+' stays '+'); nothing when an escape is broken.
bool percent_decode(std::string_view s, std::string& out);

} // namespace castor::http
