#include "protocol/time_series.hpp"

#include <algorithm>

namespace castor {

ts_event time_series::append(value_ptr v, std::string author, int64_t now) {
  last_time_ = std::max(last_time_, now);
  ts_event e{next_++, last_time_, std::move(author), std::move(v), {}};
  events_.emplace(e.seq, e);
  drop_old(now);
  return e;
}

std::variant<ts_event, std::string> time_series::edit(uint64_t original,
                                                      value_ptr v,
                                                      std::string author,
                                                      int64_t now) {
  auto it = events_.find(original);
  if (it == events_.end())
    return "no event " + std::to_string(original)
           + " in the series (not yet appended, or dropped)";
  if (it->second.original)
    return "event " + std::to_string(original) + " is an edit: edit event "
           + std::to_string(*it->second.original) + ", its original";
  last_time_ = std::max(last_time_, now);
  ts_event e{next_++, last_time_, std::move(author), std::move(v), original};
  events_.emplace(e.seq, e);
  edits_[original].push_back(e.seq);
  drop_old(now);
  return e;
}

bool time_series::take(ts_event e, int64_t now) {
  if (e.seq < next_)
    return false;
  next_ = e.seq + 1;
  last_time_ = std::max(last_time_, e.timestamp);
  if (e.original)
    edits_[*e.original].push_back(e.seq);
  events_.emplace(e.seq, std::move(e));
  drop_old(now);
  return true;
}

void time_series::drop_old(int64_t now) {
  // Kept or not is monotonic from the oldest event to the newest.
  while (!events_.empty()) {
    auto& oldest = events_.begin()->second;
    auto newer = static_cast<uint64_t>(events_.size() - 1);
    std::chrono::milliseconds age{std::max<int64_t>(0, now - oldest.timestamp)};
    if (retained_.keeps(newer, age))
      return;
    auto seq = oldest.seq;
    if (oldest.original) {
      auto& list = edits_[*oldest.original];
      list.erase(std::remove(list.begin(), list.end(), seq), list.end());
      if (list.empty())
        edits_.erase(*oldest.original);
    } else if (auto e = edits_.find(seq); e != edits_.end()) {
      // Its edits go with it.
      for (auto edit : e->second) {
        events_.erase(edit);
        if (track_dropped_)
          dropped_.push_back(edit);
      }
      edits_.erase(e);
    }
    events_.erase(seq);
    if (track_dropped_)
      dropped_.push_back(seq);
  }
}

ts_event time_series::merged(const ts_event& original) const {
  auto e = edits_.find(original.seq);
  if (e == edits_.end() || e->second.empty())
    return original;
  return events_.at(e->second.back());
}

std::optional<ts_event> time_series::latest() const {
  for (auto it = events_.rbegin(); it != events_.rend(); ++it)
    if (!it->second.original)
      return merged(it->second);
  return std::nullopt;
}

std::vector<ts_event>
time_series::subscription_events(const range_expression& r,
                                 int64_t now) const {
  auto keep = r;
  if (!keep.limit && !keep.last)
    keep.limit = 1;
  std::vector<ts_event> out;
  uint64_t newer = 0;
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->second.original)
      continue;
    std::chrono::milliseconds age{
        std::max<int64_t>(0, now - it->second.timestamp)};
    if (!keep.keeps(newer, age))
      break;
    out.push_back(merged(it->second));
    ++newer;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

range_result time_series::range(const range_query& q, int64_t now) const {
  std::vector<const ts_event*> c;
  c.reserve(events_.size());
  for (auto& [seq, e] : events_)
    if (q.what == range_query::view::edits || !e.original)
      c.push_back(&e);
  size_t n = c.size();
  auto first_at = [&](auto pred) {
    return static_cast<size_t>(std::find_if(c.begin(), c.end(), pred)
                               - c.begin());
  };
  size_t start = 0;
  if (q.from_seq)
    start = first_at([&](const ts_event* e) { return e->seq >= *q.from_seq; });
  else if (q.from_time)
    start = first_at(
        [&](const ts_event* e) { return e->timestamp >= *q.from_time; });
  else if (q.from_last)
    start = n - std::min<uint64_t>(n, *q.from_last);
  else if (q.from_last_for)
    start = first_at([&](const ts_event* e) {
      return e->timestamp >= now - q.from_last_for->count();
    });
  size_t end = n;
  if (q.to_seq)
    end = first_at([&](const ts_event* e) { return e->seq > *q.to_seq; });
  else if (q.to_time)
    end = first_at(
        [&](const ts_event* e) { return e->timestamp > *q.to_time; });
  else if (q.next)
    end = start + std::min<uint64_t>(n - std::min(start, n), *q.next);
  else if (q.next_for && start < n) {
    auto until = c[start]->timestamp + q.next_for->count();
    end = first_at([&](const ts_event* e) { return e->timestamp > until; });
  }
  range_result r;
  for (size_t i = start; i < end && i < n; ++i) {
    if (q.limit && r.events.size() == *q.limit) {
      r.more = true;
      break;
    }
    r.events.push_back(q.what == range_query::view::values ? merged(*c[i])
                                                           : *c[i]);
  }
  return r;
}

} // namespace castor
