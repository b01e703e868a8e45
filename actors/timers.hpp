#pragma once

// Timers of actors that may run on the I/O thread (sessions, topics): from
// the timer wheel there, from CAF's clock on the scheduler. CAF's clock must
// not be used on the I/O thread (actors/timer_wheel.hpp says why).

#include <chrono>
#include <cstdint>

#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include "actors/types.hpp"

namespace castor {

/// Sends (reply, epoch) to `self` after `delay`: through `wheel` when it is
/// set (the actor runs on the I/O thread), else as a CAF delayed message.
template <class Self, caf::atom_value Reply>
void send_later(Self* self, const caf::actor& wheel,
                std::chrono::milliseconds delay,
                caf::atom_constant<Reply> reply, uint64_t epoch) {
  if (wheel) {
    self->send(wheel, schedule_atom::value, caf::atom_value{Reply}, epoch,
               static_cast<uint64_t>(delay.count()));
    return;
  }
  self->delayed_send(self, delay, reply, epoch);
}

} // namespace castor
