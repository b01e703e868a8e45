#include "protocol/session_state.hpp"
#include "metrics/metrics.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "protocol/topic.hpp"
#include "protocol/topic_selector.hpp"

namespace castor::mqtt {

namespace {

/// What the store keeps of a QoS 2 message once PUBREC came: its QoS, not
/// the message.
delivery released_delivery() {
  delivery d;
  d.qos = 2;
  return d;
}

} // namespace

message_ptr make_message(publish&& p, std::string origin, steady_time now,
                         properties_ptr* last_props) {
  auto m = std::make_shared<message>();
  m->topic = std::move(p.topic);
  m->payload = std::move(p.payload);
  m->qos = p.qos;
  m->retain = p.retain;
  m->received = now;
  if (p.props.message_expiry_interval) {
    m->has_expiry = true;
    m->expires_at
        = now + std::chrono::seconds(*p.props.message_expiry_interval);
    p.props.message_expiry_interval.reset();
  }
  p.props.topic_alias.reset();
  p.props.subscription_identifiers.clear();
  if (!p.props.empty()) {
    if (last_props && *last_props && **last_props == p.props) {
      m->props = *last_props;
    } else {
      m->props = std::make_shared<const properties>(std::move(p.props));
      if (last_props)
        *last_props = m->props;
    }
  }
  m->origin = std::move(origin);
  return m;
}

const properties& props_of(const message& m) noexcept {
  static const properties none;
  return m.props ? *m.props : none;
}

uint32_t remaining_expiry(const message& m, steady_time now) noexcept {
  if (!m.has_expiry || m.expires_at <= now)
    return 0;
  auto left = m.expires_at - now;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
  if (secs < left)
    secs += std::chrono::seconds(1);
  return static_cast<uint32_t>(secs.count());
}

session_state::session_state(session_limits limits) : limits_(limits) {
  // nop
}

bool session_state::subscribe(const subscription& s, uint32_t id) {
  auto [i, added]
      = subs_.insert_or_assign(s.filter, stored_subscription{s, id});
  subs_gauge_.set(subs_.size());
  return !added;
}

bool session_state::unsubscribe(const std::string& filter) {
  auto erased = subs_.erase(filter) > 0;
  subs_gauge_.set(subs_.size());
  return erased;
}

size_t session_state::tidy(const std::vector<std::string>& filters) {
  if (queue_.empty())
    return 0;
  // Selectors of subscriptions by selector (topics/subscribe), parsed once.
  std::map<std::string_view, std::shared_ptr<const topic_selector>> selectors;
  auto selector_of = [&](std::string_view key, std::string_view text) {
    auto i = selectors.find(key);
    if (i == selectors.end()) {
      auto parsed = parse_selector(text);
      auto s = std::get_if<topic_selector>(&parsed);
      i = selectors
              .emplace(key, s ? std::make_shared<const topic_selector>(
                                    std::move(*s))
                              : nullptr)
              .first;
    }
    return i->second;
  };
  // Whether a (valid, stored) filter brings `d` in its form.
  auto brings = [&](std::string_view filter, const delivery& d) {
    if (auto k = parse_selector_key(filter)) {
      auto s = selector_of(filter, k->text);
      return s && k->delta == d.delta_form && s->selects(d.msg->topic);
    }
    auto fi = parse_filter(filter);
    return fi.valid && !fi.shared && fi.delta == d.delta_form
           && topic_matches(fi.subject, d.msg->topic);
  };
  auto tidied = [&](const delivery& d) {
    if (!d.tidy || d.from_share)
      return false;
    bool matched = false;
    for (auto& f : filters)
      matched = matched || brings(f, d);
    if (!matched)
      return false;
    for (auto& [f, s] : subs_)
      if (brings(f, d))
        return false;
    return true;
  };
  auto before = queue_.size();
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](delivery& d) {
                                if (!tidied(d))
                                  return false;
                                gone(d);
                                return true;
                              }),
               queue_.end());
  auto dropped = before - queue_.size();
  counters_.tidied += dropped;
  queue_.release_if_empty();
  return dropped;
}

void session_state::attach(uint16_t window, steady_time now,
                           std::vector<outbound>& out) {
  connected_ = true;
  paused_ = false;
  drop_qos0_ = false;
  unwritten_ = 0;
  window_ = window == 0 ? 65535 : window;
  // Retransmit in the order first sent. PUBLISHes count against the new
  // connection's receive maximum [MQTT-3.3.4-9]; those beyond it wait.
  std::vector<std::pair<uint64_t, uint16_t>> order;
  order.reserve(inflight_.size());
  for (auto& [id, e] : inflight_)
    order.emplace_back(e.seq, id);
  std::sort(order.begin(), order.end());
  resend_.clear();
  size_t sent = 0;
  for (auto& [seq, id] : order) {
    auto& e = inflight_[id];
    if (e.state == flight::await_pubcomp) {
      outbound o;
      o.type = outbound::kind::pubrel;
      o.packet_id = id;
      handed(o);
      out.emplace_back(std::move(o));
    } else if (sent >= window_) {
      resend_.push_back(id);
      continue;
    } else {
      resend(id, e, out);
    }
    ++sent;
  }
  pump(now, out);
}

void session_state::resend(uint16_t id, const inflight_entry& e,
                           std::vector<outbound>& out) {
  outbound o;
  o.packet_id = id;
  o.qos = e.d.qos;
  o.dup = true;
  o.retain = e.d.retain;
  o.msg = e.d.msg;
  o.subscription_ids = e.d.subscription_ids;
  o.delta_form = e.d.delta_form; // whole: a copy may have gone before
  o.seq = e.d.seq;
  handed(o);
  out.emplace_back(std::move(o));
}

void session_state::drop_resend(uint16_t id) {
  for (auto i = resend_.begin(); i != resend_.end(); ++i) {
    if (*i == id) {
      resend_.erase(i);
      break;
    }
  }
  resend_.release_if_empty();
}

void session_state::detach() {
  connected_ = false;
  unwritten_ = 0;
  resend_.clear(); // all in flight goes again at the next attach
  paused_ = false;
  drop_qos0_ = false;
  if (ending_) {
    // Nobody reads this queue again: shared messages go to other members.
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                [this](delivery& d) {
                                  if (d.from_share && d.qos > 0)
                                    return false;
                                  gone(d);
                                  return true;
                                }),
                 queue_.end());
    return;
  }
  while (queue_.size() > limits_.max_queued)
    drop_one(limits_.overflow == overflow_policy::drop_newest);
  if (!limits_.queue_qos0_offline) {
    auto before = queue_.size();
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                [](const delivery& d) { return d.qos == 0; }),
                 queue_.end());
    counters_.dropped_qos0_offline += before - queue_.size();
    metrics::dropped(metrics::drop_reason::offline_qos0,
                     before - queue_.size());
  }
}

void session_state::drop_one(bool newest) {
  ++counters_.dropped_queue_full;
  metrics::dropped(metrics::drop_reason::queue_full);
  if (newest) {
    gone(queue_.back());
    queue_.pop_back();
  } else {
    gone(queue_.front());
    queue_.pop_front();
  }
}

void session_state::enqueue(delivery d, steady_time now,
                            std::vector<outbound>& out) {
  if (ending_ && !connected_) {
    if (d.from_share && d.qos > 0)
      queue_.emplace_back(std::move(d));
    else
      gone(d);
    return;
  }
  if (!connected_ && d.qos == 0 && !limits_.queue_qos0_offline) {
    ++counters_.dropped_qos0_offline;
    metrics::dropped(metrics::drop_reason::offline_qos0);
    return;
  }
  // Per-topic order: nothing overtakes queued messages or retransmissions.
  if (connected_ && !paused_ && queue_.empty() && resend_.empty() && writable()
      && (d.qos == 0 || window_open())) {
    send(std::move(d), now, out);
    return;
  }
  if (d.conflate && conflate(d))
    return;
  if (!connected_ && queue_.size() >= limits_.max_queued) {
    if (limits_.overflow == overflow_policy::drop_newest
        || limits_.max_queued == 0) {
      ++counters_.dropped_queue_full;
      metrics::dropped(metrics::drop_reason::queue_full);
      gone(d);
      return;
    }
    drop_one(false);
  }
  queue_.emplace_back(std::move(d));
  if (paused_ && drop_qos0_)
    trim_slow();
}

bool session_state::conflate(delivery& d) {
  for (auto& q : queue_) {
    if (q.conflate && !q.from_share && !d.from_share
        && q.delta_form == d.delta_form && q.msg->topic == d.msg->topic) {
      gone(q);
      q = std::move(d);
      ++counters_.conflated;
      metrics::add(metrics::local().conflated);
      return true;
    }
  }
  return false;
}

void session_state::trim_slow() {
  // A slow consumer under the drop_qos0 policy: the queue keeps its bound by
  // dropping the oldest QoS 0 messages first.
  while (queue_.size() > limits_.max_queued) {
    auto i = std::find_if(queue_.begin(), queue_.end(),
                          [](const delivery& x) { return x.qos == 0; });
    if (i != queue_.end()) {
      queue_.erase(i);
      ++counters_.dropped_qos0_slow;
      metrics::dropped(metrics::drop_reason::slow_consumer);
    } else {
      drop_one(limits_.overflow == overflow_policy::drop_newest);
    }
  }
}

void session_state::send(delivery&& d, steady_time now,
                         std::vector<outbound>& out) {
  if (expired(*d.msg, now)) {
    ++counters_.dropped_expired;
    metrics::dropped(metrics::drop_reason::expired);
    gone(d);
    return;
  }
  outbound o;
  o.qos = d.qos;
  o.retain = d.retain;
  o.msg = d.msg;
  o.subscription_ids = d.subscription_ids;
  if (d.delta_form) {
    o.delta_form = true;
    o.delta = d.delta;
    o.seq = d.seq;
    o.base = d.base;
  }
  if (d.qos > 0) {
    auto id = next_packet_id();
    o.packet_id = id;
    auto state = d.qos == 1 ? flight::await_puback : flight::await_pubrec;
    if (d.qos == 2 && !d.store_key.empty())
      flights_.push_back(flight_change{d.store_key, id, false, d});
    inflight_.emplace(id, inflight_entry{state, seq_++, std::move(d)});
  }
  handed(o);
  out.emplace_back(std::move(o));
}

void session_state::set_paused(bool paused, bool drop_qos0, steady_time now,
                               std::vector<outbound>& out) {
  paused_ = paused;
  drop_qos0_ = paused && drop_qos0;
  if (drop_qos0_)
    trim_slow();
  if (!paused_)
    pump(now, out);
}

void session_state::on_written(uint64_t bytes, steady_time now,
                               std::vector<outbound>& out) {
  unwritten_ -= std::min(bytes, unwritten_);
  pump(now, out);
}

void session_state::pump(steady_time now, std::vector<outbound>& out) {
  while (connected_ && !paused_ && writable() && !resend_.empty()
         && window_open()) {
    auto id = resend_.front();
    resend_.pop_front();
    resend(id, inflight_.at(id), out);
  }
  if (!resend_.empty())
    return;
  resend_.release_if_empty();
  while (connected_ && !paused_ && writable() && !queue_.empty()) {
    auto& front = queue_.front();
    if (front.qos > 0 && !window_open())
      return;
    auto d = std::move(front);
    queue_.pop_front();
    send(std::move(d), now, out);
  }
}

uint16_t session_state::next_packet_id() {
  // The window is at most 65535 entries, so a free identifier exists.
  for (;;) {
    ++last_id_;
    if (last_id_ == 0)
      last_id_ = 1;
    if (inflight_.count(last_id_) == 0)
      return last_id_;
  }
}

void session_state::complete(uint16_t id, steady_time now,
                             std::vector<outbound>& out) {
  drop_resend(id);
  if (auto i = inflight_.find(id); i != inflight_.end()) {
    gone(i->second.d);
    inflight_.erase(i);
  }
  pump(now, out);
}

void session_state::on_puback(uint16_t id, steady_time now,
                              std::vector<outbound>& out) {
  auto i = inflight_.find(id);
  if (i == inflight_.end() || i->second.state != flight::await_puback)
    return;
  complete(id, now, out);
}

void session_state::on_pubrec(uint16_t id, bool error, steady_time now,
                              std::vector<outbound>& out) {
  auto i = inflight_.find(id);
  if (error) {
    if (i != inflight_.end())
      complete(id, now, out);
    return;
  }
  outbound rel;
  rel.type = outbound::kind::pubrel;
  rel.packet_id = id;
  handed(rel);
  out.emplace_back(std::move(rel));
  if (i == inflight_.end())
    return;
  if (i->second.state == flight::await_pubrec) {
    drop_resend(id); // received after all: PUBREL follows, not the PUBLISH
    i->second.state = flight::await_pubcomp;
    i->second.d.msg.reset(); // the payload is no longer needed
    if (!i->second.d.store_key.empty())
      flights_.push_back(
          flight_change{i->second.d.store_key, id, true, released_delivery()});
  }
}

void session_state::on_pubcomp(uint16_t id, steady_time now,
                               std::vector<outbound>& out) {
  auto i = inflight_.find(id);
  if (i == inflight_.end() || i->second.state != flight::await_pubcomp)
    return;
  complete(id, now, out);
}

void session_state::on_dropped(uint16_t id, steady_time now,
                               std::vector<outbound>& out) {
  ++counters_.dropped_too_large;
  if (inflight_.count(id) > 0)
    complete(id, now, out);
}

std::vector<std::string> session_state::stored_keys() const {
  std::vector<std::string> keys;
  for (auto& [id, e] : inflight_)
    if (!e.d.store_key.empty())
      keys.push_back(e.d.store_key);
  for (auto& d : queue_)
    if (!d.store_key.empty())
      keys.push_back(d.store_key);
  return keys;
}

bool session_state::restore(uint16_t id, bool released, delivery d,
                            steady_time now, std::vector<outbound>& out) {
  // A released record (PUBREL next) holds no message and, from older
  // stores, not even its QoS: its identifier is all that counts. Left out,
  // the client would keep the identifier taken for ever and take the next
  // message sent with it for this one again.
  if (id != 0 && (released || d.qos == 2)) {
    d.qos = 2;
    restore_inflight(id, released, std::move(d));
    return true;
  }
  if (!d.msg)
    return false;
  enqueue(std::move(d), now, out);
  return true;
}

void session_state::restore_inflight(uint16_t id, bool released, delivery d) {
  if (id == 0 || inflight_.count(id) > 0)
    return;
  if (released)
    d.msg.reset();
  auto state = released ? flight::await_pubcomp : flight::await_pubrec;
  inflight_.emplace(id, inflight_entry{state, seq_++, std::move(d)});
  last_id_ = std::max(last_id_, id);
}

std::vector<delivery> session_state::take_unacknowledged() {
  std::vector<std::pair<uint64_t, uint16_t>> order;
  for (auto& [id, e] : inflight_)
    if (e.state != flight::await_pubcomp)
      order.emplace_back(e.seq, id);
  std::sort(order.begin(), order.end());
  resend_.clear();
  std::vector<delivery> result;
  for (auto& [seq, id] : order) {
    result.emplace_back(std::move(inflight_[id].d));
    inflight_.erase(id);
  }
  for (auto& d : queue_)
    if (d.qos > 0)
      result.emplace_back(std::move(d));
  queue_.clear();
  // They go elsewhere (not kept there): their records go.
  for (auto& d : result)
    gone(d);
  return result;
}

} // namespace castor::mqtt
