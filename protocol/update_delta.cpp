#include "protocol/update_delta.hpp"

#include "protocol/binary_delta.hpp"
#include "protocol/json_delta.hpp"
#include "protocol/value.hpp"

namespace castor {

delta_basis basis_of(const update& u) {
  delta_basis b;
  b.seq = u.seq;
  b.msg = u.msg;
  const auto& props = mqtt::props_of(*u.msg);
  std::string_view content_type;
  if (props.content_type)
    content_type = *props.content_type;
  bool utf8 = props.payload_format_indicator.value_or(0) == 1;
  b.type = infer_type(u.msg->payload, content_type, utf8, b.json);
  return b;
}

mqtt::message_ptr make_delta(const delta_basis& from, const delta_basis& to) {
  if (!from || !to)
    return nullptr;
  bool json = to.type == topic_type::json;
  if (json != (from.type == topic_type::json))
    return nullptr;
  const auto& value = to.msg->payload;
  std::string delta;
  if (json) {
    auto patch = make_json_patch(from.json, to.json);
    delta
        = patch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    delta = make_binary_delta(from.msg->payload, value);
  }
  if (delta.size() >= value.size())
    return nullptr;
  auto m = std::make_shared<mqtt::message>(*to.msg);
  m->payload = std::move(delta);
  auto props = m->props ? *m->props : mqtt::properties{};
  if (json) {
    props.content_type = std::string{json_patch_content_type};
    props.payload_format_indicator = 1;
  } else {
    props.content_type = std::string{binary_delta_content_type};
    props.payload_format_indicator.reset();
  }
  m->props = std::make_shared<const mqtt::properties>(std::move(props));
  return m;
}

} // namespace castor
