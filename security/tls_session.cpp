#include "security/tls_session.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <algorithm>
#include <array>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "security/crypto.hpp"

namespace castor::security {

namespace {

// Encrypted keys are not supported: without this callback OpenSSL would
// prompt for a pass phrase on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string readable(const std::string& path, const char* what) {
  if (path.empty())
    return std::string("no ") + what + " configured";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return std::string("cannot read ") + what + " '" + path
           + "': " + std::strerror(errno);
  std::fclose(f);
  return {};
}

std::string with_detail(std::string msg) {
  auto detail = openssl_errors();
  if (!detail.empty())
    msg += " (" + detail + ")";
  return msg;
}

// Loads certificate chain, key and CAs into `ctx`; returns an error or "".
std::string configure(SSL_CTX* ctx, const tls_options& opts, bool server) {
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1
      || SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return with_detail("cannot restrict the TLS versions to 1.2 and 1.3");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle connections give their record buffers back (tens of KB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  bool has_cert = !opts.cert_chain_file.empty() || !opts.key_file.empty();
  if (server || has_cert) {
    if (auto err = readable(opts.cert_chain_file, "certificate chain file");
        !err.empty())
      return err;
    if (auto err = readable(opts.key_file, "private key file"); !err.empty())
      return err;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, opts.cert_chain_file.c_str())
        != 1)
      return with_detail("certificate chain file '" + opts.cert_chain_file
                         + "' holds no usable PEM certificate");
    EVP_PKEY* key = nullptr;
    if (BIO* in = BIO_new_file(opts.key_file.c_str(), "rb")) {
      key = PEM_read_bio_PrivateKey(in, nullptr, no_passphrase, nullptr);
      BIO_free(in);
    }
    if (key == nullptr)
      return with_detail("private key file '" + opts.key_file
                         + "' holds no usable unencrypted PEM private key");
    X509* cert = SSL_CTX_get0_certificate(ctx);
    bool matches = cert != nullptr && X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    if (!matches) {
      EVP_PKEY_free(key);
      return "private key file '" + opts.key_file
             + "' does not match the certificate in '" + opts.cert_chain_file
             + "'";
    }
    int used = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (used != 1 || SSL_CTX_check_private_key(ctx) != 1)
      return with_detail("private key file '" + opts.key_file
                         + "' does not match the certificate in '"
                         + opts.cert_chain_file + "'");
  }
  bool verify_peer
      = server ? opts.verify != verify_mode::none : !opts.ca_file.empty();
  if (!opts.ca_file.empty()) {
    if (auto err = readable(opts.ca_file, "CA file"); !err.empty())
      return err;
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr) != 1)
      return with_detail("CA file '" + opts.ca_file
                         + "' holds no usable PEM certificate");
    if (server) {
      STACK_OF(X509_NAME)* names
          = SSL_load_client_CA_file(opts.ca_file.c_str());
      if (names == nullptr)
        return with_detail("CA file '" + opts.ca_file
                           + "' holds no usable PEM certificate");
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  } else if (server && opts.verify != verify_mode::none) {
    return "client certificates are requested (verify "
           + std::string(opts.verify == verify_mode::required ? "required"
                                                              : "optional")
           + ") but no CA file is configured";
  }
  if (verify_peer) {
    int mode = SSL_VERIFY_PEER;
    if (server && opts.verify == verify_mode::required)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return {};
}

// A string from an ASN1 string, or nothing when it holds an embedded NUL
// (a classic way to smuggle a different name past a prefix check).
std::optional<std::string> text_of(const ASN1_STRING* s) {
  if (s == nullptr)
    return std::nullopt;
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0)
    return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (out.find('\0') != std::string::npos)
    return std::nullopt;
  return out;
}

peer_identity identity_of(X509* cert) {
  peer_identity id;
  if (cert == nullptr)
    return id;
  id.present = true;
  X509_NAME* subject = X509_get_subject_name(cert);
  if (BIO* mem = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(mem, subject, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(mem, &data);
    if (n > 0)
      id.subject.assign(data, static_cast<size_t>(n));
    BIO_free(mem);
  }
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0)
    if (auto cn
        = text_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx))))
      id.common_name = std::move(*cn);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      switch (gn->type) {
      case GEN_DNS:
        if (auto s = text_of(gn->d.dNSName))
          id.dns_names.push_back(std::move(*s));
        break;
      case GEN_EMAIL:
        if (auto s = text_of(gn->d.rfc822Name))
          id.emails.push_back(std::move(*s));
        break;
      case GEN_URI:
        if (auto s = text_of(gn->d.uniformResourceIdentifier))
          id.uris.push_back(std::move(*s));
        break;
      default:
        break;
      }
    }
    GENERAL_NAMES_free(names);
  }
  return id;
}

} // namespace

std::optional<std::string> principal_from(const peer_identity& peer,
                                          cert_principal source) {
  if (!peer.present)
    return std::nullopt;
  auto first =
      [](const std::vector<std::string>& names) -> std::optional<std::string> {
    if (names.empty() || names.front().empty())
      return std::nullopt;
    return names.front();
  };
  switch (source) {
  case cert_principal::common_name:
    if (peer.common_name.empty())
      return std::nullopt;
    return peer.common_name;
  case cert_principal::subject:
    if (peer.subject.empty())
      return std::nullopt;
    return peer.subject;
  case cert_principal::dns:
    return first(peer.dns_names);
  case cert_principal::email:
    return first(peer.emails);
  case cert_principal::uri:
    return first(peer.uris);
  }
  return std::nullopt;
}

// -- tls_context --------------------------------------------------------------

void enable_handover(SSL_CTX* ctx);

std::variant<tls_context, std::string>
tls_context::build(const tls_options& opts, bool server) {
  SSL_CTX* raw
      = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (raw == nullptr)
    return with_detail("cannot create a TLS context");
  tls_context ctx;
  ctx.ctx_.reset(raw, SSL_CTX_free);
  if (auto err = configure(raw, opts, server); !err.empty())
    return err;
  if (server)
    enable_handover(raw);
  ctx.opts_ = opts;
  ctx.server_ = server;
  return ctx;
}

std::variant<tls_context, std::string>
tls_context::make_server(const tls_options& opts) {
  return build(opts, true);
}

std::variant<tls_context, std::string>
tls_context::make_client(const tls_options& opts) {
  return build(opts, false);
}

// -- tls_session --------------------------------------------------------------

// What a server session catches of its handshake for tls13_records: the
// application traffic secrets from OpenSSL's key log, and how many records
// went out under the server's.
struct tls_session::handover {
  std::array<uint8_t, 48> client{};
  std::array<uint8_t, 48> server{};
  size_t client_len = 0;
  size_t server_len = 0;
  uint64_t read_after = 0; ///< bytes OpenSSL read after the client's secret
  uint64_t records = 0;    ///< whole records written after the server's
  std::array<uint8_t, 5> header{};
  size_t header_len = 0;
  size_t body_left = 0;

  ~handover() {
    OPENSSL_cleanse(client.data(), client.size());
    OPENSSL_cleanse(server.data(), server.size());
  }

  void count(const char* data, size_t n) {
    while (n > 0) {
      if (body_left > 0) {
        size_t k = std::min(n, body_left);
        body_left -= k;
        data += k;
        n -= k;
        continue;
      }
      header[header_len++] = static_cast<uint8_t>(*data++);
      --n;
      if (header_len == header.size()) {
        body_left = (size_t{header[3]} << 8) | header[4];
        header_len = 0;
        ++records;
      }
    }
  }

  bool at_boundary() const noexcept {
    return header_len == 0 && body_left == 0;
  }
};

namespace {

// "LABEL <client random> <secret>": the secret's bytes into `out`.
size_t secret_of(std::string_view line, std::array<uint8_t, 48>& out) {
  auto sp = line.rfind(' ');
  if (sp == std::string_view::npos)
    return 0;
  auto hex = line.substr(sp + 1);
  if (hex.size() % 2 != 0 || hex.size() / 2 > out.size())
    return 0;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size() / 2; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return 0;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return hex.size() / 2;
}

} // namespace

void enable_handover(SSL_CTX* ctx) {
  SSL_CTX_set_keylog_callback(ctx, tls_session::key_log);
}

void tls_session::key_log(const SSL* ssl, const char* line) {
  auto* self = static_cast<tls_session*>(SSL_get_app_data(ssl));
  if (self == nullptr || !self->server_ || self->handshake_done_)
    return;
  std::string_view text = line;
  bool client = text.rfind("CLIENT_TRAFFIC_SECRET_0 ", 0) == 0;
  bool server = text.rfind("SERVER_TRAFFIC_SECRET_0 ", 0) == 0;
  if (!client && !server)
    return;
  if (!self->handover_)
    self->handover_ = std::make_unique<handover>();
  auto& h = *self->handover_;
  if (client)
    h.client_len = secret_of(text, h.client);
  else
    h.server_len = secret_of(text, h.server);
}

int tls_session::bio_read(BIO* bio, char* buf, int len) {
  auto* self = static_cast<tls_session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self == nullptr || len <= 0)
    return 0;
  if (self->input_.empty()) {
    // Nothing more in this call: "wait for more", not end of stream.
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = std::min(self->input_.size(), static_cast<size_t>(len));
  std::memcpy(buf, self->input_.data(), n);
  self->input_.remove_prefix(n);
  if (self->handover_ && self->handover_->client_len > 0)
    self->handover_->read_after += n;
  return static_cast<int>(n);
}

int tls_session::bio_write(BIO* bio, const char* buf, int len) {
  auto* self = static_cast<tls_session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self == nullptr || len <= 0)
    return 0;
  self->output_.append(buf, static_cast<size_t>(len));
  if (self->handover_ && self->handover_->server_len > 0)
    self->handover_->count(buf, static_cast<size_t>(len));
  return len;
}

long tls_session::bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* self = static_cast<tls_session*>(BIO_get_data(bio));
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_PENDING:
    return self != nullptr ? static_cast<long>(self->input_.size()) : 0;
  default:
    return 0;
  }
}

BIO_METHOD* tls_session::bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "castor tls stream");
    if (m != nullptr) {
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
  }();
  return method;
}

tls_session::tls_session(const tls_context& ctx) : server_(ctx.is_server()) {
  ssl_ = SSL_new(ctx.native());
  BIO_METHOD* method = bio_method();
  bio_ = method != nullptr ? BIO_new(method) : nullptr;
  if (ssl_ == nullptr || bio_ == nullptr) {
    error_ = with_detail("cannot create a TLS session");
    BIO_free(bio_);
    bio_ = nullptr;
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_init(bio_, 1);
  SSL_set_bio(ssl_, bio_, bio_); // one BIO both ways, owned by ssl_
  attach();
  if (server_) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    auto& name = ctx.options().server_name;
    if (!name.empty()) {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      SSL_set1_host(ssl_, name.c_str());
    }
  }
}

tls_session::~tls_session() {
  if (ssl_ != nullptr)
    SSL_free(ssl_);
}

void tls_session::attach() {
  if (ssl_ != nullptr)
    SSL_set_app_data(ssl_, this);
  if (bio_ != nullptr)
    BIO_set_data(bio_, this);
}

tls_session::tls_session(tls_session&& other) noexcept
    : ssl_(other.ssl_), bio_(other.bio_), output_(std::move(other.output_)),
      handover_(std::move(other.handover_)),
      records_(std::move(other.records_)), version_(other.version_),
      cipher_(other.cipher_), handshake_done_(other.handshake_done_),
      server_(other.server_), closed_(other.closed_),
      pending_plaintext_(std::move(other.pending_plaintext_)),
      error_(std::move(other.error_)), peer_(std::move(other.peer_)) {
  other.ssl_ = nullptr;
  other.bio_ = nullptr;
  other.records_.reset();
  attach();
}

tls_session& tls_session::operator=(tls_session&& other) noexcept {
  if (this != &other) {
    if (ssl_ != nullptr)
      SSL_free(ssl_);
    ssl_ = other.ssl_;
    bio_ = other.bio_;
    input_ = {};
    output_ = std::move(other.output_);
    handover_ = std::move(other.handover_);
    records_ = std::move(other.records_);
    version_ = other.version_;
    cipher_ = other.cipher_;
    handshake_done_ = other.handshake_done_;
    server_ = other.server_;
    closed_ = other.closed_;
    pending_plaintext_ = std::move(other.pending_plaintext_);
    error_ = std::move(other.error_);
    peer_ = std::move(other.peer_);
    other.ssl_ = nullptr;
    other.bio_ = nullptr;
    other.records_.reset();
    attach();
  }
  return *this;
}

void tls_session::fail(int ssl_error, const char* during) {
  std::string msg = std::string("TLS ") + during + " failed";
  auto detail = openssl_errors();
  if (!detail.empty())
    msg += ": " + detail;
  else if (ssl_error == SSL_ERROR_SYSCALL)
    msg += ": unexpected end of the TLS stream";
  else
    msg += ": SSL error " + std::to_string(ssl_error);
  long vr = SSL_get_verify_result(ssl_);
  if (vr != X509_V_OK)
    msg += std::string(" (peer certificate: ")
           + X509_verify_cert_error_string(vr) + ")";
  error_ = std::move(msg);
}

std::string tls_session::drain_output() {
  std::string out = std::move(output_);
  output_.clear();
  return out;
}

void tls_session::on_handshake_done() {
  handshake_done_ = true;
  X509* cert = SSL_get1_peer_certificate(ssl_);
  peer_ = identity_of(cert);
  X509_free(cert);
}

// At the end of a server's TLS 1.3 handshake OpenSSL has read exactly up to
// the client's Finished (no read-ahead) and written its session tickets:
// the records that follow either way are application traffic, which
// tls13_records carries from here. Anything else keeps OpenSSL.
void tls_session::try_handover() {
  auto h = std::move(handover_);
  if (!server_ || !h || SSL_version(ssl_) != TLS1_3_VERSION)
    return;
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  auto suite
      = tls13_records::suite_of(c != nullptr ? SSL_CIPHER_get_name(c) : "");
  if (!suite)
    return;
  size_t n = tls13_records::secret_size(*suite);
  if (h->client_len != n || h->server_len != n || h->read_after != 0
      || !h->at_boundary() || SSL_has_pending(ssl_) != 0)
    return;
  auto records = tls13_records::make(
      *suite,
      std::string_view(reinterpret_cast<const char*>(h->client.data()), n),
      std::string_view(reinterpret_cast<const char*>(h->server.data()), n),
      h->records);
  if (!records)
    return;
  records_ = std::move(records);
  version_ = SSL_get_version(ssl_);
  cipher_ = SSL_CIPHER_get_name(c);
  SSL_free(ssl_);
  ssl_ = nullptr;
  bio_ = nullptr;
}

tls_result tls_session::feed_records(std::string_view bytes) {
  tls_result res;
  if (failed()) {
    res.error = error_;
    return res;
  }
  if (!pending_plaintext_.empty()) {
    records_->write(pending_plaintext_, res.ciphertext);
    std::string().swap(pending_plaintext_);
  }
  auto in = records_->read(bytes, res.plaintext, res.ciphertext);
  if (in.error.empty() && records_->write_failed())
    in.error = "TLS write failed: a record could not be encrypted";
  if (!in.error.empty()) {
    error_ = std::move(in.error);
    res.error = error_;
  }
  res.peer_closed = in.peer_closed;
  return res;
}

std::string tls_session::start() {
  if (ssl_ == nullptr || server_ || failed() || handshake_done_)
    return {};
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      fail(e, "handshake");
  }
  return drain_output();
}

tls_result tls_session::feed_ciphertext(std::string_view bytes) {
  if (records_)
    return feed_records(bytes);
  tls_result res;
  if (ssl_ == nullptr || failed()) {
    res.error = error_.empty() ? "TLS session unusable" : error_;
    return res;
  }
  ERR_clear_error();
  input_ = bytes;
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      on_handshake_done();
      try_handover();
    } else {
      int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(e, "handshake");
        input_ = {};
        res.ciphertext = drain_output(); // the alert, if any
        res.error = error_;
        return res;
      }
    }
  }
  if (records_) {
    // The rest of this read is application traffic.
    auto rest = input_;
    input_ = {};
    auto tickets = drain_output();
    res = feed_records(rest);
    res.ciphertext.insert(0, tickets);
    return res;
  }
  if (handshake_done_) {
    if (!pending_plaintext_.empty()) {
      auto pending = std::move(pending_plaintext_);
      pending_plaintext_.clear();
      res.ciphertext += write_plaintext(pending);
      if (failed()) {
        res.error = error_;
        return res;
      }
    }
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        res.plaintext.append(buf, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        break;
      if (e == SSL_ERROR_ZERO_RETURN) {
        res.peer_closed = true;
        break;
      }
      fail(e, "read");
      input_ = {};
      res.ciphertext += drain_output();
      res.error = error_;
      return res;
    }
  }
  input_ = {};
  res.ciphertext += drain_output();
  return res;
}

std::string tls_session::write_plaintext(std::string_view bytes) {
  if (failed())
    return {};
  if (records_) {
    std::string out;
    records_->write(bytes, out);
    if (records_->write_failed())
      error_ = "TLS write failed: a record could not be encrypted";
    return out;
  }
  if (ssl_ == nullptr)
    return {};
  if (!handshake_done_) {
    pending_plaintext_.append(bytes.data(), bytes.size());
    return {};
  }
  ERR_clear_error();
  while (!bytes.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20));
    int n = SSL_write(ssl_, bytes.data(), chunk);
    if (n <= 0) {
      fail(SSL_get_error(ssl_, n), "write");
      return drain_output();
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return drain_output();
}

std::string tls_session::close() {
  if (failed())
    return {};
  if (records_) {
    std::string out;
    if (!closed_)
      records_->alert(1, 0, out); // close_notify
    closed_ = true;
    return out;
  }
  if (ssl_ == nullptr)
    return {};
  if (handshake_done_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  return drain_output();
}

std::string tls_session::protocol_version() const {
  if (records_)
    return version_;
  return ssl_ != nullptr && handshake_done_ ? SSL_get_version(ssl_) : "";
}

std::string tls_session::cipher() const {
  if (records_)
    return cipher_;
  if (ssl_ == nullptr || !handshake_done_)
    return {};
  const char* name = SSL_get_cipher_name(ssl_);
  return name != nullptr ? name : "";
}

} // namespace castor::security
