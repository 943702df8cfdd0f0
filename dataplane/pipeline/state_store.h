// StateStore: what the control side installed in the dataplane (SAs,
// policies, connections, listeners, TCP peers), changed all-or-nothing.
//
// It keeps the definitions (protobuf messages) that the packet path's
// tables were built from, so lists and dumps come from one place and a
// change can be validated against the whole resulting state by the same
// validator as the configuration file (config_loader), with the field
// paths rewritten to the request's ("add_sas[1].spi: ..."). Writers are
// serialised by one mutex; workers never take it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dataplane/pipeline/gateway.h"
#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsec::pipeline {

// The outcome of a change: `code` maps onto a gRPC status.
struct ApplyOutcome {
  enum class Code { kOk, kInvalidArgument, kFailedPrecondition, kResourceExhausted, kInternal };
  Code code = Code::kOk;
  std::string message;
  v1::ApplyReply reply;
  bool ok() const { return code == Code::kOk; }
};

// An SA-lifetime event found by check_lifetimes().
struct SaLifetimeEvent {
  bool hard = false;
  uint32_t spi = 0;
  bool outbound = false;
  std::string tunnel_local;
  std::string limit;  // "packets", "bytes", "seconds", "sequence"
};

class StateStore {
 public:
  explicit StateStore(Gateway& gateway) : gw_(gateway) {}

  // Installs the configuration's SAs, policies and connections (the
  // configuration was validated; listeners and peers are the Gateway's).
  Status load(const v1::DataplaneConfig& config);

  ApplyOutcome apply(const v1::ApplyRequest& request);
  // Replaces everything with `state`.
  ApplyOutcome restore(const v1::DataplaneState& state);
  v1::DataplaneState dump();
  v1::ListSasReply list_sas();
  v1::ListPoliciesReply list_policies();
  std::vector<uint32_t> allocate_spis(uint32_t count);

  // Soft and hard limits crossed since the last call (each reported once);
  // SAs past a hard time limit are removed here. Call every ~100 ms.
  std::vector<SaLifetimeEvent> check_lifetimes();

 private:
  struct SaDef {
    v1::SecurityAssociation sa;
    bool soft_reported = false;
    bool hard_reported = false;
  };
  using SaMapKey = std::tuple<bool, uint32_t, std::string>;  // outbound, SPI, tunnel_local
  static SaMapKey key_of(const v1::SecurityAssociation& sa);
  ApplyOutcome apply_locked(const v1::ApplyRequest& request);
  ApplyOutcome validate(const v1::ApplyRequest& request);

  Gateway& gw_;
  std::mutex mu_;
  std::map<SaMapKey, SaDef> sas_;
  std::vector<v1::Policy> policies_;
  v1::ListenerSet listeners_;
  v1::TcpPeerSet peers_;
  std::map<uint32_t, uint64_t> reserved_spis_;  // SPI -> reserved until (TSC)
};

}  // namespace tcpsec::pipeline
