#pragma once

// Command line of castor-loadgen: every knob of a run, with per-scenario
// defaults filled in by parse_options().

#include <cstdint>
#include <optional>
#include <string>

namespace castor::bench {

enum class scenario_kind : uint8_t {
  connections, ///< N idle connections: connect rate, server RSS per conn
  fan_in,      ///< P publishers -> one wildcard subscriber
  fan_out,     ///< one publisher -> S subscribers of one topic
  p2p,         ///< P pairs, publisher i -> subscriber i
  closed_loop, ///< fan-in with exactly one message in flight per publisher
  latency,     ///< fixed total rate over pairs, latency percentiles
  overload,    ///< unpaced publishers -> one slow subscriber
  request,     ///< MQTT 5 request/response round trips through a handler
};

const char* to_string(scenario_kind k);

/// How subscribers are wired to publishers.
enum class topology : uint8_t { many_to_one, one_to_many, pairs };

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  /// Subscribers connect to this port instead (another node of a group);
  /// 0 = `port`.
  uint16_t sub_port = 0;
  /// Non-empty: every connection uses TLS, verifying the server against
  /// this CA file (PEM) under the name "localhost".
  std::string tls_ca;
  /// Pause between the last SUBACK and the publishers' connects.
  uint32_t settle_ms = 0;
  scenario_kind scenario = scenario_kind::fan_in;
  std::string label; ///< free text copied into the JSON line (server name)
  bool v5 = true;    ///< MQTT 5 (false: 3.1.1)
  uint8_t qos = 0;
  uint32_t publishers = 100;
  uint32_t subscribers = 1;
  uint32_t payload = 64; ///< bytes, at least 20 (id, sequence, timestamp)
  /// JSON payloads of about this many bytes (0 = binary payloads of
  /// `payload` bytes); MQTT 5 publishers send content type application/json.
  uint32_t json_doc = 0;
  uint32_t changed_fields = 1; ///< fields of the JSON document that change
  /// Subscribers subscribe to "$delta/" + the filter (MQTT 5, --json-doc).
  bool delta = false;
  /// Publishes set RETAIN (every publisher keeps its topic's retained
  /// message up to date: what a server with persistence writes).
  bool retain = false;
  double duration_s = 10;
  double warmup_s = 2;  ///< excluded from the measured window
  double rate = 0;      ///< total messages/s over all publishers; 0 = unpaced
  uint32_t window = 64; ///< PUBLISHes awaiting their ack, per publisher
  /// Messages per publisher sent but not yet delivered to every subscriber
  /// of it; 0 = unlimited. Keeps the broker from just buffering.
  uint32_t credit = 64;
  uint64_t max_messages = 0; ///< per publisher; 0 = unlimited
  double drain_timeout_s = 5;
  double setup_timeout_s = 60;
  uint32_t connect_concurrency = 100; ///< connects awaiting CONNACK at once
  bool record_latency = false;
  /// Pause this long after each loop turn while publishing, so that reads
  /// find several messages per socket (fewer system calls per delivery).
  uint32_t coalesce_us = 0;
  // connections scenario
  uint32_t count = 1000;
  uint32_t conn_offset = 0;
  double hold_s = 0;       ///< keep the idle connections this long
  bool hold_stdin = false; ///< ... or until stdin closes (bounded by hold_s)
  int server_pid = 0;      ///< for RSS and CPU figures; 0 = none
  uint32_t threads = 1;
  uint16_t keep_alive_s = 600;
  std::string id_prefix; ///< client id prefix; default "lg<pid>"
  // overload scenario
  uint32_t topics = 1;    ///< publisher i publishes to bench/over/<i % topics>
  double sub_rate = 2000; ///< the slow subscriber's pace, messages/s
  int sub_rcvbuf = 4096;  ///< its SO_RCVBUF, bytes (0 = kernel default)
  uint16_t sub_receive_maximum = 10; ///< its Receive Maximum (MQTT 5)
  double quiet_s = 5; ///< drain ends after this long without a delivery
  /// Publishing stops early once the server's RSS passes this (MiB; 0 =
  /// never): a broker that buffers the flood must not exhaust a shared
  /// machine.
  uint32_t max_server_rss_mb = 1024;
  // request scenario
  uint32_t requesters = 1;
  /// The handler registers with Castor's API ($castor/api/handlers/add)
  /// instead of subscribing to bench/req/#.
  bool handler_castor = false;
};

/// Parses argv; on error or --help prints to stderr and returns nothing.
std::optional<options> parse_options(int argc, char** argv);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

} // namespace castor::bench
