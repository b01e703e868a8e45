#include "protocol/session_access.hpp"

#include <doctest/doctest.h>

using namespace castor::mqtt;

namespace {

/// Answers every check with `yes` (the publish check too).
class fixed_policy final : public access_policy {
public:
  explicit fixed_policy(bool yes) : yes_(yes) {}
  publish_check check_publish(std::string_view) const override {
    return yes_ ? publish_check::allow : publish_check::deny;
  }
  bool may_subscribe(std::string_view) const override {
    return yes_;
  }
  bool may_read(std::string_view) const override {
    return yes_;
  }
  bool reads_everything() const noexcept override {
    return yes_;
  }
  bool may_modify(std::string_view) const override {
    return yes_;
  }
  bool may_register_handler() const override {
    return yes_;
  }
  bool may_send_to_handler(std::string_view) const override {
    return yes_;
  }
  bool may_send_to_session(std::string_view) const override {
    return yes_;
  }
  bool may_view_sessions() const override {
    return yes_;
  }
  bool may_modify_sessions() const override {
    return yes_;
  }

private:
  bool yes_;
};

/// Every check of `a`, each true when it allows.
std::vector<bool> checks(const access_policy& a) {
  return {a.check_publish("t") == publish_check::allow,
          a.may_subscribe("t/#"),
          a.may_read("t"),
          a.reads_everything(),
          a.may_modify("t"),
          a.may_register_handler(),
          a.may_send_to_handler("p"),
          a.may_send_to_session("p"),
          a.may_view_sessions(),
          a.may_modify_sessions()};
}

} // namespace

TEST_CASE("session_access: every check goes to the policy in effect") {
  // A check the wrapper does not forward would answer the base class's
  // default (allow) instead of the policy's.
  session_access a{std::make_shared<fixed_policy>(false)};
  CHECK(checks(a) == std::vector<bool>(10, false));
  CHECK(a.replace(std::make_shared<fixed_policy>(true)));
  CHECK(checks(a) == std::vector<bool>(10, true));
  CHECK(a.replace(std::make_shared<fixed_policy>(false)));
  CHECK(checks(a) == std::vector<bool>(10, false));
  CHECK_FALSE(a.replace(nullptr));
}

TEST_CASE("session_access: replacements are bounded") {
  session_access a{std::make_shared<fixed_policy>(false)};
  size_t n = 0;
  while (a.replace(std::make_shared<fixed_policy>(true)))
    ++n;
  CHECK(n == session_access::max_replacements);
  CHECK(checks(a) == std::vector<bool>(10, true));
}
