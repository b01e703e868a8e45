#include "actors/store_records.hpp"

#include <chrono>

#include "actors/types.hpp"

namespace castor::records {

namespace {

constexpr char record_version = 1;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

bool get_u64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8)
    return false;
  v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(8);
  return true;
}

uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

} // namespace

std::string event_key(std::string_view topic, uint64_t seq) {
  std::string k;
  k.reserve(event_prefix.size() + topic.size() + 9);
  k.append(event_prefix);
  k.append(topic);
  k.push_back('\0');
  put_u64(k, seq);
  return k;
}

std::string encode_message(const mqtt::message& m) {
  std::string out;
  out.push_back(record_version);
  put_u64(out, wall_ms());
  out += save_message(m);
  return out;
}

mqtt::message_ptr decode_message(std::string_view record, bool& damaged) {
  damaged = true;
  uint64_t saved = 0;
  if (record.empty() || record[0] != record_version)
    return nullptr;
  record.remove_prefix(1);
  if (!get_u64(record, saved))
    return nullptr;
  auto m = load_message(std::string{record});
  if (!m)
    return nullptr;
  damaged = false;
  if (!m->has_expiry)
    return m;
  auto now = wall_ms();
  auto elapsed = std::chrono::milliseconds(now > saved ? now - saved : 0);
  auto copy = std::make_shared<mqtt::message>(*m);
  copy->expires_at -= elapsed;
  if (mqtt::expired(*copy, std::chrono::steady_clock::now()))
    return nullptr;
  return copy;
}

std::string encode_spec(const topic_specification& spec) {
  std::string out;
  out.push_back(record_version);
  put_field(out, to_string(spec.type));
  for (auto& [k, v] : spec.properties()) {
    put_field(out, k);
    put_field(out, v);
  }
  return out;
}

topic_mapping::spec_ptr decode_spec(std::string_view record, std::string& why) {
  if (record.empty() || record[0] != record_version) {
    why = "unknown record version";
    return nullptr;
  }
  record.remove_prefix(1);
  std::string type;
  if (!get_field(record, type)) {
    why = "cut short";
    return nullptr;
  }
  std::map<std::string, std::string> props;
  while (!record.empty()) {
    std::string k, v;
    if (!get_field(record, k) || !get_field(record, v)) {
      why = "cut short";
      return nullptr;
    }
    props.emplace(std::move(k), std::move(v));
  }
  auto made = make_specification(type, props);
  if (auto err = std::get_if<specification_error>(&made)) {
    why = err->property + ": " + err->message;
    return nullptr;
  }
  return std::make_shared<const topic_specification>(
      std::get<topic_specification>(std::move(made)));
}

loaded load_all(storage::store& db) {
  loaded out;
  db.scan(spec_prefix, [&](std::string_view k, std::string_view v) {
    std::string why;
    auto topic = std::string{k.substr(spec_prefix.size())};
    if (auto spec = decode_spec(v, why))
      out.specs.emplace_back(std::move(topic), std::move(spec));
    else
      out.damaged.push_back(std::string{k} + " (" + why + ")");
    return true;
  });
  auto messages = [&](std::string_view prefix, bool retained) {
    db.scan(prefix, [&](std::string_view k, std::string_view v) {
      bool damaged = false;
      auto topic = std::string{k.substr(prefix.size())};
      auto m = decode_message(v, damaged);
      if (damaged) {
        out.damaged.push_back(std::string{k} + " (not a message record)");
        return true;
      }
      if (!m) {
        ++out.expired;
        return true;
      }
      auto& t = out.topics[topic];
      if (retained) {
        t.retained = std::move(m);
        ++out.retained;
      } else {
        t.value = std::move(m);
        ++out.values;
      }
      return true;
    });
  };
  messages(retained_prefix, true);
  messages(value_prefix, false);
  db.scan(event_prefix, [&](std::string_view k, std::string_view v) {
    auto rest = k.substr(event_prefix.size());
    if (rest.size() < 10 || rest[rest.size() - 9] != '\0') {
      out.damaged.push_back(std::string{k} + " (not an event key)");
      return true;
    }
    bool damaged = false;
    auto m = decode_message(v, damaged);
    if (damaged) {
      out.damaged.push_back(std::string{k} + " (not a message record)");
      return true;
    }
    if (!m)
      return true;
    out.topics[std::string{rest.substr(0, rest.size() - 9)}].events.push_back(
        std::move(m));
    ++out.events;
    return true;
  });
  return out;
}

} // namespace castor::records
