// actors/cluster_claims.hpp: the owner of a client id in a node group, by
// rendezvous hashing: the same on every node, spread over the members, and
// a change of members moves only the client ids it must.

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "actors/cluster_claims.hpp"

using namespace castor;

namespace {

std::vector<std::string> ids(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("device-" + std::to_string(i));
  return out;
}

} // namespace

TEST_CASE("no members, no owner; one member owns everything") {
  CHECK(claim_owner("a", {}).empty());
  CHECK(claim_owner("a", {"n1"}) == "n1");
  CHECK(claim_owner("", {"n1"}) == "n1");
}

TEST_CASE("the owner does not depend on the order the members are listed") {
  for (auto& id : ids(200))
    CHECK(claim_owner(id, {"n1", "n2", "n3"})
          == claim_owner(id, {"n3", "n1", "n2"}));
}

TEST_CASE("the owners are the same in every build") {
  // FNV-1a over node, 0xff and client id, with a fixed 64-bit finaliser
  // (the values computed independently): two versions of Castor in one
  // group agree on every owner. A change here breaks rolling upgrades.
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  CHECK(claim_owner("device-0", nodes) == "n1");
  CHECK(claim_owner("device-1", nodes) == "n3");
  CHECK(claim_owner("device-2", nodes) == "n1");
  CHECK(claim_owner("device-3", nodes) == "n2");
  CHECK(claim_owner("sensor/a", nodes) == "n1");
  CHECK(claim_owner("x", nodes) == "n3");
}

TEST_CASE("client ids spread over the members") {
  std::map<std::string, size_t> count;
  for (auto& id : ids(3000))
    ++count[claim_owner(id, {"n1", "n2", "n3"})];
  REQUIRE(count.size() == 3);
  for (auto& [node, n] : count) {
    CHECK(n > 800);
    CHECK(n < 1200);
  }
}

TEST_CASE("a member that joins takes client ids only from the others, and "
          "one that leaves gives away only its own") {
  std::vector<std::string> three{"n1", "n2", "n3"};
  std::vector<std::string> four{"n1", "n2", "n3", "n4"};
  size_t moved = 0;
  for (auto& id : ids(2000)) {
    auto before = claim_owner(id, three);
    auto after = claim_owner(id, four);
    if (after != before) {
      CHECK(after == "n4");
      ++moved;
    }
    // n2 leaves: only its client ids get a new owner.
    auto without = claim_owner(id, {"n1", "n3"});
    if (before != "n2")
      CHECK(without == before);
  }
  CHECK(moved > 350); // about a quarter
  CHECK(moved < 650);
}
