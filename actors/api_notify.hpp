#pragma once

// topics/notify and topics/unnotify of the platform API (docs/platform.md):
// the caller is told of the topics a selector selects, as events written
// to the request's response topic: `selected` for each topic with a value
// when the selection is made, then `added` and `removed` as topics gain a
// value or lose it (the topic tree's watches, actors/topic_tree.cpp), and
// `deselected` for each when the selection ends.

#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

void run_notify(caf::event_based_actor* self, const api_context& ctx,
                api::notify_topics n,
                caf::typed_response_promise<std::string> rp);

void run_unnotify(caf::event_based_actor* self, const api_context& ctx,
                  api::unnotify_topics n,
                  caf::typed_response_promise<std::string> rp);

} // namespace castor
