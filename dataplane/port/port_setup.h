// EAL arguments and ethdev setup from the configuration: the only code that
// knows how a configured port becomes a DPDK port.
#pragma once

#include <rte_mempool.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/pipeline/gateway.h"
#include "tcpsec/v1/config.pb.h"

namespace tcpsec::port {

// argv for rte_eal_init: lcores for the workers, memory, file prefix, one
// --vdev or -a per port, then the operator's extra arguments.
std::vector<std::string> eal_arguments(const v1::DataplaneConfig& config, const std::string& argv0);

// Configures and starts the port (queues, RSS, MTU, MAC), returning what
// the workers need to know about it. `tx_queues` is one per worker.
Expected<pipeline::Interface> setup_port(const v1::Port& port, rte_mempool* pool,
                                         uint16_t tx_queues);

void stop_port(uint16_t port_id);

}  // namespace tcpsec::port
