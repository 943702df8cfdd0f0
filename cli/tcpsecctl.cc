// tcpsecctl: reads a running tcpsec-dataplane over its Dataplane gRPC service
// (proto/tcpsec/v1/dataplane.proto) on a unix socket.
//
//   tcpsecctl --socket PATH counters [--json] [--all]
//   tcpsecctl --socket PATH connections [--json]
//
// Tables are for people (counters that are zero are left out unless --all);
// --json prints the reply as protobuf JSON for scripts (every field, proto
// field names; 64-bit numbers are strings, as proto3 JSON has them).
// Exit status: 0 done, 1 the dataplane could not be reached or failed the
// call, 2 bad usage.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "tcpsec/v1/dataplane.grpc.pb.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tcpsecctl --socket PATH [--timeout SECONDS] COMMAND [--json] [--all]\n"
               "commands:\n"
               "  counters      counters, drop reasons, ports and workers\n"
               "  connections   pseudo-TCP connections\n"
               "options:\n"
               "  --socket PATH      the dataplane's rpc.unix_socket (default: $TCPSEC_SOCKET)\n"
               "  --timeout SECONDS  deadline of the call (default 5)\n"
               "  --json             print the reply as JSON\n"
               "  --all              counters: also those that are zero\n");
}

struct Options {
  std::string socket;
  std::string command;
  double timeout_s = 5;
  bool json = false;
  bool all = false;
};

bool parse(int argc, char** argv, Options& o) {
  if (const char* env = std::getenv("TCPSEC_SOCKET")) o.socket = env;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name, std::string& out) {
      if (a == name) {
        if (i + 1 >= argc) return false;
        out = argv[++i];
        return true;
      }
      if (a.size() > name.size() + 1 && a.starts_with(name) && a[name.size()] == '=') {
        out = std::string(a.substr(name.size() + 1));
        return true;
      }
      return false;
    };
    std::string timeout;
    if (value("--socket", o.socket)) continue;
    if (value("--timeout", timeout)) {
      char* end = nullptr;
      o.timeout_s = std::strtod(timeout.c_str(), &end);
      if (*end != '\0' || !(o.timeout_s > 0)) return false;
      continue;
    }
    if (a == "--json") {
      o.json = true;
    } else if (a == "--all") {
      o.all = true;
    } else if (a == "-h" || a == "--help") {
      return false;
    } else if (!a.starts_with("-") && o.command.empty()) {
      o.command = std::string(a);
    } else {
      std::fprintf(stderr, "tcpsecctl: unexpected argument \"%s\"\n", argv[i]);
      return false;
    }
  }
  if (o.socket.empty()) {
    std::fprintf(stderr, "tcpsecctl: --socket PATH is required\n");
    return false;
  }
  if (o.command != "counters" && o.command != "connections") {
    if (!o.command.empty())
      std::fprintf(stderr, "tcpsecctl: unknown command \"%s\"\n", o.command.c_str());
    return false;
  }
  return true;
}

int print_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto s = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!s.ok()) {
    std::fprintf(stderr, "tcpsecctl: JSON: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

void print_counters(const tcpsec::v1::CountersReply& r, bool all) {
  std::printf("uptime %.1f s\n", r.uptime_s());
  auto section = [&](const char* title,
                     const google::protobuf::RepeatedPtrField<tcpsec::v1::CounterValue>& list) {
    std::printf("%s:\n", title);
    bool any = false;
    for (const auto& c : list) {
      if (c.value() == 0 && !all) continue;
      std::printf("  %-36s %20" PRIu64 "\n", c.name().c_str(), c.value());
      any = true;
    }
    if (!any) std::printf("  (all zero)\n");
  };
  section("counters", r.counters());
  section("drops", r.drops());
  std::printf("ports:\n  %-16s %12s %12s %14s %14s %10s %10s %10s\n", "NAME", "RX", "TX",
              "RX_BYTES", "TX_BYTES", "RX_MISSED", "RX_ERRORS", "TX_ERRORS");
  for (const auto& p : r.ports()) {
    std::printf("  %-16s %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %10" PRIu64
                " %10" PRIu64 " %10" PRIu64 "\n",
                p.name().c_str(), p.rx_packets(), p.tx_packets(), p.rx_bytes(), p.tx_bytes(),
                p.rx_missed(), p.rx_errors(), p.tx_errors());
  }
  std::printf("workers:\n  %-6s %12s %12s\n", "INDEX", "RX", "TX");
  for (const auto& w : r.workers())
    std::printf("  %-6u %12" PRIu64 " %12" PRIu64 "\n", w.index(), w.rx_packets(), w.tx_packets());
}

std::string endpoint(const std::string& address, uint32_t port) {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

const char* state_name(tcpsec::v1::ConnectionState s) {
  switch (s) {
    case tcpsec::v1::CONNECTION_STATE_SYN_SENT:
      return "syn-sent";
    case tcpsec::v1::CONNECTION_STATE_SYN_RECEIVED:
      return "syn-received";
    case tcpsec::v1::CONNECTION_STATE_ESTABLISHED:
      return "established";
    case tcpsec::v1::CONNECTION_STATE_CLOSING:
      return "closing";
    default:
      return "?";
  }
}

void print_connections(const tcpsec::v1::ListConnectionsReply& r) {
  std::printf("%d connection(s), capacity %u\n", r.connections_size(), r.capacity());
  if (r.connections_size() == 0) return;
  std::printf("%-6s %-42s %-42s %-10s %-12s %10s %10s %3s %-5s %s\n", "ID", "LOCAL", "PEER", "PORT",
              "STATE", "TX", "RX", "ESP", "FLAGS", "IKE_SPIS");
  for (const auto& c : r.connections()) {
    std::string flags = std::string(c.we_initiated() ? "o" : "-") + (c.installed() ? "i" : "-");
    std::string spis;
    for (uint64_t spi : c.ike_initiator_spis()) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "%s%016" PRIx64, spis.empty() ? "" : ",", spi);
      spis += buf;
    }
    std::printf("%-6u %-42s %-42s %-10s %-12s %10" PRIu64 " %10" PRIu64 " %3u %-5s %s\n", c.id(),
                endpoint(c.local_address(), c.local_port()).c_str(),
                endpoint(c.peer_address(), c.peer_port()).c_str(), c.port().c_str(),
                state_name(c.state()), c.tx_packets(), c.rx_packets(), c.esp_spi_count(),
                flags.c_str(), spis.empty() ? "-" : spis.c_str());
  }
  std::printf("flags: o = opened by us, i = installed (config / control plane)\n");
}

int fail(const Options& o, const grpc::Status& s) {
  std::fprintf(stderr, "tcpsecctl: %s on unix:%s failed: %s (%d)\n", o.command.c_str(),
               o.socket.c_str(), s.error_message().c_str(), static_cast<int>(s.error_code()));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  // gRPC would only say "failed to connect"; say why when it is obvious.
  struct stat st {};
  if (stat(o.socket.c_str(), &st) != 0) {
    std::fprintf(stderr,
                 "tcpsecctl: cannot reach the dataplane at %s: %s (is tcpsec-dataplane running "
                 "with rpc.unix_socket set?)\n",
                 o.socket.c_str(), std::strerror(errno));
    return 1;
  }
  if (!S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "tcpsecctl: %s is not a socket\n", o.socket.c_str());
    return 1;
  }

  auto channel = grpc::CreateChannel("unix:" + o.socket, grpc::InsecureChannelCredentials());
  auto stub = tcpsec::v1::Dataplane::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::duration<double>(o.timeout_s)));
  if (o.command == "counters") {
    tcpsec::v1::CountersReply reply;
    grpc::Status s = stub->GetCounters(&ctx, tcpsec::v1::GetCountersRequest(), &reply);
    if (!s.ok()) return fail(o, s);
    if (o.json) return print_json(reply);
    print_counters(reply, o.all);
  } else {
    tcpsec::v1::ListConnectionsReply reply;
    grpc::Status s = stub->ListConnections(&ctx, tcpsec::v1::ListConnectionsRequest(), &reply);
    if (!s.ok()) return fail(o, s);
    if (o.json) return print_json(reply);
    print_connections(reply);
  }
  return 0;
}
