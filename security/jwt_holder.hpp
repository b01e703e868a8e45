#pragma once

// The JWT verifier in effect, swappable while the server runs: a reload
// (SIGHUP) that reads new key files puts a new verifier here, and the JWT
// authenticator asks the holder at each login. Tokens already accepted are
// not checked again. Thread-safe.

#include <memory>
#include <mutex>
#include <type_traits>

#include "security/jwt.hpp"

namespace castor::security {

class jwt_holder {
public:
  explicit jwt_holder(std::shared_ptr<const jwt_verifier> jwt)
    : jwt_(std::move(jwt)) {
  }

  /// The verifier in effect now.
  std::shared_ptr<const jwt_verifier> get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return jwt_;
  }

  /// Puts `jwt` in effect for every later login.
  void replace(std::shared_ptr<const jwt_verifier> jwt) {
    std::lock_guard<std::mutex> guard{mtx_};
    jwt_ = std::move(jwt);
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const jwt_verifier> jwt_;
};

/// A fixed verifier or a holder's current one (null: JWT off).
class jwt_source {
public:
  jwt_source() = default;
  jwt_source(std::nullptr_t) {
  }
  template <class T>
  jwt_source(std::shared_ptr<T> p) {
    if constexpr (std::is_same_v<std::remove_const_t<T>, jwt_holder>)
      holder_ = std::move(p);
    else
      fixed_ = std::move(p);
  }

  std::shared_ptr<const jwt_verifier> get() const {
    return holder_ ? holder_->get() : fixed_;
  }

private:
  std::shared_ptr<const jwt_verifier> fixed_;
  std::shared_ptr<const jwt_holder> holder_;
};

} // namespace castor::security
