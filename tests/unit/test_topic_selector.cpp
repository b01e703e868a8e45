// Topic selectors (protocol/topic_selector.hpp): parsing, literal prefixes,
// errors, and matching against a brute-force model on random trees (the
// model's regular expressions are std::regex, an independent engine).

#include <doctest/doctest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "protocol/topic.hpp"
#include "protocol/topic_selector.hpp"

using namespace castor;

namespace {

topic_selector sel(const std::string& text) {
  auto r = parse_selector(text);
  if (auto e = std::get_if<selector_error>(&r))
    FAIL_CHECK(text << ": " << e->message);
  REQUIRE(std::holds_alternative<topic_selector>(r));
  return std::get<topic_selector>(std::move(r));
}

selector_error err(const std::string& text) {
  auto r = parse_selector(text);
  REQUIRE_MESSAGE(std::holds_alternative<selector_error>(r), text);
  return std::get<selector_error>(r);
}

std::vector<std::string> split(const std::string& s, const std::string& by) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto at = s.find(by, start);
    out.push_back(s.substr(start, at == std::string::npos ? at : at - start));
    if (at == std::string::npos)
      return out;
    start = at + by.size();
  }
}

/// The rules of the header, written the slow and obvious way.
bool model_base(char kind, const std::string& body, const std::string& path) {
  switch (kind) {
  case '>':
    return path == body;
  case '?': {
    auto parts = split(body, "/");
    auto ls = split(path, "/");
    if (parts.size() != ls.size())
      return false;
    for (size_t i = 0; i < ls.size(); ++i)
      if (!std::regex_match(ls[i], std::regex(parts[i])))
        return false;
    return true;
  }
  case '*':
    return std::regex_match(path, std::regex(body));
  default:
    return mqtt::topic_matches(body, path);
  }
}

bool model(const std::string& text, const std::string& prefix,
           const std::string& path) {
  if (text.size() > 1 && text[0] == '#') {
    // Members are apart by the last four slashes of a run of slashes.
    std::vector<std::string> members{""};
    auto body = text.substr(1);
    for (size_t i = 0; i < body.size(); ++i) {
      size_t run = 0;
      while (i + run < body.size() && body[i + run] == '/')
        ++run;
      if (run >= 4) {
        members.back() += body.substr(i, run - 4);
        members.emplace_back();
        i += run - 1;
      } else {
        members.back() += body[i];
      }
    }
    for (auto& m : members)
      if (model(m, sel(m).prefix(), path))
        return true;
    return false;
  }
  char kind = text[0] == '>' || text[0] == '?' || text[0] == '*' ? text[0] : 0;
  std::string body = kind ? text.substr(1) : text;
  int scope = 0; // itself
  if (kind && body.size() >= 2 && body.substr(body.size() - 2) == "//") {
    scope = 2;
    body.resize(body.size() - 2);
  } else if (kind && !body.empty() && body.back() == '/') {
    scope = 1;
    body.pop_back();
  }
  if (kind && path[0] == '$' && (prefix.empty() || prefix[0] != '$'))
    return false;
  std::vector<std::string> candidates;
  if (scope != 1)
    candidates.push_back(path);
  if (scope != 0)
    for (size_t i = 0; i < path.size(); ++i)
      if (path[i] == '/')
        candidates.push_back(path.substr(0, i));
  for (auto& c : candidates)
    if (model_base(kind, body, c))
      return true;
  return false;
}

} // namespace

TEST_SUITE("topic selectors") {
  TEST_CASE("kinds, qualifiers and literal prefixes") {
    auto f = sel("plant/+/temp");
    CHECK(f.what() == topic_selector::kind::filter);
    CHECK_EQ(f.prefix(), "plant");
    CHECK_EQ(sel("#").prefix(), "");
    CHECK_EQ(sel("a/b").prefix(), "a/b");
    auto p = sel(">a/b//");
    CHECK(p.what() == topic_selector::kind::path);
    CHECK(p.scope() == topic_selector::qualifier::itself_and_descendants);
    CHECK_EQ(p.prefix(), "a/b");
    CHECK(sel(">a/b/").scope() == topic_selector::qualifier::descendants);
    CHECK_EQ(sel("?sensors/.*/temp").prefix(), "sensors");
    CHECK_EQ(sel("?a/b/c[0-9]").prefix(), "a/b");
    CHECK_EQ(sel("?.*/b").prefix(), "");
    CHECK_EQ(sel("*sensors/.*").prefix(), "sensors");
    CHECK_EQ(sel("*sens.*").prefix(), "");
    CHECK_EQ(sel("*a/b/c").prefix(), "a/b/c");
    CHECK_EQ(sel("*\\$SYS/.*").prefix(), "$SYS");
    CHECK_EQ(sel("*a/?b").prefix(), "");  // "ab" matches
    CHECK_EQ(sel("*a/b*").prefix(), "a"); // "a/" matches
    CHECK_EQ(sel("*a/b|c/d").prefix(), "");
    CHECK_EQ(sel("*a/(b|c)/d").prefix(), "a");
    auto s = sel("#>plant/a////?plant/b.*////plant/#");
    CHECK(s.what() == topic_selector::kind::set);
    CHECK_EQ(s.members().size(), 3u);
    CHECK_EQ(s.prefix(), "plant");
    // A qualifier before the separator stays with its member.
    auto q = sel("#>a/b//////>c");
    CHECK_EQ(q.members().front().text(), ">a/b//");
    CHECK_EQ(q.members().back().text(), ">c");
  }

  TEST_CASE("what each selects") {
    CHECK(sel(">a/b").selects("a/b"));
    CHECK_FALSE(sel(">a/b").selects("a/b/c"));
    CHECK_FALSE(sel(">a/b/").selects("a/b"));
    CHECK(sel(">a/b/").selects("a/b/c/d"));
    CHECK(sel(">a/b//").selects("a/b"));
    CHECK(sel(">a/b//").selects("a/b/c"));
    CHECK_FALSE(sel(">a/b//").selects("a/bc"));
    CHECK(sel("?sensors/.*/temp").selects("sensors/x1/temp"));
    CHECK_FALSE(sel("?sensors/.*/temp").selects("sensors/x/y/temp"));
    CHECK(sel("*sensors/.*").selects("sensors/x/y/temp"));
    CHECK_FALSE(sel("*sensors/.*").selects("other/sensors/x"));
    // Whole-level and whole-path matches, not searches.
    CHECK_FALSE(sel("?sens").selects("sensors"));
    CHECK_FALSE(sel("*sens").selects("sensors"));
    // MQTT's `$` rule, for every kind.
    CHECK_FALSE(sel("*.*").selects("$SYS/x"));
    CHECK_FALSE(sel("?.*/x").selects("$SYS/x"));
    CHECK_FALSE(sel("#").selects("$SYS/x"));
    CHECK(sel("*\\$SYS/.*").selects("$SYS/x"));
    CHECK(sel(">$SYS/x").selects("$SYS/x"));
    auto set = sel("#>a////*b/.*");
    CHECK(set.selects("a"));
    CHECK(set.selects("b/c"));
    CHECK_FALSE(set.selects("c"));
  }

  TEST_CASE("what is refused, and where") {
    CHECK_EQ(err("").message, "empty selector");
    auto e = err("?a/(b/c");
    CHECK_EQ(e.offset, 3u);
    CHECK_NE(e.message.find("(b"), std::string::npos);
    CHECK_EQ(err(">a/+").offset, 1u);
    CHECK_EQ(err("*").offset, 1u);
    CHECK_EQ(err("?a//b").offset, 3u); // an empty part, then the qualifier
    CHECK_EQ(err("#>a////#>b////>c").offset, 7u);
    CHECK_NE(err("a/#/b").message.find("not a topic filter"), std::string::npos);
    CHECK_NE(err("$share/g/a").message.find("not a topic filter"),
             std::string::npos);
    CHECK_NE(err(std::string(5000, 'a')).message.find("at most"),
             std::string::npos);
    std::string many = "#>a";
    for (int i = 0; i < 64; ++i)
      many += "////>a";
    CHECK_NE(err(many).message.find("more than 64"), std::string::npos);
    // Back references are not regular: RE2 refuses them.
    CHECK(err("*(a)\\1").offset == 1u);
  }

  TEST_CASE("random trees against the brute-force model") {
    std::mt19937 rng(20261204);
    auto pick = [&](std::vector<std::string> v) {
      return v[rng() % v.size()];
    };
    // Topic names of 1 to 4 levels over a small alphabet (with $ first).
    std::vector<std::string> tree;
    for (int i = 0; i < 300; ++i) {
      std::string t;
      int n = 1 + static_cast<int>(rng() % 4);
      for (int l = 0; l < n; ++l) {
        if (l > 0)
          t += "/";
        t += pick({"a", "b", "ab", "ba", "c1", "c22", "", "x"});
      }
      if (rng() % 20 == 0)
        t = "$s/" + t;
      if (mqtt::valid_topic_name(t))
        tree.push_back(t);
    }
    auto level_pattern = [&] {
      return pick({"a", "b", ".*", "a.*", "[ab]+", "c[0-9]+", "a|b", "x?", "\\$s",
                   ".+"});
    };
    auto qualifier = [&] { return pick({"", "", "/", "//"}); };
    auto random_selector = [&]() -> std::string {
      switch (rng() % 4) {
      case 0: {
        std::string p = pick({"a", "b", "ab", "$s"});
        for (int n = static_cast<int>(rng() % 3); n > 0; --n)
          p += "/" + pick({"a", "b", "ab", "c1", "x"});
        return ">" + p + qualifier();
      }
      case 1: {
        std::string p = level_pattern();
        for (int n = static_cast<int>(rng() % 3); n > 0; --n)
          p += "/" + level_pattern();
        return "?" + p + qualifier();
      }
      case 2:
        return "*" + pick({"a/.*", ".*", "(a|b)/[^/]*", "ab?/.*/x", "\\$s/.*",
                           "[abx/]*", "c.*", "a/?b.*", "a/b|b/.*", "a/b*",
                           "a/(b|x)/.*", "\\$s/a/*", "ab/x", "b/[a|b]"})
               + qualifier();
      default:
        return pick({"#", "a/#", "+/b", "+/+", "a/+/#", "ab", "x/a"});
      }
    };
    size_t selected = 0;
    for (int i = 0; i < 400; ++i) {
      std::string text = random_selector();
      if (rng() % 5 == 0)
        text = "#" + text + "////" + random_selector();
      auto s = sel(text);
      for (auto& t : tree) {
        bool want = model(text, s.prefix(), t);
        selected += want ? 1 : 0;
        if (s.selects(t) != want)
          FAIL_CHECK(text << " on " << t << ": model says " << want);
        // Every selected topic lies at or under the literal prefix.
        if (want && !s.prefix().empty())
          CHECK((t == s.prefix() || t.rfind(s.prefix() + "/", 0) == 0));
      }
    }
    CHECK(selected > 5000); // the trees are not trivially unselected
  }

  TEST_CASE("subscription keys") {
    auto k = selector_key("?a/.*/b", true);
    CHECK(k == "$castor/selector/d/?a/.*/b");
    auto info = parse_selector_key(k);
    REQUIRE(info);
    CHECK(info->text == "?a/.*/b");
    CHECK(info->delta);
    auto key = selector_key(">$delta/x", false); // the views point into it
    auto v = parse_selector_key(key);
    REQUIRE(v);
    CHECK(v->text == ">$delta/x");
    CHECK_FALSE(v->delta);
    // MQTT filters are not keys.
    CHECK_FALSE(parse_selector_key("a/+/b"));
    CHECK_FALSE(parse_selector_key("$castor/selector/x/a"));
    CHECK_FALSE(parse_selector_key("$castor/selector/d"));
  }
}
