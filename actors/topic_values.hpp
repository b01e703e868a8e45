#pragma once

// What a topic keeps of its updates (its value, and the basis of its
// subscribers' deltas), as its specification says. Part of the topic actor
// (actors/topic.cpp).

#include <cstdint>

#include "actors/topic.hpp"
#include "log/log.hpp"

namespace castor::topic_detail {

/// What the topic keeps of its updates, as its specification says: its
/// value (the last update) with deltas, the value only
/// (PUBLISH_VALUES_ONLY), or nothing (DONT_RETAIN_VALUE: no value, no
/// deltas; the MQTT retained message keeps MQTT's rules).
enum class kept : uint8_t { with_deltas, value_only, nothing };

inline kept value_kept(topic_state& st) {
  if (!st.mapping || st.mapping->empty())
    return kept::with_deltas;
  auto g = st.mapping->generation();
  if (g != st.spec_generation) {
    st.spec_generation = g;
    st.spec = st.mapping->find(st.name);
  }
  if (!st.spec)
    return kept::with_deltas;
  if (st.spec->dont_retain_value)
    return kept::nothing;
  return st.spec->publish_values_only ? kept::value_only : kept::with_deltas;
}

/// The retained message goes (cleared, expired, removed), and its room in
/// the bound with it.
inline void clear_retained(topic_state& st) {
  if (st.current && st.retained)
    st.retained->give(retained_budget::size_of(*st.current.msg));
  st.current = update{};
}

/// `u` becomes the retained message, if the bound has room for it; if not,
/// the topic keeps none (never a stale one) and the refusal is counted and
/// logged (the first, then every thousandth).
inline void keep_retained(topic_state& st, const update& u) {
  if (st.retained) {
    bool had = static_cast<bool>(st.current);
    auto old = had ? retained_budget::size_of(*st.current.msg) : 0;
    if (!st.retained->take(retained_budget::size_of(*u.msg), had, old)) {
      if (had)
        st.retained->give(old);
      st.current = update{};
      auto n = st.retained->refused.load(std::memory_order_relaxed);
      if (n == 1 || n % 1000 == 0)
        CASTOR_LOG(warning, "topic " << st.name,
                   "retained message not kept: the server holds "
                       << st.retained->messages.load() << " of "
                       << st.retained->max_messages << " messages, "
                       << st.retained->bytes.load() << " of "
                       << st.retained->max_bytes
                       << " bytes (mqtt.max_retained_messages, "
                          "mqtt.max_retained_bytes); "
                       << n << " refused so far");
      return;
    }
  }
  st.current = u;
}

/// Whether the topic conflates (CONFLATION conflate or always); its
/// specification read before.
inline bool conflates(const topic_state& st) {
  return st.spec
         && (st.spec->conflation == conflation_mode::conflate
             || st.spec->conflation == conflation_mode::always);
}

/// Gives `u` its delta from the last update (the value subscribers have),
/// which becomes the basis of the next one.
inline void add_delta(topic_state& st, update& u) {
  if (st.last && st.basis.seq != st.last.seq)
    st.basis = basis_of(st.last);
  auto next = basis_of(u);
  if (st.last) {
    u.delta = make_delta(st.basis, next);
    u.base = st.basis.seq;
  }
  st.basis = std::move(next);
}

/// Counts the subscriptions that want deltas: `e` arrives (+1) or leaves
/// (-1); the basis goes with the last of them.
inline void count_delta(topic_state& st, const topic_state::entry& e,
                        int change) {
  if (!e.options.delta)
    return;
  st.delta_entries += change;
  if (st.delta_entries == 0)
    st.basis = delta_basis{};
}

} // namespace castor::topic_detail
