// Collects what happened since the last call: the workers' connection
// events (ControlChannel) and SA lifetime crossings (StateStore), as
// v1::Event. The main thread calls it every ~50 ms, logs each event and
// publishes it to the EventHub when the gRPC server runs.
#pragma once

#include <vector>

#include "dataplane/pipeline/gateway.h"
#include "dataplane/pipeline/state_store.h"
#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsec::rpc {

// `started_tsc`: the TSC when the workers started (events carry seconds since).
std::vector<v1::Event> collect_events(pipeline::Gateway& gateway, pipeline::StateStore& store,
                                      uint64_t started_tsc);

// One line for logs: "event: sa_hard_expired OUTBOUND spi=0x... limit=packets".
std::string describe_event(const v1::Event& e);

}  // namespace tcpsec::rpc
