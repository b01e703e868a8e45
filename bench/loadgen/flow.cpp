// Publish/subscribe scenarios: subscribers connect and subscribe first, then
// the publishers connect; then publishing runs for the duration, paced by
// the QoS window, the end-to-end credit and an optional rate; then the tail
// drains and every stream is checked.

#include <algorithm>
#include <cstring>
#include <string>
#include <unistd.h>
#include <unordered_map>

#include "json_doc.hpp"
#include "net.hpp"
#include "scenarios.hpp"

namespace castor::bench {

namespace {

constexpr uint8_t role_sub = 1;
constexpr uint8_t role_pub = 2;
/// Stop queueing PUBLISHes for a connection past this many unsent bytes.
constexpr size_t out_cap = 128 * 1024;

enum class phase : uint8_t {
  connect_subs,
  connect_pubs,
  running,
  draining,
  done
};

struct publisher {
  uint32_t conn = 0;
  std::string topic;
  bool ready = false;
  uint64_t next_seq = 0;  ///< = PUBLISHes sent
  uint64_t acked = 0;     ///< PUBACK / PUBCOMP received
  uint32_t inflight = 0;  ///< awaiting PUBACK / PUBCOMP
  uint64_t delivered = 0; ///< unique deliveries of its messages
  /// Deliveries given up on (see pump_one): they count as credit returned.
  uint64_t written_off = 0;
  uint64_t blocked_since = 0; ///< when the credit ran out; 0 = not blocked
  uint64_t delivered_at_block = 0;
};

struct subscriber {
  uint32_t conn = 0;
  std::string filter;
  bool subscribed = false;
  sequence_checker checker;
  // --delta: which publisher each topic's JSON Patches come from (learnt
  // from the topic's whole values; each publisher uses one topic).
  std::unordered_map<std::string, uint32_t> topic_pid;
  std::string last_topic;
  uint32_t last_pid = 0;

  void remember(std::string_view topic, uint32_t pid) {
    if (topic != last_topic) {
      last_topic.assign(topic);
      topic_pid[last_topic] = pid;
    }
    last_pid = pid;
  }
  bool pid_of(std::string_view topic, uint32_t& pid) {
    if (topic != last_topic) {
      auto it = topic_pid.find(std::string(topic));
      if (it == topic_pid.end())
        return false;
      last_topic.assign(topic);
      last_pid = it->second;
    }
    pid = last_pid;
    return true;
  }
};

class flow_run : public frame_handler {
public:
  explicit flow_run(const options& o) : o_(o), loop_(*this) {}

  run_result run();

  void on_frame(uint32_t index, client& c, const frame& f) override;
  void on_closed(uint32_t index, client& c, const char* why) override;

private:
  void set_error(std::string msg) {
    if (r_.error.empty())
      r_.error = std::move(msg);
    phase_ = phase::done;
  }
  void build();
  void open_more(uint32_t first, uint32_t end);
  void on_connack(uint32_t index, client& c, const frame& f);
  void on_publish(uint32_t index, client& c, const frame& f);
  bool read_stamp(subscriber& s, const publish_view& pv, uint32_t& pid,
                  uint64_t& seq, uint64_t& ts, bool& checked);
  void pump(uint64_t now);
  void pump_one(uint32_t pi, uint64_t now);
  void tick(uint64_t now);
  bool drained() const;
  void finish();
  void describe_loss();

  const options& o_;
  event_loop loop_;
  run_result r_;
  std::vector<publisher> pubs_;
  std::vector<subscriber> subs_;
  std::vector<uint8_t> payload_;
  json_doc doc_;
  uint32_t fanout_ = 1;
  // what the subscribers received (every PUBLISH), and what was published
  uint64_t sub_msgs_ = 0, sub_payload_bytes_ = 0, sub_wire_bytes_ = 0;
  uint64_t patches_ = 0, json_values_ = 0, unchecked_ = 0;
  uint64_t pub_payload_bytes_ = 0;
  phase phase_ = phase::connect_subs;
  uint64_t t_settled_ = 0; ///< when the publishers may connect
  uint32_t next_open_ = 0;
  uint32_t pending_connects_ = 0;
  uint32_t subscribed_ = 0;
  uint32_t pubs_ready_ = 0;
  uint64_t delivered_ = 0;
  uint64_t t_setup_deadline_ = 0;
  uint64_t t0_ = 0, t_warm_ = 0, t_end_ = 0, t_drain_deadline_ = 0;
  bool warm_taken_ = false;
  uint64_t warm_delivered_ = 0, warm_sent_ = 0;
  uint64_t warm_at_ = 0;
  double warm_cpu_ = -1;
  double warm_own_cpu_ = 0;
  event_loop::syscall_counts warm_counts_;
  double rate_per_pub_ = 0;
  latency_recorder latency_;
  std::string id_prefix_;
};

void flow_run::build() {
  id_prefix_
      = o_.id_prefix.empty() ? "lg" + std::to_string(getpid()) : o_.id_prefix;
  uint32_t S = o_.subscribers, P = o_.publishers;
  loop_.clients().resize(S + P);
  subs_.resize(S);
  pubs_.resize(P);
  for (uint32_t i = 0; i < S; ++i) {
    subs_[i].conn = i;
    switch (o_.scenario) {
    case scenario_kind::fan_out:
      subs_[i].filter = "bench/fanout";
      break;
    case scenario_kind::p2p:
      subs_[i].filter = "bench/p2p/" + std::to_string(i);
      break;
    case scenario_kind::latency:
      subs_[i].filter = "bench/lat/" + std::to_string(i);
      break;
    default:
      subs_[i].filter = "bench/#";
    }
    if (o_.delta)
      subs_[i].filter = "$delta/" + subs_[i].filter;
    loop_.clients()[i].role = role_sub;
    loop_.clients()[i].target = o_.sub_port != 0 ? 1 : 0;
    loop_.clients()[i].peer = i;
  }
  for (uint32_t i = 0; i < P; ++i) {
    pubs_[i].conn = S + i;
    switch (o_.scenario) {
    case scenario_kind::fan_out:
      pubs_[i].topic = "bench/fanout";
      break;
    case scenario_kind::p2p:
      pubs_[i].topic = "bench/p2p/" + std::to_string(i);
      break;
    case scenario_kind::latency:
      pubs_[i].topic = "bench/lat/" + std::to_string(i);
      break;
    default:
      pubs_[i].topic = "bench/" + std::to_string(i);
    }
    loop_.clients()[S + i].role = role_pub;
    loop_.clients()[S + i].peer = i;
  }
  fanout_ = o_.scenario == scenario_kind::fan_out ? S : 1;
  payload_.assign(o_.payload, 0);
  for (size_t i = payload_header; i < payload_.size(); ++i)
    payload_[i] = static_cast<uint8_t>('a' + i % 26);
  if (o_.json_doc > 0)
    doc_.build(o_.json_doc, o_.changed_fields, o_.record_latency);
  rate_per_pub_ = o_.rate / P;
}

void flow_run::open_more(uint32_t first, uint32_t end) {
  (void)first;
  while (next_open_ < end && pending_connects_ < o_.connect_concurrency) {
    uint32_t i = next_open_++;
    std::string err;
    if (!loop_.open(i, err)) {
      set_error("connection " + std::to_string(i) + ": " + err);
      return;
    }
    auto& c = loop_.clients()[i];
    std::string id = id_prefix_ + (c.role == role_sub ? "s" : "p")
                     + std::to_string(c.peer);
    encode_connect(c.out, o_.v5, id, o_.keep_alive_s, 65535);
    ++pending_connects_;
  }
}

void flow_run::on_closed(uint32_t index, client& c, const char* why) {
  if (phase_ == phase::done)
    return;
  set_error(std::string(c.role == role_sub ? "subscriber " : "publisher ")
            + std::to_string(c.peer) + " lost its connection: " + why);
}

void flow_run::on_connack(uint32_t index, client& c, const frame& f) {
  connack_view ca;
  if (!decode_connack(f, o_.v5, ca) || ca.reason != 0) {
    set_error("CONNACK refused (reason " + std::to_string(ca.reason) + ")");
    return;
  }
  c.state = conn_state::ready;
  c.receive_maximum = ca.receive_maximum;
  --pending_connects_;
  if (c.role == role_sub) {
    // A $delta/ subscription does not start with the topic's value (the
    // last update of an earlier run on the same broker).
    encode_subscribe(c.out, o_.v5, c.take_packet_id(), subs_[c.peer].filter,
                     o_.qos, o_.delta ? 2 : 0);
    loop_.mark_dirty(index);
  } else {
    pubs_[c.peer].ready = true;
    ++pubs_ready_;
  }
}

/// The publisher id, sequence number and send time (0 when absent) of a
/// delivery: from the binary header, from a whole JSON document, or (the
/// sequence number only) from a JSON Patch; `checked` false when a patch
/// names no sequence number (the delivery is then only counted).
bool flow_run::read_stamp(subscriber& s, const publish_view& pv, uint32_t& pid,
                          uint64_t& seq, uint64_t& ts, bool& checked) {
  checked = true;
  if (o_.json_doc == 0) {
    if (pv.payload_size < payload_header) {
      set_error("PUBLISH payload shorter than the generator's header");
      return false;
    }
    std::memcpy(&pid, pv.payload, 4);
    std::memcpy(&seq, pv.payload + 4, 8);
    std::memcpy(&ts, pv.payload + 12, 8);
    return true;
  }
  if (pv.content_type == json_patch_content_type) {
    ++patches_;
    if (!s.pid_of(pv.topic, pid)) {
      set_error("JSON Patch on " + std::string(pv.topic)
                + " before any value of that topic");
      return false;
    }
    checked = read_patch_seq(pv.payload, pv.payload_size, seq);
    return true;
  }
  json_stamp st;
  if (!read_json_stamp(pv.payload, pv.payload_size, st)) {
    set_error("PUBLISH on " + std::string(pv.topic) + " (content type '"
              + std::string(pv.content_type)
              + "') is not the generator's JSON document");
    return false;
  }
  ++json_values_;
  pid = st.pid;
  seq = st.seq;
  ts = st.has_ts ? st.ts : 0;
  if (o_.delta)
    s.remember(pv.topic, pid);
  return true;
}

void flow_run::on_publish(uint32_t index, client& c, const frame& f) {
  publish_view pv;
  if (c.role != role_sub || !decode_publish(f, o_.v5, pv)) {
    set_error("malformed or unexpected PUBLISH");
    return;
  }
  ++sub_msgs_;
  sub_payload_bytes_ += pv.payload_size;
  sub_wire_bytes_ += frame_wire_size(f.size);
  uint32_t pid = 0;
  uint64_t seq = 0, ts = 0;
  bool checked = true;
  if (!read_stamp(subs_[c.peer], pv, pid, seq, ts, checked))
    return;
  if (pid >= pubs_.size()) {
    set_error("PUBLISH from an unknown publisher id " + std::to_string(pid));
    return;
  }
  if (!checked) {
    // Counted only: the run still fails when the count differs from the
    // number published.
    ++unchecked_;
    ++pubs_[pid].delivered;
    ++delivered_;
  } else if (subs_[c.peer].checker.observe(pid, seq)
             != sequence_checker::verdict::duplicate) {
    ++pubs_[pid].delivered;
    ++delivered_;
  }
  // Every message sent in the measured window, also those that arrive
  // after it closed.
  if (o_.record_latency && phase_ >= phase::running && ts > 0 && ts < t_end_)
    latency_.add(ts, now_ns());
  if (pv.qos == 1) {
    encode_ack(c.out, packet_kind::puback, pv.packet_id);
    loop_.mark_dirty(index);
  } else if (pv.qos == 2) {
    encode_ack(c.out, packet_kind::pubrec, pv.packet_id);
    loop_.mark_dirty(index);
  }
}

void flow_run::on_frame(uint32_t index, client& c, const frame& f) {
  if (phase_ == phase::done)
    return; // finished (or failed): only the goodbyes are left
  switch (f.kind) {
  case packet_kind::connack:
    on_connack(index, c, f);
    return;
  case packet_kind::publish:
    on_publish(index, c, f);
    return;
  case packet_kind::suback: {
    ack_view a;
    if (c.role != role_sub || !decode_suback(f, o_.v5, a) || a.reason >= 0x80) {
      set_error("SUBSCRIBE refused (reason " + std::to_string(a.reason) + ")");
      return;
    }
    if (a.reason < o_.qos) {
      set_error("SUBSCRIBE granted QoS " + std::to_string(a.reason) + ", not "
                + std::to_string(o_.qos));
      return;
    }
    if (!subs_[c.peer].subscribed) {
      subs_[c.peer].subscribed = true;
      ++subscribed_;
    }
    return;
  }
  case packet_kind::puback:
  case packet_kind::pubcomp: {
    ack_view a;
    if (c.role != role_pub || !decode_ack(f, a)) {
      set_error("unexpected acknowledgement");
      return;
    }
    auto& p = pubs_[c.peer];
    if (p.inflight == 0) {
      set_error("acknowledgement with nothing in flight");
      return;
    }
    --p.inflight;
    if (a.reason >= 0x80)
      ++r_.rejected;
    else
      ++p.acked;
    return;
  }
  case packet_kind::pubrec: {
    ack_view a;
    if (c.role != role_pub || !decode_ack(f, a)) {
      set_error("unexpected PUBREC");
      return;
    }
    if (a.reason >= 0x80) {
      ++r_.rejected;
      --pubs_[c.peer].inflight;
      return;
    }
    encode_ack(c.out, packet_kind::pubrel, a.packet_id);
    loop_.mark_dirty(index);
    return;
  }
  case packet_kind::pubrel: {
    ack_view a;
    if (c.role != role_sub || !decode_ack(f, a)) {
      set_error("unexpected PUBREL");
      return;
    }
    encode_ack(c.out, packet_kind::pubcomp, a.packet_id);
    loop_.mark_dirty(index);
    return;
  }
  case packet_kind::pingresp:
    return;
  case packet_kind::disconnect:
    set_error("server sent DISCONNECT (reason "
              + std::to_string(decode_disconnect(f)) + ")");
    return;
  default:
    set_error("unexpected packet type "
              + std::to_string(static_cast<int>(f.kind)));
  }
}

void flow_run::pump_one(uint32_t pi, uint64_t now) {
  auto& p = pubs_[pi];
  auto& c = loop_.clients()[p.conn];
  if (!p.ready || c.state != conn_state::ready)
    return;
  uint32_t window = std::min<uint32_t>(o_.window, c.receive_maximum);
  uint64_t limit = UINT64_MAX;
  if (o_.max_messages > 0)
    limit = o_.max_messages;
  if (rate_per_pub_ > 0) {
    double due = static_cast<double>(now - t0_) * 1e-9 * rate_per_pub_
                 + static_cast<double>(pi) / pubs_.size();
    limit = std::min(limit, static_cast<uint64_t>(due) + 1);
  }
  uint64_t credit = static_cast<uint64_t>(o_.credit) * fanout_;
  // Refill in batches: a publisher that has stopped starts again only when
  // half of its credit (and of its QoS window) is free, so that one write()
  // carries several PUBLISHes rather than one per returned credit. Not when
  // pacing by rate, nor with a credit or window of 1 (closed loop).
  bool batch = rate_per_pub_ == 0;
  bool queued = false;
  while (p.next_seq < limit && c.pending_out() < out_cap) {
    if (o_.qos > 0
        && (p.inflight >= window
            || (batch && !queued && window > 1 && p.inflight * 2 > window)))
      break;
    uint64_t settled = p.delivered + p.written_off;
    uint64_t sent = p.next_seq * fanout_;
    uint64_t outstanding = sent > settled ? sent - settled : 0;
    if (credit > 0
        && (outstanding >= credit
            || (batch && !queued && credit > fanout_
                && outstanding * 2 > credit))) {
      // A broker that drops messages would stall this publisher for good:
      // after a second without any delivery, give the outstanding ones up
      // (they are counted as lost at the end if they never arrive).
      if (p.blocked_since == 0 || p.delivered != p.delivered_at_block) {
        p.blocked_since = now;
        p.delivered_at_block = p.delivered;
        break;
      }
      if (now - p.blocked_since < 1000000000ull)
        break;
      p.written_off = sent - p.delivered;
      p.blocked_since = 0;
      ++r_.credit_write_offs;
    }
    p.blocked_since = 0;
    uint32_t id = pi;
    uint64_t seq = p.next_seq;
    if (o_.json_doc > 0) {
      doc_.render(id, seq, now, payload_);
    } else {
      std::memcpy(payload_.data(), &id, 4);
      std::memcpy(payload_.data() + 4, &seq, 8);
      std::memcpy(payload_.data() + 12, &now, 8);
    }
    auto at = c.out.size();
    encode_publish(c.out, o_.v5, p.topic, o_.qos,
                   o_.qos > 0 ? c.take_packet_id() : 0, payload_.data(),
                   payload_.size(),
                   o_.json_doc > 0 ? json_content_type : std::string_view{});
    if (o_.retain)
      c.out[at] |= 0x01; // the fixed header's RETAIN flag
    pub_payload_bytes_ += payload_.size();
    ++p.next_seq;
    if (o_.qos > 0)
      ++p.inflight;
    queued = true;
  }
  if (queued)
    loop_.mark_dirty(p.conn);
}

void flow_run::pump(uint64_t now) {
  for (uint32_t i = 0; i < pubs_.size(); ++i)
    pump_one(i, o_.record_latency ? now_ns() : now);
}

bool flow_run::drained() const {
  uint64_t expected = 0;
  for (auto& p : pubs_) {
    if (p.inflight > 0)
      return false;
    expected += (o_.qos == 0 ? p.next_seq : p.acked) * fanout_;
  }
  return delivered_ >= expected;
}

void flow_run::tick(uint64_t now) {
  switch (phase_) {
  case phase::connect_subs:
    if (subscribed_ == subs_.size()) {
      // --settle-ms: the subscriptions reach the other nodes of a group.
      if (t_settled_ == 0)
        t_settled_ = now + o_.settle_ms * 1000000ull;
      if (now < t_settled_)
        break;
      phase_ = phase::connect_pubs;
    } else {
      open_more(0, static_cast<uint32_t>(subs_.size()));
      break;
    }
    [[fallthrough]];
  case phase::connect_pubs:
    if (pubs_ready_ == pubs_.size()) {
      phase_ = phase::running;
      t0_ = now;
      t_warm_ = t0_ + static_cast<uint64_t>(o_.warmup_s * 1e9);
      t_end_ = t0_ + static_cast<uint64_t>(o_.duration_s * 1e9);
      latency_.start(t_warm_);
    } else {
      open_more(0, static_cast<uint32_t>(subs_.size() + pubs_.size()));
      break;
    }
    [[fallthrough]];
  case phase::running:
    if (!warm_taken_ && now >= t_warm_) {
      warm_taken_ = true;
      warm_at_ = now;
      warm_delivered_ = delivered_;
      warm_sent_ = 0;
      for (auto& p : pubs_)
        warm_sent_ += p.next_seq;
      warm_cpu_ = read_cpu_seconds(o_.server_pid);
      warm_own_cpu_ = own_cpu_seconds();
      warm_counts_ = loop_.counts();
    }
    if (now >= t_end_) {
      double secs = static_cast<double>(now - warm_at_) * 1e-9;
      uint64_t sent = 0;
      for (auto& p : pubs_)
        sent += p.next_seq;
      r_.window_s = secs;
      r_.window_delivered = delivered_ - warm_delivered_;
      r_.rate = secs > 0 ? r_.window_delivered / secs : 0;
      r_.publish_rate = secs > 0 ? (sent - warm_sent_) / secs : 0;
      double cpu = read_cpu_seconds(o_.server_pid);
      if (cpu >= 0 && warm_cpu_ >= 0) {
        r_.cpu_s = cpu - warm_cpu_;
        if (r_.window_delivered > 0)
          r_.cpu_s_per_million = r_.cpu_s * 1e6 / r_.window_delivered;
      }
      r_.loadgen_cpu_s = own_cpu_seconds() - warm_own_cpu_;
      r_.reads = loop_.counts().reads - warm_counts_.reads;
      r_.writes = loop_.counts().writes - warm_counts_.writes;
      r_.waits = loop_.counts().waits - warm_counts_.waits;
      phase_ = phase::draining;
      t_drain_deadline_ = now + static_cast<uint64_t>(o_.drain_timeout_s * 1e9);
      break;
    }
    pump(now);
    break;
  case phase::draining:
    if (drained() || now >= t_drain_deadline_)
      phase_ = phase::done;
    break;
  case phase::done:
    break;
  }
  if (phase_ < phase::running && now >= t_setup_deadline_)
    set_error("setup did not finish within "
              + std::to_string(static_cast<int>(o_.setup_timeout_s)) + " s ("
              + std::to_string(subscribed_) + "/" + std::to_string(subs_.size())
              + " subscribed, " + std::to_string(pubs_ready_) + "/"
              + std::to_string(pubs_.size()) + " publishers connected)");
}

/// Names the first publisher/subscriber stream that misses messages, so that
/// a loss can be told from a tail that never came (first_missing near the
/// end) or an early gap (first_missing near 0).
void flow_run::describe_loss() {
  uint32_t streams = 0;
  std::string first;
  for (uint32_t si = 0; si < subs_.size(); ++si)
    for (uint32_t pi = 0; pi < pubs_.size(); ++pi) {
      if (o_.scenario == scenario_kind::p2p
          || o_.scenario == scenario_kind::latency)
        if (pi != si)
          continue;
      auto& p = pubs_[pi];
      uint64_t should = o_.qos == 0 ? p.next_seq : p.acked;
      auto inf = subs_[si].checker.info(pi);
      uint64_t got = inf.expected - inf.missing;
      if (got >= should)
        continue;
      if (streams++ == 0)
        first = "publisher " + std::to_string(pi) + " -> subscriber "
                + std::to_string(si) + ": " + std::to_string(should)
                + " to deliver, " + std::to_string(got)
                + " delivered, next expected " + std::to_string(inf.expected)
                + ", lowest missing " + std::to_string(inf.first_missing);
    }
  r_.error = std::to_string(r_.lost) + " lost over " + std::to_string(streams)
             + " streams; first: " + first;
}

void flow_run::finish() {
  for (auto& p : pubs_) {
    r_.sent += p.next_seq;
    r_.acked += p.acked;
    r_.expected += (o_.qos == 0 ? p.next_seq : p.acked) * fanout_;
  }
  r_.delivered = delivered_;
  r_.lost = r_.expected > delivered_ ? r_.expected - delivered_ : 0;
  r_.sub_msgs = sub_msgs_;
  r_.sub_payload_bytes = sub_payload_bytes_;
  r_.sub_wire_bytes = sub_wire_bytes_;
  r_.json_patches = patches_;
  r_.json_values = json_values_;
  r_.unchecked = unchecked_;
  r_.pub_payload_bytes = pub_payload_bytes_;
  // Deliveries only counted (patches without a sequence number) could hide
  // duplicates: more deliveries than published fails the run.
  if (r_.error.empty() && unchecked_ > 0 && delivered_ > r_.expected)
    r_.error = std::to_string(delivered_) + " deliveries, "
               + std::to_string(r_.expected) + " expected";
  for (auto& s : subs_) {
    r_.duplicates += s.checker.duplicates();
    r_.reordered += s.checker.reordered();
  }
  uint64_t unacked = 0;
  for (auto& p : pubs_)
    unacked += p.inflight;
  if (r_.error.empty() && unacked > 0)
    r_.error = std::to_string(unacked)
               + " PUBLISHes never acknowledged within the drain timeout";
  if (r_.error.empty() && r_.rejected > 0)
    r_.error = std::to_string(r_.rejected) + " PUBLISHes rejected";
  if (r_.error.empty() && r_.lost > 0)
    describe_loss();
  if (o_.record_latency) {
    r_.has_latency = true;
    r_.latency = latency_.summarize();
  }
  r_.rss_after_kb = read_rss_kb(o_.server_pid);
  r_.ok = r_.error.empty() && !(o_.qos >= 1 && r_.lost > 0)
          && !(o_.qos == 2 && r_.duplicates > 0) && r_.reordered == 0;
  // Say goodbye politely, then close.
  loop_.disconnect_all(5000);
}

run_result flow_run::run() {
  std::string err;
  if (!loop_.set_target(o_.host, o_.port, err)
      || (o_.sub_port != 0
          && !loop_.set_target(o_.host, o_.sub_port, err, 1))) {
    r_.ok = false;
    r_.error = err;
    return r_;
  }
  build();
  r_.rss_before_kb = read_rss_kb(o_.server_pid);
  uint64_t start = now_ns();
  t_setup_deadline_ = start + static_cast<uint64_t>(o_.setup_timeout_s * 1e9);
  // Hard deadline: whatever the broker does, the run ends by then.
  uint64_t hard = start
                  + static_cast<uint64_t>((o_.setup_timeout_s + o_.duration_s
                                           + o_.drain_timeout_s + 5)
                                          * 1e9);
  tick(start);
  loop_.flush_dirty();
  while (phase_ != phase::done) {
    int timeout = rate_per_pub_ > 0 && phase_ == phase::running ? 1 : 20;
    loop_.run_once(timeout);
    if (o_.coalesce_us > 0 && phase_ >= phase::running)
      usleep(o_.coalesce_us);
    uint64_t now = now_ns();
    if (now >= hard) {
      set_error("hard deadline reached");
      break;
    }
    tick(now);
    loop_.flush_dirty();
  }
  finish();
  return r_;
}

} // namespace

run_result run_flow(const options& o) {
  flow_run r(o);
  return r.run();
}

} // namespace castor::bench
