#pragma once

// The timers of the actors on the I/O thread (connections' connect timeout,
// keep alive, read re-arming and slow-consumer checks; sessions' will delay
// and expiry and topics' idle checks when they run there) in one actor
// beside them. A pending CAF delayed message costs each idle connection
// about 200 bytes; an entry here costs 32 bytes and a message between
// actors of the same thread.
//
// Above all, nothing on the I/O thread may use CAF's clock (delayed_send, a
// request with a timeout): the clock thread delivers due messages to actors
// on the I/O thread through the multiplexer's wake-up pipe and blocks while
// that pipe is full, and then the clock's 64-entry queue fills up and the
// next timer set on the I/O thread blocks the one thread that drains the
// pipe: the whole server stops (seen with 10,000 subscribers). So the wheel
// is woken by a thread of its own, which the I/O thread only ever signals.
//
//   (schedule_atom, uint32_t delay_ms, uint64_t epoch) from an actor:
//       it gets (tick_atom, epoch) once delay_ms have passed (rounded up to
//       the wheel's resolution). Entries are not cancelled: the actor
//       ignores ticks of an older epoch, as it would a delayed message's.
//   (schedule_atom, atom_value reply, uint64_t epoch, uint64_t delay_ms):
//       the same, answered with (reply, epoch).
//   (wake_atom, int64_t slot) from the wake-up thread (on the scheduler:
//       a delayed message to itself): sends what is due, arms the next slot.
//
// The wheel holds the actors by weak reference: one that has gone is
// skipped when its time comes.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "actors/types.hpp"

namespace castor {

class wakeup_thread;

struct timer_wheel_state {
  using clock_type = std::chrono::steady_clock;
  std::chrono::milliseconds resolution{50};
  clock_type::time_point origin;
  /// Deadline slots (multiples of the resolution since origin), each with
  /// the connections due then and the epochs they asked for.
  struct entry {
    caf::weak_actor_ptr who;
    uint64_t epoch;
    caf::atom_value reply;
  };
  std::map<int64_t, std::vector<entry>> slots;
  /// The slot the pending wake-up message is for; -1: none pending.
  int64_t armed = -1;
  /// Wakes the wheel on the I/O thread; null on the scheduler (tests on
  /// CAF's test coordinator), where CAF's clock is safe and virtual.
  std::shared_ptr<wakeup_thread> waker;

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
