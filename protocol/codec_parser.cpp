// The resumable frame parser: collects the fixed header byte by byte, checks
// the size limit as soon as the remaining length is known, and decodes whole
// frames straight from the caller's input; only partial frames are buffered.

#include <algorithm>

#include "protocol/codec_detail.hpp"

namespace castor::mqtt {

namespace {

/// Initial reservation for a partial frame; larger frames grow the buffer as
/// their bytes arrive, so a claimed length alone never allocates much.
constexpr size_t initial_reserve = 64 * 1024;

} // namespace

frame_parser::frame_parser(parser_options opts) : opts_(std::move(opts)) {}

parse_result frame_parser::feed(std::string_view& in) {
  auto result = [](parse_result::status st) {
    return parse_result{st, packet{std::in_place_type<pingreq>}, parse_error{},
                        0};
  };
  auto fail = [&](reason_code code, const char* cause, size_t limit = 0,
                  size_t received = 0) {
    failed_ = true;
    error_.code = code;
    error_.cause = cause;
    error_.limit = limit;
    error_.received = received;
    auto res = result(parse_result::status::error);
    res.error = error_;
    return res;
  };
  if (failed_) {
    auto res = result(parse_result::status::error);
    res.error = error_;
    return res;
  }
  while (!have_len_) {
    if (in.empty())
      return result(parse_result::status::need_more);
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (!have_header_) {
      auto e = detail::check_fixed_header(b, opts_.version, opts_.side);
      if (e.cause != nullptr)
        return fail(e.code, e.cause);
      header_ = b;
      have_header_ = true;
      continue;
    }
    remaining_ += (b & 0x7Fu) * multiplier_;
    ++len_bytes_;
    if (b & 0x80) {
      if (len_bytes_ == 4)
        return fail(reason_code::malformed_packet, "remaining_length_overflow");
      multiplier_ *= 128;
      continue;
    }
    if (len_bytes_ > 1 && b == 0)
      return fail(reason_code::malformed_packet,
                  "remaining_length_not_minimal");
    have_len_ = true;
    size_t total = size_t{1} + len_bytes_ + remaining_;
    if (total > opts_.max_packet_size)
      return fail(reason_code::packet_too_large, "frame_too_large",
                  opts_.max_packet_size, total);
  }
  // Decodes a whole body and resets the frame state for the next packet.
  auto complete = [this](std::string_view body) {
    auto res = decode(header_, body, opts_.version, opts_.side);
    if (!opts_.version && (header_ >> 4) == 1) {
      if (res.ok())
        opts_.version = std::get<connect>(res.pkt).version;
      else
        opts_.version = detail::peek_connect_version(body);
    }
    buf_.clear();
    header_ = 0;
    remaining_ = 0;
    multiplier_ = 1;
    len_bytes_ = 0;
    have_len_ = false;
    have_header_ = false;
    if (res.failed()) {
      failed_ = true;
      error_ = res.error;
    }
    return res;
  };
  if (buf_.empty() && in.size() >= remaining_) {
    auto body = in.substr(0, remaining_);
    in.remove_prefix(remaining_);
    return complete(body);
  }
  if (buf_.empty())
    buf_.reserve(std::min<size_t>(remaining_, initial_reserve));
  auto take = std::min<size_t>(remaining_ - buf_.size(), in.size());
  buf_.append(in.data(), take);
  in.remove_prefix(take);
  if (buf_.size() < remaining_)
    return result(parse_result::status::need_more);
  return complete(buf_);
}

void frame_parser::shrink() noexcept {
  if (!have_header_ && buf_.capacity() > 0)
    std::string{}.swap(buf_);
}

} // namespace castor::mqtt
