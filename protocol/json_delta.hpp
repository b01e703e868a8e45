#pragma once

// The delta of JSON topics: an RFC 6902 JSON Patch from the previous value
// a subscriber has to the new one (content type
// `application/json-patch+json`), computed once per update in the topic
// and sent instead of the value only when it is smaller. Any JSON Patch
// implementation can apply it.
//
// The patch is small for the common case: a changed field is one
// `replace` at its path, an added or removed field one `add` or `remove`,
// an element inserted into or removed from an array one `add` or `remove`
// (common leading and trailing elements are kept); wherever the operations
// for a part of the document would be longer than the part itself, that
// part is replaced whole.

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace castor {

inline constexpr std::string_view json_patch_content_type
    = "application/json-patch+json";

/// The patch that makes `to` from `from` (an array of operations; empty
/// when they are equal).
nlohmann::json make_json_patch(const nlohmann::json& from,
                               const nlohmann::json& to);

/// `from` with `patch` applied; none if the patch is not a valid RFC 6902
/// patch for it (a failed `test` included).
std::optional<nlohmann::json> apply_json_patch(const nlohmann::json& from,
                                               const nlohmann::json& patch);

/// Applies `patch` to `doc` in place: `replace`, `add` and `remove` change
/// the document where they point (no copy of it); a patch with any other
/// operation is applied by apply_json_patch() and the result moved in.
/// False if the patch is not a valid RFC 6902 patch for `doc`; `doc` may
/// then have some of the operations applied (the caller drops it).
bool apply_json_patch_in_place(nlohmann::json& doc,
                               const nlohmann::json& patch);

} // namespace castor
