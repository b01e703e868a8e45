#include "security/auth.hpp"

namespace castor::security {

std::string_view to_string(auth_decision d) noexcept {
  switch (d) {
  case auth_decision::allow:
    return "allow";
  case auth_decision::deny:
    return "deny";
  case auth_decision::abstain:
    return "abstain";
  }
  return "?";
}

auth_result run_chain(const std::vector<std::function<auth_result()>>& chain) {
  for (auto& handler : chain) {
    auto r = handler();
    if (r.decision != auth_decision::abstain)
      return r;
  }
  return auth_result::deny("no authentication handler accepted the client");
}

} // namespace castor::security
