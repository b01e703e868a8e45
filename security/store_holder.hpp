#pragma once

// The security store in effect, swappable while the server runs. Every
// reader (the authenticators, connections for SCRAM, the REST API) asks
// the holder at the time of each login or check; `replace` swaps the store
// for new logins and, through the rights registry, for the rights of every
// connected session at once. An edit through the REST API (app/
// rest_security.cpp) and a reload of the store file both end in
// `replace`. Thread-safe.

#include <memory>
#include <mutex>
#include <type_traits>

#include "security/rights_registry.hpp"
#include "security/security_store.hpp"

namespace castor::security {

class store_holder {
public:
  explicit store_holder(std::shared_ptr<const security_store> store)
    : store_(std::move(store)) {
  }

  /// The store in effect now.
  std::shared_ptr<const security_store> get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return store_;
  }

  /// The registry whose rights follow the store (may be null).
  void set_rights(std::shared_ptr<rights_registry> rights) {
    std::lock_guard<std::mutex> guard{mtx_};
    rights_ = std::move(rights);
  }

  /// Puts `store` in effect: new logins use it, and every principal whose
  /// rights are held gets the roles the new store gives it (none if it is
  /// gone; token and anonymous principals keep theirs), so subscriptions
  /// and publishes are checked against it from now on.
  void replace(std::shared_ptr<const security_store> store) {
    std::shared_ptr<rights_registry> rights;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      store_ = store;
      rights = rights_;
    }
    if (rights)
      rights->replace_store(std::move(store));
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const security_store> store_;
  std::shared_ptr<rights_registry> rights_;
};

/// A fixed store or a holder's current one (null: no store).
class store_source {
public:
  store_source() = default;
  store_source(std::nullptr_t) {
  }
  template <class T>
  store_source(std::shared_ptr<T> p) {
    if constexpr (std::is_same_v<std::remove_const_t<T>, store_holder>)
      holder_ = std::move(p);
    else
      fixed_ = std::move(p);
  }

  std::shared_ptr<const security_store> get() const {
    return holder_ ? holder_->get() : fixed_;
  }

private:
  std::shared_ptr<const security_store> fixed_;
  std::shared_ptr<const store_holder> holder_;
};

} // namespace castor::security
