#include "report.hpp"

#include <cmath>
#include <cstdio>

namespace castor::bench {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

class json_line {
public:
  json_line& str(const char* k, const std::string& v) {
    key(k);
    out_ += '"' + escape(v) + '"';
    return *this;
  }
  json_line& num(const char* k, double v) {
    key(k);
    char buf[64];
    if (!std::isfinite(v))
      std::snprintf(buf, sizeof(buf), "null");
    else if (v == std::floor(v) && std::fabs(v) < 1e15)
      std::snprintf(buf, sizeof(buf), "%.0f", v);
    else
      std::snprintf(buf, sizeof(buf), "%.4f", v);
    out_ += buf;
    return *this;
  }
  /// A figure that may be unknown (negative): null then.
  json_line& opt(const char* k, double v) {
    if (v < 0) {
      key(k);
      out_ += "null";
      return *this;
    }
    return num(k, v);
  }
  json_line& boolean(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  std::string done() {
    return out_ + "}";
  }

private:
  void key(const char* k) {
    out_ += first_ ? "" : ",";
    first_ = false;
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }
  std::string out_ = "{";
  bool first_ = true;
};

/// Bytes per message, 0 when there were none.
double per(uint64_t bytes, uint64_t msgs) {
  return msgs > 0 ? static_cast<double>(bytes) / static_cast<double>(msgs) : 0;
}

} // namespace

std::string to_json(const options& o, const run_result& r) {
  json_line j;
  j.str("scenario", to_string(o.scenario))
      .str("label", o.label)
      .str("protocol", o.v5 ? "5" : "3.1.1")
      .boolean("ok", r.ok)
      .str("error", r.error);
  if (!r.note.empty())
    j.str("note", r.note);
  if (o.scenario == scenario_kind::overload) {
    j.num("qos", o.qos)
        .num("publishers", o.publishers)
        .num("topics", o.topics)
        .num("payload", o.payload)
        .num("duration_s", o.duration_s)
        .num("sub_target_rate", o.sub_rate)
        .num("sub_rcvbuf", o.sub_rcvbuf)
        .num("sub_receive_maximum", o.sub_receive_maximum)
        .num("server_receive_maximum", r.server_receive_maximum)
        .num("written", static_cast<double>(r.written))
        .num("sent", static_cast<double>(r.sent))
        .num("unread_at_end", static_cast<double>(r.written - r.sent))
        .num("unread_unknown", r.unread_unknown)
        .num("acked", static_cast<double>(r.acked))
        .num("rejected", static_cast<double>(r.rejected))
        .num("unacked", static_cast<double>(r.unacked))
        .num("expected", static_cast<double>(r.expected))
        .num("delivered", static_cast<double>(r.delivered))
        .num("lost", static_cast<double>(r.lost))
        .num("acked_lost", static_cast<double>(r.acked_lost))
        .num("delivered_unacked", static_cast<double>(r.delivered_unacked))
        .num("delivered_pct", r.expected > 0
                                  ? 100.0 * static_cast<double>(r.delivered)
                                        / static_cast<double>(r.expected)
                                  : 0)
        .num("duplicates", static_cast<double>(r.duplicates))
        .num("reordered", static_cast<double>(r.reordered))
        .num("acks_out_of_order", static_cast<double>(r.acks_out_of_order))
        .num("window_s", r.window_s)
        .num("rate", r.rate)
        .num("sub_rate", r.rate)
        .num("pub_rate", o.qos > 0 ? r.ack_rate : r.publish_rate)
        .num("ack_rate", r.ack_rate)
        .num("publish_rate", r.publish_rate)
        .num("published_s", r.published_s)
        .num("drain_s", r.drain_s)
        .boolean("drain_timed_out", r.drain_timed_out)
        .boolean("rss_limit_hit", r.rss_limit_hit)
        .opt("rss_peak_kb", static_cast<double>(r.rss_peak_kb))
        .num("rss_samples", r.rss_samples)
        .opt("loadgen_cpu_s", r.loadgen_cpu_s)
        .num("loadgen_reads", static_cast<double>(r.reads))
        .num("loadgen_writes", static_cast<double>(r.writes))
        .num("loadgen_waits", static_cast<double>(r.waits));
  } else if (o.scenario == scenario_kind::request) {
    j.num("requesters", o.requesters)
        .str("handler_mode", o.handler_castor ? "castor" : "mqtt")
        .num("window", o.window)
        .num("payload", o.payload)
        .num("duration_s", o.duration_s)
        .num("sent", static_cast<double>(r.sent))
        .num("answered", static_cast<double>(r.delivered))
        .num("handled", static_cast<double>(r.handled))
        .num("outstanding", static_cast<double>(r.lost))
        .num("window_s", r.window_s)
        .num("round_trips", static_cast<double>(r.window_delivered))
        // null, not 0, when the run failed before the window was measured
        .opt("rate", r.window_s > 0 ? r.rate : -1)
        .opt("publish_rate", r.window_s > 0 ? r.publish_rate : -1)
        .opt("loadgen_cpu_s", r.loadgen_cpu_s)
        .num("loadgen_reads", static_cast<double>(r.reads))
        .num("loadgen_writes", static_cast<double>(r.writes))
        .num("loadgen_waits", static_cast<double>(r.waits))
        .num("lat_samples", static_cast<double>(r.latency.samples));
    double no = r.latency.samples > 0 ? 0 : -1; // null without samples
    j.opt("lat_p50_us", no < 0 ? no : r.latency.p50_us)
        .opt("lat_p99_us", no < 0 ? no : r.latency.p99_us)
        .opt("lat_p999_us", no < 0 ? no : r.latency.p999_us)
        .opt("lat_max_us", no < 0 ? no : r.latency.max_us)
        .opt("lat_median_p99_per_s_us",
             no < 0 ? no : r.latency.median_p99_per_s_us)
        .num("lat_seconds", r.latency.seconds);
  } else if (o.scenario == scenario_kind::connections) {
    j.num("count", o.count)
        .num("conn_offset", o.conn_offset)
        .num("connections", static_cast<double>(r.connections))
        .num("connect_s", r.connect_s)
        .num("connect_rate", r.connect_rate);
  } else {
    j.num("qos", o.qos)
        .num("publishers", o.publishers)
        .num("subscribers", o.subscribers)
        .num("payload", o.payload)
        .num("duration_s", o.duration_s)
        .num("target_rate", o.rate)
        .num("window", o.window)
        .num("credit", o.credit)
        .num("sent", static_cast<double>(r.sent))
        .num("acked", static_cast<double>(r.acked))
        .num("expected", static_cast<double>(r.expected))
        .num("delivered", static_cast<double>(r.delivered))
        .num("lost", static_cast<double>(r.lost))
        .num("duplicates", static_cast<double>(r.duplicates))
        .num("reordered", static_cast<double>(r.reordered))
        .num("rejected", static_cast<double>(r.rejected))
        .num("credit_write_offs", static_cast<double>(r.credit_write_offs))
        .num("window_s", r.window_s)
        .num("rate", r.rate)
        .num("publish_rate", r.publish_rate)
        .opt("loadgen_cpu_s", r.loadgen_cpu_s)
        .num("loadgen_reads", static_cast<double>(r.reads))
        .num("loadgen_writes", static_cast<double>(r.writes))
        .num("loadgen_waits", static_cast<double>(r.waits))
        .num("json_doc", o.json_doc)
        .num("changed_fields", o.json_doc > 0 ? o.changed_fields : 0)
        .boolean("delta", o.delta)
        .num("pub_payload_per_msg", per(r.pub_payload_bytes, r.sent))
        .num("sub_msgs", static_cast<double>(r.sub_msgs))
        .num("sub_payload_bytes", static_cast<double>(r.sub_payload_bytes))
        .num("sub_wire_bytes", static_cast<double>(r.sub_wire_bytes))
        .num("sub_payload_per_msg", per(r.sub_payload_bytes, r.sub_msgs))
        .num("sub_wire_per_msg", per(r.sub_wire_bytes, r.sub_msgs))
        .num("json_values", static_cast<double>(r.json_values))
        .num("json_patches", static_cast<double>(r.json_patches))
        .num("unchecked", static_cast<double>(r.unchecked));
    if (r.has_latency)
      j.num("lat_samples", static_cast<double>(r.latency.samples))
          .num("lat_p50_us", r.latency.p50_us)
          .num("lat_p99_us", r.latency.p99_us)
          .num("lat_p999_us", r.latency.p999_us)
          .num("lat_max_us", r.latency.max_us)
          .num("lat_median_p99_per_s_us", r.latency.median_p99_per_s_us)
          .num("lat_seconds", r.latency.seconds);
  }
  j.opt("rss_before_kb", static_cast<double>(r.rss_before_kb))
      .opt("rss_after_kb", static_cast<double>(r.rss_after_kb))
      .opt("rss_per_conn_kb", r.rss_per_conn_kb)
      .opt("cpu_s", r.cpu_s)
      .opt("cpu_s_per_million", r.cpu_s_per_million);
  return j.done();
}

std::string to_human(const options& o, const run_result& r) {
  char buf[1024];
  std::string head = std::string("# ") + to_string(o.scenario)
                     + (o.label.empty() ? "" : " [" + o.label + "]");
  if (o.scenario == scenario_kind::connections) {
    std::snprintf(buf, sizeof(buf), "%s: %llu connections in %.2f s (%.0f/s)",
                  head.c_str(), static_cast<unsigned long long>(r.connections),
                  r.connect_s, r.connect_rate);
    std::string s = buf;
    if (r.rss_per_conn_kb >= 0) {
      std::snprintf(buf, sizeof(buf),
                    ", server RSS %ld -> %ld kB (%.2f kB/conn)",
                    r.rss_before_kb, r.rss_after_kb, r.rss_per_conn_kb);
      s += buf;
    }
    if (!r.ok)
      s += ", FAILED: " + r.error;
    return s;
  }
  if (o.scenario == scenario_kind::overload) {
    // Publishers' achieved rate (QoS 1: PUBACKs/s; QoS 0: PUBLISHes
    // written/s) beside the subscriber's: equal when the broker slowed the
    // publishers down to the subscriber's pace.
    std::snprintf(
        buf, sizeof(buf),
        "%s qos%u %u->1 (subscriber paced at %.0f msg/s): publishers "
        "%.0f %s, subscriber %.0f msg/s; written %llu read by the server "
        "%llu acked %llu delivered %llu (%.1f%%) acked-but-lost %llu dup "
        "%llu reordered %llu; drain %.1f s%s",
        head.c_str(), o.qos, o.publishers, o.sub_rate,
        o.qos > 0 ? r.ack_rate : r.publish_rate,
        o.qos > 0 ? "PUBACK/s" : "PUBLISH/s", r.rate,
        static_cast<unsigned long long>(r.written),
        static_cast<unsigned long long>(r.sent),
        static_cast<unsigned long long>(r.acked),
        static_cast<unsigned long long>(r.delivered),
        r.expected > 0 ? 100.0 * static_cast<double>(r.delivered)
                             / static_cast<double>(r.expected)
                       : 0.0,
        static_cast<unsigned long long>(r.acked_lost),
        static_cast<unsigned long long>(r.duplicates),
        static_cast<unsigned long long>(r.reordered), r.drain_s,
        r.drain_timed_out ? " (timed out)" : "");
    std::string s = buf;
    if (r.rss_peak_kb >= 0) {
      std::snprintf(buf, sizeof(buf),
                    "; server RSS %ld kB before, peak %ld kB, %ld kB after "
                    "the drain",
                    r.rss_before_kb, r.rss_peak_kb, r.rss_after_kb);
      s += buf;
    }
    if (r.rss_limit_hit) {
      std::snprintf(buf, sizeof(buf),
                    "; publishing stopped after %.1f s: server RSS passed "
                    "%u MiB",
                    r.published_s, o.max_server_rss_mb);
      s += buf;
    }
    if (!r.note.empty())
      s += "; " + r.note;
    s += r.ok ? "; OK" : "; FAILED" + (r.error.empty() ? "" : ": " + r.error);
    return s;
  }
  if (o.scenario == scenario_kind::request) {
    std::snprintf(buf, sizeof(buf),
                  "%s %u requester(s), window %u, handler %s: %.0f round "
                  "trips/s",
                  head.c_str(), o.requesters, o.window,
                  o.handler_castor ? "castor" : "mqtt", r.rate);
    std::string s = buf;
    if (r.latency.samples > 0) {
      std::snprintf(buf, sizeof(buf),
                    "; latency p50 %.0f us p99 %.0f us p99.9 %.0f us max "
                    "%.0f us",
                    r.latency.p50_us, r.latency.p99_us, r.latency.p999_us,
                    r.latency.max_us);
      s += buf;
    }
    std::snprintf(buf, sizeof(buf), "; sent %llu answered %llu, outstanding %llu",
                  static_cast<unsigned long long>(r.sent),
                  static_cast<unsigned long long>(r.delivered),
                  static_cast<unsigned long long>(r.lost));
    s += buf;
    if (r.loadgen_cpu_s >= 0 && r.window_s > 0) {
      std::snprintf(buf, sizeof(buf), "; generator %.0f%% of a core",
                    100 * r.loadgen_cpu_s / r.window_s);
      s += buf;
    }
    if (r.cpu_s_per_million >= 0) {
      std::snprintf(buf, sizeof(buf),
                    "; server %.2f CPU s per million round trips",
                    r.cpu_s_per_million);
      s += buf;
    }
    s += r.ok ? "; OK" : "; FAILED" + (r.error.empty() ? "" : ": " + r.error);
    return s;
  }
  std::snprintf(buf, sizeof(buf),
                "%s qos%u %u->%u: %.0f msg/s delivered (%.0f published/s), "
                "sent %llu delivered %llu lost %llu dup %llu reordered %llu",
                head.c_str(), o.qos, o.publishers, o.subscribers, r.rate,
                r.publish_rate, static_cast<unsigned long long>(r.sent),
                static_cast<unsigned long long>(r.delivered),
                static_cast<unsigned long long>(r.lost),
                static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.reordered));
  std::string s = buf;
  if (r.has_latency) {
    std::snprintf(buf, sizeof(buf),
                  "; latency p50 %.0f us p99 %.0f us p99.9 %.0f us max %.0f "
                  "us, median per-second p99 %.0f us",
                  r.latency.p50_us, r.latency.p99_us, r.latency.p999_us,
                  r.latency.max_us, r.latency.median_p99_per_s_us);
    s += buf;
  }
  if (r.sub_msgs > 0) {
    std::snprintf(buf, sizeof(buf),
                  "; subscribers got %.1f payload bytes, %.1f on the wire per "
                  "message (%.1f MB in all)",
                  per(r.sub_payload_bytes, r.sub_msgs),
                  per(r.sub_wire_bytes, r.sub_msgs),
                  static_cast<double>(r.sub_wire_bytes) / 1e6);
    s += buf;
  }
  if (o.json_doc > 0) {
    std::snprintf(buf, sizeof(buf),
                  "; JSON %.0f B published, %llu whole values, %llu patches",
                  per(r.pub_payload_bytes, r.sent),
                  static_cast<unsigned long long>(r.json_values),
                  static_cast<unsigned long long>(r.json_patches));
    s += buf;
    if (r.unchecked > 0)
      s += ", " + std::to_string(r.unchecked) + " only counted";
  }
  if (r.loadgen_cpu_s >= 0 && r.window_s > 0) {
    std::snprintf(buf, sizeof(buf), "; generator %.0f%% of a core",
                  100 * r.loadgen_cpu_s / r.window_s);
    s += buf;
  }
  if (r.cpu_s_per_million >= 0) {
    std::snprintf(buf, sizeof(buf), "; server %.2f CPU s per million",
                  r.cpu_s_per_million);
    s += buf;
  }
  s += r.ok ? "; OK" : "; FAILED" + (r.error.empty() ? "" : ": " + r.error);
  return s;
}

} // namespace castor::bench
