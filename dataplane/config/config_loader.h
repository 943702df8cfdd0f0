// Loading, validating and completing the dataplane configuration
// (tcpsec.v1.DataplaneConfig, proto/tcpsec/v1/config.proto).
//
// The usual sequence, which load_validated_dataplane_config() performs:
//   auto cfg = load_dataplane_config(path);            // syntax
//   if (!cfg) ...;
//   if (auto s = validate_dataplane_config(*cfg); !s) ...;  // semantics
//   v1::DataplaneConfig effective = with_defaults(*cfg);     // defaults
// Consumers read `effective` and never re-implement a default. None of these
// functions throws, and none crashes on any input (there is a fuzz target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/proto_file.h"
#include "common/status.h"
#include "tcpsec/v1/config.pb.h"

namespace tcpsec::config {

using ConfigFormat = ProtoFormat;  // kText, kJson

// Larger inputs are refused before parsing.
inline constexpr size_t kMaxConfigBytes = kMaxProtoFileBytes;

// Default values that with_defaults() fills in, and the limits that
// validate_dataplane_config() enforces. Mirrors the comments in config.proto.
namespace defaults {
inline constexpr uint32_t kMtu = 1500;
inline constexpr uint32_t kQueues = 1;
inline constexpr uint32_t kDescriptors = 1024;
inline constexpr uint32_t kHandshakeTimeoutMs = 3000;
inline constexpr uint32_t kSynRetransmitMs = 1000;
inline constexpr uint32_t kIkeGraceS = 60;
inline constexpr uint32_t kCloseDelayMs = 500;
inline constexpr uint32_t kMaxConnections = 65536;
inline constexpr uint32_t kMaxSasPerConnection = 64;
inline constexpr uint32_t kLocalPortMin = 1024;
inline constexpr uint32_t kLocalPortMax = 65535;
inline constexpr uint32_t kHoldQueuePackets = 4;
inline constexpr uint32_t kRemotePort = 10000;
inline constexpr uint32_t kWorkerCount = 1;
inline constexpr uint32_t kBurstSize = 32;
inline constexpr uint32_t kMbufs = 16383;  // 2^n - 1: the mempool's optimum
}  // namespace defaults

namespace limits {
inline constexpr uint32_t kMinMtu = 576;
inline constexpr uint32_t kMinMtuIpv6 = 1280;
inline constexpr uint32_t kMaxMtu = 9216;
inline constexpr uint32_t kMaxQueues = 16;
inline constexpr uint32_t kMinDescriptors = 64;
inline constexpr uint32_t kMaxDescriptors = 32768;
inline constexpr uint32_t kMaxTimerMs = 600000;
inline constexpr uint32_t kMaxIkeGraceS = 86400;
inline constexpr uint32_t kMaxIdleTimeoutS = 604800;
inline constexpr uint32_t kMaxConnections = 4194304;
inline constexpr uint32_t kMaxSasPerConnection = 1024;
inline constexpr uint32_t kMaxHoldQueuePackets = 64;
inline constexpr uint32_t kMaxWorkers = 128;
inline constexpr uint32_t kMaxIdleSleepUs = 100000;
inline constexpr uint32_t kMaxBurstSize = 256;
inline constexpr uint32_t kMaxMemoryMb = 1048576;
inline constexpr uint32_t kMinMbufs = 1023;
inline constexpr uint32_t kMaxMbufs = 16777215;
inline constexpr size_t kMaxPortNameLength = 32;
}  // namespace limits

// Parses `text` (protobuf text format or proto3 JSON). Unknown fields are
// errors. Errors read "<source_name>:LINE:COL: message" (1-based) for text,
// "<source_name>: message" for JSON. Only syntax is checked here.
Expected<v1::DataplaneConfig> parse_dataplane_config(std::string_view text, ConfigFormat format,
                                                     std::string_view source_name);

// Reads and parses the file at `path`: JSON when the name ends in ".json"
// (any case), text format otherwise. Files over kMaxConfigBytes are refused;
// an unreadable file gives an error naming the path and the errno text.
Expected<v1::DataplaneConfig> load_dataplane_config(const std::string& path);

// Checks the rules documented in config.proto. Returns the first problem as
// "field.path[index].sub: reason", e.g.
//   "routes[2].port: no port named 'wan9'".
Status validate_dataplane_config(const v1::DataplaneConfig& config);

// A copy of `config` with every 0/empty field that has a documented default
// set to that default. Fields whose 0 means something (idle_timeout_s,
// idle_sleep_us, local_port, memory_mb, ...) are left alone. Safe on any
// input; validation of the copy succeeds whenever it succeeds on `config`.
v1::DataplaneConfig with_defaults(const v1::DataplaneConfig& config);

// load_dataplane_config + validate_dataplane_config (errors prefixed with
// "<path>: ") + with_defaults: what tcpsec-dataplane's main() needs.
Expected<v1::DataplaneConfig> load_validated_dataplane_config(const std::string& path);

}  // namespace tcpsec::config
