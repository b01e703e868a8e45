#include "protocol/topic_mapping.hpp"

#include "protocol/topic.hpp"
#include "protocol/value.hpp"

namespace castor {

topic_mapping::topic_mapping(std::vector<mapping_rule> rules)
  : rules_(std::move(rules)) {
  // Nothing here checks the rules again: check_mapping_rule() did, where
  // they were read.
}

const topic_specification*
topic_mapping::find(std::string_view topic) const noexcept {
  for (const auto& r : rules_)
    if (mqtt::topic_matches(r.filter, topic))
      return &r.spec;
  return nullptr;
}

std::optional<mapping_rule_error>
check_mapping_rule(std::string_view filter, topic_type type) {
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

std::optional<std::string> map_publish(const topic_specification& spec,
                                       mqtt::publish& p) {
  if (spec.type != topic_type::binary) {
    auto converted = convert_payload(spec.type, p.payload);
    if (auto err = std::get_if<conversion_error>(&converted))
      return std::string{to_string(spec.type)} + " topic: " + err->message;
  }
  auto form = mqtt_form_of(spec.type);
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
