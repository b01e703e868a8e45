#include "security/rights_registry.hpp"

#include <algorithm>

namespace castor::security {

rights_registry::rights_registry(std::shared_ptr<const security_store> store)
    : store_(std::move(store)) {
  // nop
}

std::shared_ptr<topic_access>
rights_registry::rights_of(const std::string& principal,
                           const std::vector<std::string>& roles) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto& slot = by_principal_[principal];
  if (auto held = slot.lock()) {
    if (held->roles() != roles) {
      held->update(held->store(), roles);
      guard.unlock();
      changed(principal);
    }
    return held;
  }
  auto made = std::make_shared<topic_access>(store_, roles);
  slot = made;
  if (by_principal_.size() >= prune_at_)
    prune_locked();
  return made;
}

std::shared_ptr<topic_access>
rights_registry::find(const std::string& principal) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_principal_.find(principal);
  return i == by_principal_.end() ? nullptr : i->second.lock();
}

bool rights_registry::set_roles(const std::string& principal,
                                std::vector<std::string> roles) {
  auto held = find(principal);
  if (!held)
    return false;
  held->update(held->store(), std::move(roles));
  changed(principal);
  return true;
}

std::shared_ptr<topic_access>
rights_registry::session_rights(std::vector<std::string> roles) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto p = std::make_shared<topic_access>(store_, std::move(roles));
  // Forget those whose sessions went (amortised: when the list doubled).
  if (sessions_own_.size() >= 64
      && (sessions_own_.size() & (sessions_own_.size() - 1)) == 0)
    sessions_own_.erase(std::remove_if(sessions_own_.begin(),
                                       sessions_own_.end(),
                                       [](auto& w) { return w.expired(); }),
                        sessions_own_.end());
  sessions_own_.push_back(p);
  return p;
}

void rights_registry::replace_store(std::shared_ptr<const security_store> store,
                                    reroles_fn reroles) {
  std::vector<std::pair<std::string, std::shared_ptr<topic_access>>> held;
  std::vector<std::shared_ptr<topic_access>> own;
  std::shared_ptr<const security_store> old;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    old = store_;
    store_ = store;
    for (auto& [name, weak] : by_principal_)
      if (auto p = weak.lock())
        held.emplace_back(name, std::move(p));
    for (auto& weak : sessions_own_)
      if (auto p = weak.lock())
        own.push_back(std::move(p));
  }
  // Roles given to one session stay its roles under the new store.
  for (auto& rights : own)
    rights->update(store, rights->roles());
  for (auto& [name, rights] : held) {
    auto roles = rights->roles();
    std::optional<std::vector<std::string>> next;
    if (reroles) {
      next = reroles(name, roles);
    } else if (auto known = store->roles_of(name)) {
      next = std::move(known);
    } else if (old && !name.empty() && old->roles_of(name)) {
      next = std::vector<std::string>{}; // removed from the store
    }
    rights->update(store, next ? std::move(*next) : std::move(roles));
  }
  changed(std::nullopt);
}

void rights_registry::on_change(change_fn fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  on_change_ = fn ? std::make_shared<const change_fn>(std::move(fn)) : nullptr;
}

void rights_registry::changed(const std::optional<std::string>& principal) const {
  std::shared_ptr<const change_fn> fn;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    fn = on_change_;
  }
  if (fn)
    (*fn)(principal);
}

size_t rights_registry::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto& [name, weak] : by_principal_)
    if (!weak.expired())
      ++n;
  return n;
}

void rights_registry::prune_locked() {
  for (auto i = by_principal_.begin(); i != by_principal_.end();) {
    if (i->second.expired())
      i = by_principal_.erase(i);
    else
      ++i;
  }
  // Prune again when the map has doubled since.
  prune_at_ = std::max<size_t>(64, by_principal_.size() * 2);
}

} // namespace castor::security
