#pragma once

// Castor's configuration: the settings struct with its defaults, and the
// YAML loader. Every setting is listed in docs/configuration.md.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "log/log.hpp"
#include "protocol/topic_mapping.hpp"
#include "security/settings.hpp"

namespace castor {

/// Whether a TLS listener asks for client certificates (mutual TLS).
enum class tls_verify_client : uint8_t {
  none,     ///< not requested
  optional, ///< requested; one that is sent must verify against ca_file
  required, ///< the handshake fails without a valid one
};

/// Which field of a client certificate names the principal.
enum class tls_principal_from : uint8_t { cn, subject, dns, email, uri };

/// TLS of a listener with transport tls or wss.
struct listener_tls_config {
  std::string cert_file; ///< PEM: the server certificate, then intermediates
  std::string key_file;  ///< PEM: its unencrypted private key
  std::string ca_file;   ///< PEM: CAs that client certificates must chain to
  tls_verify_client verify_client = tls_verify_client::none;
  tls_principal_from principal_from = tls_principal_from::cn;
};

/// WebSocket of a listener with transport ws or wss.
struct listener_websocket_config {
  std::string path = "/mqtt"; ///< the request path that upgrades
  /// Largest WebSocket message (one frame, or the fragments of one message)
  /// a client may send, in bytes; 0 = the listener's max packet size plus
  /// 1024.
  uint32_t max_frame_size = 0;
};

struct listener_config {
  std::string name = "mqtt";
  std::string transport = "tcp"; ///< tcp, tls, ws, wss, http or https
  std::string bind = "127.0.0.1";
  uint16_t port = 1883;
  uint32_t max_connections = 100000;
  /// 0 = use mqtt.max_packet_size.
  uint32_t max_packet_size = 0;
  /// Refuse clients that authenticate as nobody (anonymous) on this
  /// listener, whatever security.anonymous says (CONNACK 0x87).
  bool require_auth = false;
  /// SO_REUSEPORT: several processes (the nodes of a group on one machine)
  /// listen on the same address and port, and the kernel spreads the
  /// connections over them.
  bool reuse_port = false;
  listener_tls_config tls;             ///< used by tls, wss and https
  listener_websocket_config websocket; ///< used by ws, wss, http and https
};

/// The default HTTP listener: http on 127.0.0.1:8080.
inline listener_config default_http_listener() {
  listener_config l;
  l.name = "http";
  l.transport = "http";
  l.port = 8080;
  return l;
}

/// What happens to a subscriber whose outbound bytes stop draining.
enum class slow_consumer_policy : uint8_t { disconnect, drop_qos0 };

/// What an offline or in-flight queue does when it is full.
enum class queue_full_policy : uint8_t { drop_oldest, drop_newest };

struct mqtt_config {
  uint32_t max_packet_size = 1048576; ///< bytes, whole packet
  uint16_t receive_maximum = 256;     ///< inbound QoS 1/2 window per client
  uint16_t topic_alias_maximum = 64;  ///< aliases a client may set
  uint16_t max_keep_alive = 65535;    ///< seconds; larger requests reduced
  uint32_t max_session_expiry = 4294967295u; ///< seconds
  uint32_t connect_timeout_ms = 10000;       ///< CONNECT must arrive by then
  uint8_t maximum_qos = 2;
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifier_available = true;
  bool shared_subscription_available = true;
  bool allow_empty_client_id = true;   ///< assign an identifier
  uint32_t max_queued_messages = 1000; ///< per session (offline + pending)
  queue_full_policy queue_full = queue_full_policy::drop_oldest;
  uint32_t max_outbound_bytes = 1048576; ///< per connection, before pausing
  /// Bytes of PUBLISH messages a connection has read that their topics have
  /// not yet taken; beyond them it stops reading until they have.
  uint32_t max_inbound_bytes = 262144;
  uint32_t slow_consumer_timeout_ms = 30000;
  slow_consumer_policy slow_consumer = slow_consumer_policy::disconnect;
  uint32_t max_subscriptions_per_client = 10000;
  /// A topic with no subscribers, no retained message and no publish for
  /// this long is retired (its actor ends; the name comes back on next
  /// use). 0 = topics live as long as the server.
  uint32_t topic_idle_timeout_ms = 60000;
  /// Retained messages the server keeps at most, and their bytes (topic
  /// and payload); beyond them a retained message is delivered but not
  /// kept. 0 = no bound.
  uint64_t max_retained_messages = 10000000;
  uint64_t max_retained_bytes = 4294967296;
};

enum class actor_placement : uint8_t { io_thread, workers };

/// Topics (docs/platform.md).
struct topics_config {
  /// The payload mapping: rules in order; the first whose filter matches a
  /// topic makes it an explicit topic of the rule's type and properties.
  std::vector<mapping_rule> mapping;
};

/// Request-response messaging (docs/platform.md).
struct messaging_config {
  /// How long a message handler has to answer a request (else TIMEOUT).
  uint32_t request_timeout_ms = 10000;
};

/// When an acknowledged change is on disk (docs/persistence.md).
enum class durability_mode : uint8_t {
  sync, ///< before it is acknowledged (group commit: one fsync for many)
  async ///< within async_interval_ms after (a crash may lose that much)
};

/// What survives a restart (docs/persistence.md).
struct storage_config {
  bool enabled = true;
  /// The store's directory; relative to the working directory.
  std::string data_dir = "data";
  durability_mode durability = durability_mode::sync;
  /// With durability async: how often the write-ahead log reaches the disk.
  uint32_t async_interval_ms = 100;
};

/// A node group (docs/cluster.md): nodes that join over CAF's distribution
/// layer. Off unless `enabled`.
/// TLS on the cluster port (CAF's OpenSSL module): every node has a
/// certificate of the group's CA, and each side of a connection checks the
/// other's against it.
struct cluster_tls_config {
  std::string cert_file; ///< PEM: this node's certificate (and chain)
  std::string key_file;  ///< PEM: its unencrypted private key
  std::string ca_file;   ///< PEM: the CA(s) every node's certificate chains to
  bool enabled() const noexcept {
    return !cert_file.empty() || !key_file.empty() || !ca_file.empty();
  }
};

struct cluster_config {
  bool enabled = false;
  std::string name = "castor"; ///< the group; nodes of another are refused
  /// This node's name in the group; empty = "<host name>:<port>".
  std::string node_name;
  std::string bind = "127.0.0.1"; ///< the cluster endpoint's address
  uint16_t port = 7700;
  /// The host the other nodes reach this one at; empty = `bind`, or the
  /// host name when `bind` is a wildcard address.
  std::string advertise;
  /// Nodes to join through ("host:port"); others are learnt from them.
  std::vector<std::string> seeds;
  /// A file holding the group's shared secret (at least 16 bytes once
  /// trimmed): nodes that cannot prove it are refused.
  std::string secret_file;
  uint32_t heartbeat_ms = 1000;
  /// A member not heard from for this long is removed.
  uint32_t failure_timeout_ms = 5000;
  /// Full mesh: each node holds a connection to every other.
  uint32_t max_members = 16;
  cluster_tls_config tls;
};

struct config {
  /// MQTT over TCP on 127.0.0.1:1883 and HTTP (WebSocket MQTT at /mqtt,
  /// metrics, health, the REST API, the console) on 127.0.0.1:8080.
  std::vector<listener_config> listeners{listener_config{},
                                         default_http_listener()};
  mqtt_config mqtt;
  topics_config topics;
  messaging_config messaging;
  security_config security;
  cluster_config cluster;
  storage_config storage;
  log_level log = log_level::info;
  log_format log_fmt = log_format::text;
  uint32_t scheduler_threads = 0; ///< 0 = cores - 1, at least 1
  /// How often free heap memory is given back to the system (when more
  /// than a few MB are free); 0 = never.
  uint32_t memory_trim_interval_ms = 2000;
  /// At SIGTERM or SIGINT, how long the server may take to close its
  /// connections and settle wills and acknowledgements before the process
  /// exits regardless.
  uint32_t shutdown_timeout_ms = 5000;
  /// Where sessions and topics run: on the scheduler's workers, or on the
  /// I/O thread beside the connections (no thread hand-off per message).
  actor_placement placement = actor_placement::workers;
  bool actors_on_io_thread() const {
    return placement == actor_placement::io_thread;
  }
  std::string source;             ///< the file it was read from, for messages
};

/// A configuration error names the file, the line and the key.
struct config_error {
  std::string file;
  int line = 0;    ///< 1-based; 0 when unknown
  std::string key; ///< dotted path, e.g. "mqtt.max_packet_size"
  std::string message;
  std::string to_string() const; ///< "file:line: key: message"
};

/// Reads a YAML configuration file. Unknown keys, values of the wrong type
/// and out-of-range values are errors.
std::variant<config, config_error> load_config(const std::string& path);

/// Same, from text (for tests); `name` stands in for the file name.
std::variant<config, config_error> parse_config(const std::string& text,
                                                const std::string& name);

/// The configuration as YAML with every setting present, in the order of
/// config/castor.yaml (for logging the effective configuration and tests).
std::string to_yaml(const config& cfg);

/// The dotted key of every setting the loader knows, in file order; listener
/// settings appear as "listeners[].port".
std::vector<std::string> config_keys();

} // namespace castor
