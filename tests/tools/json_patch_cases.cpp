// Prints random JSON delta cases, one JSON object per line:
// {"from": ..., "to": ..., "patch": ...} with the patch Castor computes
// (protocol/json_delta.hpp), for tests/interop/test_json_patch.py to apply
// with an independent JSON Patch implementation.
//
// Usage: castor-json-patch-cases [COUNT] [SEED]

#include <cstdlib>
#include <iostream>
#include <random>

#include "protocol/json_delta.hpp"
#include "tests/unit/json_random.hpp"

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 1000;
  unsigned seed = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
  std::mt19937 rng(seed);
  auto doc = castor_test::random_json(rng, 4);
  for (int i = 0; i < count; ++i) {
    if (i % 50 == 0)
      doc = castor_test::random_json(rng, 4);
    auto next = doc;
    for (int k = rng() % 3; k >= 0; --k)
      castor_test::mutate(rng, next);
    nlohmann::json line = {{"from", doc},
                           {"to", next},
                           {"patch", castor::make_json_patch(doc, next)}};
    std::cout << line.dump() << '\n';
    doc = std::move(next);
  }
  return 0;
}
