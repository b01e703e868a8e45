#pragma once

// The connections' long timers (connect timeout, keep alive) in one actor
// on the I/O thread, beside the connections. A pending CAF delayed message
// costs each idle connection about 200 bytes and a wake-up of CAF's clock
// thread when it is set; an entry here costs 16 bytes and a message between
// actors of the same thread.
//
//   (schedule_atom, uint32_t delay_ms, uint64_t epoch) from a connection:
//       the connection gets (tick_atom, epoch) once delay_ms have passed
//       (rounded up to the wheel's resolution). Entries are not cancelled:
//       the connection ignores ticks of an older epoch, as it would a
//       delayed message's.
//
// The wheel holds connections by weak reference: one that has gone is
// skipped when its time comes.

#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "actors/types.hpp"

namespace castor {

struct timer_wheel_state {
  using clock_type = std::chrono::steady_clock;
  std::chrono::milliseconds resolution{50};
  clock_type::time_point origin;
  /// Deadline slots (multiples of the resolution since origin), each with
  /// the connections due then and the epochs they asked for.
  std::map<int64_t, std::vector<std::pair<caf::weak_actor_ptr, uint64_t>>>
      slots;
  /// The slot the pending wake-up message is for; -1: none pending.
  int64_t armed = -1;

  static inline const char* name = "timer_wheel";
};

/// On the I/O thread, beside the connections (what the server spawns).
using timer_wheel_broker = caf::io::stateful_broker<timer_wheel_state>;
/// The same on the scheduler (tests on CAF's test coordinator).
using timer_wheel_actor_type = caf::stateful_actor<timer_wheel_state>;

caf::behavior timer_wheel(timer_wheel_broker* self,
                          std::chrono::milliseconds resolution);
caf::behavior timer_wheel_actor(timer_wheel_actor_type* self,
                                std::chrono::milliseconds resolution);

} // namespace castor
