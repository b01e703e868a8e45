#include "security/http_message.hpp"

#include <nlohmann/json.hpp>

namespace castor::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Calls f(name, value) for each `name=value` pair of a query string
// (names and values raw, not decoded).
template <class F>
void each_param(std::string_view query, F f) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (!pair.empty()) {
      if (eq == std::string_view::npos)
        f(pair, std::string_view{});
      else
        f(pair.substr(0, eq), pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
}

} // namespace

bool percent_decode(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size())
      return false;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0)
      return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::string request::query_param(std::string_view name) const {
  std::string found;
  bool done = false;
  each_param(query, [&](std::string_view k, std::string_view v) {
    if (done)
      return;
    std::string key;
    if (!percent_decode(k, key) || key != name)
      return;
    // Form encoding: '+' is a space in a query string.
    std::string raw(v);
    for (auto& c : raw)
      if (c == '+')
        c = ' ';
    if (percent_decode(raw, found))
      done = true;
  });
  return done ? found : std::string{};
}

bool request::has_query_param(std::string_view name) const {
  bool found = false;
  each_param(query, [&](std::string_view k, std::string_view) {
    std::string key;
    if (percent_decode(k, key) && key == name)
      found = true;
  });
  return found;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 412:
    return "Precondition Failed";
  case 413:
    return "Payload Too Large";
  case 415:
    return "Unsupported Media Type";
  case 422:
    return "Unprocessable Entity";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Unknown";
  }
}

std::string serialize(const response& r, bool keep_alive, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += reason_phrase(r.status);
  out += "\r\n";
  for (auto& [k, v] : r.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!r.content_type.empty()) {
    out += "Content-Type: ";
    out += r.content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(r.body.size());
  out += keep_alive ? "\r\nConnection: keep-alive\r\n\r\n"
                    : "\r\nConnection: close\r\n\r\n";
  if (!head_only)
    out += r.body;
  return out;
}

response error_response(int status, std::string_view code,
                        std::string_view message) {
  nlohmann::json j{{"ok", false},
                   {"error", {{"code", code}, {"message", message}}}};
  response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body += '\n';
  return r;
}

} // namespace castor::http
