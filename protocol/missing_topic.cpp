#include "protocol/missing_topic.hpp"

#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/topic_selector.hpp"

namespace castor {

std::string missing_prefix(std::string_view text) {
  auto parsed = parse_selector(text);
  auto s = std::get_if<topic_selector>(&parsed);
  if (s == nullptr)
    return {};
  if (s->what() != topic_selector::kind::filter)
    return s->prefix();
  // An MQTT filter: its levels before the first wildcard.
  std::string out;
  size_t start = 0;
  for (;;) {
    auto slash = text.find('/', start);
    auto level = text.substr(start, slash == std::string_view::npos
                                        ? std::string_view::npos
                                        : slash - start);
    if (level == "+" || level == "#")
      break;
    if (!out.empty() || start > 0)
      out.push_back('/');
    out.append(level);
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  return out;
}

std::string missing_request_topic(std::string_view prefix) {
  std::string out = "$castor/missing";
  if (!prefix.empty()) {
    out.push_back('/');
    out.append(prefix);
  }
  return out;
}

std::string missing_request_payload(std::string_view selector,
                                    std::string_view session,
                                    std::string_view operation) {
  nlohmann::json j{{"selector", std::string{selector}},
                   {"session", std::string{session}},
                   {"operation", std::string{operation}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace castor
