// Installing a negotiated Child SA in the dataplane: its two ESP SAs
// (keys from KEYMAT, encapsulation from the IKE SA's path) and the two
// PROTECT policies, in one all-or-nothing Apply; and removing them again.
#pragma once

#include "controlplane/ikesa/negotiation.h"
#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

// `initiator`: whether we initiated the exchange that made the Child SA
// (it decides which half of KEYMAT is whose, RFC 7296 2.17).
Status install_child_sa(IkeSa& sa, TaskContext& ctx, const EspChoice& esp, const TsChoice& ts,
                        uint32_t spi_in, bool initiator);

// The Apply request that removes a Child SA's SAs and policies.
v1::ApplyRequest removal_of(const IkeSa& sa, const ChildSa& child);

}  // namespace tcpsec::ikesa
