#include "protocol/owner_access.hpp"

#include <utility>

namespace castor::mqtt {

owner_access::owner_access(access_ptr inner, mapping_ptr mapping,
                           std::string principal)
    : inner_(std::move(inner)),
      mapping_(std::move(mapping)),
      principal_(std::move(principal)) {
}

bool owner_access::owns(std::string_view topic) const {
  if (mapping_->empty())
    return false;
  auto spec = mapping_->find(topic);
  return spec && !spec->owner.empty() && spec->owner == principal_;
}

publish_check owner_access::check_publish(std::string_view topic) const {
  auto r = inner_->check_publish(topic);
  if (r == publish_check::allow || !owns(topic))
    return r;
  return publish_check::allow;
}

bool owner_access::may_subscribe(std::string_view filter) const {
  if (inner_->may_subscribe(filter))
    return true;
  // A filter naming one topic: the owner's (a wildcard filter is the
  // principal's rights' to grant; its messages from owned topics are
  // delivered, may_read).
  if (filter.find_first_of("+#") != std::string_view::npos)
    return false;
  return owns(filter);
}

bool owner_access::may_read(std::string_view topic) const {
  return inner_->may_read(topic) || owns(topic);
}

bool owner_access::reads_everything() const noexcept {
  return inner_->reads_everything();
}

bool owner_access::may_modify(std::string_view topic) const {
  return inner_->may_modify(topic) || owns(topic);
}

access_ptr with_ownership(access_ptr inner, mapping_ptr mapping,
                          std::string principal) {
  if (!inner || !mapping || principal.empty())
    return inner;
  return std::make_shared<owner_access>(std::move(inner), std::move(mapping),
                                        std::move(principal));
}

} // namespace castor::mqtt
