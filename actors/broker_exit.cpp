#include "actors/broker_exit.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/io/abstract_broker.hpp>

namespace castor {

void drain_mailbox_on_exit(const caf::actor& broker) {
  if (!broker)
    return;
  auto ptr = dynamic_cast<caf::io::abstract_broker*>(
    caf::actor_cast<caf::abstract_actor*>(broker));
  if (ptr == nullptr)
    return;
  // Runs in the broker's cleanup (on its thread), like the part of
  // scheduled_actor::cleanup() that brokers miss.
  ptr->attach_functor([ptr](const caf::error& reason) {
    auto& mbox = ptr->mailbox();
    if (mbox.closed())
      return;
    mbox.close();
    ptr->get_normal_queue().flush_cache();
    ptr->get_urgent_queue().flush_cache();
    caf::detail::sync_request_bouncer bounce{reason};
    while (mbox.queue().new_round(1000, bounce).consumed_items)
      ; // nop
  });
}

} // namespace castor
