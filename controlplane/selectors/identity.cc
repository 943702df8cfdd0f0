#include "controlplane/selectors/identity.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

#include "controlplane/selectors/address.h"

namespace tcpsec::selectors {

namespace {

constexpr size_t kMaxIdText = 512;

struct NameFree {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

Status check_fqdn(std::string_view name) {
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.empty() || rest.size() > 253) {
    return Status::error(quote(name) + " is not a domain name");
  }
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t dot = rest.find('.', pos);
    if (dot == std::string_view::npos) dot = rest.size();
    std::string_view label = rest.substr(pos, dot - pos);
    if (label.empty() || label.size() > 63 ||
        !std::all_of(label.begin(), label.end(), is_label_char)) {
      // A trailing dot is the only empty label allowed.
      if (!(label.empty() && dot == rest.size() && pos > 0)) {
        return Status::error(quote(name) + " is not a domain name");
      }
    }
    pos = dot + 1;
  }
  return Status::ok();
}

Status check_email(std::string_view mail) {
  auto at = mail.find('@');
  if (at == std::string_view::npos || at == 0 || mail.find('@', at + 1) != std::string_view::npos ||
      !std::all_of(mail.begin(), mail.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return Status::error(quote(mail) + " is not an email address");
  }
  if (auto s = check_fqdn(mail.substr(at + 1)); !s) {
    return Status::error(quote(mail) + " is not an email address");
  }
  return Status::ok();
}

ike::Id make(ike::IdType type, std::string_view text) {
  return ike::Id{type, ike::Bytes(text.begin(), text.end())};
}

Expected<ike::Id> address_id(std::string_view text, std::string_view input, int want_v6) {
  auto a = Address::parse(text);
  if (!a || (want_v6 >= 0 && a->v6 != (want_v6 == 1))) {
    return Status::error(quote(input) + ": " + quote(text) + " is not an " +
                         (want_v6 == 1   ? "IPv6"
                          : want_v6 == 0 ? "IPv4"
                                         : "IP") +
                         " address");
  }
  auto s = a->span();
  return ike::Id{a->v6 ? ike::IdType::kIpv6Addr : ike::IdType::kIpv4Addr,
                 ike::Bytes(s.begin(), s.end())};
}

// "C=CH, O=tcpsec, CN=gw" -> DER. No escapes, no multi-valued RDNs.
Expected<ike::Id> dn_id(std::string_view text, std::string_view input) {
  if (text.find_first_of("\\+\"") != std::string_view::npos) {
    return Status::error(quote(input) +
                         ": escapes, quotes and multi-valued RDNs ('+') are not supported");
  }
  NamePtr name(X509_NAME_new());
  if (!name) return Status::error("out of memory");
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view rdn = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    auto eq = rdn.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == rdn.size()) {
      return Status::error(quote(input) + ": " + quote(rdn) + " is not TYPE=value");
    }
    std::string type(trim(rdn.substr(0, eq)));
    std::string value(trim(rdn.substr(eq + 1)));
    if (X509_NAME_add_entry_by_txt(name.get(), type.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return Status::error(quote(input) + ": unknown attribute type " + quote(type) +
                           " or bad value");
    }
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(name.get(), &der);
  if (len <= 0) return Status::error(quote(input) + ": cannot encode the DN");
  ike::Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return ike::Id{ike::IdType::kDerAsn1Dn, std::move(bytes)};
}

NamePtr decode_dn(const ike::Bytes& der) {
  const unsigned char* p = der.data();
  NamePtr n(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (n && p != der.data() + der.size()) return nullptr;  // trailing bytes
  return n;
}

std::string hex(const ike::Bytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size() && i < 64; ++i) {
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xf];
  }
  if (b.size() > 64) out += "...";
  return out;
}

std::string printable(const ike::Bytes& b) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  std::string q = quote(s);
  return q.substr(1, q.size() - 2);
}

}  // namespace

Expected<ike::Id> parse_identity(std::string_view text) {
  if (text.empty()) return Status::error("empty identity");
  if (text.size() > kMaxIdText) {
    return Status::error("identity " + quote(text) + " is longer than " +
                         std::to_string(kMaxIdText) + " characters");
  }
  if (text.find('\0') != std::string_view::npos) {
    return Status::error("identity " + quote(text) + " contains a NUL byte");
  }
  auto colon = text.find(':');
  std::string_view prefix = colon == std::string_view::npos ? "" : text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? text : text.substr(colon + 1);
  if (prefix == "fqdn") {
    if (auto s = check_fqdn(value); !s) return Status::error(quote(text) + ": " + s.message());
    return make(ike::IdType::kFqdn, value);
  }
  if (prefix == "email") {
    if (auto s = check_email(value); !s) return Status::error(quote(text) + ": " + s.message());
    return make(ike::IdType::kRfc822Addr, value);
  }
  if (prefix == "ipv4") return address_id(value, text, 0);
  if (prefix == "ipv6") return address_id(value, text, 1);
  if (prefix == "dn") return dn_id(trim(value), text);
  // Bare: an address (IPv6 text has colons), an email, or an FQDN.
  if (auto a = Address::parse(text)) return address_id(text, text, -1);
  if (colon != std::string_view::npos) {
    return Status::error(quote(text) +
                         " is not an identity (fqdn:, email:, ipv4:, ipv6:, dn:, or a bare "
                         "address or domain name)");
  }
  if (text.find('@') != std::string_view::npos) {
    if (auto s = check_email(text); !s) return s;
    return make(ike::IdType::kRfc822Addr, text);
  }
  if (auto s = check_fqdn(text); !s) return s;
  return make(ike::IdType::kFqdn, text);
}

std::string to_string(const ike::Id& id) {
  switch (id.type) {
    case ike::IdType::kFqdn:
      return "fqdn:" + printable(id.data);
    case ike::IdType::kRfc822Addr:
      return "email:" + printable(id.data);
    case ike::IdType::kIpv4Addr:
    case ike::IdType::kIpv6Addr: {
      auto a = Address::from_bytes(id.data);
      bool ok = a && a->v6 == (id.type == ike::IdType::kIpv6Addr);
      return std::string(id.type == ike::IdType::kIpv4Addr ? "ipv4:" : "ipv6:") +
             (ok ? a->to_string() : hex(id.data));
    }
    case ike::IdType::kDerAsn1Dn: {
      NamePtr n = decode_dn(id.data);
      std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
      if (n && bio &&
          X509_NAME_print_ex(bio.get(), n.get(), 0,
                             XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_RFC2253) >= 0) {
        char* data = nullptr;
        long len = BIO_get_mem_data(bio.get(), &data);
        return "dn:" + std::string(data, static_cast<size_t>(len));
      }
      return "dn:" + hex(id.data);
    }
    default:
      return ike::to_string(id.type) + ":" + hex(id.data);
  }
}

bool id_matches(const ike::Id& configured, const ike::Id& received) {
  if (configured.type != received.type) return false;
  std::string_view want(reinterpret_cast<const char*>(configured.data.data()),
                        configured.data.size());
  std::string_view got(reinterpret_cast<const char*>(received.data.data()), received.data.size());
  switch (configured.type) {
    case ike::IdType::kFqdn: {
      auto strip = [](std::string_view s) {
        if (!s.empty() && s.back() == '.') s.remove_suffix(1);
        return s;
      };
      want = strip(want);
      got = strip(got);
      if (want.starts_with("*.")) {
        std::string_view suffix = want.substr(1);  // ".example.com"
        return got.size() > suffix.size() &&
               iequals(got.substr(got.size() - suffix.size()), suffix);
      }
      return iequals(want, got);
    }
    case ike::IdType::kRfc822Addr: {
      auto wat = want.find('@');
      auto gat = got.find('@');
      if (wat == std::string_view::npos || gat == std::string_view::npos) return want == got;
      if (!iequals(want.substr(wat + 1), got.substr(gat + 1))) return false;
      return want.substr(0, wat) == "*" || want.substr(0, wat) == got.substr(0, gat);
    }
    case ike::IdType::kDerAsn1Dn: {
      NamePtr a = decode_dn(configured.data);
      NamePtr b = decode_dn(received.data);
      return a && b && X509_NAME_cmp(a.get(), b.get()) == 0;
    }
    default:
      return configured.data == received.data;
  }
}

ike::Id id_of_address(std::string_view address) {
  auto id = address_id(address, address, -1);
  if (id) return *id;
  return make(ike::IdType::kFqdn, address);
}

}  // namespace tcpsec::selectors
