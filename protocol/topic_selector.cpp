#include "protocol/topic_selector.hpp"

#include <cctype>

#include <re2/re2.h>

#include "protocol/topic.hpp"

namespace castor {

namespace {

/// Memory one compiled pattern may take (RE2 falls back to slower but
/// still linear matching beyond it, or refuses the pattern).
constexpr int64_t max_pattern_memory = 1 << 20;

bool is_meta(char c) noexcept {
  switch (c) {
  case '\\':
  case '.':
  case '^':
  case '$':
  case '|':
  case '?':
  case '*':
  case '+':
  case '(':
  case ')':
  case '[':
  case ']':
  case '{':
  case '}':
    return true;
  default:
    return false;
  }
}

bool literal(std::string_view s) noexcept {
  for (char c : s)
    if (is_meta(c))
      return false;
  return true;
}

std::vector<std::string_view> levels(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

/// The whole levels every path a full-path pattern matches starts with:
/// the literal text before its first operator (escaped punctuation is
/// literal), less a character a quantifier applies to, cut back to a level
/// boundary; "" when an alternation may start elsewhere.
std::string pattern_prefix(std::string_view p) {
  for (size_t i = 0, depth = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[') {
      if (p.find('|') != std::string_view::npos)
        return {}; // a class may hide the nesting: be safe
    } else if (p[i] == '(') {
      ++depth;
    } else if (p[i] == ')') {
      depth -= depth > 0 ? 1 : 0;
    } else if (p[i] == '|' && depth == 0) {
      return {};
    }
  }
  std::string run;
  size_t i = 0;
  for (; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size()
        && std::ispunct(static_cast<unsigned char>(p[i + 1]))) {
      run.push_back(p[++i]);
      continue;
    }
    if (is_meta(p[i]))
      break;
    run.push_back(p[i]);
  }
  if (i == p.size())
    return run; // all literal: the path itself
  if ((p[i] == '?' || p[i] == '*' || p[i] == '+' || p[i] == '{')
      && !run.empty())
    run.pop_back();
  auto slash = run.rfind('/');
  return slash == std::string::npos ? std::string{} : run.substr(0, slash);
}

/// The longest common prefix of `a` and `b` in whole levels.
std::string common_levels(const std::string& a, const std::string& b) {
  auto la = levels(a);
  auto lb = levels(b);
  std::string out;
  for (size_t i = 0; i < la.size() && i < lb.size() && la[i] == lb[i]; ++i) {
    if (i > 0)
      out.push_back('/');
    out.append(la[i]);
  }
  return out;
}

} // namespace

struct selector_parser {
  using result = std::variant<topic_selector, selector_error>;

  static selector_error error(size_t offset, std::string message) {
    return selector_error{offset, std::move(message)};
  }

  static std::variant<std::shared_ptr<const re2::RE2>, selector_error>
  compile(std::string_view pattern, size_t offset) {
    re2::RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(max_pattern_memory);
    auto re = std::make_shared<const re2::RE2>(
        re2::StringPiece{pattern.data(), pattern.size()}, opts);
    if (!re->ok())
      return error(offset, "bad regular expression '" + std::string{pattern}
                               + "': " + re->error());
    return re;
  }

  /// Strips the qualifier (`//`, `/`) from the end of `body`.
  static topic_selector::qualifier qualifier_of(std::string_view& body) {
    if (body.size() >= 2 && body.substr(body.size() - 2) == "//") {
      body.remove_suffix(2);
      return topic_selector::qualifier::itself_and_descendants;
    }
    if (!body.empty() && body.back() == '/') {
      body.remove_suffix(1);
      return topic_selector::qualifier::descendants;
    }
    return topic_selector::qualifier::itself;
  }

  static result one(std::string_view text, size_t offset) {
    topic_selector s;
    s.text_ = std::string{text};
    if (text.empty())
      return error(offset, "empty selector");
    auto body = text.substr(1);
    switch (text.front()) {
    case '>': {
      s.kind_ = topic_selector::kind::path;
      s.scope_ = qualifier_of(body);
      if (!mqtt::valid_topic_name(body))
        return error(offset + 1, "'" + std::string{body}
                                     + "' is not a valid topic path");
      s.body_ = std::string{body};
      s.prefix_ = s.body_;
      return s;
    }
    case '?': {
      s.kind_ = topic_selector::kind::split_pattern;
      s.scope_ = qualifier_of(body);
      if (body.empty())
        return error(offset + 1, "empty split-path pattern");
      size_t at = offset + 1;
      bool literal_so_far = true;
      for (auto part : levels(body)) {
        if (part.empty())
          return error(at, "an empty part in a split-path pattern");
        auto re = compile(part, at);
        if (auto e = std::get_if<selector_error>(&re))
          return *e;
        s.parts_.push_back(
            std::get<std::shared_ptr<const re2::RE2>>(std::move(re)));
        if (literal_so_far && literal(part)) {
          if (s.parts_.size() > 1)
            s.prefix_.push_back('/');
          s.prefix_.append(part);
        } else {
          literal_so_far = false;
        }
        at += part.size() + 1;
      }
      s.body_ = std::string{body};
      return s;
    }
    case '*': {
      s.kind_ = topic_selector::kind::full_pattern;
      s.scope_ = qualifier_of(body);
      if (body.empty())
        return error(offset + 1, "empty full-path pattern");
      auto re = compile(body, offset + 1);
      if (auto e = std::get_if<selector_error>(&re))
        return *e;
      s.parts_.push_back(
          std::get<std::shared_ptr<const re2::RE2>>(std::move(re)));
      s.prefix_ = pattern_prefix(body);
      s.body_ = std::string{body};
      return s;
    }
    default: {
      s.kind_ = topic_selector::kind::filter;
      auto info = mqtt::parse_filter(text);
      if (!info.valid || info.shared || info.delta)
        return error(offset, "'" + std::string{text}
                                 + "' is not a topic filter or selector");
      s.body_ = std::string{text};
      auto ls = levels(text);
      for (size_t i = 0; i < ls.size() && ls[i] != "+" && ls[i] != "#"; ++i) {
        if (i > 0)
          s.prefix_.push_back('/');
        s.prefix_.append(ls[i]);
      }
      return s;
    }
    }
  }

  static result set(std::string_view text) {
    topic_selector s;
    s.kind_ = topic_selector::kind::set;
    s.text_ = std::string{text};
    size_t start = 1;
    for (;;) {
      // In a run of more than four slashes the last four part the
      // members: the others end the member (its qualifier).
      auto end = text.find("////", start);
      while (end != std::string_view::npos && end + 4 < text.size()
             && text[end + 4] == '/')
        ++end;
      auto member = text.substr(start, end == std::string_view::npos
                                           ? std::string_view::npos
                                           : end - start);
      if (!member.empty() && member.front() == '#' && member.size() > 1)
        return error(start, "a selector set cannot hold a set");
      if (s.members_.size() == max_selector_members)
        return error(start, "more than " + std::to_string(max_selector_members)
                                + " selectors in a set");
      auto r = one(member, start);
      if (auto e = std::get_if<selector_error>(&r))
        return *e;
      s.members_.push_back(std::get<topic_selector>(std::move(r)));
      if (end == std::string_view::npos)
        break;
      start = end + 4;
    }
    s.prefix_ = s.members_.front().prefix_;
    for (auto& m : s.members_)
      s.prefix_ = common_levels(s.prefix_, m.prefix_);
    return s;
  }
};

std::variant<topic_selector, selector_error>
parse_selector(std::string_view text) {
  if (text.size() > max_selector_size)
    return selector_error{max_selector_size,
                          "a selector has at most "
                              + std::to_string(max_selector_size) + " bytes"};
  if (text.size() > 1 && text.front() == '#')
    return selector_parser::set(text);
  return selector_parser::one(text, 0);
}

bool topic_selector::base_selects(std::string_view path) const {
  switch (kind_) {
  case kind::filter:
    return mqtt::topic_matches(body_, path);
  case kind::path:
    return path == body_;
  case kind::split_pattern: {
    size_t i = 0;
    size_t start = 0;
    for (;;) {
      if (i == parts_.size())
        return false;
      auto slash = path.find('/', start);
      auto level = path.substr(start, slash == std::string_view::npos
                                          ? std::string_view::npos
                                          : slash - start);
      if (!re2::RE2::FullMatch(re2::StringPiece{level.data(), level.size()},
                               *parts_[i]))
        return false;
      ++i;
      if (slash == std::string_view::npos)
        return i == parts_.size();
      start = slash + 1;
    }
  }
  case kind::full_pattern:
    return re2::RE2::FullMatch(re2::StringPiece{path.data(), path.size()},
                               *parts_.front());
  case kind::set:
    break;
  }
  return false;
}

bool topic_selector::selects(std::string_view path) const {
  if (kind_ == kind::set) {
    for (auto& m : members_)
      if (m.selects(path))
        return true;
    return false;
  }
  if (kind_ != kind::filter && !path.empty() && path.front() == '$'
      && (prefix_.empty() || prefix_.front() != '$'))
    return false;
  if (scope_ != qualifier::descendants && base_selects(path))
    return true;
  if (scope_ == qualifier::itself)
    return false;
  // Descendants: some proper ancestor is selected.
  for (auto slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1))
    if (base_selects(path.substr(0, slash)))
      return true;
  return false;
}

std::string selector_key(std::string_view text, bool delta) {
  std::string key{selector_key_prefix};
  key += delta ? "d/" : "v/";
  key += text;
  return key;
}

std::optional<selector_key_info> parse_selector_key(std::string_view key) {
  if (key.substr(0, selector_key_prefix.size()) != selector_key_prefix)
    return std::nullopt;
  key.remove_prefix(selector_key_prefix.size());
  if (key.size() < 2 || key[1] != '/' || (key[0] != 'd' && key[0] != 'v'))
    return std::nullopt;
  return selector_key_info{key.substr(2), key[0] == 'd'};
}

} // namespace castor
