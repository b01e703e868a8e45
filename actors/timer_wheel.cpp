#include "actors/census.hpp"
#include "actors/timer_wheel.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace castor {

namespace {

using wake_atom = caf::atom_constant<caf::atom("wake")>;

} // namespace

/// A thread that sends (wake_atom, slot) to the wheel at the time the wheel
/// asked for. The wheel only sets the time (a short lock the thread never
/// holds while sending), so the I/O thread never waits for it.
class wakeup_thread {
public:
  using clock_type = std::chrono::steady_clock;

  explicit wakeup_thread(caf::weak_actor_ptr wheel)
      : shared_(std::make_shared<shared>()) {
    shared_->wheel = std::move(wheel);
    // Detached: stopping must not wait for it (it may be blocked sending to
    // the I/O thread that would wait); it owns what it uses.
    std::thread{[s = shared_] { run(*s); }}.detach();
  }

  ~wakeup_thread() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    shared_->stop = true;
    shared_->cv.notify_all();
  }

  /// Sends (wake_atom, slot) at `t`, replacing a later pending wake-up.
  void wake_at(clock_type::time_point t, int64_t slot) {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    if (shared_->next && shared_->next->first <= t)
      return;
    shared_->next.emplace(t, slot);
    shared_->cv.notify_all();
  }

private:
  struct shared {
    std::mutex mtx;
    std::condition_variable cv;
    std::optional<std::pair<clock_type::time_point, int64_t>> next;
    bool stop = false;
    caf::weak_actor_ptr wheel;
  };

  static void run(shared& s) {
    std::unique_lock<std::mutex> guard{s.mtx};
    for (;;) {
      if (s.stop)
        return;
      if (!s.next) {
        s.cv.wait(guard);
        continue;
      }
      auto [t, slot] = *s.next;
      if (clock_type::now() < t) {
        s.cv.wait_until(guard, t);
        continue;
      }
      s.next.reset();
      guard.unlock();
      if (auto wheel = caf::actor_cast<caf::actor>(s.wheel.lock()))
        caf::anon_send(wheel, wake_atom::value, slot);
      guard.lock();
    }
  }

  std::shared_ptr<shared> shared_;
};

namespace {

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
  if (st.waker) {
    st.waker->wake_at(at, first);
    return;
  }
  auto delay = at > now ? std::chrono::duration_cast<std::chrono::milliseconds>(
                              at - now)
                        : std::chrono::milliseconds{0};
  self->delayed_send(self, delay, wake_atom::value, first);
}

/// Files a timer of the current sender.
template <class Self>
void add_timer(Self* self, std::chrono::milliseconds delay, uint64_t epoch,
               caf::atom_value reply) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (!sender)
    return;
  // Rounded up: never early.
  auto due = (self->clock().now() - st.origin + delay + st.resolution
              - std::chrono::nanoseconds{1})
             / st.resolution;
  st.slots[due].push_back(
      timer_wheel_state::entry{caf::weak_actor_ptr{sender.get()}, epoch,
                               reply});
  arm(self);
}

template <class Self>
caf::behavior timer_wheel_impl(Self* self, std::chrono::milliseconds resolution) {
  auto& st = self->state;
  st.resolution = resolution.count() > 0 ? resolution
                                         : std::chrono::milliseconds{1};
  st.origin = self->clock().now();
  return {
      [=](schedule_atom, uint32_t delay_ms, uint64_t epoch) {
        add_timer(self, std::chrono::milliseconds{delay_ms}, epoch,
                  tick_atom::value);
      },
      [=](schedule_atom, caf::atom_value reply, uint64_t epoch,
          uint64_t delay_ms) {
        // At most about 100 years ahead.
        constexpr uint64_t max_ms = uint64_t{1} << 41;
        add_timer(self, std::chrono::milliseconds{std::min(delay_ms, max_ms)},
                  epoch, reply);
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
          for (auto& e : entries)
            if (auto who = caf::actor_cast<caf::actor>(e.who.lock()))
              self->send(who, e.reply, e.epoch);
        }
        arm(self);
      },
  };
}

} // namespace

caf::behavior timer_wheel(timer_wheel_broker* self,
                          std::chrono::milliseconds resolution) {
  self->state.waker = std::make_shared<wakeup_thread>(
      caf::weak_actor_ptr{self->ctrl()});
  return census(self, metrics::actor_kind::timers,
                timer_wheel_impl(self, resolution));
}

caf::behavior timer_wheel_actor(timer_wheel_actor_type* self,
                                std::chrono::milliseconds resolution) {
  return census(self, metrics::actor_kind::timers,
                timer_wheel_impl(self, resolution));
}

} // namespace castor
