#include "security/tls_record.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace castor::security {

namespace {

constexpr uint8_t type_alert = 21;
constexpr uint8_t type_handshake = 22;
constexpr uint8_t type_application_data = 23;
constexpr uint8_t key_update = 24;
constexpr size_t header_size = 5;
constexpr size_t tag_size = 16;
constexpr size_t max_plaintext = 16384;
constexpr size_t max_ciphertext = max_plaintext + 256;

// Alert descriptions (RFC 8446, section 6).
constexpr uint8_t unexpected_message = 10;
constexpr uint8_t bad_record_mac = 20;
constexpr uint8_t record_overflow = 22;
constexpr uint8_t illegal_parameter = 47;
constexpr uint8_t decode_error = 50;
constexpr uint8_t user_canceled = 90;

const char* alert_name(uint8_t d) {
  switch (d) {
  case unexpected_message:
    return "unexpected message";
  case bad_record_mac:
    return "bad record mac";
  case record_overflow:
    return "record overflow";
  case illegal_parameter:
    return "illegal parameter";
  case decode_error:
    return "decode error";
  default:
    return nullptr;
  }
}

std::string alert_text(uint8_t d) {
  if (const char* name = alert_name(d))
    return name;
  return "alert " + std::to_string(d);
}

const EVP_MD* digest_of(tls13_records::suite s) {
  return s == tls13_records::suite::aes_256_gcm ? EVP_sha384() : EVP_sha256();
}

size_t key_size_of(tls13_records::suite s) {
  return s == tls13_records::suite::aes_128_gcm ? 16 : 32;
}

const EVP_CIPHER* cipher_of(tls13_records::suite s) {
  // Fetched once: an implicit fetch per record would cost a lookup and a
  // lock each time.
  static EVP_CIPHER* aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* chacha
      = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (s) {
  case tls13_records::suite::aes_128_gcm:
    return aes128;
  case tls13_records::suite::aes_256_gcm:
    return aes256;
  case tls13_records::suite::chacha20_poly1305:
    return chacha;
  }
  return nullptr;
}

// HKDF-Expand-Label(secret, label, "", length) for length <= the hash's
// size: one HMAC block (RFC 8446, section 7.1; RFC 5869, section 2.3).
bool expand_label(const EVP_MD* md, const uint8_t* secret, size_t secret_len,
                  std::string_view label, uint8_t* out, size_t len) {
  uint8_t info[2 + 1 + 32 + 1 + 1];
  std::string_view prefix = "tls13 ";
  size_t full = prefix.size() + label.size();
  if (full > 32 || len > static_cast<size_t>(EVP_MD_get_size(md)))
    return false;
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(len >> 8);
  info[n++] = static_cast<uint8_t>(len);
  info[n++] = static_cast<uint8_t>(full);
  std::memcpy(info + n, prefix.data(), prefix.size());
  n += prefix.size();
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0; // empty context
  info[n++] = 1; // T(1)
  uint8_t block[EVP_MAX_MD_SIZE];
  unsigned int block_len = 0;
  if (HMAC(md, secret, static_cast<int>(secret_len), info, n, block, &block_len)
      == nullptr)
    return false;
  std::memcpy(out, block, len);
  OPENSSL_cleanse(block, sizeof(block));
  return true;
}

// The AEAD context of this thread, keyed for the record at hand; setting the
// same key again is skipped.
class aead {
public:
  aead() : ctx_(EVP_CIPHER_CTX_new()) {}
  ~aead() {
    EVP_CIPHER_CTX_free(ctx_);
  }
  aead(const aead&) = delete;
  aead& operator=(const aead&) = delete;

  EVP_CIPHER_CTX* start(const EVP_CIPHER* cipher, const uint8_t* key,
                        size_t key_len, const uint8_t* nonce, int enc) {
    if (ctx_ == nullptr || cipher == nullptr)
      return nullptr;
    bool same = keyed_ && cipher == cipher_ && enc == enc_
                && std::memcmp(key, key_.data(), key_len) == 0;
    int ok
        = same ? EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce, enc)
               : EVP_CipherInit_ex(ctx_, cipher, nullptr, key, nonce, enc);
    if (ok != 1) {
      keyed_ = false;
      return nullptr;
    }
    if (!same) {
      keyed_ = true;
      cipher_ = cipher;
      enc_ = enc;
      std::memcpy(key_.data(), key, key_len);
    }
    return ctx_;
  }

  void forget() {
    keyed_ = false;
  }

private:
  EVP_CIPHER_CTX* ctx_;
  const EVP_CIPHER* cipher_ = nullptr;
  std::array<uint8_t, 32> key_{};
  int enc_ = 0;
  bool keyed_ = false;
};

aead& thread_aead() {
  thread_local aead a;
  return a;
}

void nonce_of(const std::array<uint8_t, 12>& iv, uint64_t seq, uint8_t* out) {
  std::memcpy(out, iv.data(), 12);
  for (int i = 0; i < 8; ++i)
    out[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
}

} // namespace

std::optional<tls13_records::suite>
tls13_records::suite_of(std::string_view name) {
  if (name == "TLS_AES_128_GCM_SHA256")
    return suite::aes_128_gcm;
  if (name == "TLS_AES_256_GCM_SHA384")
    return suite::aes_256_gcm;
  if (name == "TLS_CHACHA20_POLY1305_SHA256")
    return suite::chacha20_poly1305;
  return std::nullopt;
}

size_t tls13_records::secret_size(suite s) noexcept {
  return s == suite::aes_256_gcm ? 48 : 32;
}

std::optional<tls13_records> tls13_records::make(suite s,
                                                 std::string_view client,
                                                 std::string_view server,
                                                 uint64_t sent) {
  size_t n = secret_size(s);
  if (client.size() != n || server.size() != n || cipher_of(s) == nullptr)
    return std::nullopt;
  tls13_records r;
  r.suite_ = s;
  std::memcpy(r.read_.secret.data(), client.data(), n);
  std::memcpy(r.write_.secret.data(), server.data(), n);
  if (!r.derive(r.read_) || !r.derive(r.write_))
    return std::nullopt;
  r.write_.seq = sent;
  return r;
}

tls13_records::~tls13_records() {
  for (auto* d : {&read_, &write_}) {
    OPENSSL_cleanse(d->secret.data(), d->secret.size());
    OPENSSL_cleanse(d->key.data(), d->key.size());
  }
}

bool tls13_records::derive(direction& d) const {
  const EVP_MD* md = digest_of(suite_);
  size_t n = secret_size(suite_);
  d.key.fill(0);
  return expand_label(md, d.secret.data(), n, "key", d.key.data(),
                      key_size_of(suite_))
         && expand_label(md, d.secret.data(), n, "iv", d.iv.data(),
                         d.iv.size());
}

bool tls13_records::update(direction& d) const {
  size_t n = secret_size(suite_);
  std::array<uint8_t, 48> next{};
  if (!expand_label(digest_of(suite_), d.secret.data(), n, "traffic upd",
                    next.data(), n))
    return false;
  d.secret = next;
  OPENSSL_cleanse(next.data(), next.size());
  d.seq = 0;
  return derive(d);
}

void tls13_records::seal(uint8_t type, std::string_view content,
                         std::string& out) {
  if (write_failed_)
    return;
  size_t len = content.size() + 1 + tag_size;
  uint8_t header[header_size]
      = {type_application_data, 3, 3, static_cast<uint8_t>(len >> 8),
         static_cast<uint8_t>(len)};
  uint8_t nonce[12];
  nonce_of(write_.iv, write_.seq, nonce);
  auto* ctx = thread_aead().start(cipher_of(suite_), write_.key.data(),
                                  key_size_of(suite_), nonce, 1);
  size_t at = out.size();
  out.resize(at + header_size + len);
  auto* dst = reinterpret_cast<uint8_t*>(out.data()) + at;
  std::memcpy(dst, header, header_size);
  dst += header_size;
  int n = 0;
  bool ok
      = ctx != nullptr
        && EVP_EncryptUpdate(ctx, nullptr, &n, header, header_size) == 1
        && EVP_EncryptUpdate(ctx, dst, &n,
                             reinterpret_cast<const uint8_t*>(content.data()),
                             static_cast<int>(content.size()))
               == 1
        && EVP_EncryptUpdate(ctx, dst + content.size(), &n, &type, 1) == 1
        && EVP_EncryptFinal_ex(ctx, dst + content.size() + 1, &n) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_size,
                               dst + content.size() + 1)
               == 1;
  if (!ok) {
    // Never send what was not encrypted, nor anything after it.
    thread_aead().forget();
    out.resize(at);
    write_failed_ = true;
    return;
  }
  ++write_.seq;
}

void tls13_records::write(std::string_view plaintext, std::string& out) {
  out.reserve(out.size() + plaintext.size()
              + (plaintext.size() / max_plaintext + 1)
                    * (header_size + 1 + tag_size));
  while (!plaintext.empty() && !write_failed_) {
    if (write_.seq >= records_per_key_) {
      uint8_t msg[5] = {key_update, 0, 0, 1, 0}; // update_not_requested
      seal(type_handshake,
           std::string_view(reinterpret_cast<char*>(msg), sizeof(msg)), out);
      update(write_);
    }
    auto chunk = plaintext.substr(0, max_plaintext);
    seal(type_application_data, chunk, out);
    plaintext.remove_prefix(chunk.size());
  }
}

void tls13_records::alert(uint8_t level, uint8_t description,
                          std::string& out) {
  uint8_t body[2] = {level, description};
  seal(type_alert, std::string_view(reinterpret_cast<char*>(body), 2), out);
}

bool tls13_records::open(std::string_view record, uint8_t& type,
                         std::string& dst) {
  auto body = record.substr(header_size);
  if (body.size() < 1 + tag_size)
    return false;
  uint8_t nonce[12];
  nonce_of(read_.iv, read_.seq, nonce);
  auto* ctx = thread_aead().start(cipher_of(suite_), read_.key.data(),
                                  key_size_of(suite_), nonce, 0);
  size_t at = dst.size();
  size_t len = body.size() - tag_size;
  dst.resize(at + len);
  auto* out = reinterpret_cast<uint8_t*>(dst.data()) + at;
  auto* in = reinterpret_cast<const uint8_t*>(body.data());
  int n = 0;
  bool ok = ctx != nullptr
            && EVP_DecryptUpdate(
                   ctx, nullptr, &n,
                   reinterpret_cast<const uint8_t*>(record.data()), header_size)
                   == 1
            && EVP_DecryptUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1
            && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_size,
                                   const_cast<uint8_t*>(in + len))
                   == 1
            && EVP_DecryptFinal_ex(ctx, out + len, &n) == 1;
  if (!ok) {
    thread_aead().forget();
    OPENSSL_cleanse(out, len);
    dst.resize(at);
    return false;
  }
  ++read_.seq;
  // TLSInnerPlaintext: content, type, zeros.
  size_t end = len;
  while (end > 0 && out[end - 1] == 0)
    --end;
  if (end == 0) {
    dst.resize(at);
    type = 0;
    return true;
  }
  type = out[end - 1];
  dst.resize(at + end - 1);
  return true;
}

bool tls13_records::on_handshake(std::string_view content, std::string& to_send,
                                 uint8_t& alert) {
  // Only KeyUpdate is expected after the handshake; it ends its record.
  if (content.size() < 4 || static_cast<uint8_t>(content[0]) != key_update) {
    alert = unexpected_message;
    return false;
  }
  size_t len = (size_t{static_cast<uint8_t>(content[1])} << 16)
               | (size_t{static_cast<uint8_t>(content[2])} << 8)
               | static_cast<uint8_t>(content[3]);
  if (len != 1 || content.size() < 5) {
    alert = decode_error;
    return false;
  }
  if (content.size() > 5) {
    alert = unexpected_message;
    return false;
  }
  auto request = static_cast<uint8_t>(content[4]);
  if (request > 1) {
    alert = illegal_parameter;
    return false;
  }
  if (!update(read_)) {
    alert = decode_error;
    return false;
  }
  if (request == 1) {
    uint8_t msg[5] = {key_update, 0, 0, 1, 0};
    seal(type_handshake,
         std::string_view(reinterpret_cast<char*>(msg), sizeof(msg)), to_send);
    update(write_);
  }
  return true;
}

tls13_records::input tls13_records::read(std::string_view bytes,
                                         std::string& plaintext,
                                         std::string& to_send) {
  input res;
  if (peer_closed_) {
    res.peer_closed = true;
    return res;
  }
  bool buffered = !partial_.empty();
  if (buffered) {
    partial_.append(bytes.data(), bytes.size());
    bytes = partial_;
  }
  size_t used = 0;
  auto fail = [&](uint8_t description) {
    alert(2, description, to_send);
    res.error = "TLS read failed: " + alert_text(description);
  };
  while (bytes.size() - used >= header_size) {
    auto* h = reinterpret_cast<const uint8_t*>(bytes.data() + used);
    size_t len = (size_t{h[3]} << 8) | h[4];
    if (len > max_ciphertext) {
      fail(record_overflow);
      break;
    }
    if (h[0] != type_application_data) {
      fail(unexpected_message);
      break;
    }
    if (bytes.size() - used < header_size + len)
      break;
    auto record = bytes.substr(used, header_size + len);
    used += record.size();
    size_t at = plaintext.size();
    uint8_t type = 0;
    if (!open(record, type, plaintext)) {
      fail(bad_record_mac);
      break;
    }
    if (plaintext.size() - at > max_plaintext) {
      plaintext.resize(at);
      fail(record_overflow);
      break;
    }
    if (type == type_application_data)
      continue;
    std::string content = plaintext.substr(at);
    plaintext.resize(at);
    if (type == type_alert) {
      if (content.size() != 2) {
        fail(decode_error);
        break;
      }
      auto level = static_cast<uint8_t>(content[0]);
      auto description = static_cast<uint8_t>(content[1]);
      if (description == 0) {
        res.peer_closed = peer_closed_ = true;
        break;
      }
      if (description == user_canceled && level == 1)
        continue;
      res.error = "TLS read failed: the peer sent the alert "
                  + alert_text(description);
      break;
    }
    if (type == type_handshake) {
      uint8_t description = 0;
      if (!on_handshake(content, to_send, description)) {
        fail(description);
        break;
      }
      continue;
    }
    fail(unexpected_message);
    break;
  }
  if (!res.error.empty() || res.peer_closed) {
    std::string().swap(partial_);
    return res;
  }
  if (buffered) {
    partial_.erase(0, used);
    if (partial_.empty())
      std::string().swap(partial_);
  } else {
    partial_.assign(bytes.substr(used));
  }
  return res;
}

} // namespace castor::security
