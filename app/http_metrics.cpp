// GET /metrics: the Prometheus text exposition format (version 0.0.4).
// Everything counted per thread (metrics/metrics.hpp) is summed here, at
// scrape time; the rare events come from the server's shared counters
// (actors/counters.hpp), the sessions from the session directory and the
// process figures from /proc. docs/operations.md lists the metrics.

#include <atomic>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <dirent.h>
#include <string_view>
#include <vector>
#include <sys/resource.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "app/http_router.hpp"
#include "app/cli.hpp"
#include "metrics/metrics.hpp"
#include "protocol/reason_code.hpp"

namespace castor {

namespace {

/// Writes families: HELP and TYPE once, then samples.
class exposition {
public:
  explicit exposition(std::string& out) : out_(out) {}

  exposition& family(std::string_view name, std::string_view type,
                     std::string_view help) {
    name_ = "castor_";
    name_ += name;
    out_ += "# HELP ";
    out_ += name_;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name_;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    return *this;
  }

  /// A sample of the current family; `labels` as `k="v",...` (escaped by
  /// label()) or empty; `suffix` for histogram series.
  exposition& sample(std::string_view labels, double value,
                     std::string_view suffix = {}) {
    out_ += name_;
    out_ += suffix;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    char buf[64];
    if (value == static_cast<double>(static_cast<int64_t>(value)))
      std::snprintf(buf, sizeof(buf), "%" PRId64, static_cast<int64_t>(value));
    else
      std::snprintf(buf, sizeof(buf), "%.9g", value);
    out_ += buf;
    out_ += '\n';
    return *this;
  }

  exposition& sample(double value) {
    return sample({}, value);
  }

private:
  std::string& out_;
  std::string name_;
};

/// `key="value"` with the value escaped as the format asks.
std::string label(std::string_view key, std::string_view value) {
  std::string out{key};
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string label(std::string_view k1, std::string_view v1, std::string_view k2,
                  std::string_view v2) {
  return label(k1, v1) + ',' + label(k2, v2);
}

/// A reason code's name as a label value: "not_authorized".
std::string reason_label(uint8_t code) {
  std::string out;
  for (char c : mqtt::to_string(static_cast<mqtt::reason_code>(code))) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  return out.empty() ? "unknown" : out;
}

const char* protocol_label(size_t level) {
  switch (level) {
  case 4:
    return "3.1.1";
  case 5:
    return "5.0";
  case 3:
    return "3.1";
  default:
    return "none";
  }
}

const char* qos_label(size_t q) {
  static const char* names[] = {"0", "1", "2"};
  return names[q];
}

uint64_t value(const metrics::slot& s) {
  return metrics::snapshot::value(s);
}

/// Process figures from /proc and getrlimit (Prometheus's process_*
/// names, prefixed).
void process_metrics(exposition& e) {
  long page = ::sysconf(_SC_PAGESIZE);
  unsigned long long vsize_pages = 0, rss_pages = 0;
  if (auto* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%llu %llu", &vsize_pages, &rss_pages) != 2)
      vsize_pages = rss_pages = 0;
    std::fclose(f);
  }
  e.family("process_resident_memory_bytes", "gauge",
           "Resident memory of the process.")
      .sample(static_cast<double>(rss_pages) * page);
  e.family("process_virtual_memory_bytes", "gauge",
           "Virtual memory of the process.")
      .sample(static_cast<double>(vsize_pages) * page);
  size_t fds = 0;
  if (auto* d = ::opendir("/proc/self/fd")) {
    while (auto* ent = ::readdir(d))
      if (ent->d_name[0] != '.')
        ++fds;
    ::closedir(d);
    if (fds > 0)
      --fds; // the directory's own descriptor
  }
  e.family("process_open_fds", "gauge", "Open file descriptors.")
      .sample(static_cast<double>(fds));
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  e.family("process_max_fds", "gauge", "The limit of open file descriptors.")
      .sample(static_cast<double>(rl.rlim_cur));
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  double cpu
      = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
        + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  e.family("process_cpu_seconds_total", "counter",
           "User and system CPU time of the process.")
      .sample(cpu);
}

/// The actor system: the census, the threads, the requests.
void actor_metrics(exposition& e, const metrics::snapshot& s,
                   size_t scheduler_threads) {
  auto& t = *s.total;
  e.family("actors", "gauge", "Actors alive, by kind.");
  for (size_t k = 0; k < metrics::actor_kinds; ++k)
    e.sample(label("kind", metrics::name(static_cast<metrics::actor_kind>(k))),
             static_cast<double>(metrics::snapshot::gauge(t.alive[k])));
  e.family("actor_messages_total", "counter",
           "Messages handled by the behaviors of actors, by kind.");
  for (size_t k = 0; k < metrics::actor_kinds; ++k)
    e.sample(label("kind", metrics::name(static_cast<metrics::actor_kind>(k))),
             static_cast<double>(value(t.processed[k])));
  e.family("mailbox_depth", "gauge",
           "Messages waiting in the mailboxes of actors, by kind, as last "
           "seen by each actor.");
  for (size_t k = 0; k < metrics::actor_kinds; ++k)
    e.sample(label("kind", metrics::name(static_cast<metrics::actor_kind>(k))),
             static_cast<double>(
                 std::max<int64_t>(0, metrics::snapshot::gauge(t.depth[k]))));
  e.family("mailbox_depth_max", "gauge",
           "The deepest mailbox of an actor of each kind since the start.");
  for (size_t k = 0; k < metrics::actor_kinds; ++k)
    e.sample(label("kind", metrics::name(static_cast<metrics::actor_kind>(k))),
             static_cast<double>(value(t.depth_max[k])));
  e.family("scheduler_threads", "gauge",
           "Worker threads of the actor scheduler.")
      .sample(static_cast<double>(scheduler_threads));
  e.family("thread_cpu_seconds_total", "counter",
           "CPU time of the threads that run actors: the I/O thread (every "
           "connection) and the scheduler's workers (an idle worker spins "
           "briefly before it sleeps, which counts here).");
  size_t worker = 0, other = 0;
  for (auto& th : s.threads) {
    std::string name = th.role;
    if (th.role == "worker")
      name += "-" + std::to_string(worker++);
    else if (th.role == "other")
      name += "-" + std::to_string(other++);
    e.sample(label("thread", name, "role", th.role), th.cpu_seconds);
  }
  auto started = value(t.requests_started);
  auto finished = value(t.requests_finished);
  e.family("requests_outstanding", "gauge",
           "Requests between actors sent and not yet answered.")
      .sample(static_cast<double>(started > finished ? started - finished : 0));
  e.family("requests_timed_out_total", "counter",
           "Requests between actors that were not answered in time.")
      .sample(static_cast<double>(value(t.requests_timed_out)));
}

/// Connections, sessions, subscriptions, topics, CONNECT outcomes.
void connection_metrics(exposition& e, const metrics::snapshot& s,
                        const http_context& ctx) {
  auto& t = *s.total;
  auto& c = *ctx.counters;
  e.family("connections", "gauge",
           "Open connections, by listener, transport and MQTT protocol "
           "version (none: before CONNECT, and HTTP).");
  auto& ls = ctx.cfg.listeners;
  for (size_t i = 0; i < ls.size() && i < metrics::max_listeners; ++i)
    for (size_t level : {size_t{0}, size_t{4}, size_t{5}})
      e.sample(label("listener", ls[i].name, "transport", ls[i].transport) + ','
                   + label("protocol", protocol_label(level)),
               static_cast<double>(std::max<int64_t>(
                   0, metrics::snapshot::gauge(t.connections[i][level]))));
  e.family("connections_accepted_total", "counter",
           "TCP connections accepted by the listeners.")
      .sample(static_cast<double>(c.connections_accepted.load()));
  e.family("connections_rejected_total", "counter",
           "TCP connections closed at once: the listener was at its "
           "max_connections.")
      .sample(static_cast<double>(c.connections_refused.load()));
  e.family("connects_total", "counter", "CONNECTs accepted.")
      .sample(static_cast<double>(value(t.connects)));
  e.family("connects_refused_total", "counter",
           "CONNECTs refused, by the CONNACK's reason code.");
  for (size_t r = 1; r < 256; ++r)
    if (auto n = value(t.refused[r]))
      e.sample(label("reason", reason_label(static_cast<uint8_t>(r))),
               static_cast<double>(n));
  e.family("disconnects_total", "counter",
           "MQTT connections ended, by reason code (normal_disconnection "
           "for a DISCONNECT without error).");
  for (size_t r = 0; r < 256; ++r)
    if (auto n = value(t.disconnects[r]))
      e.sample(label("reason", reason_label(static_cast<uint8_t>(r))),
               static_cast<double>(n));
  auto [connected, offline] = ctx.sessions
                                  ? ctx.sessions->connected_and_offline()
                                  : std::pair<size_t, size_t>{0, 0};
  e.family("sessions", "gauge", "Sessions, connected or offline.")
      .sample(label("state", "connected"), static_cast<double>(connected))
      .sample(label("state", "offline"), static_cast<double>(offline));
  e.family("subscriptions", "gauge", "Subscriptions of sessions.")
      .sample(static_cast<double>(
          std::max<int64_t>(0, metrics::snapshot::gauge(t.subscriptions))));
  e.family("topics", "gauge", "Topics added through the API, by type.");
  auto by_type = ctx.mapping ? ctx.mapping->added_by_type()
                             : std::map<topic_type, size_t>{};
  for (auto type :
       {topic_type::json, topic_type::string, topic_type::int64,
        topic_type::double_, topic_type::binary, topic_type::time_series})
    e.sample(label("type", to_string(type)),
             static_cast<double>(by_type[type]));
  e.family("message_handlers", "gauge",
           "Message handler registrations (request-response messaging): "
           "this node's connections', and in a node group the other "
           "members' too.")
      .sample(static_cast<double>(ctx.handlers ? ctx.handlers->size() : 0));
  e.family("missing_topic_handlers", "gauge",
           "Missing-topic handler registrations: this node's "
           "connections', and in a node group the other members' too.")
      .sample(
          static_cast<double>(ctx.missing ? ctx.missing->handlers.size() : 0));
  e.family("keep_alive_timeouts_total", "counter",
           "Connections closed because the client was silent too long.")
      .sample(static_cast<double>(c.keep_alive_timeouts.load()));
  e.family("protocol_errors_total", "counter",
           "Connections closed for an error of the client.")
      .sample(static_cast<double>(c.protocol_errors.load()));
  e.family("subscriptions_revoked_total", "counter",
           "Subscriptions removed because the session's rights no longer "
           "allow them (a reload, a change of roles).")
      .sample(static_cast<double>(c.subscriptions_revoked.load()));
}

/// Messages, bytes, drops, deltas, flow control and delivery latency.
void message_metrics(exposition& e, const metrics::snapshot& s) {
  auto& t = *s.total;
  auto by_qos = [&](const char* name, const char* help,
                    const std::array<metrics::slot, 3>& xs) {
    e.family(name, "counter", help);
    for (size_t q = 0; q < 3; ++q)
      e.sample(label("qos", qos_label(q)), static_cast<double>(value(xs[q])));
  };
  by_qos("messages_received_total", "PUBLISH packets received, by QoS.",
         t.messages_in);
  by_qos("messages_sent_total", "PUBLISH packets sent, by QoS.",
         t.messages_out);
  by_qos("payload_bytes_received_total",
         "Payload bytes of the PUBLISH packets received, by QoS.",
         t.payload_in);
  by_qos("payload_bytes_sent_total",
         "Payload bytes of the PUBLISH packets sent, by QoS.", t.payload_out);
  e.family("bytes_received_total", "counter",
           "Bytes read from clients (MQTT, after TLS and WebSocket).")
      .sample(static_cast<double>(value(t.bytes_in)));
  e.family("bytes_sent_total", "counter",
           "Bytes written to clients (before TLS and WebSocket).")
      .sample(static_cast<double>(value(t.bytes_out)));
  e.family("deliveries_dropped_total", "counter",
           "Messages that did not reach a subscriber, or publishes refused, "
           "by reason.");
  for (size_t r = 0; r < metrics::drop_reasons; ++r)
    e.sample(
        label("reason", metrics::name(static_cast<metrics::drop_reason>(r))),
        static_cast<double>(value(t.dropped[r])));
  e.family("conflated_total", "counter",
           "Queued messages of conflating topics replaced by later ones.")
      .sample(static_cast<double>(value(t.conflated)));
  e.family("deltas_sent_total", "counter",
           "Deliveries on $delta/ subscriptions sent as deltas.")
      .sample(static_cast<double>(value(t.deltas_sent)));
  e.family("delta_bytes_saved_total", "counter",
           "Payload bytes that deltas saved against whole values.")
      .sample(static_cast<double>(value(t.delta_bytes_saved)));
  e.family("flow_control_halts_total", "counter",
           "Times a connection stopped reading its socket (flow control).")
      .sample(static_cast<double>(value(t.flow_halts)));
  e.family("flow_control_halted_seconds_total", "counter",
           "Time connections spent not reading, summed over the halts that "
           "ended.")
      .sample(static_cast<double>(value(t.flow_halt_ns)) / 1e9);
  e.family("delivery_latency_seconds", "histogram",
           "From reading a PUBLISH to writing it to a subscriber (retained "
           "messages sent on subscribe are not counted).");
  uint64_t cumulative = 0;
  for (size_t k = 0; k < metrics::latency_buckets; ++k) {
    cumulative += value(t.latency[k]);
    char bound[32];
    std::snprintf(bound, sizeof(bound), "%g", metrics::latency_bound(k));
    e.sample(label("le", bound), static_cast<double>(cumulative), "_bucket");
  }
  cumulative += value(t.latency[metrics::latency_buckets]);
  e.sample(label("le", "+Inf"), static_cast<double>(cumulative), "_bucket");
  e.sample({}, static_cast<double>(value(t.latency_sum_ns)) / 1e9, "_sum");
  e.sample({}, static_cast<double>(cumulative), "_count");
}

/// Logins and API requests.
void security_metrics(exposition& e, const metrics::snapshot& s,
                      const http_context& ctx) {
  auto& t = *s.total;
  e.family("auth_total", "counter",
           "Logins decided, by authenticator and result.");
  for (size_t failed = 0; failed < 2; ++failed)
    for (size_t a = 0; a < metrics::auth_sources; ++a)
      e.sample(label("authenticator",
                     metrics::name(static_cast<metrics::auth_source>(a)),
                     "result", failed ? "failure" : "success"),
               static_cast<double>(value(t.auth[failed][a])));
  auto& a = ctx.counters->auth;
  e.family("auth_throttled_total", "counter",
           "Logins held back or refused by the failed-login slow-down.")
      .sample(label("action", "delayed"), static_cast<double>(a.delayed.load()))
      .sample(label("action", "refused_rate"),
              static_cast<double>(a.refused_rate.load()))
      .sample(label("action", "refused_busy"),
              static_cast<double>(a.refused_busy.load()));
  e.family("api_requests_total", "counter",
           "Platform API requests ($castor/api/ and the REST API), by "
           "operation and result (ok or the error code).");
  for (auto& [key, n] : metrics::api_counts())
    e.sample(label("operation", key.first, "result", key.second),
             static_cast<double>(n));
  e.family("api_requests_dropped_total", "counter",
           "$castor/api/ requests without a response topic.")
      .sample(static_cast<double>(ctx.counters->api_dropped.load()));
}

/// The node group (only when the server is part of one).
/// Group-wide gauges: this node's figures and every member's (as its last
/// heartbeat brought them), each with a `node` label.
void group_metrics(exposition& e, const cluster_view& v,
                   const session_directory_ptr& sessions) {
  std::vector<std::pair<std::string, cluster_node_stats>> nodes;
  nodes.emplace_back(v.settings().self.node, node_stats(sessions));
  for (auto& m : v.members())
    if (m.stats)
      nodes.emplace_back(m.info.node, *m.stats);
  auto family = [&](const char* name, const char* type, const char* help,
                    uint64_t cluster_node_stats::*field) {
    e.family(name, type, help);
    for (auto& [node, x] : nodes)
      e.sample(label("node", node), static_cast<double>(x.*field));
  };
  family("group_connections", "gauge",
         "MQTT connections open on each node of the group (a member's "
         "figures are those of its last heartbeat).",
         &cluster_node_stats::connections);
  e.family("group_sessions", "gauge",
           "Sessions on each node of the group, connected or offline.");
  for (auto& [node, x] : nodes)
    e.sample(label("node", node, "state", "connected"),
             static_cast<double>(x.sessions_connected))
        .sample(label("node", node, "state", "offline"),
                static_cast<double>(x.sessions_offline));
  family("group_subscriptions", "gauge",
         "Subscriptions of sessions on each node of the group.",
         &cluster_node_stats::subscriptions);
  family("group_messages_received_total", "counter",
         "PUBLISH packets received from clients by each node of the group.",
         &cluster_node_stats::messages_received);
  family("group_messages_sent_total", "counter",
         "PUBLISH packets sent to clients by each node of the group.",
         &cluster_node_stats::messages_sent);
}

void cluster_metrics(exposition& e, const http_context& ctx) {
  if (!ctx.cluster)
    return;
  auto& v = *ctx.cluster;
  e.family("cluster_members", "gauge",
           "Members of the node group this node holds, itself included.")
      .sample(static_cast<double>(v.members().size() + 1));
  e.family("cluster_member_changes_total", "counter",
           "Membership changes this node saw: joined, left, failed (link "
           "lost or no heartbeat), replaced (a member restarted).");
  for (auto c : {member_change::joined, member_change::left,
                 member_change::failed, member_change::replaced})
    e.sample(label("change", name(c)), static_cast<double>(v.changes(c)));
  e.family("cluster_joins_refused_total", "counter",
           "Joins refused either way: a wrong secret, another group, an "
           "unsupported protocol version, a node name in use, a full group.")
      .sample(static_cast<double>(v.refusals()));
  if (!v.routes)
    return;
  auto& r = *v.routes;
  e.family("cluster_routes", "gauge",
           "Routes to other members: (node, filter) pairs with subscribers "
           "and (node, share group) pairs with members.")
      .sample(static_cast<double>(r.size()));
  e.family("cluster_session_replicas", "gauge",
           "Replicas of other members' persistent sessions this node keeps, "
           "to resume them if their node dies.")
      .sample(static_cast<double>(
          r.session_replicas.load(std::memory_order_relaxed)));
  struct counter {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>& value;
  };
  const counter counters[] = {
      {"cluster_forwarded_batches_total",
       "Publish batches sent to other members (one per batch and node).",
       r.forwarded_batches},
      {"cluster_forwarded_messages_total",
       "Messages sent to other members (once per node, whatever its number "
       "of subscribers).",
       r.forwarded_messages},
      {"cluster_received_batches_total",
       "Publish batches other members forwarded to this node.",
       r.received_batches},
      {"cluster_received_messages_total",
       "Messages other members forwarded to this node.", r.received_messages},
      {"cluster_forwards_failed_total",
       "QoS 1 and 2 batches a member did not acknowledge in time (or "
       "answered with an error); their publishers were answered without it.",
       r.forwards_failed},
      {"cluster_forwards_dropped_total",
       "QoS 0 messages not forwarded to a member that had 64 batches of their "
       "topic unanswered (it falls behind).",
       r.forwards_dropped},
      {"cluster_unexpected_messages_total",
       "Messages the node agent or the router had no handler for (a stray "
       "answer, an error, another version's message): logged and dropped.",
       r.unexpected_messages},
      {"cluster_sessions_moved_total",
       "Sessions that moved to this node from another member (a CONNECT of "
       "their client id here, without clean start).",
       r.sessions_moved},
      {"cluster_sessions_resumed_total",
       "Sessions of a member that died or stopped resumed here from their "
       "replica (with their subscriptions).",
       r.sessions_resumed},
      {"cluster_wills_published_total",
       "Wills of clients of a member that died or stopped published here "
       "(the member held their connection or their will's delay).",
       r.wills_published},
      {"cluster_claims_failed_total",
       "CONNECTs whose client id the owner node or the node that held the "
       "session did not answer in time: the session started here anew.",
       r.claims_failed},
  };
  for (auto& c : counters)
    e.family(c.name, "counter", c.help)
        .sample(static_cast<double>(c.value.load(std::memory_order_relaxed)));
  group_metrics(e, v, ctx.sessions);
}

} // namespace

/// A family of one sample read from an atomic (scaled by `scale`).
struct atomic_family {
  const char* name;
  const char* type;
  const char* help;
  const std::atomic<uint64_t>& value;
  double scale = 1;
};

void storage_metrics(exposition& e, const http_context& ctx) {
  std::vector<atomic_family> families;
  if (auto r = ctx.retained.get()) {
    families.push_back({"retained_messages", "gauge",
                        "Retained messages the server keeps (bound: "
                        "mqtt.max_retained_messages).",
                        r->messages});
    families.push_back({"retained_bytes", "gauge",
                        "Their bytes, topic and payload (bound: "
                        "mqtt.max_retained_bytes).",
                        r->bytes});
    families.push_back(
        {"retained_refused_total", "counter",
         "Retained messages delivered but not kept, for the bound.",
         r->refused});
  }
  if (auto c = ctx.storage.get()) {
    families.push_back({"storage_records_written_total", "counter",
                        "Records the store writer wrote or erased (retained "
                        "messages, typed topics' values, time series' "
                        "events, the API's topics).",
                        c->records});
    families.push_back({"storage_written_bytes_total", "counter",
                        "Bytes of the records written.", c->bytes});
    families.push_back({"storage_batches_total", "counter",
                        "Write batches (group commit: every record that "
                        "arrived while the last one was written goes in the "
                        "next).",
                        c->batches});
    families.push_back({"storage_syncs_total", "counter",
                        "fsyncs of the write-ahead log.", c->syncs});
    families.push_back({"storage_sync_seconds_total", "counter",
                        "Time spent writing batches that were synced, and "
                        "syncing.",
                        c->sync_us, 1e-6});
    families.push_back({"storage_errors_total", "counter",
                        "Writes or syncs that failed (logged as errors).",
                        c->errors});
    families.push_back({"storage_pending_records", "gauge",
                        "Records the writer has received and not yet "
                        "written.",
                        c->waiting});
    families.push_back({"storage_size_bytes", "gauge",
                        "About the store's size (tables, write-ahead log, "
                        "memory tables), as the writer last saw it (every "
                        "storage.async_interval_ms).",
                        c->size_bytes});
  }
  for (auto& f : families)
    e.family(f.name, f.type, f.help)
        .sample(static_cast<double>(f.value.load(std::memory_order_relaxed))
                * f.scale);
}

cluster_node_stats node_stats(const session_directory_ptr& sessions) {
  auto s = metrics::gather();
  auto& t = *s.total;
  cluster_node_stats x;
  for (auto& l : t.connections)
    for (size_t level : {size_t{4}, size_t{5}})
      x.connections += static_cast<uint64_t>(
          std::max<int64_t>(0, metrics::snapshot::gauge(l[level])));
  if (sessions)
    std::tie(x.sessions_connected, x.sessions_offline)
        = sessions->connected_and_offline();
  x.subscriptions = static_cast<uint64_t>(
      std::max<int64_t>(0, metrics::snapshot::gauge(t.subscriptions)));
  for (size_t q = 0; q < 3; ++q) {
    x.messages_received += value(t.messages_in[q]);
    x.messages_sent += value(t.messages_out[q]);
  }
  return x;
}

http::response http_metrics(http_router_actor* self, const http::request&) {
  auto& ctx = *self->state.ctx;
  http::response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  exposition e{r.body};
  e.family("build_info", "gauge", "The version of the server (always 1).")
      .sample(label("version", castor_version), 1);
  e.family("start_time_seconds", "gauge",
           "When the server started (seconds since the epoch).")
      .sample(
          static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                  ctx.started.time_since_epoch())
                                  .count()));
  auto s = metrics::gather();
  process_metrics(e);
  actor_metrics(e, s, self->system().scheduler().num_workers());
  connection_metrics(e, s, ctx);
  message_metrics(e, s);
  security_metrics(e, s, ctx);
  cluster_metrics(e, ctx);
  storage_metrics(e, ctx);
  return r;
}

} // namespace castor
