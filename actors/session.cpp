#include "actors/census.hpp"
#include "actors/tracked.hpp"
#include "actors/session.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include <caf/all.hpp>

#include "actors/iface/implement.hpp"
#include "actors/iface/timeouts.hpp"
#include "actors/session_subscriptions.hpp"
#include "actors/timers.hpp"
#include "log/log.hpp"
#include "protocol/topic.hpp"

namespace castor {

namespace {

using clock_type = std::chrono::steady_clock;

/// Delivery batches a session takes from a topic before it gives the
/// credit back: half the topic's window, so the topic never waits for it.
constexpr uint32_t credit_batch = max_outstanding_batches / 2;

/// The timer wheel when the session runs on the I/O thread, else null (CAF's
/// clock is used).
template <class Self>
const caf::actor& io_timers(Self* self) {
  static const caf::actor none;
  return self->state.cfg.on_io_thread ? self->state.cfg.timers : none;
}

caf::strong_actor_ptr ptr_of(const caf::actor& a) {
  return caf::actor_cast<caf::strong_actor_ptr>(a);
}

/// Whether the session's principal may read `topic` now. Subscriptions
/// were checked when they were made; this catches rights taken away since
/// (a change of roles or of the store). Asked once per batch: a batch comes
/// from one topic actor, so all its updates have one topic.
bool may_read_now(const session_actor_state& st, const std::string& topic) {
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

template <class Self>
void send_out(Self* self, std::vector<mqtt::outbound>& out) {
  auto& st = self->state;
  if (!out.empty() && st.conn)
    self->send(st.conn, out_atom::value, outbound_batch{std::move(out)});
  out.clear();
  pay_owed(self);
}

template <class Self>
void publish_will(Self* self) {
  auto& st = self->state;
  st.will_pending = false;
  if (!st.req.has_will())
    return;
  // At most once per connection.
  auto will = std::move(st.req.will);
  CASTOR_LOG(debug, "session " << st.client_id,
             "publishing will on " << will->topic);
  auto m = make_will_message(*will, st.client_id);
  self->send(st.tree, publish_atom::value, std::move(m));
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
            if (ok && !self->state.conn && self->state.attaches == gen)
              end_session(self);
          },
          [=](caf::error& err) {
            // No answer in time: stay, and ask again. Any other error means
            // the registry has gone (shutdown), which ends this session too.
            if (err == caf::sec::request_timeout && !self->state.conn
                && self->state.attaches == gen)
              request_end(self);
          });
}

template <class Self>
void complete_attach(Self* self, attach_request&& ar,
                     caf::response_promise rp) {
  auto& st = self->state;
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
  attach_result res;
  res.session = caf::actor_cast<caf::actor>(self);
  res.session_present = present;
  res.qos2_ids.assign(st.mqtt_state.inbound_qos2.begin(),
                      st.mqtt_state.inbound_qos2.end());
  rp.deliver(std::move(res));
  send_out(self, out);
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

template <class Self>
void takeover_done(Self* self) {
  auto& st = self->state;
  if (st.kicked)
    self->demonitor(st.kicked);
  st.kicked = nullptr;
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
    st.mqtt_state = mqtt::session_state{st.cfg.limits};
    st.fresh = true;
  }
  ++st.epoch; // cancels will delay and expiry timers
  st.will_pending = false;
  if (st.conn) {
    kick_attached(self);
    st.waiting.emplace_back(
        session_actor_state::waiting_attach{std::move(ar), std::move(rp)});
    return;
  }
  complete_attach(self, std::move(ar), std::move(rp));
}

template <class Self>
void connection_gone(Self* self, bool publish_will_flag,
                     std::optional<uint32_t> expiry) {
  auto& st = self->state;
  if (st.conn)
    self->demonitor(st.conn);
  st.conn = nullptr;
  if (expiry)
    st.req.session_expiry = *expiry;
  if (st.req.session_expiry == 0)
    st.mqtt_state
        .end_pending(); // ends with its connection (unless one attaches)
  st.mqtt_state.detach();
  pay_owed(self);
  auto epoch = ++st.epoch;
  st.will_pending = st.req.has_will() && publish_will_flag;
  auto expiry_s = st.req.session_expiry;
  if (expiry_s == 0) {
    request_end(self);
    return;
  }
  if (st.will_pending) {
    if (st.req.will_delay == 0)
      publish_will(self);
    else if (st.req.will_delay < expiry_s)
      send_later(self, io_timers(self), std::chrono::seconds(st.req.will_delay),
                 will_atom::value, epoch);
    // else: the will goes out when the session ends.
  }
  if (expiry_s != 0xFFFFFFFFu)
    send_later(self, io_timers(self), std::chrono::seconds(expiry_s),
               expire_atom::value, epoch);
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
    if (may_read_now(st, items.front().msg->topic)) {
      auto now = clock_type::now();
      auto& opts = *batch.options;
      mqtt::delivery d;
      mqtt::delivery dd;
      for (auto& u : items) {
        if (batch.shared) {
          if (!opts.empty())
            st.mqtt_state.enqueue(mqtt::share_delivery(u, opts.front()), now,
                                  out);
          continue;
        }
        auto made = mqtt::deliver_through(u, st.client_id, opts, d, dd);
        if (made & mqtt::plain_delivery)
          st.mqtt_state.enqueue(std::move(d), now, out);
        if (made & mqtt::delta_delivery)
          st.mqtt_state.enqueue(std::move(dd), now, out);
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
  auto finish = [self, acc, rp]() mutable {
    rp.deliver(std::move(acc->codes));
    auto& st = self->state;
    std::vector<mqtt::outbound> out;
    auto now = clock_type::now();
    for (auto& d : acc->retained)
      st.mqtt_state.enqueue(std::move(d), now, out);
    send_out(self, out);
    if (--st.subscribing == 0 && st.held) {
      // What topics sent meanwhile, after the retained messages.
      auto held = std::move(st.held);
      for (auto& [topic, batch] : *held)
        take_updates(self, topic, batch);
    }
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
        auto& st = self->state;
        if (st.conn) {
          self->send(st.conn, kick_atom::value,
                     mqtt::reason_code::session_taken_over, false);
          st.will_pending = st.req.has_will();
        }
        // Connections waiting to take over connect, then the clean start
        // takes over from them: with no session actor, like a session that
        // ends with its connection (they publish their own wills).
        for (auto& w : st.waiting) {
          attach_result res;
          res.session_present = !st.fresh;
          w.rp.deliver(std::move(res));
          self->send(w.ar.connection, kick_atom::value,
                     mqtt::reason_code::session_taken_over, true);
        }
        st.waiting.clear();
        end_session(self);
      },
      [=](will_atom, uint64_t epoch) {
        auto& st = self->state;
        if (epoch == st.epoch && st.will_pending && !st.conn)
          publish_will(self);
      },
      [=](expire_atom, uint64_t epoch) {
        auto& st = self->state;
        if (epoch == st.epoch && !st.conn && !st.kicked)
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
