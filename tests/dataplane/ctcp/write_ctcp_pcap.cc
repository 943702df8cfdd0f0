// Writes an Ethernet pcap of pseudo-TCP connections built by our framing code
// (control segments from build_control_segment, IKE and ESP from
// encapsulate), for tshark_dissects_test.sh to check against Wireshark's
// tcpencap dissector.
//
//   write_ctcp_pcap OUT.pcap > expected.tsv
//
// For every data segment, stdout gets one line of what tshark should show:
// frame number, IP version, tcpencap.proto, isakmp.ispi, esp.spi and
// tcpencap.seq (the trailer's IPv4 ID), tab-separated, as `tshark -T fields`
// prints them.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/ctcp/framing.h"
#include "tests/dataplane/ctcp/vectors/ctcp_vectors.h"

namespace tcpsec::ctcp {
namespace {

using Bytes = std::vector<uint8_t>;

class PcapWriter {
 public:
  explicit PcapWriter(const char* path) : f_(std::fopen(path, "wb")) {
    if (f_ == nullptr) return;
    // pcap global header, native byte order: magic, v2.4, zone, sigfigs,
    // snaplen, LINKTYPE_ETHERNET.
    uint32_t magic = 0xa1b2c3d4, zone = 0, sigfigs = 0, snaplen = 65535, linktype = 1;
    uint16_t major = 2, minor = 4;
    put(&magic, 4);
    put(&major, 2);
    put(&minor, 2);
    put(&zone, 4);
    put(&sigfigs, 4);
    put(&snaplen, 4);
    put(&linktype, 4);
  }
  ~PcapWriter() {
    if (f_ != nullptr) std::fclose(f_);
  }
  bool ok() const { return f_ != nullptr && !failed_; }

  // Writes one frame: Ethernet header, then the IP packet `l3`.
  void write(std::span<const uint8_t> l3) {
    static constexpr uint8_t kMacs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    uint8_t eth[14];
    std::memcpy(eth, kMacs, sizeof(kMacs));
    net::store_be16(eth + 12, (l3[0] >> 4) == 4 ? 0x0800 : 0x86dd);
    uint32_t len = static_cast<uint32_t>(sizeof(eth) + l3.size());
    uint32_t ts_sec = 1700000000, ts_usec = frames_ * 1000;
    put(&ts_sec, 4);
    put(&ts_usec, 4);
    put(&len, 4);
    put(&len, 4);
    put(eth, sizeof(eth));
    put(l3.data(), l3.size());
    ++frames_;
  }
  uint32_t frames() const { return frames_; }

 private:
  void put(const void* p, size_t n) {
    if (f_ != nullptr && std::fwrite(p, 1, n, f_) != n) failed_ = true;
  }
  std::FILE* f_;
  bool failed_ = false;
  uint32_t frames_ = 0;
};

const vectors::FramingVector& vec(std::string_view name) {
  for (const auto& v : vectors::kFramingVectors) {
    if (name == v.name) return v;
  }
  std::fprintf(stderr, "no vector %.*s\n", static_cast<int>(name.size()), name.data());
  std::exit(2);
}

// One side of a pseudo-TCP connection.
struct Side {
  net::IpAddress addr;
  uint16_t port;
  uint32_t next_seq;
};

class Connection {
 public:
  Connection(PcapWriter& w, Side client, Side server) : w_(w), c_(client), s_(server) {}

  void handshake() {
    control(c_, s_, tcp_flags::kSyn, 0);
    ++c_.next_seq;
    control(s_, c_, tcp_flags::kSyn | tcp_flags::kAck, c_.next_seq);
    ++s_.next_seq;
    control(c_, s_, tcp_flags::kAck, s_.next_seq);
  }

  // Encapsulates the inner packet of vector `name`, sent client->server, or
  // server->client with its addresses swapped.
  void data(std::string_view name, bool from_client) {
    const auto& v = vec(name);
    Side& from = from_client ? c_ : s_;
    Side& to = from_client ? s_ : c_;
    Bytes storage(kTcpHeaderLen + v.inner.size() + kTrailerLen);
    std::memcpy(storage.data() + kTcpHeaderLen, v.inner.data(), v.inner.size());
    net::PacketBuffer buf(storage, kTcpHeaderLen, static_cast<uint16_t>(v.inner.size()));
    net::IpPacketInfo inner;
    if (net::parse_ip_packet(buf.bytes(), inner) != DropReason::kNone) std::exit(3);
    if (!from_client) {
      // UDP and TCP checksums do not change when the addresses swap.
      uint8_t* ip = buf.data();
      size_t off = inner.family == net::IpFamily::kV4 ? 12 : 8;
      size_t n = inner.family == net::IpFamily::kV4 ? 4 : 16;
      Bytes a(ip + off, ip + off + n);
      std::memmove(ip + off, ip + off + n, n);
      std::memcpy(ip + off + n, a.data(), n);
    }
    if (v.inner_proto == 50) {
      // One SPI per direction, sequence numbers counting up, as a real SA
      // (and as Wireshark's ESP sequence analysis expects).
      uint8_t* esp = buf.data() + inner.l3_length;
      uint32_t spi = net::load_be32(esp) ^ (from_client ? 0 : 0x30000000);
      net::store_be32(esp, spi);
      net::store_be32(esp + 4, ++esp_seq_[from_client ? 0 : 1]);
    }
    uint32_t advance = sequence_advance(inner);
    DropReason r = encapsulate(buf, inner, {from.port, to.port, from.next_seq, to.next_seq});
    if (r != DropReason::kNone) std::exit(4);
    uint16_t trailer_id = net::load_be16(buf.data() + buf.length() - kTrailerLen + 4);
    if (corrupt_trailer_byte_ >= 0) corrupt(buf);
    w_.write(buf.bytes());
    from.next_seq += advance;

    // What tshark should show for this frame.
    std::string ispi = "", spi = "";
    char tmp[32];
    if (v.inner_proto == 17) {
      for (int i = 0; i < 8; ++i) {
        std::snprintf(tmp, sizeof(tmp), "%02x", v.initiator_spi[i]);
        ispi += tmp;
      }
    } else {
      std::snprintf(tmp, sizeof(tmp), "0x%08x",
                    net::load_be32(buf.data() + inner.l3_length + kTcpHeaderLen));
      spi = tmp;
    }
    std::printf("%u\t%d\t0x%02x\t%s\t%s\t0x%04x\n", w_.frames(),
                inner.family == net::IpFamily::kV4 ? 4 : 6, v.inner_proto, ispi.c_str(),
                spi.c_str(), trailer_id);
  }

  // Flips one bit of trailer byte `n` in every data segment, keeping the TCP
  // checksum right: the tshark test must notice (it checks itself this way).
  static void corrupt_trailer(int n) { corrupt_trailer_byte_ = n; }

 private:
  void corrupt(net::PacketBuffer& buf) {
    TcpSegment seg;
    if (parse_tcp_segment(buf.bytes(), seg) != DropReason::kNone) std::exit(6);
    uint8_t* ip = buf.data();
    ip[buf.length() - kTrailerLen + corrupt_trailer_byte_] ^= 0x01;
    uint8_t* tcp = ip + seg.ip.l3_length;
    net::store_be16(tcp + 16, 0);
    uint16_t l4_len = seg.ip.l4_length();
    net::store_be16(tcp + 16, net::l4_checksum(ip, seg.ip, net::kProtoTcp, {tcp, l4_len}));
  }

  void control(const Side& from, const Side& to, uint8_t flags, uint32_t ack) {
    uint8_t out[kMaxControlSegmentLen];
    ControlSegment s{from.addr, to.addr, from.port, to.port, from.next_seq, ack, flags};
    uint16_t n = build_control_segment(out, s);
    if (n == 0) std::exit(5);
    w_.write({out, n});
  }

  static inline int corrupt_trailer_byte_ = -1;
  PcapWriter& w_;
  Side c_;
  Side s_;
  static inline uint32_t esp_seq_[2] = {0, 0};  // per SPI, across connections
};

int run(const char* path) {
  PcapWriter w(path);
  if (!w.ok()) {
    std::perror(path);
    return 1;
  }
  const auto& v4 = vec("ike_v4");
  const auto& v6 = vec("ike_v6");
  auto v4_addr = [&](size_t off) { return net::IpAddress::v4(v4.inner.data() + off); };
  auto v6_addr = [&](size_t off) { return net::IpAddress::v6(v6.inner.data() + off); };
  uint32_t isn = 0x10000000;
  for (uint16_t port : {uint16_t{10000}, uint16_t{443}}) {
    {
      Connection c(w, {v4_addr(12), 49152, isn}, {v4_addr(16), port, ~isn});
      c.handshake();
      c.data("ike_v4", true);
      c.data("ike_v4_options", false);
      c.data("ike_v4_odd", true);
      c.data("esp_v4", true);
      c.data("esp_v4", false);
    }
    isn += 0x01000000;
    {
      Connection c(w, {v6_addr(8), 49153, isn}, {v6_addr(24), port, ~isn});
      c.handshake();
      c.data("ike_v6", true);
      c.data("ike_v6_ext", false);
      c.data("ike_v6_odd", true);
      c.data("esp_v6_ext", true);
      c.data("esp_v6", false);
    }
    isn += 0x01000000;
  }
  return w.ok() ? 0 : 1;
}

}  // namespace
}  // namespace tcpsec::ctcp

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[2], "--corrupt-trailer") == 0) {
    int n = std::atoi(argv[3]);
    if (n < 0 || n >= tcpsec::ctcp::kTrailerLen) return 2;
    tcpsec::ctcp::Connection::corrupt_trailer(n);
  } else if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.pcap [--corrupt-trailer BYTE] > expected.tsv\n", argv[0]);
    return 2;
  }
  return tcpsec::ctcp::run(argv[1]);
}
