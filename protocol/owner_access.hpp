#pragma once

// The OWNER property of a topic specification (docs/platform.md): the
// principal it names may publish to the topic, subscribe to it, read it
// and add or remove it (UPDATE, SELECT, READ and MODIFY_TOPIC) whatever
// its roles grant. An access policy around the principal's own: it asks
// the payload mapping only when the principal's rights refuse, so a client
// allowed by its roles pays nothing, and neither do implicit topics while
// no topic is explicit. Pure C++17; immutable and thread-safe as the
// policy it wraps.

#include <memory>
#include <string>
#include <string_view>

#include "protocol/channel.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor::mqtt {

class owner_access final : public access_policy {
public:
  /// `inner`: the principal's rights (not null); `mapping`: the explicit
  /// topics' specifications (not null).
  owner_access(access_ptr inner, mapping_ptr mapping, std::string principal);

  publish_check check_publish(std::string_view topic) const override;
  bool may_subscribe(std::string_view filter) const override;
  bool may_read(std::string_view topic) const override;
  bool reads_everything() const noexcept override;
  bool may_modify(std::string_view topic) const override;
  /// Ownership of a topic gives no messaging rights: asked of the roles.
  bool may_register_handler() const override {
    return inner_->may_register_handler();
  }
  bool may_send_to_handler(std::string_view path) const override {
    return inner_->may_send_to_handler(path);
  }
  bool may_send_to_session(std::string_view path) const override {
    return inner_->may_send_to_session(path);
  }
  bool may_view_sessions() const override {
    return inner_->may_view_sessions();
  }
  bool may_modify_sessions() const override {
    return inner_->may_modify_sessions();
  }

  /// Whether the principal owns the topic name `topic`: its specification
  /// (added, or a mapping rule's) names it as OWNER.
  bool owns(std::string_view topic) const;

private:
  access_ptr inner_;
  mapping_ptr mapping_;
  std::string principal_;
};

/// `inner` wrapped in an owner_access for `principal`, or `inner` itself
/// when nothing can be owned (no principal, no mapping, or no policy: all
/// allowed already).
access_ptr with_ownership(access_ptr inner, mapping_ptr mapping,
                          std::string principal);

} // namespace castor::mqtt
