#include "actors/session_subscriptions.hpp"

#include <nlohmann/json.hpp>

#include "protocol/topic.hpp"
#include "protocol/topic_selector.hpp"

namespace castor {

namespace {

/// What SUBSCRIBE checks the rights of for `filter` (actors/api_subscribe.cpp,
/// protocol/channel_subscribe.cpp): the subject of an MQTT filter, or what
/// a selector may reach (its literal prefix and all below, else all).
std::string checked_subject(const std::string& filter) {
  if (auto key = parse_selector_key(filter)) {
    auto parsed = parse_selector(key->text);
    auto s = std::get_if<topic_selector>(&parsed);
    if (s == nullptr)
      return "#";
    if (s->what() == topic_selector::kind::filter)
      return std::string{key->text};
    return s->prefix().empty() ? std::string{"#"} : s->prefix() + "/#";
  }
  return std::string{mqtt::parse_filter(filter).subject};
}

} // namespace

std::vector<std::string> unreadable_filters(const mqtt::session_state& state,
                                            const mqtt::access_policy& access) {
  std::vector<std::string> out;
  if (access.reads_everything())
    return out;
  for (auto& [filter, sub] : state.subscriptions())
    if (!access.may_subscribe(checked_subject(filter)))
      out.push_back(filter);
  return out;
}

std::string subscriptions_json(const mqtt::session_state& state) {
  auto out = nlohmann::json::array();
  for (auto& [filter, sub] : state.subscriptions()) {
    nlohmann::json s = nlohmann::json::object();
    if (auto key = parse_selector_key(filter)) {
      s["selector"] = std::string{key->text};
      s["delta"] = key->delta;
    } else {
      s["filter"] = filter;
    }
    s["qos"] = sub.opts.max_qos;
    s["no_local"] = sub.opts.no_local;
    s["retain_as_published"] = sub.opts.retain_as_published;
    s["retain_handling"] = sub.opts.retain_handling;
    if (sub.subscription_id != 0)
      s["subscription_id"] = sub.subscription_id;
    out.push_back(std::move(s));
  }
  return out.dump();
}

} // namespace castor
