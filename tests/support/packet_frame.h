// Test helpers for packet code: a PacketBuffer with head- and tailroom as in
// an mbuf, and a byte comparison that names the first difference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/net/packet_buffer.h"

namespace tcpsec::testing {

// Compares two byte strings and names the first differing offset.
inline ::testing::AssertionResult SameBytes(std::span<const uint8_t> got,
                                            std::span<const uint8_t> want) {
  if (got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin())) {
    return ::testing::AssertionSuccess();
  }
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto r = ::testing::AssertionFailure();
  r << "lengths " << got.size() << " vs expected " << want.size() << "; first difference at " << i;
  if (i < got.size() && i < want.size()) {
    r << ": got 0x" << std::hex << int{got[i]} << ", expected 0x" << int{want[i]};
  }
  return r;
}

// A packet in a buffer with head- and tailroom, as in an mbuf.
class Frame {
 public:
  using Bytes = std::vector<uint8_t>;

  // Out of line: inlined, GCC 12 warns about a memcpy bound it made up.
  [[gnu::noinline]] explicit Frame(std::span<const uint8_t> pkt, uint16_t headroom = 128,
                                   uint16_t tailroom = 128)
      : storage_(headroom + pkt.size() + tailroom, 0xee),
        buf_(storage_, headroom, static_cast<uint16_t>(pkt.size())) {
    std::copy(pkt.begin(), pkt.end(), storage_.begin() + headroom);
  }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  net::PacketBuffer& buf() { return buf_; }
  std::span<const uint8_t> bytes() const { return buf_.bytes(); }
  Bytes copy() const { return Bytes(bytes().begin(), bytes().end()); }
  // Everything that must not change when a function refuses the packet.
  struct Snapshot {
    Bytes storage;
    uint16_t offset;
    uint16_t length;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() const { return {storage_, buf_.data_offset(), buf_.length()}; }

 private:
  Bytes storage_;
  net::PacketBuffer buf_;
};

}  // namespace tcpsec::testing
