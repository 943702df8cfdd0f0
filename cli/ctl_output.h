// tcpsecctl's output: tables for people and JSON for scripts.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsecctl {

// Protobuf JSON: proto field names, every field; `pretty` adds whitespace.
// Returns false (and says why on stderr) when the message cannot be printed.
bool print_json(const google::protobuf::Message& m, bool pretty = true);

// "192.0.2.1:500", "[2001:db8::1]:500".
std::string endpoint(const std::string& address, uint32_t port);
// "0x1000a001".
std::string spi_hex(uint32_t spi);
// "INBOUND" / "OUTBOUND" / "?".
const char* direction_name(tcpsec::v1::Direction d);

void print_counters(const tcpsec::v1::CountersReply& r, bool all);
void print_connections(const tcpsec::v1::ListConnectionsReply& r);
void print_sas(const tcpsec::v1::ListSasReply& r);
void print_policies(const tcpsec::v1::ListPoliciesReply& r);
void print_apply_reply(const char* what, const tcpsec::v1::ApplyReply& r);
// One line: "12.345 sa_hard_expired OUTBOUND spi=0x1000a001 limit=packets".
std::string describe_event(const tcpsec::v1::Event& e);

}  // namespace tcpsecctl
