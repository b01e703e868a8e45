#pragma once

// Missing-topic handlers (docs/platform.md, "Missing-topic handlers"): what
// the server tells a handler when a subscription or a fetch selects no
// topic. Pure C++17; the tree and the API actors send it
// (actors/missing_topics.hpp).

#include <string>
#include <string_view>

namespace castor {

/// The literal path prefix of an MQTT filter or a topic selector (whole
/// levels before the first wildcard or pattern; "" when there is none or
/// the text is not a selector): what handlers' paths are matched against.
std::string missing_prefix(std::string_view filter_or_selector);

/// The topic of the request a handler gets: `$castor/missing/<prefix>`.
std::string missing_request_topic(std::string_view prefix);

/// The request's JSON: {"selector", "session" ($SessionId), "operation"
/// (subscribe or fetch)}.
std::string missing_request_payload(std::string_view selector,
                                    std::string_view session,
                                    std::string_view operation);

} // namespace castor
