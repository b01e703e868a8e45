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

void put_u32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

/// Reads what put_field, put_u32, put_u64 and single bytes wrote; once
/// something is cut short, every later read fails too.
struct reader {
  std::string_view in;
  bool ok = true;
  std::string field() {
    std::string s;
    ok = ok && get_field(in, s);
    return s;
  }
  uint64_t u64() {
    uint64_t v = 0;
    ok = ok && get_u64(in, v);
    return v;
  }
  uint32_t u32() {
    if (!ok || in.size() < 4) {
      ok = false;
      return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v = (v << 8) | static_cast<uint8_t>(in[i]);
    in.remove_prefix(4);
    return v;
  }
  uint8_t byte() {
    if (!ok || in.empty()) {
      ok = false;
      return 0;
    }
    auto b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    return b;
  }
};

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

std::string message_key(std::string_view client_id, std::string_view topic,
                        uint64_t incarnation, uint64_t seq, bool delta_form) {
  std::string k;
  k.reserve(queued_prefix.size() + client_id.size() + topic.size() + 19);
  k.append(queued_prefix);
  k.append(client_id);
  k.push_back('\0');
  k.append(topic);
  k.push_back('\0');
  put_u64(k, incarnation);
  put_u64(k, seq);
  k.push_back(delta_form ? 1 : 0);
  return k;
}

std::string encode_delivery(const mqtt::delivery& d, uint16_t packet_id,
                            bool released) {
  std::string out;
  out.push_back(record_version);
  put_u64(out, wall_ms());
  out.push_back(static_cast<char>(d.qos));
  out.push_back(static_cast<char>((d.retain ? 1 : 0) | (d.from_share ? 2 : 0)
                                  | (d.conflate ? 4 : 0) | (d.tidy ? 8 : 0)
                                  | (released ? 16 : 0)));
  put_u32(out, packet_id);
  put_u32(out, static_cast<uint32_t>(d.subscription_ids.size()));
  for (auto id : d.subscription_ids)
    put_u32(out, id);
  if (d.msg)
    out += save_message(*d.msg);
  return out;
}

std::string encode_session(const stored_session& x) {
  std::string out;
  out.push_back(record_version);
  put_u64(out, wall_ms());
  put_field(out, x.client_id);
  put_field(out, x.principal);
  put_u32(out, static_cast<uint32_t>(x.roles.size()));
  for (auto& r : x.roles)
    put_field(out, r);
  put_u32(out, x.expiry);
  put_u32(out, static_cast<uint32_t>(x.subs.size()));
  for (size_t i = 0; i < x.subs.size(); ++i) {
    auto& s = x.subs[i];
    put_field(out, s.filter);
    out.push_back(static_cast<char>(s.max_qos));
    out.push_back(static_cast<char>((s.no_local ? 1 : 0)
                                    | (s.retain_as_published ? 2 : 0)));
    out.push_back(static_cast<char>(s.retain_handling));
    put_u32(out, i < x.subscription_ids.size() ? x.subscription_ids[i] : 0);
  }
  out.push_back(static_cast<char>((x.has_will ? 1 : 0) | (x.will_due ? 2 : 0)
                                  | (x.will.retain ? 4 : 0)));
  if (x.has_will) {
    put_field(out, x.will.topic);
    put_field(out, x.will.payload);
    out.push_back(static_cast<char>(x.will.qos));
    put_field(out, save_properties(x.will.props));
    put_u32(out, x.will_delay);
  }
  put_u32(out, static_cast<uint32_t>(x.qos2_ids.size()));
  for (auto id : x.qos2_ids)
    put_u32(out, id);
  return out;
}

namespace {

/// A session record; false if it is damaged.
bool decode_session(std::string_view record, stored_session& x) {
  if (record.empty() || record[0] != record_version)
    return false;
  reader r{record.substr(1)};
  r.u64(); // saved at
  x.client_id = r.field();
  x.principal = r.field();
  for (auto n = r.u32(); r.ok && n > 0; --n)
    x.roles.push_back(r.field());
  x.expiry = r.u32();
  for (auto n = r.u32(); r.ok && n > 0; --n) {
    mqtt::subscription s;
    s.filter = r.field();
    s.max_qos = r.byte();
    auto flags = r.byte();
    s.no_local = flags & 1;
    s.retain_as_published = flags & 2;
    s.retain_handling = r.byte();
    x.subs.push_back(std::move(s));
    x.subscription_ids.push_back(r.u32());
  }
  auto flags = r.byte();
  x.has_will = flags & 1;
  x.will_due = flags & 2;
  x.will.retain = flags & 4;
  if (x.has_will) {
    x.will.topic = r.field();
    x.will.payload = r.field();
    x.will.qos = r.byte();
    x.will.props = load_properties(r.field());
    x.will_delay = r.u32();
  }
  for (auto n = r.u32(); r.ok && n > 0; --n)
    x.qos2_ids.push_back(static_cast<uint16_t>(r.u32()));
  return r.ok && r.in.empty();
}

/// A message record of a persistent session: false if it is damaged;
/// `d.msg` null if its message has expired since.
bool decode_delivery(std::string_view record, stored_session::message& m) {
  if (record.empty() || record[0] != record_version)
    return false;
  reader r{record.substr(1)};
  auto saved = r.u64();
  m.d.qos = r.byte();
  auto flags = r.byte();
  m.d.retain = flags & 1;
  m.d.from_share = flags & 2;
  m.d.conflate = flags & 4;
  m.d.tidy = flags & 8;
  m.released = flags & 16;
  m.packet_id = static_cast<uint16_t>(r.u32());
  for (auto n = r.u32(); r.ok && n > 0; --n)
    m.d.subscription_ids.push_back(r.u32());
  if (!r.ok)
    return false;
  if (m.released)
    return r.in.empty(); // PUBREL next: the message itself is not needed
  // The message, as decode_message reads one after its stamp.
  std::string rec;
  rec.push_back(record_version);
  put_u64(rec, saved);
  rec.append(r.in);
  bool damaged = false;
  m.d.msg = decode_message(rec, damaged);
  return !damaged;
}

} // namespace

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

namespace {

/// Persistent sessions and their messages; messages of no session are
/// orphans (to erase).
void load_sessions(storage::store& db, loaded& out) {
  std::map<std::string, size_t> index;
  db.scan(session_prefix, [&](std::string_view k, std::string_view v) {
    stored_session x;
    if (!decode_session(v, x)
        || x.client_id != k.substr(session_prefix.size())) {
      out.damaged.push_back(std::string{k} + " (not a session record)");
      return true;
    }
    index.emplace(x.client_id, out.sessions.size());
    out.sessions.push_back(std::move(x));
    return true;
  });
  db.scan(queued_prefix, [&](std::string_view k, std::string_view v) {
    auto rest = k.substr(queued_prefix.size());
    auto end = rest.find('\0');
    auto i = end == std::string_view::npos
                 ? index.end()
                 : index.find(std::string{rest.substr(0, end)});
    if (i == index.end()) {
      out.orphans.emplace_back(k);
      return true;
    }
    stored_session::message m;
    if (!decode_delivery(v, m)) {
      out.damaged.push_back(std::string{k} + " (not a message record)");
      out.orphans.emplace_back(k);
      return true;
    }
    if (!m.released && !m.d.msg) { // expired while the server was down
      ++out.expired;
      out.orphans.emplace_back(k);
      return true;
    }
    // The rest of the key: topic, incarnation, seq, form.
    auto tail = rest.substr(end + 1);
    if (tail.size() >= 18) {
      auto tk = tail.substr(tail.size() - 17);
      uint64_t incarnation = 0;
      get_u64(tk, incarnation);
      get_u64(tk, m.d.seq);
      // A `$delta/` delivery goes whole (its delta is not kept).
      m.d.delta_form = tk.size() == 1 && tk[0] == 1;
    }
    m.d.store_key = std::string{k};
    out.sessions[i->second].messages.push_back(std::move(m));
    ++out.session_messages;
    return true;
  });
}

} // namespace

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
  load_sessions(db, out);
  return out;
}

} // namespace castor::records
