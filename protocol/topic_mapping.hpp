#pragma once

// The payload mapping of MQTT publishes: which topics are explicit, of
// which type (config `topics.mapping` rules for the topics under a filter,
// and the topics the API added by path), and what a publish to an explicit
// topic becomes (converted to the type, in the type's MQTT form) or why it
// is refused. Other topics are implicit: they take any payload, as a
// standard MQTT broker does. Pure C++17; one object shared by every
// connection (which read it on each publish) and the API (which adds and
// removes topics); thread-safe.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/packet.hpp"
#include "protocol/topic_spec.hpp"

namespace castor {

/// One rule: the topics matching `filter` (an MQTT topic filter, not
/// shared) are explicit topics specified by `spec`.
struct mapping_rule {
  std::string filter;
  topic_specification spec;
};

class topic_mapping {
public:
  using spec_ptr = std::shared_ptr<const topic_specification>;

  topic_mapping() = default;
  explicit topic_mapping(std::vector<mapping_rule> rules);

  /// The specification of an explicit topic: the one the API added at
  /// `topic` (a valid topic name), else that of the first rule whose filter
  /// matches; null for an implicit topic.
  spec_ptr find(std::string_view topic) const;

  /// No rules and no topic added: every topic is implicit (one relaxed
  /// atomic load; what the publish path asks first).
  bool empty() const noexcept {
    return rules_.empty() && added_count_.load(std::memory_order_relaxed) == 0;
  }

  enum class add_result : uint8_t {
    added,     ///< `path` is now an explicit topic of `spec`
    exists,    ///< it was, with an equal specification
    conflicts, ///< it is, with another specification (unchanged)
  };
  /// The API adds an explicit topic at `path`.
  add_result add(const std::string& path, spec_ptr spec);
  /// The API removes it: true if `path` had been added.
  bool remove(const std::string& path);
  /// The specification the API added at `path` (null: none).
  spec_ptr added(const std::string& path) const;
  /// Every topic the API added, by path (a member that joins a node group
  /// gets them).
  std::vector<std::pair<std::string, spec_ptr>> added_all() const;
  /// Told of every topic added (with its specification) or removed (with
  /// null), in their order, while the mapping is locked: it must not call
  /// the mapping (the store keeps the API's topics this way).
  using observer
      = std::function<void(const std::string& path, const spec_ptr& spec)>;
  void observe(observer f);
  /// How many topics the API added, by type (the metrics).
  std::map<topic_type, size_t> added_by_type() const;

  /// Changes with every topic added or removed: a topic that keeps its
  /// specification looks it up again only when this changed.
  uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }

private:
  std::vector<std::pair<std::string, spec_ptr>> rules_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, spec_ptr> added_;
  std::atomic<size_t> added_count_{0};
  std::atomic<uint64_t> generation_{0};
  observer observer_;
};

/// What connections read (the publish path); the API's requests add and
/// remove topics through the same object.
using mapping_ptr = std::shared_ptr<topic_mapping>;

/// Why a mapping rule cannot be used: `field` is filter, type or
/// properties.<NAME>.
struct mapping_rule_error {
  std::string field;
  std::string message;
};

/// Checks a rule as configured: a valid, non-shared topic filter, a type
/// and properties as the API takes them (make_specification). Time series
/// topics are not created by publishes (their events carry sequence
/// numbers and timestamps that a plain publish does not).
std::optional<mapping_rule_error> check_mapping_rule(std::string_view filter,
                                                     topic_type type);

/// Applies an explicit topic's specification to a publish to it: the
/// payload must convert to the topic's type (convert_payload), and the
/// publish then carries the type's MQTT form (mqtt_form_of: content type
/// application/json for JSON, payload format indicator 1 for text and
/// numbers, neither for binary; what the publisher said is replaced).
/// Returns the reason when it does not convert (the publish unchanged).
///
/// A time series takes events of its event type, in that type's form;
/// the user properties that events carry (series_properties) are the
/// server's: the publisher's of those names are dropped and `author`
/// becomes `principal` (empty for anonymous).
std::optional<std::string> map_publish(const topic_specification& spec,
                                       mqtt::publish& p,
                                       std::string_view principal = {});

/// The user properties of a time series event as subscribers receive it:
/// its sequence number, its timestamp (ms since the epoch), its author and,
/// for an edit, the sequence number of the event it edits.
namespace series_properties {
inline constexpr std::string_view seq = "seq";
inline constexpr std::string_view timestamp = "timestamp";
inline constexpr std::string_view author = "author";
inline constexpr std::string_view original = "original";
/// Whether `name` is one of them.
bool reserved(std::string_view name) noexcept;
} // namespace series_properties

} // namespace castor
