#include "protocol/constraint.hpp"

#include <algorithm>

namespace castor {

namespace {

using json = nlohmann::json;

constexpr int max_depth = 16;
constexpr size_t max_parts = 64;

bool value_equals(const typed_value& v, const json& x) {
  switch (v.type) {
  case topic_type::json:
    return v.json == x;
  case topic_type::string:
  case topic_type::binary:
    return x.is_string() && x.get_ref<const std::string&>() == v.bytes;
  case topic_type::int64:
    return x.is_number_integer() && x == v.int64;
  case topic_type::double_:
    return x.is_number() && x.get<double>() == v.number;
  case topic_type::time_series:
    break;
  }
  return false;
}

/// The JSON value at `pointer` in a JSON value, if any.
const json* at_pointer(const typed_value* v, const std::string& pointer) {
  if (v == nullptr || v->type != topic_type::json)
    return nullptr;
  try {
    json::json_pointer p{pointer};
    if (!v->json.contains(p))
      return nullptr;
    return &v->json.at(p);
  } catch (const json::exception&) {
    return nullptr;
  }
}

std::variant<update_constraint, std::string> parse(const json& j, int depth) {
  if (depth > max_depth)
    return std::string{"constraints nest more than 16 deep"};
  if (!j.is_object() || j.empty())
    return std::string{"a constraint is a non-empty JSON object"};
  update_constraint c;
  auto only = [&](std::initializer_list<const char*> keys) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (std::none_of(keys.begin(), keys.end(),
                       [&](const char* k) { return it.key() == k; }))
        return std::optional<std::string>{"unexpected key '" + it.key()
                                          + "' in a constraint"};
    return std::optional<std::string>{};
  };
  auto flag_true = [&](const char* key) -> std::optional<std::string> {
    if (!j.at(key).is_boolean() || !j.at(key).get<bool>())
      return std::string{"'"} + key + "' takes true";
    return std::nullopt;
  };
  std::optional<std::string> err;
  if (j.contains("and") || j.contains("or")) {
    bool all = j.contains("and");
    const char* key = all ? "and" : "or";
    err = only({key});
    if (err)
      return *err;
    auto& list = j.at(key);
    if (!list.is_array() || list.empty() || list.size() > max_parts)
      return std::string{"'"} + key + "' takes a list of 1 to 64 constraints";
    c.what = all ? update_constraint::kind::all : update_constraint::kind::any;
    for (auto& part : list) {
      auto p = parse(part, depth + 1);
      if (auto e = std::get_if<std::string>(&p))
        return *e;
      c.parts.push_back(std::get<update_constraint>(std::move(p)));
    }
    return c;
  }
  if (j.contains("value")) {
    err = only({"value"});
    c.what = update_constraint::kind::value_is;
    c.operand = j.at("value");
  } else if (j.contains("no_value")) {
    err = only({"no_value"});
    if (!err)
      err = flag_true("no_value");
    c.what = update_constraint::kind::no_value;
  } else if (j.contains("no_topic")) {
    err = only({"no_topic"});
    if (!err)
      err = flag_true("no_topic");
    c.what = update_constraint::kind::no_topic;
  } else if (j.contains("pointer")) {
    if (!j.at("pointer").is_string())
      return std::string{"'pointer' takes a JSON pointer (\"/a/b\")"};
    c.text = j.at("pointer").get<std::string>();
    try {
      json::json_pointer check{c.text};
    } catch (const json::exception&) {
      return "'" + c.text + "' is not a JSON pointer";
    }
    if (j.contains("equals")) {
      err = only({"pointer", "equals"});
      c.what = update_constraint::kind::pointer_equals;
      c.operand = j.at("equals");
    } else if (j.contains("exists")) {
      err = only({"pointer", "exists"});
      if (!j.at("exists").is_boolean())
        return std::string{"'exists' takes true or false"};
      c.what = j.at("exists").get<bool>()
                   ? update_constraint::kind::pointer_exists
                   : update_constraint::kind::pointer_absent;
    } else {
      return std::string{"'pointer' needs 'equals' or 'exists'"};
    }
  } else if (j.contains("locked")) {
    err = only({"locked"});
    if (!j.at("locked").is_string()
        || j.at("locked").get<std::string>().empty())
      return std::string{"'locked' takes a lock name"};
    c.what = update_constraint::kind::locked;
    c.text = j.at("locked").get<std::string>();
  } else {
    return "unknown constraint '" + j.begin().key()
           + "' (value, no_value, no_topic, pointer, locked, and, or)";
  }
  if (err)
    return *err;
  return c;
}

} // namespace

bool satisfied(const update_constraint& c, const constraint_facts& f) {
  using kind = update_constraint::kind;
  switch (c.what) {
  case kind::all:
    return std::all_of(
        c.parts.begin(), c.parts.end(),
        [&](const update_constraint& p) { return satisfied(p, f); });
  case kind::any:
    return std::any_of(
        c.parts.begin(), c.parts.end(),
        [&](const update_constraint& p) { return satisfied(p, f); });
  case kind::value_is:
    return f.current != nullptr && value_equals(*f.current, c.operand);
  case kind::no_value:
    return f.topic_exists && f.current == nullptr;
  case kind::no_topic:
    return !f.topic_exists;
  case kind::pointer_equals: {
    auto p = at_pointer(f.current, c.text);
    return p != nullptr && *p == c.operand;
  }
  case kind::pointer_exists:
    return at_pointer(f.current, c.text) != nullptr;
  case kind::pointer_absent:
    return f.current != nullptr && f.current->type == topic_type::json
           && at_pointer(f.current, c.text) == nullptr;
  case kind::locked:
    return f.holds_lock && f.holds_lock(c.text);
  }
  return false;
}

std::variant<update_constraint, std::string>
parse_constraint(const nlohmann::json& j) {
  return parse(j, 0);
}

std::optional<lock_table::grant>
lock_table::acquire(const std::string& lock, const std::string& session) {
  auto [it, fresh] = locks_.try_emplace(lock);
  auto& e = it->second;
  if (fresh || e.holder.empty()) {
    e.holder = session;
    e.token = ++tokens_;
    return grant{lock, session, e.token};
  }
  if (e.holder == session)
    return grant{lock, session, e.token};
  if (std::find(e.waiting.begin(), e.waiting.end(), session) == e.waiting.end())
    e.waiting.push_back(session);
  return std::nullopt;
}

std::optional<lock_table::grant> lock_table::pass_on(const std::string& name,
                                                     entry& e) {
  if (e.waiting.empty()) {
    locks_.erase(name);
    return std::nullopt;
  }
  e.holder = std::move(e.waiting.front());
  e.waiting.pop_front();
  e.token = ++tokens_;
  return grant{name, e.holder, e.token};
}

std::optional<lock_table::grant>
lock_table::release(const std::string& lock, const std::string& session) {
  auto it = locks_.find(lock);
  if (it == locks_.end())
    return std::nullopt;
  auto& e = it->second;
  if (e.holder != session) {
    e.waiting.erase(std::remove(e.waiting.begin(), e.waiting.end(), session),
                    e.waiting.end());
    return std::nullopt;
  }
  return pass_on(lock, e);
}

std::vector<lock_table::grant>
lock_table::session_closed(const std::string& session) {
  std::vector<grant> out;
  std::vector<std::string> held;
  for (auto& [name, e] : locks_) {
    e.waiting.erase(std::remove(e.waiting.begin(), e.waiting.end(), session),
                    e.waiting.end());
    if (e.holder == session)
      held.push_back(name);
  }
  for (auto& name : held)
    if (auto g = pass_on(name, locks_.at(name)))
      out.push_back(std::move(*g));
  return out;
}

bool lock_table::holds(const std::string& lock,
                       const std::string& session) const {
  auto it = locks_.find(lock);
  return it != locks_.end() && it->second.holder == session;
}

size_t lock_table::waiting(const std::string& lock) const {
  auto it = locks_.find(lock);
  return it == locks_.end() ? 0 : it->second.waiting.size();
}

bool lock_table::waits(const std::string& lock,
                       const std::string& session) const {
  auto it = locks_.find(lock);
  if (it == locks_.end())
    return false;
  auto& w = it->second.waiting;
  return std::find(w.begin(), w.end(), session) != w.end();
}

} // namespace castor
