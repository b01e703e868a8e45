#include "protocol/json_delta.hpp"

#include <cstdint>
#include <string>

namespace castor {

namespace {

using json = nlohmann::json;

/// A reference token of a JSON pointer (RFC 6901): '~' -> "~0", '/' -> "~1".
std::string escape(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

json operation(const char* op, const std::string& path) {
  return json{{"op", op}, {"path", path}};
}

json operation(const char* op, const std::string& path, const json& value) {
  return json{{"op", op}, {"path", path}, {"value", value}};
}

/// Replaces the value at `path`. An object member named "-" is replaced
/// with `add` (the same effect, RFC 6902 4.1): some libraries (Debian's
/// python3-jsonpatch) refuse `replace` at a path ending in "-", which they
/// take for the end of an array. Array paths end in an index, never "-".
json replace(const std::string& path, const json& value) {
  bool dash = path.size() >= 2 && path.compare(path.size() - 2, 2, "/-") == 0;
  return operation(dash ? "add" : "replace", path, value);
}

/// Past this, the sizes below stop counting (they only decide which of two
/// texts is shorter).
constexpr size_t too_long = SIZE_MAX / 4;

/// The size of `s` as compact JSON text (nlohmann's dump: UTF-8 as is,
/// quotes, backslashes and control characters escaped).
size_t string_size(const std::string& s) {
  size_t n = 2;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n'
        || c == '\r' || c == '\t')
      n += 2;
    else if (c < 0x20)
      n += 6; // \u00XX
    else
      n += 1;
  }
  return n;
}

/// The size of `v` as compact JSON text (what dump() makes), or more than
/// `limit` once it is known to exceed it: deciding between a patch and the
/// value it replaces reads no more of the value than the patch is long.
size_t dump_size(const json& v, size_t limit) {
  switch (v.type()) {
  case json::value_t::object: {
    size_t n = 2 + (v.empty() ? 0 : v.size() - 1); // braces, commas
    for (auto it = v.begin(); it != v.end() && n <= limit; ++it)
      n += string_size(it.key()) + 1
           + dump_size(it.value(), limit >= n ? limit - n : 0);
    return n;
  }
  case json::value_t::array: {
    size_t n = 2 + (v.empty() ? 0 : v.size() - 1);
    for (auto it = v.begin(); it != v.end() && n <= limit; ++it)
      n += dump_size(*it, limit >= n ? limit - n : 0);
    return n;
  }
  case json::value_t::string:
    return string_size(v.get_ref<const std::string&>());
  case json::value_t::boolean:
    return v.get<bool>() ? 4 : 5;
  case json::value_t::null:
  case json::value_t::discarded:
    return 4;
  default:
    return v.dump().size(); // numbers: as nlohmann formats them
  }
}

/// The size of replace(path, value) as compact JSON text, or more than
/// `limit`: {"op":"replace","path":P,"value":V}.
size_t replace_size(const std::string& path, const json& value, size_t limit) {
  bool dash = path.size() >= 2 && path.compare(path.size() - 2, 2, "/-") == 0;
  size_t n = (dash ? 19 : 23) + string_size(path) + 9 + 1;
  return n + dump_size(value, limit >= n ? limit - n : 0);
}

/// Appends to `ops` what makes `b` from `a` at `path`.
void diff(const json& a, const json& b, const std::string& path, json& ops) {
  bool containers
      = (a.is_object() && b.is_object()) || (a.is_array() && b.is_array());
  if (!containers) {
    if (a != b)
      ops.push_back(replace(path, b));
    return;
  }
  json sub = json::array();
  if (a.is_object()) {
    // Both objects list their members in key order: one walk over both
    // finds the removed, added and changed members; paths are made only
    // for those.
    json changed = json::array();
    auto ia = a.begin();
    auto ib = b.begin();
    while (ia != a.end() || ib != b.end()) {
      int c = ia == a.end()   ? 1
              : ib == b.end() ? -1
                              : ia.key().compare(ib.key());
      if (c < 0) {
        sub.push_back(operation("remove", path + "/" + escape(ia.key())));
        ++ia;
      } else if (c > 0) {
        changed.push_back(
            operation("add", path + "/" + escape(ib.key()), ib.value()));
        ++ib;
      } else {
        if (ia.value() != ib.value())
          diff(ia.value(), ib.value(), path + "/" + escape(ib.key()), changed);
        ++ia;
        ++ib;
      }
    }
    for (auto& op : changed)
      sub.push_back(std::move(op));
  } else {
    // Arrays: common leading and trailing elements stay; the elements in
    // between are diffed pairwise, the surplus removed or added.
    size_t pre = 0;
    while (pre < a.size() && pre < b.size() && a[pre] == b[pre])
      ++pre;
    size_t suf = 0;
    while (suf < a.size() - pre && suf < b.size() - pre
           && a[a.size() - 1 - suf] == b[b.size() - 1 - suf])
      ++suf;
    size_t na = a.size() - pre - suf;
    size_t nb = b.size() - pre - suf;
    size_t both = std::min(na, nb);
    for (size_t i = 0; i < both; ++i)
      diff(a[pre + i], b[pre + i], path + "/" + std::to_string(pre + i), sub);
    for (size_t i = nb; i < na; ++i)
      sub.push_back(
          operation("remove", path + "/" + std::to_string(pre + both)));
    for (size_t i = na; i < nb; ++i)
      sub.push_back(
          operation("add", path + "/" + std::to_string(pre + i), b[pre + i]));
  }
  // The operations, or the whole part if that is shorter.
  auto sub_size = sub.dump().size();
  if (sub_size >= replace_size(path, b, sub_size) + 2) {
    ops.push_back(replace(path, b));
    return;
  }
  for (auto& op : sub)
    ops.push_back(std::move(op));
}

} // namespace

nlohmann::json make_json_patch(const nlohmann::json& from,
                               const nlohmann::json& to) {
  json ops = json::array();
  diff(from, to, "", ops);
  return ops;
}

std::optional<nlohmann::json> apply_json_patch(const nlohmann::json& from,
                                               const nlohmann::json& patch) {
  if (!patch.is_array())
    return std::nullopt;
  try {
    return from.patch(patch);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

namespace {

/// An array index of a JSON pointer token: digits, no leading zero.
bool array_index(const std::string& token, size_t& index) {
  if (token.empty() || token.size() > 18
      || (token.size() > 1 && token[0] == '0'))
    return false;
  size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9')
      return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  index = n;
  return true;
}

/// One `replace`, `add` or `remove` applied to `doc`; false if it does not
/// apply. (Throws nlohmann's exceptions for a malformed path.)
bool apply_operation(json& doc, const std::string& op,
                     const json::json_pointer& ptr, const json* value) {
  if (op == "replace") {
    // at() throws when the location does not exist (also "-" of an array).
    doc.at(ptr) = *value;
    return true;
  }
  if (ptr.empty()) { // the whole document
    if (op == "remove")
      return false;
    doc = *value;
    return true;
  }
  auto& parent = doc.at(ptr.parent_pointer());
  const auto& token = ptr.back();
  if (parent.is_object()) {
    if (op == "add") {
      parent[token] = *value;
      return true;
    }
    return parent.erase(token) == 1;
  }
  if (!parent.is_array())
    return false;
  size_t i = 0;
  if (op == "add") {
    if (token == "-") {
      parent.push_back(*value);
      return true;
    }
    if (!array_index(token, i) || i > parent.size())
      return false;
    parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(i), *value);
    return true;
  }
  if (!array_index(token, i) || i >= parent.size())
    return false;
  parent.erase(i);
  return true;
}

} // namespace

bool apply_json_patch_in_place(json& doc, const json& patch) {
  if (!patch.is_array())
    return false;
  for (const auto& o : patch) {
    auto op = o.is_object() ? o.find("op") : o.end();
    if (op == o.end() || !op->is_string()
        || (*op != "replace" && *op != "add" && *op != "remove")) {
      // test, move, copy (or no valid op): the general way, on a copy.
      auto r = apply_json_patch(doc, patch);
      if (!r)
        return false;
      doc = std::move(*r);
      return true;
    }
  }
  try {
    for (const auto& o : patch) {
      auto path = o.find("path");
      if (path == o.end() || !path->is_string())
        return false;
      const auto& op = o["op"].get_ref<const std::string&>();
      const json* value = nullptr;
      if (op != "remove") {
        auto v = o.find("value");
        if (v == o.end())
          return false;
        value = &*v;
      }
      if (!apply_operation(doc, op,
                           json::json_pointer(path->get<std::string>()), value))
        return false;
    }
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

} // namespace castor
