// tcpsec-ike: the IKEv2 daemon. Loads its configuration, connects to the
// dataplane's Dataplane service, serves the Gateway service and runs the
// IKE SAs until SIGINT/SIGTERM.
#include <getopt.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "controlplane/config/gateway_config.h"
#include "controlplane/daemon/gateway_service.h"
#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/link/grpc_dataplane_link.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop.store(true);
}

void usage() {
  std::fprintf(stderr,
               "usage: tcpsec-ike --config FILE [--check]\n"
               "  --config FILE   GatewayConfig (proto/tcpsec/v1/gateway.proto), text or .json\n"
               "  --check         validate the configuration and exit\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check = false;
  static const option long_options[] = {{"config", required_argument, nullptr, 'c'},
                                        {"check", no_argument, nullptr, 'k'},
                                        {"help", no_argument, nullptr, 'h'},
                                        {nullptr, 0, nullptr, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "c:kh", long_options, nullptr)) != -1) {
    switch (ch) {
      case 'c':
        config_path = optarg;
        break;
      case 'k':
        check = true;
        break;
      default:
        usage();
        return ch == 'h' ? 0 : 2;
    }
  }
  if (config_path.empty()) {
    usage();
    return 2;
  }
  auto config = tcpsec::ikeconfig::load_validated_gateway_config(config_path);
  if (!config) {
    std::fprintf(stderr, "tcpsec-ike: %s\n", config.error().c_str());
    return 1;
  }
  if (check) {
    std::printf("tcpsec-ike: %s is valid (%d connections)\n", config_path.c_str(),
                config->connections_size());
    return 0;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  tcpsec::link::GrpcDataplaneLink link(config->dataplane_socket());
  tcpsec::daemon::IkeDaemon daemon(*config, link);
  std::unique_ptr<tcpsec::daemon::GatewayServer> server;
  if (!config->unix_socket().empty() || config->has_operator_endpoint()) {
    auto s = tcpsec::daemon::GatewayServer::start(
        config->unix_socket(),
        config->has_operator_endpoint() ? &config->operator_endpoint() : nullptr, daemon);
    if (!s) {
      std::fprintf(stderr, "tcpsec-ike: %s\n", s.error().c_str());
      return 1;
    }
    server = std::move(*s);
    daemon.set_event_sink([&server](const tcpsec::v1::GatewayEvent& e) { server->publish(e); });
  }
  if (auto s = daemon.start(); !s) {
    std::fprintf(stderr, "tcpsec-ike: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("tcpsec-ike: running with %d connection(s)\n", config->connections_size());
  std::fflush(stdout);
  daemon.run(g_stop);
  if (server) server->shutdown();
  link.stop();
  return 0;
}
