#include "actors/types.hpp"

#include <chrono>

#include "protocol/codec.hpp"

namespace castor {

namespace {

class allow_all final : public mqtt::access_policy {
public:
  mqtt::publish_check check_publish(std::string_view) const override {
    return mqtt::publish_check::allow;
  }
  bool may_subscribe(std::string_view) const override {
    return true;
  }
  bool may_read(std::string_view) const override {
    return true;
  }
  bool reads_everything() const noexcept override {
    return true;
  }
};

} // namespace

mqtt::access_ptr allow_everything() {
  static const mqtt::access_ptr policy = std::make_shared<const allow_all>();
  return policy;
}

mqtt::message_ptr make_will_message(const mqtt::will_message& w,
                                    const std::string& client_id) {
  mqtt::publish p;
  p.topic = w.topic;
  p.payload = w.payload;
  p.qos = w.qos;
  p.retain = w.retain;
  p.props = w.props;
  return mqtt::make_message(std::move(p), client_id,
                            std::chrono::steady_clock::now());
}

void put_field(std::string& out, std::string_view s) {
  auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += s;
}

bool get_field(std::string_view& in, std::string& out) {
  if (in.size() < 4)
    return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= uint32_t{static_cast<uint8_t>(in[i])} << (8 * i);
  in.remove_prefix(4);
  if (in.size() < n)
    return false;
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

namespace {

std::optional<mqtt::publish> decode_publish(std::string_view& in) {
  mqtt::parser_options opts;
  opts.version = mqtt::protocol_version::v5;
  opts.side = mqtt::parser_options::role::any;
  mqtt::frame_parser parser{opts};
  auto r = parser.feed(in);
  if (!r.ok())
    return std::nullopt;
  if (auto p = std::get_if<mqtt::publish>(&r.pkt))
    return std::move(*p);
  return std::nullopt;
}

} // namespace

std::string save_message(const mqtt::message& m) {
  auto now = std::chrono::steady_clock::now();
  mqtt::publish p;
  p.qos = m.qos;
  p.retain = m.retain;
  p.topic = m.topic;
  p.packet_id = m.qos > 0 ? 1 : 0;
  p.props = mqtt::props_of(m);
  if (m.has_expiry)
    p.props.message_expiry_interval = mqtt::remaining_expiry(m, now);
  p.payload = m.payload;
  std::string out;
  put_field(out, mqtt::encode(p, mqtt::protocol_version::v5));
  put_field(out, m.origin);
  return out;
}

mqtt::message_ptr load_message(const std::string& bytes) {
  std::string_view in{bytes};
  std::string pub, origin;
  if (!get_field(in, pub) || !get_field(in, origin))
    return nullptr;
  std::string_view pv{pub};
  auto p = decode_publish(pv);
  if (!p)
    return nullptr;
  return mqtt::make_message(std::move(*p), std::move(origin),
                            std::chrono::steady_clock::now());
}

std::string save_properties(const mqtt::properties& props) {
  mqtt::publish p;
  p.topic = "p";
  p.props = props;
  return mqtt::encode(p, mqtt::protocol_version::v5);
}

mqtt::properties load_properties(const std::string& bytes) {
  std::string_view in{bytes};
  auto p = decode_publish(in);
  return p ? std::move(p->props) : mqtt::properties{};
}

} // namespace castor
