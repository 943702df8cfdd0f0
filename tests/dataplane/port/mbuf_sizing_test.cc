#include "dataplane/port/mbuf_sizing.h"

#include <gtest/gtest.h>

#include "dataplane/ctcp/ctcp_trailer.h"

namespace tcpsec::port {
namespace {

TEST(MbufSizing, DefaultUpToStandardMtu) {
  EXPECT_EQ(mbuf_data_room(0), RTE_MBUF_DEFAULT_BUF_SIZE);
  EXPECT_EQ(mbuf_data_room(1500), RTE_MBUF_DEFAULT_BUF_SIZE);
}

TEST(MbufSizing, JumboFrameFitsOneSegmentWithRoomToGrow) {
  for (uint32_t mtu : {1501u, 4000u, 9000u, 9216u}) {
    uint32_t room = mbuf_data_room(mtu);
    uint32_t tailroom_after_frame = room - RTE_PKTMBUF_HEADROOM - (14 + 4 + mtu);
    // ESP's largest padding, pad length and next header, a 16-byte ICV,
    // then the pseudo-TCP trailer.
    EXPECT_GE(tailroom_after_frame, 255u + 2 + 16 + ctcp::kTrailerLen) << mtu;
    EXPECT_EQ(room % RTE_CACHE_LINE_SIZE, 0u) << mtu;
    EXPECT_LE(room, 16384u) << mtu;  // no more than a jumbo frame needs
  }
  EXPECT_GT(mbuf_data_room(9216), mbuf_data_room(9000));
}

}  // namespace
}  // namespace tcpsec::port
