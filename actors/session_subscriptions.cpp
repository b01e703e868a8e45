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

void list_subscriptions(const mqtt::session_state& state,
                        std::vector<mqtt::subscription>& subs,
                        std::vector<uint32_t>& ids) {
  for (auto& [filter, sub] : state.subscriptions()) {
    subs.push_back(sub.opts);
    ids.push_back(sub.subscription_id);
  }
}

session_snapshot take_snapshot(mqtt::session_state& state) {
  session_snapshot snap;
  snap.present = true;
  list_subscriptions(state, snap.subs, snap.subscription_ids);
  snap.messages = state.take_unacknowledged();
  snap.qos2_ids.assign(state.inbound_qos2.begin(), state.inbound_qos2.end());
  return snap;
}

std::vector<subscribe_request> restore_requests(const session_snapshot& snap,
                                                const access_ref& access) {
  std::map<uint32_t, subscribe_request> by_id;
  auto n = std::min(snap.subs.size(), snap.subscription_ids.size());
  for (size_t i = 0; i < n; ++i) {
    auto id = snap.subscription_ids[i];
    auto& sr = by_id[id];
    sr.subscription_id = id;
    sr.access = access;
    auto sub = snap.subs[i];
    sub.retain_handling = 2;
    sr.codes.push_back(
        static_cast<mqtt::reason_code>(std::min<uint8_t>(sub.max_qos, 2)));
    sr.subs.push_back(std::move(sub));
  }
  std::vector<subscribe_request> out;
  for (auto& [id, sr] : by_id)
    out.push_back(std::move(sr));
  return out;
}

void restore_state(mqtt::session_state& state, const session_snapshot& snap,
                   mqtt::steady_time now) {
  auto n = std::min(snap.subs.size(), snap.subscription_ids.size());
  for (size_t i = 0; i < n; ++i)
    state.subscribe(snap.subs[i], snap.subscription_ids[i]);
  std::vector<mqtt::outbound> none; // not attached: everything is queued
  for (auto d : snap.messages)
    if (d.msg)
      state.enqueue(std::move(d), now, none);
  state.inbound_qos2.insert(snap.qos2_ids.begin(), snap.qos2_ids.end());
}

} // namespace castor
