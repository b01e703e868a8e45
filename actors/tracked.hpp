#pragma once

// Requests between actors, counted for the metrics (requests outstanding,
// requests timed out): `tracked(self->request(...)).then(f, g)` counts the
// request when sent and again when f or g runs, and a timeout when g gets
// sec::request_timeout. The handlers keep their exact signatures, which CAF
// checks against the answer's types. Without g, an error goes to the
// actor's error handler, as with CAF's then(f).

#include <utility>

#include <caf/detail/type_list.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

#include "metrics/metrics.hpp"

namespace castor {

namespace tracked_detail {

inline void finished(bool timed_out) noexcept {
  auto& b = metrics::local();
  metrics::add(b.requests_finished);
  if (timed_out)
    metrics::add(b.requests_timed_out);
}

template <class F,
          class Args = typename caf::detail::get_callable_trait<F>::arg_types>
struct on_answer;

template <class F, class... Ts>
struct on_answer<F, caf::detail::type_list<Ts...>> {
  F f;
  void operator()(Ts... xs) {
    finished(false);
    f(std::forward<Ts>(xs)...);
  }
};

template <class G>
struct on_error {
  G g;
  void operator()(caf::error& err) {
    finished(err == caf::sec::request_timeout);
    g(err);
  }
};

template <class Handle>
class handle {
public:
  explicit handle(Handle h) : h_(std::move(h)) {}

  template <class F, class G>
  void then(F f, G g) {
    h_.then(on_answer<F>{std::move(f)}, on_error<G>{std::move(g)});
  }

  template <class F>
  void then(F f) {
    auto self = h_.self();
    then(std::move(f),
         [self](caf::error& err) { self->call_error_handler(err); });
  }

  template <class F, class G>
  void await(F f, G g) {
    h_.await(on_answer<F>{std::move(f)}, on_error<G>{std::move(g)});
  }

  template <class F>
  void await(F f) {
    auto self = h_.self();
    await(std::move(f),
          [self](caf::error& err) { self->call_error_handler(err); });
  }

private:
  Handle h_;
};

} // namespace tracked_detail

/// `h`, a request just sent, counted until it is answered.
template <class Handle>
tracked_detail::handle<Handle> tracked(Handle h) {
  metrics::add(metrics::local().requests_started);
  return tracked_detail::handle<Handle>{std::move(h)};
}

} // namespace castor
