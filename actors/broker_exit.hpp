#pragma once

// CAF 0.17.6 leaves the mailbox of a terminated broker open and full:
// abstract_broker::cleanup() skips scheduled_actor::cleanup(), which closes
// and empties the mailbox of every other actor. A message that reaches a
// broker after it ended stays there and keeps its sender alive, so two
// ended brokers holding a message from each other (a listener's kick in a
// closed connection, the connection's down message in the ended listener)
// are never freed: LeakSanitizer reports them at exit. Every broker Castor
// spawns gets this fix right after it is spawned.

#include <caf/fwd.hpp>

namespace castor {

/// Closes and empties `broker`'s mailbox when it terminates, as CAF does for
/// other actors: later messages are dropped (requests answered with an
/// error) and the ones left over release their senders.
void drain_mailbox_on_exit(const caf::actor& broker);

} // namespace castor
