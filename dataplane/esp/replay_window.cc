#include "dataplane/esp/replay_window.h"

#include <bit>
#include <cstring>
#include <string>

namespace tcpsec::esp {

void ReplayWindow::reset(uint32_t size, bool esn) {
  top_ = 0;
  size_ = size;
  esn_ = esn;
  // Words to cover `size` bits at any alignment, plus one; rounded up to a
  // power of two so the ring index is a mask.
  uint32_t words = std::bit_ceil((size + 63) / 64 + 1);
  ring_mask_ = words - 1;
  std::memset(bits_, 0, sizeof bits_);
}

Status ReplayWindow::init(uint32_t size, bool esn) {
  if (size < kMinSize || size > kMaxSize) {
    return Status::error("replay window must be " + std::to_string(kMinSize) + " to " +
                         std::to_string(kMaxSize) + " packets, not " + std::to_string(size));
  }
  reset(size, esn);
  return Status::ok();
}

ReplayWindow::Check ReplayWindow::check(uint32_t seq_low) const {
  uint64_t seq;
  if (!esn_) {
    seq = seq_low;
  } else {
    // RFC 4303 Appendix A2.1: the window [T - W + 1, T] lies in one 2^32
    // subspace (case A) or straddles two (case B); Seql's place relative to
    // the window's bottom picks the subspace.
    const uint32_t tl = static_cast<uint32_t>(top_);
    const uint32_t th = static_cast<uint32_t>(top_ >> 32);
    const uint32_t bottom = tl - (size_ - 1);  // modulo 2^32
    uint64_t sh;
    if (tl >= size_ - 1) {  // case A
      sh = seq_low >= bottom ? th : uint64_t{th} + 1;
    } else {  // case B
      if (seq_low >= bottom) {
        if (th == 0) return {Verdict::kTooOld, seq_low};  // before sequence number 1
        sh = th - 1;
      } else {
        sh = th;
      }
    }
    if (sh > 0xffffffffu) return {Verdict::kTooOld, seq_low};  // past 2^64: the SA is done
    seq = sh << 32 | seq_low;
  }
  if (seq == 0) return {Verdict::kTooOld, 0};
  if (seq > top_) return {Verdict::kOk, seq};
  if (top_ - seq >= size_) return {Verdict::kTooOld, seq};
  return {test(seq) ? Verdict::kDuplicate : Verdict::kOk, seq};
}

bool ReplayWindow::update(uint64_t seq) {
  if (seq == 0) return false;
  if (seq > top_) {
    const uint64_t old_word = top_ >> 6;
    const uint64_t new_word = seq >> 6;
    const uint64_t words = uint64_t{ring_mask_} + 1;
    if (new_word - old_word >= words) {
      std::memset(bits_, 0, words * sizeof bits_[0]);
    } else {
      for (uint64_t w = old_word + 1; w <= new_word; ++w) bits_[w & ring_mask_] = 0;
    }
    top_ = seq;
  } else if (top_ - seq >= size_ || test(seq)) {
    return false;
  }
  bits_[(seq >> 6) & ring_mask_] |= uint64_t{1} << (seq & 63);
  return true;
}

}  // namespace tcpsec::esp
