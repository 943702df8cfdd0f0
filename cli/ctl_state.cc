#include "cli/ctl_state.h"

#include <arpa/inet.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>
#include <vector>

#include "cli/ctl_output.h"

namespace tcpsecctl {

namespace v1 = tcpsec::v1;
using google::protobuf::Message;

namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string path) : path_(std::move(path)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty())
      first_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
  }
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  std::string first_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Addresses as the dataplane prints them (inet_ntop), so "2001:DB8::1" and
// "2001:db8::1" are the same SA.
std::string normal_address(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), buf) == 1 && inet_ntop(family, buf, out, sizeof out))
      return out;
  }
  return text;
}

using SaKey = std::tuple<int, uint32_t, std::string>;  // direction, SPI, inbound tunnel_local

SaKey key_of(const v1::SecurityAssociation& sa) {
  bool outbound = sa.direction() == v1::DIRECTION_OUTBOUND;
  return {sa.direction(), sa.spi(), outbound ? "" : normal_address(sa.tunnel_local())};
}

std::string describe(const v1::SecurityAssociation& sa) {
  std::string s = std::string("sa ") + direction_name(sa.direction()) + " " + spi_hex(sa.spi());
  if (sa.direction() == v1::DIRECTION_INBOUND && !sa.tunnel_local().empty())
    s += " on " + sa.tunnel_local();
  if (!sa.name().empty()) s += " name=" + sa.name();
  if (!sa.tunnel_peer().empty()) s += " peer=" + sa.tunnel_peer();
  return s;
}

// Names of the top-level fields that differ between a and b (same type).
std::vector<std::string> changed_fields(const Message& a, const Message& b) {
  std::vector<std::string> out;
  const auto* d = a.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    std::unique_ptr<Message> x(a.New()), y(b.New());
    x->CopyFrom(a);
    y->CopyFrom(b);
    for (int j = 0; j < d->field_count(); ++j) {
      if (j == i) continue;
      x->GetReflection()->ClearField(x.get(), d->field(j));
      y->GetReflection()->ClearField(y.get(), d->field(j));
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(*x, *y))
      out.push_back(d->field(i)->name());
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string listeners_text(const v1::ListenerSet& set) {
  if (set.listeners().empty()) return "none";
  std::string s;
  for (const auto& l : set.listeners()) {
    std::string ports;
    for (uint32_t p : l.ports()) ports += (ports.empty() ? "" : ",") + std::to_string(p);
    s += (s.empty() ? "" : " ") + l.address() + ":[" + ports + "]";
  }
  return s;
}

std::string peers_text(const v1::TcpPeerSet& set) {
  if (set.peers().empty()) return "none";
  std::string s;
  for (const auto& p : set.peers()) {
    s += (s.empty() ? "" : " ") + endpoint(p.address(), p.remote_port() ? p.remote_port() : 10000);
    if (p.local_port()) s += " from port " + std::to_string(p.local_port());
  }
  return s;
}

}  // namespace

bool load_message(const std::string& path, Message& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot read";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (ends_with(path, ".json")) {
    google::protobuf::util::JsonParseOptions opts;
    auto s = google::protobuf::util::JsonStringToMessage(text, &out, opts);
    if (!s.ok()) {
      error = path + ": " + std::string(s.message());
      return false;
    }
    return true;
  }
  Collector errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &out)) {
    error = errors.first().empty() ? path + ": not a " + out.GetTypeName() : errors.first();
    return false;
  }
  return true;
}

void redact_keys(v1::DataplaneState& state) {
  static const std::string kRedacted = "<redacted>";
  for (auto& sa : *state.mutable_sas()) {
    if (!sa.encryption_key().empty()) sa.set_encryption_key(kRedacted);
    if (!sa.integrity_key().empty()) sa.set_integrity_key(kRedacted);
  }
}

DiffCounts print_restore_diff(const v1::DataplaneState& live, const v1::DataplaneState& want) {
  DiffCounts n;
  int unchanged = 0;
  // SAs by their key: restore deletes those not in `want`, updates the rest.
  std::map<SaKey, const v1::SecurityAssociation*> have, next;
  for (const auto& sa : live.sas()) have[key_of(sa)] = &sa;
  for (const auto& sa : want.sas()) next[key_of(sa)] = &sa;
  for (const auto& [key, sa] : next) {
    auto it = have.find(key);
    if (it == have.end()) {
      std::printf("+ %s\n", describe(*sa).c_str());
      ++n.add;
      continue;
    }
    // A restore never moves an outbound SA's sequence number back: an
    // older last_sequence changes nothing.
    v1::SecurityAssociation a = *it->second, b = *sa;
    if (b.last_sequence() <= a.last_sequence()) b.set_last_sequence(a.last_sequence());
    std::vector<std::string> fields = changed_fields(a, b);
    if (fields.empty()) {
      ++unchanged;
      continue;
    }
    std::printf("~ %s: %s\n", describe(*sa).c_str(), join(fields).c_str());
    ++n.update;
  }
  for (const auto& [key, sa] : have) {
    if (next.count(key)) continue;
    std::printf("- %s\n", describe(*sa).c_str());
    ++n.remove;
  }
  // Policies by name.
  std::map<std::string, const v1::Policy*> pol_have, pol_next;
  for (const auto& p : live.policies()) pol_have[p.name()] = &p;
  for (const auto& p : want.policies()) pol_next[p.name()] = &p;
  for (const auto& [name, p] : pol_next) {
    auto it = pol_have.find(name);
    if (it == pol_have.end()) {
      std::printf("+ policy %s\n", name.c_str());
      ++n.add;
    } else if (auto fields = changed_fields(*it->second, *p); !fields.empty()) {
      std::printf("~ policy %s: %s\n", name.c_str(), join(fields).c_str());
      ++n.update;
    } else {
      ++unchanged;
    }
  }
  for (const auto& [name, p] : pol_have) {
    if (pol_next.count(name)) continue;
    std::printf("- policy %s\n", name.c_str());
    ++n.remove;
  }
  // Connections: restore adds those that are not live (and closes none).
  std::map<std::tuple<std::string, uint32_t, std::string, uint32_t>, bool> conns;
  for (const auto& c : live.connections())
    conns[{normal_address(c.local_address()), c.local_port(), normal_address(c.peer_address()),
           c.peer_port()}] = true;
  for (const auto& c : want.connections()) {
    if (conns.count({normal_address(c.local_address()), c.local_port(),
                     normal_address(c.peer_address()), c.peer_port()})) {
      continue;
    }
    std::printf("+ connection %s -> %s\n", endpoint(c.local_address(), c.local_port()).c_str(),
                endpoint(c.peer_address(), c.peer_port()).c_str());
    ++n.add;
  }
  // Listeners and TCP peers are replaced as a whole.
  if (!google::protobuf::util::MessageDifferencer::Equals(live.listeners(), want.listeners())) {
    std::printf("~ listeners: %s -> %s\n", listeners_text(live.listeners()).c_str(),
                listeners_text(want.listeners()).c_str());
    ++n.update;
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(live.tcp_peers(), want.tcp_peers())) {
    std::printf("~ tcp_peers: %s -> %s\n", peers_text(live.tcp_peers()).c_str(),
                peers_text(want.tcp_peers()).c_str());
    ++n.update;
  }
  if (n.add + n.update + n.remove == 0) {
    std::printf("no differences (%d entr%s the same)\n", unchanged, unchanged == 1 ? "y" : "ies");
  } else {
    std::printf("restore would add %d, change %d, delete %d; %d the same\n", n.add, n.update,
                n.remove, unchanged);
  }
  return n;
}

}  // namespace tcpsecctl
