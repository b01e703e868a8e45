// Publishes on their way to topics: grouping a read's messages per topic,
// the cache of topic actors (watched: idle topics retire), batches sent
// with or without an answer, and the inbound byte bound. Part of the
// connection actor (connection.cpp); declarations in connection_detail.hpp.

#include <algorithm>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/connection_detail.hpp"
#include "actors/tracked.hpp"
#include "log/log.hpp"

namespace castor::connection_detail {

constexpr size_t max_cached_topics = 4096;

/// What messages read count against max_inbound_bytes.
uint64_t inbound_size(const std::vector<mqtt::message_ptr>& msgs) {
  uint64_t n = 0;
  for (auto& m : msgs)
    n += mqtt::footprint(*m);
  return n;
}

/// Topics have taken `n` inbound bytes: reads again below half the bound.
void inbound_taken(connection_broker* self, uint64_t n) {
  auto& st = self->state;
  st.reading.inbound_bytes -= std::min(n, st.reading.inbound_bytes);
  if (st.reading.stopped_for(stop_bytes)
      && st.reading.inbound_bytes <= st.ctx->max_inbound_bytes / 2)
    resume_reading(self, stop_bytes);
}

void route(connection_broker* self, mqtt::publish&& p) {
  auto& st = self->state;
  auto& b = metrics::local();
  auto q = p.qos < 3 ? p.qos : 2;
  metrics::add(b.messages_in[q]);
  metrics::add(b.payload_in[q], p.payload.size());
  auto m = mqtt::make_message(std::move(p), st.channel->session().client_id,
                              clock_type::now(), &st.routing.last_props);
  st.reading.inbound_bytes += mqtt::footprint(*m);
  for (auto& r : st.routing.routes) {
    if (r.topic == m->topic && r.mark == st.routing.read_mark) {
      r.msgs.emplace_back(std::move(m));
      return;
    }
  }
  std::string topic = m->topic;
  st.routing.routes.push_back(connection_routing::route_group{
      std::move(topic), std::vector<mqtt::message_ptr>{std::move(m)},
      st.routing.read_mark});
}

using batch_ptr = connection_routing::batch_ptr;

/// Remembers `t` for `name` and watches it: topics retire when idle.
void cache_topic(connection_broker* self, const std::string& name,
                 const topic_interface& t) {
  auto& st = self->state;
  if (st.routing.topics.count(name) > 0)
    return;
  if (st.routing.topics.size() >= max_cached_topics) {
    // Forget the topics nothing is on its way to.
    for (auto i = st.routing.topics.begin(); i != st.routing.topics.end();) {
      if (i->second.in_flight.empty()) {
        self->demonitor(i->second.actor.address());
        inbound_taken(self, i->second.pushed_bytes);
        i = st.routing.topics.erase(i);
      } else {
        ++i;
      }
    }
  }
  self->monitor(t);
  st.routing.topics.emplace(name,
                            connection_routing::cached_topic{t, {}, 0, 0, {}});
}

/// The topic `t` has gone (retired while idle): its unanswered batches go
/// through the tree, which makes a new topic for the name, in their order;
/// later publishes look the name up again.
void topic_gone(connection_broker* self, const caf::actor_addr& t) {
  auto& st = self->state;
  for (auto i = st.routing.topics.begin(); i != st.routing.topics.end();) {
    if (i->second.actor.address() != t) {
      ++i;
      continue;
    }
    for (auto& b : i->second.in_flight) {
      if (b->done)
        continue;
      b->done = true;
      --st.routing.batches_in_flight;
      CASTOR_LOG(debug, context_of(self),
                 "topic " << i->first << " retired: resending "
                          << b->msgs.size() << " messages through the tree");
      for (auto& m : b->msgs)
        self->send(st.ctx->tree, publish_atom::value, m);
      inbound_taken(self, b->bytes);
      for (auto seq : b->reads)
        read_batch_taken(self, seq);
    }
    inbound_taken(self, i->second.pushed_bytes);
    i = st.routing.topics.erase(i);
  }
}

std::chrono::milliseconds publish_wait_limit(const connection_context& ctx) {
  return std::chrono::milliseconds(ctx.slow_consumer_timeout_ms)
         + std::chrono::duration_cast<std::chrono::milliseconds>(
             publish_timeout);
}

bool publish_waits_expired(connection_broker* self,
                           clock_type::time_point now) {
  auto& st = self->state;
  if (!st.routing.publishes_in_flight() || st.closing)
    return false;
  auto limit = publish_wait_limit(*st.ctx);
  for (auto& [name, ct] : st.routing.topics) {
    for (auto& b : ct.in_flight) {
      if (b->done || now - b->sent <= limit)
        continue;
      CASTOR_LOG(warning, context_of(self),
                 "topic " << name << " has not taken a batch of publishes in "
                          << limit.count() << " ms");
      request_failed(self, "a topic",
                     caf::make_error(caf::sec::request_timeout));
      return true;
    }
  }
  return false;
}

/// QoS 0 batches pushed to a topic between two requests to it, and their
/// bytes at most.
constexpr uint32_t max_pushed_batches = 8;
constexpr uint64_t max_pushed_bytes = 65536;

/// Sends a batch to a cached topic. A QoS 0 batch goes without asking for an
/// answer (`may_push`, returns false) while the topic is known to be alive
/// and not holding back this connection's batches (no request to it
/// unanswered); every max_pushed_batches-th batch asks again, so a blocked
/// topic still stops this connection's reading. Otherwise the answer ends
/// the batch's pending reads (returns true). Nothing is pushed while reading
/// is stopped for inbound bytes: only answers resume it (confirm_pushes()
/// asked for those pushed before the stop; CAF may deliver reads after it).
bool send_batch(connection_broker* self, const std::string& name,
                std::vector<mqtt::message_ptr>&& msgs,
                std::vector<uint64_t> reads, bool may_push = false) {
  auto& st = self->state;
  auto& ct = st.routing.topics.at(name);
  auto now = clock_type::now();
  auto bytes = inbound_size(msgs);
  if (may_push && !st.reading.stopped_for(stop_bytes) && ct.in_flight.empty()
      && ct.pushed < max_pushed_batches
      && ct.pushed_bytes + bytes <= max_pushed_bytes
      && ct.confirmed != clock_type::time_point{}
      && (st.ctx->topic_idle_ms == 0
          || now - ct.confirmed
                 < std::chrono::milliseconds(st.ctx->topic_idle_ms / 2))
      && std::all_of(msgs.begin(), msgs.end(),
                     [](const mqtt::message_ptr& m) { return m->qos == 0; })) {
    ++ct.pushed;
    ct.pushed_bytes += static_cast<uint32_t>(bytes);
    self->send(ct.actor, push_atom::value, publish_batch{std::move(msgs)});
    return false;
  }
  // Its answer also tells that the batches pushed before it were taken.
  bytes += ct.pushed_bytes;
  ct.pushed = 0;
  ct.pushed_bytes = 0;
  auto b = std::make_shared<connection_routing::batch_in_flight>(
      connection_routing::batch_in_flight{msgs, std::move(reads), false, now,
                                          bytes});
  if (!st.routing.publishes_in_flight())
    ensure_tick(self, publish_wait_limit(*st.ctx));
  ct.in_flight.push_back(b);
  ++st.routing.batches_in_flight;
  auto topic = ct.actor;
  // Bounded by publish_waits_expired(), not by a CAF timeout (two messages
  // to CAF's clock thread per batch).
  tracked(self->request(topic, caf::infinite, publish_atom::value,
                        publish_batch{std::move(msgs)}))
      .then(
          [=](bool) {
            if (b->done)
              return;
            b->done = true;
            auto& st = self->state;
            --st.routing.batches_in_flight;
            if (auto i = st.routing.topics.find(name);
                i != st.routing.topics.end()) {
              auto& v = i->second.in_flight;
              v.erase(std::find(v.begin(), v.end(), b));
              if (i->second.actor == topic)
                i->second.confirmed = now;
            }
            inbound_taken(self, b->bytes);
            for (auto seq : b->reads)
              read_batch_taken(self, seq);
          },
          [=](caf::error&) {
            // A request to an actor that has gone fails (a broker on the
            // I/O thread never answers: the monitor tells us instead).
            topic_gone(self, topic.address());
          });
  return true;
}

bool dispatch(connection_broker* self, const std::string& topic,
              std::vector<mqtt::message_ptr>&& msgs, uint64_t seq) {
  auto& st = self->state;
  if (auto i = st.routing.lookups.find(topic); i != st.routing.lookups.end()) {
    // Keep per-topic order behind the lookup in progress.
    for (auto& m : msgs)
      i->second.msgs.emplace_back(std::move(m));
    i->second.reads.push_back(seq);
    return true;
  }
  if (st.routing.topics.count(topic) > 0)
    return send_batch(self, topic, std::move(msgs), {seq}, true);
  st.routing.lookups.emplace(
      topic, connection_routing::lookup{std::move(msgs), {seq}});
  tracked(
      self->request(st.ctx->tree, lookup_timeout, lookup_atom::value, topic))
      .then(
          [=](topic_interface& t) {
            auto& st = self->state;
            cache_topic(self, topic, t);
            auto i = st.routing.lookups.find(topic);
            if (i != st.routing.lookups.end()) {
              send_batch(self, topic, std::move(i->second.msgs),
                         std::move(i->second.reads));
              st.routing.lookups.erase(i);
            }
            try_start_change(self);
          },
          [=](caf::error& err) {
            request_failed(self, "the topic tree", err);
          });
  return true;
}

/// Asks every topic that has taken pushed batches without an answer since
/// whether it has (an empty request: answered once everything before it is
/// taken), so that their bytes count no longer.
void confirm_pushes(connection_broker* self) {
  auto& st = self->state;
  std::vector<std::string> names;
  for (auto& [name, ct] : st.routing.topics)
    if (ct.pushed_bytes > 0 && ct.in_flight.empty())
      names.push_back(name);
  for (auto& name : names)
    send_batch(self, name, {}, {});
}

/// Sends this read's publishes, one batch per topic. Returns how many
/// answers the pending read `seq` waits for (pushed batches need none; held
/// ones count until they are sent).
uint32_t flush_routes(connection_broker* self, uint64_t seq) {
  auto& st = self->state;
  uint32_t pending = 0;
  bool gate_busy
      = !st.ctx->gate->idle() || (st.order && !st.order->held.empty());
  for (auto& r : st.routing.routes) {
    ++pending;
    if (gate_busy && hold_if_needed(self, r, seq))
      continue;
    if (!dispatch(self, r.topic, std::move(r.msgs), seq))
      --pending;
  }
  st.routing.routes.clear();
  return pending;
}

void route_if_exists(connection_broker* self, mqtt::publish&& p) {
  auto& st = self->state;
  if (auto w = st.routing.exists_checks.find(p.topic);
      w != st.routing.exists_checks.end()) {
    st.routing.exists_waiting += p.qos > 0 ? 1 : 0;
    w->second.emplace_back(std::move(p), st.routing.read_mark);
    return;
  }
  if (st.routing.topics.count(p.topic) > 0) {
    apply_output(self, st.channel->handle_publish_checked(std::move(p), true));
    return;
  }
  std::string topic = p.topic;
  st.routing.exists_waiting += p.qos > 0 ? 1 : 0;
  st.routing.exists_checks[topic].emplace_back(std::move(p),
                                               st.routing.read_mark);
  tracked(self->request(st.ctx->tree, lookup_timeout, lookup_atom::value, topic,
                        false))
      .then([=](topic_interface& t) {
        auto& st = self->state;
        auto i = st.routing.exists_checks.find(topic);
        if (i == st.routing.exists_checks.end())
          return;
        auto msgs = std::move(i->second);
        st.routing.exists_checks.erase(i);
        for (auto& m : msgs)
          st.routing.exists_waiting -= m.first.qos > 0 ? 1 : 0;
        if (st.closing)
          return;
        bool exists = static_cast<bool>(t);
        if (exists)
          cache_topic(self, topic, t);
        for (auto& [m, mark] : msgs) {
          // In order behind the changes read before it, not after.
          st.routing.read_mark = mark;
          apply_output(
              self, st.channel->handle_publish_checked(std::move(m), exists));
        }
        end_step(self);
      });
}

} // namespace castor::connection_detail
