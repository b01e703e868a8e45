#include "actors/topic_series.hpp"

#include <chrono>

#include "protocol/api_request.hpp"
#include "protocol/value.hpp"

namespace castor {

namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

topic_type event_type_of(const topic_state& st) {
  return st.spec->event_type.value_or(topic_type::binary);
}

/// The update of event `e` as subscribers receive it.
update event_update(topic_state& st, const ts_event& e, uint8_t qos,
                    bool retain, std::string origin, bool conflate) {
  update u;
  u.seq = ++st.seq;
  u.msg = event_message(st.name, event_type_of(st), e, qos, retain,
                        std::move(origin));
  u.conflate = conflate;
  return u;
}

/// The topic's value from now on: the latest original event, its edits
/// merged (`u` when that is the event just made).
void keep_latest(topic_state& st, const time_series& ts, const ts_event& made,
                 const update& u) {
  auto latest = ts.latest();
  if (!latest) {
    st.last = update{};
  } else if (latest->seq == made.seq) {
    st.last = u;
  } else {
    st.last = u;
    st.last.msg = event_message(st.name, event_type_of(st), *latest, 1, false);
  }
}

} // namespace

time_series* series_of(topic_state& st) {
  if (!st.spec || st.spec->type != topic_type::time_series) {
    st.series.reset();
    return nullptr;
  }
  if (!st.series) {
    auto retained = st.spec->retained_range;
    if (!retained.limit && !retained.last)
      retained.limit = default_retained_events;
    st.series = std::make_unique<time_series>(retained);
    // What the store keeps of it follows what it drops.
    st.series->track_dropped(st.store != nullptr);
  }
  return st.series.get();
}

void series_publish(topic_state& st, time_series& ts,
                    const std::vector<mqtt::message_ptr>& msgs,
                    std::vector<update>& ups, bool conflate,
                    std::vector<uint32_t>* from) {
  auto type = event_type_of(st);
  for (uint32_t i = 0; i < msgs.size(); ++i) {
    auto& m = msgs[i];
    // What the publisher's connection converted, or a publish from before
    // the topic was a series, which may not.
    auto converted = convert_payload(type, m->payload);
    auto v = std::get_if<typed_value>(&converted);
    if (v == nullptr)
      continue;
    auto e = ts.append(std::make_shared<const typed_value>(std::move(*v)),
                       author_of(*m), now_ms());
    auto u = event_update(st, e, m->qos, m->retain, m->origin, conflate);
    keep_latest(st, ts, e, u);
    ups.emplace_back(std::move(u));
    if (from)
      from->push_back(i);
  }
}

void series_take(topic_state& st, time_series& ts,
                 const std::vector<mqtt::message_ptr>& msgs,
                 std::vector<update>& ups, bool conflate,
                 std::vector<uint32_t>* from) {
  for (uint32_t i = 0; i < msgs.size(); ++i) {
    auto e = event_of(*msgs[i], event_type_of(st));
    if (!e || !ts.take(*e, now_ms()))
      continue;
    update u;
    u.seq = ++st.seq;
    u.msg = msgs[i]; // as the owner made it
    u.conflate = conflate;
    keep_latest(st, ts, *e, u);
    ups.emplace_back(std::move(u));
    if (from)
      from->push_back(i);
  }
}

series_answer series_change(topic_state& st, time_series& ts,
                            const series_request& r, std::vector<update>& ups,
                            bool conflate) {
  series_answer a;
  auto converted = convert_payload(event_type_of(st), r.msg->payload);
  auto v = std::get_if<typed_value>(&converted);
  if (v == nullptr) {
    a.code = "INVALID_VALUE";
    a.message = "the value is not of the series' event type ("
                + std::string{to_string(event_type_of(st))} + ")";
    return a;
  }
  auto value = std::make_shared<const typed_value>(std::move(*v));
  ts_event e;
  if (r.op == series_request::edit) {
    auto edited = ts.edit(r.original, std::move(value), author_of(*r.msg),
                          now_ms());
    if (auto why = std::get_if<std::string>(&edited)) {
      a.code = "NO_SUCH_EVENT";
      a.message = std::move(*why);
      return a;
    }
    e = std::get<ts_event>(std::move(edited));
  } else {
    e = ts.append(std::move(value), author_of(*r.msg), now_ms());
  }
  auto u = event_update(st, e, r.msg->qos, false, {}, conflate);
  keep_latest(st, ts, e, u);
  ups.emplace_back(std::move(u));
  a.seq = e.seq;
  a.timestamp = e.timestamp;
  return a;
}

series_answer series_range(const time_series& ts, const series_request& r) {
  series_answer a;
  auto parsed = api::parse_request("timeseries/range", r.query);
  auto q = std::get_if<api::request>(&parsed);
  auto range = q ? std::get_if<api::query_range>(q) : nullptr;
  if (range == nullptr) {
    a.code = "INVALID_REQUEST";
    a.message = "not a range query";
    return a;
  }
  auto query = range->query;
  if (!query.limit)
    query.limit = default_range_events;
  auto found = ts.range(query, now_ms());
  a.events.reserve(found.events.size());
  for (auto& e : found.events)
    a.events.push_back(to_series_event(e));
  a.more = found.more;
  return a;
}

std::vector<mqtt::message_ptr> series_sync(const topic_state& st,
                                           const time_series& ts) {
  range_query all;
  all.what = range_query::view::edits;
  std::vector<mqtt::message_ptr> out;
  for (auto& e : ts.range(all, now_ms()).events)
    out.push_back(event_message(st.name, event_type_of(st), e, 1, true));
  return out;
}

std::vector<update> series_first(const topic_state& st,
                                 const time_series& ts) {
  std::vector<update> out;
  for (auto& e : ts.subscription_events(st.spec->subscription_range, now_ms())) {
    update u;
    u.seq = st.seq;
    u.msg = event_message(st.name, event_type_of(st), e, 1, true);
    out.push_back(std::move(u));
  }
  return out;
}

} // namespace castor
