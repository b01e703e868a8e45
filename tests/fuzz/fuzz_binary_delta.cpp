// Fuzzes the binary delta (protocol/binary_delta.hpp).
//
// Input: a 16-bit length, then `from` of that length; the rest is `to`.
// Checked: the delta made from `from` to `to` applies to `from` and gives
// `to` exactly; `to` read as a delta applies to `from` without a fault,
// and what it gives (if anything) is within the size limit and is made
// again exactly by a delta of its own.

#include "protocol/binary_delta.hpp"

#include "fuzz_check.hpp"

#include <string>

using namespace castor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto n = in.u16();
  std::string from{in.bytes(n)};
  std::string to{in.rest()};
  auto d = make_binary_delta(from, to);
  auto back = apply_binary_delta(from, d);
  FUZZ_CHECK(back && *back == to);
  constexpr size_t limit = 1u << 16;
  auto made = apply_binary_delta(from, to, limit);
  if (made) {
    FUZZ_CHECK(made->size() <= limit);
    auto again = apply_binary_delta(from, make_binary_delta(from, *made));
    FUZZ_CHECK(again && *again == *made);
  }
  return 0;
}
