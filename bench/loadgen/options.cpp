#include "options.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace castor::bench {

const char* to_string(scenario_kind k) {
  switch (k) {
  case scenario_kind::connections:
    return "connections";
  case scenario_kind::fan_in:
    return "fan-in";
  case scenario_kind::fan_out:
    return "fan-out";
  case scenario_kind::p2p:
    return "p2p";
  case scenario_kind::closed_loop:
    return "closed-loop";
  case scenario_kind::latency:
    return "latency";
  case scenario_kind::overload:
    return "overload";
  case scenario_kind::request:
    return "request";
  }
  return "?";
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

namespace {

const char* usage_text
    = "usage: castor-loadgen --scenario NAME [options]\n"
      "scenarios: connections fan-in fan-out p2p closed-loop latency "
      "overload request\n"
      "  --host H               127.0.0.1 | ::1 | localhost (loopback only)\n"
      "  --port N               broker port (1883)\n"
      "  --sub-port N           subscribers connect here instead (another\n"
      "                         node of a group; 0 = --port)\n"
      "  --tls-ca FILE          connect over TLS, verifying the server with\n"
      "                         this CA (PEM) as \"localhost\"\n"
      "  --settle-ms N          wait N ms after the last SUBACK before the\n"
      "                         publishers connect (a subscription reaches\n"
      "                         the other nodes of a group a little later)\n"
      "  --protocol 5|3.1.1     MQTT version (5)\n"
      "  --qos 0|1|2            publish and subscription QoS\n"
      "  --publishers N         publishers (fan-in 100, fan-out 1, p2p 1000,\n"
      "                         closed-loop 100, latency 10)\n"
      "  --subscribers N        subscribers (fan-out 1000; p2p and latency: =\n"
      "                         publishers; fan-in: 1)\n"
      "  --payload BYTES        payload size, >= 20 (64)\n"
      "  --retain               publishes set RETAIN (off)\n"
      "  --json-doc BYTES       payloads are JSON objects of about BYTES\n"
      "                         (>= 32) with many fields, id and sequence\n"
      "                         number as fields; MQTT 5 publishers send\n"
      "                         content type application/json (off)\n"
      "  --changed-fields 1|2   JSON fields that change per message: 1 the\n"
      "                         sequence number, 2 it and a counter (1);\n"
      "                         with --latency the send time too\n"
      "  --delta                subscribers subscribe to $delta/<filter>\n"
      "                         (MQTT 5, --json-doc; JSON Patches are read\n"
      "                         for the sequence number)\n"
      "  --duration S           publishing time (10)\n"
      "  --warmup S             start of the time excluded from figures (2)\n"
      "  --rate R               total msg/s over all publishers (0 = unpaced;\n"
      "                         latency: 20000)\n"
      "  --window N             unacknowledged QoS 1/2 PUBLISHes per "
      "publisher\n"
      "                         (64; capped by the server's Receive Maximum;\n"
      "                         request: requests in flight per requester, 1)\n"
      "  --credit N             messages per publisher not yet delivered to\n"
      "                         all its subscribers (64; 0 = unlimited;\n"
      "                         closed-loop: 1; fan-in QoS 1/2: "
      "800/publishers)\n"
      "  --max-messages N       per publisher (0 = unlimited)\n"
      "  --drain-timeout S      wait for the tail after publishing (5)\n"
      "  --coalesce-us N        pause N us after each loop turn while\n"
      "                         publishing: fewer, larger reads (0)\n"
      "  --setup-timeout S      connecting and subscribing (60)\n"
      "  --connect-concurrency N  CONNECTs awaiting CONNACK at once (100)\n"
      "  --latency              record latency percentiles (latency: on)\n"
      "  --topics N             overload: publisher i publishes to\n"
      "                         bench/over/<i % N> (1)\n"
      "  --sub-rate R           overload: the subscriber reads R msg/s\n"
      "                         (paced in bytes: R x one delivery's size;\n"
      "                         2000); full speed once publishing stops\n"
      "  --sub-rcvbuf BYTES     overload: the subscriber's SO_RCVBUF (4096;\n"
      "                         0 = the kernel's default)\n"
      "  --sub-receive-maximum N  overload: the subscriber's Receive Maximum\n"
      "                         (10)\n"
      "  --quiet S              request: a stall of S s without an answer\n"
      "                         fails the run (5); overload: the drain ends\n"
      "                         after S s without a delivery or PUBACK,\n"
      "                         or as soon as every\n"
      "                         acknowledged (QoS 0: written) message has\n"
      "                         arrived (5)\n"
      "  --max-server-rss-mb N  overload: stop publishing early once the\n"
      "                         server's RSS passes N MiB (1024; 0 = never)\n"
      "  --requesters N         request: requesters, each with --window\n"
      "                         requests in flight (1); one handler answers\n"
      "  --handler-mode M       request: mqtt (subscribe to bench/req/#, any\n"
      "                         MQTT 5 broker) or castor (register with\n"
      "                         $castor/api/handlers/add) (mqtt)\n"
      "  --count N              connections scenario: connections (1000)\n"
      "  --conn-offset N        connections scenario: first client index (0)\n"
      "  --hold S               connections scenario: hold them S seconds\n"
      "  --hold-stdin           ... or until stdin closes (at most --hold,\n"
      "                         default 120 s)\n"
      "  --server-pid PID       read the server's RSS and CPU time from /proc\n"
      "  --label TEXT           copied into the JSON line\n"
      "  --id-prefix TEXT       client id prefix (lg<pid>)\n"
      "  --threads 1            event-loop threads (only 1 supported)\n"
      "  --self-test            check the generator's codec and checks, exit\n"
      "Prints one JSON line and one human line per run; exits 1 on loss or\n"
      "duplicates the QoS forbids, on reordering, or on any error.\n";

bool parse_num(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0';
}

template <class T>
bool parse_int(const char* s, T& out, double lo, double hi) {
  double d = 0;
  if (!parse_num(s, d) || d < lo || d > hi || d != static_cast<T>(d))
    return false;
  out = static_cast<T>(d);
  return true;
}

bool parse_scenario(std::string_view s, scenario_kind& out) {
  for (auto k :
       {scenario_kind::connections, scenario_kind::fan_in,
        scenario_kind::fan_out, scenario_kind::p2p, scenario_kind::closed_loop,
        scenario_kind::latency, scenario_kind::overload,
        scenario_kind::request})
    if (s == to_string(k)) {
      out = k;
      return true;
    }
  return false;
}

void apply_defaults(options& o) {
  switch (o.scenario) {
  case scenario_kind::connections:
    break;
  case scenario_kind::fan_in:
    o.publishers = 100;
    o.subscribers = 1;
    break;
  case scenario_kind::fan_out:
    o.publishers = 1;
    o.subscribers = 1000;
    o.credit = 32;
    break;
  case scenario_kind::p2p:
    o.publishers = 1000;
    o.subscribers = 1000;
    o.qos = 1;
    o.window = 16;
    o.credit = 16;
    break;
  case scenario_kind::closed_loop:
    o.publishers = 100;
    o.subscribers = 1;
    o.credit = 1;
    o.window = 1;
    break;
  case scenario_kind::latency:
    o.publishers = 10;
    o.subscribers = 10;
    o.rate = 20000;
    o.credit = 0;
    o.window = 1000;
    o.record_latency = true;
    break;
  case scenario_kind::overload:
    // No window and no credit of the generator's own: a publisher is held
    // back only by its socket and by the server's Receive Maximum.
    o.publishers = 100;
    o.subscribers = 1;
    o.qos = 1;
    o.credit = 0;
    o.window = 65000;
    o.drain_timeout_s = 30;
    break;
  case scenario_kind::request:
    o.publishers = 1; // unused
    o.subscribers = 1;
    o.window = 1;
    o.credit = 0;
    o.record_latency = true;
    break;
  }
}

} // namespace

std::optional<options> parse_options(int argc, char** argv) {
  options o;
  // The scenario first: its defaults are overridden by later options.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--scenario") == 0
        && !parse_scenario(argv[i + 1], o.scenario)) {
      std::fprintf(stderr, "unknown scenario '%s'\n%s", argv[i + 1],
                   usage_text);
      return std::nullopt;
    }
  apply_defaults(o);
  bool subs_given = false;
  bool hold_given = false;
  bool credit_given = false;
  bool window_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto bad = [&] {
      std::fprintf(stderr, "bad or missing value for %s\n%s", argv[i],
                   usage_text);
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text, stdout);
      return std::nullopt;
    }
    if (a == "--latency") {
      o.record_latency = true;
      continue;
    }
    if (a == "--hold-stdin") {
      o.hold_stdin = true;
      continue;
    }
    if (a == "--delta") {
      o.delta = true;
      continue;
    }
    if (a == "--retain") {
      o.retain = true;
      continue;
    }
    if (i + 1 >= argc)
      return bad();
    const char* v = argv[++i];
    --i; // for the message in bad()
    bool ok = true;
    if (a == "--scenario")
      ok = true;
    else if (a == "--host")
      o.host = v;
    else if (a == "--port")
      ok = parse_int(v, o.port, 1, 65535);
    else if (a == "--sub-port")
      ok = parse_int(v, o.sub_port, 0, 65535);
    else if (a == "--tls-ca")
      o.tls_ca = v;
    else if (a == "--settle-ms")
      ok = parse_int(v, o.settle_ms, 0, 60000);
    else if (a == "--protocol") {
      std::string_view p = v;
      ok = p == "5" || p == "3.1.1" || p == "4";
      o.v5 = p == "5";
    } else if (a == "--qos")
      ok = parse_int(v, o.qos, 0, 2);
    else if (a == "--publishers")
      ok = parse_int(v, o.publishers, 1, 1e6);
    else if (a == "--subscribers") {
      ok = parse_int(v, o.subscribers, 1, 1e6);
      subs_given = true;
    } else if (a == "--payload")
      ok = parse_int(v, o.payload, 20, 1 << 20);
    else if (a == "--json-doc")
      ok = parse_int(v, o.json_doc, 32, 1 << 20);
    else if (a == "--changed-fields")
      ok = parse_int(v, o.changed_fields, 1, 2);
    else if (a == "--duration")
      ok = parse_num(v, o.duration_s) && o.duration_s > 0
           && o.duration_s <= 3600;
    else if (a == "--warmup")
      ok = parse_num(v, o.warmup_s) && o.warmup_s >= 0;
    else if (a == "--rate")
      ok = parse_num(v, o.rate) && o.rate >= 0;
    else if (a == "--window") {
      ok = parse_int(v, o.window, 1, 65000);
      window_given = true;
    } else if (a == "--credit") {
      ok = parse_int(v, o.credit, 0, 1e9);
      credit_given = true;
    } else if (a == "--max-messages")
      ok = parse_int(v, o.max_messages, 0, 1e15);
    else if (a == "--drain-timeout")
      ok = parse_num(v, o.drain_timeout_s) && o.drain_timeout_s >= 0
           && o.drain_timeout_s <= 600;
    else if (a == "--coalesce-us")
      ok = parse_int(v, o.coalesce_us, 0, 100000);
    else if (a == "--setup-timeout")
      ok = parse_num(v, o.setup_timeout_s) && o.setup_timeout_s > 0
           && o.setup_timeout_s <= 600;
    else if (a == "--connect-concurrency")
      ok = parse_int(v, o.connect_concurrency, 1, 100000);
    else if (a == "--count")
      ok = parse_int(v, o.count, 1, 1e6);
    else if (a == "--conn-offset")
      ok = parse_int(v, o.conn_offset, 0, 1e9);
    else if (a == "--hold") {
      ok = parse_num(v, o.hold_s) && o.hold_s >= 0 && o.hold_s <= 3600;
      hold_given = true;
    } else if (a == "--server-pid")
      ok = parse_int(v, o.server_pid, 1, 1e9);
    else if (a == "--label")
      o.label = v;
    else if (a == "--id-prefix")
      o.id_prefix = v;
    else if (a == "--threads")
      ok = parse_int(v, o.threads, 1, 1);
    else if (a == "--topics")
      ok = parse_int(v, o.topics, 1, 1e6);
    else if (a == "--sub-rate")
      ok = parse_num(v, o.sub_rate) && o.sub_rate > 0 && o.sub_rate <= 1e8;
    else if (a == "--sub-rcvbuf")
      ok = parse_int(v, o.sub_rcvbuf, 0, 1 << 30);
    else if (a == "--sub-receive-maximum")
      ok = parse_int(v, o.sub_receive_maximum, 1, 65535);
    else if (a == "--max-server-rss-mb")
      ok = parse_int(v, o.max_server_rss_mb, 0, 1 << 24);
    else if (a == "--requesters")
      ok = parse_int(v, o.requesters, 1, 100000);
    else if (a == "--handler-mode") {
      std::string_view m = v;
      ok = m == "mqtt" || m == "castor";
      o.handler_castor = m == "castor";
    } else if (a == "--quiet")
      ok = parse_num(v, o.quiet_s) && o.quiet_s > 0 && o.quiet_s <= 600;
    else {
      std::fprintf(stderr, "unknown option %s\n%s", argv[i], usage_text);
      return std::nullopt;
    }
    if (!ok)
      return bad();
    ++i;
  }
  if (!is_loopback(o.host)) {
    std::fprintf(stderr,
                 "refusing host '%s': only loopback (127.0.0.0/8, ::1, "
                 "localhost) is allowed\n",
                 o.host.c_str());
    return std::nullopt;
  }
  if (!subs_given
      && (o.scenario == scenario_kind::p2p
          || o.scenario == scenario_kind::latency))
    o.subscribers = o.publishers;
  if ((o.scenario == scenario_kind::p2p || o.scenario == scenario_kind::latency)
      && o.subscribers != o.publishers) {
    std::fprintf(stderr, "%s needs as many subscribers as publishers\n",
                 to_string(o.scenario));
    return std::nullopt;
  }
  if (o.scenario == scenario_kind::fan_in
      || o.scenario == scenario_kind::closed_loop
      || o.scenario == scenario_kind::overload)
    o.subscribers = 1;
  if ((o.json_doc > 0 || o.delta)
      && (o.scenario == scenario_kind::overload
          || o.scenario == scenario_kind::connections)) {
    std::fprintf(stderr,
                 "--json-doc and --delta are for the publish/"
                 "subscribe flows, not %s\n",
                 to_string(o.scenario));
    return std::nullopt;
  }
  if (o.scenario == scenario_kind::request
      && (!o.v5 || o.qos != 0 || o.json_doc > 0 || o.delta)) {
    std::fprintf(stderr, "request needs MQTT 5 (Response Topic, Correlation "
                         "Data) and QoS 0, binary payloads\n");
    return std::nullopt;
  }
  if (o.delta && (!o.v5 || o.json_doc == 0)) {
    std::fprintf(stderr, "--delta needs MQTT 5 and --json-doc (the "
                         "generator reads sequence numbers from JSON "
                         "Patches only)\n");
    return std::nullopt;
  }
  if (o.scenario == scenario_kind::overload && (credit_given || window_given)) {
    std::fprintf(stderr, "overload publishers have no window or credit of "
                         "their own (--window, --credit)\n");
    return std::nullopt;
  }
  // Acknowledged fan-in: keep what is queued for the one subscriber under
  // the brokers' per-client queue limits (Castor and Mosquitto: 1,000
  // messages), so that the figure is a sustained rate, not a burst.
  if (o.scenario == scenario_kind::fan_in && o.qos > 0) {
    if (!credit_given)
      o.credit = std::max<uint32_t>(1, 800 / o.publishers);
    if (!window_given)
      o.window = o.credit;
  }
  if (o.scenario == scenario_kind::fan_out)
    o.publishers = 1;
  if (o.hold_stdin && !hold_given)
    o.hold_s = 120;
  if (o.warmup_s >= o.duration_s)
    o.warmup_s = o.duration_s / 5;
  return o;
}

} // namespace castor::bench
