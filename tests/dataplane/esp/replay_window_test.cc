// ReplayWindow: in order, reordered within the window, too old, duplicates,
// the 2^32 wrap with ESN (RFC 4303 Appendix A2), window sizes 64 to 4096,
// and a randomized comparison against a plain set-based model.
#include "dataplane/esp/replay_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>

namespace tcpsec::esp {
namespace {

using Verdict = ReplayWindow::Verdict;

ReplayWindow make(uint32_t size, bool esn) {
  ReplayWindow w;
  EXPECT_TRUE(w.init(size, esn).is_ok());
  return w;
}

// check() then update(), as the inbound path does for an authentic packet.
Verdict receive(ReplayWindow& w, uint32_t seq_low) {
  ReplayWindow::Check c = w.check(seq_low);
  if (c.verdict == Verdict::kOk) {
    EXPECT_TRUE(w.update(c.seq));
  }
  return c.verdict;
}

class ReplayWindowSizes : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ReplayWindowSizes, InOrder) {
  const uint32_t size = GetParam();
  for (bool esn : {false, true}) {
    ReplayWindow w = make(size, esn);
    for (uint32_t s = 1; s <= 3 * size + 100; ++s) {
      ASSERT_EQ(receive(w, s), Verdict::kOk) << s;
      ASSERT_EQ(w.top(), s);
    }
    // Everything in the window is now a duplicate; everything below it too
    // old, or with ESN read as the next 2^32 subspace (RFC 4303 A2.1: the
    // ICV over that seq_hi then fails).
    const uint64_t top = w.top();
    for (uint64_t s = top - size + 1; s <= top; ++s) {
      ASSERT_EQ(w.check(static_cast<uint32_t>(s)).verdict, Verdict::kDuplicate) << s;
    }
    for (uint64_t s : {top - size, uint64_t{1}}) {
      ReplayWindow::Check c = w.check(static_cast<uint32_t>(s));
      if (esn) {
        EXPECT_EQ(c.verdict, Verdict::kOk);
        EXPECT_EQ(c.seq, s + (uint64_t{1} << 32));
      } else {
        EXPECT_EQ(c.verdict, Verdict::kTooOld);
      }
    }
  }
}

TEST_P(ReplayWindowSizes, ReorderedWithinTheWindow) {
  const uint32_t size = GetParam();
  ReplayWindow w = make(size, false);
  // Receive 1..N in a shuffled order where no packet is later than `size`
  // positions: all accepted, each exactly once.
  const uint32_t n = 4 * size;
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i + 1;
  std::mt19937 rng(size);
  for (uint32_t i = 0; i + 1 < n; i += size / 2) {
    std::shuffle(order.begin() + i, order.begin() + std::min(n, i + size / 2), rng);
  }
  for (uint32_t s : order) ASSERT_EQ(receive(w, s), Verdict::kOk) << s;
  for (uint32_t s : order) {
    Verdict v = w.check(s).verdict;
    ASSERT_TRUE(v == Verdict::kDuplicate || v == Verdict::kTooOld) << s;
  }
  EXPECT_EQ(w.top(), n);
}

TEST_P(ReplayWindowSizes, EdgesOfTheWindow) {
  const uint32_t size = GetParam();
  ReplayWindow w = make(size, false);
  const uint32_t top = 10 * size;
  ASSERT_EQ(receive(w, top), Verdict::kOk);
  EXPECT_EQ(w.check(top - size + 1).verdict, Verdict::kOk);  // the oldest slot
  EXPECT_EQ(w.check(top - size).verdict, Verdict::kTooOld);  // just outside
  EXPECT_EQ(receive(w, top - size + 1), Verdict::kOk);
  EXPECT_EQ(receive(w, top - size + 1), Verdict::kDuplicate);
  // Slide by exactly one: the oldest slot falls out.
  EXPECT_EQ(receive(w, top + 1), Verdict::kOk);
  EXPECT_EQ(w.check(top - size + 1).verdict, Verdict::kTooOld);
  EXPECT_EQ(w.check(top - size + 2).verdict, Verdict::kOk);
  // A jump far ahead clears everything older.
  EXPECT_EQ(receive(w, top + 100 * size), Verdict::kOk);
  EXPECT_EQ(w.check(top + 100 * size - 1).verdict, Verdict::kOk);
  EXPECT_EQ(w.check(top + 1).verdict, Verdict::kTooOld);
}

TEST_P(ReplayWindowSizes, StaleBitsDoNotSurviveASlide) {
  // Fill a window, then slide by amounts that land the ring on old words:
  // previously seen numbers' bits must not make new numbers duplicates.
  const uint32_t size = GetParam();
  for (uint32_t jump : {1u, 63u, 64u, 65u, size - 1, size, size + 1, 2 * size, 2 * size + 64}) {
    ReplayWindow w = make(size, false);
    for (uint32_t s = 1; s <= size; ++s) ASSERT_EQ(receive(w, s), Verdict::kOk);
    const uint32_t top = size + jump;
    ASSERT_EQ(receive(w, top), Verdict::kOk);
    for (uint32_t s = std::max<uint32_t>(size + 1, top - size + 1); s < top; ++s) {
      ASSERT_EQ(w.check(s).verdict, Verdict::kOk) << "jump " << jump << " seq " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReplayWindowSizes,
                         ::testing::Values(64u, 65u, 100u, 128u, 1000u, 1024u, 4096u),
                         [](const auto& info) { return std::to_string(info.param); });

TEST(ReplayWindow, SequenceNumberZeroIsNeverValid) {
  for (bool esn : {false, true}) {
    ReplayWindow w = make(64, esn);
    EXPECT_EQ(w.check(0).verdict, Verdict::kTooOld);
    EXPECT_FALSE(w.update(0));
    EXPECT_EQ(receive(w, 1), Verdict::kOk);
    EXPECT_EQ(w.check(0).verdict, Verdict::kTooOld);
  }
}

TEST(ReplayWindow, UpdateRechecks) {
  ReplayWindow w = make(64, false);
  ReplayWindow::Check a = w.check(5);
  ReplayWindow::Check b = w.check(5);
  ASSERT_EQ(a.verdict, Verdict::kOk);
  ASSERT_EQ(b.verdict, Verdict::kOk);
  EXPECT_TRUE(w.update(a.seq));
  EXPECT_FALSE(w.update(b.seq));  // the second copy of the same burst
  ReplayWindow::Check old = w.check(6);
  EXPECT_TRUE(w.update(1000));
  EXPECT_FALSE(w.update(old.seq));  // fell out of the window meanwhile
}

TEST(ReplayWindow, SizesOutsideTheRangeAreRefused) {
  ReplayWindow w;
  EXPECT_FALSE(w.init(0, false).is_ok());
  EXPECT_FALSE(w.init(63, false).is_ok());
  EXPECT_FALSE(w.init(4097, true).is_ok());
  EXPECT_TRUE(w.init(64, true).is_ok());
  EXPECT_TRUE(w.init(4096, false).is_ok());
  EXPECT_EQ(w.size(), 4096u);
  EXPECT_FALSE(w.esn());
}

TEST(ReplayWindow, WithoutEsnTheTopIsTheLastNumber) {
  ReplayWindow w = make(64, false);
  EXPECT_EQ(receive(w, 0xffffffffu), Verdict::kOk);
  EXPECT_EQ(w.check(0xffffffffu).verdict, Verdict::kDuplicate);
  EXPECT_EQ(w.check(1).verdict, Verdict::kTooOld);  // no wrap without ESN
  EXPECT_EQ(w.check(0xffffffc1u).verdict, Verdict::kOk);
}

// RFC 4303 Appendix A2: the receiver infers seq_hi from where seq_lo falls
// relative to the window.
TEST(ReplayWindowEsn, WrapAt2To32) {
  for (uint32_t size : {64u, 4096u}) {
    SCOPED_TRACE(size);
    ReplayWindow w = make(size, true);
    const uint64_t start = 0xffffffffu - size / 2;
    ASSERT_TRUE(w.update(start));
    // Case A (window within one subspace): numbers below the window are
    // from the next subspace.
    ReplayWindow::Check c = w.check(5);
    EXPECT_EQ(c.verdict, Verdict::kOk);
    EXPECT_EQ(c.seq, (uint64_t{1} << 32) + 5);
    c = w.check(static_cast<uint32_t>(start - 3));
    EXPECT_EQ(c.seq, start - 3);
    EXPECT_EQ(c.verdict, Verdict::kOk);
    // Cross the wrap.
    ASSERT_TRUE(w.update((uint64_t{1} << 32) + 2));
    EXPECT_EQ(w.top(), (uint64_t{1} << 32) + 2);
    // Case B (window straddles): numbers at the top of the 32-bit space are
    // from the previous subspace, small ones from the current one.
    c = w.check(0xffffffffu);
    EXPECT_EQ(c.seq, 0xffffffffu);
    EXPECT_EQ(c.verdict, Verdict::kOk);
    c = w.check(0);
    EXPECT_EQ(c.seq, uint64_t{1} << 32);
    EXPECT_EQ(c.verdict, Verdict::kOk);  // seq_lo 0 is valid once seq_hi > 0
    c = w.check(2);
    EXPECT_EQ(c.verdict, Verdict::kDuplicate);
    c = w.check(1000000);
    EXPECT_EQ(c.seq, (uint64_t{1} << 32) + 1000000);
    EXPECT_EQ(c.verdict, Verdict::kOk);
    c = w.check(static_cast<uint32_t>(start));
    EXPECT_EQ(c.verdict, Verdict::kDuplicate);
    // Below the window's bottom (2^32 + 3 - size): the current subspace.
    c = w.check(static_cast<uint32_t>(start - size));
    EXPECT_EQ(c.seq, (uint64_t{1} << 32) + static_cast<uint32_t>(start - size));
    EXPECT_EQ(receive(w, 0), Verdict::kOk);
    EXPECT_EQ(receive(w, 0), Verdict::kDuplicate);
  }
}

TEST(ReplayWindowEsn, FreshWindowInfersSubspaceZero) {
  ReplayWindow w = make(64, true);
  ReplayWindow::Check c = w.check(1);
  EXPECT_EQ(c.seq, 1u);
  EXPECT_EQ(c.verdict, Verdict::kOk);
  // Near 2^32 at the start means "before sequence number 1": too old.
  EXPECT_EQ(w.check(0xfffffff0u).verdict, Verdict::kTooOld);
  EXPECT_EQ(w.check(0x80000000u).seq, 0x80000000u);
}

// Random traffic against a model that keeps every accepted number: in-order
// runs, reordering, duplicates, old packets and jumps, across the 2^32 wrap.
TEST(ReplayWindowEsn, MatchesASetModel) {
  for (uint32_t size : {64u, 200u, 4096u}) {
    for (bool esn : {false, true}) {
      ReplayWindow w = make(size, esn);
      std::set<uint64_t> seen;
      uint64_t top = 0;
      uint64_t next = esn ? 0xffff0000u : 1;  // ESN runs cross 2^32
      std::mt19937_64 rng(size * 2 + esn);
      if (next > 1) {
        ASSERT_TRUE(w.update(next - 1));
        seen.insert(next - 1);
        top = next - 1;
      }
      for (int i = 0; i < 200000; ++i) {
        uint64_t s;
        switch (rng() % 8) {
          case 0:  // a jump ahead
            s = next + rng() % (4 * size);
            break;
          case 1:  // something seen (a replay), if any
            s = seen.empty() ? next
                             : *seen.lower_bound(top - std::min<uint64_t>(top, rng() % (2 * size)));
            break;
          case 2:  // old, maybe outside the window
            s = top > 1 ? top - std::min<uint64_t>(top - 1, rng() % (2 * size)) : 1;
            break;
          default:  // in order, with a little reordering
            s = next + rng() % 4;
            break;
        }
        if (!esn && s > 0xffffffffu) continue;
        next = std::max(next, s + 1);
        Verdict want = s == 0               ? Verdict::kTooOld
                       : s > top            ? Verdict::kOk
                       : top - s >= size    ? Verdict::kTooOld
                       : seen.count(s) != 0 ? Verdict::kDuplicate
                                            : Verdict::kOk;
        ReplayWindow::Check c = w.check(static_cast<uint32_t>(s));
        if (esn && want == Verdict::kTooOld && c.verdict == Verdict::kOk) {
          // Below the window, seq_lo reads as the next 2^32 subspace (the
          // ICV, computed over the wrong seq_hi, then refuses the packet).
          ASSERT_EQ(c.seq, s + (uint64_t{1} << 32)) << s;
          continue;
        }
        ASSERT_EQ(c.verdict, want)
            << "size " << size << " esn " << esn << " seq " << s << " top " << top;
        if (want == Verdict::kOk) {
          ASSERT_EQ(c.seq, s);  // ESN inference recovered the high bits
          ASSERT_TRUE(w.update(c.seq));
          seen.insert(s);
          top = std::max(top, s);
          ASSERT_EQ(w.top(), top);
        }
        // Keep the model small.
        while (!seen.empty() && *seen.begin() + 2 * size < top) seen.erase(seen.begin());
      }
      if (esn) {
        EXPECT_GT(top, 0xffffffffu);
      }
    }
  }
}

}  // namespace
}  // namespace tcpsec::esp
