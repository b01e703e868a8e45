#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/session.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include <caf/all.hpp>

#include "actors/cluster_claims.hpp"
#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/session_detail.hpp"
#include "actors/session_subscriptions.hpp"
#include "actors/timers.hpp"
#include "log/log.hpp"
#include "protocol/topic.hpp"

namespace castor {

namespace {

using namespace session_detail;

template <class Self>
void handle_subscribe(Self* self, subscribe_request& sr,
                      caf::response_promise rp);

/// Starts from the state another node of the group handed over
/// (actors/session_subscriptions.hpp).
template <class Self>
void restore_session(Self* self, const session_snapshot& snap,
                     const attach_request& ar) {
  auto& st = self->state;
  st.handover_from = snap.from; // told once the subscriptions are in force
  st.rest_due = snap.from != nullptr;
  for (auto& sr : restore_requests(snap, {ar.principal, {}, ar.access}))
    handle_subscribe(self, sr, caf::response_promise{});
  if (st.subscribing == 0 && st.handover_from)
    self->send(std::exchange(st.handover_from, nullptr), handover_atom::value);
  restore_state(st.mqtt_state, snap, clock_type::now());
  st.fresh = false;
  CASTOR_LOG(debug, "session " << st.client_id,
             "taken over from another node: "
                 << snap.subs.size() << " subscriptions, "
                 << snap.messages.size() << " messages");
}

template <class Self>
void complete_attach(Self* self, attach_request&& ar,
                     caf::response_promise rp) {
  auto& st = self->state;
  st.principal = ar.principal;
  st.roles = ar.roles;
  st.store_held.clear(); // for the connection that went
  bool restored = ar.restore && ar.restore->present && st.fresh;
  if (restored)
    restore_session(self, *ar.restore, ar);
  bool present = !st.fresh;
  st.fresh = false;
  st.req.will.reset();
  if (ar.req.has_will)
    st.req.will = std::move(ar.req.will);
  st.req.will_delay = ar.req.will_delay;
  st.req.session_expiry = ar.req.session_expiry;
  st.conn = std::move(ar.connection);
  st.access = std::move(ar.access);
  self->monitor(st.conn);
  std::vector<mqtt::outbound> out;
  st.mqtt_state.attach(ar.req.receive_maximum, clock_type::now(), out);
  store_session(self);
  attach_result res;
  res.session = caf::actor_cast<caf::actor>(self);
  res.session_present = present;
  res.qos2_ids.assign(st.mqtt_state.inbound_qos2.begin(),
                      st.mqtt_state.inbound_qos2.end());
  auto answer = [self, rp, res = std::move(res), out = std::move(out),
                 conn = st.conn]() mutable {
    rp.deliver(std::move(res));
    if (self->state.conn == conn)
      send_out(self, out);
  };
  if (restored && st.subscribing > 0) {
    // Restored from another node's state (the session moved, or its node
    // left): the CONNACK waits until its subscriptions are in force, in
    // the group too (the tree holds a new route until the members have
    // it), so that whatever is published anywhere after it reaches the
    // client. Deliveries wait meanwhile (held, as during any SUBSCRIBE).
    st.restored_answer = std::move(answer);
  } else {
    answer();
  }
  replicate_all(self);
}

/// Discards subscriptions and messages (the old connection's session had
/// expiry 0 and ended with it).
template <class Self>
void reset_session(Self* self) {
  auto& st = self->state;
  topic_unsubscription u;
  u.session = caf::actor_cast<caf::actor>(self);
  for (auto& [filter, sub] : st.mqtt_state.subscriptions())
    u.filters.push_back(filter);
  if (!u.filters.empty())
    unsubscribe_at_tree(self, std::move(u), [] {});
  forget_stored(self);
  st.mqtt_state = mqtt::session_state{st.cfg.limits};
  st.fresh = true;
}

/// Takeover: the attached connection gets DISCONNECT 0x8E and goes; the
/// first waiting attach is answered once it has (and its state is back).
template <class Self>
void kick_attached(Self* self) {
  auto& st = self->state;
  st.kicked = st.conn;
  st.conn = nullptr;
  // A session with expiry 0 ends with its connection.
  st.reset_on_takeover = st.req.session_expiry == 0;
  // The old connection closes without DISCONNECT: its will goes out now
  // unless a will delay lets the new connection cancel it.
  if (st.req.has_will() && (st.req.will_delay == 0 || st.reset_on_takeover))
    publish_will(self);
  st.mqtt_state.detach();
  self->send(st.kicked, kick_atom::value, mqtt::reason_code::session_taken_over,
             false);
}

/// Connections waiting to take over connect, then the session ends
/// under them: with no session actor, like a session that ends with its
/// connection (they publish their own wills).
template <class Self>
void let_waiting_go(Self* self) {
  auto& st = self->state;
  for (auto& w : st.waiting) {
    attach_result res;
    res.session_present = !st.fresh;
    w.rp.deliver(std::move(res));
    self->send(w.ar.connection, kick_atom::value,
               mqtt::reason_code::session_taken_over, true);
  }
  st.waiting.clear();
}

/// The session moves to another node of the group, its connection gone:
/// answers with its state (if the new node wants it and the session
/// outlives its connections) and ends. Its will goes out only if the
/// session does not go on there.
template <class Self>
void finish_handover(Self* self) {
  auto& st = self->state;
  session_snapshot snap;
  if (st.handover_resume && !st.fresh && !st.reset_on_takeover
      && st.req.session_expiry != 0) {
    snap = take_snapshot(st.mqtt_state);
    snap.from = caf::actor_cast<caf::actor>(self);
  }
  bool moves = snap.present;
  st.reset_on_takeover = false;
  st.handing_over = false;
  let_waiting_go(self);
  st.will_pending = !st.handover_resume && st.req.has_will();
  st.handover.deliver(std::move(snap));
  if (!moves) {
    end_session(self);
    return;
  }
  // Subscribed still, queueing what comes, until the new session's
  // subscriptions are in force (handover_atom) or the time is up.
  // (The registry has forgotten it: asked at expiry, it lets it end.)
  st.handed_over = true;
  send_later(self, io_timers(self), handover_linger, expire_atom::value,
             st.epoch);
}

/// Handed over and unsubscribed: what the session queued goes to the
/// session `to` on the new node, and it ends.
template <class Self>
void hand_on_rest(Self* self, const caf::actor& to) {
  session_snapshot rest;
  rest.messages = self->state.mqtt_state.take_unacknowledged();
  forget_stored(self); // kept on the new node, if at all
  self->send(to, handover_atom::value, std::move(rest));
  CASTOR_LOG(debug, "session " << self->state.client_id,
             "moved to another node");
  self->quit();
}

/// Handed over: the new session's subscriptions are in force in the
/// group, so this one's go; what it queued meanwhile follows the rest.
/// If this session itself came from another node whose rest has not
/// arrived yet, it waits for it (the linger's timer at most).
template <class Self>
void end_handed_over(Self* self, caf::actor to) {
  auto& st = self->state;
  st.ended = true;
  auto done = [self, to] {
    if (self->state.rest_due)
      self->state.moved_to = to;
    else
      hand_on_rest(self, to);
  };
  topic_unsubscription u;
  u.session = caf::actor_cast<caf::actor>(self);
  for (auto& [filter, sub] : st.mqtt_state.subscriptions())
    u.filters.push_back(filter);
  if (u.filters.empty())
    done();
  else
    unsubscribe_at_tree(self, std::move(u), done);
}

template <class Self>
void takeover_done(Self* self) {
  auto& st = self->state;
  if (st.kicked)
    self->demonitor(st.kicked);
  st.kicked = nullptr;
  if (st.handing_over) {
    finish_handover(self);
    return;
  }
  if (st.reset_on_takeover) {
    st.reset_on_takeover = false;
    reset_session(self);
  }
  if (!st.waiting.empty()) {
    auto w = std::move(st.waiting.front());
    st.waiting.pop_front();
    complete_attach(self, std::move(w.ar), std::move(w.rp));
  }
  // A CONNECT that came meanwhile takes over from the one just attached.
  if (!st.waiting.empty())
    kick_attached(self);
  else
    st.waiting.release_if_empty();
}

/// Attaches a connection, taking the session over from the attached one
/// (answered once that has gone).
template <class Self>
void start_attach(Self* self, attach_request&& ar, caf::response_promise rp) {
  auto& st = self->state;
  if (!st.conn && !st.kicked && !st.fresh && st.req.session_expiry == 0) {
    // The previous connection had session expiry 0 (3.1.1: clean
    // session) and is gone: its session ended with it, even though
    // this actor has not yet heard back from the registry. The new
    // connection gets a new session.
    release_session(self, [] {});
    forget_stored(self);
    st.mqtt_state = mqtt::session_state{st.cfg.limits};
    st.fresh = true;
  }
  ++st.epoch; // cancels will delay and expiry timers
  st.will_pending = false;
  replicate_will(self, false);
  if (st.conn) {
    kick_attached(self);
    st.waiting.emplace_back(
        session_actor_state::waiting_attach{std::move(ar), std::move(rp)});
    return;
  }
  complete_attach(self, std::move(ar), std::move(rp));
}

/// The will waits for its delay (or goes now, or when the session ends).
template <class Self>
void arm_will(Self* self, uint64_t epoch) {
  auto& st = self->state;
  if (st.req.will_delay == 0)
    publish_will(self);
  else if (st.req.will_delay < st.req.session_expiry)
    send_later(self, io_timers(self), std::chrono::seconds(st.req.will_delay),
               will_atom::value, epoch);
  // else: the will goes out when the session ends.
}

/// The connection has gone (or, `restoring` from the store, there is
/// none: the record is as the store has it, and a due will waits to be
/// armed, restore_atom).
template <class Self>
void connection_gone(Self* self, bool publish_will_flag,
                     std::optional<uint32_t> expiry, bool restoring = false) {
  auto& st = self->state;
  if (st.conn)
    self->demonitor(st.conn);
  st.conn = nullptr;
  st.store_held.clear(); // sent again at the next attach
  if (expiry) {
    st.req.session_expiry = *expiry;
    replicate_all(self); // the new expiry (0: the replica goes)
  }
  if (st.req.session_expiry == 0)
    st.mqtt_state
        .end_pending(); // ends with its connection (unless one attaches)
  st.mqtt_state.detach();
  pay_owed(self);
  auto epoch = ++st.epoch;
  st.will_pending = st.req.has_will() && publish_will_flag;
  if (!restoring)
    store_session(self);
  auto expiry_s = st.req.session_expiry;
  if (expiry_s == 0) {
    request_end(self);
    return;
  }
  if (st.will_pending && !restoring)
    arm_will(self, epoch);
  if (st.will_pending)
    replicate_will(self, true); // the group's, should this node die first
  if (expiry_s != 0xFFFFFFFFu)
    send_later(self, io_timers(self), std::chrono::seconds(expiry_s),
               expire_atom::value, epoch);
}

/// Removes the subscriptions of `filters`, which the session state has
/// just forgotten, from the tree; `done` runs once every topic concerned
/// has forgotten them too.
template <class Self, class F>
void unsubscribe_filters(Self* self, std::vector<std::string> filters,
                         F done) {
  topic_unsubscription u;
  u.session = caf::actor_cast<caf::actor>(self);
  u.filters = filters;
  unsubscribe_at_tree(
      self, std::move(u),
      [self, gone = std::move(filters), done]() mutable {
        // TIDY_ON_UNSUBSCRIBE: what is still queued of tidied topics goes
        // (everything they sent before is in by now).
        auto& st = self->state;
        if (auto n = st.mqtt_state.tidy(gone); n > 0) {
          CASTOR_LOG(debug, "session " << st.client_id,
                     "dropped " << n << " queued messages on unsubscribe"
                                << " (TIDY_ON_UNSUBSCRIBE)");
          pay_owed(self);
        }
        done();
      });
}

/// The session's rights may have shrunk (a change of roles or of the
/// security store): the subscriptions a SUBSCRIBE would now be refused
/// go, as an UNSUBSCRIBE would remove them. MQTT has no packet to tell
/// the client; the log says which.
template <class Self>
void revoke_unreadable(Self* self) {
  auto& st = self->state;
  if (st.access == nullptr || st.ended)
    return;
  auto gone = unreadable_filters(st.mqtt_state, *st.access);
  if (gone.empty())
    return;
  std::string names;
  for (auto& f : gone)
    names += (names.empty() ? "" : ", ") + f;
  CASTOR_LOG(info, "session " << st.client_id,
             "rights changed: unsubscribed from " << names
                                                  << " (no longer readable)");
  if (st.cfg.counters)
    broker_counters::add(st.cfg.counters->subscriptions_revoked, gone.size());
  for (auto& f : gone)
    st.mqtt_state.unsubscribe(f);
  replicate_removed(self, gone);
  store_session(self);
  unsubscribe_filters(self, std::move(gone), [] {});
}

template <class Self>
void handle_subscribe(Self* self, subscribe_request& sr,
                      caf::response_promise rp) {
  auto& st = self->state;
  auto codes = std::move(sr.codes);
  struct pending {
    size_t left = 0;
    std::vector<mqtt::reason_code> codes;
    std::vector<mqtt::delivery> retained;
  };
  auto acc = std::make_shared<pending>();
  acc->codes = std::move(codes);
  ++st.subscribing;
  auto complete = [self, acc, rp]() mutable {
    rp.deliver(std::move(acc->codes));
    auto& st = self->state;
    std::vector<mqtt::outbound> out;
    auto now = clock_type::now();
    for (auto& d : acc->retained)
      st.mqtt_state.enqueue(std::move(d), now, out);
    send_out(self, out);
    if (--st.subscribing > 0)
      return;
    if (st.restored_answer) // the CONNACK first, then what came meanwhile
      std::exchange(st.restored_answer, nullptr)();
    if (st.held) {
      // What topics sent meanwhile, after the retained messages.
      auto held = std::move(st.held);
      for (auto& [topic, batch] : *held)
        take_updates(self, topic, batch);
    }
    if (st.handover_from) // restored subscriptions in force
      self->send(std::exchange(st.handover_from, nullptr),
                 handover_atom::value);
  };
  // A persistent session's SUBACK waits until its record holds the
  // subscriptions (durability `sync`): acknowledged is kept.
  auto finish = [self, complete, answers = rp.pending()]() mutable {
    auto& st = self->state;
    if (!answers || !durable(st)) {
      complete();
      return;
    }
    store_session(self);
    if (st.cfg.store->sync)
      after_sync(self, complete);
    else
      complete();
  };
  // Each subscription to the tree, with what decides which current values
  // (retained messages) it sends.
  struct tree_request {
    topic_subscription ts;
    mqtt::subscription sub;
    bool existed = false;
  };
  std::vector<tree_request> requests;
  for (size_t i = 0; i < sr.subs.size() && i < acc->codes.size(); ++i) {
    if (mqtt::is_error(acc->codes[i]))
      continue;
    auto& sub = sr.subs[i];
    if (st.mqtt_state.subscriptions().count(sub.filter) == 0
        && st.mqtt_state.subscriptions().size() >= st.cfg.max_subscriptions) {
      acc->codes[i] = mqtt::reason_code::quota_exceeded;
      continue;
    }
    bool existed = st.mqtt_state.subscribe(sub, sr.subscription_id);
    auto info = mqtt::parse_filter(sub.filter);
    topic_subscription ts;
    ts.session = caf::actor_cast<caf::actor>(self);
    ts.client_id = st.client_id;
    ts.durable = durable(st);
    ts.filter = std::string{info.filter};
    ts.group = std::string{info.group};
    bool delta = info.delta;
    if (auto key = parse_selector_key(sub.filter)) {
      // By selector (topics/subscribe): the tree and the topics know it
      // by its key.
      ts.filter = sub.filter;
      ts.group.clear();
      delta = key->delta;
    }
    ts.options = mqtt::delivery_options{sub.max_qos, sub.no_local,
                                        sub.retain_as_published,
                                        sr.subscription_id, delta};
    ts.access = sr.access;
    requests.push_back(tree_request{std::move(ts), sub, existed});
  }
  if (requests.empty()) {
    finish();
    return;
  }
  session_replica added;
  for (auto& r : requests) {
    added.subs.push_back(r.sub);
    added.subscription_ids.push_back(sr.subscription_id);
  }
  replicate(self, std::move(added));
  acc->left = requests.size();
  for (auto& r : requests) {
    bool shared = !r.ts.group.empty();
    bool delta = r.ts.options.delta;
    auto id = r.ts.options.subscription_id;
    tracked(self->request(st.tree, tree_request_timeout, subscribe_atom::value,
                          std::move(r.ts)))
        .then(
            [self, acc, finish, sub = std::move(r.sub), existed = r.existed,
             shared, delta, id](retained_batch& b) mutable {
              for (auto& u : b.items) {
                mqtt::delivery d;
                if (mqtt::retained_delivery(u, self->state.client_id, sub, id,
                                            existed, shared, delta, d))
                  acc->retained.emplace_back(std::move(d));
              }
              if (--acc->left == 0)
                finish();
            },
            [acc, finish](caf::error&) mutable {
              if (--acc->left == 0)
                finish();
            });
  }
}

/// Comes back as the store kept it (docs/persistence.md): offline, with
/// its subscriptions (`done` runs once they are in force), messages,
/// inbound QoS 2 identifiers and will. Its expiry and will delay count
/// from now; a will that was due (its connection was there) goes out.
template <class Self, class F>
void restore_stored(Self* self, stored_session& x, F done) {
  auto& st = self->state;
  st.principal = x.principal;
  st.roles = x.roles;
  st.access = x.access;
  st.fresh = false;
  st.stored = true;
  st.req.session_expiry = x.expiry;
  if (x.has_will) {
    st.req.will = std::make_shared<const mqtt::will_message>(std::move(x.will));
    st.req.will_delay = x.will_delay;
  }
  st.mqtt_state.inbound_qos2.insert(x.qos2_ids.begin(), x.qos2_ids.end());
  auto now = clock_type::now();
  std::vector<mqtt::outbound> out;
  for (auto& m : x.messages)
    st.mqtt_state.restore(m.packet_id, m.released, std::move(m.d), now, out);
  session_snapshot snap;
  snap.present = true;
  snap.subs = std::move(x.subs);
  snap.subscription_ids = std::move(x.subscription_ids);
  auto requests
      = restore_requests(snap, access_ref{x.principal, x.roles, x.access});
  st.restored_answer = std::move(done);
  for (auto& sr : requests)
    handle_subscribe(self, sr, caf::response_promise{});
  if (st.subscribing == 0 && st.restored_answer)
    std::exchange(st.restored_answer, nullptr)();
  // Its will waits until every session is back (restore_atom).
  connection_gone(self, x.will_due, std::nullopt, true);
}

} // namespace

template <class Self>
caf::behavior session_actor_impl(Self* self, std::string client_id,
                                 registry_interface registry,
                                 topic_tree_interface tree,
                                 session_config cfg) {
  auto& st = self->state;
  st.client_id = std::move(client_id);
  st.registry = std::move(registry);
  st.tree = std::move(tree);
  st.cfg = cfg;
  st.mqtt_state = mqtt::session_state{cfg.limits};
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.kicked && dm.source == st.kicked.address()) {
      takeover_done(self);
    } else if (st.conn && dm.source == st.conn.address()) {
      connection_gone(self, true, std::nullopt);
    }
  });
  return implement<session_interface>(
      [=](attach_atom, attach_request& ar) -> caf::result<attach_result> {
        auto& st = self->state;
        ++st.attaches;
        auto rp = self->make_response_promise();
        if (st.kicked) {
          // A takeover is under way: this one waits for its turn, then
          // takes over from the connection attached before it.
          st.waiting.emplace_back(session_actor_state::waiting_attach{
              std::move(ar), std::move(rp)});
          return caf::delegated<attach_result>{};
        }
        start_attach(self, std::move(ar), std::move(rp));
        return caf::delegated<attach_result>{};
      },
      [=](detach_atom, detach_info& di) {
        auto& st = self->state;
        auto sender = self->current_sender();
        if (st.kicked && sender == ptr_of(st.kicked)) {
          st.mqtt_state.inbound_qos2.clear();
          st.mqtt_state.inbound_qos2.insert(di.qos2_ids.begin(),
                                            di.qos2_ids.end());
          takeover_done(self);
          return;
        }
        if (!st.conn || sender != ptr_of(st.conn))
          return;
        st.mqtt_state.inbound_qos2.clear();
        st.mqtt_state.inbound_qos2.insert(di.qos2_ids.begin(),
                                          di.qos2_ids.end());
        std::optional<uint32_t> expiry;
        if (di.has_expiry)
          expiry = di.expiry;
        connection_gone(self, di.publish_will, expiry);
      },
      [=](subscribe_atom,
          subscribe_request& sr) -> caf::result<subscribe_codes> {
        auto rp = self->make_response_promise();
        handle_subscribe(self, sr, std::move(rp));
        return caf::delegated<subscribe_codes>{};
      },
      [=](unsub_atom, const std::vector<std::string>& filters,
          subscribe_codes& codes) -> caf::result<subscribe_codes> {
        auto& st = self->state;
        std::vector<std::string> gone;
        for (size_t i = 0; i < filters.size() && i < codes.size(); ++i) {
          if (mqtt::is_error(codes[i]))
            continue;
          if (st.mqtt_state.unsubscribe(filters[i]))
            gone.push_back(filters[i]);
          else
            codes[i] = mqtt::reason_code::no_subscription_existed;
        }
        if (gone.empty())
          return std::move(codes);
        replicate_removed(self, gone);
        store_session(self);
        // No new messages for these filters once UNSUBACK is sent
        // [MQTT-3.10.4-2]: answered once every topic has forgotten them
        // (what they sent before is already in this mailbox).
        auto rp = self->template make_response_promise<subscribe_codes>();
        unsubscribe_filters(self, std::move(gone),
                            [rp, codes = std::move(codes)]() mutable {
                              rp.deliver(std::move(codes));
                            });
        return rp;
      },
      [=](revoke_atom) { revoke_unreadable(self); },
      [=](subs_atom) -> std::string {
        return subscriptions_json(self->state.mqtt_state);
      },
      [=](deliver_atom, update_batch& batch) {
        take_updates(self, caf::actor_cast<caf::actor>(self->current_sender()),
                     batch);
      },
      [=](ack_atom, const ack_batch& acks) {
        auto& st = self->state;
        std::vector<mqtt::outbound> out;
        auto now = clock_type::now();
        for (auto& a : acks.items) {
          switch (a.kind) {
          case ack_kind::puback:
            st.mqtt_state.on_puback(a.packet_id, now, out);
            break;
          case ack_kind::pubrec:
            st.mqtt_state.on_pubrec(a.packet_id, mqtt::is_error(a.code), now,
                                    out);
            break;
          case ack_kind::pubcomp:
            st.mqtt_state.on_pubcomp(a.packet_id, now, out);
            break;
          case ack_kind::dropped:
            st.mqtt_state.on_dropped(a.packet_id, now, out);
            break;
          }
        }
        send_out(self, out);
      },
      [=](written_atom, uint64_t bytes) {
        auto& st = self->state;
        if (!st.conn || self->current_sender() != ptr_of(st.conn))
          return;
        std::vector<mqtt::outbound> out;
        st.mqtt_state.on_written(bytes, clock_type::now(), out);
        send_out(self, out);
      },
      [=](flow_atom, flow_mode mode) {
        auto& st = self->state;
        if (!st.conn || self->current_sender() != ptr_of(st.conn))
          return;
        std::vector<mqtt::outbound> out;
        auto m = mode;
        CASTOR_LOG(trace, "session " << st.client_id,
                   "flow " << static_cast<int>(mode));
        st.mqtt_state.set_paused(m != flow_mode::open,
                                 m == flow_mode::paused_drop0,
                                 clock_type::now(), out);
        send_out(self, out);
      },
      [=](end_atom) {
        // Replaced by a clean start: the connection (if any) is taken over.
        // (The registry has erased its record, before the new session
        // could write one.)
        auto& st = self->state;
        st.stored = false;
        if (st.conn) {
          self->send(st.conn, kick_atom::value,
                     mqtt::reason_code::session_taken_over, false);
          st.will_pending = st.req.has_will();
        }
        // Connections waiting to take over connect, then the clean start
        // takes over from them.
        let_waiting_go(self);
        end_session(self);
      },
      [=](handover_atom, bool resume) -> caf::result<session_snapshot> {
        // The client id connects on another node of the group.
        auto& st = self->state;
        if (st.ended || st.handing_over)
          return session_snapshot{};
        st.handing_over = true;
        st.handover_resume = resume;
        st.handover = self->make_response_promise();
        ++st.epoch; // cancels will delay and expiry timers
        if (st.conn)
          kick_attached(self); // finished once the connection has gone
        else if (!st.kicked)
          finish_handover(self);
        return caf::delegated<session_snapshot>{};
      },
      [=](handover_atom) {
        // From the new session: its subscriptions are in force. What the
        // members forwarded here before that still comes (the group's
        // fence), then this one's subscriptions go.
        auto& st = self->state;
        if (!st.handed_over || st.ended)
          return;
        auto to = caf::actor_cast<caf::actor>(self->current_sender());
        auto go = [self, to] {
          if (self->state.handed_over && !self->state.ended)
            end_handed_over(self, to);
        };
        if (!st.cfg.claims) {
          go();
          return;
        }
        tracked(self->request(st.cfg.claims,
                              group_fence_timeout + std::chrono::seconds{1},
                              fence_atom::value, true))
            .then([go](bool) { go(); }, [go](caf::error&) { go(); });
      },
      [=](handover_atom, session_snapshot& rest) {
        // From the old session: what it got until this one's
        // subscriptions were in force.
        auto& st = self->state;
        std::vector<mqtt::outbound> out;
        auto now = clock_type::now();
        for (auto& d : rest.messages)
          if (d.msg)
            st.mqtt_state.enqueue(std::move(d), now, out);
        send_out(self, out);
        st.rest_due = false;
        if (st.moved_to) // moved on meanwhile: it goes on with the rest
          hand_on_rest(self, st.moved_to);
      },
      [=](restore_atom, stored_session& x) -> caf::result<bool> {
        auto rp = self->template make_response_promise<bool>();
        restore_stored(self, x, [rp]() mutable { rp.deliver(true); });
        return rp;
      },
      [=](restore_atom) {
        // Every session is back: a will that was due waits for its delay
        // from now (the subscribers of its topic are back too).
        auto& st = self->state;
        if (st.will_pending && !st.conn && !st.ended)
          arm_will(self, st.epoch);
      },
      [=](will_atom, uint64_t epoch) {
        auto& st = self->state;
        if (epoch == st.epoch && st.will_pending && !st.conn)
          publish_will(self);
      },
      [=](expire_atom, uint64_t epoch) {
        auto& st = self->state;
        if (epoch == st.epoch && st.moved_to) // no rest came in time
          hand_on_rest(self, st.moved_to);
        else if (epoch == st.epoch && !st.conn && !st.kicked)
          request_end(self);
      });
}

caf::behavior session_actor(session_actor_type* self, std::string client_id,
                            registry_interface registry,
                            topic_tree_interface tree, session_config cfg) {
  return census(self, metrics::actor_kind::session,
                session_actor_impl(self, std::move(client_id),
                                   std::move(registry), std::move(tree), cfg));
}

caf::behavior session_broker(session_broker_type* self, std::string client_id,
                             registry_interface registry,
                             topic_tree_interface tree, session_config cfg) {
  return census(self, metrics::actor_kind::session,
                session_actor_impl(self, std::move(client_id),
                                   std::move(registry), std::move(tree), cfg));
}

} // namespace castor
