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

TEST(ValidateTest, Buffers) {
  run_cases({
      {"too few", [](auto& c) { c.mutable_buffers()->set_mbufs(1022); },
       "buffers.mbufs: 1022 is less than the minimum, 1023", false},
      {"too many", [](auto& c) { c.mutable_buffers()->set_mbufs(16777216); },
       "buffers.mbufs: 16777216 is more than the maximum, 16777215", false},
  });
  for (uint32_t n : {0u, 1023u, 16777215u}) {
    v1::DataplaneConfig c = valid();
    c.mutable_buffers()->set_mbufs(n);
    Status s = validate_dataplane_config(c);
    EXPECT_TRUE(s.is_ok()) << n << ": " << s.message();
  }
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
  EXPECT_EQ(c.buffers().mbufs(), 16383u);

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
  in.mutable_buffers()->set_mbufs(600000);

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
  EXPECT_EQ(c.buffers().mbufs(), 600000u);
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

// ---------------------------------------------------------------------------
// IPsec: security associations and policies (ipsec.proto)

namespace tcpsec::config {
namespace {

// Distinctive key bytes, to prove that no message ever shows them.
std::string key_bytes(size_t n, char fill = 'K') {
  std::string k(n, fill);
  if (n >= 6) k.replace(0, 6, "SECRET");
  return k;
}

// Two SAs of a tunnel between our public 192.0.2.10 and 203.0.113.5, two
// PROTECT policies using them and an IKE bypass, appended to valid().
//   sas[0]       OUTBOUND 0x1001 AES_GCM_256
//   sas[1]       INBOUND  0x2001 AES_CBC_128_HMAC_SHA256
//   policies[0]  OUTBOUND priority 10 PROTECT 0x1001
//   policies[1]  INBOUND  priority 10 PROTECT 0x2001
//   policies[2]  OUTBOUND priority 1  BYPASS UDP local port 500
void add_ipsec(v1::DataplaneConfig& c) {
  auto* out = c.add_sas();
  out->set_spi(0x1001);
  out->set_direction(v1::DIRECTION_OUTBOUND);
  out->set_mode(v1::MODE_TUNNEL);
  out->set_tunnel_local("192.0.2.10");
  out->set_tunnel_peer("203.0.113.5");
  out->set_algorithm(v1::ESP_ALGORITHM_AES_GCM_256);
  out->set_encryption_key(key_bytes(36));
  out->set_name("to-branch");

  auto* in = c.add_sas();
  in->set_spi(0x2001);
  in->set_direction(v1::DIRECTION_INBOUND);
  in->set_mode(v1::MODE_TUNNEL);
  in->set_tunnel_local("192.0.2.10");
  in->set_tunnel_peer("203.0.113.5");
  in->set_algorithm(v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256);
  in->set_encryption_key(key_bytes(16));
  in->set_integrity_key(key_bytes(32, 'I'));
  in->set_replay_window(128);
  in->mutable_selector()->add_local_prefixes("10.0.0.0/24");
  in->mutable_selector()->add_remote_prefixes("10.1.0.0/16");
  in->mutable_soft()->set_bytes(1000);
  in->mutable_hard()->set_bytes(2000);

  auto* p0 = c.add_policies();
  p0->set_name("protect-out");
  p0->set_priority(10);
  p0->set_direction(v1::DIRECTION_OUTBOUND);
  p0->mutable_match()->add_local_prefixes("10.0.0.0/24");
  p0->mutable_match()->add_remote_prefixes("10.1.0.0/16");
  p0->set_action(v1::POLICY_ACTION_PROTECT);
  p0->set_sa_spi(0x1001);

  auto* p1 = c.add_policies();
  p1->set_priority(10);
  p1->set_direction(v1::DIRECTION_INBOUND);
  p1->mutable_match()->add_local_prefixes("10.0.0.0/24");
  p1->mutable_match()->add_remote_prefixes("10.1.0.0/16");
  p1->set_action(v1::POLICY_ACTION_PROTECT);
  p1->set_sa_spi(0x2001);

  auto* p2 = c.add_policies();
  p2->set_priority(1);
  p2->set_direction(v1::DIRECTION_OUTBOUND);
  p2->mutable_match()->set_protocol(17);
  p2->mutable_match()->mutable_local_ports()->set_min(500);
  p2->mutable_match()->mutable_local_ports()->set_max(500);
  p2->set_action(v1::POLICY_ACTION_BYPASS);
}

v1::DataplaneConfig valid_ipsec() {
  v1::DataplaneConfig c = valid();
  add_ipsec(c);
  return c;
}

// run_cases on valid_ipsec(); also checks that no key bytes leak.
void run_ipsec_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    v1::DataplaneConfig cfg = valid_ipsec();
    c.mutate(cfg);
    Status s = validate_dataplane_config(cfg);
    ASSERT_FALSE(s.is_ok());
    if (c.prefix_only) {
      EXPECT_TRUE(starts_with(s.message(), c.expected)) << s.message();
    } else {
      EXPECT_EQ(s.message(), c.expected);
    }
    EXPECT_EQ(s.message().find("SECRET"), std::string::npos) << s.message();
  }
}

v1::SecurityAssociation* sa(v1::DataplaneConfig& c, int i) {
  return c.mutable_sas(i);
}
v1::Policy* pol(v1::DataplaneConfig& c, int i) {
  return c.mutable_policies(i);
}

TEST(IpsecValidateTest, BaseIsValid) {
  Status s = validate_dataplane_config(valid_ipsec());
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, SaSpiDirectionMode) {
  run_ipsec_cases({
      {"SPI 0", [](auto& c) { sa(c, 0)->set_spi(0); },
       "sas[0].spi: must be set (256 or more: 0-255 are reserved, RFC 4303)", false},
      {"SPI 1", [](auto& c) { sa(c, 1)->set_spi(1); },
       "sas[1].spi: 1 is reserved (0-255 are, RFC 4303); use 256 or more", false},
      {"SPI 255", [](auto& c) { sa(c, 1)->set_spi(255); },
       "sas[1].spi: 255 is reserved (0-255 are, RFC 4303); use 256 or more", false},
      {"direction unset", [](auto& c) { sa(c, 0)->clear_direction(); },
       "sas[0].direction: must be set (INBOUND or OUTBOUND)", false},
      {"direction out of range",
       [](auto& c) { sa(c, 0)->set_direction(static_cast<v1::Direction>(7)); },
       "sas[0].direction: 7 is not a Direction", false},
      {"mode unset", [](auto& c) { sa(c, 1)->clear_mode(); },
       "sas[1].mode: must be set (TUNNEL or TRANSPORT)", false},
      {"mode out of range", [](auto& c) { sa(c, 1)->set_mode(static_cast<v1::Mode>(3)); },
       "sas[1].mode: 3 is not a Mode", false},
  });
}

TEST(IpsecValidateTest, SaSpiBoundsAccepted) {
  v1::DataplaneConfig c = valid_ipsec();
  sa(c, 0)->set_spi(256);
  pol(c, 0)->set_sa_spi(256);
  sa(c, 1)->set_spi(0xffffffff);
  pol(c, 1)->set_sa_spi(0xffffffff);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, SaTunnelEndpoints) {
  run_ipsec_cases({
      {"local empty", [](auto& c) { sa(c, 0)->clear_tunnel_local(); },
       "sas[0].tunnel_local: must be set", false},
      {"local not an address", [](auto& c) { sa(c, 0)->set_tunnel_local("192.0.2"); },
       "sas[0].tunnel_local: '192.0.2' is not an IPv4 or IPv6 address", false},
      {"local with length", [](auto& c) { sa(c, 0)->set_tunnel_local("192.0.2.10/24"); },
       "sas[0].tunnel_local: '192.0.2.10/24' must be an address without a prefix length", false},
      {"local of a PROTECTED port", [](auto& c) { sa(c, 1)->set_tunnel_local("10.0.0.1"); },
       "sas[1].tunnel_local: 10.0.0.1 is not an address of a PUBLIC port", false},
      {"local not ours", [](auto& c) { sa(c, 0)->set_tunnel_local("192.0.2.99"); },
       "sas[0].tunnel_local: 192.0.2.99 is not an address of a PUBLIC port", false},
      {"peer empty", [](auto& c) { sa(c, 0)->clear_tunnel_peer(); },
       "sas[0].tunnel_peer: must be set", false},
      {"peer not an address", [](auto& c) { sa(c, 1)->set_tunnel_peer("peer.example"); },
       "sas[1].tunnel_peer: 'peer.example' is not an IPv4 or IPv6 address", false},
      {"peer is ours", [](auto& c) { sa(c, 0)->set_tunnel_peer("10.0.0.1"); },
       "sas[0].tunnel_peer: 10.0.0.1 is our own address (ports[1].addresses[0])", false},
      {"peer multicast", [](auto& c) { sa(c, 0)->set_tunnel_peer("224.0.0.1"); },
       "sas[0].tunnel_peer: '224.0.0.1' is not a unicast address", false},
      {"peer unspecified", [](auto& c) { sa(c, 0)->set_tunnel_peer("0.0.0.0"); },
       "sas[0].tunnel_peer: '0.0.0.0' is the unspecified address", false},
      {"families differ", [](auto& c) { sa(c, 0)->set_tunnel_peer("2001:db8:5::1"); },
       "sas[0].tunnel_peer: IPv6 address '2001:db8:5::1' but tunnel_local is IPv4", false},
      {"transport with tunnel_local",
       [](auto& c) {
         sa(c, 0)->set_mode(v1::MODE_TRANSPORT);
         sa(c, 0)->clear_tunnel_peer();
       },
       "sas[0].tunnel_local: must be empty in TRANSPORT mode", false},
      {"transport with tunnel_peer",
       [](auto& c) {
         sa(c, 1)->set_mode(v1::MODE_TRANSPORT);
         sa(c, 1)->clear_tunnel_local();
       },
       "sas[1].tunnel_peer: must be empty in TRANSPORT mode", false},
  });
}

TEST(IpsecValidateTest, TransportSaAndIpv6TunnelAreValid) {
  v1::DataplaneConfig c = valid_ipsec();
  sa(c, 0)->set_mode(v1::MODE_TRANSPORT);
  sa(c, 0)->clear_tunnel_local();
  sa(c, 0)->clear_tunnel_peer();
  sa(c, 1)->set_tunnel_local("2001:db8::10");
  sa(c, 1)->set_tunnel_peer("2001:db8:5::1");
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, SaSpiUniqueness) {
  run_ipsec_cases({
      {"outbound SPI twice", [](auto& c) { c.add_sas()->CopyFrom(c.sas(0)); },
       "sas[2].spi: OUTBOUND SPI 0x00001001 is already used by sas[0]", false},
      {"outbound SPI twice, other peer",
       [](auto& c) {
         auto* s = c.add_sas();
         s->CopyFrom(c.sas(0));
         s->set_tunnel_peer("198.51.100.9");
         s->clear_name();
       },
       "sas[2].spi: OUTBOUND SPI 0x00001001 is already used by sas[0]", false},
      {"inbound SPI twice on one address", [](auto& c) { c.add_sas()->CopyFrom(c.sas(1)); },
       "sas[2].spi: INBOUND SPI 0x00002001 on 192.0.2.10 is already used by sas[1]", false},
      {"inbound transport SPI used by a tunnel SA",
       [](auto& c) {
         auto* s = c.add_sas();
         s->CopyFrom(c.sas(1));
         s->set_mode(v1::MODE_TRANSPORT);
         s->clear_tunnel_local();
         s->clear_tunnel_peer();
       },
       "sas[2].spi: INBOUND SPI 0x00002001 is already used by sas[1]", false},
      {"inbound tunnel SPI used by a transport SA",
       [](auto& c) {
         sa(c, 1)->set_mode(v1::MODE_TRANSPORT);
         sa(c, 1)->clear_tunnel_local();
         sa(c, 1)->clear_tunnel_peer();
         auto* s = c.add_sas();
         s->CopyFrom(c.sas(1));
         s->set_mode(v1::MODE_TUNNEL);
         s->set_tunnel_local("2001:db8::10");
         s->set_tunnel_peer("2001:db8:5::1");
       },
       "sas[2].spi: INBOUND SPI 0x00002001 is already used by sas[1]", false},
  });
}

TEST(IpsecValidateTest, SameSpiInBothDirectionsAndOnTwoLocalAddressesIsValid) {
  v1::DataplaneConfig c = valid_ipsec();
  // The inbound SPI again, on our IPv6 address.
  auto* s = c.add_sas();
  s->CopyFrom(c.sas(1));
  s->set_tunnel_local("2001:db8::10");
  s->set_tunnel_peer("2001:db8:5::1");
  // The outbound SPI as an inbound one.
  auto* t = c.add_sas();
  t->CopyFrom(c.sas(1));
  t->set_spi(0x1001);
  Status st = validate_dataplane_config(c);
  EXPECT_TRUE(st.is_ok()) << st.message();
}

TEST(IpsecValidateTest, SaAlgorithmAndKeyLengths) {
  auto set = [](v1::SecurityAssociation* s, v1::EspAlgorithm a, size_t enc, size_t integ) {
    s->set_algorithm(a);
    s->set_encryption_key(key_bytes(enc));
    s->set_integrity_key(key_bytes(integ, 'I'));
  };
  run_ipsec_cases({
      {"unset", [](auto& c) { sa(c, 0)->clear_algorithm(); },
       "sas[0].algorithm: must be set (e.g. AES_GCM_256)", false},
      {"out of range", [](auto& c) { sa(c, 0)->set_algorithm(static_cast<v1::EspAlgorithm>(99)); },
       "sas[0].algorithm: 99 is not an EspAlgorithm", false},
      {"GCM-128 without salt",
       [&](auto& c) { set(sa(c, 0), v1::ESP_ALGORITHM_AES_GCM_128, 16, 0); },
       "sas[0].encryption_key: AES_GCM_128 needs 20 bytes (16 key + 4 salt), got 16", false},
      {"GCM-256 without salt",
       [&](auto& c) { set(sa(c, 0), v1::ESP_ALGORITHM_AES_GCM_256, 32, 0); },
       "sas[0].encryption_key: AES_GCM_256 needs 36 bytes (32 key + 4 salt), got 32", false},
      {"ChaCha20 key empty",
       [&](auto& c) { set(sa(c, 0), v1::ESP_ALGORITHM_CHACHA20_POLY1305, 0, 0); },
       "sas[0].encryption_key: CHACHA20_POLY1305 needs 36 bytes (32 key + 4 salt), got 0", false},
      {"CBC-128 with a 256-bit key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256, 32, 32); },
       "sas[1].encryption_key: AES_CBC_128_HMAC_SHA256 needs 16 bytes, got 32", false},
      {"CBC-256 SHA-256 short key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA256, 24, 32); },
       "sas[1].encryption_key: AES_CBC_256_HMAC_SHA256 needs 32 bytes, got 24", false},
      {"CBC-128 SHA-1 with salt",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA1, 20, 20); },
       "sas[1].encryption_key: AES_CBC_128_HMAC_SHA1 needs 16 bytes, got 20", false},
      {"CBC-256 SHA-1 short key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1, 16, 20); },
       "sas[1].encryption_key: AES_CBC_256_HMAC_SHA1 needs 32 bytes, got 16", false},
      {"NULL cipher with a key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_NULL_HMAC_SHA256, 16, 32); },
       "sas[1].encryption_key: NULL_HMAC_SHA256 takes no encryption key, got 16 bytes", false},
      {"NULL SHA-1 cipher with a key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_NULL_HMAC_SHA1, 1, 20); },
       "sas[1].encryption_key: NULL_HMAC_SHA1 takes no encryption key, got 1 bytes", false},
      {"AEAD with an integrity key",
       [&](auto& c) { set(sa(c, 0), v1::ESP_ALGORITHM_AES_GCM_256, 36, 32); },
       "sas[0].integrity_key: AES_GCM_256 is an AEAD and takes no integrity key, got 32 bytes",
       false},
      {"SHA-256 with a SHA-1 sized key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256, 16, 20); },
       "sas[1].integrity_key: AES_CBC_128_HMAC_SHA256 needs 32 bytes, got 20", false},
      {"SHA-1 with a SHA-256 sized key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1, 32, 32); },
       "sas[1].integrity_key: AES_CBC_256_HMAC_SHA1 needs 20 bytes, got 32", false},
      {"NULL SHA-256 without integrity key",
       [&](auto& c) { set(sa(c, 1), v1::ESP_ALGORITHM_NULL_HMAC_SHA256, 0, 0); },
       "sas[1].integrity_key: NULL_HMAC_SHA256 needs 32 bytes, got 0", false},
  });
}

TEST(IpsecValidateTest, EveryAlgorithmWithItsKeyLengthsIsValid) {
  struct Want {
    v1::EspAlgorithm alg;
    size_t enc, integ;
  };
  const Want all[] = {
      {v1::ESP_ALGORITHM_AES_GCM_128, 20, 0},
      {v1::ESP_ALGORITHM_AES_GCM_256, 36, 0},
      {v1::ESP_ALGORITHM_CHACHA20_POLY1305, 36, 0},
      {v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256, 16, 32},
      {v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA256, 32, 32},
      {v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA1, 16, 20},
      {v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1, 32, 20},
      {v1::ESP_ALGORITHM_NULL_HMAC_SHA256, 0, 32},
      {v1::ESP_ALGORITHM_NULL_HMAC_SHA1, 0, 20},
  };
  int covered = 0;
  for (const Want& w : all) {
    SCOPED_TRACE(v1::EspAlgorithm_Name(w.alg));
    v1::DataplaneConfig c = valid_ipsec();
    sa(c, 0)->set_algorithm(w.alg);
    sa(c, 0)->set_encryption_key(key_bytes(w.enc));
    sa(c, 0)->set_integrity_key(key_bytes(w.integ, 'I'));
    Status s = validate_dataplane_config(c);
    EXPECT_TRUE(s.is_ok()) << s.message();
    ++covered;
  }
  // Every value of the enum but UNSPECIFIED.
  EXPECT_EQ(covered, v1::EspAlgorithm_ARRAYSIZE - 1);
}

TEST(IpsecValidateTest, SaReplayWindowAndLifetimes) {
  run_ipsec_cases({
      {"outbound replay window", [](auto& c) { sa(c, 0)->set_replay_window(64); },
       "sas[0].replay_window: only INBOUND SAs have a replay window", false},
      {"replay window too large", [](auto& c) { sa(c, 1)->set_replay_window(4097); },
       "sas[1].replay_window: 4097 packets is more than the maximum, 4096 packets", false},
      {"soft bytes above hard", [](auto& c) { sa(c, 1)->mutable_soft()->set_bytes(2001); },
       "sas[1].soft.bytes: 2001 is more than hard.bytes (2000)", false},
      {"soft packets above hard",
       [](auto& c) {
         sa(c, 0)->mutable_soft()->set_packets(11);
         sa(c, 0)->mutable_hard()->set_packets(10);
       },
       "sas[0].soft.packets: 11 is more than hard.packets (10)", false},
      {"soft seconds above hard",
       [](auto& c) {
         sa(c, 0)->mutable_soft()->set_seconds(3600);
         sa(c, 0)->mutable_hard()->set_seconds(3000);
       },
       "sas[0].soft.seconds: 3600 is more than hard.seconds (3000)", false},
      {"hard seconds too long", [](auto& c) { sa(c, 0)->mutable_hard()->set_seconds(31536001); },
       "sas[0].hard.seconds: 31536001 s is more than the maximum, 31536000 s", false},
      {"soft seconds too long", [](auto& c) { sa(c, 0)->mutable_soft()->set_seconds(31536001); },
       "sas[0].soft.seconds: 31536001 s is more than the maximum, 31536000 s", false},
      {"hard packets past the 32-bit sequence space",
       [](auto& c) { sa(c, 0)->mutable_hard()->set_packets(uint64_t{1} << 32); },
       "sas[0].hard.packets: 4294967296 is more than 4294967295, the 32-bit sequence number "
       "space (set esn)",
       false},
      {"soft packets past the 32-bit sequence space",
       [](auto& c) { sa(c, 1)->mutable_soft()->set_packets(uint64_t{1} << 33); },
       "sas[1].soft.packets: 8589934592 is more than 4294967295, the 32-bit sequence number "
       "space (set esn)",
       false},
  });
}

TEST(IpsecValidateTest, LifetimeAndReplayBoundsAccepted) {
  v1::DataplaneConfig c = valid_ipsec();
  sa(c, 1)->set_replay_window(4096);
  sa(c, 1)->mutable_soft()->set_bytes(2000);        // equal to hard
  sa(c, 0)->mutable_soft()->set_seconds(31536000);  // hard unset: no limit
  sa(c, 0)->mutable_hard()->set_packets(0xffffffffu);
  sa(c, 1)->set_esn(true);
  sa(c, 1)->mutable_hard()->set_packets(uint64_t{1} << 40);
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, SaEncapsulation) {
  run_ipsec_cases({
      {"UDP local port",
       [](auto& c) { sa(c, 0)->mutable_encapsulation()->mutable_udp()->set_local_port(70000); },
       "sas[0].encapsulation.udp.local_port: 70000 is not a UDP port (1-65535)", false},
      {"UDP peer port",
       [](auto& c) { sa(c, 1)->mutable_encapsulation()->mutable_udp()->set_peer_port(65536); },
       "sas[1].encapsulation.udp.peer_port: 65536 is not a UDP port (1-65535)", false},
      {"pseudo-TCP local port",
       [](auto& c) {
         sa(c, 0)->mutable_encapsulation()->mutable_pseudo_tcp()->set_local_port(100000);
       },
       "sas[0].encapsulation.pseudo_tcp.local_port: 100000 is not a TCP port (1-65535)", false},
      {"pseudo-TCP peer port",
       [](auto& c) {
         sa(c, 0)->mutable_encapsulation()->mutable_pseudo_tcp()->set_peer_port(65536);
       },
       "sas[0].encapsulation.pseudo_tcp.peer_port: 65536 is not a TCP port (1-65535)", false},
  });
}

TEST(IpsecValidateTest, Selectors) {
  run_ipsec_cases({
      {"SA selector prefix",
       [](auto& c) { sa(c, 1)->mutable_selector()->set_local_prefixes(0, "10.0.0.300/24"); },
       "sas[1].selector.local_prefixes[0]: '10.0.0.300/24' is not an IPv4 or IPv6 address", false},
      {"empty prefix", [](auto& c) { pol(c, 0)->mutable_match()->add_remote_prefixes(""); },
       "policies[0].match.remote_prefixes[1]: must be set", false},
      {"bad length",
       [](auto& c) { pol(c, 0)->mutable_match()->set_local_prefixes(0, "10.0.0.0/33"); },
       "policies[0].match.local_prefixes[0]: '10.0.0.0/33' has a bad prefix length"},
      {"host bits",
       [](auto& c) { pol(c, 0)->mutable_match()->set_remote_prefixes(0, "10.1.0.1/16"); },
       "policies[0].match.remote_prefixes[0]: '10.1.0.1/16' has bits set after the prefix "
       "length (did you mean 10.1.0.0/16?)",
       false},
      {"too many prefixes",
       [](auto& c) {
         auto* m = pol(c, 1)->mutable_match();
         for (int i = 0; i < 64; ++i) m->add_local_prefixes("10.0." + std::to_string(i) + ".0/24");
       },
       "policies[1].match.local_prefixes: 65 prefixes, more than the maximum, 64", false},
      {"no common family",
       [](auto& c) { pol(c, 0)->mutable_match()->set_remote_prefixes(0, "2001:db8:1::/48"); },
       "policies[0].match: local_prefixes and remote_prefixes share no address family (the "
       "selector would match nothing)",
       false},
      {"protocol", [](auto& c) { pol(c, 0)->mutable_match()->set_protocol(256); },
       "policies[0].match.protocol: 256 is not an IP protocol number (0-255)", false},
      {"port max",
       [](auto& c) { pol(c, 2)->mutable_match()->mutable_local_ports()->set_max(70000); },
       "policies[2].match.local_ports.max: 70000 is not a port (0-65535)", false},
      {"port min",
       [](auto& c) {
         auto* r = pol(c, 2)->mutable_match()->mutable_remote_ports();
         r->set_min(70000);
         r->set_max(70001);
       },
       "policies[2].match.remote_ports.min: 70000 is not a port (0-65535)", false},
      {"inverted range",
       [](auto& c) {
         auto* r = pol(c, 2)->mutable_match()->mutable_remote_ports();
         r->set_min(600);
         r->set_max(500);
       },
       "policies[2].match.remote_ports: min 600 is greater than max 500", false},
      {"ports without a port protocol",
       [](auto& c) { pol(c, 2)->mutable_match()->set_protocol(1); },
       "policies[2].match.local_ports: a port range needs protocol TCP (6), UDP (17) or SCTP "
       "(132), not 1",
       false},
      {"ports with any protocol",
       [](auto& c) { sa(c, 1)->mutable_selector()->mutable_remote_ports()->set_max(80); },
       "sas[1].selector.remote_ports: a port range needs protocol TCP (6), UDP (17) or SCTP "
       "(132), not 0",
       false},
  });
}

TEST(IpsecValidateTest, SelectorsThatAreValid) {
  v1::DataplaneConfig c = valid_ipsec();
  auto* m = pol(c, 0)->mutable_match();
  m->add_local_prefixes("2001:db8:10::/48");  // mixed families: IPv4 pairs with IPv4
  m->add_remote_prefixes("192.0.2.77");       // a bare address is a host
  m->set_protocol(132);                       // SCTP has ports
  m->mutable_remote_ports()->set_min(0);
  m->mutable_remote_ports()->set_max(1023);
  // The full range is "any" whatever the protocol.
  sa(c, 1)->mutable_selector()->mutable_local_ports()->set_max(65535);
  sa(c, 1)->mutable_selector()->set_protocol(50);
  for (int i = 1; i < 63; ++i) m->add_local_prefixes("10.9." + std::to_string(i) + ".0/24");
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, Names) {
  run_ipsec_cases({
      {"SA name too long", [](auto& c) { sa(c, 0)->set_name(std::string(65, 'n')); },
       "sas[0].name: '" + std::string(65, 'n') + "' is longer than 64 characters", false},
      {"SA name with a newline", [](auto& c) { sa(c, 1)->set_name("a\nb"); },
       "sas[1].name: 'a\\x0ab' holds characters other than printable ASCII", false},
      {"SA name twice", [](auto& c) { sa(c, 1)->set_name("to-branch"); },
       "sas[1].name: 'to-branch' is already the name of sas[0]", false},
      {"policy name twice", [](auto& c) { pol(c, 2)->set_name("protect-out"); },
       "policies[2].name: 'protect-out' is already the name of policies[0]", false},
      {"policy name with DEL", [](auto& c) { pol(c, 1)->set_name("x\x7f"); },
       "policies[1].name: 'x\\x7f' holds characters other than printable ASCII", false},
  });
}

TEST(IpsecValidateTest, Policies) {
  run_ipsec_cases({
      {"direction unset", [](auto& c) { pol(c, 0)->clear_direction(); },
       "policies[0].direction: must be set (INBOUND or OUTBOUND)", false},
      {"direction out of range",
       [](auto& c) { pol(c, 0)->set_direction(static_cast<v1::Direction>(3)); },
       "policies[0].direction: 3 is not a Direction", false},
      {"priority twice in a direction", [](auto& c) { pol(c, 2)->set_priority(10); },
       "policies[2].priority: 10 is already the priority of policies[0] (OUTBOUND); priorities "
       "are unique per direction",
       false},
      {"action unset", [](auto& c) { pol(c, 0)->clear_action(); },
       "policies[0].action: must be set (PROTECT, BYPASS or DISCARD)", false},
      {"action out of range",
       [](auto& c) { pol(c, 0)->set_action(static_cast<v1::PolicyAction>(9)); },
       "policies[0].action: 9 is not a PolicyAction", false},
      {"PROTECT without SA", [](auto& c) { pol(c, 0)->clear_sa_spi(); },
       "policies[0].sa_spi: must be set for PROTECT (the SPI of an OUTBOUND SA)", false},
      {"PROTECT inbound without SA", [](auto& c) { pol(c, 1)->clear_sa_spi(); },
       "policies[1].sa_spi: must be set for PROTECT (the SPI of an INBOUND SA)", false},
      {"PROTECT with an SA of the other direction", [](auto& c) { pol(c, 0)->set_sa_spi(0x2001); },
       "policies[0].sa_spi: no OUTBOUND SA has SPI 0x00002001", false},
      {"PROTECT inbound with an outbound SA", [](auto& c) { pol(c, 1)->set_sa_spi(0x1001); },
       "policies[1].sa_spi: no INBOUND SA has SPI 0x00001001", false},
      {"PROTECT with an unknown SA", [](auto& c) { pol(c, 0)->set_sa_spi(0xdeadbeef); },
       "policies[0].sa_spi: no OUTBOUND SA has SPI 0xdeadbeef", false},
      {"BYPASS naming an SA", [](auto& c) { pol(c, 2)->set_sa_spi(0x1001); },
       "policies[2].sa_spi: must be 0 for BYPASS (only PROTECT names an SA)", false},
      {"DISCARD naming an SA",
       [](auto& c) {
         pol(c, 2)->set_action(v1::POLICY_ACTION_DISCARD);
         pol(c, 2)->set_sa_spi(0x1001);
       },
       "policies[2].sa_spi: must be 0 for DISCARD (only PROTECT names an SA)", false},
      {"an invalid SA is reported before the policy naming it",
       [](auto& c) {
         sa(c, 0)->set_encryption_key("short");
         pol(c, 0)->set_sa_spi(0x9999);
       },
       "sas[0].encryption_key: AES_GCM_256 needs 36 bytes (32 key + 4 salt), got 5", false},
  });
}

TEST(IpsecValidateTest, SamePriorityInBothDirectionsAndNoPoliciesAreValid) {
  v1::DataplaneConfig c = valid_ipsec();
  pol(c, 2)->set_direction(v1::DIRECTION_INBOUND);
  pol(c, 2)->set_priority(1);  // unique among inbound; OUTBOUND also has 10
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
  c.clear_policies();
  s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecValidateTest, Counts) {
  run_ipsec_cases({
      {"too many policies",
       [](auto& c) {
         for (int i = 0; i < 65537 - 3; ++i) c.add_policies();
       },
       "policies: 65537 policies, more than the maximum, 65536", false},
      {"too many SAs",
       [](auto& c) {
         for (int i = 0; i < 65537 - 2; ++i) c.add_sas();
       },
       "sas: 65537 SAs, more than the maximum, 65536", false},
  });
}

TEST(IpsecValidateTest, SixtyFiveThousandPoliciesAreAccepted) {
  v1::DataplaneConfig c = valid_ipsec();
  c.clear_policies();
  for (uint32_t i = 0; i < 65536; ++i) {
    auto* p = c.add_policies();
    p->set_priority(i);
    p->set_direction(v1::DIRECTION_OUTBOUND);
    p->set_action(v1::POLICY_ACTION_DISCARD);
  }
  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(IpsecDefaultsTest, FillsReplayWindowAndPortsOnly) {
  v1::DataplaneConfig in = valid_ipsec();
  sa(in, 1)->clear_replay_window();
  sa(in, 1)->mutable_encapsulation()->mutable_udp();
  sa(in, 0)->mutable_encapsulation()->mutable_pseudo_tcp()->set_local_port(40000);
  auto* t = in.add_sas();
  t->CopyFrom(in.sas(1));
  t->set_spi(0x3001);
  t->clear_encapsulation();  // plain
  t->set_replay_window(1024);

  v1::DataplaneConfig c = with_defaults(in);
  EXPECT_EQ(c.sas(0).replay_window(), 0u);  // outbound: none
  EXPECT_EQ(c.sas(1).replay_window(), 64u);
  EXPECT_EQ(c.sas(2).replay_window(), 1024u);
  ASSERT_TRUE(c.sas(1).encapsulation().has_udp());
  EXPECT_EQ(c.sas(1).encapsulation().udp().local_port(), 4500u);
  EXPECT_EQ(c.sas(1).encapsulation().udp().peer_port(), 4500u);
  ASSERT_TRUE(c.sas(0).encapsulation().has_pseudo_tcp());
  EXPECT_EQ(c.sas(0).encapsulation().pseudo_tcp().local_port(), 40000u);
  EXPECT_EQ(c.sas(0).encapsulation().pseudo_tcp().peer_port(), 10000u);
  EXPECT_TRUE(c.sas(2).encapsulation().has_plain());  // made explicit
  EXPECT_EQ(c.sas(1).selector().SerializeAsString(), in.sas(1).selector().SerializeAsString());
  EXPECT_EQ(c.policies().size(), in.policies().size());
  EXPECT_EQ(c.sas(0).encryption_key(), in.sas(0).encryption_key());

  Status s = validate_dataplane_config(c);
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(with_defaults(c).SerializeAsString(), c.SerializeAsString());
}

TEST(IpsecDefaultsTest, KeepsExplicitPorts) {
  v1::DataplaneConfig in = valid_ipsec();
  auto* udp = sa(in, 0)->mutable_encapsulation()->mutable_udp();
  udp->set_local_port(4501);
  udp->set_peer_port(12345);
  v1::DataplaneConfig c = with_defaults(in);
  EXPECT_EQ(c.sas(0).encapsulation().udp().local_port(), 4501u);
  EXPECT_EQ(c.sas(0).encapsulation().udp().peer_port(), 12345u);
  EXPECT_EQ(c.sas(1).replay_window(), 128u);
}

TEST(IpsecParseTest, TextFormatSasAndPolicies) {
  constexpr char kText[] = R"pb(
    ports { name: "pub" vdev: "net_null0" role: PORT_ROLE_PUBLIC addresses: "192.0.2.10/24" }
    sas {
      spi: 0x1001
      direction: DIRECTION_OUTBOUND
      mode: MODE_TUNNEL
      tunnel_local: "192.0.2.10"
      tunnel_peer: "198.51.100.1"
      algorithm: ESP_ALGORITHM_AES_GCM_128
      encryption_key: "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\xca\xfe\xba\xbe"
      encapsulation { udp {} }
      hard { seconds: 3600 }
    }
    policies {
      direction: DIRECTION_OUTBOUND
      match {
        local_prefixes: "10.0.0.0/24"
        protocol: 6
        remote_ports { min: 443 max: 443 }
      }
      action: POLICY_ACTION_PROTECT
      sa_spi: 0x1001
    }
  )pb";
  auto c = parse_dataplane_config(kText, ConfigFormat::kText, "ipsec.textproto");
  ASSERT_TRUE(c.has_value()) << c.error();
  ASSERT_EQ(c->sas_size(), 1);
  EXPECT_EQ(c->sas(0).spi(), 0x1001u);
  EXPECT_EQ(c->sas(0).encryption_key().size(), 20u);
  EXPECT_TRUE(c->sas(0).encapsulation().has_udp());
  EXPECT_EQ(c->policies(0).match().remote_ports().max(), 443u);
  Status s = validate_dataplane_config(*c);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

}  // namespace
}  // namespace tcpsec::config

namespace tcpsec::config {
namespace {

TEST(ValidateTest, RpcSocket) {
  run_cases({
      {"too long", [](auto& c) { c.mutable_rpc()->set_unix_socket("/" + std::string(107, 'a')); },
       "rpc.unix_socket: is 108 bytes, a unix socket path holds at most 107", false},
      {"directory", [](auto& c) { c.mutable_rpc()->set_unix_socket("/run/tcpsec/"); },
       "rpc.unix_socket: names a directory, not a socket file", false},
      {"NUL", [](auto& c) { c.mutable_rpc()->set_unix_socket(std::string("/run/a\0b", 8)); },
       "rpc.unix_socket: holds a NUL byte", false},
  });
  v1::DataplaneConfig c = valid();
  c.mutable_rpc()->set_unix_socket("/" + std::string(106, 'a'));  // exactly 107 bytes
  EXPECT_TRUE(validate_dataplane_config(c).is_ok());
}

}  // namespace
}  // namespace tcpsec::config
