#pragma once

// Behaviors checked against a typed interface.
//
// Topics, sessions, the tree and the registry run either on the scheduler's
// workers (stateful actors) or on the I/O thread (brokers without sockets),
// one handler set for both. They are spawned as dynamically typed actors and
// handed out as their interface (caf::actor_cast); their handlers are built
// through implement<Interface>(), which compiles only if they match the
// interface exactly: none missing, none extra, the same argument and result
// types. Senders hold the interface, so a message the actor does not handle
// does not compile either.

#include <utility>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/response_type.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/typed_behavior.hpp>

namespace castor {

template <class Interface, class... Fs>
caf::behavior implement(Fs... fs) {
  typename Interface::behavior_type checked{std::move(fs)...};
  return std::move(checked.unbox());
}

/// Sends to an actor known by its dynamic handle (a key inside a message,
/// such as the session of a topic_subscription, or the sender of a message)
/// what `Interface` accepts: checked at compile time like a send to a
/// handle of that interface, without converting the handle.
template <class Interface, class Self, class... Ts>
void send_as(Self* self, const caf::actor& dest, Ts&&... xs) {
  using token = caf::detail::type_list<caf::detail::strip_and_convert_t<Ts>...>;
  static_assert(
      caf::response_type_unbox<caf::signatures_of_t<Interface>, token>::valid,
      "the receiver's interface does not accept this message");
  self->send(dest, std::forward<Ts>(xs)...);
}

} // namespace castor
