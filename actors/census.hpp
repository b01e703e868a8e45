#pragma once

// The actor census: how many actors of each kind are alive, how many
// messages they handled, and how deep their mailboxes are (now and at the
// most). CAF 0.17.6 has no telemetry of its own, so an actor's behavior is
// wrapped: before each message its behavior handles, the wrapper counts it
// in the thread's metrics block (metrics/metrics.hpp) and samples the
// mailbox (what the actor has fetched and not yet handled). A count is a
// thread-local store; the scrape sums them.
//
// Responses to an actor's own requests go to their handlers, not to its
// behavior, and are not counted.

#include <caf/behavior.hpp>
#include <caf/scheduled_actor.hpp>

#include "metrics/metrics.hpp"

namespace castor {

/// `b`, counted as a behavior of `self`, an actor of kind `k`; `self` is
/// counted alive from now until it terminates. Once per actor.
caf::behavior census(caf::scheduled_actor* self, metrics::actor_kind k,
                     caf::behavior b);

/// `b` counted as census() counts it, without counting the actor again
/// (for the behaviors of become()).
caf::behavior counted(caf::scheduled_actor* self, metrics::actor_kind k,
                      caf::behavior b);

} // namespace castor
