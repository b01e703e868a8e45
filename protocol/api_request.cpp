#include "protocol/api_request.hpp"
#include "protocol/handler_table.hpp"

#include <algorithm>

#include "protocol/topic.hpp"

namespace castor::api {

namespace {

using json = nlohmann::json;

error invalid(std::string message) {
  return error{"INVALID_REQUEST", std::move(message)};
}

/// Reads the fields of one request object, refusing unknown ones.
class reader {
public:
  explicit reader(const json& j) : j_(j) {}

  /// The first problem found, if any.
  std::optional<error> problem;

  bool has(const char* key) const {
    return j_.contains(key);
  }

  std::string string(const char* key, bool required = true) {
    seen(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required)
        fail(std::string{"missing '"} + key + "'");
      return {};
    }
    if (!it->is_string()) {
      fail(std::string{"'"} + key + "' must be a string");
      return {};
    }
    return it->get<std::string>();
  }

  /// A topic path (a valid MQTT topic name outside `$castor/`).
  std::string path(const char* key = "path") {
    auto p = string(key);
    if (problem)
      return p;
    if (!mqtt::valid_topic_name(p))
      fail("'" + p + "' is not a valid topic path");
    else if (p.rfind("$castor/", 0) == 0)
      fail("topics under $castor/ are the server's");
    return p;
  }

  /// A topic selector (protocol/topic_selector.hpp): an MQTT topic filter
  /// (not a shared one) or a richer selector.
  std::string selector() {
    auto s = string("selector");
    if (problem)
      return s;
    auto parsed = parse_selector(s);
    if (auto e = std::get_if<selector_error>(&parsed))
      fail("selector '" + s + "' at offset " + std::to_string(e->offset) + ": "
           + e->message);
    return s;
  }

  /// A session filter (protocol/session_filter.hpp); INVALID_FILTER with
  /// the parser's message when it does not parse.
  std::string session_filter(const char* key) {
    auto s = string(key);
    if (problem)
      return s;
    auto parsed = parse_session_filter(s);
    if (auto e = std::get_if<session_filter_error>(&parsed))
      problem = error{"INVALID_FILTER", "filter '" + s + "' at offset "
                                            + std::to_string(e->offset)
                                            + ": " + e->message};
    return s;
  }

  std::optional<bool> boolean(const char* key) {
    seen(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return std::nullopt;
    if (!it->is_boolean()) {
      fail(std::string{"'"} + key + "' must be true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  std::optional<uint64_t> unsigned_number(const char* key, uint64_t min,
                                          uint64_t max) {
    seen(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return std::nullopt;
    if (!it->is_number_unsigned() || it->get<uint64_t>() < min
        || it->get<uint64_t>() > max) {
      fail(std::string{"'"} + key + "' must be a whole number from "
           + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return it->get<uint64_t>();
  }

  /// Any JSON value (required).
  json any(const char* key) {
    seen(key);
    auto it = j_.find(key);
    if (it == j_.end()) {
      fail(std::string{"missing '"} + key + "'");
      return {};
    }
    return *it;
  }

  /// A list of role names (absent: empty).
  std::vector<std::string> roles(const char* key) {
    seen(key);
    std::vector<std::string> out;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return out;
    if (!it->is_array() || it->size() > 100) {
      fail(std::string{"'"} + key + "' must be a list of at most 100 role names");
      return out;
    }
    for (auto& v : *it) {
      if (!v.is_string() || v.get_ref<const std::string&>().empty()
          || v.get_ref<const std::string&>().size() > 256) {
        fail(std::string{"'"} + key + "' must hold role names (texts of 1 to 256 bytes)");
        return {};
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  }

  const json* object(const char* key) {
    seen(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return nullptr;
    if (!it->is_object()) {
      fail(std::string{"'"} + key + "' must be an object");
      return nullptr;
    }
    return &*it;
  }

  std::optional<update_constraint> constraint() {
    seen("constraint");
    auto it = j_.find("constraint");
    if (it == j_.end() || it->is_null())
      return std::nullopt;
    auto c = parse_constraint(*it);
    if (auto e = std::get_if<std::string>(&c)) {
      if (!problem)
        problem = error{"INVALID_CONSTRAINT", *e};
      return std::nullopt;
    }
    return std::get<update_constraint>(std::move(c));
  }

  /// The JSON text of the constraint (empty: none).
  std::string constraint_text() const {
    auto it = j_.find("constraint");
    return it == j_.end() || it->is_null() ? std::string{} : it->dump();
  }

  /// A specification: `type` and `properties` of `j` (an object).
  std::optional<topic_specification> specification(const json& j) {
    if (!j.contains("type") || !j["type"].is_string()) {
      fail("a specification needs 'type' (a string)");
      return std::nullopt;
    }
    std::map<std::string, std::string> props;
    if (j.contains("properties")) {
      auto& p = j["properties"];
      if (!p.is_object()) {
        fail("'properties' must be an object of strings");
        return std::nullopt;
      }
      for (auto it = p.begin(); it != p.end(); ++it) {
        if (!it->is_string()) {
          fail("property '" + it.key() + "' must be a string");
          return std::nullopt;
        }
        props[it.key()] = it->get<std::string>();
      }
    }
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "type" && it.key() != "properties") {
        fail("unknown field '" + it.key() + "' in a specification");
        return std::nullopt;
      }
    auto s = make_specification(j["type"].get<std::string>(), props);
    if (auto e = std::get_if<specification_error>(&s)) {
      if (!problem)
        problem = error{"INVALID_SPECIFICATION",
                        e->property.empty() ? e->message
                                            : e->property + ": " + e->message};
      return std::nullopt;
    }
    return std::get<topic_specification>(std::move(s));
  }

  /// Refuses fields no reader asked for.
  void finish() {
    if (problem)
      return;
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end()) {
        fail("unknown field '" + it.key() + "'");
        return;
      }
  }

  void fail(std::string message) {
    if (!problem)
      problem = invalid(std::move(message));
  }

private:
  void seen(const char* key) {
    seen_.emplace_back(key);
  }

  const json& j_;
  std::vector<std::string> seen_;
};

/// One end of a range query (`from` or `to`): an object with one key, a
/// sequence number, a time, a count or a period.
struct range_end {
  const char* name;  ///< "from" or "to"
  const char* count; ///< "last" or "next"
  const char* span;  ///< "last_for" or "next_for"
  std::optional<uint64_t>& seq;
  std::optional<int64_t>& time;
  std::optional<uint64_t>& counted;
  std::optional<std::chrono::milliseconds>& period;
};

void read_range_end(reader& r, const json* j, const range_end& e) {
  if (j == nullptr)
    return;
  auto expected = std::string{"'"} + e.name + "' takes one of seq, time, "
                  + e.count + ", " + e.span;
  if (j->size() != 1) {
    r.fail(expected);
    return;
  }
  auto& k = j->begin().key();
  auto& v = j->begin().value();
  auto whole = [&]() -> std::optional<uint64_t> {
    if (!v.is_number_unsigned()) {
      r.fail("'" + k + "' takes a whole number");
      return std::nullopt;
    }
    return v.get<uint64_t>();
  };
  if (k == "seq") {
    e.seq = whole();
  } else if (k == e.count) {
    e.counted = whole();
  } else if (k == "time") {
    if (v.is_number_integer())
      e.time = v.get<int64_t>();
    else
      r.fail("'time' takes milliseconds since the epoch");
  } else if (k == e.span) {
    e.period
        = v.is_string() ? parse_period(v.get<std::string>()) : std::nullopt;
    if (!e.period)
      r.fail("'" + k + "' takes a period such as \"10s\"");
  } else {
    r.fail(expected + ", not '" + k + "'");
  }
}

/// A range query's `from` and `to` objects.
void read_range(reader& r, const json* from, const json* to, range_query& q) {
  read_range_end(r, from,
                 {"from", "last", "last_for", q.from_seq, q.from_time,
                  q.from_last, q.from_last_for});
  if (!r.problem)
    read_range_end(
        r, to,
        {"to", "next", "next_for", q.to_seq, q.to_time, q.next, q.next_for});
}

} // namespace

const std::vector<std::string_view>& operations() {
  static const std::vector<std::string_view> ops{
      "topics/add",      "topics/remove",    "topics/fetch",
      "topics/update",   "topics/patch",     "timeseries/append",
      "timeseries/edit", "timeseries/range", "locks/acquire",
      "locks/release",   "topics/subscribe", "topics/unsubscribe",
      "topics/notify",   "topics/unnotify",  "handlers/add",
      "handlers/remove", "messages/send",    "sessions/list",
      "sessions/get",    "sessions/close",   "sessions/set-properties",
      "sessions/subscribe", "sessions/unsubscribe",
      "sessions/change-roles",
      "handlers/missing-topic", "handlers/remove-missing-topic",
      // Requests to sessions.
      "streams/add", "streams/remove", "messages/send-to-session",
      "messages/send-to-filter"};
  return ops;
}

std::variant<request, error> parse_request(std::string_view operation,
                                           std::string_view payload) {
  auto& ops = operations();
  if (std::find(ops.begin(), ops.end(), operation) == ops.end())
    return error{"UNKNOWN_OPERATION",
                 "no operation '" + std::string{operation} + "'"};
  // nlohmann's reader takes a NUL byte for the end of the input.
  auto j = payload.find('\0') == std::string_view::npos
               ? json::parse(payload.begin(), payload.end(), nullptr, false)
               : json{json::value_t::discarded};
  if (j.is_discarded())
    return invalid("the payload is not JSON");
  if (!j.is_object())
    return invalid("the payload must be a JSON object");
  reader r{j};
  request out;
  if (operation == "topics/add") {
    add_topic a;
    a.path = r.path();
    auto spec = json::object();
    r.string("type");
    if (r.has("type"))
      spec["type"] = j["type"];
    if (auto p = r.object("properties"))
      spec["properties"] = *p;
    if (!r.problem)
      if (auto s = r.specification(spec))
        a.spec = std::move(*s);
    out = std::move(a);
  } else if (operation == "topics/remove") {
    out = remove_topics{r.selector()};
  } else if (operation == "topics/fetch") {
    fetch_topics f;
    f.selector = r.selector();
    if (auto v = r.boolean("values"))
      f.values = *v;
    if (auto l = r.unsigned_number("limit", 1, 10000))
      f.limit = static_cast<size_t>(*l);
    out = std::move(f);
  } else if (operation == "topics/subscribe") {
    subscribe_topics t;
    t.selector = r.selector();
    if (auto q = r.unsigned_number("qos", 0, 2))
      t.qos = static_cast<uint8_t>(*q);
    t.delta = r.boolean("delta").value_or(false);
    out = std::move(t);
  } else if (operation == "topics/unsubscribe") {
    unsubscribe_topics t;
    t.selector = r.selector();
    t.delta = r.boolean("delta").value_or(false);
    out = std::move(t);
  } else if (operation == "sessions/list") {
    list_sessions l;
    if (r.has("filter"))
      l.filter = r.session_filter("filter");
    l.after = r.string("after", false);
    if (auto n = r.unsigned_number("limit", 1, 1000))
      l.limit = static_cast<size_t>(*n);
    out = std::move(l);
  } else if (operation == "sessions/subscribe"
             || operation == "sessions/unsubscribe") {
    subscribe_session s;
    s.session = r.string("session");
    s.unsubscribe = operation == "sessions/unsubscribe";
    s.subscription.selector = r.selector();
    if (!s.unsubscribe)
      if (auto q = r.unsigned_number("qos", 0, 2))
        s.subscription.qos = static_cast<uint8_t>(*q);
    s.subscription.delta = r.boolean("delta").value_or(false);
    out = std::move(s);
  } else if (operation == "sessions/get") {
    out = get_session{r.string("session")};
  } else if (operation == "sessions/close") {
    close_sessions c;
    if (r.has("session") == r.has("filter"))
      r.fail("give either 'session' or 'filter'");
    else if (r.has("session"))
      c.session = r.string("session");
    else
      c.filter = r.session_filter("filter");
    out = std::move(c);
  } else if (operation == "sessions/change-roles") {
    change_session_roles c;
    c.session = r.string("session");
    c.add = r.roles("add");
    c.remove = r.roles("remove");
    if (!r.problem && c.add.empty() && c.remove.empty())
      r.fail("give 'add' or 'remove' (a list of role names)");
    out = std::move(c);
  } else if (operation == "sessions/set-properties") {
    set_session_properties p;
    p.session = r.string("session");
    if (auto o = r.object("properties")) {
      for (auto& [k, v] : o->items()) {
        if (k.empty() || k[0] == '$')
          r.fail("property '" + k + "': names starting with $ are the server's");
        else if (!v.is_string())
          r.fail("property '" + k + "' must be a string");
        else
          p.properties[k] = v.get<std::string>();
      }
    } else if (!r.problem) {
      r.fail("missing 'properties'");
    }
    out = std::move(p);
  } else if (operation == "topics/notify") {
    notify_topics n;
    n.selector = r.selector();
    n.branches = r.boolean("branches").value_or(false);
    out = std::move(n);
  } else if (operation == "topics/unnotify") {
    out = unnotify_topics{r.selector()};
  } else if (operation == "topics/update") {
    update_topic u;
    u.path = r.path();
    u.value = r.any("value");
    u.constraint = r.constraint();
    u.constraint_text = r.constraint_text();
    if (auto s = r.object("specification"))
      u.spec = r.specification(*s);
    out = std::move(u);
  } else if (operation == "topics/patch") {
    patch_topic p;
    p.path = r.path();
    p.patch = r.any("patch");
    if (!r.problem && !p.patch.is_array())
      r.fail("'patch' must be a list of JSON Patch operations");
    p.constraint = r.constraint();
    p.constraint_text = r.constraint_text();
    out = std::move(p);
  } else if (operation == "timeseries/append") {
    out = append_event{r.path(), r.any("value")};
  } else if (operation == "timeseries/edit") {
    edit_event e;
    e.path = r.path();
    auto o = r.unsigned_number("original", 0, UINT64_MAX);
    if (!o && !r.problem)
      r.fail("missing 'original'");
    e.original = o.value_or(0);
    e.value = r.any("value");
    out = std::move(e);
  } else if (operation == "timeseries/range") {
    query_range q;
    q.path = r.path();
    auto view = r.string("view", false);
    if (view == "edits")
      q.query.what = range_query::view::edits;
    else if (!view.empty() && view != "values")
      r.fail("'view' is values or edits");
    auto from = r.object("from");
    auto to = r.object("to");
    if (!r.problem)
      read_range(r, from, to, q.query);
    if (auto l = r.unsigned_number("limit", 1, 100000))
      q.query.limit = static_cast<size_t>(*l);
    out = std::move(q);
  } else if (operation == "locks/acquire" || operation == "locks/release") {
    auto name = r.string("name");
    if (!r.problem && name.empty())
      r.fail("'name' must not be empty");
    if (!r.problem && name.size() > max_lock_name)
      r.fail("'name' is longer than " + std::to_string(max_lock_name)
             + " bytes");
    if (operation == "locks/acquire") {
      acquire_lock a{name};
      if (auto w = r.unsigned_number("wait_ms", 0, max_lock_wait_ms))
        a.wait_ms = *w;
      auto mode = r.string("release_on", false);
      if (mode == "disconnect")
        a.release_on = lock_release::disconnect;
      else if (!mode.empty() && mode != "session_close")
        r.fail("'release_on' is session_close or disconnect");
      out = std::move(a);
    } else {
      out = release_lock{name};
    }
  } else if (operation == "handlers/add" || operation == "handlers/remove"
             || operation == "messages/send"
             || operation == "handlers/missing-topic"
             || operation == "handlers/remove-missing-topic") {
    auto path = r.string("path");
    if (!r.problem && !valid_handler_path(path))
      r.fail("'" + path
             + "' is not a valid message path (no wildcards, empty levels, "
               "leading $ or trailing /)");
    if (operation == "handlers/add")
      out = add_handler{path};
    else if (operation == "handlers/remove")
      out = remove_handler{path};
    else if (operation == "handlers/missing-topic")
      out = add_missing_handler{path};
    else if (operation == "handlers/remove-missing-topic")
      out = remove_missing_handler{path};
    else
      out = send_message{path, r.any("value")};
  } else if (operation == "streams/add" || operation == "streams/remove"
             || operation == "messages/send-to-session"
             || operation == "messages/send-to-filter") {
    // Requests to sessions: the target first, then the path and value.
    std::string session;
    std::string filter;
    if (operation == "messages/send-to-session")
      session = r.string("session");
    else if (operation == "messages/send-to-filter")
      filter = r.session_filter("filter");
    auto path = r.string("path");
    if (!r.problem && !valid_handler_path(path))
      r.fail("'" + path
             + "' is not a valid message path (no wildcards, empty levels, "
               "leading $ or trailing /)");
    if (operation == "streams/add")
      out = add_stream{path};
    else if (operation == "streams/remove")
      out = remove_stream{path};
    else if (operation == "messages/send-to-session")
      out = send_to_session{session, path, r.any("value")};
    else
      out = send_to_filter{filter, path, r.any("value")};
  }
  r.finish();
  if (r.problem)
    return *r.problem;
  return out;
}

std::string ok_answer(nlohmann::json fields) {
  json out = json::object();
  out["ok"] = true;
  for (auto it = fields.begin(); it != fields.end(); ++it)
    if (it.key() != "ok")
      out[it.key()] = it.value();
  return out.dump();
}

std::string error_answer(const error& e) {
  json out
      = {{"ok", false}, {"error", {{"code", e.code}, {"message", e.message}}}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace castor::api
