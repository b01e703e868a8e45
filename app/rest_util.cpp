// The admin REST API's answers: HTTP statuses from API error codes, and
// the configuration in effect as JSON.

#include <yaml-cpp/yaml.h>

#include "app/rest_detail.hpp"

namespace castor::rest {

namespace {

bool has(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

/// A YAML scalar as JSON: quoted text stays text; plain true/false,
/// integers and null become JSON's.
nlohmann::ordered_json scalar_json(const YAML::Node& n) {
  const auto& text = n.Scalar();
  if (n.Tag() == "!")
    return text; // quoted
  if (text == "true")
    return true;
  if (text == "false")
    return false;
  if (text == "~" || text == "null")
    return nullptr;
  if (!text.empty() && text.size() <= 18
      && text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0)
             == std::string::npos
      && !(text[0] == '-' && text.size() == 1))
    return std::stoll(text);
  return text;
}

nlohmann::ordered_json node_json(const YAML::Node& n) {
  switch (n.Type()) {
  case YAML::NodeType::Map: {
    auto out = nlohmann::ordered_json::object();
    for (auto& kv : n)
      out[kv.first.Scalar()] = node_json(kv.second);
    return out;
  }
  case YAML::NodeType::Sequence: {
    auto out = nlohmann::ordered_json::array();
    for (auto& item : n)
      out.push_back(node_json(item));
    return out;
  }
  case YAML::NodeType::Scalar:
    return scalar_json(n);
  default:
    return nullptr;
  }
}

} // namespace

int status_of(std::string_view code) {
  if (code == "PERMISSION_DENIED")
    return 403;
  if (code == "NOT_AUTHORIZED")
    return 401;
  if (code.substr(0, 8) == "NO_SUCH_" || code == "NOT_FOUND")
    return 404;
  if (has(code, "EXISTS") || code == "CONFLICT" || code == "LOCKED")
    return 409;
  if (code == "TIMEOUT")
    return 504;
  if (code == "UNAVAILABLE" || code == "BUSY")
    return 503;
  return 400;
}

http::response json_response(int status, const nlohmann::json& j) {
  http::response r;
  r.status = status;
  r.body = j.dump();
  r.body += '\n';
  return r;
}

http::response from_answer(const std::string& answer, int ok_status) {
  http::response r;
  r.body = answer;
  r.body += '\n';
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (j.is_object() && j.value("ok", false)) {
    r.status = ok_status;
  } else if (j.is_object() && j.contains("error")
             && j["error"].is_object()) {
    r.status = status_of(j["error"].value("code", ""));
  } else {
    r.status = 500;
  }
  return r;
}

http::response error(std::string_view code, std::string_view message) {
  return http::error_response(status_of(code), code, message);
}

nlohmann::ordered_json config_json(const config& cfg) {
  // The configuration holds no secret values, only the names of the files
  // that hold them (security store, JWT keys, TLS keys): those are shown.
  auto yaml = YAML::Load(to_yaml(cfg));
  auto j = node_json(yaml);
  j.erase("source");
  return j;
}

} // namespace castor::rest
