#pragma once

// The binary delta of STRING and BINARY topics: how to make a new value
// from the previous one a subscriber has, by copying ranges of the old
// value and inserting new bytes. Computed once per update in the topic;
// sent instead of the value only when it is smaller.
//
// Format (content type `application/x-castor-delta`): a sequence of
// instructions, each an opcode byte and unsigned LEB128 varints:
//
//   0x01 offset length   copy `length` bytes of the old value from `offset`
//   0x02 length bytes    insert the `length` bytes that follow
//
// Applied in order, they append to an empty result; the result is the new
// value. An empty delta makes an empty value. Lengths are never 0, a copy
// stays inside the old value, and nothing follows the last instruction.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor {

/// The content type of a binary delta.
inline constexpr std::string_view binary_delta_content_type
    = "application/x-castor-delta";

/// A delta making `to` from `from`: short where `to` shares runs of bytes
/// with `from` (a common prefix and suffix, and runs of 31 bytes or more
/// anywhere else). Not necessarily smaller than `to`: compare before
/// sending.
std::string make_binary_delta(std::string_view from, std::string_view to);

/// The value `delta` makes from `from`; none if the delta is malformed (an
/// unknown opcode, a truncated varint or insert, a zero length, a copy
/// outside `from`) or would make a value longer than `max_size`.
std::optional<std::string> apply_binary_delta(std::string_view from,
                                              std::string_view delta,
                                              size_t max_size = 1u << 28);

} // namespace castor
