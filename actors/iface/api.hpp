#pragma once

// The interface of an API request actor (actors/api.hpp), as a CAF typed
// actor. docs/architecture.md lists it (tools/interfaces.py).

#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/types.hpp"

namespace castor {

using api_interface = caf::typed_actor<
    // Operation (what follows `$castor/api/`) and JSON payload: the JSON
    // answer. The actor ends once it has answered.
    caf::replies_to<api_atom, std::string, std::string>::with<std::string>>;

} // namespace castor
