// PacketBuffer: a contiguous frame with head- and tailroom.
//
// The framing code (pseudo-TCP, RFC 9329, ESP) works on this view rather than
// on rte_mbuf directly, so that unit tests, fuzzers and benchmarks drive the
// very same functions with plain arrays. On the dataplane it aliases the first
// segment of an mbuf (see mbuf_view.h).
#pragma once

#include <bit>
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

// Moves an IP header of `len` bytes within a frame (the framings shift it to
// open or close a gap after it). The usual 20- and 40-byte headers go
// through registers: GCC emits a libc memmove call even for a constant
// size when the ranges may overlap.
inline void move_header(uint8_t* dst, const uint8_t* src, uint16_t len) {
  if (len == 20) {
    uint8_t tmp[20];
    std::memcpy(tmp, src, sizeof tmp);
    std::memcpy(dst, tmp, sizeof tmp);
  } else if (len == 40) {
    uint8_t tmp[40];
    std::memcpy(tmp, src, sizeof tmp);
    std::memcpy(dst, tmp, sizeof tmp);
  } else {
    std::memmove(dst, src, len);
  }
}

// Unaligned big-endian accessors: packet fields are never assumed aligned.
// One load or store and a byte swap each (std::byteswap is C++23): the
// byte-by-byte forms compiled to a store per byte, which the ESP and
// pseudo-TCP header writers paid several times per packet.
static_assert(std::endian::native == std::endian::little);
inline uint16_t load_be16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t load_be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}

}  // namespace tcpsec::net
