#include "dataplane/net/packet_buffer.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace tcpsec::net {
namespace {

// move_header behaves as memmove for the register-copied sizes and the rest,
// with the ranges apart, adjacent or overlapping either way.
TEST(MoveHeader, MatchesMemmoveForEveryShift) {
  for (uint16_t len : {uint16_t{20}, uint16_t{24}, uint16_t{40}, uint16_t{60}}) {
    for (int shift = -44; shift <= 44; ++shift) {
      std::vector<uint8_t> got(200), want(200);
      std::iota(got.begin(), got.end(), uint8_t{1});
      want = got;
      const int from = 70;
      move_header(got.data() + from + shift, got.data() + from, len);
      std::memmove(want.data() + from + shift, want.data() + from, len);
      ASSERT_EQ(got, want) << "len " << len << " shift " << shift;
    }
  }
}

}  // namespace
}  // namespace tcpsec::net
