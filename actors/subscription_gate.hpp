#pragma once

// Subscription changes in progress, shared by every connection of a server.
//
// A SUBSCRIBE or UNSUBSCRIBE takes effect at the topics it concerns through
// a few actors (session, topic tree, topics), while a PUBLISH goes from its
// connection straight to its topic. To keep the order in which the server
// read them, a connection that reads a SUBSCRIBE or UNSUBSCRIBE registers its
// filters here at once (`begin`), and ends the change (`end`) once every
// topic it concerns has taken it. A publish read after the change began, to
// a topic one of its filters matches, is held by its connection until the
// change has ended (`holding`, `wait`), so it reaches the topic after the
// subscription (or unsubscription) does.
//
// Every change gets a sequence number, and every publish remembers the last
// number when it was read (`mark`): a publish waits only for changes read
// before it. So waits follow read order and cannot form a cycle.
//
// All connections run on the middleman's one I/O thread, and only they use
// the gate: it needs no lock. A publish to a topic no change concerns pays
// one comparison (`idle`).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>

#include "protocol/topic_index.hpp"

namespace castor {

class subscription_gate {
public:
  using seq_type = uint64_t;

  /// The number of the last change begun: a publish read now comes after it.
  seq_type mark() const noexcept {
    return last_;
  }

  /// True while no change is in progress.
  bool idle() const noexcept {
    return active_.empty();
  }

  /// Changes in progress.
  size_t active() const noexcept {
    return active_.size();
  }

  /// Registers a change of `filters` (topic filters without
  /// `$share/{group}/`), read now. Returns its number.
  seq_type begin(const std::vector<std::string>& filters);

  /// The change has taken effect (or was abandoned): wakes the connections
  /// waiting for it with (gate_open_atom).
  void end(seq_type change);

  /// A change begun at or before `mark` that concerns `topic` and is still
  /// in progress, if any.
  std::optional<seq_type> holding(std::string_view topic, seq_type mark);

  /// `conn` is told (gate_open_atom) when `change` ends; at once if it has.
  void wait(seq_type change, const caf::actor& conn);

private:
  struct change {
    std::vector<std::string> filters;
    std::vector<caf::actor> waiting;
  };
  seq_type last_ = 0;
  /// Filters of the changes in progress; key: the change's number.
  mqtt::filter_index<char> filters_;
  std::unordered_map<seq_type, change> active_;
};

} // namespace castor
