#include "protocol/topic_mapping.hpp"

#include <algorithm>
#include <mutex>

#include "protocol/topic.hpp"
#include "protocol/value.hpp"

namespace castor {

topic_mapping::topic_mapping(std::vector<mapping_rule> rules) {
  // Nothing here checks the rules again: check_mapping_rule() did, where
  // they were read.
  for (auto& r : rules)
    rules_.emplace_back(
        std::move(r.filter),
        std::make_shared<const topic_specification>(std::move(r.spec)));
}

topic_mapping::spec_ptr topic_mapping::find(std::string_view topic) const {
  if (added_count_.load(std::memory_order_acquire) > 0) {
    std::shared_lock<std::shared_mutex> guard{mu_};
    if (auto i = added_.find(std::string{topic}); i != added_.end())
      return i->second;
  }
  for (const auto& [filter, spec] : rules_)
    if (mqtt::topic_matches(filter, topic))
      return spec;
  return nullptr;
}

topic_mapping::add_result topic_mapping::add(const std::string& path,
                                             spec_ptr spec) {
  std::unique_lock<std::shared_mutex> guard{mu_};
  auto [i, fresh] = added_.emplace(path, spec);
  if (fresh) {
    added_count_.fetch_add(1, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    if (observer_)
      observer_(path, spec);
    return add_result::added;
  }
  return *i->second == *spec ? add_result::exists : add_result::conflicts;
}

std::vector<std::pair<std::string, topic_mapping::spec_ptr>>
topic_mapping::added_all() const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  return {added_.begin(), added_.end()};
}

std::map<topic_type, size_t> topic_mapping::added_by_type() const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  std::map<topic_type, size_t> out;
  for (auto& [path, spec] : added_)
    ++out[spec->type];
  return out;
}

void topic_mapping::observe(observer f) {
  std::unique_lock<std::shared_mutex> guard{mu_};
  observer_ = std::move(f);
}

bool topic_mapping::remove(const std::string& path) {
  std::unique_lock<std::shared_mutex> guard{mu_};
  if (added_.erase(path) == 0)
    return false;
  added_count_.fetch_sub(1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_release);
  if (observer_)
    observer_(path, nullptr);
  return true;
}

topic_mapping::spec_ptr topic_mapping::added(const std::string& path) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  auto i = added_.find(path);
  return i == added_.end() ? nullptr : i->second;
}

std::optional<mapping_rule_error> check_mapping_rule(std::string_view filter,
                                                     topic_type type) {
  auto info = mqtt::parse_filter(filter);
  if (!info.valid)
    return mapping_rule_error{"filter", "'" + std::string{filter}
                                            + "' is not a valid topic filter"};
  if (info.shared)
    return mapping_rule_error{
        "filter", "a shared subscription ($share/...) is not a topic filter"};
  if (type == topic_type::time_series)
    return mapping_rule_error{
        "type", "time_series topics are not created by publishes (their "
                "events carry sequence numbers and timestamps): add them "
                "through the topic API"};
  return std::nullopt;
}

bool series_properties::reserved(std::string_view name) noexcept {
  return name == seq || name == timestamp || name == author || name == original;
}

std::optional<std::string> map_publish(const topic_specification& spec,
                                       mqtt::publish& p,
                                       std::string_view principal) {
  bool series = spec.type == topic_type::time_series;
  auto type = series ? spec.event_type.value_or(topic_type::binary) : spec.type;
  if (type != topic_type::binary) {
    auto converted = convert_payload(type, p.payload);
    if (auto err = std::get_if<conversion_error>(&converted))
      return std::string{to_string(spec.type)} + " topic: " + err->message;
  }
  if (series) {
    auto& ups = p.props.user_properties;
    ups.erase(std::remove_if(ups.begin(), ups.end(),
                             [](const mqtt::user_property& u) {
                               return series_properties::reserved(u.first);
                             }),
              ups.end());
    ups.emplace_back(std::string{series_properties::author},
                     std::string{principal});
  }
  auto form = mqtt_form_of(type);
  if (form.content_type.empty())
    p.props.content_type.reset();
  else
    p.props.content_type = std::string{form.content_type};
  if (form.utf8)
    p.props.payload_format_indicator = 1;
  else
    p.props.payload_format_indicator.reset();
  return std::nullopt;
}

} // namespace castor
