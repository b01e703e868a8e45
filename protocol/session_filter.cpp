#include "protocol/session_filter.hpp"

#include <cctype>
#include <optional>

#include <re2/re2.h>

namespace castor {

namespace {

/// Memory one compiled expression may take.
constexpr int64_t max_pattern_memory = 1 << 20;

bool key_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '$'
         || c == '_' || c == '-' || c == '.';
}

bool same_word(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

using node = session_filter::node;
using node_ptr = std::shared_ptr<const node>;

bool eval(const node& n, const session_facts& s) {
  std::string scratch;
  switch (n.what) {
  case node::kind::all:
    return true;
  case node::kind::is:
  case node::kind::ne: {
    auto v = s.find(n.key, scratch);
    bool equal = v && *v == n.texts.front();
    return n.what == node::kind::is ? equal : !equal;
  }
  case node::kind::matches: {
    auto v = s.find(n.key, scratch);
    return v
           && RE2::FullMatch(re2::StringPiece(v->data(), v->size()),
                             *n.pattern);
  }
  case node::kind::in: {
    auto v = s.find(n.key, scratch);
    if (!v)
      return false;
    for (auto& t : n.texts)
      if (t == *v)
        return true;
    return false;
  }
  case node::kind::has:
    return s.find(n.key, scratch).has_value();
  case node::kind::has_roles:
    for (auto& r : n.texts)
      if (s.roles.count(r) == 0)
        return false;
    return true;
  case node::kind::not_:
    return !eval(*n.operands.front(), s);
  case node::kind::and_:
    for (auto& o : n.operands)
      if (!eval(*o, s))
        return false;
    return true;
  case node::kind::or_:
    for (auto& o : n.operands)
      if (eval(*o, s))
        return true;
    return false;
  }
  return false;
}

} // namespace

std::optional<std::string_view>
session_facts::find(std::string_view key, std::string& scratch) const {
  if (fixed && !key.empty() && key.front() == '$') {
    const session_fixed& f = *fixed;
    if (key == "$SessionId")
      return std::string_view{f.session_id};
    if (key == "$ClientId")
      return std::string_view{f.client_id};
    if (key == "$Principal")
      return std::string_view{f.principal};
    if (key == "$ClientIP")
      return std::string_view{f.client_ip};
    if (key == "$Transport")
      return std::string_view{f.transport};
    if (key == "$Listener")
      return std::string_view{f.listener};
    if (key == "$StartTime")
      return std::string_view{f.start_time};
    if (key == "$Connected")
      return std::string_view{f.connected ? "true" : "false"};
    if (key == "$Roles") {
      scratch.clear();
      for (auto& r : roles)
        scratch += (scratch.empty() ? "" : ",") + r;
      return std::string_view{scratch};
    }
  }
  auto i = properties.find(key);
  if (i == properties.end())
    return std::nullopt;
  return std::string_view{i->second};
}

std::map<std::string, std::string, std::less<>> session_facts::all() const {
  auto out = properties;
  if (fixed) {
    std::string scratch;
    for (const char* k :
         {"$SessionId", "$ClientId", "$Principal", "$ClientIP", "$Transport",
          "$Listener", "$Roles", "$Connected", "$StartTime"})
      out[k] = std::string{*find(k, scratch)};
  }
  return out;
}

bool session_filter::selects(const session_facts& s) const {
  return root_ && eval(*root_, s);
}

struct session_filter_parser {
  std::string_view in;
  size_t pos = 0;
  size_t depth = 0;
  std::optional<session_filter_error> error;

  node_ptr fail(size_t at, std::string message) {
    if (!error)
      error = session_filter_error{at, std::move(message)};
    return nullptr;
  }

  void skip_space() {
    while (pos < in.size()
           && std::isspace(static_cast<unsigned char>(in[pos])) != 0)
      ++pos;
  }

  /// The next bare word (key characters), not consumed.
  std::string_view peek_word() {
    skip_space();
    size_t end = pos;
    while (end < in.size() && key_char(in[end]))
      ++end;
    return in.substr(pos, end - pos);
  }

  bool take_word(std::string_view w) {
    auto next = peek_word();
    if (!same_word(next, w))
      return false;
    pos += next.size();
    return true;
  }

  bool take(char c) {
    skip_space();
    if (pos < in.size() && in[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  /// A quoted text; nothing (and the error) if there is none.
  std::optional<std::string> quoted(const char* what) {
    skip_space();
    if (pos >= in.size() || (in[pos] != '\'' && in[pos] != '"')) {
      fail(pos, std::string{"expected "} + what + " in quotes");
      return std::nullopt;
    }
    char q = in[pos];
    size_t start = pos++;
    std::string out;
    while (pos < in.size() && in[pos] != q) {
      if (in[pos] == '\\') {
        if (pos + 1 >= in.size())
          break;
        ++pos;
      }
      out.push_back(in[pos++]);
    }
    if (pos >= in.size()) {
      fail(start, "unterminated text");
      return std::nullopt;
    }
    ++pos;
    return out;
  }

  std::optional<std::string> key() {
    skip_space();
    if (pos < in.size() && (in[pos] == '\'' || in[pos] == '"'))
      return quoted("a property name");
    auto w = peek_word();
    if (w.empty()) {
      fail(pos, "expected a property name");
      return std::nullopt;
    }
    pos += w.size();
    return std::string{w};
  }

  std::optional<std::vector<std::string>> list() {
    if (!take('[')) {
      fail(pos, "expected a list ['a', 'b']");
      return std::nullopt;
    }
    std::vector<std::string> out;
    if (take(']'))
      return out;
    for (;;) {
      auto t = quoted("a text");
      if (!t)
        return std::nullopt;
      if (out.size() >= max_session_filter_list) {
        fail(pos, "more than " + std::to_string(max_session_filter_list)
                      + " texts in a list");
        return std::nullopt;
      }
      out.push_back(std::move(*t));
      if (take(']'))
        return out;
      if (!take(',')) {
        fail(pos, "expected ',' or ']'");
        return std::nullopt;
      }
    }
  }

  node_ptr primary() {
    skip_space();
    if (pos >= in.size())
      return fail(pos, "expected a condition");
    if (take('(')) {
      auto inner = disjunction();
      if (!inner)
        return nullptr;
      if (!take(')'))
        return fail(pos, "expected ')'");
      return inner;
    }
    auto n = std::make_shared<node>();
    // A keyword followed by a comparison is a property's name.
    if (word_then_operator())
      return comparison(n);
    if (take_word("all")) {
      n->what = node::kind::all;
      return n;
    }
    if (take_word("hasRoles")) {
      auto l = list();
      if (!l)
        return nullptr;
      n->what = node::kind::has_roles;
      n->texts = std::move(*l);
      return n;
    }
    if (take_word("has")) {
      auto k = key();
      if (!k)
        return nullptr;
      n->what = node::kind::has;
      n->key = std::move(*k);
      return n;
    }
    return comparison(n);
  }

  static bool is_operator(std::string_view w) {
    return same_word(w, "is") || same_word(w, "eq") || same_word(w, "ne")
           || same_word(w, "matches") || same_word(w, "in");
  }

  /// Whether the next word is followed by a comparison operator.
  bool word_then_operator() {
    size_t save = pos;
    auto w = peek_word();
    pos += w.size();
    bool yes = !w.empty() && is_operator(peek_word());
    pos = save;
    return yes;
  }

  node_ptr comparison(std::shared_ptr<node> n) {
    auto k = key();
    if (!k)
      return nullptr;
    n->key = std::move(*k);
    skip_space();
    size_t op_at = pos;
    if (take_word("is") || take_word("eq")) {
      n->what = node::kind::is;
    } else if (take_word("ne")) {
      n->what = node::kind::ne;
    } else if (take_word("matches")) {
      auto t = quoted("a regular expression");
      if (!t)
        return nullptr;
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(max_pattern_memory);
      auto re = std::make_shared<RE2>(*t, o);
      if (!re->ok())
        return fail(op_at, "bad regular expression '" + *t + "': " + re->error());
      n->what = node::kind::matches;
      n->pattern = std::move(re);
      return n;
    } else if (take_word("in")) {
      auto l = list();
      if (!l)
        return nullptr;
      n->what = node::kind::in;
      n->texts = std::move(*l);
      return n;
    } else {
      return fail(op_at, "expected is, eq, ne, matches or in after '"
                             + n->key + "'");
    }
    auto t = quoted("a text");
    if (!t)
      return nullptr;
    n->texts.push_back(std::move(*t));
    return n;
  }

  node_ptr negation() {
    skip_space();
    size_t at = pos;
    if (same_word(peek_word(), "not")) {
      // `not` is a keyword unless a comparison follows it as a key.
      if (!word_then_operator()) {
        pos += 3;
        if (++depth > max_session_filter_depth)
          return fail(at, "nested more than "
                              + std::to_string(max_session_filter_depth)
                              + " deep");
        auto inner = negation();
        --depth;
        if (!inner)
          return nullptr;
        auto n = std::make_shared<node>();
        n->what = node::kind::not_;
        n->operands.push_back(std::move(inner));
        return n;
      }
    }
    if (++depth > max_session_filter_depth)
      return fail(at, "nested more than "
                          + std::to_string(max_session_filter_depth)
                          + " deep");
    auto p = primary();
    --depth;
    return p;
  }

  template <class Next>
  node_ptr chain(std::string_view word, node::kind k, Next next) {
    auto first = (this->*next)();
    if (!first)
      return nullptr;
    std::vector<node_ptr> all{first};
    while (take_word(word)) {
      auto more = (this->*next)();
      if (!more)
        return nullptr;
      all.push_back(std::move(more));
    }
    if (all.size() == 1)
      return first;
    auto n = std::make_shared<node>();
    n->what = k;
    n->operands = std::move(all);
    return n;
  }

  node_ptr conjunction() {
    return chain("and", node::kind::and_, &session_filter_parser::negation);
  }

  node_ptr disjunction() {
    return chain("or", node::kind::or_, &session_filter_parser::conjunction);
  }
};

std::variant<session_filter, session_filter_error>
parse_session_filter(std::string_view text) {
  if (text.size() > max_session_filter_size)
    return session_filter_error{max_session_filter_size,
                                "longer than "
                                    + std::to_string(max_session_filter_size)
                                    + " bytes"};
  session_filter_parser p{text};
  auto root = p.disjunction();
  if (root && !p.error) {
    p.skip_space();
    if (p.pos < text.size())
      p.fail(p.pos, "unexpected '" + std::string{text.substr(p.pos, 16)}
                        + "'");
  }
  if (p.error)
    return *p.error;
  session_filter f;
  f.text_ = std::string{text};
  f.root_ = std::move(root);
  return f;
}

} // namespace castor
