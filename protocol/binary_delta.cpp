#include "protocol/binary_delta.hpp"

#include <unordered_map>

namespace castor {

namespace {

constexpr char op_copy = 0x01;
constexpr char op_insert = 0x02;

/// Runs are found through blocks of this many bytes of the old value (at
/// multiples of it), so every shared run of 2 * block - 1 bytes is found.
constexpr size_t block = 16;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view d, size_t& pos, uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (pos >= d.size())
      return false;
    auto b = static_cast<uint8_t>(d[pos++]);
    auto bits = static_cast<uint64_t>(b & 0x7F);
    if (shift == 63 && bits > 1)
      return false; // more than 64 bits
    v |= bits << shift;
    if ((b & 0x80) == 0)
      return true;
  }
  return false;
}

uint64_t hash_block(const char* p) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (size_t i = 0; i < block; ++i) {
    h ^= static_cast<uint8_t>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

std::string make_binary_delta(std::string_view from, std::string_view to) {
  size_t pre = 0;
  while (pre < from.size() && pre < to.size() && from[pre] == to[pre])
    ++pre;
  size_t suf = 0;
  while (suf < from.size() - pre && suf < to.size() - pre
         && from[from.size() - 1 - suf] == to[to.size() - 1 - suf])
    ++suf;
  std::string out;
  size_t written = 0; // bytes of `to` the instructions make so far
  auto insert_until = [&](size_t end) {
    if (end <= written)
      return;
    out.push_back(op_insert);
    put_varint(out, end - written);
    out.append(to.data() + written, end - written);
    written = end;
  };
  auto copy = [&](size_t from_off, size_t len) {
    out.push_back(op_copy);
    put_varint(out, from_off);
    put_varint(out, len);
    written += len;
  };
  if (pre > 0)
    copy(0, pre);
  // The middle: runs shared with any part of the old middle.
  size_t old_begin = pre;
  size_t old_end = from.size() - suf;
  size_t new_end = to.size() - suf;
  if (old_end - old_begin >= block && new_end - pre >= block) {
    std::unordered_map<uint64_t, size_t> blocks;
    blocks.reserve((old_end - old_begin) / block);
    for (size_t p = old_begin; p + block <= old_end; p += block)
      blocks.emplace(hash_block(from.data() + p), p);
    size_t i = pre;
    while (i + block <= new_end) {
      auto hit = blocks.find(hash_block(to.data() + i));
      if (hit == blocks.end()
          || from.substr(hit->second, block) != to.substr(i, block)) {
        ++i;
        continue;
      }
      size_t o = hit->second;
      size_t start = i;
      // Back into the bytes not yet written, forward as far as they agree.
      while (start > written && o > old_begin && from[o - 1] == to[start - 1]) {
        --start;
        --o;
      }
      size_t len = i - start + block;
      while (start + len < new_end && o + len < old_end
             && from[o + len] == to[start + len])
        ++len;
      insert_until(start);
      copy(o, len);
      i = start + len;
    }
  }
  insert_until(new_end);
  if (suf > 0)
    copy(from.size() - suf, suf);
  return out;
}

std::optional<std::string> apply_binary_delta(std::string_view from,
                                              std::string_view delta,
                                              size_t max_size) {
  std::string out;
  size_t pos = 0;
  while (pos < delta.size()) {
    char op = delta[pos++];
    uint64_t a = 0;
    uint64_t len = 0;
    if (op == op_copy) {
      if (!get_varint(delta, pos, a) || !get_varint(delta, pos, len))
        return std::nullopt;
      if (len == 0 || a > from.size() || len > from.size() - a
          || len > max_size - out.size())
        return std::nullopt;
      out.append(from.data() + a, static_cast<size_t>(len));
    } else if (op == op_insert) {
      if (!get_varint(delta, pos, len))
        return std::nullopt;
      if (len == 0 || len > delta.size() - pos || len > max_size - out.size())
        return std::nullopt;
      out.append(delta.data() + pos, static_cast<size_t>(len));
      pos += static_cast<size_t>(len);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

} // namespace castor
