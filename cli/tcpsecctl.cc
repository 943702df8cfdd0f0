// tcpsecctl: the operator's client of a running tcpsec-dataplane's Dataplane
// gRPC service (proto/tcpsec/v1/dataplane.proto) and of tcpsec-ike's Gateway
// service (proto/tcpsec/v1/gateway.proto), each on its unix socket.
//
//   tcpsecctl --socket PATH counters [--json] [--all]
//   tcpsecctl --socket PATH connections [--json]
//   tcpsecctl --socket PATH sas [--json]
//   tcpsecctl --socket PATH policies [--json]
//   tcpsecctl --socket PATH apply FILE           (an ApplyRequest)
//   tcpsecctl --socket PATH diff FILE            (a DataplaneState)
//   tcpsecctl --socket PATH dump [--with-keys] [--json]
//   tcpsecctl --socket PATH restore FILE         (a DataplaneState)
//   tcpsecctl --socket PATH watch [--count N] [--json]
//   tcpsecctl --socket PATH spis [N]
//
//   tcpsecctl [--ike-socket PATH] ike-sas [--json]
//   tcpsecctl [--ike-socket PATH] initiate NAME
//   tcpsecctl [--ike-socket PATH] terminate NAME
//   tcpsecctl [--ike-socket PATH] rekey NAME [--ike]
//   tcpsecctl [--ike-socket PATH] ike-watch [--count N] [--json]
//
// The IKE commands (cli/ctl_ike.cc) talk to tcpsec-ike: --ike-socket, else
// $TCPSEC_IKE_SOCKET, else /run/tcpsec/gateway.sock.
// FILEs are protobuf text format, or JSON when the name ends in ".json".
// Tables are for people (counters that are zero are left out unless --all);
// --json prints the reply as protobuf JSON for scripts (every field, proto
// field names; 64-bit numbers are strings, as proto3 JSON has them; `watch`
// prints one object per line). Keys are never printed, except by
// `dump --with-keys`.
// Exit status: 0 done, 1 the dataplane (or tcpsec-ike) could not be reached, refused or
// failed the call (its message is printed), or FILE could not be read;
// 2 bad usage.
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/ctl_client.h"
#include "cli/ctl_ike.h"
#include "cli/ctl_output.h"
#include "cli/ctl_state.h"
#include "tcpsec/v1/dataplane.grpc.pb.h"

namespace {

namespace v1 = tcpsec::v1;
using tcpsecctl::print_json;

void usage() {
  std::fprintf(
      stderr,
      "usage: tcpsecctl --socket PATH [--timeout SECONDS] COMMAND [ARGS] [OPTIONS]\n"
      "       tcpsecctl [--ike-socket PATH] [--timeout SECONDS] IKE-COMMAND [ARGS] [OPTIONS]\n"
      "commands (the dataplane):\n"
      "  counters          counters, drop reasons, ports and workers\n"
      "  connections       pseudo-TCP connections\n"
      "  sas               installed SAs with their counters (never their keys)\n"
      "  policies          installed policies in priority order\n"
      "  apply FILE        apply an ApplyRequest (add/update/delete SAs, policies, ...)\n"
      "  diff FILE         what `restore FILE` would change (FILE: a DataplaneState)\n"
      "  dump              the installed state (DataplaneState, text format)\n"
      "  restore FILE      replace the installed state with FILE (a DataplaneState)\n"
      "  watch             print events as they arrive (until interrupted or --count)\n"
      "  spis [N]          reserve N (1..64, default 1) free inbound SPIs\n"
      "IKE commands (tcpsec-ike's Gateway service):\n"
      "  ike-sas           IKE SAs and their Child SAs\n"
      "  initiate NAME     bring connection NAME up (tcpsec-ike initiates)\n"
      "  terminate NAME    delete connection NAME's IKE SAs (INFORMATIONAL delete)\n"
      "  rekey NAME        rekey NAME's Child SAs (--ike: its IKE SA)\n"
      "  ike-watch         print tcpsec-ike's events as they arrive\n"
      "  ike-apply FILE    replace tcpsec-ike's configuration with FILE (a GatewayConfig)\n"
      "FILE: protobuf text format, or JSON when its name ends in .json\n"
      "options:\n"
      "  --socket PATH      the dataplane's rpc.unix_socket (default: $TCPSEC_SOCKET)\n"
      "  --ike-socket PATH  tcpsec-ike's unix_socket (default: $TCPSEC_IKE_SOCKET, else\n"
      "                     /run/tcpsec/gateway.sock)\n"
      "  --timeout SECONDS  deadline of the call (default 5; watch: none unless given)\n"
      "  --json             print the reply as JSON\n"
      "  --all              counters: also those that are zero\n"
      "  --with-keys        dump: include key material (default: \"<redacted>\")\n"
      "  --count N          watch, ike-watch: exit after N events\n"
      "  --ike              rekey: the IKE SA instead of its Child SAs\n");
}

struct Options {
  std::string socket;
  std::string ike_socket = tcpsecctl::kDefaultIkeSocket;
  bool ike = false;
  std::string command;
  std::vector<std::string> args;
  double timeout_s = 5;
  bool timeout_given = false;
  bool json = false;
  bool all = false;
  bool with_keys = false;
  long count = 0;
};

// Commands and how many positional arguments each takes (min, max).
struct CommandSpec {
  const char* name;
  size_t min_args, max_args;
};
constexpr CommandSpec kCommands[] = {
    {"counters", 0, 0},
    {"connections", 0, 0},
    {"sas", 0, 0},
    {"policies", 0, 0},
    {"apply", 1, 1},
    {"diff", 1, 1},
    {"dump", 0, 0},
    {"restore", 1, 1},
    {"watch", 0, 0},
    {"spis", 0, 1},
    // tcpsec-ike (cli/ctl_ike.cc)
    {"ike-sas", 0, 0},
    {"initiate", 1, 1},
    {"terminate", 1, 1},
    {"rekey", 1, 1},
    {"ike-watch", 0, 0},
    {"ike-apply", 1, 1},
};

bool parse(int argc, char** argv, Options& o) {
  if (const char* env = std::getenv("TCPSEC_SOCKET")) o.socket = env;
  if (const char* env = std::getenv("TCPSEC_IKE_SOCKET"); env && *env) o.ike_socket = env;
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
    std::string text;
    if (value("--socket", o.socket)) continue;
    if (value("--ike-socket", o.ike_socket)) continue;
    if (value("--timeout", text)) {
      char* end = nullptr;
      o.timeout_s = std::strtod(text.c_str(), &end);
      if (*end != '\0' || !(o.timeout_s > 0)) return false;
      o.timeout_given = true;
      continue;
    }
    if (value("--count", text)) {
      char* end = nullptr;
      o.count = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || o.count <= 0) return false;
      continue;
    }
    if (a == "--json") {
      o.json = true;
    } else if (a == "--all") {
      o.all = true;
    } else if (a == "--with-keys") {
      o.with_keys = true;
    } else if (a == "--ike") {
      o.ike = true;
    } else if (a == "-h" || a == "--help") {
      return false;
    } else if (!a.starts_with("-") && o.command.empty()) {
      o.command = std::string(a);
    } else if (!a.starts_with("-") || a == "-") {
      o.args.emplace_back(a);
    } else {
      std::fprintf(stderr, "tcpsecctl: unexpected argument \"%s\"\n", argv[i]);
      return false;
    }
  }
  if (tcpsecctl::is_ike_command(o.command)) {
    if (o.ike_socket.empty()) {
      std::fprintf(stderr, "tcpsecctl: --ike-socket PATH must not be empty\n");
      return false;
    }
  } else if (o.socket.empty()) {
    std::fprintf(stderr, "tcpsecctl: --socket PATH is required\n");
    return false;
  }
  for (const auto& c : kCommands) {
    if (o.command != c.name) continue;
    if (o.args.size() < c.min_args || o.args.size() > c.max_args) {
      std::fprintf(stderr, "tcpsecctl: %s takes %s\n", c.name,
                   c.max_args == 0                           ? "no arguments"
                   : std::string_view(c.name) == "ike-apply" ? "one FILE"
                   : tcpsecctl::is_ike_command(c.name)       ? "one connection NAME"
                   : c.min_args == 1                         ? "one FILE"
                                                             : "at most one number");
      return false;
    }
    return true;
  }
  if (!o.command.empty())
    std::fprintf(stderr, "tcpsecctl: unknown command \"%s\"\n", o.command.c_str());
  return false;
}

using DataplaneClient = tcpsecctl::RpcClient<v1::Dataplane::Stub, Options, /*kJsonByDefault=*/true>;

class Ctl : DataplaneClient {
 public:
  Ctl(const Options& o, std::shared_ptr<grpc::Channel> channel)
      : DataplaneClient(o, v1::Dataplane::NewStub(channel)) {}

  int run() {
    const std::string& c = o_.command;
    if (c == "counters") return unary(&Stub::GetCounters, v1::GetCountersRequest(), counters);
    if (c == "connections")
      return unary(&Stub::ListConnections, v1::ListConnectionsRequest(),
                   tcpsecctl::print_connections);
    if (c == "sas") return unary(&Stub::ListSas, v1::ListSasRequest(), tcpsecctl::print_sas);
    if (c == "policies")
      return unary(&Stub::ListPolicies, v1::ListPoliciesRequest(), tcpsecctl::print_policies);
    if (c == "apply") return apply();
    if (c == "diff") return diff();
    if (c == "dump") return dump();
    if (c == "restore") return restore();
    if (c == "watch") return watch();
    return spis();
  }

 private:
  using Stub = v1::Dataplane::Stub;

  std::function<void(const v1::CountersReply&)> counters = [this](const v1::CountersReply& r) {
    tcpsecctl::print_counters(r, o_.all);
  };

  template <typename M>
  bool load(M& m) const {
    std::string error;
    if (tcpsecctl::load_message(o_.args[0], m, error)) return true;
    std::fprintf(stderr, "tcpsecctl: %s\n", error.c_str());
    return false;
  }

  int apply() {
    v1::ApplyRequest request;
    if (!load(request)) return 1;
    return unary(&Stub::Apply, request,
                 [](const v1::ApplyReply& r) { tcpsecctl::print_apply_reply("applied", r); });
  }

  int restore() {
    v1::DataplaneState state;
    if (!load(state)) return 1;
    return unary(&Stub::RestoreState, state,
                 [](const v1::ApplyReply& r) { tcpsecctl::print_apply_reply("restored", r); });
  }

  bool fetch_state(v1::DataplaneState& state) {
    grpc::ClientContext ctx;
    deadline(ctx);
    grpc::Status s = stub_->DumpState(&ctx, v1::DumpStateRequest(), &state);
    if (!s.ok()) fail(s);
    return s.ok();
  }

  int diff() {
    v1::DataplaneState want, live;
    if (!load(want) || !fetch_state(live)) return 1;
    tcpsecctl::print_restore_diff(live, want);
    return 0;
  }

  int dump() {
    v1::DataplaneState state;
    if (!fetch_state(state)) return 1;
    if (!o_.with_keys) tcpsecctl::redact_keys(state);
    if (o_.json) return print_json(state) ? 0 : 1;
    std::string text;
    google::protobuf::TextFormat::Printer printer;
    printer.PrintToString(state, &text);
    std::printf("# DataplaneState (proto/tcpsec/v1/dataplane.proto)%s\n%s",
                o_.with_keys ? ": CONTAINS KEYS" : ", keys redacted", text.c_str());
    return 0;
  }

  int watch() {
    grpc::ClientContext ctx;
    if (o_.timeout_given) deadline(ctx);
    auto reader = stub_->WatchEvents(&ctx, v1::WatchEventsRequest());
    v1::Event e;
    long seen = 0;
    while (reader->Read(&e)) {
      if (o_.json) {
        if (!print_json(e, false)) return 1;
      } else {
        std::printf("%s\n", tcpsecctl::describe_event(e).c_str());
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

  int spis() {
    v1::AllocateSpisRequest request;
    if (!o_.args.empty()) {
      char* end = nullptr;
      long n = std::strtol(o_.args[0].c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 64) {
        std::fprintf(stderr, "tcpsecctl: spis: N must be 1..64\n");
        return 2;
      }
      request.set_count(static_cast<uint32_t>(n));
    }
    return unary(&Stub::AllocateSpis, request, [](const v1::AllocateSpisReply& r) {
      for (uint32_t spi : r.spis()) std::printf("%s\n", tcpsecctl::spi_hex(spi).c_str());
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  if (tcpsecctl::is_ike_command(o.command)) {
    tcpsecctl::IkeOptions ike;
    ike.socket = o.ike_socket;
    ike.command = o.command;
    ike.args = o.args;
    ike.timeout_s = o.timeout_s;
    ike.timeout_given = o.timeout_given;
    ike.json = o.json;
    ike.ike = o.ike;
    ike.count = o.count;
    return tcpsecctl::run_ike(ike);
  }
  auto channel = tcpsecctl::connect_unix(o.socket, "the dataplane",
                                         "is tcpsec-dataplane running with rpc.unix_socket set?");
  return channel ? Ctl(o, channel).run() : 1;
}
