// NAT detection (RFC 7296 2.23): SHA-1(SPIi | SPIr | IP | port) in the
// NAT_DETECTION_SOURCE_IP / _DESTINATION_IP notifies of IKE_SA_INIT.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::ikesa {

Expected<ike::Bytes> nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const std::string& address,
                                        uint16_t port);

}  // namespace tcpsec::ikesa
