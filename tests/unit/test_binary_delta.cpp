// The binary delta of STRING and BINARY topics (protocol/binary_delta.hpp):
// over randomised sequences of strings and byte strings, applying each
// delta to the previous value gives the new value exactly; small edits give
// small deltas; malformed deltas are refused.

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "protocol/binary_delta.hpp"

using namespace castor;

namespace {

std::string random_bytes(std::mt19937& rng, size_t n, bool text) {
  std::string s(n, '\0');
  for (auto& c : s)
    c = text ? static_cast<char>('a' + rng() % 26)
             : static_cast<char>(rng() % 256);
  return s;
}

/// One edit of `s`: insert, delete or replace a run, move a run, or an
/// unrelated value now and then.
std::string mutate(std::mt19937& rng, std::string s, bool text) {
  auto pos = [&] { return s.empty() ? 0 : rng() % (s.size() + 1); };
  switch (rng() % 6) {
  case 0:
    s.insert(pos(), random_bytes(rng, rng() % 40, text));
    break;
  case 1: {
    auto p = pos();
    s.erase(p, rng() % 40);
    break;
  }
  case 2: {
    auto p = pos();
    auto run = random_bytes(rng, 1 + rng() % 8, text);
    s.replace(p, run.size(), run);
    break;
  }
  case 3: {
    // Move a run elsewhere.
    auto p = pos();
    auto run = s.substr(p, rng() % 100);
    s.erase(p, run.size());
    s.insert(pos(), run);
    break;
  }
  case 4:
    if (rng() % 8 == 0)
      s = random_bytes(rng, rng() % 300, text);
    else
      s += random_bytes(rng, rng() % 20, text);
    break;
  default:
    if (!s.empty())
      s[rng() % s.size()] ^= 1;
  }
  return s;
}

void check_round_trip(const std::string& from, const std::string& to) {
  auto d = make_binary_delta(from, to);
  auto back = apply_binary_delta(from, d);
  REQUIRE(back);
  CHECK(*back == to);
}

} // namespace

TEST_CASE("binary delta: random sequences of strings and byte strings") {
  std::mt19937 rng(20261204);
  for (bool text : {true, false}) {
    for (int run = 0; run < 20; ++run) {
      auto value = random_bytes(rng, rng() % 600, text);
      for (int step = 0; step < 100; ++step) {
        auto next = mutate(rng, value, text);
        check_round_trip(value, next);
        value = std::move(next);
      }
    }
  }
}

TEST_CASE("binary delta: edge cases") {
  check_round_trip("", "");
  check_round_trip("", "new");
  check_round_trip("old", "");
  check_round_trip("same", "same");
  check_round_trip("abc", "abcabc");
  check_round_trip("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK(make_binary_delta("", "").empty());
  CHECK(apply_binary_delta("anything", "") == std::string{});
}

TEST_CASE("binary delta: a small edit of a large value is small") {
  std::mt19937 rng(7);
  auto doc = random_bytes(rng, 2048, true);
  auto edited = doc;
  edited.replace(1000, 5, "HELLO");
  auto d = make_binary_delta(doc, edited);
  CHECK(d.size() < 20); // copy, insert 5 bytes, copy
  // Two separate edits and a move.
  auto two = doc;
  two.replace(100, 3, "XYZ");
  two.replace(1500, 4, "WXYZ");
  CHECK(make_binary_delta(doc, two).size() < 40);
  auto moved = doc.substr(1024) + doc.substr(0, 1024);
  CHECK(make_binary_delta(doc, moved).size() < 20);
  // Nothing shared: about the value itself.
  auto other = random_bytes(rng, 2048, true);
  auto d2 = make_binary_delta(doc, other);
  CHECK(d2.size() <= other.size() + 4);
}

TEST_CASE("binary delta: malformed deltas are refused") {
  std::string from = "0123456789";
  // copy 2..5, insert "ab"
  std::string ok = std::string{"\x01\x02\x03\x02\x02"} + "ab";
  CHECK(apply_binary_delta(from, ok) == std::string{"234ab"});
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x03"}));     // opcode
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x01\x02"})); // truncated
  CHECK_FALSE(apply_binary_delta(from, std::string("\x01\x02\x00", 3)));
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x01\x08\x03"})); // past
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x01\x0b\x01"}));
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x02\x05"
                                                   "ab"}));
  CHECK_FALSE(apply_binary_delta(from, std::string("\x02\x00", 2)));
  CHECK_FALSE(apply_binary_delta(from, std::string{"\x02\x80"}));
  // A varint of more than 64 bits.
  CHECK_FALSE(apply_binary_delta(
      from, std::string{"\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"}));
  // Larger than allowed.
  CHECK_FALSE(apply_binary_delta(from, ok, 4));
  CHECK(apply_binary_delta(from, ok, 5) == std::string{"234ab"});
}
