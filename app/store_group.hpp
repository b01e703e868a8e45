#pragma once

// The security store of a node group (docs/cluster.md, "The security
// store"): one store for every member, kept by the group's keeper, the
// member that has run longest (cluster_routes::lock_keeper, as for the
// locks), so that a node that joins never replaces the group's store with
// its own file.
//
// Each node with a store file runs one of these actors (on a thread of
// its own: it hashes passwords and writes the store file). It is the REST
// API's editor of the store (app/rest_security_edit.hpp) there:
//
//   (http_atom, http::request) -> http::response
//       an edit of principals or roles made on this node: made here when
//       this node is the keeper, else passed to the keeper, whose answer
//       brings the new store, which is in effect here before the edit is
//       answered
//   (update_atom, std::string text)
//       the store file was reloaded here (SIGHUP) and gave `text`: it is
//       the group's store from now on (passed to the keeper)
//
// From the members, through their routers (actors/cluster_router.hpp):
//
//   (cl_store_atom, http::request) -> (http::response, std::string text)
//       a member's edit, for this node as the keeper; `text` is the new
//       store ("" when nothing changed)
//   (cl_store_atom, update_atom, std::string text) -> bool
//       a member's reloaded store file, for this node as the keeper
//   (cl_store_atom, std::string digest) -> std::string text
//       the keeper's store, "" when its SHA-256 is `digest`
//   (cl_store_atom)
//       the keeper's store changed
//
// A member asks the keeper for its store when told that it changed and
// every half second, and puts it in effect when it differs (saved to its
// own store file), so a member that joins, or missed a change, has the
// group's store within about a second.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/cluster_routes.hpp"
#include "app/http_router.hpp"

namespace castor {

caf::actor spawn_store_group(caf::actor_system& sys, http_context_ptr ctx,
                             cluster_routes_ptr routes);

} // namespace castor
