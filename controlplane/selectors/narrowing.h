// Traffic selector narrowing (RFC 7296 2.9).
//
// Responder: narrow() intersects the initiator's TSi/TSr with our
// configuration (our remote_ts for TSi, our local_ts for TSr). Each result
// is the non-empty intersection of one offered and one configured selector
// (address range, protocol, ports), with duplicates and selectors contained
// in others dropped.
//
// The "packet" rule: when an initiator lists more than one selector and the
// first of each of TSi and TSr is a single address (the packet that
// triggered the SA, RFC 7296 2.9), the first ones are not negotiated
// themselves; if both fit our configuration, only the narrowed selectors
// that contain the packet's addresses are kept (so the SA covers that
// packet); if they do not fit, narrowing proceeds on the rest.
//
// Initiator: check_narrowed() verifies that every selector the responder
// returned lies within one we proposed (same type, protocol and ports).
#pragma once

#include <optional>

#include "common/status.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::selectors {

struct NarrowedTs {
  ike::Ts tsi;
  ike::Ts tsr;
};

// Error "TS_UNACCEPTABLE: ..." (answer with that notify) when either side
// narrows to nothing. Selectors of unknown types are ignored.
Expected<NarrowedTs> narrow(const ike::Ts& tsi, const ike::Ts& tsr, const ike::Ts& our_remote,
                            const ike::Ts& our_local);

// Initiator: the responder's TSi/TSr against what we proposed.
Status check_narrowed(const ike::Ts& proposed_tsi, const ike::Ts& proposed_tsr,
                      const ike::Ts& reply_tsi, const ike::Ts& reply_tsr);

// The intersection of two selectors, if not empty (both must be of the
// same known type).
std::optional<ike::TrafficSelector> intersect(const ike::TrafficSelector& a,
                                              const ike::TrafficSelector& b);
// Whether `inner` lies within `outer`.
bool contains(const ike::TrafficSelector& outer, const ike::TrafficSelector& inner);

}  // namespace tcpsec::selectors
