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

template <class Self>
void send_out(Self* self, std::vector<mqtt::outbound>& out) {
  auto& st = self->state;
  if (!out.empty() && st.conn)
    self->send(st.conn, out_atom::value, outbound_batch{std::move(out)});
  out.clear();
  pay_owed(self);
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

} // namespace castor::session_detail
