// TSi / TSr payload body (RFC 7296 3.13): a count, then selectors. Address
// ranges must not be inverted; a port range must not be either, except the
// OPAQUE encoding (start 65535, end 0; RFC 7296 3.13.1). Selectors of an
// unknown type are kept as bytes.
#include <algorithm>
#include <limits>

#include "controlplane/message/payload_codecs.h"

namespace tcpsec::ike::codec {
namespace {

constexpr size_t kTsHeaderLen = 4;  // type, IP protocol, selector length
constexpr size_t kIpv4SelectorLen = 16;
constexpr size_t kIpv6SelectorLen = 40;

std::string where(size_t index) {
  return "selector " + std::to_string(index);
}

size_t address_len(TsType type) {
  return type == TsType::kIpv4AddrRange ? 4 : 16;
}
bool known(TsType type) {
  return type == TsType::kIpv4AddrRange || type == TsType::kIpv6AddrRange;
}

Status validate_selector(const TrafficSelector& ts, size_t index) {
  if (!known(ts.type)) {
    // Only unknown_body goes on the wire for a type we do not know.
    const TrafficSelector blank{ts.type, ts.ip_protocol, 0, 65535, {}, {}, ts.unknown_body};
    if (ts == blank) return Status::ok();
    return Status::error(where(index) + ": " + to_string(ts.type) +
                         " can only carry unknown_body (no ports or addresses)");
  }
  if (!ts.unknown_body.empty()) {
    return Status::error(where(index) + ": " + to_string(ts.type) + " with unknown_body");
  }
  const size_t n = address_len(ts.type);
  if (ts.start_address.size() != n || ts.end_address.size() != n) {
    return Status::error(where(index) + ": " + to_string(ts.type) + " needs " + std::to_string(n) +
                         "-byte addresses");
  }
  if (std::lexicographical_compare(ts.end_address.begin(), ts.end_address.end(),
                                   ts.start_address.begin(), ts.start_address.end())) {
    return Status::error(where(index) + ": start address is above end address");
  }
  const bool opaque = ts.start_port == 65535 && ts.end_port == 0;
  if (ts.start_port > ts.end_port && !opaque) {
    return Status::error(where(index) + ": start port " + std::to_string(ts.start_port) +
                         " is above end port " + std::to_string(ts.end_port));
  }
  return Status::ok();
}

}  // namespace

Status parse_ts(Body body, Ts& out) {
  ByteReader r(body);
  const uint8_t count = r.u8();  // the table guarantees 4 bytes
  r.skip(3);
  if (count == 0) return Status::error("number of selectors is 0");
  if (count > kMaxTrafficSelectors) {
    return Status::error("number of selectors " + std::to_string(count) + " exceeds the limit " +
                         std::to_string(kMaxTrafficSelectors));
  }
  for (size_t i = 1; i <= count; ++i) {
    if (r.remaining() < kTsHeaderLen) {
      return Status::error(where(i) + " of " + std::to_string(count) + ": header needs 4 bytes, " +
                           n_bytes(r.remaining()) + " left");
    }
    TrafficSelector ts;
    ts.type = static_cast<TsType>(r.u8());
    ts.ip_protocol = r.u8();
    const uint16_t length = r.u16();
    if (length < kTsHeaderLen || length - kTsHeaderLen > r.remaining()) {
      return Status::error(
          where(i) + ": selector length " + std::to_string(length) +
          (length < kTsHeaderLen
               ? " is less than its 4-byte header"
               : " exceeds payload (" + std::to_string(r.remaining() + 4) + " left)"));
    }
    ByteReader s(r.bytes(length - kTsHeaderLen));
    if (known(ts.type)) {
      const size_t want = ts.type == TsType::kIpv4AddrRange ? kIpv4SelectorLen : kIpv6SelectorLen;
      if (length != want) {
        return Status::error(where(i) + ": selector length " + std::to_string(length) + " for " +
                             to_string(ts.type) + " (must be " + std::to_string(want) + ")");
      }
      ts.start_port = s.u16();
      ts.end_port = s.u16();
      ts.start_address = s.copy(address_len(ts.type));
      ts.end_address = s.copy(address_len(ts.type));
      if (Status st = validate_selector(ts, i); !st) return st;
    } else {
      ts.unknown_body = s.copy(s.remaining());
    }
    out.selectors.push_back(std::move(ts));
  }
  if (!r.empty()) {
    return Status::error(n_bytes(r.remaining()) + " after the last of " + std::to_string(count) +
                         " selectors");
  }
  return Status::ok();
}

Status serialize_ts(const Ts& ts, ByteWriter& w) {
  if (ts.selectors.empty()) return Status::error("number of selectors is 0");
  if (ts.selectors.size() > kMaxTrafficSelectors) {
    return Status::error("number of selectors " + std::to_string(ts.selectors.size()) +
                         " exceeds the limit " + std::to_string(kMaxTrafficSelectors));
  }
  w.u8(static_cast<uint8_t>(ts.selectors.size()));
  w.zeros(3);
  for (size_t i = 0; i < ts.selectors.size(); ++i) {
    const TrafficSelector& s = ts.selectors[i];
    if (Status st = validate_selector(s, i + 1); !st) return st;
    w.u8(static_cast<uint8_t>(s.type));
    w.u8(s.ip_protocol);
    if (known(s.type)) {
      w.u16(static_cast<uint16_t>(kTsHeaderLen + 4 + 2 * s.start_address.size()));
      w.u16(s.start_port);
      w.u16(s.end_port);
      w.bytes(s.start_address);
      w.bytes(s.end_address);
    } else {
      if (s.unknown_body.size() > std::numeric_limits<uint16_t>::max() - kTsHeaderLen) {
        return Status::error(where(i + 1) + ": selector of " + n_bytes(s.unknown_body.size()));
      }
      w.u16(static_cast<uint16_t>(kTsHeaderLen + s.unknown_body.size()));
      w.bytes(s.unknown_body);
    }
  }
  return Status::ok();
}

}  // namespace tcpsec::ike::codec
