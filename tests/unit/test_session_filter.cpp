// Session filters (protocol/session_filter.hpp): each operator, precedence,
// errors, and random filters against a model evaluated on the generated
// tree itself (with std::regex, an independent engine).

#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "protocol/session_filter.hpp"

using namespace castor;

namespace {

session_filter filter(const std::string& text) {
  auto r = parse_session_filter(text);
  if (auto e = std::get_if<session_filter_error>(&r))
    FAIL_CHECK(text << ": at " << e->offset << ": " << e->message);
  REQUIRE(std::holds_alternative<session_filter>(r));
  return std::get<session_filter>(std::move(r));
}

session_filter_error refused(const std::string& text) {
  auto r = parse_session_filter(text);
  REQUIRE_MESSAGE(std::holds_alternative<session_filter_error>(r), text);
  return std::get<session_filter_error>(r);
}

session_facts alice() {
  session_facts s;
  s.properties = {{"$Principal", "alice"},
                  {"$ClientId", "dev-17"},
                  {"$Transport", "tls"},
                  {"region", "eu"},
                  {"it's", "quoted 'x'"}};
  s.roles = {"DEVICE", "OPS"};
  return s;
}

bool on_alice(const std::string& text) {
  return filter(text).selects(alice());
}

// -- the model -----------------------------------------------------------------

struct model {
  enum kind { all, is, ne, matches, in, has, has_roles, not_, and_, or_ };
  kind what = all;
  std::string key;
  std::vector<std::string> texts;
  std::vector<std::shared_ptr<model>> ops;

  bool eval(const session_facts& s) const {
    auto i = s.properties.find(key);
    bool present = i != s.properties.end();
    switch (what) {
    case all:
      return true;
    case is:
      return present && i->second == texts[0];
    case ne:
      return !(present && i->second == texts[0]);
    case matches:
      return present && std::regex_match(i->second, std::regex(texts[0]));
    case in:
      for (auto& t : texts)
        if (present && i->second == t)
          return true;
      return false;
    case has:
      return present;
    case has_roles:
      for (auto& r : texts)
        if (s.roles.count(r) == 0)
          return false;
      return true;
    case not_:
      return !ops[0]->eval(s);
    case and_:
      return ops[0]->eval(s) && ops[1]->eval(s);
    case or_:
      return ops[0]->eval(s) || ops[1]->eval(s);
    }
    return false;
  }

  static std::string quote(const std::string& t, std::mt19937& rng) {
    char q = rng() % 2 ? '\'' : '"';
    std::string out{q};
    for (char c : t) {
      if (c == q || c == '\\')
        out.push_back('\\');
      out.push_back(c);
    }
    out.push_back(q);
    return out;
  }

  static std::string list(const std::vector<std::string>& ts,
                          std::mt19937& rng) {
    std::string out = "[";
    for (size_t i = 0; i < ts.size(); ++i)
      out += (i ? ", " : "") + quote(ts[i], rng);
    return out + "]";
  }

  /// Fully parenthesised where precedence could matter, sometimes not.
  std::string print(std::mt19937& rng) const {
    auto word = [&](const char* lower, const char* upper) {
      return std::string{rng() % 3 ? lower : upper};
    };
    switch (what) {
    case all:
      return word("all", "ALL");
    case is:
      return key + " " + (rng() % 2 ? "is" : "eq") + " " + quote(texts[0], rng);
    case ne:
      return key + " ne " + quote(texts[0], rng);
    case matches:
      return key + " matches " + quote(texts[0], rng);
    case in:
      return key + " in " + list(texts, rng);
    case has:
      return "has " + key;
    case has_roles:
      return "hasRoles " + list(texts, rng);
    case not_:
      return word("not", "NOT") + " (" + ops[0]->print(rng) + ")";
    case and_:
      return "(" + ops[0]->print(rng) + ") " + word("and", "AND") + " ("
             + ops[1]->print(rng) + ")";
    case or_:
      return "(" + ops[0]->print(rng) + ") " + word("or", "OR") + " ("
             + ops[1]->print(rng) + ")";
    }
    return {};
  }
};

const std::vector<std::string> keys{"$Principal", "region", "zone", "$Roles"};
const std::vector<std::string> values{"a", "b", "eu", "x'y", "q\"\\"};
const std::vector<std::string> roles{"R1", "R2", "R3"};
const std::vector<std::string> patterns{"a.*", "e[uv]", ".*", "b|x.y", "q.*"};

std::shared_ptr<model> random_model(std::mt19937& rng, int depth) {
  auto m = std::make_shared<model>();
  auto pick = [&](const std::vector<std::string>& v) {
    return v[rng() % v.size()];
  };
  int k = depth > 3 ? static_cast<int>(rng() % 7) : static_cast<int>(rng() % 10);
  m->what = static_cast<model::kind>(k);
  m->key = pick(keys);
  switch (m->what) {
  case model::is:
  case model::ne:
    m->texts = {pick(values)};
    break;
  case model::matches:
    m->texts = {pick(patterns)};
    break;
  case model::in:
    for (size_t n = rng() % 3; n-- > 0;)
      m->texts.push_back(pick(values));
    break;
  case model::has_roles:
    for (size_t n = rng() % 3; n-- > 0;)
      m->texts.push_back(pick(roles));
    break;
  case model::not_:
    m->ops = {random_model(rng, depth + 1)};
    break;
  case model::and_:
  case model::or_:
    m->ops = {random_model(rng, depth + 1), random_model(rng, depth + 1)};
    break;
  default:
    break;
  }
  return m;
}

session_facts random_facts(std::mt19937& rng) {
  session_facts s;
  for (auto& k : keys)
    if (rng() % 4 != 0)
      s.properties[k] = values[rng() % values.size()];
  for (auto& r : roles)
    if (rng() % 2)
      s.roles.insert(r);
  return s;
}

} // namespace

TEST_SUITE("session filters") {
  TEST_CASE("each operator") {
    CHECK(on_alice("$Principal is 'alice'"));
    CHECK(on_alice("$Principal eq \"alice\""));
    CHECK_FALSE(on_alice("$Principal is 'bob'"));
    CHECK(on_alice("$Principal ne 'bob'"));
    CHECK(on_alice("missing ne 'x'")); // absent: not equal
    CHECK_FALSE(on_alice("missing is 'x'"));
    CHECK(on_alice("$ClientId matches 'dev-[0-9]+'"));
    CHECK_FALSE(on_alice("$ClientId matches 'dev'")); // the whole value
    CHECK(on_alice("region in ['us', 'eu']"));
    CHECK_FALSE(on_alice("region in []"));
    CHECK(on_alice("has region"));
    CHECK_FALSE(on_alice("has zone"));
    CHECK(on_alice("hasRoles ['OPS', 'DEVICE']"));
    CHECK_FALSE(on_alice("hasRoles ['OPS', 'ADMIN']"));
    CHECK(on_alice("hasRoles []"));
    CHECK(on_alice("all"));
    CHECK(on_alice("'it\\'s' is 'quoted \\'x\\''"));
  }

  TEST_CASE("precedence, parentheses and keywords as keys") {
    // not > and > or
    CHECK(on_alice("region is 'us' and has zone or all"));
    CHECK_FALSE(on_alice("region is 'us' and (has zone or all)"));
    CHECK(on_alice("not region is 'us' and has region"));
    CHECK_FALSE(on_alice("not (region is 'eu' and has region)"));
    CHECK(on_alice("NOT NOT has region"));
    CHECK(on_alice("has region AND $Transport Is 'tls'"));
    session_facts s;
    s.properties = {{"not", "1"}, {"has", "2"}, {"all", "3"}};
    CHECK(filter("not is '1' and has is '2' and all eq '3'").selects(s));
    CHECK(filter("not not is '2'").selects(s));
  }

  TEST_CASE("what is refused, and where") {
    CHECK(refused("").offset == 0);
    CHECK(refused("region").message.find("expected is, eq") == 0);
    CHECK(refused("region is eu").offset == 10);
    CHECK(refused("region is 'eu").message == "unterminated text");
    CHECK(refused("(has a").message == "expected ')'");
    CHECK(refused("has a or").message == "expected a condition");
    CHECK(refused("has a b").message == "unexpected 'b'");
    CHECK(refused("a in ['x' 'y']").message == "expected ',' or ']'");
    CHECK(refused("a matches '(x'").message.find("bad regular expression")
          == 0);
    std::string deep;
    for (int i = 0; i < 40; ++i)
      deep += "not ";
    CHECK(refused(deep + "all").message.find("nested more than") == 0);
    CHECK(refused(std::string(5000, ' ') + "all").message.find("longer") == 0);
  }

  TEST_CASE("random filters against the model") {
    std::mt19937 rng(20261204);
    size_t selected = 0, runs = 0;
    for (int i = 0; i < 2000; ++i) {
      auto m = random_model(rng, 0);
      auto text = m->print(rng);
      auto f = filter(text);
      for (int j = 0; j < 10; ++j) {
        auto facts = random_facts(rng);
        bool want = m->eval(facts);
        selected += want ? 1 : 0;
        ++runs;
        if (f.selects(facts) != want)
          FAIL_CHECK(text << ": model says " << want);
      }
    }
    CHECK(selected > runs / 5);
    CHECK(selected < runs * 4 / 5);
  }
}

TEST_CASE("session filter: a server session's fixed properties are fields") {
  // As the session directory keeps them: the fixed properties as fields,
  // only the others in the map.
  session_facts s;
  auto& f = s.fixed.emplace();
  f.session_id = "0badcafe-000000000001";
  f.client_id = "dev-17";
  f.principal = "alice";
  f.client_ip = "127.0.0.1";
  f.transport = "tls";
  f.listener = "mqtts";
  f.start_time = "1700000000000";
  f.connected = false;
  s.properties = {{"region", "eu"}};
  s.roles = {"DEVICE", "OPS"};
  auto on = [&](const std::string& text) { return filter(text).selects(s); };
  CHECK(on("$Principal is 'alice'"));
  CHECK(on("$ClientId matches 'dev-.*' and $Transport in ['tls', 'wss']"));
  CHECK(on("$Connected is 'false'"));
  CHECK_FALSE(on("$Connected is 'true'"));
  CHECK(on("$Roles is 'DEVICE,OPS'"));
  CHECK(on("has $ClientIP and has region and not has $Other"));
  CHECK(on("$Listener is 'mqtts' and $SessionId matches '0badcafe-.*'"));
  CHECK(on("region is 'eu'"));
  CHECK(on("$StartTime is '1700000000000'"));
  auto all = s.all();
  CHECK(all.size() == 10);
  CHECK(all.at("$Roles") == "DEVICE,OPS");
  CHECK(all.at("$Connected") == "false");
  CHECK(all.at("$Principal") == "alice");
  CHECK(all.at("region") == "eu");
}
