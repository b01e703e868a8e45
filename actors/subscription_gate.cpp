#include "actors/subscription_gate.hpp"

#include <caf/send.hpp>

#include "actors/types.hpp"

namespace castor {

subscription_gate::seq_type
subscription_gate::begin(const std::vector<std::string>& filters) {
  auto seq = ++last_;
  for (auto& f : filters)
    filters_.insert(f, seq, 0);
  active_.emplace(seq, change{filters, {}});
  return seq;
}

void subscription_gate::end(seq_type seq) {
  auto i = active_.find(seq);
  if (i == active_.end())
    return;
  auto c = std::move(i->second);
  active_.erase(i);
  for (auto& f : c.filters)
    filters_.erase(f, seq);
  for (auto& conn : c.waiting)
    caf::anon_send(conn, gate_open_atom::value, seq);
}

std::optional<subscription_gate::seq_type>
subscription_gate::holding(std::string_view topic, seq_type mark) {
  if (active_.empty())
    return std::nullopt;
  std::optional<seq_type> result;
  filters_.for_each_match(topic, [&](std::string_view, uint64_t seq, char&) {
    if (seq <= mark && (!result || seq < *result))
      result = seq;
  });
  return result;
}

void subscription_gate::wait(seq_type seq, const caf::actor& conn) {
  auto i = active_.find(seq);
  if (i == active_.end()) {
    caf::anon_send(conn, gate_open_atom::value, seq);
    return;
  }
  i->second.waiting.push_back(conn);
}

} // namespace castor
