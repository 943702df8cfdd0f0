// Writes IKE messages serialized by controlplane/message into a pcap (raw
// IPv4, UDP 500) for tshark_ike_test.sh, and prints one manifest line per
// frame: what Wireshark's isakmp dissector must decode from it.
//
//   write_ike_pcap OUT.pcap > expected.tsv
//   columns: frame, initiator SPI, responder SPI, exchange type, payload
//   types in order (comma-separated; after SA, 2 per proposal and 3 per
//   transform, as tshark lists them), nonce length (or "-")
//
// IKE_AUTH and INFORMATIONAL contents are also sent in the clear (no SK):
// not a valid exchange, but it puts our encoding of IDi, AUTH, CP, TS, D and
// ESP proposals in front of an independent parser.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "controlplane/message/message_codec.h"
#include "tests/controlplane/message/expected_messages.h"

namespace {

using namespace tcpsec;
using namespace tcpsec::ike;

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}

// pcap fields are in the writer's byte order (the magic tells readers which).
template <typename T>
void put_host(FILE* f, T v) {
  fwrite(&v, sizeof v, 1, f);
}

std::vector<uint8_t> ipv4_udp(const Bytes& ike) {
  const uint16_t udp_len = static_cast<uint16_t>(8 + ike.size());
  const uint16_t total = static_cast<uint16_t>(20 + udp_len);
  std::vector<uint8_t> p = {0x45, 0};
  put16(p, total);
  put16(p, 0x1234);  // ID
  put16(p, 0x4000);  // DF
  p.push_back(64);
  p.push_back(17);
  put16(p, 0);  // checksum, below
  for (uint8_t b : {192, 0, 2, 1, 198, 51, 100, 2}) p.push_back(b);
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += p[i] << 8 | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = static_cast<uint8_t>(~sum >> 8);
  p[11] = static_cast<uint8_t>(~sum);
  put16(p, 500);
  put16(p, 500);
  put16(p, udp_len);
  put16(p, 0);  // no UDP checksum (allowed over IPv4)
  p.insert(p.end(), ike.begin(), ike.end());
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT.pcap\n", argv[0]);
    return 2;
  }
  namespace x = expected;
  std::vector<Message> messages = {x::ike_sa_init_request(), x::ike_sa_init_response()};
  Message auth_req;
  auth_req.header = x::ike_auth_request_header();
  auth_req.payloads = x::ike_auth_request_inner();
  messages.push_back(auth_req);
  Message auth_resp = auth_req;
  auth_resp.header.initiator = false;
  auth_resp.header.response = true;
  auth_resp.payloads = x::ike_auth_response_inner();
  messages.push_back(auth_resp);
  Message info;
  info.header = x::ike_auth_request_header();
  info.header.exchange = ExchangeType::kInformational;
  info.header.message_id = 2;
  info.payloads = x::informational_delete_inner();
  messages.push_back(info);
  messages.push_back(x::ike_auth_sk_message());

  FILE* f = fopen(argv[1], "wb");
  if (f == nullptr) {
    perror(argv[1]);
    return 1;
  }
  put_host<uint32_t>(f, 0xa1b2c3d4);  // pcap, microseconds
  put_host<uint16_t>(f, 2);
  put_host<uint16_t>(f, 4);
  put_host<int32_t>(f, 0);
  put_host<uint32_t>(f, 0);
  put_host<uint32_t>(f, 65535);
  put_host<uint32_t>(f, 101);  // LINKTYPE_RAW: IPv4 or IPv6
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    Expected<Bytes> ike = serialize(m);
    if (!ike) {
      fprintf(stderr, "message %zu: %s\n", i + 1, ike.error().c_str());
      return 1;
    }
    const std::vector<uint8_t> pkt = ipv4_udp(*ike);
    put_host<uint32_t>(f, 1700000000 + static_cast<uint32_t>(i));
    put_host<uint32_t>(f, 0);
    put_host<uint32_t>(f, static_cast<uint32_t>(pkt.size()));
    put_host<uint32_t>(f, static_cast<uint32_t>(pkt.size()));
    fwrite(pkt.data(), 1, pkt.size(), f);

    std::string types, nonce = "-";
    for (const Payload& p : m.payloads) {
      types += (types.empty() ? "" : ",") + std::to_string(static_cast<int>(p.type));
      if (const Nonce* n = p.get<Nonce>()) nonce = std::to_string(n->data.size());
      // tshark lists proposals (2) and transforms (3) among the payload types.
      if (const Sa* sa = p.get<Sa>()) {
        for (const Proposal& prop : sa->proposals) {
          types += ",2";
          for (size_t t = 0; t < prop.transforms.size(); ++t) types += ",3";
        }
      }
    }
    printf("%zu\t%016" PRIx64 "\t%016" PRIx64 "\t%d\t%s\t%s\n", i + 1, m.header.initiator_spi,
           m.header.responder_spi, static_cast<int>(m.header.exchange), types.c_str(),
           nonce.c_str());
  }
  return fclose(f) == 0 ? 0 : 1;
}
