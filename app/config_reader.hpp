#pragma once

// The building blocks of the configuration loader (app/config.cpp): values
// with where they are in the document, errors that carry the line and the
// dotted key, and tables of fields that read, check and write one YAML
// mapping each. The tables of the settings themselves are in config.cpp.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace castor::config_reader {

/// Thrown by the readers; carries everything but the file name.
struct failure {
  int line;
  std::string key;
  std::string message;
};

/// A value in the document together with where it is.
struct value_ref {
  const YAML::Node& node;
  std::string key; ///< dotted path
  int line;        ///< 1-based

  [[noreturn]] void fail(std::string message) const {
    throw failure{line, key, std::move(message)};
  }
};

/// 1-based line of a node; `fallback` for nodes without a position (a
/// missing value has its mark on the following line, so nulls use it too).
inline int line_of(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull())
    return fallback;
  auto mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

inline std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

/// Describes a node that has the wrong type, for "expected X, got Y".
inline std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined:
    return "no value";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a mapping";
  case YAML::NodeType::Scalar:
    break;
  }
  return "'" + node.Scalar() + "'";
}

inline const std::string& scalar_of(const value_ref& v, const char* expected) {
  if (!v.node.IsScalar())
    v.fail(std::string{"expected "} + expected + ", got " + describe(v.node));
  return v.node.Scalar();
}

inline uint64_t read_uint(const value_ref& v) {
  static constexpr const char* expected = "an unsigned integer";
  const auto& text = scalar_of(v, expected);
  if (text.empty())
    v.fail(std::string{"expected "} + expected + ", got ''");
  uint64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      v.fail(std::string{"expected "} + expected + ", got '" + text + "'");
    auto digit = static_cast<uint64_t>(c - '0');
    if (result > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      v.fail("'" + text + "' is too large");
    result = result * 10 + digit;
  }
  return result;
}

inline bool read_bool(const value_ref& v) {
  const auto& text = scalar_of(v, "true or false");
  if (text == "true" || text == "True" || text == "TRUE")
    return true;
  if (text == "false" || text == "False" || text == "FALSE")
    return false;
  v.fail("expected true or false, got '" + text + "'");
}

/// Edit distance, for "did you mean" (small strings only).
inline size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// -- the field table ----------------------------------------------------------

/// One setting in a YAML mapping that fills a T.
template <class T>
struct field {
  std::string key;
  /// Reads and checks the value, stores it in the struct.
  std::function<void(const value_ref&, T&)> read;
  /// Writes the value (emitter positioned after the key).
  std::function<void(YAML::Emitter&, const T&)> write;
  /// Keys below this one, for nested mappings ("mqtt.x", "listeners[].x").
  std::function<std::vector<std::string>()> children;
};

template <class T>
using table = std::vector<field<T>>;

template <class T>
std::vector<std::string> keys_of(const table<T>& rows,
                                 const std::string& prefix) {
  std::vector<std::string> result;
  for (const auto& row : rows) {
    if (row.children) {
      for (auto& child : row.children())
        result.push_back(prefix + child);
    } else {
      result.push_back(prefix + row.key);
    }
  }
  return result;
}

/// An unsigned integer in [lo, hi]; with `zero_ok`, 0 is also accepted (it
/// means "use the default from elsewhere").
template <class T, class U>
field<T> uint_field(std::string key, U T::*member, uint64_t lo,
                    uint64_t hi = std::numeric_limits<U>::max(),
                    bool zero_ok = false) {
  static_assert(std::is_unsigned_v<U>);
  hi = std::min<uint64_t>(hi, std::numeric_limits<U>::max());
  return {std::move(key),
          [member, lo, hi, zero_ok](const value_ref& v, T& out) {
            auto x = read_uint(v);
            if ((x < lo || x > hi) && !(zero_ok && x == 0)) {
              std::string range
                  = std::to_string(lo) + ".." + std::to_string(hi);
              if (zero_ok)
                range = "0 or " + range;
              v.fail(std::to_string(x) + " is out of range (allowed: " + range
                     + ")");
            }
            out.*member = static_cast<U>(x);
          },
          [member](YAML::Emitter& e, const T& in) {
            e << static_cast<unsigned long long>(in.*member);
          },
          nullptr};
}

template <class T>
field<T> bool_field(std::string key, bool T::*member) {
  return {std::move(key),
          [member](const value_ref& v, T& out) { out.*member = read_bool(v); },
          [member](YAML::Emitter& e, const T& in) { e << in.*member; },
          nullptr};
}

/// Writes a string value so that it reads back the same. yaml-cpp writes
/// most strings plain, a control character too, and a plain "a\r" before a
/// line break reads back as "a": double quotes (with escapes) then.
inline void write_string(YAML::Emitter& e, const std::string& s) {
  bool control = std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
  if (control)
    e << YAML::DoubleQuoted;
  e << s;
}

/// A string; `check` returns an error message or an empty string.
template <class T>
field<T> string_field(std::string key, std::string T::*member,
                      std::function<std::string(const std::string&)> check
                      = nullptr) {
  return {std::move(key),
          [member, check](const value_ref& v, T& out) {
            const auto& text = scalar_of(v, "a string");
            if (check) {
              if (auto err = check(text); !err.empty())
                v.fail(err);
            }
            out.*member = text;
          },
          [member](YAML::Emitter& e, const T& in) {
            write_string(e, in.*member);
          },
          nullptr};
}

/// A list of non-empty strings without spaces (names).
template <class T>
field<T> name_list_field(std::string key, std::vector<std::string> T::*member) {
  return {std::move(key),
          [member](const value_ref& v, T& out) {
            std::vector<std::string> result;
            if (!v.node.IsNull()) {
              if (!v.node.IsSequence())
                v.fail("expected a list of names, got " + describe(v.node));
              for (size_t i = 0; i < v.node.size(); ++i) {
                auto item = v.node[i];
                value_ref ref{item, v.key + "[" + std::to_string(i) + "]",
                              line_of(item, v.line)};
                const auto& text = scalar_of(ref, "a name");
                if (text.empty()
                    || text.find_first_of(" \t") != std::string::npos)
                  ref.fail("'" + text + "' is not a name");
                result.push_back(text);
              }
            }
            out.*member = std::move(result);
          },
          [member](YAML::Emitter& e, const T& in) {
            e << YAML::Flow << YAML::BeginSeq;
            for (const auto& name : in.*member)
              write_string(e, name);
            e << YAML::EndSeq;
          },
          nullptr};
}

template <class E>
using enum_names = std::vector<std::pair<std::string, E>>;

/// One of a fixed set of names.
template <class T, class E>
field<T> enum_field(std::string key, E T::*member, enum_names<E> names) {
  return {std::move(key),
          [member, names](const value_ref& v, T& out) {
            std::string allowed;
            for (const auto& [name, value] : names)
              allowed += (allowed.empty() ? "" : ", ") + name;
            const auto& text = scalar_of(v, ("one of " + allowed).c_str());
            for (const auto& [name, value] : names) {
              if (name == text) {
                out.*member = value;
                return;
              }
            }
            v.fail("expected one of " + allowed + ", got '" + text + "'");
          },
          [member, names](YAML::Emitter& e, const T& in) {
            for (const auto& [name, value] : names) {
              if (value == in.*member) {
                e << name;
                return;
              }
            }
            e << YAML::Null;
          },
          nullptr};
}

/// Reads a mapping into `out`, row by row; keys not in the table are errors.
template <class T>
void read_map(const value_ref& v, const table<T>& rows, T& out) {
  if (v.node.IsNull())
    return; // "mqtt:" with nothing below keeps the defaults
  if (!v.node.IsMap())
    v.fail("expected a mapping, got " + describe(v.node));
  std::map<std::string, int> seen;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    int key_line = line_of(it->first, v.line);
    if (!it->first.IsScalar())
      throw failure{key_line, v.key, "keys must be plain names"};
    const auto& key = it->first.Scalar();
    auto path = join_key(v.key, key);
    if (auto [pos, added] = seen.emplace(key, key_line); !added)
      throw failure{key_line, path,
                    "duplicate key (first set on line "
                        + std::to_string(pos->second) + ")"};
    auto row = std::find_if(rows.begin(), rows.end(),
                            [&](const field<T>& f) { return f.key == key; });
    if (row == rows.end()) {
      std::string message = "unknown key";
      const field<T>* best = nullptr;
      size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
      for (const auto& f : rows) {
        if (auto d = distance(key, f.key); d < best_distance) {
          best = &f;
          best_distance = d;
        }
      }
      if (best != nullptr) {
        message += "; did you mean '" + best->key + "'?";
      } else {
        message += "; valid keys here: ";
        for (size_t i = 0; i < rows.size(); ++i)
          message += (i == 0 ? "" : ", ") + rows[i].key;
      }
      throw failure{key_line, path, message};
    }
    row->read(value_ref{it->second, path, line_of(it->second, key_line)}, out);
  }
}

template <class T>
void write_map(YAML::Emitter& e, const table<T>& rows, const T& in) {
  e << YAML::BeginMap;
  for (const auto& row : rows) {
    e << YAML::Key << row.key << YAML::Value;
    row.write(e, in);
  }
  e << YAML::EndMap;
}

/// A nested mapping stored in member `member` of T.
template <class T, class U>
field<T> section_field(std::string key, U T::*member,
                       const table<U>& (*rows)()) {
  auto prefix = key + ".";
  return {std::move(key),
          [member, rows](const value_ref& v, T& out) {
            read_map(v, rows(), out.*member);
          },
          [member, rows](YAML::Emitter& e, const T& in) {
            write_map(e, rows(), in.*member);
          },
          [rows, prefix] { return keys_of(rows(), prefix); }};
}

/// The line of `key`'s value in `map` (or of the key), else `fallback`.
inline int key_line(const YAML::Node& map, const char* key, int fallback) {
  if (map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key)
        return line_of(it->second, line_of(it->first, fallback));
  }
  return fallback;
}

} // namespace castor::config_reader
