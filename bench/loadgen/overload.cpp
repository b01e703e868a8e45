// Overload: publishers with no window or credit of their own (QoS 1: as many
// PUBLISHes in flight as the server's Receive Maximum allows; QoS 0: as fast
// as the socket takes them) into one or a few topics, and one slow
// subscriber that reads at a fixed pace through a small socket receive
// buffer. Then publishing stops and the subscriber reads at full speed until
// nothing more arrives. The figures: what the publishers got PUBACK for,
// what the subscriber received, which acknowledged messages it never
// received, and how much memory the broker took meanwhile.

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unistd.h>

#include "net.hpp"
#include "scenarios.hpp"

namespace castor::bench {

namespace {

constexpr uint8_t role_sub = 1;
constexpr uint8_t role_pub = 2;
constexpr uint32_t sub_index = 0; ///< the subscriber's connection
/// Stop queueing PUBLISHes for a connection past this many unsent bytes:
/// the publisher then waits for its socket, nothing else.
constexpr size_t out_cap = 128 * 1024;
constexpr uint64_t rss_interval_ns = 100000000ull; ///< 100 ms

enum class phase : uint8_t {
  connect_sub,
  connect_pubs,
  running,
  draining,
  done
};

struct publisher {
  uint32_t conn = 0;
  std::string topic;
  size_t frame_size = 0; ///< bytes of each of its PUBLISHes
  bool ready = false;
  uint64_t next_seq = 0; ///< PUBLISHes queued (sequence numbers used)
  uint64_t acked = 0;
  uint64_t rejected = 0;
  /// QoS 1 PUBLISHes awaiting PUBACK: packet id and sequence number, in the
  /// order sent (the server must acknowledge in that order).
  std::deque<std::pair<uint16_t, uint64_t>> inflight;
};

class overload_run : public frame_handler {
public:
  explicit overload_run(const options& o) : o_(o), loop_(*this) {}

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
  void open(uint32_t index);
  void on_publish(client& c, const frame& f);
  void on_puback(client& c, const frame& f);
  void pump();
  void pace_subscriber(uint64_t now);
  void sample_rss(uint64_t now, bool force = false);
  bool drained() const;
  void tick(uint64_t now);
  void start_window(uint64_t now);
  void end_window(uint64_t now);
  void finish(uint64_t now);
  std::vector<uint64_t> taken_by_server();
  uint64_t total_taken();

  const options& o_;
  event_loop loop_;
  run_result r_;
  std::vector<publisher> pubs_;
  sequence_checker checker_;
  ack_ledger ledger_;
  std::vector<uint64_t> delivered_by_pub_;
  std::vector<uint8_t> payload_;
  std::string filter_;
  std::string id_prefix_;
  phase phase_ = phase::connect_sub;
  uint32_t next_open_ = 1;
  uint32_t pending_connects_ = 0;
  uint32_t pubs_ready_ = 0;
  bool subscribed_ = false;
  uint64_t delivered_ = 0; ///< unique deliveries
  uint64_t acked_ = 0;
  byte_pacer pacer_;
  size_t granted_ = 0; ///< read budget last given to the subscriber
  uint64_t t_setup_deadline_ = 0, t0_ = 0, t_warm_ = 0, t_end_ = 0;
  uint64_t t_drain_deadline_ = 0, last_progress_ = 0, t_next_rss_ = 0;
  bool warm_taken_ = false;
  uint64_t warm_at_ = 0, warm_delivered_ = 0, warm_acked_ = 0,
           warm_taken_n_ = 0;
  double warm_cpu_ = -1, warm_own_cpu_ = 0;
  event_loop::syscall_counts warm_counts_;
};

void overload_run::build() {
  id_prefix_
      = o_.id_prefix.empty() ? "lg" + std::to_string(getpid()) : o_.id_prefix;
  uint32_t P = o_.publishers;
  loop_.clients().resize(1 + P);
  pubs_.resize(P);
  delivered_by_pub_.assign(P, 0);
  ledger_.resize(P);
  filter_ = "bench/over/#";
  auto& s = loop_.clients()[sub_index];
  s.role = role_sub;
  s.rcvbuf = o_.sub_rcvbuf;
  payload_.assign(o_.payload, 0);
  for (size_t i = payload_header; i < payload_.size(); ++i)
    payload_[i] = static_cast<uint8_t>('a' + i % 26);
  for (uint32_t i = 0; i < P; ++i) {
    auto& p = pubs_[i];
    p.conn = 1 + i;
    p.topic = "bench/over/" + std::to_string(i % o_.topics);
    byte_buffer probe;
    encode_publish(probe, o_.v5, p.topic, o_.qos, 1, payload_.data(),
                   payload_.size());
    p.frame_size = probe.size();
    loop_.clients()[p.conn].role = role_pub;
    loop_.clients()[p.conn].peer = i;
  }
}

void overload_run::open(uint32_t index) {
  std::string err;
  if (!loop_.open(index, err)) {
    set_error("connection " + std::to_string(index) + ": " + err);
    return;
  }
  auto& c = loop_.clients()[index];
  bool sub = c.role == role_sub;
  std::string id
      = id_prefix_ + (sub ? "s" : "p") + std::to_string(sub ? 0 : c.peer);
  encode_connect(c.out, o_.v5, id, o_.keep_alive_s,
                 sub ? o_.sub_receive_maximum : 65535);
  ++pending_connects_;
}

void overload_run::on_closed(uint32_t index, client& c, const char* why) {
  (void)index;
  if (phase_ == phase::done)
    return;
  set_error(std::string(c.role == role_sub
                            ? "the subscriber"
                            : "publisher " + std::to_string(c.peer))
            + " lost its connection: " + why);
}

void overload_run::on_publish(client& c, const frame& f) {
  publish_view pv;
  if (c.role != role_sub || !decode_publish(f, o_.v5, pv)
      || pv.payload_size < payload_header) {
    set_error("malformed or unexpected PUBLISH");
    return;
  }
  uint32_t pid = 0;
  uint64_t seq = 0;
  std::memcpy(&pid, pv.payload, 4);
  std::memcpy(&seq, pv.payload + 4, 8);
  if (pid >= pubs_.size()) {
    set_error("PUBLISH from an unknown publisher id " + std::to_string(pid));
    return;
  }
  if (checker_.observe(pid, seq) != sequence_checker::verdict::duplicate) {
    ++delivered_;
    ++delivered_by_pub_[pid];
  }
  last_progress_ = now_ns();
  if (pv.qos == 1) {
    encode_ack(c.out, packet_kind::puback, pv.packet_id);
    loop_.mark_dirty(sub_index);
  } else if (pv.qos == 2) {
    set_error("PUBLISH with QoS 2 on a QoS " + std::to_string(o_.qos)
              + " subscription");
  }
}

void overload_run::on_puback(client& c, const frame& f) {
  ack_view a;
  if (c.role != role_pub || !decode_ack(f, a)) {
    set_error("unexpected PUBACK");
    return;
  }
  auto& p = pubs_[c.peer];
  auto& q = p.inflight;
  auto it = q.begin();
  if (it == q.end() || it->first != a.packet_id) {
    // Out of order (MQTT says a server acknowledges QoS 1 in the order it
    // received them): find it anyway, and count it.
    it = std::find_if(q.begin(), q.end(),
                      [&](const auto& e) { return e.first == a.packet_id; });
    if (it == q.end()) {
      set_error("PUBACK for packet id " + std::to_string(a.packet_id)
                + ", which is not in flight");
      return;
    }
    ++r_.acks_out_of_order;
  }
  uint64_t seq = it->second;
  q.erase(it);
  last_progress_ = now_ns();
  if (a.reason >= 0x80) {
    ++p.rejected;
    ++r_.rejected;
    return;
  }
  ++p.acked;
  ++acked_;
  ledger_.acknowledge(c.peer, seq);
}

void overload_run::on_frame(uint32_t index, client& c, const frame& f) {
  if (phase_ == phase::done)
    return;
  switch (f.kind) {
  case packet_kind::connack: {
    connack_view ca;
    if (!decode_connack(f, o_.v5, ca) || ca.reason != 0) {
      set_error("CONNACK refused (reason " + std::to_string(ca.reason) + ")");
      return;
    }
    c.state = conn_state::ready;
    c.receive_maximum = ca.receive_maximum;
    --pending_connects_;
    if (c.role == role_sub) {
      encode_subscribe(c.out, o_.v5, c.take_packet_id(), filter_, o_.qos);
      loop_.mark_dirty(index);
    } else {
      pubs_[c.peer].ready = true;
      ++pubs_ready_;
      r_.server_receive_maximum = ca.receive_maximum;
    }
    return;
  }
  case packet_kind::suback: {
    ack_view a;
    if (c.role != role_sub || !decode_suback(f, o_.v5, a) || a.reason >= 0x80
        || a.reason < o_.qos) {
      set_error("SUBSCRIBE refused or downgraded (reason "
                + std::to_string(a.reason) + ")");
      return;
    }
    subscribed_ = true;
    return;
  }
  case packet_kind::publish:
    on_publish(c, f);
    return;
  case packet_kind::puback:
    on_puback(c, f);
    return;
  case packet_kind::pingresp:
    return;
  case packet_kind::disconnect:
    set_error(std::string(c.role == role_sub ? "the subscriber" : "a publisher")
              + " got DISCONNECT (reason "
              + std::to_string(decode_disconnect(f)) + ")");
    return;
  default:
    set_error("unexpected packet type "
              + std::to_string(static_cast<int>(f.kind)));
  }
}

/// Every publisher queues PUBLISHes while its socket keeps up (less than
/// out_cap unsent) and, at QoS 1, while the server's Receive Maximum allows.
void overload_run::pump() {
  uint64_t now = now_ns();
  for (uint32_t pi = 0; pi < pubs_.size(); ++pi) {
    auto& p = pubs_[pi];
    auto& c = loop_.clients()[p.conn];
    if (!p.ready || c.state != conn_state::ready)
      continue;
    size_t window = std::min<size_t>(o_.window, c.receive_maximum);
    bool queued = false;
    while (c.pending_out() < out_cap
           && (o_.qos == 0 || p.inflight.size() < window)
           && (o_.max_messages == 0 || p.next_seq < o_.max_messages)) {
      uint64_t seq = p.next_seq++;
      std::memcpy(payload_.data(), &pi, 4);
      std::memcpy(payload_.data() + 4, &seq, 8);
      std::memcpy(payload_.data() + 12, &now, 8);
      uint16_t id = o_.qos > 0 ? c.take_packet_id() : 0;
      encode_publish(c.out, o_.v5, p.topic, o_.qos, id, payload_.data(),
                     payload_.size());
      if (o_.qos > 0)
        p.inflight.emplace_back(id, seq);
      queued = true;
    }
    if (queued)
      loop_.mark_dirty(p.conn);
  }
}

/// Grants the subscriber what its pace allows since the last grant.
void overload_run::pace_subscriber(uint64_t now) {
  auto& c = loop_.clients()[sub_index];
  if (c.read_budget != SIZE_MAX && granted_ >= c.read_budget)
    pacer_.consume(granted_ - c.read_budget);
  granted_ = pacer_.available(now);
  loop_.set_read_budget(sub_index, granted_);
}

void overload_run::sample_rss(uint64_t now, bool force) {
  if (o_.server_pid <= 0 || (!force && now < t_next_rss_))
    return;
  t_next_rss_ = now + rss_interval_ns;
  long kb = read_rss_kb(o_.server_pid);
  if (kb < 0)
    return;
  ++r_.rss_samples;
  r_.rss_peak_kb = std::max(r_.rss_peak_kb, kb);
  if (phase_ == phase::running && o_.max_server_rss_mb > 0
      && kb > static_cast<long>(o_.max_server_rss_mb) * 1024) {
    r_.rss_limit_hit = true;
    t_end_ = now; // publishing ends at the next tick
  }
}

/// Nothing left to wait for: every PUBLISH written and answered, and every
/// acknowledged (QoS 0: written) message delivered.
bool overload_run::drained() const {
  uint64_t expected = 0;
  for (auto& p : pubs_) {
    if (!p.inflight.empty() || loop_.clients()[p.conn].pending_out() > 0)
      return false;
    expected += o_.qos == 0 ? p.next_seq : p.acked;
  }
  return delivered_ >= expected;
}

/// Per publisher: PUBLISHes the server has read from its socket, i.e.
/// written to it in full less those still in the kernel's queues between
/// the two (a frame read in part does not count). Where the server's side
/// of a socket cannot be found, every message written counts.
std::vector<uint64_t> overload_run::taken_by_server() {
  std::vector<uint32_t> idx;
  for (auto& p : pubs_)
    idx.push_back(p.conn);
  auto unread = loop_.unread_by_server(idx);
  std::vector<uint64_t> out(pubs_.size());
  r_.unread_unknown = 0;
  for (size_t k = 0; k < pubs_.size(); ++k) {
    auto& p = pubs_[k];
    size_t pending = loop_.clients()[p.conn].pending_out();
    if (unread[k] >= 0)
      pending += static_cast<size_t>(unread[k]);
    else
      ++r_.unread_unknown;
    out[k] = written_in_full(p.next_seq, pending, p.frame_size);
  }
  return out;
}

uint64_t overload_run::total_taken() {
  uint64_t n = 0;
  for (auto t : taken_by_server())
    n += t;
  return n;
}

void overload_run::start_window(uint64_t now) {
  warm_taken_ = true;
  warm_at_ = now;
  warm_delivered_ = delivered_;
  warm_acked_ = acked_;
  warm_taken_n_ = total_taken();
  warm_cpu_ = read_cpu_seconds(o_.server_pid);
  warm_own_cpu_ = own_cpu_seconds();
  warm_counts_ = loop_.counts();
}

void overload_run::end_window(uint64_t now) {
  double secs = static_cast<double>(now - warm_at_) * 1e-9;
  r_.window_s = secs;
  r_.window_delivered = delivered_ - warm_delivered_;
  uint64_t taken = total_taken();
  uint64_t window_taken = taken > warm_taken_n_ ? taken - warm_taken_n_ : 0;
  if (secs > 0) {
    r_.rate = r_.window_delivered / secs;
    r_.ack_rate = static_cast<double>(acked_ - warm_acked_) / secs;
    r_.publish_rate = static_cast<double>(window_taken) / secs;
  }
  // Per million PUBLISHes the server read: here most of its work may be
  // taking messages it never delivers.
  double cpu = read_cpu_seconds(o_.server_pid);
  if (cpu >= 0 && warm_cpu_ >= 0) {
    r_.cpu_s = cpu - warm_cpu_;
    if (window_taken > 0)
      r_.cpu_s_per_million = r_.cpu_s * 1e6 / window_taken;
  }
  r_.loadgen_cpu_s = own_cpu_seconds() - warm_own_cpu_;
  r_.reads = loop_.counts().reads - warm_counts_.reads;
  r_.writes = loop_.counts().writes - warm_counts_.writes;
  r_.waits = loop_.counts().waits - warm_counts_.waits;
}

void overload_run::tick(uint64_t now) {
  switch (phase_) {
  case phase::connect_sub:
    if (!subscribed_) {
      if (next_open_ == 1 && pending_connects_ == 0
          && loop_.clients()[sub_index].state == conn_state::idle)
        open(sub_index);
      break;
    }
    phase_ = phase::connect_pubs;
    [[fallthrough]];
  case phase::connect_pubs:
    if (pubs_ready_ < pubs_.size()) {
      while (next_open_ < loop_.clients().size()
             && pending_connects_ < o_.connect_concurrency
             && phase_ != phase::done)
        open(next_open_++);
      break;
    }
    phase_ = phase::running;
    t0_ = now;
    t_warm_ = t0_ + static_cast<uint64_t>(o_.warmup_s * 1e9);
    t_end_ = t0_ + static_cast<uint64_t>(o_.duration_s * 1e9);
    {
      // The pace in bytes: sub_rate deliveries of the size publisher 0's
      // messages have on the way out (the broker's own properties, if any,
      // make the real pace a little slower). Bursts of at most 50 ms.
      double bytes_per_msg = static_cast<double>(pubs_[0].frame_size);
      double rate = o_.sub_rate * bytes_per_msg;
      pacer_.start(now, rate, std::max(4 * bytes_per_msg, rate * 0.05));
      granted_ = 0;
      loop_.set_read_budget(sub_index, 0);
    }
    sample_rss(now, true);
    [[fallthrough]];
  case phase::running:
    if (!warm_taken_ && now >= t_warm_ && now < t_end_)
      start_window(now);
    if (now >= t_end_) {
      if (!warm_taken_) { // stopped within the warm-up: the whole run
        start_window(now);
        warm_at_ = t0_;
        warm_delivered_ = warm_acked_ = warm_taken_n_ = 0;
        warm_cpu_ = -1;
      }
      end_window(now);
      // Publishers stop; the subscriber reads at full speed.
      phase_ = phase::draining;
      r_.published_s = static_cast<double>(now - t0_) * 1e-9;
      loop_.set_read_budget(sub_index, SIZE_MAX);
      last_progress_ = now;
      t_drain_deadline_ = now + static_cast<uint64_t>(o_.drain_timeout_s * 1e9);
      r_.drain_s = 0;
      break;
    }
    pace_subscriber(now);
    pump();
    sample_rss(now);
    break;
  case phase::draining:
    sample_rss(now);
    if (drained()
        || now - last_progress_ >= static_cast<uint64_t>(o_.quiet_s * 1e9)
        || now >= t_drain_deadline_) {
      r_.drain_s = static_cast<double>(now - t_end_) * 1e-9;
      r_.drain_timed_out = !drained() && now >= t_drain_deadline_;
      phase_ = phase::done;
    }
    break;
  case phase::done:
    break;
  }
  if (phase_ < phase::running && now >= t_setup_deadline_)
    set_error("setup did not finish within "
              + std::to_string(static_cast<int>(o_.setup_timeout_s)) + " s ("
              + (subscribed_ ? "subscribed, " : "not subscribed, ")
              + std::to_string(pubs_ready_) + "/" + std::to_string(pubs_.size())
              + " publishers connected)");
}

void overload_run::finish(uint64_t now) {
  sample_rss(now, true);
  r_.rss_after_kb = read_rss_kb(o_.server_pid);
  uint32_t lossy = 0;
  std::string first;
  auto taken = taken_by_server();
  for (uint32_t pi = 0; pi < pubs_.size(); ++pi) {
    auto& p = pubs_[pi];
    // Written to the socket in full, and of those, read by the server: what
    // it never read was neither acknowledged nor lost by it.
    r_.written += written_in_full(
        p.next_seq, loop_.clients()[p.conn].pending_out(), p.frame_size);
    uint64_t read = taken[pi];
    r_.sent += read;
    if (o_.qos == 0) {
      uint64_t got = delivered_by_pub_[pi];
      r_.expected += read;
      if (read > got) {
        r_.lost += read - got;
        if (lossy++ == 0)
          first = "publisher " + std::to_string(pi) + ": "
                  + std::to_string(read) + " read by the server, "
                  + std::to_string(got) + " delivered";
      }
      continue;
    }
    auto t = ledger_.compare(pi, checker_);
    r_.acked += t.acked;
    r_.expected += t.acked;
    r_.acked_lost += t.acked_lost;
    r_.delivered_unacked += t.delivered_unacked;
    uint64_t answered = p.acked + p.rejected;
    r_.unacked += read > answered ? read - answered : 0;
    if (t.acked_lost > 0 && lossy++ == 0)
      first = "publisher " + std::to_string(pi) + ": " + std::to_string(t.acked)
              + " acknowledged, " + std::to_string(t.acked_lost)
              + " of them never delivered, the lowest sequence "
              + std::to_string(t.first_lost);
  }
  if (o_.qos > 0)
    r_.lost = r_.acked_lost;
  r_.delivered = delivered_;
  r_.duplicates = checker_.duplicates();
  r_.reordered = checker_.reordered();
  if (r_.error.empty() && r_.unacked > 0)
    r_.error = std::to_string(r_.unacked)
               + " PUBLISHes read by the server but never answered";
  if (r_.error.empty() && o_.qos > 0 && r_.acked_lost > 0)
    r_.error = std::to_string(r_.acked_lost)
               + " acknowledged messages never delivered, from "
               + std::to_string(lossy) + " publishers; first: " + first;
  if (r_.error.empty() && r_.reordered > 0)
    r_.error = std::to_string(r_.reordered) + " messages out of order";
  if (o_.qos == 0 && r_.lost > 0)
    r_.note = std::to_string(r_.lost)
              + " QoS 0 messages read by the server "
                "but not delivered, from "
              + std::to_string(lossy)
              + " publishers; "
                "first: "
              + first;
  r_.ok = r_.error.empty();
  loop_.disconnect_all(5000);
}

run_result overload_run::run() {
  std::string err;
  if (o_.qos > 1) {
    r_.ok = false;
    r_.error = "overload runs at QoS 0 or 1";
    return r_;
  }
  if (!loop_.set_target(o_.host, o_.port, err)) {
    r_.ok = false;
    r_.error = err;
    return r_;
  }
  build();
  r_.rss_before_kb = read_rss_kb(o_.server_pid);
  uint64_t start = now_ns();
  t_setup_deadline_ = start + static_cast<uint64_t>(o_.setup_timeout_s * 1e9);
  uint64_t hard = start
                  + static_cast<uint64_t>((o_.setup_timeout_s + o_.duration_s
                                           + o_.drain_timeout_s + 5)
                                          * 1e9);
  tick(start);
  loop_.flush_dirty();
  while (phase_ != phase::done) {
    // 1 ms turns while publishing: the subscriber's pace is kept by them.
    loop_.run_once(phase_ == phase::running ? 1 : 20);
    uint64_t now = now_ns();
    if (now >= hard) {
      set_error("hard deadline reached");
      break;
    }
    tick(now);
    loop_.flush_dirty();
  }
  finish(now_ns());
  return r_;
}

} // namespace

run_result run_overload(const options& o) {
  overload_run r(o);
  return r.run();
}

} // namespace castor::bench
