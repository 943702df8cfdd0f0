// Bridges rte_mbuf and PacketBuffer: the framing functions edit a view of
// the mbuf's single data segment, and the changed offsets are written back.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/net/packet_buffer.h"

namespace tcpsec::net {

// Single-segment mbufs only (callers linearise or drop multi-segment ones).
inline PacketBuffer mbuf_view(rte_mbuf* m) {
  return PacketBuffer({static_cast<uint8_t*>(m->buf_addr), m->buf_len}, m->data_off, m->data_len);
}

inline void mbuf_commit(rte_mbuf* m, const PacketBuffer& b) {
  m->data_off = b.data_offset();
  m->data_len = b.length();
  m->pkt_len = b.length();
}

}  // namespace tcpsec::net
