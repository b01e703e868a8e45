#pragma once

// What a topic keeps in the store (actors/store_writer.hpp,
// docs/persistence.md): its retained message, and a typed topic's value
// (its last update). After each fan-out the topic sends the writer what
// changed, and goes on; the answer to a publisher that waits (QoS 1 and 2,
// the API) waits, with durability `sync`, until the writer has it on disk.
// Part of the topic actor (actors/topic.cpp).

#include <string>
#include <utility>

#include "actors/store_records.hpp"
#include "actors/store_writer.hpp"
#include "actors/topic.hpp"
#include "actors/topic_series.hpp"
#include "actors/topic_values.hpp"
#include "protocol/series_event.hpp"

namespace castor::topic_detail {

/// What the store holds of a topic, as of some moment.
struct stored_mark {
  const mqtt::message* retained = nullptr;
  const mqtt::message* value = nullptr;
};

/// Whether the topic's value is kept: a typed topic's (its specification
/// read before), not a time series' (its events are its state).
inline bool value_stored(const topic_state& st) {
  return st.spec && !st.spec->dont_retain_value && !st.series
         && st.spec->type != topic_type::time_series;
}

inline stored_mark stored_now(const topic_state& st) {
  return {st.current ? st.current.msg.get() : nullptr,
          st.last && value_stored(st) ? st.last.msg.get() : nullptr};
}

/// Sends the writer a record (empty: the key is erased).
template <class Self>
void store_put(Self* self, std::string key, std::string record) {
  auto& st = self->state;
  self->send(st.store->writer, store_atom::value, std::move(key),
             std::move(record));
  if (st.store->sync)
    st.unsynced = true;
}

/// Keeps the QoS 1 and 2 deliveries of `ups` to the persistent session
/// `client_id` (through its subscriptions' `opts`, or as a share group's
/// member) in the store, as the session will make them: the publishers'
/// answers wait for them. Returns the incarnation their keys name (0:
/// nothing kept). The session erases each once delivered or dropped.
template <class Self>
uint64_t store_deliveries(Self* self, const std::string& client_id,
                          const std::vector<update>& ups,
                          const std::vector<mqtt::delivery_options>& opts,
                          bool shared) {
  auto& st = self->state;
  if (!st.store || client_id.empty() || opts.empty())
    return 0;
  if (st.incarnation == 0)
    st.incarnation = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
  bool any = false;
  auto put = [&](const mqtt::delivery& x) {
    if (x.qos == 0 || !x.msg)
      return;
    store_put(self,
              records::message_key(client_id, x.msg->topic, st.incarnation,
                                   x.seq, x.delta_form),
              records::encode_delivery(x, 0, false));
    any = true;
  };
  mqtt::delivery d;
  mqtt::delivery dd;
  for (auto& u : ups) {
    if (shared) {
      put(mqtt::share_delivery(u, opts.front()));
      continue;
    }
    auto made = mqtt::deliver_through(u, client_id, opts, d, dd);
    if (made & mqtt::plain_delivery)
      put(d);
    if (made & mqtt::delta_delivery)
      put(dd);
  }
  return any ? st.incarnation : 0;
}

/// Sends the writer what changed since `before`.
template <class Self>
void store_changes(Self* self, stored_mark before) {
  auto& st = self->state;
  if (!st.store)
    return;
  auto now = stored_now(st);
  auto put = [&](std::string_view prefix, const mqtt::message* m) {
    store_put(self, records::key(prefix, st.name),
              m ? records::encode_message(*m) : std::string{});
  };
  if (now.retained != before.retained)
    put(records::retained_prefix, now.retained);
  if (now.value != before.value)
    put(records::value_prefix, now.value);
}

/// A time series' events just made or taken (`ups`) to the writer, and
/// those its retained range has dropped since, erased.
template <class Self>
void store_events(Self* self, const std::vector<update>& ups) {
  auto& st = self->state;
  if (!st.store || !st.series || !st.spec)
    return;
  auto type = st.spec->event_type.value_or(topic_type::binary);
  for (auto& u : ups)
    if (auto e = event_of(*u.msg, type))
      store_put(self, records::event_key(st.name, e->seq),
                records::encode_message(*u.msg));
  for (auto seq : st.series->take_dropped())
    store_put(self, records::event_key(st.name, seq), std::string{});
}

/// The series goes (topics/remove, a removal policy): its events too.
template <class Self>
void forget_events(Self* self) {
  auto& st = self->state;
  if (!st.store || !st.series || !st.spec)
    return;
  auto type = st.spec->event_type.value_or(topic_type::binary);
  for (auto& m : series_sync(st, *st.series))
    if (auto e = event_of(*m, type))
      store_put(self, records::event_key(st.name, e->seq), std::string{});
  for (auto seq : st.series->take_dropped())
    store_put(self, records::event_key(st.name, seq), std::string{});
}

/// Runs `f` (an answer to a publisher) once what the topic sent the writer
/// is on disk, with durability `sync`; else at once.
template <class Self, class F>
void when_stored(Self* self, F f) {
  auto& st = self->state;
  if (!st.unsynced) {
    f();
    return;
  }
  st.unsynced = false;
  self->request(st.store->writer, caf::infinite, sync_atom::value)
      .then([f](bool) mutable { f(); },
            // The writer has gone (the server stops): answered anyway.
            [f](caf::error&) mutable { f(); });
}

/// Takes back what the store kept before the restart (restore_atom):
/// the retained message and the value, or a time series' events.
template <class Self>
void restore_values(Self* self, mqtt::message_ptr& retained,
                    mqtt::message_ptr& value,
                    const std::vector<mqtt::message_ptr>& events) {
  auto& st = self->state;
  if (!events.empty()) {
    value_kept(st); // the specification (the API's, restored before)
    if (auto ts = series_of(st)) {
      std::vector<update> ups;
      series_take(st, *ts, events, ups, false);
      // Those the retained range dropped while the server was down.
      for (auto seq : ts->take_dropped())
        store_put(self, records::event_key(st.name, seq), std::string{});
    }
    return;
  }
  if (retained)
    keep_retained(st, update{++st.seq, value_type::binary, std::move(retained),
                             nullptr, 0, false, false});
  if (value)
    st.last = update{
        ++st.seq, value_type::binary, std::move(value), nullptr, 0, false,
        false};
  else if (st.current)
    st.last = st.current;
}

} // namespace castor::topic_detail
