#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <dirent.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "app/config.hpp"

using namespace castor;

namespace {

/// The repository root, from this file's path.
std::string source_dir() {
  std::string file = __FILE__;
  auto pos = file.rfind("tests/unit/test_config.cpp");
  REQUIRE(pos != std::string::npos);
  return file.substr(0, pos);
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

config parse_ok(const std::string& text) {
  auto result = parse_config(text, "test.yaml");
  if (auto err = std::get_if<config_error>(&result))
    FAIL("unexpected error: " << err->to_string());
  return std::get<config>(result);
}

config_error parse_err(const std::string& text) {
  auto result = parse_config(text, "test.yaml");
  auto err = std::get_if<config_error>(&result);
  REQUIRE_MESSAGE(err != nullptr, "expected an error for:\n" << text);
  return *err;
}

/// Every setting changed from its default.
config all_changed() {
  config cfg;
  cfg.listeners.resize(1);
  cfg.log = log_level::debug;
  cfg.log_fmt = log_format::json;
  cfg.scheduler_threads = 3;
  cfg.shutdown_timeout_ms = 750;
  cfg.placement = actor_placement::io_thread;
  cfg.listeners[0].name = "plain";
  cfg.listeners[0].bind = "0.0.0.0";
  cfg.listeners[0].port = 11883;
  cfg.listeners[0].max_connections = 5;
  cfg.listeners[0].max_packet_size = 4096;
  listener_config second;
  second.name = "other";
  second.port = 11884;
  second.transport = "wss";
  second.tls.cert_file = "/etc/castor/server.pem";
  second.tls.key_file = "/etc/castor/server.key";
  second.tls.ca_file = "/etc/castor/ca.pem";
  second.tls.verify_client = tls_verify_client::required;
  second.tls.principal_from = tls_principal_from::uri;
  second.websocket.path = "/ws/mqtt";
  second.websocket.max_frame_size = 65536;
  cfg.listeners.push_back(second);
  auto& m = cfg.mqtt;
  m.max_packet_size = 65536;
  m.receive_maximum = 10;
  m.topic_alias_maximum = 0;
  m.max_keep_alive = 300;
  m.max_session_expiry = 3600;
  m.connect_timeout_ms = 2500;
  m.maximum_qos = 1;
  m.retain_available = false;
  m.wildcard_subscription_available = false;
  m.subscription_identifier_available = false;
  m.shared_subscription_available = false;
  m.allow_empty_client_id = false;
  m.max_queued_messages = 7;
  m.queue_full = queue_full_policy::drop_newest;
  m.max_outbound_bytes = 8192;
  m.slow_consumer_timeout_ms = 1234;
  m.slow_consumer = slow_consumer_policy::drop_qos0;
  m.max_subscriptions_per_client = 42;
  m.topic_idle_timeout_ms = 0;
  return cfg;
}

/// Finds a dotted key ("mqtt.receive_maximum", "listeners[].port") in a
/// parsed YAML document; "[]" looks into the first list element.
bool has_key(YAML::Node node, const std::string& dotted) {
  size_t start = 0;
  while (start <= dotted.size()) {
    auto end = dotted.find('.', start);
    auto part = dotted.substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    bool index = part.size() > 2 && part.compare(part.size() - 2, 2, "[]") == 0;
    if (index)
      part.resize(part.size() - 2);
    if (!node.IsMap() || !node[part])
      return false;
    // reset, not operator=: assigning a Node writes into the document.
    node.reset(node[part]);
    if (index) {
      if (!node.IsSequence() || node.size() == 0)
        return false;
      node.reset(node[0]);
    }
    if (end == std::string::npos)
      return true;
    start = end + 1;
  }
  return false;
}

} // namespace

TEST_SUITE("config") {

  TEST_CASE("the default file parses and equals the built-in defaults") {
    auto path = source_dir() + "config/castor.yaml";
    auto result = load_config(path);
    if (auto err = std::get_if<config_error>(&result))
      FAIL(err->to_string());
    const auto& cfg = std::get<config>(result);
    CHECK_EQ(cfg.source, path);
    CHECK_EQ(to_yaml(cfg), to_yaml(config{}));
    REQUIRE_EQ(cfg.listeners.size(), 2u);
    CHECK_EQ(cfg.listeners[0].name, "mqtt");
    CHECK_EQ(cfg.listeners[0].transport, "tcp");
    CHECK_EQ(cfg.listeners[0].bind, "127.0.0.1");
    CHECK_EQ(cfg.listeners[0].port, 1883);
    CHECK_EQ(cfg.listeners[1].name, "http");
    CHECK_EQ(cfg.listeners[1].transport, "http");
    CHECK_EQ(cfg.listeners[1].bind, "127.0.0.1");
    CHECK_EQ(cfg.listeners[1].port, 8080);
    CHECK_EQ(cfg.mqtt.max_packet_size, 1048576u);
    CHECK_EQ(cfg.mqtt.max_session_expiry, 4294967295u);
    CHECK(cfg.log == log_level::info);
    CHECK(cfg.log_fmt == log_format::text);
    CHECK_EQ(cfg.shutdown_timeout_ms, 5000u);
  }

  TEST_CASE("to_yaml writes strings with control characters so they read back") {
    // A plain "a\r" before a line break used to read back as "a", and a
    // lone "\r" as no value at all.
    auto cfg = parse_ok("security:\n"
                        "  jwt:\n"
                        "    roles_claim: \"\\r\"\n"
                        "    issuer: \"a\\r\"\n"
                        "    audience: \"tab\\there\\x7f\"\n"
                        "listeners:\n"
                        "  - name: \"n\\r\"\n");
    CHECK_EQ(cfg.security.jwt.roles_claim, "\r");
    auto again = parse_ok(to_yaml(cfg));
    CHECK_EQ(again.security.jwt.roles_claim, "\r");
    CHECK_EQ(again.security.jwt.issuer, "a\r");
    CHECK_EQ(again.security.jwt.audience, "tab\there\x7f");
    CHECK_EQ(again.listeners[0].name, "n\r");
    CHECK_EQ(to_yaml(again), to_yaml(cfg));
  }

  TEST_CASE("the default file and the reference document every setting") {
    auto root = YAML::LoadFile(source_dir() + "config/castor.yaml");
    auto docs = read_text(source_dir() + "docs/configuration.md");
    auto keys = config_keys();
    CHECK_GE(keys.size(), 26u);
    for (const auto& key : keys) {
      CHECK_MESSAGE(has_key(root, key),
                    key << " missing in config/castor.yaml");
      CHECK_MESSAGE(docs.find("`" + key + "`") != std::string::npos,
                    key << " missing in docs/configuration.md");
    }
  }

  TEST_CASE("the example files parse") {
    auto dir = source_dir() + "config/examples";
    auto handle = ::opendir(dir.c_str());
    REQUIRE(handle != nullptr);
    int count = 0;
    while (auto entry = ::readdir(handle)) {
      std::string name = entry->d_name;
      if (name.size() < 5 || name.compare(name.size() - 5, 5, ".yaml") != 0)
        continue;
      ++count;
      auto result = load_config(dir + "/" + name);
      CHECK_MESSAGE(std::holds_alternative<config>(result),
                    std::get<config_error>(result).to_string());
    }
    ::closedir(handle);
    CHECK_GE(count, 1);
  }

  TEST_CASE("an empty document or empty section gives the defaults") {
    CHECK_EQ(to_yaml(parse_ok("")), to_yaml(config{}));
    CHECK_EQ(to_yaml(parse_ok("# nothing\n")), to_yaml(config{}));
    CHECK_EQ(to_yaml(parse_ok("mqtt:\n")), to_yaml(config{}));
  }

  TEST_CASE("settings not given keep their defaults") {
    auto cfg = parse_ok("mqtt:\n  receive_maximum: 17\n");
    CHECK_EQ(cfg.mqtt.receive_maximum, 17);
    auto expected = config{};
    expected.mqtt.receive_maximum = 17;
    CHECK_EQ(to_yaml(cfg), to_yaml(expected));
  }

  TEST_CASE("every setting is read into its own field") {
    auto changed = all_changed();
    REQUIRE_NE(to_yaml(changed), to_yaml(config{}));
    auto text = to_yaml(changed);
    auto cfg = parse_ok(text);
    CHECK_EQ(to_yaml(cfg), text);
    CHECK_EQ(cfg.listeners.size(), 2u);
    CHECK_EQ(cfg.listeners[1].name, "other");
    CHECK_EQ(cfg.listeners[1].port, 11884);
    CHECK_EQ(cfg.listeners[1].transport, "wss");
    CHECK_EQ(cfg.listeners[1].tls.key_file, "/etc/castor/server.key");
    CHECK(cfg.listeners[1].tls.verify_client == tls_verify_client::required);
    CHECK(cfg.listeners[1].tls.principal_from == tls_principal_from::uri);
    CHECK_EQ(cfg.listeners[1].websocket.path, "/ws/mqtt");
    CHECK_EQ(cfg.listeners[1].websocket.max_frame_size, 65536u);
    CHECK_EQ(cfg.mqtt.topic_alias_maximum, 0);
    CHECK_FALSE(cfg.mqtt.retain_available);
    CHECK(cfg.mqtt.queue_full == queue_full_policy::drop_newest);
    CHECK(cfg.mqtt.slow_consumer == slow_consumer_policy::drop_qos0);
    CHECK(cfg.log == log_level::debug);
    CHECK(cfg.log_fmt == log_format::json);
    CHECK_EQ(cfg.shutdown_timeout_ms, 750u);
    CHECK(cfg.placement == actor_placement::io_thread);
    // Each change on its own, so that no field is read into another one.
    auto single = [](const std::string& section, const std::string& line) {
      return parse_ok(section + ":\n  " + line + "\n");
    };
    CHECK_EQ(single("mqtt", "max_keep_alive: 300").mqtt.max_keep_alive, 300);
    CHECK_EQ(single("mqtt", "max_keep_alive: 300").mqtt.receive_maximum, 256);
    CHECK_FALSE(single("mqtt", "shared_subscription_available: false")
                    .mqtt.shared_subscription_available);
    CHECK(single("mqtt", "shared_subscription_available: false")
              .mqtt.wildcard_subscription_available);
  }

  TEST_CASE("booleans accept true and false in the YAML core spellings") {
    CHECK(parse_ok("mqtt:\n  retain_available: True\n").mqtt.retain_available);
    CHECK_FALSE(
        parse_ok("mqtt:\n  retain_available: FALSE\n").mqtt.retain_available);
    auto err = parse_err("mqtt:\n  retain_available: yes\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.key, "mqtt.retain_available");
    CHECK_EQ(err.message, "expected true or false, got 'yes'");
  }

  TEST_CASE("a bad port reports its file, line and key") {
    auto err = parse_err(R"(# line 1
log_level: info
listeners:
  - name: mqtt
    transport: tcp
    bind: 127.0.0.1
    port: 0
    max_connections: 10
)");
    CHECK_EQ(err.file, "test.yaml");
    CHECK_EQ(err.line, 7);
    CHECK_EQ(err.key, "listeners[0].port");
    CHECK_EQ(err.to_string(),
             "test.yaml:7: listeners[0].port: 0 is out of range (allowed: "
             "1..65535)");
    err = parse_err("listeners:\n  - name: a\n    port: 65536\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "listeners[0].port");
  }

  TEST_CASE("errors in a later listener name its index") {
    auto err = parse_err(R"(listeners:
  - name: a
    port: 1883
  - name: b
    port: 1884
    bind: ""
)");
    CHECK_EQ(err.line, 6);
    CHECK_EQ(err.key, "listeners[1].bind");
  }

  TEST_CASE("the cluster section") {
    auto cfg = parse_ok("cluster:\n"
                        "  enabled: true\n"
                        "  name: prod\n"
                        "  port: 7701\n"
                        "  seeds: [\"10.0.0.1:7700\", \"node-b:7700\"]\n"
                        "  secret_file: /etc/castor/cluster.secret\n"
                        "  failure_timeout_ms: 1500\n");
    CHECK(cfg.cluster.enabled);
    CHECK_EQ(cfg.cluster.name, "prod");
    CHECK_EQ(cfg.cluster.port, 7701);
    REQUIRE_EQ(cfg.cluster.seeds.size(), 2u);
    CHECK_EQ(cfg.cluster.seeds[1], "node-b:7700");
    CHECK_EQ(cfg.cluster.heartbeat_ms, 1000u);
    CHECK_EQ(to_yaml(parse_ok(to_yaml(cfg))), to_yaml(cfg));
    CHECK_FALSE(parse_ok("").cluster.enabled);
    struct row {
      const char* text;
      int line;
      const char* key;
      const char* says;
    };
    row rows[] = {
        {"cluster:\n  enabled: true\n", 2, "cluster.secret_file", "required"},
        {"cluster:\n  seeds: [a:1, b]\n", 2, "cluster.seeds[1]",
         "not host:port"},
        {"cluster:\n  seeds:\n    - a:0\n", 3, "cluster.seeds[0]",
         "1 to 65535"},
        {"cluster:\n  seeds:\n    - a:65536\n", 3, "cluster.seeds[0]",
         "1 to 65535"},
        {"cluster:\n  seeds: a:1\n", 2, "cluster.seeds", "a list"},
        {"cluster:\n  name: a b\n", 2, "cluster.name", "not a name"},
        {"cluster:\n  port: 0\n", 2, "cluster.port", "out of range"},
        {"cluster:\n  max_members: 65\n", 2, "cluster.max_members",
         "out of range"},
        {"cluster:\n  enabled: true\n  secret_file: s\n"
         "  heartbeat_ms: 2000\n  failure_timeout_ms: 2000\n",
         5, "cluster.failure_timeout_ms", "longer than heartbeat_ms"},
        {"cluster:\n  seed: [a:1]\n", 2, "cluster.seed",
         "did you mean 'seeds'"},
    };
    for (const auto& r : rows) {
      CAPTURE(r.text);
      auto err = parse_err(r.text);
      CHECK_EQ(err.key, r.key);
      CHECK_EQ(err.line, r.line);
      CHECK_MESSAGE(err.message.find(r.says) != std::string::npos, err.message);
    }
  }

  TEST_CASE("out-of-range values") {
    struct row {
      const char* text;
      const char* key;
    };
    row rows[] = {
        {"log_level: info\nshutdown_timeout_ms: 99\n", "shutdown_timeout_ms"},
        {"log_level: info\nshutdown_timeout_ms: 3600001\n",
         "shutdown_timeout_ms"},
        {"mqtt:\n  receive_maximum: 0\n", "mqtt.receive_maximum"},
        {"mqtt:\n  receive_maximum: 65536\n", "mqtt.receive_maximum"},
        {"mqtt:\n  maximum_qos: 3\n", "mqtt.maximum_qos"},
        {"mqtt:\n  max_packet_size: 63\n", "mqtt.max_packet_size"},
        {"mqtt:\n  max_packet_size: 268435461\n", "mqtt.max_packet_size"},
        {"mqtt:\n  max_packet_size: 0\n", "mqtt.max_packet_size"},
        {"mqtt:\n  max_keep_alive: 0\n", "mqtt.max_keep_alive"},
        {"mqtt:\n  connect_timeout_ms: 0\n", "mqtt.connect_timeout_ms"},
        {"mqtt:\n  max_session_expiry: 4294967296\n",
         "mqtt.max_session_expiry"},
        {"listeners:\n  - max_packet_size: 63\n",
         "listeners[0].max_packet_size"},
        {"listeners:\n  - max_connections: 0\n",
         "listeners[0].max_connections"},
    };
    for (const auto& r : rows) {
      CAPTURE(r.text);
      auto err = parse_err(r.text);
      CHECK_EQ(err.key, r.key);
      CHECK_EQ(err.line, 2);
      CHECK_NE(err.message.find("out of range"), std::string::npos);
    }
    // The limits themselves are accepted.
    CHECK_EQ(parse_ok("mqtt:\n  max_packet_size: 64\n").mqtt.max_packet_size,
             64u);
    CHECK_EQ(
        parse_ok("mqtt:\n  max_packet_size: 268435460\n").mqtt.max_packet_size,
        268435460u);
    CHECK_EQ(parse_ok("mqtt:\n  maximum_qos: 0\n").mqtt.maximum_qos, 0);
    CHECK_EQ(parse_ok("listeners:\n  - port: 65535\n").listeners[0].port,
             65535);
    // 0 on a listener means "use mqtt.max_packet_size".
    CHECK_EQ(parse_ok("listeners:\n  - max_packet_size: 0\n")
                 .listeners[0]
                 .max_packet_size,
             0u);
    auto err = parse_err("mqtt:\n  max_packet_size: 63\n");
    CHECK_EQ(err.message, "63 is out of range (allowed: 64..268435460)");
    err = parse_err("listeners:\n  - max_packet_size: 63\n");
    CHECK_EQ(err.message, "63 is out of range (allowed: 0 or 64..268435460)");
  }

  TEST_CASE("values of the wrong type") {
    auto err = parse_err("mqtt:\n  receive_maximum: abc\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.key, "mqtt.receive_maximum");
    CHECK_EQ(err.message, "expected an unsigned integer, got 'abc'");
    CHECK_EQ(parse_err("mqtt:\n  receive_maximum: -1\n").message,
             "expected an unsigned integer, got '-1'");
    CHECK_EQ(parse_err("mqtt:\n  receive_maximum: 1.5\n").message,
             "expected an unsigned integer, got '1.5'");
    CHECK_EQ(parse_err("mqtt:\n  receive_maximum: [1]\n").message,
             "expected an unsigned integer, got a list");
    CHECK_EQ(parse_err("mqtt:\n  receive_maximum: 99999999999999999999999\n")
                 .message,
             "'99999999999999999999999' is too large");
    err = parse_err("mqtt:\n  receive_maximum:\nlog_level: info\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.message, "expected an unsigned integer, got no value");
    err = parse_err("log_level: info\nmqtt: 5\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.key, "mqtt");
    CHECK_EQ(err.message, "expected a mapping, got '5'");
    err = parse_err("listeners:\n  - name: [a, b]\n");
    CHECK_EQ(err.key, "listeners[0].name");
    CHECK_EQ(err.message, "expected a string, got a list");
    err = parse_err("listeners: mqtt\n");
    CHECK_EQ(err.key, "listeners");
    CHECK_EQ(err.line, 1);
    err = parse_err("listeners:\n  - 1883\n");
    CHECK_EQ(err.key, "listeners[0]");
    CHECK_EQ(err.line, 2);
    err = parse_err("- a\n- b\n");
    CHECK_EQ(err.line, 1);
    CHECK_EQ(err.key, "");
    CHECK_EQ(err.to_string(),
             "test.yaml:1: expected a mapping of settings at the top level, "
             "got a list");
  }

  TEST_CASE("enumerations accept only their names") {
    auto err = parse_err("log_level: loud\n");
    CHECK_EQ(err.line, 1);
    CHECK_EQ(err.key, "log_level");
    CHECK_EQ(err.message,
             "expected one of trace, debug, info, warning, error, got 'loud'");
    err = parse_err("mqtt:\n\n  queue_full: drop_all\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "mqtt.queue_full");
    CHECK_EQ(err.message, "expected one of drop_oldest, drop_newest, got "
                          "'drop_all'");
    err = parse_err("mqtt:\n  slow_consumer: wait\n");
    CHECK_EQ(err.key, "mqtt.slow_consumer");
    CHECK_NE(err.message.find("disconnect, drop_qos0"), std::string::npos);
    err = parse_err("listeners:\n  - transport: quic\n");
    CHECK_EQ(err.key, "listeners[0].transport");
    CHECK_EQ(err.message,
             "unsupported transport 'quic' (supported: tcp, tls, ws, wss, "
             "http, https)");
    for (auto [name, level] : {std::pair{"trace", log_level::trace},
                               {"debug", log_level::debug},
                               {"info", log_level::info},
                               {"warning", log_level::warning},
                               {"error", log_level::error}})
      CHECK(parse_ok(std::string{"log_level: "} + name + "\n").log == level);
    CHECK(parse_ok("log_format: json\n").log_fmt == log_format::json);
    CHECK(parse_ok("log_format: text\n").log_fmt == log_format::text);
    err = parse_err("log_format: xml\n");
    CHECK_EQ(err.key, "log_format");
    CHECK_EQ(err.message, "expected one of text, json, got 'xml'");
  }

  TEST_CASE("unknown keys suggest the nearest or list the valid ones") {
    auto err = parse_err("log_level: info\nmqtt:\n  recieve_maximum: 5\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "mqtt.recieve_maximum");
    CHECK_EQ(err.message, "unknown key; did you mean 'receive_maximum'?");
    err = parse_err("colour: blue\n");
    CHECK_EQ(err.line, 1);
    CHECK_EQ(err.key, "colour");
    CHECK_EQ(err.message,
             "unknown key; valid keys here: log_level, "
             "log_format, scheduler_threads, "
             "memory_trim_interval_ms, shutdown_timeout_ms, "
             "actor_placement, listeners, mqtt, topics, messaging, "
             "security, cluster, storage");
    err = parse_err("listeners:\n  - name: a\n    prot: 1\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "listeners[0].prot");
    CHECK_EQ(err.message, "unknown key; did you mean 'port'?");
  }

  TEST_CASE("a key given twice is an error") {
    auto err = parse_err("mqtt:\n  maximum_qos: 1\n  maximum_qos: 2\n");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.key, "mqtt.maximum_qos");
    CHECK_EQ(err.message, "duplicate key (first set on line 2)");
  }

  TEST_CASE("listeners: at least one, unique names and ports") {
    auto err = parse_err("log_level: info\nlisteners: []\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.key, "listeners");
    CHECK_EQ(err.message, "at least one listener is required");
    err = parse_err("listeners:\n");
    CHECK_EQ(err.key, "listeners");
    err = parse_err(R"(listeners:
  - name: a
    port: 1883
  - name: a
    port: 1884
)");
    CHECK_EQ(err.line, 4);
    CHECK_EQ(err.key, "listeners[1].name");
    CHECK_EQ(err.message,
             "listener name 'a' is already used by listeners[0] (line 2)");
    err = parse_err(R"(listeners:
  - name: a
    port: 1883
  - name: b
    port: 1883
)");
    CHECK_EQ(err.line, 5);
    CHECK_EQ(err.key, "listeners[1].port");
    CHECK_EQ(err.message, "port 1883 is already used by listener 'a' (line 2)");
    auto cfg = parse_ok(R"(listeners:
  - name: a
    port: 1883
  - name: b
    port: 1884
    bind: 0.0.0.0
)");
    REQUIRE_EQ(cfg.listeners.size(), 2u);
    CHECK_EQ(cfg.listeners[1].bind, "0.0.0.0");
    CHECK_EQ(cfg.listeners[1].transport, "tcp");
    CHECK_EQ(cfg.listeners[1].max_connections, 100000u);
  }

  TEST_CASE("listener transports and their TLS and WebSocket settings") {
    auto cfg = parse_ok(R"(listeners:
  - name: plain
    port: 1883
  - name: secure
    transport: tls
    port: 8883
    tls: {cert_file: s.pem, key_file: s.key}
  - name: web
    transport: ws
    port: 8080
  - name: websecure
    transport: wss
    port: 8084
    tls:
      cert_file: s.pem
      key_file: s.key
      ca_file: ca.pem
      verify_client: optional
      principal_from: email
    websocket: {path: /mqtt/v1, max_frame_size: 4096}
)");
    REQUIRE_EQ(cfg.listeners.size(), 4u);
    CHECK_EQ(cfg.listeners[1].transport, "tls");
    CHECK_EQ(cfg.listeners[1].tls.cert_file, "s.pem");
    CHECK(cfg.listeners[1].tls.verify_client == tls_verify_client::none);
    CHECK(cfg.listeners[1].tls.principal_from == tls_principal_from::cn);
    CHECK_EQ(cfg.listeners[2].websocket.path, "/mqtt");
    CHECK_EQ(cfg.listeners[2].websocket.max_frame_size, 0u);
    CHECK(cfg.listeners[3].tls.verify_client == tls_verify_client::optional);
    CHECK(cfg.listeners[3].tls.principal_from == tls_principal_from::email);
    CHECK_EQ(cfg.listeners[3].websocket.path, "/mqtt/v1");
    CHECK_EQ(cfg.listeners[3].websocket.max_frame_size, 4096u);

    // TLS needs a certificate and its key.
    auto err = parse_err(R"(listeners:
  - name: secure
    transport: tls
    port: 8883
)");
    CHECK_EQ(err.key, "listeners[0].tls.cert_file");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.message, "required for transport tls (PEM certificate chain)");
    err = parse_err(R"(listeners:
  - name: secure
    transport: wss
    port: 8883
    tls:
      cert_file: s.pem
)");
    CHECK_EQ(err.key, "listeners[0].tls.key_file");
    CHECK_EQ(err.line, 5);
    // Client certificates need the CAs to check them against.
    err = parse_err(R"(listeners:
  - name: secure
    transport: tls
    port: 8883
    tls:
      cert_file: s.pem
      key_file: s.key
      verify_client: required
)");
    CHECK_EQ(err.key, "listeners[0].tls.ca_file");
    CHECK_EQ(err.line, 5);
    // TLS files on a listener without TLS are a mistake, not a no-op.
    err = parse_err(R"(listeners:
  - name: plain
    port: 1883
    tls:
      cert_file: s.pem
)");
    CHECK_EQ(err.key, "listeners[0].tls.cert_file");
    CHECK_EQ(err.line, 5);
    CHECK_EQ(err.message,
             "set, but transport tcp has no TLS (use transport tls, wss or https)");
    err = parse_err(R"(listeners:
  - name: web
    transport: ws
    tls: {verify_client: required}
)");
    CHECK_EQ(err.key, "listeners[0].tls.verify_client");
    // Enumerations and paths.
    err = parse_err("listeners:\n  - tls: {verify_client: always}\n");
    CHECK_EQ(err.key, "listeners[0].tls.verify_client");
    CHECK_EQ(err.message,
             "expected one of none, optional, required, got 'always'");
    err = parse_err("listeners:\n  - tls: {principal_from: ip}\n");
    CHECK_EQ(err.key, "listeners[0].tls.principal_from");
    CHECK_NE(err.message.find("cn, subject, dns, email, uri"),
             std::string::npos);
    err = parse_err("listeners:\n  - websocket:\n      path: mqtt\n");
    CHECK_EQ(err.key, "listeners[0].websocket.path");
    CHECK_EQ(err.line, 3);
    CHECK_EQ(err.message, "must start with '/'");
    err = parse_err("listeners:\n  - websocket: {path: \"/a?b\"}\n");
    CHECK_EQ(err.key, "listeners[0].websocket.path");
    err = parse_err("listeners:\n  - websocket: {max_frame_size: 10}\n");
    CHECK_EQ(err.key, "listeners[0].websocket.max_frame_size");
    err = parse_err("listeners:\n  - websocket: {max_fram_size: 100}\n");
    CHECK_EQ(err.message, "unknown key; did you mean 'max_frame_size'?");
  }

  TEST_CASE("YAML syntax errors carry the line") {
    auto err = parse_err("log_level: info\nmqtt:\n  receive_maximum: [1, 2\n");
    CHECK_EQ(err.file, "test.yaml");
    CHECK_GE(err.line, 3);
    CHECK_EQ(err.key, "");
    CHECK_EQ(err.message.rfind("YAML syntax error: ", 0), 0u);
    err = parse_err("log_level: info\nmqtt: a: b\n");
    CHECK_EQ(err.line, 2);
    CHECK_EQ(err.message.rfind("YAML syntax error: ", 0), 0u);
  }

  TEST_CASE("config_error::to_string") {
    CHECK_EQ((config_error{"a.yaml", 3, "mqtt.x", "bad"}).to_string(),
             "a.yaml:3: mqtt.x: bad");
    CHECK_EQ((config_error{"a.yaml", 0, "", "missing"}).to_string(),
             "a.yaml: missing");
    CHECK_EQ((config_error{"a.yaml", 2, "", "syntax"}).to_string(),
             "a.yaml:2: syntax");
  }

  TEST_CASE("load_config reads a file and names it in errors") {
    char path[] = "/tmp/castor_test_config_XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
      std::ofstream out{path};
      out << "mqtt:\n  maximum_qos: 1\n";
    }
    auto ok = load_config(path);
    REQUIRE(std::holds_alternative<config>(ok));
    CHECK_EQ(std::get<config>(ok).mqtt.maximum_qos, 1);
    CHECK_EQ(std::get<config>(ok).source, path);
    {
      std::ofstream out{path};
      out << "mqtt:\n  maximum_qos: 9\n";
    }
    auto bad = load_config(path);
    REQUIRE(std::holds_alternative<config_error>(bad));
    CHECK_EQ(std::get<config_error>(bad).to_string(),
             std::string{path}
                 + ":2: mqtt.maximum_qos: 9 is out of range (allowed: 0..2)");
    std::remove(path);
    auto missing = load_config(path);
    REQUIRE(std::holds_alternative<config_error>(missing));
    const auto& err = std::get<config_error>(missing);
    CHECK_EQ(err.file, path);
    CHECK_EQ(err.line, 0);
    CHECK_EQ(err.to_string(), std::string{path}
                                  + ": cannot read the configuration file: No "
                                    "such file or directory");
    auto dir = load_config("/tmp");
    REQUIRE(std::holds_alternative<config_error>(dir));
    CHECK_NE(std::get<config_error>(dir).message.find("directory"),
             std::string::npos);
  }

} // TEST_SUITE

TEST_CASE("actor placement") {
  CHECK(parse_ok("actor_placement: io_thread\n").actors_on_io_thread());
  CHECK_FALSE(parse_ok("actor_placement: workers\n").actors_on_io_thread());
  CHECK(parse_ok("log_level: info\n").placement
        == actor_placement::workers);
  auto err = parse_err("log_level: info\nactor_placement: threads\n");
  CHECK_EQ(err.line, 2);
  CHECK_EQ(err.key, "actor_placement");
}

TEST_CASE("topics.mapping rules: read, checked with file line and key, "
          "written back") {
  auto cfg = parse_ok("topics:\n"
                      "  mapping:\n"
                      "    - filter: sensors/+/temp\n"
                      "      type: double\n"
                      "    - filter: 'devices/#'\n"
                      "      type: json\n"
                      "      properties:\n"
                      "        PUBLISH_VALUES_ONLY: true\n"
                      "        CONFLATION: always\n");
  REQUIRE_EQ(cfg.topics.mapping.size(), 2u);
  CHECK_EQ(cfg.topics.mapping[0].filter, "sensors/+/temp");
  CHECK(cfg.topics.mapping[0].spec.type == topic_type::double_);
  CHECK(cfg.topics.mapping[1].spec.type == topic_type::json);
  CHECK(cfg.topics.mapping[1].spec.publish_values_only);
  CHECK(cfg.topics.mapping[1].spec.conflation == conflation_mode::always);
  auto again = parse_ok(to_yaml(cfg));
  CHECK_EQ(to_yaml(again), to_yaml(cfg));
  REQUIRE_EQ(again.topics.mapping.size(), 2u);
  CHECK(again.topics.mapping[1].spec == cfg.topics.mapping[1].spec);
  CHECK(parse_ok("topics:\n  mapping: []\n").topics.mapping.empty());

  auto err = parse_err("topics:\n  mapping:\n    - filter: a/#/b\n"
                       "      type: json\n");
  CHECK_EQ(err.line, 3);
  CHECK_EQ(err.key, "topics.mapping[0].filter");
  err = parse_err("topics:\n  mapping:\n    - filter: a\n      type: json\n"
                  "    - filter: b\n      type: jsn\n");
  CHECK_EQ(err.line, 6);
  CHECK_EQ(err.key, "topics.mapping[1].type");
  err = parse_err("topics:\n  mapping:\n    - filter: a\n      type: json\n"
                  "      properties:\n        CONFLATION: sometimes\n");
  CHECK_EQ(err.line, 6);
  CHECK_EQ(err.key, "topics.mapping[0].properties.CONFLATION");
  err = parse_err("topics:\n  mapping:\n    - filter: a\n"
                  "      type: time_series\n");
  CHECK_EQ(err.key, "topics.mapping[0].type");
  err = parse_err("topics:\n  mapping:\n    - filter: $share/g/a\n"
                  "      type: json\n");
  CHECK_EQ(err.key, "topics.mapping[0].filter");
  err = parse_err("topics:\n  mapping:\n    - type: json\n");
  CHECK_EQ(err.key, "topics.mapping[0].filter");
  err = parse_err("topics:\n  mapping:\n    - filter: a\n      type: json\n"
                  "      kind: x\n");
  CHECK_EQ(err.line, 5);
  CHECK_EQ(err.key, "topics.mapping[0].kind");
  err = parse_err("topics:\n  mapping: sensors\n");
  CHECK_EQ(err.key, "topics.mapping");
}
