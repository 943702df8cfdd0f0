#include "dataplane/config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace tcpsec::config {
namespace {

namespace fs = std::filesystem;

// A configuration that exercises every message and validates; each negative
// test breaks exactly one thing in it.
constexpr char kValidText[] = R"pb(
  eal { file_prefix: "t" no_huge: true args: "--no-shconf" }
  ports {
    name: "pub"
    vdev: "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap"
    role: PORT_ROLE_PUBLIC
    addresses: "192.0.2.10/24"
    addresses: "2001:db8::10/64"
  }
  ports {
    name: "prot"
    pci: "0000:3b:00.0"
    role: PORT_ROLE_PROTECTED
    addresses: "10.0.0.1/24"
    mac: "02:00:00:00:00:aa"
  }
  ports { name: "local" vdev: "net_tap0,iface=t0" role: PORT_ROLE_LOCAL }
  routes { prefix: "0.0.0.0/0" next_hop: "192.0.2.1" port: "pub" }
  routes { prefix: "10.1.0.0/16" next_hop: "10.0.0.254" port: "prot" }
  routes { prefix: "2001:db8:1::/48" port: "pub" }
  neighbors { address: "192.0.2.1" mac: "02:00:00:00:00:01" port: "pub" }
  pseudo_tcp {
    listeners {
      address: "192.0.2.10"
      ports: [ 443, 4500 ]
    }
    listeners {
      address: "::"
      ports: [ 10000 ]
    }
    peers { address: "203.0.113.5" }
  }
  workers { count: 2 }
)pb";

constexpr char kValidJson[] = R"({
  "eal": {"filePrefix": "t", "noHuge": true},
  "ports": [
    {"name": "pub", "vdev": "net_pcap0,rx_pcap=a.pcap", "role": "PORT_ROLE_PUBLIC",
     "addresses": ["192.0.2.10/24"], "mtu": 1400},
    {"name": "local", "vdev": "net_tap0", "role": "PORT_ROLE_LOCAL"}
  ],
  "routes": [{"prefix": "0.0.0.0/0", "next_hop": "192.0.2.1", "port": "pub"}],
  "pseudoTcp": {"listeners": [{"address": "0.0.0.0", "ports": [443]}],
                "peers": [{"address": "198.51.100.1", "remotePort": 443}]},
  "workers": {"burstSize": 64}
})";

v1::DataplaneConfig valid() {
  auto c = parse_dataplane_config(kValidText, ConfigFormat::kText, "valid");
  EXPECT_TRUE(c.has_value()) << c.error();
  return c.has_value() ? *c : v1::DataplaneConfig();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "tcpsec-config-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------
// Parsing

TEST(ParseTest, ValidTextParsesAndValidates) {
  auto c = parse_dataplane_config(kValidText, ConfigFormat::kText, "x.textproto");
  ASSERT_TRUE(c.has_value()) << c.error();
  EXPECT_EQ(c->ports_size(), 3);
  EXPECT_EQ(c->ports(1).pci(), "0000:3b:00.0");
  EXPECT_EQ(c->ports(0).role(), v1::PORT_ROLE_PUBLIC);
  EXPECT_EQ(c->pseudo_tcp().listeners(0).ports_size(), 2);
  Status s = validate_dataplane_config(*c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ParseTest, ValidJsonParsesAndValidates) {
  auto c = parse_dataplane_config(kValidJson, ConfigFormat::kJson, "x.json");
  ASSERT_TRUE(c.has_value()) << c.error();
  EXPECT_EQ(c->ports_size(), 2);
  EXPECT_EQ(c->ports(0).mtu(), 1400u);
  EXPECT_EQ(c->ports(1).role(), v1::PORT_ROLE_LOCAL);
  EXPECT_EQ(c->routes(0).next_hop(), "192.0.2.1");  // snake_case name accepted
  EXPECT_EQ(c->pseudo_tcp().peers(0).remote_port(), 443u);
  EXPECT_EQ(c->workers().burst_size(), 64u);
  EXPECT_TRUE(c->eal().no_huge());
  Status s = validate_dataplane_config(*c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ParseTest, TextErrorCarriesOneBasedLineAndColumn) {
  auto c = parse_dataplane_config("ports {\n  name: \"a\"\n  mtu: x\n}\n", ConfigFormat::kText,
                                  "bad.textproto");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "bad.textproto:3:8: ")) << c.error();
}

TEST(ParseTest, TextErrorOnFirstLine) {
  auto c = parse_dataplane_config("ports {", ConfigFormat::kText, "s");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "s:1:")) << c.error();
}

TEST(ParseTest, UnknownTextFieldRefused) {
  auto c = parse_dataplane_config("workers { count: 1 }\nports { nmae: \"a\" }",
                                  ConfigFormat::kText, "u.textproto");
  ASSERT_FALSE(c.has_value());
  // protobuf reports an unknown field at the token after its name (the ':').
  EXPECT_TRUE(starts_with(c.error(), "u.textproto:2:13: ")) << c.error();
  EXPECT_NE(c.error().find("nmae"), std::string::npos) << c.error();
}

TEST(ParseTest, UnknownJsonFieldRefused) {
  auto c = parse_dataplane_config(R"({"ports": [{"nmae": "a"}]})", ConfigFormat::kJson, "u.json");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "u.json: ")) << c.error();
  EXPECT_NE(c.error().find("nmae"), std::string::npos) << c.error();
}

TEST(ParseTest, UnknownEnumValueRefused) {
  auto c = parse_dataplane_config("ports { role: PORT_ROLE_WHATEVER }", ConfigFormat::kText, "e");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "e:1:")) << c.error();
}

TEST(ParseTest, JsonSyntaxErrorNamesSource) {
  auto c = parse_dataplane_config("{\"ports\": [", ConfigFormat::kJson, "broken.json");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "broken.json: ")) << c.error();
}

TEST(ParseTest, RepeatedSingularFieldRefused) {
  auto c = parse_dataplane_config("workers { count: 1 count: 2 }", ConfigFormat::kText, "r");
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), "r:1:")) << c.error();
}

TEST(ParseTest, EmptyTextIsAnEmptyConfigThatFailsValidation) {
  auto c = parse_dataplane_config("", ConfigFormat::kText, "empty");
  ASSERT_TRUE(c.has_value()) << c.error();
  EXPECT_EQ(validate_dataplane_config(*c).message(), "ports: at least one port is required");
}

TEST(ParseTest, OversizedTextRefused) {
  std::string big(kMaxConfigBytes + 1, ' ');
  auto c = parse_dataplane_config(big, ConfigFormat::kText, "big");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().find("16 MiB"), std::string::npos) << c.error();
}

// ---------------------------------------------------------------------------
// Loading files

TEST(LoadTest, TextAndJsonChosenByExtension) {
  ScratchDir dir;
  auto t = load_dataplane_config(dir.write("a.textproto", kValidText));
  ASSERT_TRUE(t.has_value()) << t.error();
  EXPECT_EQ(t->ports_size(), 3);
  auto j = load_dataplane_config(dir.write("b.json", kValidJson));
  ASSERT_TRUE(j.has_value()) << j.error();
  EXPECT_EQ(j->ports_size(), 2);
  auto upper = load_dataplane_config(dir.write("c.JSON", kValidJson));
  ASSERT_TRUE(upper.has_value()) << upper.error();
  // JSON content in a file not named .json is read as text format: an error.
  auto wrong = load_dataplane_config(dir.write("d.conf", kValidJson));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_TRUE(starts_with(wrong.error(), (dir.path() / "d.conf").string() + ":1:"))
      << wrong.error();
}

TEST(LoadTest, MissingFileNamesPathAndErrno) {
  ScratchDir dir;
  std::string path = (dir.path() / "nope.textproto").string();
  auto c = load_dataplane_config(path);
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), path + ": ")) << c.error();
  EXPECT_NE(c.error().find("No such file or directory"), std::string::npos) << c.error();
}

TEST(LoadTest, DirectoryRefused) {
  ScratchDir dir;
  auto c = load_dataplane_config(dir.path().string());
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), dir.path().string() + ": ")) << c.error();
}

TEST(LoadTest, OversizedFileRefused) {
  ScratchDir dir;
  std::string path = dir.write("huge.textproto", "");
  // Sparse: costs no disk space.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(kMaxConfigBytes + 1)), 0);
  auto c = load_dataplane_config(path);
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(starts_with(c.error(), path + ": ")) << c.error();
  EXPECT_NE(c.error().find("16 MiB"), std::string::npos) << c.error();
}

TEST(LoadTest, FileOfExactlyTheLimitIsRead) {
  ScratchDir dir;
  // Spaces are valid (empty) text format.
  std::string path = dir.write("limit.textproto", std::string(kMaxConfigBytes, ' '));
  auto c = load_dataplane_config(path);
  ASSERT_TRUE(c.has_value()) << c.error();
}

TEST(LoadTest, LoadValidatedFillsDefaultsAndPrefixesErrors) {
  ScratchDir dir;
  auto ok = load_validated_dataplane_config(dir.write("ok.textproto", kValidText));
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->ports(0).mtu(), defaults::kMtu);

  std::string bad = dir.write("bad.textproto", "ports { name: \"x\" }");
  auto c = load_validated_dataplane_config(bad);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), bad + ": ports[0]: exactly one of pci or vdev must be set");
}

// ---------------------------------------------------------------------------
// Validation: one case per rule, each asserting the field path.

struct Case {
  const char* what;
  std::function<void(v1::DataplaneConfig&)> mutate;
  std::string expected;  // the whole message, or its start when `prefix_only`
  bool prefix_only = true;
};

void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    v1::DataplaneConfig cfg = valid();
    c.mutate(cfg);
    Status s = validate_dataplane_config(cfg);
    ASSERT_FALSE(s.is_ok());
    if (c.prefix_only) {
      EXPECT_TRUE(starts_with(s.message(), c.expected)) << s.message();
    } else {
      EXPECT_EQ(s.message(), c.expected);
    }
  }
}

v1::Port* port(v1::DataplaneConfig& c, int i) {
  return c.mutable_ports(i);
}
v1::PseudoTcp* pt(v1::DataplaneConfig& c) {
  return c.mutable_pseudo_tcp();
}

TEST(ValidateTest, BaseConfigIsValid) {
  Status s = validate_dataplane_config(valid());
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ValidateTest, Eal) {
  run_cases({
      {"empty arg", [](auto& c) { c.mutable_eal()->add_args(""); },
       "eal.args[1]: must not be empty"},
      {"NUL in arg", [](auto& c) { c.mutable_eal()->add_args(std::string("a\0b", 3)); },
       "eal.args[1]: "},
      {"file prefix with slash", [](auto& c) { c.mutable_eal()->set_file_prefix("../x"); },
       "eal.file_prefix: '../x' is not a file prefix"},
      {"file prefix too long",
       [](auto& c) { c.mutable_eal()->set_file_prefix(std::string(65, 'a')); },
       "eal.file_prefix: "},
      {"memory", [](auto& c) { c.mutable_eal()->set_memory_mb(limits::kMaxMemoryMb + 1); },
       "eal.memory_mb: "},
  });
}

TEST(ValidateTest, PortNamesAndDevices) {
  run_cases({
      {"no ports", [](auto& c) { c.clear_ports(); }, "ports: at least one port is required", false},
      {"empty name", [](auto& c) { port(c, 0)->clear_name(); }, "ports[0].name: must be set",
       false},
      {"bad chars", [](auto& c) { port(c, 1)->set_name("a b"); },
       "ports[1].name: 'a b' is not a port name"},
      {"too long", [](auto& c) { port(c, 0)->set_name(std::string(33, 'x')); }, "ports[0].name: "},
      {"duplicate", [](auto& c) { port(c, 2)->set_name("pub"); },
       "ports[2].name: duplicate port name 'pub' (also ports[0])", false},
      {"no device", [](auto& c) { port(c, 0)->clear_device(); },
       "ports[0]: exactly one of pci or vdev must be set", false},
      {"empty vdev", [](auto& c) { port(c, 0)->set_vdev(""); }, "ports[0].vdev: must not be empty"},
      {"vdev with space", [](auto& c) { port(c, 0)->set_vdev("net_pcap0, rx_pcap=a"); },
       "ports[0].vdev: 'net_pcap0, rx_pcap=a' is not a virtual device"},
      {"vdev bad driver", [](auto& c) { port(c, 0)->set_vdev("0net"); }, "ports[0].vdev: "},
      {"empty pci", [](auto& c) { port(c, 1)->set_pci(""); }, "ports[1].pci: must not be empty"},
      {"bad pci", [](auto& c) { port(c, 1)->set_pci("0000:3b:00"); },
       "ports[1].pci: '0000:3b:00' is not a PCI address"},
      {"bad pci function", [](auto& c) { port(c, 1)->set_pci("3b:00.8"); }, "ports[1].pci: "},
      {"pci with no_pci", [](auto& c) { c.mutable_eal()->set_no_pci(true); },
       "ports[1].pci: eal.no_pci is set"},
      {"role unset", [](auto& c) { port(c, 0)->clear_role(); },
       "ports[0].role: must be set (PUBLIC, PROTECTED or LOCAL)", false},
      {"role out of range", [](auto& c) { port(c, 0)->set_role(static_cast<v1::PortRole>(7)); },
       "ports[0].role: 7 is not a PortRole", false},
      {"two LOCAL ports", [](auto& c) { port(c, 0)->set_role(v1::PORT_ROLE_LOCAL); },
       "ports[2].role: at most one port may be LOCAL, and ports[0] ('pub') already is", false},
  });
}

TEST(ValidateTest, PortAddresses) {
  run_cases({
      {"not an address", [](auto& c) { port(c, 1)->set_addresses(0, "10.0.0.300/24"); },
       "ports[1].addresses[0]: '10.0.0.300/24' is not an IPv4 or IPv6 address", false},
      {"no length", [](auto& c) { port(c, 1)->set_addresses(0, "10.0.0.1"); },
       "ports[1].addresses[0]: '10.0.0.1' has no prefix length"},
      {"bad length", [](auto& c) { port(c, 0)->set_addresses(1, "2001:db8::10/129"); },
       "ports[0].addresses[1]: '2001:db8::10/129' has a bad prefix length"},
      {"garbage length", [](auto& c) { port(c, 0)->set_addresses(0, "192.0.2.10/2x"); },
       "ports[0].addresses[0]: '192.0.2.10/2x' has a bad prefix length"},
      {"empty", [](auto& c) { port(c, 0)->set_addresses(0, ""); },
       "ports[0].addresses[0]: must be set", false},
      {"length 0", [](auto& c) { port(c, 1)->set_addresses(0, "10.0.0.1/0"); },
       "ports[1].addresses[0]: '10.0.0.1/0' has prefix length 0", false},
      {"unspecified", [](auto& c) { port(c, 1)->set_addresses(0, "0.0.0.0/8"); },
       "ports[1].addresses[0]: '0.0.0.0/8' is the unspecified address", false},
      {"multicast", [](auto& c) { port(c, 1)->set_addresses(0, "224.0.0.5/24"); },
       "ports[1].addresses[0]: '224.0.0.5/24' is not unicast", false},
      {"duplicate across ports", [](auto& c) { port(c, 2)->add_addresses("192.0.2.10/25"); },
       "ports[2].addresses[0]: 192.0.2.10 is already assigned at ports[0].addresses[0]", false},
      {"duplicate within a port", [](auto& c) { port(c, 0)->add_addresses("2001:db8:0::10/64"); },
       "ports[0].addresses[2]: 2001:db8::10 is already assigned at ports[0].addresses[1]", false},
  });
}

TEST(ValidateTest, PortMtuQueuesDescriptorsMac) {
  run_cases({
      {"mtu too small", [](auto& c) { port(c, 1)->set_mtu(575); },
       "ports[1].mtu: 575 is outside 576-9216", false},
      {"mtu too large", [](auto& c) { port(c, 1)->set_mtu(9217); },
       "ports[1].mtu: 9217 is outside 576-9216", false},
      {"mtu below IPv6 minimum", [](auto& c) { port(c, 0)->set_mtu(1279); },
       "ports[0].mtu: 1279 is below 1280"},
      {"rx queues", [](auto& c) { port(c, 0)->set_rx_queues(17); },
       "ports[0].rx_queues: 17 is more than the maximum, 16", false},
      {"tx queues", [](auto& c) { port(c, 2)->set_tx_queues(100); }, "ports[2].tx_queues: "},
      {"rx descriptors not a power of two", [](auto& c) { port(c, 0)->set_rx_descriptors(1000); },
       "ports[0].rx_descriptors: 1000 is not a power of two in 64-32768", false},
      {"tx descriptors too few", [](auto& c) { port(c, 0)->set_tx_descriptors(32); },
       "ports[0].tx_descriptors: "},
      {"tx descriptors too many", [](auto& c) { port(c, 0)->set_tx_descriptors(65536); },
       "ports[0].tx_descriptors: "},
      {"mac syntax", [](auto& c) { port(c, 1)->set_mac("02:00:00:00:00"); },
       "ports[1].mac: '02:00:00:00:00' is not a MAC address"},
      {"mac separator", [](auto& c) { port(c, 1)->set_mac("02-00-00-00-00-01"); },
       "ports[1].mac: "},
      {"mac hex", [](auto& c) { port(c, 1)->set_mac("02:00:00:00:00:0g"); }, "ports[1].mac: "},
      {"mac multicast", [](auto& c) { port(c, 1)->set_mac("01:00:5e:00:00:01"); },
       "ports[1].mac: '01:00:5e:00:00:01' is a multicast MAC address", false},
      {"mac zero", [](auto& c) { port(c, 1)->set_mac("00:00:00:00:00:00"); },
       "ports[1].mac: '00:00:00:00:00:00' is the all-zero MAC address", false},
  });
}

TEST(ValidateTest, PortLimitsAcceptedAtTheirBounds) {
  v1::DataplaneConfig c = valid();
  port(c, 1)->set_mtu(576);  // IPv4 only: 576 is fine
  port(c, 0)->set_mtu(9216);
  port(c, 0)->set_rx_queues(16);
  port(c, 0)->set_tx_queues(16);
  port(c, 0)->set_rx_descriptors(64);
  port(c, 0)->set_tx_descriptors(32768);
  port(c, 0)->set_mac("AA:BB:CC:DD:EE:FE");
  port(c, 0)->set_name("A-z_09" + std::string(26, 'x'));  // 32 characters
  port(c, 1)->set_pci("3b:00.7,arg=1");
  c.mutable_routes(0)->set_port(port(c, 0)->name());
  c.mutable_routes(2)->set_port(port(c, 0)->name());
  c.mutable_neighbors(0)->set_port(port(c, 0)->name());
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ValidateTest, Routes) {
  run_cases({
      {"empty prefix", [](auto& c) { c.mutable_routes(0)->clear_prefix(); },
       "routes[0].prefix: must be set", false},
      {"bad prefix", [](auto& c) { c.mutable_routes(1)->set_prefix("10.1.0.0.0/16"); },
       "routes[1].prefix: '10.1.0.0.0/16' is not an IPv4 or IPv6 address", false},
      {"bad length", [](auto& c) { c.mutable_routes(1)->set_prefix("10.1.0.0/33"); },
       "routes[1].prefix: '10.1.0.0/33' has a bad prefix length"},
      {"host bits", [](auto& c) { c.mutable_routes(1)->set_prefix("10.1.0.1/16"); },
       "routes[1].prefix: '10.1.0.1/16' has bits set after the prefix length (did you mean "
       "10.1.0.0/16?)",
       false},
      {"duplicate", [](auto& c) { c.mutable_routes(2)->set_prefix("0.0.0.0/0"); },
       "routes[2].prefix: 0.0.0.0/0 is already routed by routes[0]", false},
      {"bad next hop", [](auto& c) { c.mutable_routes(0)->set_next_hop("192.0.2.x"); },
       "routes[0].next_hop: '192.0.2.x' is not an IPv4 or IPv6 address", false},
      {"next hop family", [](auto& c) { c.mutable_routes(0)->set_next_hop("2001:db8::1"); },
       "routes[0].next_hop: IPv6 next hop '2001:db8::1' for an IPv4 prefix", false},
      {"next hop unspecified", [](auto& c) { c.mutable_routes(0)->set_next_hop("0.0.0.0"); },
       "routes[0].next_hop: '0.0.0.0' is the unspecified address", false},
      {"next hop multicast", [](auto& c) { c.mutable_routes(2)->set_next_hop("ff02::1"); },
       "routes[2].next_hop: 'ff02::1' is not a unicast address", false},
      {"next hop is ours", [](auto& c) { c.mutable_routes(1)->set_next_hop("10.0.0.1"); },
       "routes[1].next_hop: 10.0.0.1 is our own address (ports[1].addresses[0])", false},
      {"next hop with length", [](auto& c) { c.mutable_routes(0)->set_next_hop("192.0.2.1/32"); },
       "routes[0].next_hop: '192.0.2.1/32' must be an address without a prefix length", false},
      {"unknown port", [](auto& c) { c.mutable_routes(2)->set_port("wan9"); },
       "routes[2].port: no port named 'wan9'", false},
      {"empty port", [](auto& c) { c.mutable_routes(1)->clear_port(); },
       "routes[1].port: must be set", false},
  });
}

TEST(ValidateTest, Neighbors) {
  run_cases({
      {"empty address", [](auto& c) { c.mutable_neighbors(0)->clear_address(); },
       "neighbors[0].address: must be set", false},
      {"bad address", [](auto& c) { c.mutable_neighbors(0)->set_address("192.0.2"); },
       "neighbors[0].address: '192.0.2' is not an IPv4 or IPv6 address", false},
      {"ours", [](auto& c) { c.mutable_neighbors(0)->set_address("192.0.2.10"); },
       "neighbors[0].address: 192.0.2.10 is our own address (ports[0].addresses[0])", false},
      {"multicast", [](auto& c) { c.mutable_neighbors(0)->set_address("239.1.1.1"); },
       "neighbors[0].address: '239.1.1.1' is not a unicast address", false},
      {"empty mac", [](auto& c) { c.mutable_neighbors(0)->clear_mac(); },
       "neighbors[0].mac: must be set", false},
      {"bad mac", [](auto& c) { c.mutable_neighbors(0)->set_mac("02:00:00:00:00:001"); },
       "neighbors[0].mac: '02:00:00:00:00:001' is not a MAC address"},
      {"unknown port", [](auto& c) { c.mutable_neighbors(0)->set_port("lan"); },
       "neighbors[0].port: no port named 'lan'", false},
      {"empty port", [](auto& c) { c.mutable_neighbors(0)->clear_port(); },
       "neighbors[0].port: must be set", false},
      {"duplicate", [](auto& c) { c.add_neighbors()->CopyFrom(c.neighbors(0)); },
       "neighbors[1].address: 192.0.2.1 on port 'pub' is already listed at neighbors[0]", false},
  });
}

TEST(ValidateTest, Listeners) {
  run_cases({
      {"empty address", [](auto& c) { pt(c)->mutable_listeners(0)->clear_address(); },
       "pseudo_tcp.listeners[0].address: must be set (use 0.0.0.0 or :: for every address)", false},
      {"bad address", [](auto& c) { pt(c)->mutable_listeners(0)->set_address("192.0.2.300"); },
       "pseudo_tcp.listeners[0].address: '192.0.2.300' is not an IPv4 or IPv6 address", false},
      {"not ours", [](auto& c) { pt(c)->mutable_listeners(0)->set_address("192.0.2.11"); },
       "pseudo_tcp.listeners[0].address: 192.0.2.11 is not an address of any port", false},
      {"with a length", [](auto& c) { pt(c)->mutable_listeners(0)->set_address("192.0.2.10/24"); },
       "pseudo_tcp.listeners[0].address: '192.0.2.10/24' must be an address without"},
      {"no ports", [](auto& c) { pt(c)->mutable_listeners(1)->clear_ports(); },
       "pseudo_tcp.listeners[1].ports: at least one port is required", false},
      {"port 0", [](auto& c) { pt(c)->mutable_listeners(0)->set_ports(1, 0); },
       "pseudo_tcp.listeners[0].ports[1]: 0 is not a TCP port (1-65535)", false},
      {"port too large", [](auto& c) { pt(c)->mutable_listeners(1)->set_ports(0, 65536); },
       "pseudo_tcp.listeners[1].ports[0]: 65536 is not a TCP port (1-65535)", false},
      {"duplicate in one listener", [](auto& c) { pt(c)->mutable_listeners(0)->set_ports(1, 443); },
       "pseudo_tcp.listeners[0].ports[1]: 192.0.2.10 port 443 is already listed at "
       "pseudo_tcp.listeners[0].ports[0]",
       false},
      {"duplicate across listeners",
       [](auto& c) {
         auto* l = pt(c)->add_listeners();
         l->set_address("::");  // the same wildcard as listeners[1]
         l->add_ports(10000);
       },
       "pseudo_tcp.listeners[2].ports[0]: every IPv6 address port 10000 is already listed at "
       "pseudo_tcp.listeners[1].ports[0]",
       false},
  });
}

TEST(ValidateTest, ListenerOnASpecificAndTheWildcardAddressIsFine) {
  v1::DataplaneConfig c = valid();
  auto* l = pt(c)->add_listeners();
  l->set_address("2001:db8::10");
  l->add_ports(10000);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ValidateTest, Peers) {
  run_cases({
      {"empty address", [](auto& c) { pt(c)->mutable_peers(0)->clear_address(); },
       "pseudo_tcp.peers[0].address: must be set", false},
      {"bad address", [](auto& c) { pt(c)->mutable_peers(0)->set_address("peer.example"); },
       "pseudo_tcp.peers[0].address: 'peer.example' is not an IPv4 or IPv6 address", false},
      {"unspecified", [](auto& c) { pt(c)->mutable_peers(0)->set_address("::"); },
       "pseudo_tcp.peers[0].address: '::' is the unspecified address", false},
      {"ours", [](auto& c) { pt(c)->mutable_peers(0)->set_address("2001:db8::10"); },
       "pseudo_tcp.peers[0].address: 2001:db8::10 is our own address (ports[0].addresses[1])",
       false},
      {"duplicate", [](auto& c) { pt(c)->add_peers()->set_address("203.0.113.5"); },
       "pseudo_tcp.peers[1].address: 203.0.113.5 is already a peer (pseudo_tcp.peers[0])", false},
      {"remote port", [](auto& c) { pt(c)->mutable_peers(0)->set_remote_port(65536); },
       "pseudo_tcp.peers[0].remote_port: 65536 is not a TCP port (1-65535)", false},
      {"local port", [](auto& c) { pt(c)->mutable_peers(0)->set_local_port(100000); },
       "pseudo_tcp.peers[0].local_port: 100000 is not a TCP port (1-65535)", false},
  });
}

TEST(ValidateTest, PseudoTcpTimersAndLimits) {
  run_cases({
      {"handshake", [](auto& c) { pt(c)->set_handshake_timeout_ms(600001); },
       "pseudo_tcp.handshake_timeout_ms: 600001 ms is more than the maximum, 600000 ms", false},
      {"syn retransmit", [](auto& c) { pt(c)->set_syn_retransmit_ms(600001); },
       "pseudo_tcp.syn_retransmit_ms: 600001 ms is more than"},
      {"syn longer than handshake (defaults)", [](auto& c) { pt(c)->set_syn_retransmit_ms(3001); },
       "pseudo_tcp.syn_retransmit_ms: 3001 ms is longer than the handshake timeout (3000 ms)",
       false},
      {"syn longer than handshake", [](auto& c) { pt(c)->set_handshake_timeout_ms(500); },
       "pseudo_tcp.syn_retransmit_ms: 1000 ms is longer than the handshake timeout (500 ms)",
       false},
      {"ike grace", [](auto& c) { pt(c)->set_ike_grace_s(86401); }, "pseudo_tcp.ike_grace_s: "},
      {"idle timeout", [](auto& c) { pt(c)->set_idle_timeout_s(604801); },
       "pseudo_tcp.idle_timeout_s: "},
      {"close delay", [](auto& c) { pt(c)->set_close_delay_ms(600001); },
       "pseudo_tcp.close_delay_ms: "},
      {"max connections", [](auto& c) { pt(c)->set_max_connections(4194305); },
       "pseudo_tcp.max_connections: 4194305 is more than the maximum, 4194304", false},
      {"max SAs", [](auto& c) { pt(c)->set_max_sas_per_connection(1025); },
       "pseudo_tcp.max_sas_per_connection: 1025 is more than the maximum, 1024", false},
      {"hold queue", [](auto& c) { pt(c)->set_hold_queue_packets(65); },
       "pseudo_tcp.hold_queue_packets: 65 is more than the maximum, 64", false},
      {"port range min 0", [](auto& c) { pt(c)->mutable_local_port_range()->set_max(2000); },
       "pseudo_tcp.local_port_range.min: 0 is not a TCP port (1-65535)", false},
      {"port range max 0", [](auto& c) { pt(c)->mutable_local_port_range()->set_min(2000); },
       "pseudo_tcp.local_port_range.max: 0 is not a TCP port (1-65535)", false},
      {"port range max too large",
       [](auto& c) {
         pt(c)->mutable_local_port_range()->set_min(2000);
         pt(c)->mutable_local_port_range()->set_max(65536);
       },
       "pseudo_tcp.local_port_range.max: 65536 is not a TCP port (1-65535)", false},
      {"port range min too large",
       [](auto& c) {
         pt(c)->mutable_local_port_range()->set_min(70000);
         pt(c)->mutable_local_port_range()->set_max(65535);
       },
       "pseudo_tcp.local_port_range.min: 70000 is not a TCP port (1-65535)", false},
      {"port range inverted",
       [](auto& c) {
         pt(c)->mutable_local_port_range()->set_min(3000);
         pt(c)->mutable_local_port_range()->set_max(2000);
       },
       "pseudo_tcp.local_port_range: min 3000 is greater than max 2000", false},
  });
}

TEST(ValidateTest, PseudoTcpLimitsAcceptedAtTheirBounds) {
  v1::DataplaneConfig c = valid();
  pt(c)->set_handshake_timeout_ms(limits::kMaxTimerMs);
  pt(c)->set_syn_retransmit_ms(limits::kMaxTimerMs);
  pt(c)->set_ike_grace_s(limits::kMaxIkeGraceS);
  pt(c)->set_idle_timeout_s(limits::kMaxIdleTimeoutS);
  pt(c)->set_close_delay_ms(limits::kMaxTimerMs);
  pt(c)->set_max_connections(4194304);
  pt(c)->set_max_sas_per_connection(1024);
  pt(c)->set_hold_queue_packets(64);
  pt(c)->mutable_local_port_range()->set_min(65535);
  pt(c)->mutable_local_port_range()->set_max(65535);
  pt(c)->mutable_peers(0)->set_remote_port(65535);
  pt(c)->mutable_peers(0)->set_local_port(1);
  c.mutable_workers()->set_count(limits::kMaxWorkers);
  c.mutable_workers()->set_idle_sleep_us(limits::kMaxIdleSleepUs);
  c.mutable_workers()->set_burst_size(256);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ValidateTest, Workers) {
  run_cases({
      {"count", [](auto& c) { c.mutable_workers()->set_count(129); },
       "workers.count: 129 is more than the maximum, 128", false},
      {"idle sleep", [](auto& c) { c.mutable_workers()->set_idle_sleep_us(100001); },
       "workers.idle_sleep_us: 100001 us is more than the maximum, 100000 us", false},
      {"burst", [](auto& c) { c.mutable_workers()->set_burst_size(257); },
       "workers.burst_size: 257 is more than the maximum, 256", false},
  });
}

TEST(ValidateTest, ReportsTheFirstProblem) {
  v1::DataplaneConfig c = valid();
  c.mutable_routes(2)->set_port("wan9");
  port(c, 1)->set_addresses(0, "10.0.0.300/24");
  EXPECT_EQ(validate_dataplane_config(c).message(),
            "ports[1].addresses[0]: '10.0.0.300/24' is not an IPv4 or IPv6 address");
}

TEST(ValidateTest, ControlBytesAreEscapedInMessages) {
  v1::DataplaneConfig c = valid();
  port(c, 0)->set_name(std::string("a\nb\0", 4));
  EXPECT_EQ(validate_dataplane_config(c).message(),
            "ports[0].name: 'a\\x0ab\\x00' is not a port name ([A-Za-z0-9_-]{1,32})");
}

TEST(ValidateTest, EmbeddedNulIsNotAnAddress) {
  v1::DataplaneConfig c = valid();
  port(c, 1)->set_addresses(0, std::string("10.0.0.1\0/24", 12));
  EXPECT_TRUE(starts_with(validate_dataplane_config(c).message(), "ports[1].addresses[0]: "));
}

// ---------------------------------------------------------------------------
// Defaults

TEST(DefaultsTest, FillsEveryDefault) {
  v1::DataplaneConfig in;
  auto* p = in.add_ports();
  p->set_name("p");
  p->set_vdev("net_null0");
  p->set_role(v1::PORT_ROLE_PUBLIC);
  in.mutable_pseudo_tcp()->add_peers()->set_address("198.51.100.1");

  v1::DataplaneConfig c = with_defaults(in);
  const v1::Port& q = c.ports(0);
  EXPECT_EQ(q.mtu(), 1500u);
  EXPECT_EQ(q.rx_queues(), 1u);
  EXPECT_EQ(q.tx_queues(), 1u);
  EXPECT_EQ(q.rx_descriptors(), 1024u);
  EXPECT_EQ(q.tx_descriptors(), 1024u);
  EXPECT_EQ(q.mac(), "");  // the device's own
  const v1::PseudoTcp& t = c.pseudo_tcp();
  EXPECT_EQ(t.handshake_timeout_ms(), 3000u);
  EXPECT_EQ(t.syn_retransmit_ms(), 1000u);
  EXPECT_EQ(t.ike_grace_s(), 60u);
  EXPECT_EQ(t.idle_timeout_s(), 0u);  // never
  EXPECT_EQ(t.close_delay_ms(), 500u);
  EXPECT_EQ(t.max_connections(), 65536u);
  EXPECT_EQ(t.max_sas_per_connection(), 64u);
  EXPECT_EQ(t.hold_queue_packets(), 4u);
  EXPECT_FALSE(t.strict_trailer());
  ASSERT_TRUE(t.has_local_port_range());
  EXPECT_EQ(t.local_port_range().min(), 1024u);
  EXPECT_EQ(t.local_port_range().max(), 65535u);
  EXPECT_EQ(t.peers(0).remote_port(), 10000u);
  EXPECT_EQ(t.peers(0).local_port(), 0u);  // random
  EXPECT_EQ(c.workers().count(), 1u);
  EXPECT_EQ(c.workers().burst_size(), 32u);
  EXPECT_EQ(c.workers().idle_sleep_us(), 0u);  // busy poll
  EXPECT_EQ(c.eal().memory_mb(), 0u);

  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
  // The input is untouched, and a second pass changes nothing.
  EXPECT_EQ(in.ports(0).mtu(), 0u);
  EXPECT_EQ(with_defaults(c).SerializeAsString(), c.SerializeAsString());
}

TEST(DefaultsTest, KeepsExplicitValues) {
  v1::DataplaneConfig in = valid();
  port(in, 0)->set_mtu(9000);
  port(in, 0)->set_rx_queues(4);
  port(in, 0)->set_tx_descriptors(512);
  pt(in)->set_handshake_timeout_ms(5000);
  pt(in)->set_ike_grace_s(30);
  pt(in)->set_idle_timeout_s(120);
  pt(in)->set_max_connections(10);
  pt(in)->mutable_local_port_range()->set_min(2000);
  pt(in)->mutable_local_port_range()->set_max(3000);
  pt(in)->mutable_peers(0)->set_remote_port(443);
  in.mutable_workers()->set_burst_size(64);

  v1::DataplaneConfig c = with_defaults(in);
  EXPECT_EQ(c.ports(0).mtu(), 9000u);
  EXPECT_EQ(c.ports(0).rx_queues(), 4u);
  EXPECT_EQ(c.ports(0).tx_queues(), 1u);
  EXPECT_EQ(c.ports(0).tx_descriptors(), 512u);
  EXPECT_EQ(c.pseudo_tcp().handshake_timeout_ms(), 5000u);
  EXPECT_EQ(c.pseudo_tcp().ike_grace_s(), 30u);
  EXPECT_EQ(c.pseudo_tcp().idle_timeout_s(), 120u);
  EXPECT_EQ(c.pseudo_tcp().max_connections(), 10u);
  EXPECT_EQ(c.pseudo_tcp().local_port_range().min(), 2000u);
  EXPECT_EQ(c.pseudo_tcp().local_port_range().max(), 3000u);
  EXPECT_EQ(c.pseudo_tcp().peers(0).remote_port(), 443u);
  EXPECT_EQ(c.workers().count(), 2u);
  EXPECT_EQ(c.workers().burst_size(), 64u);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

// ---------------------------------------------------------------------------
// The shipped examples never rot: every dataplane*.{textproto,json} file in
// the repository's config/ directory loads, validates, and still validates
// with defaults filled in.

std::string config_dir() {
  if (const char* env = std::getenv("TCPSEC_CONFIG_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef TCPSEC_CONFIG_DIR
  return TCPSEC_CONFIG_DIR;
#else
  return "config";
#endif
}

TEST(ExamplesTest, EveryDataplaneConfigInTheRepoValidates) {
  const fs::path dir = config_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int checked = 0, json = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    // Other components' configurations may live here too.
    if (name.rfind("dataplane", 0) != 0) continue;
    SCOPED_TRACE(name);
    auto c = load_dataplane_config(entry.path().string());
    ASSERT_TRUE(c.has_value()) << c.error();
    Status s = validate_dataplane_config(*c);
    EXPECT_TRUE(s.is_ok()) << s.message();
    Status d = validate_dataplane_config(with_defaults(*c));
    EXPECT_TRUE(d.is_ok()) << d.message();
    EXPECT_FALSE(c->description().empty()) << "say what the example is for";
    ++checked;
    if (entry.path().extension() == ".json") ++json;
  }
  EXPECT_GE(checked, 4) << "expected the gateway, client, pcap and JSON examples in " << dir;
  EXPECT_GE(json, 1);
}

}  // namespace
}  // namespace tcpsec::config

namespace tcpsec::config {
namespace {

v1::PseudoTcpConnection* conn(v1::DataplaneConfig& c) {
  auto* e = c.mutable_pseudo_tcp()->add_connections();
  e->set_local_address("192.0.2.10");
  e->set_peer_address("198.51.100.7");
  e->set_local_port(10000);
  e->set_peer_port(5555);
  e->add_ike_initiator_spis(0x1122334455667788ULL);
  e->add_esp_spis(0x1000);
  return e;
}

TEST(ValidateTest, InstalledConnectionIsValid) {
  v1::DataplaneConfig c = valid();
  conn(c);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(ValidateTest, InstalledConnections) {
  run_cases({
      {"local not a public address", [](auto& c) { conn(c)->set_local_address("10.0.0.1"); },
       "pseudo_tcp.connections[0].local_address: 10.0.0.1 is not an address of a PUBLIC port",
       false},
      {"peer is ours", [](auto& c) { conn(c)->set_peer_address("192.0.2.10"); },
       "pseudo_tcp.connections[0].peer_address: 192.0.2.10 is our own address"},
      {"family mismatch", [](auto& c) { conn(c)->set_peer_address("2001:db8:5::1"); },
       "pseudo_tcp.connections[0].peer_address: is not of the local address's family", false},
      {"local port zero", [](auto& c) { conn(c)->set_local_port(0); },
       "pseudo_tcp.connections[0].local_port: 0 is not a TCP port (1-65535)", false},
      {"peer port too big", [](auto& c) { conn(c)->set_peer_port(70000); },
       "pseudo_tcp.connections[0].peer_port: 70000 is not a TCP port (1-65535)", false},
      {"duplicate flow",
       [](auto& c) {
         conn(c);
         auto* e = conn(c);
         e->clear_ike_initiator_spis();
         e->clear_esp_spis();
       },
       "pseudo_tcp.connections[1]: the same addresses and ports as pseudo_tcp.connections[0]",
       false},
      {"three IKE SPIs",
       [](auto& c) {
         auto* e = conn(c);
         e->add_ike_initiator_spis(2);
         e->add_ike_initiator_spis(3);
       },
       "pseudo_tcp.connections[0].ike_initiator_spis: at most 2", true},
      {"IKE SPI zero", [](auto& c) { conn(c)->set_ike_initiator_spis(0, 0); },
       "pseudo_tcp.connections[0].ike_initiator_spis[0]: 0 is not an IKE SPI", false},
      {"ESP SPI zero", [](auto& c) { conn(c)->set_esp_spis(0, 0); },
       "pseudo_tcp.connections[0].esp_spis[0]: 0 is not an ESP SPI", false},
      {"ESP SPI on two connections",
       [](auto& c) {
         conn(c);
         auto* e = conn(c);
         e->set_peer_port(5556);
         e->clear_ike_initiator_spis();
       },
       "pseudo_tcp.connections[1].esp_spis[0]: already mapped by pseudo_tcp.connections[0]", false},
      {"more SPIs than allowed",
       [](auto& c) {
         c.mutable_pseudo_tcp()->set_max_sas_per_connection(2);
         auto* e = conn(c);
         e->add_esp_spis(0x1001);
         e->add_esp_spis(0x1002);
       },
       "pseudo_tcp.connections[0].esp_spis: 3 SPIs exceed max_sas_per_connection (2)", false},
  });
}

}  // namespace
}  // namespace tcpsec::config
