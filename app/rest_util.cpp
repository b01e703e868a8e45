// The admin REST API's answers: HTTP statuses from API error codes, and
// the configuration in effect as JSON.

#include <map>

#include <yaml-cpp/yaml.h>

#include "app/rest_answers.hpp"

namespace castor::rest {

namespace {

bool has(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

enum class kind { text, integer, boolean };

using kinds = std::map<std::string, kind>;

bool integer_text(const std::string& t) {
  auto digits = t.substr(!t.empty() && t[0] == '-' ? 1 : 0);
  return !digits.empty() && digits.size() <= 18
         && digits.find_first_not_of("0123456789") == std::string::npos;
}

/// What each setting is, from the defaults (YAML text has no types: a
/// listener named "123" is text, its port a number): every setting whose
/// default is written as a number or a boolean is one. Paths are dotted,
/// list items "[]".
void learn(const YAML::Node& n, const std::string& path, kinds& out) {
  if (n.IsMap()) {
    for (auto& kv : n)
      learn(kv.second, path + "." + kv.first.Scalar(), out);
  } else if (n.IsSequence()) {
    for (auto& item : n)
      learn(item, path + "[]", out);
  } else if (n.IsScalar()) {
    auto& t = n.Scalar();
    out[path] = t == "true" || t == "false" ? kind::boolean
                : integer_text(t)           ? kind::integer
                                            : kind::text;
  }
}

const kinds& setting_kinds() {
  static const kinds k = [] {
    kinds out;
    learn(YAML::Load(to_yaml(config{})), "", out);
    return out;
  }();
  return k;
}

nlohmann::ordered_json node_json(const YAML::Node& n, const std::string& path) {
  if (n.IsMap()) {
    auto out = nlohmann::ordered_json::object();
    for (auto& kv : n)
      out[kv.first.Scalar()]
          = node_json(kv.second, path + "." + kv.first.Scalar());
    return out;
  }
  if (n.IsSequence()) {
    auto out = nlohmann::ordered_json::array();
    for (auto& item : n)
      out.push_back(node_json(item, path + "[]"));
    return out;
  }
  if (!n.IsScalar())
    return nullptr;
  auto& t = n.Scalar();
  auto& k = setting_kinds();
  auto i = k.find(path);
  auto what = i == k.end() ? kind::text : i->second;
  if (what == kind::boolean && (t == "true" || t == "false"))
    return t == "true";
  if (what == kind::integer && integer_text(t))
    return std::stoll(t);
  return t;
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
  } else if (j.is_object() && j.contains("error") && j["error"].is_object()) {
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
  auto j = node_json(YAML::Load(to_yaml(cfg)), "");
  j.erase("source");
  return j;
}

} // namespace castor::rest
