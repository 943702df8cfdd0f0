#include "cli/ctl_ike.h"

#include "controlplane/config/gateway_config.h"

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli/ctl_client.h"
#include "cli/ctl_output.h"
#include "tcpsec/v1/gateway.grpc.pb.h"

namespace tcpsecctl {

namespace v1 = tcpsec::v1;

namespace {

std::string ike_spi(uint64_t spi) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, spi);
  return b;
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& list) {
  if (list.empty()) return "-";
  std::string s;
  for (const auto& x : list) s += (s.empty() ? "" : ",") + x;
  return s;
}

// ESP_ALGORITHM_AES_GCM_128 -> "aes_gcm_128".
std::string algorithm(const std::string& full) {
  constexpr std::string_view prefix = "ESP_ALGORITHM_";
  std::string s = full.rfind(prefix, 0) == 0 ? full.substr(prefix.size()) : full;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.empty() ? "-" : s;
}

const char* or_dash(const std::string& s) {
  return s.empty() ? "-" : s.c_str();
}

using IkeClient = RpcClient<v1::Gateway::Stub, IkeOptions, /*kJsonByDefault=*/false>;

class IkeCtl : IkeClient {
 public:
  IkeCtl(const IkeOptions& o, const std::shared_ptr<grpc::Channel>& channel)
      : IkeClient(o, v1::Gateway::NewStub(channel)) {}

  int run() {
    const std::string& c = o_.command;
    if (c == "ike-sas")
      return unary(&Stub::ListIkeSas, v1::ListIkeSasRequest(), print_ike_sas, true);
    if (c == "initiate") {
      v1::InitiateRequest r;
      r.set_connection(o_.args[0]);
      return unary(&Stub::Initiate, r, [&](const v1::InitiateReply&) {
        std::printf("initiating %s\n", o_.args[0].c_str());
      });
    }
    if (c == "terminate") {
      v1::TerminateRequest r;
      r.set_connection(o_.args[0]);
      return unary(&Stub::Terminate, r, [&](const v1::TerminateReply& reply) {
        std::printf("terminating %s: %u IKE SA(s)\n", o_.args[0].c_str(), reply.ike_sas());
      });
    }
    if (c == "rekey") {
      v1::RekeyRequest r;
      r.set_connection(o_.args[0]);
      r.set_ike(o_.ike);
      return unary(&Stub::Rekey, r, [&](const v1::RekeyReply&) {
        std::printf("rekeying %s%s\n", o_.args[0].c_str(), o_.ike ? " (IKE SA)" : " (Child SAs)");
      });
    }
    if (c == "ike-apply") {
      // Relative certificate paths follow the file, as tcpsec-ike's --config.
      auto config = tcpsec::ikeconfig::load_gateway_config(o_.args[0]);
      if (!config) {
        std::fprintf(stderr, "tcpsecctl: %s\n", config.error().c_str());
        return 1;
      }
      v1::SetConfigRequest r;
      *r.mutable_config() = *config;
      return unary(&Stub::SetConfig, r, [&](const v1::SetConfigReply& reply) {
        std::printf(
            "applied %s: %u connection(s) added, %u removed, %u changed; %u IKE SA(s) deleted\n",
            o_.args[0].c_str(), reply.connections_added(), reply.connections_removed(),
            reply.connections_changed(), reply.ike_sas_deleted());
      });
    }
    return watch();
  }

 private:
  using Stub = v1::Gateway::Stub;

  int watch() {
    grpc::ClientContext ctx;
    if (o_.timeout_given) deadline(ctx);
    auto reader = stub_->WatchGatewayEvents(&ctx, v1::WatchGatewayEventsRequest());
    v1::GatewayEvent e;
    long seen = 0;
    while (reader->Read(&e)) {
      if (o_.json) {
        if (!print_json(e, false)) return 1;
      } else {
        std::printf("%s\n", describe_gateway_event(e).c_str());
      }
      std::fflush(stdout);
      if (o_.count && ++seen >= o_.count) {
        ctx.TryCancel();
        reader->Finish();
        return 0;
      }
    }
    grpc::Status s = reader->Finish();
    return s.ok() ? 0 : fail(s);
  }
};

}  // namespace

bool is_ike_command(std::string_view command) {
  return command == "ike-sas" || command == "initiate" || command == "terminate" ||
         command == "rekey" || command == "ike-watch" || command == "ike-apply";
}

std::string age_text(double seconds) {
  if (!(seconds > 0)) return "-";
  auto s = static_cast<uint64_t>(std::llround(seconds));
  char b[32];
  if (s < 60) {
    std::snprintf(b, sizeof b, "%" PRIu64 "s", s);
  } else if (s < 3600) {
    std::snprintf(b, sizeof b, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
  } else {
    std::snprintf(b, sizeof b, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
  }
  return b;
}

void print_ike_sas(const v1::ListIkeSasReply& r) {
  std::printf("%d IKE SA(s)\n", r.ike_sas_size());
  if (r.ike_sas_size() == 0) return;
  std::printf("%-16s %-12s %-9s %-10s %-16s %-16s %-30s %-24s %-20s %7s\n", "CONNECTION", "STATE",
              "ROLE", "TRANSPORT", "SPI_I", "SPI_R", "PROPOSAL", "REMOTE_ID", "PEER", "AGE");
  for (const auto& sa : r.ike_sas()) {
    std::printf("%-16s %-12s %-9s %-10s %-16s %-16s %-30s %-24s %-20s %7s\n",
                or_dash(sa.connection()), or_dash(sa.state()),
                sa.initiator() ? "initiator" : "responder", or_dash(sa.transport()),
                ike_spi(sa.initiator_spi()).c_str(), ike_spi(sa.responder_spi()).c_str(),
                or_dash(sa.proposal()), or_dash(sa.remote_id()), or_dash(sa.remote_address()),
                age_text(sa.established_s()).c_str());
    for (const auto& c : sa.children()) {
      std::printf("  child %-12s %-10s in %s out %s %-14s %s === %s\n", or_dash(c.name()),
                  or_dash(c.state()), spi_hex(c.spi_in()).c_str(), spi_hex(c.spi_out()).c_str(),
                  algorithm(c.encryption()).c_str(), join(c.local_ts()).c_str(),
                  join(c.remote_ts()).c_str());
    }
  }
}

std::string describe_gateway_event(const v1::GatewayEvent& e) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f ", e.time_s());
  return b + e.connection() + " " + e.kind() + (e.message().empty() ? "" : ": " + e.message());
}

int run_ike(const IkeOptions& o) {
  auto channel = connect_unix(o.socket, "tcpsec-ike",
                              "is tcpsec-ike running with unix_socket set? --ike-socket PATH or "
                              "$TCPSEC_IKE_SOCKET names it");
  return channel ? IkeCtl(o, channel).run() : 1;
}

}  // namespace tcpsecctl
