// PacketBuffer: a contiguous frame with head- and tailroom.
//
// The framing code (pseudo-TCP, RFC 9329, ESP) works on this view rather than
// on rte_mbuf directly, so that unit tests, fuzzers and benchmarks drive the
// very same functions with plain arrays. On the dataplane it aliases the first
// segment of an mbuf (see mbuf_view.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace tcpsec::net {

class PacketBuffer {
 public:
  PacketBuffer(std::span<uint8_t> storage, uint16_t data_offset, uint16_t data_length)
      : base_(storage.data()),
        capacity_(static_cast<uint16_t>(storage.size())),
        off_(data_offset),
        len_(data_length) {}

  uint8_t* data() { return base_ + off_; }
  const uint8_t* data() const { return base_ + off_; }
  uint16_t length() const { return len_; }
  uint16_t data_offset() const { return off_; }
  std::span<uint8_t> bytes() { return {data(), len_}; }
  std::span<const uint8_t> bytes() const { return {data(), len_}; }
  uint16_t headroom() const { return off_; }
  uint16_t tailroom() const { return static_cast<uint16_t>(capacity_ - off_ - len_); }

  // Grows the front by n bytes; nullptr (and no change) if there is no room.
  uint8_t* prepend(uint16_t n) {
    if (n > off_) return nullptr;
    off_ = static_cast<uint16_t>(off_ - n);
    len_ = static_cast<uint16_t>(len_ + n);
    return data();
  }
  // Grows the back by n bytes, returning the first new byte.
  uint8_t* append(uint16_t n) {
    if (n > tailroom()) return nullptr;
    uint8_t* tail = data() + len_;
    len_ = static_cast<uint16_t>(len_ + n);
    return tail;
  }
  // Removes n bytes from the front.
  bool adj(uint16_t n) {
    if (n > len_) return false;
    off_ = static_cast<uint16_t>(off_ + n);
    len_ = static_cast<uint16_t>(len_ - n);
    return true;
  }
  // Removes n bytes from the back.
  bool trim(uint16_t n) {
    if (n > len_) return false;
    len_ = static_cast<uint16_t>(len_ - n);
    return true;
  }

 private:
  uint8_t* base_;
  uint16_t capacity_;
  uint16_t off_;
  uint16_t len_;
};

// Unaligned big-endian accessors: packet fields are never assumed aligned.
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline uint64_t load_be64(const uint8_t* p) {
  return uint64_t{load_be32(p)} << 32 | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  store_be16(p, static_cast<uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<uint16_t>(v));
}

}  // namespace tcpsec::net
