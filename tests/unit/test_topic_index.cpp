// filter_index and name_index: the tries of the topic tree, checked against
// topic_matches and against a level-by-level reference matcher.

#include "protocol/topic.hpp"
#include "protocol/topic_index.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace castor::mqtt;

namespace {

using match_set = std::set<std::pair<std::string, uint64_t>>;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out(1);
  for (auto c : s) {
    if (c == '/')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

/// A second, independent statement of the matching rules, on split levels.
bool reference_matches(const std::string& filter, const std::string& topic) {
  auto f = split(filter);
  auto t = split(topic);
  if (!t[0].empty() && t[0][0] == '$' && (f[0] == "+" || f[0] == "#"))
    return false;
  size_t i = 0;
  for (; i < f.size(); ++i) {
    if (f[i] == "#")
      return true;
    if (i >= t.size())
      return false;
    if (f[i] != "+" && f[i] != t[i])
      return false;
  }
  return i == t.size();
}

match_set filter_matches(filter_index<int>& index, const std::string& topic) {
  match_set result;
  index.for_each_match(topic, [&](std::string_view f, uint64_t key, int& v) {
    CHECK_EQ(v, static_cast<int>(key * 7));
    auto inserted = result.emplace(std::string{f}, key).second;
    CHECK(inserted); // each entry at most once
  });
  return result;
}

std::set<std::string> name_matches(name_index<std::string>& index,
                                   const std::string& filter) {
  std::set<std::string> result;
  index.for_each_match(filter, [&](std::string_view name, std::string& v) {
    CHECK_EQ(v, name);
    auto inserted = result.emplace(name).second;
    CHECK(inserted);
  });
  return result;
}

std::string random_path(std::mt19937& rng, bool filter) {
  static const char* name_levels[] = {"a", "b", "", "$s", "c$"};
  static const char* filter_levels[] = {"a", "b", "", "$s", "c$", "+", "+"};
  std::uniform_int_distribution<int> count(1, 4);
  std::string result;
  int n = count(rng);
  for (int i = 0; i < n; ++i) {
    if (i > 0)
      result += '/';
    if (filter) {
      std::uniform_int_distribution<int> pick(0, 6);
      result += filter_levels[pick(rng)];
    } else {
      std::uniform_int_distribution<int> pick(0, 4);
      result += name_levels[pick(rng)];
    }
  }
  if (filter && std::uniform_int_distribution<int>(0, 3)(rng) == 0)
    result = std::uniform_int_distribution<int>(0, 3)(rng) == 0
                 ? std::string{"#"}
                 : result + "/#";
  if (result.empty()) // neither a name nor a filter
    return random_path(rng, filter);
  return result;
}

} // namespace

namespace doctest {

template <>
struct StringMaker<match_set> {
  static String convert(const match_set& xs) {
    std::string out = "{";
    for (auto& [f, key] : xs)
      out += "(" + f + ", " + std::to_string(key) + ") ";
    return String{(out + "}").c_str()};
  }
};

template <>
struct StringMaker<std::set<std::string>> {
  static String convert(const std::set<std::string>& xs) {
    std::string out = "{";
    for (auto& x : xs)
      out += "\"" + x + "\" ";
    return String{(out + "}").c_str()};
  }
};

} // namespace doctest

TEST_CASE("reference matcher agrees with topic_matches on the spec cases") {
  CHECK(reference_matches("sport/#", "sport"));
  CHECK(!reference_matches("sport/+", "sport"));
  CHECK(reference_matches("+/+", "/finance"));
  CHECK(!reference_matches("#", "$SYS/x"));
  CHECK(!reference_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  CHECK(reference_matches("$SYS/#", "$SYS/monitor/Clients"));
}

TEST_CASE("filter_index: insert, replace, find, erase") {
  filter_index<int> index;
  CHECK(index.empty());
  CHECK(index.insert("a/+", 1, 7));
  CHECK(index.insert("a/+", 2, 14));
  CHECK(!index.insert("a/+", 1, 7)); // re-insert replaces
  CHECK(index.insert("a/#", 1, 7));
  CHECK(index.insert("#", 3, 21));
  CHECK(index.insert("a/b", 4, 28));
  CHECK_EQ(index.size(), 5u);
  REQUIRE(index.find("a/+", 2) != nullptr);
  CHECK_EQ(*index.find("a/+", 2), 14);
  CHECK(index.find("a/+", 3) == nullptr);
  CHECK(index.find("a", 1) == nullptr); // an inner node, no entry
  CHECK(index.find("x", 1) == nullptr);

  CHECK_EQ(filter_matches(index, "a/b"),
           match_set{{"a/+", 1}, {"a/+", 2}, {"a/#", 1}, {"#", 3}, {"a/b", 4}});
  CHECK_EQ(filter_matches(index, "a"), match_set{{"a/#", 1}, {"#", 3}});
  CHECK_EQ(filter_matches(index, "$a/b"), match_set{});
  CHECK_EQ(filter_matches(index, "b"), match_set{{"#", 3}});

  CHECK(!index.erase("a/+", 3));
  CHECK(!index.erase("a/x", 1));
  CHECK(!index.erase("a", 1));
  CHECK(index.erase("a/+", 1));
  CHECK(!index.erase("a/+", 1));
  CHECK_EQ(index.size(), 4u);
  CHECK_EQ(filter_matches(index, "a/c"),
           match_set{{"a/+", 2}, {"a/#", 1}, {"#", 3}});
}

TEST_CASE("filter_index: entries of one filter") {
  filter_index<int> index;
  index.insert("a/+", 1, 7);
  index.insert("a/+", 2, 14);
  index.insert("a/b", 3, 21);
  index.insert("a/+/c", 4, 28);
  std::map<uint64_t, int> seen;
  CHECK_EQ(
      index.for_each_entry("a/+", [&](uint64_t key, int& v) { seen[key] = v; }),
      2u);
  CHECK_EQ(seen, std::map<uint64_t, int>{{1, 7}, {2, 14}});
  CHECK_EQ(index.for_each_entry("a", [](uint64_t, int&) { FAIL("none"); }), 0u);
  CHECK_EQ(index.for_each_entry("x/y", [](uint64_t, int&) { FAIL("none"); }),
           0u);
}

TEST_CASE("filter_index: replaced values are visible to for_each_match") {
  filter_index<int> index;
  index.insert("x/#", 5, 1);
  index.insert("x/#", 5, 35);
  CHECK_EQ(filter_matches(index, "x/y"), match_set{{"x/#", 5}});
  index.for_each_match("x", [](std::string_view, uint64_t, int& v) { v = 70; });
  CHECK_EQ(*index.find("x/#", 5), 70);
}

TEST_CASE("filter_index: empty levels are ordinary levels") {
  filter_index<int> index;
  for (auto f : {"a//b", "/a", "a/", "/", "+/+", "/+", "+", "a/+/b", "/#"})
    index.insert(f, 1, 7);
  CHECK_EQ(filter_matches(index, "a//b"), match_set{{"a//b", 1}, {"a/+/b", 1}});
  CHECK_EQ(filter_matches(index, "/a"),
           match_set{{"/a", 1}, {"+/+", 1}, {"/+", 1}, {"/#", 1}});
  CHECK_EQ(filter_matches(index, "a/"), match_set{{"a/", 1}, {"+/+", 1}});
  CHECK_EQ(filter_matches(index, "/"),
           match_set{{"/", 1}, {"+/+", 1}, {"/+", 1}, {"/#", 1}});
  CHECK_EQ(filter_matches(index, "a"), match_set{{"+", 1}});
}

TEST_CASE("filter_index: the $-rule") {
  filter_index<int> index;
  index.insert("#", 1, 7);
  index.insert("+/monitor/Clients", 2, 14);
  index.insert("$SYS/#", 3, 21);
  index.insert("$SYS/monitor/+", 4, 28);
  index.insert("+/#", 5, 35);
  CHECK_EQ(filter_matches(index, "$SYS/monitor/Clients"),
           match_set{{"$SYS/#", 3}, {"$SYS/monitor/+", 4}});
  CHECK_EQ(filter_matches(index, "$SYS"), match_set{{"$SYS/#", 3}});
  CHECK_EQ(filter_matches(index, "x/monitor/Clients"),
           match_set{{"#", 1}, {"+/monitor/Clients", 2}, {"+/#", 5}});
}

TEST_CASE("filter_index: empty nodes are pruned") {
  filter_index<int> index;
  index.insert("a/b/c/d", 1, 7);
  CHECK_EQ(index.node_count(), 4u);
  index.insert("a/b/x", 2, 14);
  CHECK_EQ(index.node_count(), 5u);
  index.insert("a/b", 3, 21);
  CHECK_EQ(index.node_count(), 5u);
  CHECK(index.erase("a/b/c/d", 1));
  CHECK_EQ(index.node_count(), 3u); // a, b, x
  CHECK(index.erase("a/b", 3));
  CHECK_EQ(index.node_count(), 3u); // b still has the child x
  CHECK(index.erase("a/b/x", 2));
  CHECK_EQ(index.node_count(), 0u);
  CHECK(index.empty());
  CHECK_EQ(filter_matches(index, "a/b/x"), match_set{});
  index.insert("a", 1, 7);
  CHECK_EQ(filter_matches(index, "a"), match_set{{"a", 1}});
}

TEST_CASE("filter_index: clear and move") {
  filter_index<int> index;
  index.insert("a/#", 1, 7);
  filter_index<int> moved{std::move(index)};
  CHECK_EQ(moved.size(), 1u);
  CHECK_EQ(filter_matches(moved, "a/b"), match_set{{"a/#", 1}});
  moved.clear();
  CHECK(moved.empty());
  CHECK_EQ(filter_matches(moved, "a/b"), match_set{});
  moved.insert("a/#", 2, 14);
  CHECK_EQ(filter_matches(moved, "a/b"), match_set{{"a/#", 2}});
  index = std::move(moved);
  CHECK_EQ(filter_matches(index, "a"), match_set{{"a/#", 2}});
}

TEST_CASE("name_index: insert, replace, find, erase") {
  name_index<std::string> index;
  CHECK(index.insert("a/b", "a/b"));
  CHECK(index.insert("a", "a"));
  CHECK(!index.insert("a", "a"));
  CHECK(index.insert("a/b/c", "a/b/c"));
  CHECK_EQ(index.size(), 3u);
  REQUIRE(index.find("a/b") != nullptr);
  CHECK_EQ(*index.find("a/b"), "a/b");
  CHECK(index.find("a/c") == nullptr);
  CHECK(index.find("a/b/c/d") == nullptr);
  CHECK(!index.erase("a/c"));
  CHECK(index.erase("a/b"));
  CHECK(!index.erase("a/b"));
  CHECK(index.find("a/b") == nullptr);
  REQUIRE(index.find("a/b/c") != nullptr);
  CHECK_EQ(index.size(), 2u);
  CHECK_EQ(index.node_count(), 3u); // the inner "b" stays for "a/b/c"
  CHECK(index.erase("a/b/c"));
  CHECK_EQ(index.node_count(), 1u);
  CHECK(index.erase("a"));
  CHECK_EQ(index.node_count(), 0u);
  CHECK(index.empty());
}

TEST_CASE("name_index: wildcards, empty levels and the $-rule") {
  name_index<std::string> index;
  for (auto n :
       {"sport", "sport/", "sport/tennis", "sport/tennis/player1",
        "sport/tennis/player1/ranking", "/finance", "finance", "/", "a//b",
        "$SYS", "$SYS/monitor/Clients", "x/monitor/Clients", "a/$b"})
    index.insert(n, n);
  using names = std::set<std::string>;
  CHECK_EQ(name_matches(index, "sport/#"),
           names{"sport", "sport/", "sport/tennis", "sport/tennis/player1",
                 "sport/tennis/player1/ranking"});
  CHECK_EQ(name_matches(index, "sport/+"), names{"sport/", "sport/tennis"});
  CHECK_EQ(name_matches(index, "+/+"),
           names{"sport/", "sport/tennis", "/finance", "/", "a/$b"});
  CHECK_EQ(name_matches(index, "/+"), names{"/finance", "/"});
  CHECK_EQ(name_matches(index, "+"), names{"sport", "finance"});
  CHECK_EQ(name_matches(index, "a/+/b"), names{"a//b"});
  CHECK_EQ(name_matches(index, "a/+"), names{"a/$b"});
  CHECK_EQ(name_matches(index, "+/monitor/Clients"),
           names{"x/monitor/Clients"});
  CHECK_EQ(name_matches(index, "$SYS/#"),
           names{"$SYS", "$SYS/monitor/Clients"});
  CHECK_EQ(name_matches(index, "$SYS/monitor/+"),
           names{"$SYS/monitor/Clients"});
  CHECK_EQ(name_matches(index, "sport/tennis/player1"),
           names{"sport/tennis/player1"});
  CHECK_EQ(name_matches(index, "sport/tennis/player2"), names{});
  auto all = name_matches(index, "#");
  CHECK_EQ(all.size(), index.size() - 2); // all but the two $SYS names
  CHECK(all.count("$SYS") == 0);
  CHECK(all.count("a/$b") == 1);
}

TEST_CASE("deep names and filters do not exhaust the stack") {
  std::string deep(65535, '/');
  name_index<int> names;
  filter_index<int> filters;
  names.insert(deep, 1);
  filters.insert(deep, 1, 7);
  filters.insert(deep.substr(0, 65533) + "/#", 2, 14);
  CHECK_EQ(filters.node_count(), 65537u); // 65,536 levels and one '#'

  int count = 0;
  names.for_each_match("#", [&](std::string_view, int&) { ++count; });
  CHECK_EQ(count, 1);
  CHECK_EQ(filter_matches(filters, deep),
           match_set{{deep, 1}, {deep.substr(0, 65533) + "/#", 2}});
  // Destructors run here on 65,536-level tries.
}

TEST_CASE("randomized: both indexes agree with brute-force matching") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng{seed};
    std::vector<std::string> filters;
    std::vector<std::string> names;
    for (int i = 0; i < 80; ++i) {
      filters.push_back(random_path(rng, true));
      names.push_back(random_path(rng, false));
    }
    filter_index<int> findex;
    name_index<std::string> nindex;
    // Stored filter entries: (filter, key); several keys per filter.
    std::set<std::pair<std::string, uint64_t>> stored_filters;
    std::set<std::string> stored_names;
    for (auto& f : filters) {
      REQUIRE(parse_filter(f).valid);
      auto key = std::uniform_int_distribution<uint64_t>(1, 3)(rng);
      findex.insert(f, key, static_cast<int>(key * 7));
      stored_filters.emplace(f, key);
    }
    for (auto& n : names) {
      REQUIRE(valid_topic_name(n));
      nindex.insert(n, n);
      stored_names.insert(n);
    }
    auto verify = [&] {
      REQUIRE_EQ(findex.size(), stored_filters.size());
      REQUIRE_EQ(nindex.size(), stored_names.size());
      // Query with every generated name and filter, stored or not.
      for (auto& n : names) {
        match_set expected;
        for (auto& [f, key] : stored_filters) {
          bool m = topic_matches(f, n);
          REQUIRE_EQ(m, reference_matches(f, n));
          if (m)
            expected.emplace(f, key);
        }
        CAPTURE(n);
        CHECK_EQ(filter_matches(findex, n), expected);
      }
      for (auto& f : filters) {
        std::set<std::string> expected;
        for (auto& n : stored_names)
          if (topic_matches(f, n))
            expected.insert(n);
        CAPTURE(f);
        CHECK_EQ(name_matches(nindex, f), expected);
      }
    };
    verify();
    // Erase about half, in random order, and check again.
    std::shuffle(filters.begin(), filters.end(), rng);
    std::shuffle(names.begin(), names.end(), rng);
    for (size_t i = 0; i < filters.size() / 2; ++i) {
      for (uint64_t key = 1; key <= 3; ++key) {
        bool was = stored_filters.erase({filters[i], key}) > 0;
        CHECK_EQ(findex.erase(filters[i], key), was);
      }
      CHECK_EQ(nindex.erase(names[i]), stored_names.erase(names[i]) > 0);
    }
    verify();
    // Erase the rest: every node goes.
    for (auto& [f, key] : stored_filters)
      CHECK(findex.erase(f, key));
    for (auto& n : stored_names)
      CHECK(nindex.erase(n));
    stored_filters.clear();
    stored_names.clear();
    CHECK_EQ(findex.node_count(), 0u);
    CHECK_EQ(nindex.node_count(), 0u);
    verify();
  }
}

TEST_CASE("tens of thousands of entries") {
  filter_index<int> filters;
  name_index<int> names;
  for (int i = 0; i < 200; ++i)
    for (int j = 0; j < 200; ++j) {
      auto name = "dev/" + std::to_string(i) + "/s/" + std::to_string(j);
      names.insert(name, i * 1000 + j);
      filters.insert(name, static_cast<uint64_t>(i), j);
    }
  filters.insert("dev/+/s/7", 1000, 0);
  filters.insert("dev/42/#", 1001, 0);
  CHECK_EQ(names.size(), 40000u);
  CHECK_EQ(filters.size(), 40002u);
  int n = 0;
  names.for_each_match("dev/+/s/7", [&](std::string_view, int& v) {
    CHECK_EQ(v % 1000, 7);
    ++n;
  });
  CHECK_EQ(n, 200);
  n = 0;
  names.for_each_match("dev/42/#", [&](std::string_view, int& v) {
    CHECK_EQ(v / 1000, 42);
    ++n;
  });
  CHECK_EQ(n, 200);
  std::map<uint64_t, int> keys;
  filters.for_each_match(
      "dev/42/s/7", [&](std::string_view, uint64_t key, int&) { ++keys[key]; });
  CHECK_EQ(keys, std::map<uint64_t, int>{{42, 1}, {1000, 1}, {1001, 1}});
}

TEST_CASE("randomized: wide nodes grow and shrink their child index") {
  // Up to 30 children per node, so nodes cross the size at which a hash
  // index over the children is built and dropped again while entries go.
  std::mt19937 rng{42};
  auto level = [&] {
    return std::to_string(std::uniform_int_distribution<int>(0, 29)(rng));
  };
  std::vector<std::string> names;
  std::vector<std::string> filters;
  for (int i = 0; i < 120; ++i) {
    names.push_back(level() + "/" + level());
    switch (i % 4) {
    case 0:
      filters.push_back(level() + "/" + level());
      break;
    case 1:
      filters.push_back("+/" + level());
      break;
    case 2:
      filters.push_back(level() + "/+");
      break;
    default:
      filters.push_back(level() + "/#");
    }
  }
  filter_index<int> findex;
  name_index<std::string> nindex;
  std::set<std::string> stored_names;
  match_set stored_filters;
  for (auto& f : filters)
    if (stored_filters.emplace(f, 1).second)
      findex.insert(f, 1, 7);
  for (auto& n : names)
    if (stored_names.insert(n).second)
      nindex.insert(n, n);
  std::shuffle(names.begin(), names.end(), rng);
  std::shuffle(filters.begin(), filters.end(), rng);
  auto verify = [&] {
    for (int a = 0; a < 30; a += 3) {
      for (int b = 0; b < 30; b += 7) {
        auto topic = std::to_string(a) + "/" + std::to_string(b);
        match_set expected;
        for (auto& e : stored_filters)
          if (topic_matches(e.first, topic))
            expected.insert(e);
        CHECK_EQ(filter_matches(findex, topic), expected);
        CHECK_EQ(nindex.find(topic) != nullptr, stored_names.count(topic) > 0);
      }
      for (auto f : {std::to_string(a) + "/+", "+/" + std::to_string(a),
                     std::to_string(a) + "/#"}) {
        std::set<std::string> expected;
        for (auto& n : stored_names)
          if (topic_matches(f, n))
            expected.insert(n);
        CHECK_EQ(name_matches(nindex, f), expected);
      }
    }
  };
  verify();
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK_EQ(nindex.erase(names[i]), stored_names.erase(names[i]) > 0);
    CHECK_EQ(findex.erase(filters[i], 1),
             stored_filters.erase({filters[i], 1}) > 0);
    if (i % 10 == 0)
      verify();
  }
  CHECK(findex.empty());
  CHECK(nindex.empty());
  CHECK_EQ(findex.node_count(), 0u);
  CHECK_EQ(nindex.node_count(), 0u);
}
