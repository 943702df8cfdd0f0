// Child SAs in the dataplane: the ESP SA pair of a negotiated Child SA
// (keys from KEYMAT, encapsulation from the IKE SA's path) and the
// outbound PROTECT policies that send traffic into it, changed with
// all-or-nothing Apply requests.
//
// Policies are named after the Child SA's stable id ("<conn>-c<id>-out<i>"),
// not its SPIs, so a rekey moves traffic to the new SA by replacing them in
// the same Apply that adds the new SAs (make-before-break): no packet finds
// neither SA.
#pragma once

#include <span>

#include "controlplane/ikesa/negotiation.h"
#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

// What an exchange negotiated for a Child SA.
struct ChildNegotiation {
  EspChoice esp;
  TsChoice ts;
  uint32_t spi_in = 0;
  // KEYMAT seed: the exchange's nonces (IKE_AUTH: those of IKE_SA_INIT)
  // and the PFS shared secret, if any.
  ike::Bytes nonce_i, nonce_r;
  ikecrypto::SecretBytes pfs_secret;
  // Whether we initiated the exchange (decides which KEYMAT half is ours).
  bool initiator = false;
};

// A Child SA record from a negotiation, its SAs added to `request`.
// `child_id`: the id of the Child SA it replaces (a rekey), or 0 for a
// new one (a fresh id is taken from the context).
Expected<ChildSa> add_child_sas(IkeSa& sa, TaskContext& ctx, const ChildNegotiation& n,
                                uint32_t child_id, v1::ApplyRequest& request);
// The outbound policies of `child` (replacing those of the same name).
void set_child_policies(const IkeSa& sa, TaskContext& ctx, ChildSa& child,
                        v1::ApplyRequest& request);
// Removal of `child`'s SAs (and, with `policies`, its policies).
void remove_child_sas(const IkeSa& sa, const ChildSa& child, bool policies,
                      v1::ApplyRequest& request);

// A new Child SA: SAs and policies in one Apply, then recorded in `sa`.
Status install_child_sa(IkeSa& sa, TaskContext& ctx, const ChildNegotiation& n);

// The Apply request that removes a Child SA's SAs and policies.
v1::ApplyRequest removal_of(const IkeSa& sa, const ChildSa& child);

}  // namespace tcpsec::ikesa
