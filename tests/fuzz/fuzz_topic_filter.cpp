// Fuzzes topic filter parsing, topic name validation, matching and the two
// topic indexes.
//
// Input: lines separated by '\n' (at most 16 are used). Line 0 is a filter
// and line 1 a topic name for the pairwise checks; every valid line also goes
// into the indexes (a filter into filter_index, a name into name_index), whose
// answers must agree with topic_matches before and after erasing entries.

#include "protocol/topic.hpp"
#include "protocol/topic_index.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace castor::mqtt;

namespace {

void check(bool condition) {
  if (!condition)
    std::abort();
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    auto end = s.find('/', pos);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
}

/// The matching rules restated on split levels.
bool reference_matches(std::string_view filter, std::string_view topic) {
  auto f = split(filter);
  auto t = split(topic);
  if (!t[0].empty() && t[0][0] == '$' && (f[0] == "+" || f[0] == "#"))
    return false;
  size_t i = 0;
  for (; i < f.size(); ++i) {
    if (f[i] == "#")
      return true;
    if (i >= t.size() || (f[i] != "+" && f[i] != t[i]))
      return false;
  }
  return i == t.size();
}

bool contained_in(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data()
         && part.data() + part.size() <= whole.data() + whole.size();
}

void check_filter(std::string_view text) {
  auto info = parse_filter(text);
  if (!info.valid) {
    check(!info.shared && !info.wildcard);
    return;
  }
  check(!info.filter.empty() && contained_in(info.filter, text));
  check(info.wildcard
        == (info.filter.find_first_of("+#") != std::string_view::npos));
  if (info.shared) {
    check(text.substr(0, 7) == "$share/");
    check(!info.group.empty() && contained_in(info.group, text));
    check(info.group.find_first_of("/+#") == std::string_view::npos);
    check(text.size() == 7 + info.group.size() + 1 + info.filter.size());
    // The filter proper is itself valid (unless it is again "$share/...").
    if (info.filter.substr(0, 7) != "$share/")
      check(parse_filter(info.filter).valid);
  } else {
    check(info.filter == text && info.group.empty());
  }
  // A delta subscription: `$delta/` and a subject that is a valid filter,
  // neither shared nor a delta filter itself; otherwise the subject is the
  // filter proper.
  check(contained_in(info.subject, text));
  if (info.delta) {
    check(info.filter.substr(0, 7) == "$delta/");
    check(info.subject == info.filter.substr(7));
    auto inner = parse_filter(info.subject);
    check(inner.valid && !inner.shared && !inner.delta);
    check(inner.wildcard == info.wildcard);
  } else {
    check(info.subject == info.filter);
    check(info.filter.substr(0, 7) != "$delta/");
  }
}

void check_name(std::string_view text) {
  if (!valid_topic_name(text))
    return;
  check(!text.empty() && text.size() <= 65535);
  check(text.find_first_of("+#") == std::string_view::npos);
  // A valid name is a valid exact filter (unless it reads as a shared or a
  // delta one) and matches itself.
  if (text.substr(0, 7) != "$share/" && text.substr(0, 7) != "$delta/") {
    auto info = parse_filter(text);
    check(info.valid && !info.wildcard && !info.shared);
  }
  check(topic_matches(text, text));
}

using filter_entry = std::pair<std::string, uint64_t>;

void check_indexes(const std::vector<std::string_view>& lines) {
  filter_index<uint64_t> filters;
  name_index<std::string> names;
  std::set<filter_entry> stored_filters;
  std::set<std::string> stored_names;
  std::vector<std::string> queries_f; // valid filters proper
  std::vector<std::string> queries_n; // valid names
  for (size_t i = 0; i < lines.size(); ++i) {
    auto info = parse_filter(lines[i]);
    if (info.valid) {
      uint64_t key = i % 3;
      std::string f{info.filter};
      bool fresh = stored_filters.emplace(f, key).second;
      check(filters.insert(f, key, key * 11) == fresh);
      queries_f.push_back(f);
    }
    if (valid_topic_name(lines[i])) {
      std::string n{lines[i]};
      bool fresh = stored_names.insert(n).second;
      check(names.insert(n, n) == fresh);
      queries_n.push_back(n);
    }
  }
  auto verify = [&] {
    check(filters.size() == stored_filters.size());
    check(names.size() == stored_names.size());
    check(filters.empty() == (filters.node_count() == 0));
    check(names.empty() == (names.node_count() == 0));
    for (auto& n : queries_n) {
      std::set<filter_entry> expected;
      for (auto& e : stored_filters)
        if (topic_matches(e.first, n))
          expected.insert(e);
      std::set<filter_entry> got;
      filters.for_each_match(
          n, [&](std::string_view f, uint64_t key, uint64_t& v) {
            check(v == key * 11);
            check(got.emplace(std::string{f}, key).second);
          });
      check(got == expected);
      check((names.find(n) != nullptr) == (stored_names.count(n) > 0));
    }
    for (auto& f : queries_f) {
      std::set<std::string> expected;
      for (auto& n : stored_names)
        if (topic_matches(f, n))
          expected.insert(n);
      std::set<std::string> got;
      names.for_each_match(f, [&](std::string_view n, std::string& v) {
        check(v == n);
        check(got.emplace(n).second);
      });
      check(got == expected);
    }
  };
  verify();
  // Erase every other entry, then everything.
  for (size_t round = 0; round < 2; ++round) {
    size_t i = 0;
    for (auto it = stored_filters.begin(); it != stored_filters.end();) {
      if (round == 1 || i++ % 2 == 0) {
        check(filters.erase(it->first, it->second));
        check(!filters.erase(it->first, it->second));
        it = stored_filters.erase(it);
      } else {
        ++it;
      }
    }
    i = 0;
    for (auto it = stored_names.begin(); it != stored_names.end();) {
      if (round == 1 || i++ % 2 == 0) {
        check(names.erase(*it));
        check(!names.erase(*it));
        it = stored_names.erase(it);
      } else {
        ++it;
      }
    }
    verify();
  }
  check(filters.node_count() == 0 && names.node_count() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::vector<std::string_view> lines;
  for (size_t pos = 0; lines.size() < 16;) {
    auto end = input.find('\n', pos);
    if (end == std::string_view::npos) {
      lines.push_back(input.substr(pos));
      break;
    }
    lines.push_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  for (auto line : lines) {
    check_filter(line);
    check_name(line);
  }
  // Whatever the input, matching terminates without a fault.
  for (auto f : lines)
    for (auto t : lines)
      topic_matches(f, t);
  if (lines.size() >= 2) {
    auto info = parse_filter(lines[0]);
    if (info.valid && valid_topic_name(lines[1]))
      check(topic_matches(info.filter, lines[1])
            == reference_matches(info.filter, lines[1]));
  }
  // Pairwise over all lines, both ways.
  for (auto f : lines) {
    auto info = parse_filter(f);
    if (!info.valid)
      continue;
    for (auto t : lines)
      if (valid_topic_name(t))
        check(topic_matches(info.filter, t)
              == reference_matches(info.filter, t));
  }
  check_indexes(lines);
  return 0;
}
