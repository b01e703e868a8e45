#pragma once

// Random JSON documents and edits of them, for the JSON delta tests
// (tests/unit/test_json_delta.cpp and the interoperability check with
// python3-jsonpatch, tests/tools/json_patch_cases.cpp): nested objects and
// arrays, strings with escapes, keys with '/' and '~' (and "-", "0"), numbers.

#include <cstdint>
#include <iterator>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace castor_test {

using json = nlohmann::json;

inline std::string random_key(std::mt19937& rng) {
  static const char* keys[] = {"a", "b",    "temp", "x/y", "t~1", "~",   "/",
                               "name", "", "é", "q\"", "list", "-", "0"};
  return keys[rng() % (sizeof(keys) / sizeof(*keys))];
}

inline json random_scalar(std::mt19937& rng) {
  switch (rng() % 6) {
  case 0:
    return static_cast<int64_t>(rng() % 2000) - 1000;
  case 1:
    return static_cast<double>(rng() % 10000) / 7.0;
  case 2:
    return std::string("line\n\"quoted\" \\ ") + std::to_string(rng() % 100);
  case 3:
    return rng() % 2 == 0;
  case 4:
    return nullptr;
  default:
    return std::string(rng() % 40, static_cast<char>('a' + rng() % 26));
  }
}

inline json random_json(std::mt19937& rng, int depth) {
  if (depth <= 0 || rng() % 3 == 0)
    return random_scalar(rng);
  if (rng() % 2 == 0) {
    json o = json::object();
    for (int n = rng() % 6; n > 0; --n)
      o[random_key(rng)] = random_json(rng, depth - 1);
    return o;
  }
  json a = json::array();
  for (int n = rng() % 6; n > 0; --n)
    a.push_back(random_json(rng, depth - 1));
  return a;
}

/// Changes one place of `j` (picked by walking down at random).
inline void mutate(std::mt19937& rng, json& j, int depth = 0) {
  if (j.is_object() && !j.empty() && rng() % 4 != 0) {
    switch (rng() % 4) {
    case 0:
      j[random_key(rng)] = random_json(rng, 2);
      return;
    case 1:
      j.erase(j.begin().key());
      return;
    default: {
      auto it = j.begin();
      std::advance(it, rng() % j.size());
      mutate(rng, *it, depth + 1);
      return;
    }
    }
  }
  if (j.is_array() && rng() % 4 != 0) {
    switch (rng() % 4) {
    case 0:
      j.insert(j.begin() + static_cast<long>(rng() % (j.size() + 1)),
               random_json(rng, 2));
      return;
    case 1:
      if (!j.empty()) {
        j.erase(j.begin() + static_cast<long>(rng() % j.size()));
        return;
      }
      break;
    default:
      if (!j.empty()) {
        mutate(rng, j[rng() % j.size()], depth + 1);
        return;
      }
    }
  }
  j = rng() % 3 == 0 ? random_json(rng, 3) : random_scalar(rng);
}

} // namespace castor_test
