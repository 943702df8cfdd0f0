// ReplayWindow: ESP anti-replay (RFC 4303 3.4.3, Appendix A), with extended
// sequence numbers (Appendix A2: the high 32 bits are inferred).
//
// The window is a bitmap over the last `size` sequence numbers ending at the
// highest one received. It is kept as a ring of 64-bit words (RFC 6479): the
// bit of sequence number s lives at word (s / 64) mod n, so sliding the window
// forward clears whole words instead of shifting the bitmap; one word more
// than the window needs keeps the oldest and newest partial words apart.
//
// Two steps, around the integrity check: check() before crypto (no side
// effect; it also infers the ESN high bits the ICV is computed over), and
// update() only once the ICV verified (it checks again: another packet of
// the same burst may have taken the number meanwhile).
#pragma once

#include <cstdint>

#include "common/status.h"

namespace tcpsec::esp {

class alignas(64) ReplayWindow {
 public:
  static constexpr uint32_t kMinSize = 64;
  static constexpr uint32_t kMaxSize = 4096;
  static constexpr uint32_t kDefaultSize = 1024;

  enum class Verdict : uint8_t { kOk, kDuplicate, kTooOld };
  struct Check {
    Verdict verdict;
    uint64_t seq;  // the full (ESN: inferred 64-bit) sequence number
  };

  ReplayWindow() { reset(kDefaultSize, false); }

  // A window of `size` packets (kMinSize to kMaxSize), empty; the first
  // sequence number accepted is 1 (RFC 4303 3.3.3).
  Status init(uint32_t size, bool esn);

  // The verdict on a packet carrying `seq_low` (the header's 32 bits), and
  // the full sequence number it stands for. Sequence number 0 is never valid.
  Check check(uint32_t seq_low) const;

  // Marks `seq` (from check()) as received, sliding the window when it is
  // new; false, and no change, when it is a duplicate or now too old.
  bool update(uint64_t seq);

  uint64_t top() const { return top_; }  // highest sequence number received
  uint32_t size() const { return size_; }
  bool esn() const { return esn_; }

 private:
  static constexpr uint32_t kRingWords = 128;  // >= kMaxSize / 64 + 1, a power of two

  void reset(uint32_t size, bool esn);
  bool test(uint64_t seq) const { return (bits_[(seq >> 6) & ring_mask_] >> (seq & 63)) & 1; }

  uint64_t top_ = 0;
  uint32_t size_ = 0;
  uint32_t ring_mask_ = 0;  // words in use - 1 (a power of two, <= kRingWords)
  bool esn_ = false;
  alignas(64) uint64_t bits_[kRingWords] = {};
};

static_assert(sizeof(ReplayWindow) == 64 + 128 * 8);

}  // namespace tcpsec::esp
