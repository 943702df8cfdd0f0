// tcpsecctl's files and state: reading requests and states from files,
// redacting keys, and what RestoreState would change.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "tcpsec/v1/dataplane.pb.h"

namespace tcpsecctl {

// Reads `path` into `out`: protobuf JSON when the name ends in ".json",
// text format otherwise. On failure returns false with `error` set
// ("FILE:LINE:COL: what").
bool load_message(const std::string& path, google::protobuf::Message& out, std::string& error);

// Replaces every SA's key bytes with "<redacted>" (empty keys stay empty).
void redact_keys(tcpsec::v1::DataplaneState& state);

struct DiffCounts {
  int add = 0, update = 0, remove = 0;
};

// Prints what RestoreState(`want`) would do to a dataplane whose DumpState
// is `live`, one line per change ("+ ", "~ ", "- "), keys never printed
// (only that they differ). Returns the counts.
DiffCounts print_restore_diff(const tcpsec::v1::DataplaneState& live,
                              const tcpsec::v1::DataplaneState& want);

}  // namespace tcpsecctl
