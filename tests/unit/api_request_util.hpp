#pragma once

// Helpers of the request parser's tests (protocol/api_request.hpp): a
// request read as the type it must be, or the error it must be refused
// with.

#include <doctest/doctest.h>

#include <string_view>
#include <variant>

#include "protocol/api_request.hpp"

namespace castor::api::test {

template <class T>
T parsed(std::string_view op, const char* payload) {
  auto r = parse_request(op, payload);
  if (auto e = std::get_if<error>(&r))
    FAIL(op << " " << payload << ": " << e->code << " " << e->message);
  auto& req = std::get<request>(r);
  REQUIRE(std::holds_alternative<T>(req));
  return std::get<T>(req);
}

inline error refused(std::string_view op, std::string_view payload) {
  auto r = parse_request(op, payload);
  REQUIRE(std::holds_alternative<error>(r));
  return std::get<error>(r);
}

} // namespace castor::api::test
