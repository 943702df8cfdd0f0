// The typed messages the scapy vectors (vectors/ike_vectors.h) encode, built
// here from the same description as vectors/make_ike_vectors.py: the vector
// tests check parse(vector) == expected and serialize(expected) == vector;
// write_ike_pcap serializes them for tshark.
#pragma once

#include <cstdint>
#include <vector>

#include "controlplane/message/message_codec.h"

namespace tcpsec::ike::expected {

inline constexpr uint64_t kInitiatorSpi = 0x8a3c5e7f01234567;
inline constexpr uint64_t kResponderSpi = 0xc0ffee0011223344;

// fill(n, seed)[i] = (seed + 7 * i) & 0xff, as in make_ike_vectors.py.
inline Bytes fill(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 7 * i);
  return b;
}

inline Bytes ascii(const char* s) {
  return Bytes(s, s + std::char_traits<char>::length(s));
}

inline Payload notify(NotifyType type, Bytes data = {}) {
  return {PayloadType::kNotify, Notify{ProtocolId::kNone, {}, type, std::move(data)}};
}

inline Proposal proposal(uint8_t number, ProtocolId protocol, Bytes spi,
                         std::vector<Transform> transforms) {
  return {number, protocol, std::move(spi), std::move(transforms)};
}

using T = TransformType;
inline Transform encr(EncrId id, std::optional<uint16_t> key_length = std::nullopt) {
  return Transform::make(T::kEncr, static_cast<uint16_t>(id), key_length);
}
inline Transform prf(PrfId id) {
  return Transform::make(T::kPrf, static_cast<uint16_t>(id));
}
inline Transform integ(IntegId id) {
  return Transform::make(T::kInteg, static_cast<uint16_t>(id));
}
inline Transform dh(DhGroup id) {
  return Transform::make(T::kDh, static_cast<uint16_t>(id));
}
inline Transform esn(EsnId id) {
  return Transform::make(T::kEsn, static_cast<uint16_t>(id));
}

inline TrafficSelector ts_v4(uint8_t proto, uint16_t sp, uint16_t ep, Bytes start, Bytes end) {
  return {TsType::kIpv4AddrRange, proto, sp, ep, std::move(start), std::move(end), {}};
}
inline TrafficSelector ts_v6(uint8_t proto, uint16_t sp, uint16_t ep, Bytes start, Bytes end) {
  return {TsType::kIpv6AddrRange, proto, sp, ep, std::move(start), std::move(end), {}};
}

inline Message ike_sa_init_request() {
  Message m;
  m.header = {kInitiatorSpi, 0, ExchangeType::kIkeSaInit, 0, true, false, false, 0};
  Sa sa;
  sa.proposals = {
      proposal(1, ProtocolId::kIke, {},
               {encr(EncrId::kAesCbc, 256), encr(EncrId::kAesCbc, 128), prf(PrfId::kHmacSha2_256),
                integ(IntegId::kHmacSha2_256_128), dh(DhGroup::kEcp256)}),
      proposal(2, ProtocolId::kIke, {},
               {encr(EncrId::kAesGcm16, 256), prf(PrfId::kHmacSha2_384), dh(DhGroup::kEcp256),
                dh(DhGroup::kCurve25519)}),
      proposal(
          3, ProtocolId::kIke, {},
          {encr(EncrId::kChacha20Poly1305), prf(PrfId::kHmacSha2_512), dh(DhGroup::kCurve25519)}),
  };
  m.payloads = {
      {PayloadType::kSa, sa},
      {PayloadType::kKe, Ke{19, fill(64, 0x10)}},
      {PayloadType::kNonce, Nonce{fill(32, 0x20)}},
      notify(NotifyType::kNatDetectionSourceIp, fill(20, 0x30)),
      notify(NotifyType::kNatDetectionDestinationIp, fill(20, 0x40)),
      notify(NotifyType::kIkev2FragmentationSupported),
      notify(NotifyType::kSignatureHashAlgorithms, {0, 2, 0, 3, 0, 4}),
      {PayloadType::kVendorId, VendorId{fill(16, 0x50)}},
  };
  return m;
}

inline Message ike_sa_init_response() {
  Message m;
  m.header = {kInitiatorSpi, kResponderSpi, ExchangeType::kIkeSaInit, 0, false, false, true, 0};
  Sa sa;
  sa.proposals = {
      proposal(2, ProtocolId::kIke, {},
               {encr(EncrId::kAesGcm16, 256), prf(PrfId::kHmacSha2_384), dh(DhGroup::kEcp256)})};
  m.payloads = {
      {PayloadType::kSa, sa},
      {PayloadType::kKe, Ke{19, fill(64, 0x60)}},
      {PayloadType::kNonce, Nonce{fill(48, 0x70)}},
      notify(NotifyType::kNatDetectionSourceIp, fill(20, 0x80)),
      notify(NotifyType::kNatDetectionDestinationIp, fill(20, 0x90)),
      notify(NotifyType::kIkev2FragmentationSupported),
      {PayloadType::kCertReq, CertReq{CertEncoding::kX509Signature, fill(20, 0xa0)}},
      {PayloadType::kVendorId, VendorId{fill(16, 0x50)}},
  };
  return m;
}

inline std::vector<Payload> ike_auth_request_inner() {
  Sa sa;
  const Bytes spi = {0xc1, 0xa2, 0xb3, 0xd4};
  sa.proposals = {
      proposal(1, ProtocolId::kEsp, spi,
               {encr(EncrId::kAesGcm16, 128), esn(EsnId::kNoEsn), esn(EsnId::kEsn)}),
      proposal(2, ProtocolId::kEsp, spi,
               {encr(EncrId::kAesCbc, 256), integ(IntegId::kHmacSha2_256_128), esn(EsnId::kNoEsn)}),
  };
  Bytes v6_start = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes v6_end = v6_start;
  v6_end[14] = v6_end[15] = 0xff;
  Ts tsi{{ts_v4(0, 0, 65535, {10, 1, 0, 0}, {10, 1, 255, 255}),
          ts_v6(17, 500, 500, v6_start, v6_end)}};
  Ts tsr{{ts_v4(6, 443, 443, {192, 0, 2, 10}, {192, 0, 2, 10}),
          ts_v6(0, 0, 65535, Bytes(16, 0), Bytes(16, 0xff))}};
  Cp cp{CfgType::kRequest, {{1, {}}, {3, {}}, {8, {}}}};
  return {
      {PayloadType::kIdi, Id{IdType::kFqdn, ascii("client.example.com")}},
      notify(NotifyType::kInitialContact),
      {PayloadType::kIdr, Id{IdType::kFqdn, ascii("gw.example.net")}},
      {PayloadType::kAuth, Auth{AuthMethod::kSharedKeyMic, fill(32, 0xb0)}},
      {PayloadType::kCp, cp},
      notify(NotifyType::kUseTransportMode),
      {PayloadType::kSa, sa},
      {PayloadType::kTsi, tsi},
      {PayloadType::kTsr, tsr},
  };
}

inline std::vector<Payload> ike_auth_response_inner() {
  Sa sa;
  sa.proposals = {proposal(1, ProtocolId::kEsp, {0x5e, 0x6f, 0x70, 0x81},
                           {encr(EncrId::kAesGcm16, 128), esn(EsnId::kNoEsn)})};
  Cp cp{CfgType::kReply, {{1, {10, 8, 0, 5}}, {3, {10, 8, 0, 1}}}};
  return {
      {PayloadType::kIdr, Id{IdType::kIpv4Addr, {198, 51, 100, 1}}},
      {PayloadType::kAuth, Auth{AuthMethod::kSharedKeyMic, fill(32, 0xc0)}},
      {PayloadType::kCp, cp},
      {PayloadType::kSa, sa},
      {PayloadType::kTsi, Ts{{ts_v4(0, 0, 65535, {10, 8, 0, 5}, {10, 8, 0, 5})}}},
      {PayloadType::kTsr, Ts{{ts_v4(0, 0, 65535, {0, 0, 0, 0}, {255, 255, 255, 255})}}},
  };
}

inline std::vector<Payload> informational_delete_inner() {
  return {
      {PayloadType::kDelete, Delete{ProtocolId::kEsp, {0xc1a2b3d4, 0x0badf00d}}},
      {PayloadType::kDelete, Delete{ProtocolId::kIke, {}}},
  };
}

inline std::vector<Payload> auth_failed_inner() {
  return {notify(NotifyType::kAuthenticationFailed)};
}

inline Header ike_auth_request_header() {
  return {kInitiatorSpi, kResponderSpi, ExchangeType::kIkeAuth, 0, true, false, false, 1};
}

inline Message ike_auth_sk_message() {
  Message m;
  m.header = ike_auth_request_header();
  m.payloads = {{PayloadType::kEncrypted, Encrypted{PayloadType::kIdi, fill(16 + 96 + 16, 0xd0)}}};
  return m;
}

inline Message ike_auth_skf_fragment(uint16_t number) {
  Message m;
  m.header = ike_auth_request_header();
  EncryptedFragment f;
  f.fragment_number = number;
  f.total_fragments = 3;
  f.first_inner_type = number == 1 ? PayloadType::kIdi : PayloadType::kNone;
  f.data = number == 1 ? fill(16 + 64 + 16, 0xe0) : fill(16 + 32 + 16, 0xf0);
  m.payloads = {{PayloadType::kEncryptedFragment, f}};
  return m;
}

}  // namespace tcpsec::ike::expected
