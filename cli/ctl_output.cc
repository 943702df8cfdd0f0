#include "cli/ctl_output.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>

namespace tcpsecctl {

namespace v1 = tcpsec::v1;

bool print_json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = pretty;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto s = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!s.ok()) {
    std::fprintf(stderr, "tcpsecctl: JSON: %s\n", std::string(s.message()).c_str());
    return false;
  }
  if (!pretty) out += "\n";
  std::fputs(out.c_str(), stdout);
  return true;
}

std::string endpoint(const std::string& address, uint32_t port) {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::string spi_hex(uint32_t spi) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08" PRIx32, spi);
  return b;
}

const char* direction_name(v1::Direction d) {
  switch (d) {
    case v1::DIRECTION_INBOUND:
      return "INBOUND";
    case v1::DIRECTION_OUTBOUND:
      return "OUTBOUND";
    default:
      return "?";
  }
}

namespace {

// An enum value's name without its type prefix, lower case:
// ESP_ALGORITHM_AES_GCM_128 -> "aes_gcm_128".
std::string short_name(const std::string& full, const char* prefix) {
  std::string s = full.rfind(prefix, 0) == 0 ? full.substr(std::string(prefix).size()) : full;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.empty() ? "?" : s;
}

const char* state_name(v1::ConnectionState s) {
  switch (s) {
    case v1::CONNECTION_STATE_SYN_SENT:
      return "syn-sent";
    case v1::CONNECTION_STATE_SYN_RECEIVED:
      return "syn-received";
    case v1::CONNECTION_STATE_ESTABLISHED:
      return "established";
    case v1::CONNECTION_STATE_CLOSING:
      return "closing";
    default:
      return "?";
  }
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& list) {
  if (list.empty()) return "any";
  std::string s;
  for (const auto& x : list) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::string ports(const v1::SelectorPortRange& r) {
  if (r.min() == 0 && r.max() == 0) return "";
  if (r.min() == r.max()) return ":" + std::to_string(r.min());
  return ":" + std::to_string(r.min()) + "-" + std::to_string(r.max());
}

std::string selector(const v1::TrafficSelector& s) {
  std::string out = join(s.local_prefixes()) + ports(s.local_ports()) + " -> " +
                    join(s.remote_prefixes()) + ports(s.remote_ports());
  if (s.protocol()) out += " proto " + std::to_string(s.protocol());
  return out;
}

}  // namespace

void print_counters(const v1::CountersReply& r, bool all) {
  std::printf("uptime %.1f s\n", r.uptime_s());
  auto section = [&](const char* title,
                     const google::protobuf::RepeatedPtrField<v1::CounterValue>& list) {
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

void print_connections(const v1::ListConnectionsReply& r) {
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

void print_sas(const v1::ListSasReply& r) {
  std::printf("%d SA(s), capacity %u per direction\n", r.sas_size(), r.capacity());
  if (r.sas_size() == 0) return;
  std::printf("%-10s %-8s %-16s %-24s %-10s %-16s %6s %12s %14s %12s %-9s %9s\n", "SPI", "DIR",
              "NAME", "ALGORITHM", "ENCAP", "PEER", "WORKER", "PACKETS", "BYTES", "SEQUENCE",
              "EXPIRED", "AGE_S");
  for (const auto& s : r.sas()) {
    std::string expired = s.hard_expired() ? "hard" : s.soft_expired() ? "soft" : "-";
    if (s.hard_expired() && s.soft_expired()) expired = "soft,hard";
    std::printf("%-10s %-8s %-16s %-24s %-10s %-16s %6u %12" PRIu64 " %14" PRIu64 " %12" PRIu64
                " %-9s %9.1f\n",
                spi_hex(s.spi()).c_str(), direction_name(s.direction()),
                s.name().empty() ? "-" : s.name().c_str(),
                short_name(v1::EspAlgorithm_Name(s.algorithm()), "ESP_ALGORITHM_").c_str(),
                s.encapsulation().c_str(), s.tunnel_peer().empty() ? "-" : s.tunnel_peer().c_str(),
                s.worker(), s.packets(), s.bytes(), s.sequence(), expired.c_str(), s.age_s());
  }
}

void print_policies(const v1::ListPoliciesReply& r) {
  std::printf("%d polic%s\n", r.policies_size(), r.policies_size() == 1 ? "y" : "ies");
  if (r.policies_size() == 0) return;
  std::printf("%-20s %-8s %10s %-8s %-10s %s\n", "NAME", "DIR", "PRIORITY", "ACTION", "SA",
              "MATCH (local -> remote)");
  for (const auto& p : r.policies()) {
    std::printf("%-20s %-8s %10u %-8s %-10s %s\n", p.name().empty() ? "-" : p.name().c_str(),
                direction_name(p.direction()), p.priority(),
                short_name(v1::PolicyAction_Name(p.action()), "POLICY_ACTION_").c_str(),
                p.action() == v1::POLICY_ACTION_PROTECT ? spi_hex(p.sa_spi()).c_str() : "-",
                selector(p.match()).c_str());
  }
}

void print_apply_reply(const char* what, const v1::ApplyReply& r) {
  std::printf(
      "%s: SAs added %u, updated %u, deleted %u; policies set %u, deleted %u; connections added "
      "%u, deleted %u\n",
      what, r.sas_added(), r.sas_updated(), r.sas_deleted(), r.policies_set(), r.policies_deleted(),
      r.connections_added(), r.connections_deleted());
}

std::string describe_event(const v1::Event& e) {
  std::string type = short_name(v1::EventType_Name(e.type()), "EVENT_TYPE_");
  char b[320];
  if (e.type() == v1::EVENT_TYPE_SA_SOFT_EXPIRED || e.type() == v1::EVENT_TYPE_SA_HARD_EXPIRED) {
    std::string local = e.sa().tunnel_local().empty() ? "" : " local=" + e.sa().tunnel_local();
    std::snprintf(b, sizeof b, "%.3f %s %s spi=%s%s limit=%s", e.time_s(), type.c_str(),
                  direction_name(e.sa().direction()), spi_hex(e.sa().spi()).c_str(), local.c_str(),
                  e.limit().c_str());
  } else {
    const auto& c = e.connection();
    std::snprintf(b, sizeof b, "%.3f %s local=%s peer=%s%s%s", e.time_s(), type.c_str(),
                  endpoint(c.local_address(), c.local_port()).c_str(),
                  endpoint(c.peer_address(), c.peer_port()).c_str(),
                  e.reason().empty() ? "" : " reason=", e.reason().c_str());
  }
  return b;
}

}  // namespace tcpsecctl
