#pragma once

// A time series topic's part of the topic actor (actors/topic.hpp): each
// publish to it, and each `timeseries/append` and `timeseries/edit` of the
// API, becomes an event (protocol/time_series.hpp) that subscribers
// receive with its sequence number and timestamp as user properties
// (protocol/series_event.hpp); a new subscriber first gets the events of
// the subscription range; `timeseries/range` reads the retained events.
// These functions work on the topic's state; the topic's behavior fans
// out what they make.

#include <vector>

#include "actors/topic.hpp"
#include "protocol/series_event.hpp"

namespace castor {

/// The events a series keeps without a TIME_SERIES_RETAINED_RANGE.
inline constexpr uint64_t default_retained_events = 10000;
/// The events a range query answers without a limit of its own.
inline constexpr size_t default_range_events = 10000;

/// The topic's series, made or dropped as its specification (read just
/// before) says; null when it is not a time series.
time_series* series_of(topic_state& st);

/// Publishes to the series: each one that converts to the event type
/// becomes an event; its update is appended to `ups` (and its position in
/// `msgs` to `from`, if not null).
void series_publish(topic_state& st, time_series& ts,
                    const std::vector<mqtt::message_ptr>& msgs,
                    std::vector<update>& ups, bool conflate,
                    std::vector<uint32_t>* from = nullptr);

/// Events the series' owner made, as their messages (in a node group,
/// every member keeps the owner's events as it numbered them): each one
/// taken (not older than what the series holds) appends its update to
/// `ups` (and its position in `msgs` to `from`, if not null).
void series_take(topic_state& st, time_series& ts,
                 const std::vector<mqtt::message_ptr>& msgs,
                 std::vector<update>& ups, bool conflate,
                 std::vector<uint32_t>* from = nullptr);

/// An append or an edit of the API: the answer, and the update to fan out
/// appended to `ups` when it is done.
series_answer series_change(topic_state& st, time_series& ts,
                            const series_request& r, std::vector<update>& ups,
                            bool conflate);

/// A range query of the API.
series_answer series_range(const time_series& ts, const series_request& r);

/// What a member that joins a node group gets of the series: every event
/// it keeps, edits included, oldest first (as retained messages, which
/// series_take takes).
std::vector<mqtt::message_ptr> series_sync(const topic_state& st,
                                           const time_series& ts);

/// What a new subscriber gets first (the subscription range).
std::vector<update> series_first(const topic_state& st,
                                 const time_series& ts);

} // namespace castor
