#include "app/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include <sys/stat.h>

#include <yaml-cpp/yaml.h>

#include "app/config_reader.hpp"

// The loader is driven by one table per YAML mapping (the top level, a
// listener, the mqtt section). Each row names a key and knows how to read,
// check and write its value, so adding a setting is one row:
//
//   uint_field("receive_maximum", &mqtt_config::receive_maximum, 1, 65535),
//
// Errors are thrown as `failure` from deep inside the readers and caught once
// in parse_config, which turns them into a config_error.

namespace castor {

std::string config_error::to_string() const {
  std::string result = file.empty() ? std::string{"<config>"} : file;
  if (line > 0) {
    result += ':';
    result += std::to_string(line);
  }
  result += ": ";
  if (!key.empty()) {
    result += key;
    result += ": ";
  }
  result += message;
  return result;
}

namespace {

using namespace config_reader;

// -- the tables
// -----------------------------------------------------------------

constexpr uint64_t min_packet_size = 64;
constexpr uint64_t max_packet_size = 268435460; // 268,435,455 + 5 header bytes

const table<listener_tls_config>& listener_tls_table() {
  using t = listener_tls_config;
  static const table<t> rows{
      string_field("cert_file", &t::cert_file),
      string_field("key_file", &t::key_file),
      string_field("ca_file", &t::ca_file),
      enum_field("verify_client", &t::verify_client,
                 enum_names<tls_verify_client>{
                     {"none", tls_verify_client::none},
                     {"optional", tls_verify_client::optional},
                     {"required", tls_verify_client::required},
                 }),
      enum_field("principal_from", &t::principal_from,
                 enum_names<tls_principal_from>{
                     {"cn", tls_principal_from::cn},
                     {"subject", tls_principal_from::subject},
                     {"dns", tls_principal_from::dns},
                     {"email", tls_principal_from::email},
                     {"uri", tls_principal_from::uri},
                 }),
  };
  return rows;
}

const table<listener_websocket_config>& listener_websocket_table() {
  using w = listener_websocket_config;
  static const table<w> rows{
      string_field("path", &w::path,
                   [](const std::string& s) -> std::string {
                     if (s.empty() || s[0] != '/')
                       return "must start with '/'";
                     if (s.find_first_of(" \t?#") != std::string::npos)
                       return "'" + s
                              + "' is not a request path (no spaces, ? or #)";
                     return "";
                   }),
      uint_field("max_frame_size", &w::max_frame_size, min_packet_size,
                 max_packet_size, true),
  };
  return rows;
}

const table<listener_config>& listener_table() {
  using l = listener_config;
  static const table<l> rows{
      string_field("name", &l::name,
                   [](const std::string& s) {
                     return s.empty() ? "must not be empty" : "";
                   }),
      string_field("transport", &l::transport,
                   [](const std::string& s) -> std::string {
                     if (s == "tcp" || s == "tls" || s == "ws" || s == "wss"
                         || s == "http" || s == "https")
                       return "";
                     return "unsupported transport '" + s
                            + "' (supported: tcp, tls, ws, wss, http, "
                              "https)";
                   }),
      string_field("bind", &l::bind,
                   [](const std::string& s) -> std::string {
                     if (s.empty())
                       return "must not be empty (use 0.0.0.0 for every "
                              "interface)";
                     if (s.find_first_of(" \t") != std::string::npos)
                       return "'" + s + "' is not an address";
                     return "";
                   }),
      uint_field("port", &l::port, 1, 65535),
      uint_field("max_connections", &l::max_connections, 1),
      bool_field("require_auth", &l::require_auth),
      bool_field("reuse_port", &l::reuse_port),
      uint_field("max_packet_size", &l::max_packet_size, min_packet_size,
                 max_packet_size, true),
      section_field("tls", &l::tls, listener_tls_table),
      section_field("websocket", &l::websocket, listener_websocket_table),
  };
  return rows;
}

const table<mqtt_config>& mqtt_table() {
  using m = mqtt_config;
  static const table<m> rows{
      uint_field("max_packet_size", &m::max_packet_size, min_packet_size,
                 max_packet_size),
      uint_field("receive_maximum", &m::receive_maximum, 1, 65535),
      uint_field("topic_alias_maximum", &m::topic_alias_maximum, 0, 65535),
      uint_field("max_keep_alive", &m::max_keep_alive, 1, 65535),
      uint_field("max_session_expiry", &m::max_session_expiry, 0),
      uint_field("connect_timeout_ms", &m::connect_timeout_ms, 1),
      uint_field("maximum_qos", &m::maximum_qos, 0, 2),
      bool_field("retain_available", &m::retain_available),
      bool_field("wildcard_subscription_available",
                 &m::wildcard_subscription_available),
      bool_field("subscription_identifier_available",
                 &m::subscription_identifier_available),
      bool_field("shared_subscription_available",
                 &m::shared_subscription_available),
      bool_field("allow_empty_client_id", &m::allow_empty_client_id),
      uint_field("max_queued_messages", &m::max_queued_messages, 1),
      enum_field("queue_full", &m::queue_full,
                 enum_names<queue_full_policy>{
                     {"drop_oldest", queue_full_policy::drop_oldest},
                     {"drop_newest", queue_full_policy::drop_newest},
                 }),
      uint_field("max_outbound_bytes", &m::max_outbound_bytes, 1),
      uint_field("max_inbound_bytes", &m::max_inbound_bytes, 1),
      uint_field("slow_consumer_timeout_ms", &m::slow_consumer_timeout_ms, 1),
      enum_field("slow_consumer", &m::slow_consumer,
                 enum_names<slow_consumer_policy>{
                     {"disconnect", slow_consumer_policy::disconnect},
                     {"drop_qos0", slow_consumer_policy::drop_qos0},
                 }),
      uint_field("max_subscriptions_per_client",
                 &m::max_subscriptions_per_client, 1),
      uint_field("topic_idle_timeout_ms", &m::topic_idle_timeout_ms, 0),
      uint_field("max_retained_messages", &m::max_retained_messages, 0),
      uint_field("max_retained_bytes", &m::max_retained_bytes, 0),
  };
  return rows;
}

const table<jwt_config>& jwt_table() {
  using j = jwt_config;
  static const table<j> rows{
      string_field("hs256_secret_file", &j::hs256_secret_file),
      string_field("rs256_public_key_file", &j::rs256_public_key_file),
      string_field("roles_claim", &j::roles_claim,
                   [](const std::string& s) {
                     return s.empty() ? "must not be empty" : "";
                   }),
      string_field("issuer", &j::issuer),
      string_field("audience", &j::audience),
      uint_field("leeway_seconds", &j::leeway_seconds, 0, 86400),
  };
  return rows;
}

const table<security_config>& security_table() {
  using s = security_config;
  static const table<s> rows{
      string_field("store_file", &s::store_file),
      enum_field("anonymous", &s::anonymous,
                 enum_names<anonymous_policy>{
                     {"allow", anonymous_policy::allow},
                     {"deny", anonymous_policy::deny},
                     {"store", anonymous_policy::store},
                 }),
      name_list_field("anonymous_roles", &s::anonymous_roles),
      section_field("jwt", &s::jwt, jwt_table),
      uint_field("failed_login_threshold", &s::failed_login_threshold, 1),
      uint_field("failed_login_address_threshold",
                 &s::failed_login_address_threshold, 1),
      uint_field("failed_login_delay_ms", &s::failed_login_delay_ms, 0, 60000),
      uint_field("failed_login_max_delay_ms", &s::failed_login_max_delay_ms, 0,
                 600000),
      uint_field("failed_login_rate_per_minute",
                 &s::failed_login_rate_per_minute, 0, 1000000),
      uint_field("hash_threads", &s::hash_threads, 0, 64),
      enum_field("hash_threads_priority", &s::hash_threads_priority,
                 enum_names<hash_priority>{
                     {"idle", hash_priority::idle},
                     {"low", hash_priority::low},
                     {"normal", hash_priority::normal},
                 }),
      uint_field("hash_queue_limit", &s::hash_queue_limit, 1, 1000000),
      string_field("stand_in_secret_file", &s::stand_in_secret_file),
      enum_field("foreign_session", &s::foreign_session,
                 enum_names<foreign_session_policy>{
                     {"refuse", foreign_session_policy::refuse},
                     {"replace", foreign_session_policy::replace},
                 }),
  };
  return rows;
}

/// Which line each listener's name and port came from, for duplicate errors.
int key_line(const YAML::Node& map, const char* key, int fallback) {
  if (map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key)
        return line_of(it->second, line_of(it->first, fallback));
  }
  return fallback;
}

/// Line of `outer.inner` in a listener mapping (or of `outer`, or of the
/// listener).
int nested_line(const YAML::Node& map, const char* outer, const char* inner,
                int fallback) {
  if (!map.IsMap())
    return fallback;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar() != outer)
      continue;
    int line = line_of(it->first, fallback);
    return it->second.IsMap() ? key_line(it->second, inner, line) : line;
  }
  return fallback;
}

/// Settings that only make sense together.
void check_listener(const YAML::Node& item, const std::string& key, int line,
                    const listener_config& l) {
  bool tls = l.transport == "tls" || l.transport == "wss"
             || l.transport == "https";
  const auto& t = l.tls;
  if (tls) {
    if (t.cert_file.empty())
      throw failure{nested_line(item, "tls", "cert_file", line),
                    key + ".tls.cert_file",
                    "required for transport " + l.transport
                        + " (PEM certificate chain)"};
    if (t.key_file.empty())
      throw failure{nested_line(item, "tls", "key_file", line),
                    key + ".tls.key_file",
                    "required for transport " + l.transport
                        + " (PEM private key)"};
    if (t.verify_client != tls_verify_client::none && t.ca_file.empty())
      throw failure{nested_line(item, "tls", "ca_file", line),
                    key + ".tls.ca_file",
                    "required when verify_client is not none (the CAs that "
                    "client certificates must chain to)"};
    return;
  }
  // TLS settings on a listener without TLS would suggest a protection that
  // is not there.
  const char* set = !t.cert_file.empty() ? "cert_file"
                    : !t.key_file.empty() ? "key_file"
                    : !t.ca_file.empty()  ? "ca_file"
                    : t.verify_client != tls_verify_client::none
                        ? "verify_client"
                        : nullptr;
  if (set != nullptr)
    throw failure{nested_line(item, "tls", set, line),
                  key + ".tls." + set,
                  "set, but transport " + l.transport
                      + " has no TLS (use transport tls, wss or https)"};
}

void read_listeners(const value_ref& v, config& out) {
  if (v.node.IsNull() || (v.node.IsSequence() && v.node.size() == 0))
    v.fail("at least one listener is required");
  if (!v.node.IsSequence())
    v.fail("expected a list of listeners, got " + describe(v.node));
  std::vector<listener_config> result;
  std::vector<int> lines;
  for (size_t i = 0; i < v.node.size(); ++i) {
    auto item = v.node[i];
    auto key = v.key + "[" + std::to_string(i) + "]";
    int line = line_of(item, v.line);
    listener_config listener;
    value_ref ref{item, key, line};
    if (!item.IsMap())
      ref.fail("expected a mapping (name, transport, bind, port, ...), got "
               + describe(item));
    read_map(ref, listener_table(), listener);
    check_listener(item, key, line, listener);
    for (size_t j = 0; j < result.size(); ++j) {
      if (result[j].name == listener.name)
        throw failure{key_line(item, "name", line), key + ".name",
                      "listener name '" + listener.name
                          + "' is already used by " + v.key + "["
                          + std::to_string(j) + "] (line "
                          + std::to_string(lines[j]) + ")"};
      if (result[j].port == listener.port)
        throw failure{key_line(item, "port", line), key + ".port",
                      "port " + std::to_string(listener.port)
                          + " is already used by listener '" + result[j].name
                          + "' (line " + std::to_string(lines[j]) + ")"};
    }
    result.push_back(std::move(listener));
    lines.push_back(line);
  }
  out.listeners = std::move(result);
}


/// One rule of topics.mapping: filter, type and properties (a mapping of
/// property names to scalars, as the topic API takes them).
mapping_rule read_mapping_rule(const YAML::Node& item, const std::string& key,
                               int line) {
  value_ref ref{item, key, line};
  if (!item.IsMap())
    ref.fail("expected a mapping (filter, type, properties), got "
             + describe(item));
  std::string filter, type;
  std::map<std::string, std::string> props;
  std::map<std::string, int> prop_lines;
  for (auto it = item.begin(); it != item.end(); ++it) {
    int at = line_of(it->first, line);
    auto name = it->first.IsScalar() ? it->first.Scalar() : std::string{};
    YAML::Node node = it->second; // the iterator's value is a temporary
    value_ref v{node, key + "." + name, line_of(node, at)};
    if (name == "filter") {
      filter = scalar_of(v, "a topic filter");
    } else if (name == "type") {
      type = scalar_of(v, "a topic type");
    } else if (name == "properties") {
      if (v.node.IsNull())
        continue;
      if (!v.node.IsMap())
        v.fail("expected a mapping of property names to values, got "
               + describe(v.node));
      for (auto p = v.node.begin(); p != v.node.end(); ++p) {
        int pline = line_of(p->first, v.line);
        auto pname = p->first.IsScalar() ? p->first.Scalar() : std::string{};
        YAML::Node pnode = p->second;
        value_ref pv{pnode, v.key + "." + pname, line_of(pnode, pline)};
        props[pname] = scalar_of(pv, "a property value");
        prop_lines[pname] = pline;
      }
    } else {
      throw failure{at, key + "." + name,
                    "unknown key; valid keys here: filter, type, properties"};
    }
  }
  if (filter.empty())
    throw failure{line, key + ".filter", "required (the topics it maps)"};
  if (type.empty())
    throw failure{line, key + ".type",
                  "required (json, string, int64, double or binary)"};
  // The filter, and a type no rule may have, before the properties.
  if (auto t = parse_topic_type(type)) {
    if (auto err = check_mapping_rule(filter, *t))
      throw failure{key_line(item, err->field.c_str(), line),
                    key + "." + err->field, err->message};
  }
  auto spec = make_specification(type, props);
  if (auto err = std::get_if<specification_error>(&spec)) {
    if (err->property.empty())
      throw failure{key_line(item, "type", line), key + ".type", err->message};
    auto pl = prop_lines.find(err->property);
    throw failure{pl != prop_lines.end() ? pl->second
                                         : key_line(item, "properties", line),
                  key + ".properties." + err->property, err->message};
  }
  return mapping_rule{filter, std::get<topic_specification>(std::move(spec))};
}

void read_mapping(const value_ref& v, topics_config& out) {
  out.mapping.clear();
  if (v.node.IsNull())
    return;
  if (!v.node.IsSequence())
    v.fail("expected a list of rules (filter, type, properties), got "
           + describe(v.node));
  for (size_t i = 0; i < v.node.size(); ++i) {
    auto item = v.node[i];
    out.mapping.push_back(read_mapping_rule(
        item, v.key + "[" + std::to_string(i) + "]", line_of(item, v.line)));
  }
}

void write_mapping(YAML::Emitter& e, const topics_config& in) {
  e << YAML::BeginSeq;
  for (const auto& r : in.mapping) {
    e << YAML::BeginMap << YAML::Key << "filter" << YAML::Value;
    write_string(e, r.filter);
    e << YAML::Key << "type" << YAML::Value
      << std::string{to_string(r.spec.type)};
    auto props = r.spec.properties();
    if (!props.empty()) {
      e << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
      for (auto& [name, value] : props) {
        e << YAML::Key << name << YAML::Value;
        write_string(e, value);
      }
      e << YAML::EndMap;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
}

const table<topics_config>& topics_table() {
  // The rules' own keys (filter, type, properties) are documented with
  // the mapping; the default file has no rule to show them in.
  static const table<topics_config> rows{
      field<topics_config>{"mapping", read_mapping, write_mapping, nullptr},
  };
  return rows;
}

const table<messaging_config>& messaging_table() {
  static const table<messaging_config> rows{
      uint_field("request_timeout_ms", &messaging_config::request_timeout_ms,
                 1, 3600000),
  };
  return rows;
}

/// "host:port" with a port in 1..65535.
std::string check_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return "'" + text + "' is not host:port";
  auto port = text.substr(colon + 1);
  if (port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) == 0 || std::stoul(port) > 65535)
    return "'" + text + "': the port must be 1 to 65535";
  return {};
}

void read_seeds(const value_ref& v, cluster_config& out) {
  out.seeds.clear();
  if (v.node.IsNull())
    return;
  if (!v.node.IsSequence())
    v.fail("expected a list of host:port, got " + describe(v.node));
  for (size_t i = 0; i < v.node.size(); ++i) {
    auto item = v.node[i];
    value_ref ref{item, v.key + "[" + std::to_string(i) + "]",
                  line_of(item, v.line)};
    const auto& text = scalar_of(ref, "host:port");
    if (auto err = check_endpoint(text); !err.empty())
      ref.fail(err);
    out.seeds.push_back(text);
  }
}

const table<cluster_tls_config>& cluster_tls_table() {
  using t = cluster_tls_config;
  static const table<t> rows{
      string_field("cert_file", &t::cert_file),
      string_field("key_file", &t::key_file),
      string_field("ca_file", &t::ca_file),
  };
  return rows;
}

const table<cluster_config>& cluster_table() {
  using c = cluster_config;
  static const table<cluster_config> rows{
      bool_field("enabled", &c::enabled),
      string_field("name", &c::name,
                   [](const std::string& text) -> std::string {
                     if (text.empty()
                         || text.find_first_of(" \t") != std::string::npos)
                       return "'" + text + "' is not a name";
                     return {};
                   }),
      string_field("node_name", &c::node_name),
      string_field("bind", &c::bind,
                   [](const std::string& text) -> std::string {
                     return text.empty() ? "an address is required"
                                         : std::string{};
                   }),
      uint_field("port", &c::port, 1),
      string_field("advertise", &c::advertise),
      field<cluster_config>{"seeds", read_seeds,
                            [](YAML::Emitter& e, const cluster_config& in) {
                              e << YAML::Flow << YAML::BeginSeq;
                              for (const auto& seed : in.seeds)
                                write_string(e, seed);
                              e << YAML::EndSeq;
                            },
                            nullptr},
      string_field("secret_file", &c::secret_file),
      uint_field("heartbeat_ms", &c::heartbeat_ms, 10, 60000),
      uint_field("failure_timeout_ms", &c::failure_timeout_ms, 100, 600000),
      uint_field("max_members", &c::max_members, 1, 64),
      section_field("tls", &c::tls, cluster_tls_table),
  };
  return rows;
}

const table<storage_config>& storage_table() {
  using c = storage_config;
  static const table<storage_config> rows{
      bool_field("enabled", &c::enabled),
      string_field("data_dir", &c::data_dir,
                   [](const std::string& text) -> std::string {
                     return text.empty() ? "a directory is required"
                                         : std::string{};
                   }),
      enum_field("durability", &c::durability,
                 enum_names<durability_mode>{
                     {"sync", durability_mode::sync},
                     {"async", durability_mode::async},
                 }),
      uint_field("async_interval_ms", &c::async_interval_ms, 1, 60000),
  };
  return rows;
}

/// The cluster section, and what its keys require of each other.
field<config> cluster_field() {
  auto plain = section_field("cluster", &config::cluster, cluster_table);
  auto read = plain.read;
  plain.read = [read](const value_ref& v, config& out) {
    read(v, out);
    const auto& c = out.cluster;
    if (!c.enabled)
      return;
    if (c.secret_file.empty())
      throw failure{key_line(v.node, "enabled", v.line), v.key + ".secret_file",
                    "required when the cluster is enabled (a file with the "
                    "group's shared secret)"};
    if (c.tls.enabled())
      for (auto [key, value] : {std::pair{"cert_file", &c.tls.cert_file},
                                std::pair{"key_file", &c.tls.key_file},
                                std::pair{"ca_file", &c.tls.ca_file}})
        if (value->empty())
          throw failure{key_line(v.node, "tls", v.line), v.key + ".tls." + key,
                        "required with TLS on the cluster port (cert_file, "
                        "key_file and ca_file: this node's certificate, its "
                        "key, and the CA of every node's certificate)"};
    if (c.failure_timeout_ms <= c.heartbeat_ms)
      throw failure{key_line(v.node, "failure_timeout_ms", v.line),
                    v.key + ".failure_timeout_ms",
                    "must be longer than heartbeat_ms ("
                        + std::to_string(c.heartbeat_ms) + ")"};
  };
  return plain;
}

const table<config>& config_table() {
  static const table<config> rows{
      enum_field("log_level", &config::log,
                 enum_names<log_level>{
                     {"trace", log_level::trace},
                     {"debug", log_level::debug},
                     {"info", log_level::info},
                     {"warning", log_level::warning},
                     {"error", log_level::error},
                 }),
      enum_field("log_format", &config::log_fmt,
                 enum_names<log_format>{
                     {"text", log_format::text},
                     {"json", log_format::json},
                 }),
      uint_field("scheduler_threads", &config::scheduler_threads, 0, 1024),
      uint_field("memory_trim_interval_ms", &config::memory_trim_interval_ms,
                 0),
      uint_field("shutdown_timeout_ms", &config::shutdown_timeout_ms, 100,
                 3600000),
      enum_field("actor_placement", &config::placement,
                 enum_names<actor_placement>{
                     {"io_thread", actor_placement::io_thread},
                     {"workers", actor_placement::workers},
                 }),
      field<config>{"listeners", read_listeners,
                    [](YAML::Emitter& e, const config& in) {
                      e << YAML::BeginSeq;
                      for (const auto& l : in.listeners)
                        write_map(e, listener_table(), l);
                      e << YAML::EndSeq;
                    },
                    [] { return keys_of(listener_table(), "listeners[]."); }},
      section_field("mqtt", &config::mqtt, mqtt_table),
      section_field("topics", &config::topics, topics_table),
      section_field("messaging", &config::messaging, messaging_table),
      section_field("security", &config::security, security_table),
      cluster_field(),
      section_field("storage", &config::storage, storage_table),
  };
  return rows;
}

} // namespace

std::variant<config, config_error> parse_config(const std::string& text,
                                                const std::string& name) {
  config result;
  result.source = name;
  try {
    auto root = YAML::Load(text);
    if (!root.IsNull() && !root.IsMap())
      return config_error{name, line_of(root, 1), "",
                          "expected a mapping of settings at the top level, "
                          "got "
                              + describe(root)};
    read_map(value_ref{root, "", 1}, config_table(), result);
  } catch (const failure& f) {
    return config_error{name, f.line, f.key, f.message};
  } catch (const YAML::Exception& e) {
    return config_error{name, e.mark.is_null() ? 0 : e.mark.line + 1, "",
                        "YAML syntax error: " + e.msg};
  } catch (const std::exception& e) {
    return config_error{name, 0, "", std::string{"cannot parse: "} + e.what()};
  }
  return result;
}

std::variant<config, config_error> load_config(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return config_error{path, 0, "",
                        std::string{"cannot read the configuration file: "}
                            + std::strerror(errno)};
  if (S_ISDIR(st.st_mode))
    return config_error{path, 0, "",
                        "cannot read the configuration file: it is a "
                        "directory"};
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return config_error{path, 0, "",
                        std::string{"cannot read the configuration file: "}
                            + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return config_error{path, 0, "",
                        "cannot read the configuration file: read error"};
  return parse_config(text.str(), path);
}

std::string to_yaml(const config& cfg) {
  YAML::Emitter e;
  write_map(e, config_table(), cfg);
  return std::string{e.c_str()} + "\n";
}

std::vector<std::string> config_keys() {
  return keys_of(config_table(), "");
}


} // namespace castor
