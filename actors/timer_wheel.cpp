#include "actors/timer_wheel.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace castor {

namespace {

using wake_atom = caf::atom_constant<caf::atom("wake")>;

template <class Self>
int64_t slot_now(Self* self) {
  auto& st = self->state;
  return (self->clock().now() - st.origin) / st.resolution;
}

/// Arms the wake-up for the earliest slot unless one is pending for it.
template <class Self>
void arm(Self* self) {
  auto& st = self->state;
  if (st.slots.empty())
    return;
  auto first = st.slots.begin()->first;
  if (st.armed != -1 && st.armed <= first)
    return;
  st.armed = first;
  auto at = st.origin + first * st.resolution;
  auto now = self->clock().now();
  auto delay = at > now ? std::chrono::duration_cast<std::chrono::milliseconds>(
                              at - now)
                        : std::chrono::milliseconds{0};
  self->delayed_send(self, delay, wake_atom::value, first);
}

template <class Self>
caf::behavior timer_wheel_impl(Self* self, std::chrono::milliseconds resolution) {
  auto& st = self->state;
  st.resolution = resolution.count() > 0 ? resolution
                                         : std::chrono::milliseconds{1};
  st.origin = self->clock().now();
  return {
      [=](schedule_atom, uint32_t delay_ms, uint64_t epoch) {
        auto& st = self->state;
        auto sender = self->current_sender();
        if (!sender)
          return;
        // Rounded up: never early.
        auto delay = std::chrono::milliseconds{delay_ms};
        auto due = (self->clock().now() - st.origin + delay
                    + st.resolution - std::chrono::nanoseconds{1})
                   / st.resolution;
        st.slots[due].emplace_back(caf::weak_actor_ptr{sender.get()}, epoch);
        arm(self);
      },
      [=](wake_atom, int64_t slot) {
        auto& st = self->state;
        if (slot != st.armed)
          return; // an earlier slot was armed since
        st.armed = -1;
        auto now = slot_now(self);
        while (!st.slots.empty() && st.slots.begin()->first <= now) {
          auto entries = std::move(st.slots.begin()->second);
          st.slots.erase(st.slots.begin());
          for (auto& [weak, epoch] : entries)
            if (auto conn = caf::actor_cast<caf::actor>(weak.lock()))
              self->send(conn, tick_atom::value, epoch);
        }
        arm(self);
      },
  };
}

} // namespace

caf::behavior timer_wheel(timer_wheel_broker* self,
                          std::chrono::milliseconds resolution) {
  return timer_wheel_impl(self, resolution);
}

caf::behavior timer_wheel_actor(timer_wheel_actor_type* self,
                                std::chrono::milliseconds resolution) {
  return timer_wheel_impl(self, resolution);
}

} // namespace castor
