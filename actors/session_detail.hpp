#pragma once

// The session actor's helpers on its state (actors/session.cpp): credit
// owed to topics, output to the connection, the will, and how a session
// releases its subscriptions and ends. Only session.cpp includes it.

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>

#include "actors/iface/timeouts.hpp"
#include "actors/session.hpp"
#include "actors/session_subscriptions.hpp"
#include "actors/store_records.hpp"
#include "actors/timers.hpp"
#include "actors/tracked.hpp"
#include "log/log.hpp"
#include "protocol/topic.hpp"

namespace castor::session_detail {

using clock_type = std::chrono::steady_clock;

/// Delivery batches a session takes from a topic before it gives the
/// credit back: half the topic's window, so the topic never waits for it.
constexpr uint32_t credit_batch = max_outstanding_batches / 2;

/// How long a session handed over to another node stays subscribed at
/// most, waiting for the new session's subscriptions to be in force.
constexpr std::chrono::seconds handover_linger{15};

/// The timer wheel when the session runs on the I/O thread, else null (CAF's
/// clock is used).
template <class Self>
const caf::actor& io_timers(Self* self) {
  static const caf::actor none;
  return self->state.cfg.on_io_thread ? self->state.cfg.timers : none;
}

inline caf::strong_actor_ptr ptr_of(const caf::actor& a) {
  return caf::actor_cast<caf::strong_actor_ptr>(a);
}

/// Whether the session's principal may read `topic` now. Subscriptions
/// were checked when they were made; this catches rights taken away since
/// (a change of roles or of the store). Asked once per batch: a batch comes
/// from one topic actor, so all its updates have one topic.
inline bool may_read_now(const session_actor_state& st,
                         const std::string& topic) {
  if (st.access == nullptr) // no policy: nothing may be read
    return false;
  return st.access->reads_everything() || st.access->may_read(topic);
}

/// Gives topics back the credit held while the session was congested.
template <class Self>
void pay_owed(Self* self) {
  auto& st = self->state;
  if (!st.credit_held || st.mqtt_state.congested())
    return;
  st.credit_held = false;
  CASTOR_LOG(trace, "session " << st.client_id,
             "credit paid to " << st.owed.size() << " topics");
  for (auto& [topic, c] : st.owed)
    send_as<topic_interface>(self, topic, credit_atom::value, c.batches,
                             c.bytes);
  st.owed.clear();
}

// -- the store (persistent sessions, docs/persistence.md) ---------------------

/// Whether the session keeps a record in the store: it has an expiry and
/// goes on here.
inline bool durable(const session_actor_state& st) {
  return st.cfg.store && st.req.session_expiry != 0 && !st.ended
         && !st.handing_over && !st.handed_over;
}

template <class Self>
void store_put(Self* self, std::string key, std::string record) {
  self->send(self->state.cfg.store->writer, store_atom::value, std::move(key),
             std::move(record));
}

/// The records of messages delivered or dropped go.
template <class Self>
void store_released(Self* self) {
  for (auto& key : self->state.mqtt_state.take_released())
    store_put(self, std::move(key), std::string{});
}

/// The records of messages delivered or dropped go; QoS 2 messages sent or
/// received get their state written. Returns whether packets to the
/// connection must wait for the disk (durability `sync`): only send_out
/// may call it, as it holds them.
template <class Self>
bool store_messages(Self* self) {
  auto& st = self->state;
  if (!st.cfg.store)
    return false;
  store_released(self);
  bool wrote = false;
  for (auto& f : st.mqtt_state.take_flights()) {
    store_put(self, std::move(f.key),
              records::encode_delivery(f.d, f.packet_id, f.released));
    wrote = true;
  }
  return wrote && st.cfg.store->sync;
}

/// Writes the session's record as it is now (or erases it, if the session
/// is no longer kept).
template <class Self>
void store_session(Self* self) {
  auto& st = self->state;
  if (!st.cfg.store)
    return;
  store_released(self);
  auto key = records::key(records::session_prefix, st.client_id);
  if (!durable(st)) {
    if (st.stored)
      store_put(self, std::move(key), std::string{});
    st.stored = false;
    return;
  }
  stored_session x;
  x.client_id = st.client_id;
  x.principal = st.principal;
  x.roles = st.roles;
  x.expiry = st.req.session_expiry;
  list_subscriptions(st.mqtt_state, x.subs, x.subscription_ids);
  if (st.req.has_will()) {
    x.has_will = true;
    x.will = *st.req.will;
    x.will_delay = st.req.will_delay;
    x.will_due = st.conn != nullptr || st.will_pending;
  }
  x.qos2_ids.assign(st.mqtt_state.inbound_qos2.begin(),
                    st.mqtt_state.inbound_qos2.end());
  store_put(self, std::move(key), records::encode_session(x));
  st.stored = true;
}

/// The session ends: its record and those of its messages go.
template <class Self>
void forget_stored(Self* self) {
  auto& st = self->state;
  if (!st.cfg.store)
    return;
  store_released(self);
  st.mqtt_state.take_flights(); // (their records go now)
  for (auto& key : st.mqtt_state.stored_keys())
    store_put(self, std::move(key), std::string{});
  if (st.stored)
    store_put(self, records::key(records::session_prefix, st.client_id),
              std::string{});
  st.stored = false;
}

/// Runs `f` once what the session sent the writer is on disk.
template <class Self, class F>
void after_sync(Self* self, F f) {
  self->request(self->state.cfg.store->writer, caf::infinite, sync_atom::value)
      .then([f](bool) mutable { f(); },
            [f](caf::error&) mutable { f(); }); // stopping: at once
}

template <class Self>
void send_now(Self* self, std::vector<mqtt::outbound>& out) {
  auto& st = self->state;
  if (!out.empty() && st.conn)
    self->send(st.conn, out_atom::value, outbound_batch{std::move(out)});
  out.clear();
}

/// Packets held for the disk go once it has what they depend on.
template <class Self>
void release_held(Self* self) {
  auto& st = self->state;
  if (st.store_again) {
    st.store_again = false;
    after_sync(self, [self] { release_held(self); });
    return;
  }
  st.store_waiting = false;
  auto held = std::move(st.store_held);
  st.store_held.clear();
  send_now(self, held);
}

template <class Self>
void send_out(Self* self, std::vector<mqtt::outbound>& out) {
  auto& st = self->state;
  // A QoS 2 PUBLISH goes only once the store knows its packet identifier,
  // and a PUBREL once it knows PUBREC came: after a kill -9 the session
  // sends the same packets again, never one the client would take for a
  // new message. Packets behind them wait too (their order stays).
  bool wait = store_messages(self);
  if (wait || st.store_waiting) {
    st.store_held.insert(st.store_held.end(),
                         std::make_move_iterator(out.begin()),
                         std::make_move_iterator(out.end()));
    out.clear();
    if (!st.store_waiting) {
      st.store_waiting = true;
      after_sync(self, [self] { release_held(self); });
    } else if (wait) {
      st.store_again = true;
    }
    pay_owed(self);
    return;
  }
  send_now(self, out);
  pay_owed(self);
}

/// In a group, a session that outlives its connection tells its node's
/// claims actor what changed of its subscriptions, principal and expiry,
/// for its replica on another node (actors/cluster_replicas.hpp).
template <class Self>
void replicate(Self* self, session_replica change) {
  auto& st = self->state;
  if (!st.cfg.claims || st.ended || st.handing_over || st.handed_over
      || (st.req.session_expiry == 0 && !st.replicated))
    return;
  st.replicated = true;
  change.client_id = st.client_id;
  change.principal = st.principal;
  change.expiry = st.req.session_expiry;
  self->send(st.cfg.claims, replica_atom::value, std::move(change));
}

/// The whole of it (an attach: the principal or the expiry may be new).
template <class Self>
void replicate_all(Self* self) {
  if (!self->state.cfg.claims)
    return;
  session_replica r;
  r.full = true;
  list_subscriptions(self->state.mqtt_state, r.subs, r.subscription_ids);
  replicate(self, std::move(r));
}

/// Filters no longer subscribed.
template <class Self>
void replicate_removed(Self* self, const std::vector<std::string>& filters) {
  session_replica r;
  r.remove = filters;
  replicate(self, std::move(r));
}

/// In a node group, a will that waits for its delay (the connection has
/// gone) goes with the session's replica, so that the group publishes it
/// if this node dies first (actors/cluster_replicas.hpp); `pending` false
/// takes it back (published, or cancelled by a new connection).
template <class Self>
void replicate_will(Self* self, bool pending) {
  auto& st = self->state;
  if (!st.cfg.claims || pending == st.will_replicated)
    return;
  st.will_replicated = pending;
  session_replica r;
  r.client_id = st.client_id;
  r.principal = st.principal;
  r.will_part = true;
  if (pending && st.req.has_will()) {
    r.has_will = true;
    r.will = *st.req.will;
    r.will_delay = std::min(st.req.will_delay, st.req.session_expiry);
  }
  self->send(st.cfg.claims, replica_atom::value, std::move(r));
}

template <class Self>
void publish_will(Self* self) {
  auto& st = self->state;
  st.will_pending = false;
  replicate_will(self, false);
  if (!st.req.has_will())
    return;
  // At most once per connection.
  auto will = std::move(st.req.will);
  CASTOR_LOG(debug, "session " << st.client_id,
             "publishing will on " << will->topic);
  auto m = make_will_message(*will, st.client_id);
  self->send(st.tree, publish_atom::value, std::move(m));
  store_session(self); // the will has gone
}

/// Gives the shared-subscription messages this session did not get
/// acknowledged to the other members of their groups (via the topic).
template <class Self>
void redistribute_shared(Self* self) {
  auto& st = self->state;
  std::map<std::tuple<std::string, std::string, std::string>, share_redelivery>
      redeliver;
  for (auto& d : st.mqtt_state.take_unacknowledged()) {
    if (!d.from_share || !d.msg)
      continue;
    for (auto& [full, sub] : st.mqtt_state.subscriptions()) {
      auto info = mqtt::parse_filter(full);
      if (info.shared && mqtt::topic_matches(info.subject, d.msg->topic)) {
        redeliver[{d.msg->topic, std::string{info.group},
                   std::string{info.filter}}]
            .items.push_back(
                update{d.seq, value_type::binary, d.msg, nullptr, 0, false});
        break;
      }
    }
  }
  for (auto& [key, batch] : redeliver)
    self->send(st.tree, redeliver_atom::value, std::get<0>(key),
               std::get<1>(key), std::get<2>(key), std::move(batch));
}

/// Tells the tree to forget subscriptions; `done` runs once every topic
/// concerned has.
template <class Self, class F>
void unsubscribe_at_tree(Self* self, topic_unsubscription&& u, F done) {
  auto& st = self->state;
  tracked(self->request(st.tree, tree_request_timeout, unsub_atom::value,
                        std::move(u)))
      .then([done](bool) mutable { done(); },
            [done](caf::error&) mutable { done(); });
}
/// Releases what the session holds: the will (if still due), the
/// subscriptions, and its unacknowledged shared-subscription messages (which
/// go to other members of their groups); `done` runs once the topics have
/// forgotten the subscriptions. What topics sent before that is in this
/// mailbox by then and goes to the other members too, if `done` hands it on.
template <class Self, class F>
void release_session(Self* self, F done) {
  auto& st = self->state;
  if (st.will_pending)
    publish_will(self);
  st.will_pending = false;
  topic_unsubscription u;
  u.session = caf::actor_cast<caf::actor>(self);
  for (auto& [filter, sub] : st.mqtt_state.subscriptions())
    u.filters.push_back(filter);
  bool any = !u.filters.empty();
  if (any)
    unsubscribe_at_tree(self, std::move(u), std::move(done));
  // After the unsubscription (same path, so in order): messages of shared
  // subscriptions this session did not acknowledge go to other members.
  redistribute_shared(self);
  if (!any)
    done();
}

/// Ends the session: releases what it holds and stops the actor once the
/// topics have forgotten it (shared messages that arrive meanwhile go to
/// the other members of their groups, not with this actor).
template <class Self>
void end_session(Self* self) {
  auto& st = self->state;
  if (st.ended)
    return;
  st.ended = true;
  forget_stored(self);
  st.mqtt_state.end_pending();
  release_session(self, [self] {
    redistribute_shared(self);
    CASTOR_LOG(debug, "session " << self->state.client_id, "ended");
    self->quit();
  });
}

/// Asks the registry whether the session may end (no attach on its way).
template <class Self>
void request_end(Self* self) {
  auto& st = self->state;
  auto gen = st.attaches;
  tracked(self->request(st.registry, expire_request_timeout, expire_atom::value,
                        st.client_id, gen))
      .then(
          [=](bool ok) {
            if (ok && !self->state.conn && self->state.attaches == gen) {
              self->state.stored = false; // the registry erased the record
              end_session(self);
            }
          },
          [=](caf::error& err) {
            // No answer in time: stay, and ask again. Any other error means
            // the registry has gone (shutdown), which ends this session too.
            if (err == caf::sec::request_timeout && !self->state.conn
                && self->state.attaches == gen)
              request_end(self);
          });
}

/// Passes a topic's updates on to the client (or the queue), as the MQTT
/// rules of the subscriptions they came through say, and pays the topic's
/// credit.
template <class Self>
void take_updates(Self* self, const caf::actor& topic, update_batch& batch) {
  auto& st = self->state;
  if (st.subscribing > 0) {
    if (!st.held)
      st.held = std::make_unique<
          std::vector<std::pair<caf::actor, update_batch>>>();
    st.held->emplace_back(topic, std::move(batch));
    return;
  }
  std::vector<mqtt::outbound> out;
  if (batch.items && !batch.items->empty() && batch.options) {
    auto& items = *batch.items;
    // Checked against the rights of the session's principal as they are now.
    bool readable = may_read_now(st, items.front().msg->topic);
    auto now = clock_type::now();
    auto& opts = *batch.options;
    // The topic kept the QoS 1 and 2 ones in the store, under these keys
    // (actors/topic_store.hpp): erased once delivered or dropped.
    auto take = [&](mqtt::delivery&& x) {
      x.store_key.clear();
      if (batch.stored != 0 && x.qos > 0)
        x.store_key = records::message_key(st.client_id, x.msg->topic,
                                           batch.stored, x.seq, x.delta_form);
      if (readable)
        st.mqtt_state.enqueue(std::move(x), now, out);
      else if (!x.store_key.empty())
        store_put(self, std::move(x.store_key), std::string{});
    };
    if (readable || batch.stored != 0) {
      mqtt::delivery d;
      mqtt::delivery dd;
      for (auto& u : items) {
        if (batch.shared) {
          if (!opts.empty())
            take(mqtt::share_delivery(u, opts.front()));
          continue;
        }
        auto made = mqtt::deliver_through(u, st.client_id, opts, d, dd);
        if (made & mqtt::plain_delivery)
          take(std::move(d));
        if (made & mqtt::delta_delivery)
          take(std::move(dd));
      }
    }
  }
  send_out(self, out);
  // Credit back to the topic, several batches at a time (fewer
  // messages, and the topic keeps sending meanwhile), unless
  // congested: then the topic waits for it.
  if (!topic)
    return;
  auto& c = st.owed[topic];
  ++c.batches;
  c.bytes += batch.bytes; // as the topic counted them
  if (st.mqtt_state.congested()) {
    st.credit_held = true;
    CASTOR_LOG(trace, "session " << st.client_id,
               "congested: " << st.mqtt_state.queued_count() << " queued");
  } else if (c.batches >= credit_batch
             || c.bytes >= max_outstanding_bytes / 2) {
    // Half the topic's window (batches or bytes): it never waits for it.
    send_as<topic_interface>(self, topic, credit_atom::value, c.batches,
                             c.bytes);
    st.owed.erase(topic);
  }
}

} // namespace castor::session_detail
