#include "protocol/topic_spec.hpp"

#include <cctype>
#include <limits>

namespace castor {

namespace {

using std::chrono::milliseconds;

// -- tokens -------------------------------------------------------------------

struct token {
  enum class kind : uint8_t {
    word, number, period, less, open, close, text, end
  };
  kind what = kind::end;
  std::string text; ///< lower case for words; a text without its quotes
  uint64_t number = 0;
  milliseconds period{0};
  size_t offset = 0;
};

bool is_word_char(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

/// Milliseconds per unit, 0 if `u` is none.
uint64_t unit_ms(std::string_view u) {
  if (u == "ms")
    return 1;
  if (u == "s")
    return 1000;
  if (u == "m")
    return 60'000;
  if (u == "h")
    return 3'600'000;
  if (u == "d")
    return 86'400'000;
  return 0;
}

/// Splits `text` into tokens; a number directly followed by a unit is a
/// period (`10m`).
std::variant<std::vector<token>, expression_error>
tokenize(std::string_view text) {
  std::vector<token> out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
      continue;
    }
    token t;
    t.offset = i;
    if (c == '<' || c == '(' || c == ')') {
      t.what = c == '<'   ? token::kind::less
               : c == '(' ? token::kind::open
                          : token::kind::close;
      t.text = std::string(1, c);
      ++i;
    } else if (is_digit(c)) {
      uint64_t n = 0;
      while (i < text.size() && is_digit(text[i])) {
        auto d = static_cast<uint64_t>(text[i] - '0');
        if (n > (std::numeric_limits<uint64_t>::max() - d) / 10)
          return expression_error{t.offset, "number too large"};
        n = n * 10 + d;
        ++i;
      }
      size_t u = i;
      while (i < text.size() && is_word_char(text[i]))
        ++i;
      t.number = n;
      t.text = std::string(text.substr(t.offset, i - t.offset));
      if (u == i) {
        t.what = token::kind::number;
      } else {
        auto ms = unit_ms(text.substr(u, i - u));
        if (ms == 0)
          return expression_error{u, "unknown unit '"
                                         + std::string(text.substr(u, i - u))
                                         + "' (ms, s, m, h or d)"};
        if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ms)
          return expression_error{t.offset, "period too long"};
        t.what = token::kind::period;
        t.period = milliseconds(static_cast<int64_t>(n * ms));
      }
    } else if (c == '\'' || c == '"') {
      // A text in quotes (either kind; it cannot hold its own quote).
      auto close = text.find(c, i + 1);
      if (close == std::string_view::npos)
        return expression_error{i, std::string("no closing ") + c};
      t.what = token::kind::text;
      t.text = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (is_word_char(c)) {
      while (i < text.size() && is_word_char(text[i])) {
        t.text.push_back(static_cast<char>(
            std::tolower(static_cast<unsigned char>(text[i]))));
        ++i;
      }
      t.what = token::kind::word;
    } else {
      return expression_error{i, std::string("unexpected '") + c + "'"};
    }
    out.push_back(std::move(t));
  }
  token end;
  end.offset = text.size();
  out.push_back(end);
  return out;
}

std::string describe(const token& t) {
  if (t.what == token::kind::end)
    return "the end";
  if (t.what == token::kind::text)
    return "a text in quotes";
  return "'" + t.text + "'";
}

/// The shortest exact text of a period: `90s`, `10m`, `1d`.
std::string period_text(milliseconds p) {
  auto ms = static_cast<uint64_t>(p.count());
  for (auto [unit, n] : {std::pair{"d", 86'400'000ull},
                         {"h", 3'600'000ull},
                         {"m", 60'000ull},
                         {"s", 1000ull}})
    if (ms != 0 && ms % n == 0)
      return std::to_string(ms / n) + unit;
  return std::to_string(ms) + "ms";
}

// -- removal policies ---------------------------------------------------------

using node = removal_policy::node;

class policy_parser {
public:
  explicit policy_parser(std::vector<token> ts) : ts_(std::move(ts)) {}

  std::variant<removal_policy, expression_error> parse() {
    if (!word("when"))
      return fail("a removal policy starts with 'when'");
    removal_policy p;
    if (!expr(p.root))
      return *err_;
    if (peek().what != token::kind::end)
      return fail("'and', 'or' or the end");
    return p;
  }

private:
  const token& peek() const {
    return ts_[pos_];
  }

  bool word(std::string_view w) {
    if (peek().what == token::kind::word && peek().text == w) {
      ++pos_;
      return true;
    }
    return false;
  }

  expression_error fail(const std::string& expected) {
    err_ = expression_error{peek().offset, "expected " + expected + ", found "
                                               + describe(peek())};
    return *err_;
  }

  bool expect_word(std::string_view w) {
    if (word(w))
      return true;
    fail("'" + std::string(w) + "'");
    return false;
  }

  bool period(milliseconds& out) {
    if (peek().what != token::kind::period) {
      fail("a period such as 10m (ms, s, m, h or d)");
      return false;
    }
    out = peek().period;
    ++pos_;
    return true;
  }

  bool number(uint64_t& out) {
    if (peek().what != token::kind::number) {
      fail("a number");
      return false;
    }
    out = peek().number;
    ++pos_;
    return true;
  }

  /// The session filter of `no session has`, in quotes; its errors point
  /// into the policy's text.
  bool session_filter_text(removal_condition& c) {
    if (peek().what != token::kind::text) {
      fail("a session filter in quotes");
      return false;
    }
    auto& t = peek();
    auto parsed = parse_session_filter(t.text);
    if (auto e = std::get_if<session_filter_error>(&parsed)) {
      err_ = expression_error{t.offset + 1 + e->offset,
                              "session filter: " + e->message};
      return false;
    }
    c.sessions = std::make_shared<const session_filter>(
        std::move(std::get<session_filter>(parsed)));
    ++pos_;
    return true;
  }

  /// Operands joined by `joiner` into one `op` node (a single operand
  /// stands alone).
  bool joined(node& out, std::string_view joiner, node::op op,
              bool (policy_parser::*operand)(node&)) {
    node first;
    if (!(this->*operand)(first))
      return false;
    if (!(peek().what == token::kind::word && peek().text == joiner)) {
      out = std::move(first);
      return true;
    }
    out = node{op, {}, {}};
    out.parts.push_back(std::move(first));
    while (word(joiner)) {
      node next;
      if (!(this->*operand)(next))
        return false;
      out.parts.push_back(std::move(next));
    }
    return true;
  }

  /// or-expression
  bool expr(node& out) {
    return joined(out, "or", node::op::any, &policy_parser::term);
  }

  /// and-expression
  bool term(node& out) {
    return joined(out, "and", node::op::all, &policy_parser::factor);
  }

  bool factor(node& out) {
    if (peek().what == token::kind::open) {
      if (depth_ == max_depth) {
        fail("at most " + std::to_string(max_depth)
             + " levels of parentheses, not '('");
        return false;
      }
      ++pos_;
      ++depth_;
      bool ok = expr(out);
      --depth_;
      if (!ok)
        return false;
      if (peek().what != token::kind::close) {
        fail("')'");
        return false;
      }
      ++pos_;
      return true;
    }
    out = node{};
    auto& c = out.condition;
    if (word("no")) {
      if (word("session")) {
        c.what = removal_condition::kind::no_session_for;
        return expect_word("has") && session_filter_text(c)
               && expect_word("for") && period(c.period);
      }
      c.what = removal_condition::kind::no_updates_for;
      if (!word("updates")) {
        fail("'updates' or 'session'");
        return false;
      }
      return expect_word("for") && period(c.period);
    }
    if (word("subscriptions")) {
      c.what = removal_condition::kind::subscriptions_below_for;
      if (peek().what != token::kind::less) {
        fail("'<'");
        return false;
      }
      ++pos_;
      if (!number(c.number))
        return false;
      if (c.number == 0) {
        --pos_;
        fail("a number above 0 (no topic has fewer than 0 subscriptions)");
        return false;
      }
      return expect_word("for") && period(c.period);
    }
    if (word("this")) {
      c.what = removal_condition::kind::session_closes;
      return expect_word("session") && expect_word("closes");
    }
    if (word("time")) {
      c.what = removal_condition::kind::time_after;
      return expect_word("after") && number(c.number);
    }
    fail("a condition ('no updates for', 'no session has', 'subscriptions "
         "<', 'this session closes', 'time after') or '('");
    return false;
  }

  /// Parentheses nest at most this deep (the parser and the evaluation
  /// recurse once per level).
  static constexpr size_t max_depth = 16;

  std::vector<token> ts_;
  size_t pos_ = 0;
  size_t depth_ = 0;
  std::optional<expression_error> err_;
};

bool node_due(const node& n, const removal_policy::facts& f) {
  switch (n.what) {
  case node::op::all:
    for (auto& p : n.parts)
      if (!node_due(p, f))
        return false;
    return true;
  case node::op::any:
    for (auto& p : n.parts)
      if (node_due(p, f))
        return true;
    return false;
  case node::op::condition:
    break;
  }
  auto& c = n.condition;
  switch (c.what) {
  case removal_condition::kind::no_updates_for:
    return f.now - f.last_update >= c.period.count();
  case removal_condition::kind::subscriptions_below_for: {
    if (!f.below_since)
      return false;
    auto since = f.below_since(c.number);
    return since && f.now - *since >= c.period.count();
  }
  case removal_condition::kind::session_closes:
    return f.session_closed;
  case removal_condition::kind::time_after:
    return f.now > static_cast<int64_t>(c.number);
  case removal_condition::kind::no_session_for: {
    if (!f.none_since || !c.sessions)
      return false;
    auto since = f.none_since(*c.sessions);
    return since && f.now - *since >= c.period.count();
  }
  }
  return false;
}

void node_text(const node& n, std::string& out, bool in_all) {
  if (n.what == node::op::condition) {
    auto& c = n.condition;
    switch (c.what) {
    case removal_condition::kind::no_updates_for:
      out += "no updates for " + period_text(c.period);
      break;
    case removal_condition::kind::subscriptions_below_for:
      out += "subscriptions < " + std::to_string(c.number) + " for "
             + period_text(c.period);
      break;
    case removal_condition::kind::session_closes:
      out += "this session closes";
      break;
    case removal_condition::kind::time_after:
      out += "time after " + std::to_string(c.number);
      break;
    case removal_condition::kind::no_session_for: {
      auto& text = c.sessions->text();
      char q = text.find('\'') == std::string::npos ? '\'' : '"';
      out += "no session has ";
      out += q;
      out += text;
      out += q;
      out += " for " + period_text(c.period);
      break;
    }
    }
    return;
  }
  bool any = n.what == node::op::any;
  bool paren = any && in_all;
  if (paren)
    out += '(';
  for (size_t i = 0; i < n.parts.size(); ++i) {
    if (i > 0)
      out += any ? " or " : " and ";
    node_text(n.parts[i], out, !any);
  }
  if (paren)
    out += ')';
}

// -- specification properties -------------------------------------------------

constexpr std::string_view prop_dont_retain_value = "DONT_RETAIN_VALUE";
constexpr std::string_view prop_publish_values_only = "PUBLISH_VALUES_ONLY";
constexpr std::string_view prop_validate_values = "VALIDATE_VALUES";
constexpr std::string_view prop_tidy_on_unsubscribe = "TIDY_ON_UNSUBSCRIBE";
constexpr std::string_view prop_conflation = "CONFLATION";
constexpr std::string_view prop_removal = "REMOVAL";
constexpr std::string_view prop_owner = "OWNER";
constexpr std::string_view prop_event_value_type
    = "TIME_SERIES_EVENT_VALUE_TYPE";
constexpr std::string_view prop_retained_range = "TIME_SERIES_RETAINED_RANGE";
constexpr std::string_view prop_subscription_range
    = "TIME_SERIES_SUBSCRIPTION_RANGE";

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "true")
    return true;
  if (v == "false")
    return false;
  return std::nullopt;
}

std::string error_text(const expression_error& e) {
  return e.message + " at offset " + std::to_string(e.offset);
}

} // namespace

std::string_view to_string(topic_type t) noexcept {
  switch (t) {
  case topic_type::json:
    return "json";
  case topic_type::string:
    return "string";
  case topic_type::int64:
    return "int64";
  case topic_type::double_:
    return "double";
  case topic_type::binary:
    return "binary";
  case topic_type::time_series:
    return "time_series";
  }
  return "?";
}

std::optional<topic_type> parse_topic_type(std::string_view name) noexcept {
  for (auto t :
       {topic_type::json, topic_type::string, topic_type::int64,
        topic_type::double_, topic_type::binary, topic_type::time_series})
    if (name == to_string(t))
      return t;
  return std::nullopt;
}

std::string_view to_string(conflation_mode m) noexcept {
  switch (m) {
  case conflation_mode::off:
    return "off";
  case conflation_mode::conflate:
    return "conflate";
  case conflation_mode::always:
    return "always";
  case conflation_mode::unsubscribe:
    return "unsubscribe";
  }
  return "?";
}

bool removal_policy::due(const facts& f) const {
  return node_due(root, f);
}

std::string removal_policy::to_string() const {
  std::string out = "when ";
  node_text(root, out, false);
  return out;
}

std::variant<removal_policy, expression_error>
parse_removal_policy(std::string_view text) {
  auto ts = tokenize(text);
  if (auto e = std::get_if<expression_error>(&ts))
    return *e;
  return policy_parser{std::get<std::vector<token>>(std::move(ts))}.parse();
}

std::optional<std::chrono::milliseconds> parse_period(std::string_view text) {
  auto ts = tokenize(text);
  auto toks = std::get_if<std::vector<token>>(&ts);
  if (toks == nullptr || toks->size() != 2
      || toks->front().what != token::kind::period)
    return std::nullopt;
  return toks->front().period;
}

std::string range_expression::to_string() const {
  std::string out;
  if (limit)
    out += "limit " + std::to_string(*limit);
  if (last) {
    if (!out.empty())
      out += ' ';
    out += "last " + period_text(*last);
  }
  return out;
}

std::variant<range_expression, expression_error>
parse_range(std::string_view text) {
  auto ts = tokenize(text);
  if (auto e = std::get_if<expression_error>(&ts))
    return *e;
  auto& toks = std::get<std::vector<token>>(ts);
  range_expression r;
  size_t i = 0;
  while (toks[i].what != token::kind::end) {
    auto& t = toks[i];
    if (t.what == token::kind::word && t.text == "limit") {
      if (r.limit)
        return expression_error{t.offset, "'limit' given twice"};
      if (toks[i + 1].what != token::kind::number)
        return expression_error{toks[i + 1].offset,
                                "expected a number after 'limit', found "
                                    + describe(toks[i + 1])};
      r.limit = toks[i + 1].number;
      i += 2;
    } else if (t.what == token::kind::word && t.text == "last") {
      if (r.last)
        return expression_error{t.offset, "'last' given twice"};
      if (toks[i + 1].what != token::kind::period)
        return expression_error{toks[i + 1].offset,
                                "expected a period such as 10s after "
                                "'last', found "
                                    + describe(toks[i + 1])};
      r.last = toks[i + 1].period;
      i += 2;
    } else {
      return expression_error{t.offset, "expected 'limit' or 'last', found "
                                            + describe(t)};
    }
  }
  return r;
}

std::map<std::string, std::string> topic_specification::properties() const {
  std::map<std::string, std::string> out;
  auto flag = [&](std::string_view name, bool v) {
    if (v)
      out.emplace(name, "true");
  };
  flag(prop_dont_retain_value, dont_retain_value);
  flag(prop_publish_values_only, publish_values_only);
  flag(prop_validate_values, validate_values);
  flag(prop_tidy_on_unsubscribe, tidy_on_unsubscribe);
  if (conflation != conflation_mode::off)
    out.emplace(prop_conflation, std::string(castor::to_string(conflation)));
  if (removal)
    out.emplace(prop_removal, removal->to_string());
  if (!owner.empty())
    out.emplace(prop_owner, owner);
  if (event_type)
    out.emplace(prop_event_value_type,
                std::string(castor::to_string(*event_type)));
  if (auto r = retained_range.to_string(); !r.empty())
    out.emplace(prop_retained_range, r);
  if (auto r = subscription_range.to_string(); !r.empty())
    out.emplace(prop_subscription_range, r);
  return out;
}

bool operator==(const topic_specification& a, const topic_specification& b) {
  return a.type == b.type && a.properties() == b.properties();
}

std::variant<topic_specification, specification_error>
make_specification(std::string_view type,
                   const std::map<std::string, std::string>& properties) {
  topic_specification s;
  auto t = parse_topic_type(type);
  if (!t)
    return specification_error{"", "unknown type '" + std::string(type)
                                       + "' (json, string, int64, double, "
                                         "binary or time_series)"};
  s.type = *t;
  bool series = s.type == topic_type::time_series;
  for (auto& property : properties) {
    // Not a structured binding: lambdas below capture them (C++17).
    const std::string& name = property.first;
    const std::string& value = property.second;
    auto err = [&](std::string message) {
      return specification_error{name, std::move(message)};
    };
    auto boolean = [&](bool& field) -> std::optional<specification_error> {
      auto b = parse_bool(value);
      if (!b)
        return err("expected true or false, found '" + value + "'");
      field = *b;
      return std::nullopt;
    };
    std::optional<specification_error> bad;
    if (name == prop_dont_retain_value) {
      bad = boolean(s.dont_retain_value);
    } else if (name == prop_publish_values_only) {
      bad = boolean(s.publish_values_only);
    } else if (name == prop_validate_values) {
      bad = boolean(s.validate_values);
    } else if (name == prop_tidy_on_unsubscribe) {
      bad = boolean(s.tidy_on_unsubscribe);
    } else if (name == prop_conflation) {
      bool found = false;
      for (auto m : {conflation_mode::off, conflation_mode::conflate,
                     conflation_mode::always, conflation_mode::unsubscribe})
        if (value == castor::to_string(m)) {
          s.conflation = m;
          found = true;
        }
      if (!found)
        bad = err("expected off, conflate, always or unsubscribe, found '"
                  + value + "'");
    } else if (name == prop_removal) {
      auto p = parse_removal_policy(value);
      if (auto e = std::get_if<expression_error>(&p))
        bad = err(error_text(*e));
      else
        s.removal = std::get<removal_policy>(std::move(p));
    } else if (name == prop_owner) {
      if (value.empty())
        bad = err("expected a principal's name");
      s.owner = value;
    } else if (name == prop_event_value_type || name == prop_retained_range
               || name == prop_subscription_range) {
      if (!series) {
        bad = err("only for time_series topics");
      } else if (name == prop_event_value_type) {
        auto et = parse_topic_type(value);
        if (!et || *et == topic_type::time_series)
          bad = err("expected json, string, int64, double or binary, found '"
                    + value + "'");
        else
          s.event_type = et;
      } else {
        auto r = parse_range(value);
        if (auto e = std::get_if<expression_error>(&r))
          bad = err(error_text(*e));
        else
          (name == prop_retained_range ? s.retained_range
                                       : s.subscription_range)
              = std::get<range_expression>(r);
      }
    } else {
      bad = err("unknown property");
    }
    if (bad)
      return *bad;
  }
  if (series && !s.event_type)
    return specification_error{std::string(prop_event_value_type),
                               "required for time_series topics"};
  return s;
}

} // namespace castor
