#pragma once

// The admin REST API's parts shared by its files: the router authenticates
// a request (app/rest_api.cpp) and hands the endpoints other than
// principals and roles to a worker actor of their own (app/rest_endpoints.cpp),
// which asks the other actors and answers.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "app/rest_answers.hpp"
#include "app/rest_api.hpp"

namespace castor {

namespace security {
class topic_access;
}

namespace rest {

/// What a worker answers one request with.
struct job {
  http_context_ptr ctx;
  http::request req;
  /// The path after /api/v1/ (no trailing '/'); the method, HEAD as GET.
  std::string rest;
  std::string method;
  rest_caller caller;
  /// The caller's rights object (null: every right), for the global
  /// permissions (VIEW_SERVER).
  std::shared_ptr<const security::topic_access> rights;
  /// The listeners and their ports, in configuration order.
  std::vector<caf::actor> listeners;
  std::vector<uint16_t> ports;
};

using job_ptr = std::shared_ptr<const job>;

/// Spawns the worker for `j`: it answers (http_atom) with the response,
/// then ends.
caf::actor spawn_worker(caf::actor_system& sys, job_ptr j);

} // namespace rest

} // namespace castor
