#pragma once

// The rights of one connected session, as `sessions/change-roles`
// (docs/platform.md, "Sessions") can change them while it is connected.
// Every holder of the session's rights (its channel, its session actor,
// the subscriptions it made in the topic tree) holds this one object;
// each check goes to the policy in effect. It starts as the principal's
// own rights (shared with its other sessions); a change of roles puts a
// policy of the session's own in their place, once, which later changes
// update in place. Pure C++17; thread-safe: a check is one atomic load
// more than the policy it forwards to.

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "protocol/channel.hpp"

namespace castor::mqtt {

class session_access final : public access_policy {
public:
  /// `initial`: the principal's rights (not null).
  explicit session_access(access_ptr initial)
    : current_(initial.get()) {
    kept_.push_back(std::move(initial));
  }

  /// Puts `next` in place of the policy in effect. Every policy this
  /// object ever forwarded to stays alive as long as it does (a check may
  /// be under way on another thread): callers replace rarely (once per
  /// session, see above), and at most `max_replacements` times.
  bool replace(access_ptr next) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!next || kept_.size() > max_replacements)
      return false;
    current_.store(next.get(), std::memory_order_release);
    kept_.push_back(std::move(next));
    return true;
  }

  static constexpr size_t max_replacements = 16;

  publish_check check_publish(std::string_view topic) const override {
    return now().check_publish(topic);
  }
  bool may_subscribe(std::string_view filter) const override {
    return now().may_subscribe(filter);
  }
  bool may_read(std::string_view topic) const override {
    return now().may_read(topic);
  }
  bool reads_everything() const noexcept override {
    return now().reads_everything();
  }
  bool may_modify(std::string_view topic) const override {
    return now().may_modify(topic);
  }
  bool may_register_handler() const override {
    return now().may_register_handler();
  }
  bool may_send_to_handler(std::string_view path) const override {
    return now().may_send_to_handler(path);
  }
  bool may_send_to_session(std::string_view path) const override {
    return now().may_send_to_session(path);
  }
  bool may_view_sessions() const override {
    return now().may_view_sessions();
  }
  bool may_modify_sessions() const override {
    return now().may_modify_sessions();
  }

private:
  const access_policy& now() const noexcept {
    return *current_.load(std::memory_order_acquire);
  }

  std::atomic<const access_policy*> current_;
  std::mutex mtx_;
  std::vector<access_ptr> kept_;
};

} // namespace castor::mqtt
