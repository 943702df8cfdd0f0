// Bounds-checked big-endian reading and appending for the IKE codec. The
// reader never reads past its span: every take_* checks first, and the
// codec checks `remaining()` before calling it with a length from the wire.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tcpsec::ike {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  // Callers check remaining() first; these assume it (asserted in debug).
  uint8_t u8() {
    assert(remaining() >= 1);
    return data_[pos_++];
  }
  uint16_t u16() {
    assert(remaining() >= 2);
    uint16_t v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t v = uint32_t{u16()} << 16;
    return v | u16();
  }
  uint64_t u64() {
    uint64_t v = uint64_t{u32()} << 32;
    return v | u32();
  }
  std::span<const uint8_t> bytes(size_t n) {
    assert(remaining() >= n);
    std::span<const uint8_t> s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::vector<uint8_t> copy(size_t n) {
    std::span<const uint8_t> s = bytes(n);
    return {s.begin(), s.end()};
  }
  std::span<const uint8_t> rest() { return bytes(remaining()); }
  void skip(size_t n) {
    assert(remaining() >= n);
    pos_ += n;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // Patches a 16-bit length written earlier (as zero) at `offset`.
  void patch_u16(size_t offset, uint16_t v) {
    out_[offset] = static_cast<uint8_t>(v >> 8);
    out_[offset + 1] = static_cast<uint8_t>(v);
  }
  void patch_u32(size_t offset, uint32_t v) {
    patch_u16(offset, static_cast<uint16_t>(v >> 16));
    patch_u16(offset + 2, static_cast<uint16_t>(v));
  }
  void patch_u8(size_t offset, uint8_t v) { out_[offset] = v; }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace tcpsec::ike
