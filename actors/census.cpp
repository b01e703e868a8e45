#include "actors/census.hpp"

#include <caf/detail/behavior_impl.hpp>

namespace castor {

namespace {

/// Counts each message before the wrapped behavior handles it.
class counting_behavior : public caf::detail::behavior_impl {
public:
  counting_behavior(caf::scheduled_actor* self, metrics::actor_kind k,
                    pointer inner)
      : behavior_impl(inner->timeout()), self_(self),
        kind_(static_cast<size_t>(k)),
        io_(k == metrics::actor_kind::connection
            || k == metrics::actor_kind::listener),
        inner_(std::move(inner)) {}

  ~counting_behavior() override {
    // The actor has gone (or become something else): its mailbox no
    // longer counts.
    if (depth_ != 0)
      metrics::sub(metrics::local().depth[kind_], depth_);
  }

  caf::match_case::result invoke(caf::detail::invoke_result_visitor& f,
                                 caf::type_erased_tuple& xs) override {
    count();
    return inner_->invoke(f, xs);
  }

  caf::match_case::result
  invoke_empty(caf::detail::invoke_result_visitor& f) override {
    count();
    return inner_->invoke_empty(f);
  }

  void handle_timeout() override {
    inner_->handle_timeout();
  }

private:
  void count() {
    auto& b = metrics::local();
    metrics::add(b.processed[kind_]);
    // What the actor has fetched and not yet handled. (The inbox's size()
    // would fetch more, in the middle of the actor's round.)
    uint64_t d = self_->mailbox().queue().total_task_size();
    if (d != depth_) {
      metrics::add(b.depth[kind_], d - depth_);
      depth_ = d;
    }
    metrics::max(b.depth_max[kind_], d);
    // Connections and listeners run on the I/O thread; other actors on
    // the scheduler's workers (or beside the connections, with
    // actor_placement io_thread).
    auto& role = io_ ? b.io : b.worker;
    if (!role.load(std::memory_order_relaxed))
      role.store(true, std::memory_order_relaxed);
  }

  caf::scheduled_actor* self_;
  size_t kind_;
  bool io_;
  uint64_t depth_ = 0; ///< this actor's share of the depth gauge
  pointer inner_;
};

} // namespace

caf::behavior counted(caf::scheduled_actor* self, metrics::actor_kind k,
                      caf::behavior b) {
  if (!b)
    return b;
  caf::behavior::impl_ptr wrapped
      = caf::make_counted<counting_behavior>(self, k, b.as_behavior_impl());
  return caf::behavior(std::move(wrapped));
}

caf::behavior census(caf::scheduled_actor* self, metrics::actor_kind k,
                     caf::behavior b) {
  auto i = static_cast<size_t>(k);
  metrics::add(metrics::local().alive[i]);
  self->attach_functor([i] { metrics::sub(metrics::local().alive[i]); });
  return counted(self, k, std::move(b));
}

} // namespace castor
