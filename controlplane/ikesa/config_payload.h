// The configuration payload of remote access (RFC 7296 2.19, 3.15): a
// client asks for an internal address in IKE_AUTH (CFG_REQUEST), the
// gateway leases one from the connection's address_pool, answers with
// CFG_REPLY and narrows the client's side of the Child SA to that address.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controlplane/ikesa/negotiation.h"
#include "controlplane/ikesa/task.h"
#include "controlplane/selectors/address_pool.h"

namespace tcpsec::ikesa {

// Address pools by connection name (the daemon owns them).
using AddressPools = std::map<std::string, selectors::AddressPool>;

// Responder: if `in` holds a CFG_REQUEST for an IPv4/IPv6 address and the
// connection has a pool, leases an address to the peer (by identity),
// appends the CFG_REPLY to `out` and narrows `ts` to it. Nothing happens
// without a request or a pool; an exhausted pool is an error (answer
// INTERNAL_ADDRESS_FAILURE).
Status answer_config_request(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                             TsChoice& ts, std::vector<ike::Payload>& out);

// Ends the peer's lease (the IKE SA is gone).
void release_address(IkeSa& sa, TaskContext& ctx);

}  // namespace tcpsec::ikesa
