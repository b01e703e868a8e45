#pragma once

// JSON payloads (--json-doc): a JSON object of about a given size with many
// fields, of which one or two change from message to message, carrying the
// publisher id, the sequence number and (for latency) the send time as
// fields instead of the binary header; and the cheap readers that take them
// back out of a whole document or of a JSON Patch (RFC 6902) that replaces
// the sequence number.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace castor::bench {

/// Content types of JSON values and JSON Patches (MQTT 5 property).
constexpr std::string_view json_content_type = "application/json";
constexpr std::string_view json_patch_content_type
    = "application/json-patch+json";

/// Builds the documents of one run. Layout:
///   {"pub":P,"seq":S[,"ts":T][,"counter":C],"f0":...,"f1":"...",...}
/// "seq" changes with every message; "counter" (with two changed fields)
/// too; "ts" (send time, only when latency is recorded) too; the filler
/// fields f0..fN (numbers and strings, alternating) never change.
class json_doc {
public:
  /// `size`: the document's approximate size in bytes (it grows by a few
  /// bytes as the sequence number gets longer); `changed_fields` 1 or 2.
  void build(size_t size, uint32_t changed_fields, bool with_time);

  /// Writes the document of message `seq` of publisher `pid` into `out`.
  void render(uint32_t pid, uint64_t seq, uint64_t ts,
              std::vector<uint8_t>& out) const;

  /// Fields in a document (the changing ones included).
  size_t fields() const {
    return fields_;
  }

private:
  std::string filler_; ///< the fixed fields and the closing brace
  uint32_t changed_ = 1;
  bool time_ = false;
  size_t fields_ = 0;
};

/// What a whole document says about itself.
struct json_stamp {
  uint32_t pid = 0;
  uint64_t seq = 0;
  uint64_t ts = 0;
  bool has_ts = false;
};

/// Reads "pub", "seq" and "ts" from a whole document (a JSON object, key
/// order free); false when "pub" or "seq" is missing or not an unsigned
/// integer.
bool read_json_stamp(const uint8_t* p, size_t n, json_stamp& out);

/// Reads the new sequence number from a JSON Patch: the "value" of the
/// operation whose "path" is "/seq" (or, when the patch replaces the whole
/// document, the document's "seq"). False when it has none.
bool read_patch_seq(const uint8_t* p, size_t n, uint64_t& seq);

} // namespace castor::bench
