#pragma once

// The payload mapping of MQTT publishes (config `topics.mapping`): rules
// that make the topics under a filter explicit topics of a type, and what a
// publish to an explicit topic becomes (converted to the type, in the
// type's MQTT form) or why it is refused. Topics no rule matches are
// implicit: they take any payload, as a standard MQTT broker does. Pure
// C++17; immutable once built, shared by every connection.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/packet.hpp"
#include "protocol/topic_spec.hpp"

namespace castor {

/// One rule: the topics matching `filter` (an MQTT topic filter, not
/// shared) are explicit topics specified by `spec`.
struct mapping_rule {
  std::string filter;
  topic_specification spec;
};

class topic_mapping {
public:
  topic_mapping() = default;
  explicit topic_mapping(std::vector<mapping_rule> rules);

  /// The specification of the first rule whose filter matches `topic`
  /// (a valid topic name); null for an implicit topic.
  const topic_specification* find(std::string_view topic) const noexcept;

  bool empty() const noexcept {
    return rules_.empty();
  }
  const std::vector<mapping_rule>& rules() const noexcept {
    return rules_;
  }

private:
  std::vector<mapping_rule> rules_;
};

using mapping_ptr = std::shared_ptr<const topic_mapping>;

/// Why a mapping rule cannot be used: `field` is filter, type or
/// properties.<NAME>.
struct mapping_rule_error {
  std::string field;
  std::string message;
};

/// Checks a rule as configured: a valid, non-shared topic filter, a type
/// and properties as the API takes them (make_specification). Time series
/// topics are not created by publishes (their events carry sequence
/// numbers and timestamps that a plain publish does not).
std::optional<mapping_rule_error>
check_mapping_rule(std::string_view filter, topic_type type);

/// Applies an explicit topic's specification to a publish to it: the
/// payload must convert to the topic's type (convert_payload), and the
/// publish then carries the type's MQTT form (mqtt_form_of: content type
/// application/json for JSON, payload format indicator 1 for text and
/// numbers, neither for binary; what the publisher said is replaced).
/// Returns the reason when it does not convert (the publish unchanged).
std::optional<std::string> map_publish(const topic_specification& spec,
                                       mqtt::publish& p);

} // namespace castor
