#include "protocol/conditional_update.hpp"

#include <algorithm>

#include "protocol/constraint.hpp"
#include "protocol/json_delta.hpp"
#include "protocol/value.hpp"

namespace castor {

std::variant<mqtt::message_ptr, update_outcome>
resolve_update(const conditional_update& cu, const mqtt::message* last,
               bool exists, const topic_specification* spec) {
  std::optional<typed_value> current;
  if (last != nullptr)
    current = held_value(last->payload, mqtt::props_of(*last), spec);
  if (!cu.constraint.empty()) {
    auto j = parse_json(cu.constraint);
    if (!j)
      return update_outcome{"INVALID_CONSTRAINT", "not JSON"};
    auto c = parse_constraint(*j);
    if (auto why = std::get_if<std::string>(&c))
      return update_outcome{"INVALID_CONSTRAINT", *why};
    constraint_facts facts;
    facts.topic_exists = exists;
    facts.current = current ? &*current : nullptr;
    facts.holds_lock = [&cu](const std::string& name) {
      return std::find(cu.held_locks.begin(), cu.held_locks.end(), name)
             != cu.held_locks.end();
    };
    if (!satisfied(std::get<update_constraint>(c), facts))
      return update_outcome{"CONSTRAINT_FAILED",
                            "the constraint does not hold"};
  }
  if (cu.patch.empty())
    return cu.msg;
  if (!current)
    return update_outcome{"NO_VALUE", "the topic has no value to patch"};
  if (current->type != topic_type::json)
    return update_outcome{"NOT_JSON", "only a JSON value can be patched"};
  auto patch = parse_json(cu.patch);
  auto result = patch ? apply_json_patch(current->json, *patch)
                      : std::optional<nlohmann::json>{};
  if (!result)
    return update_outcome{"PATCH_FAILED",
                          "the patch does not apply to the current value"};
  auto m = std::make_shared<mqtt::message>(*cu.msg);
  m->payload
      = result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto props = m->props ? *m->props : mqtt::properties{};
  props.content_type = "application/json";
  props.payload_format_indicator = 1;
  m->props = std::make_shared<const mqtt::properties>(std::move(props));
  return m;
}

} // namespace castor
