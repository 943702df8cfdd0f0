// Configuration files in protobuf text format or JSON: reading them with a
// size limit and parsing them strictly (unknown fields are errors), with
// errors a person can act on ("<source>:LINE:COL: message"). Shared by the
// dataplane's and tcpsec-ike's configuration loaders.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace google::protobuf {
class Message;
}

namespace tcpsec {

enum class ProtoFormat { kText, kJson };

// Larger inputs are refused before parsing.
inline constexpr size_t kMaxProtoFileBytes = 16 * 1024 * 1024;

// Parses `text` into `out` (cleared first). Errors read
// "<source>:LINE:COL: message" (1-based) for text, "<source>: message" for
// JSON.
Status parse_proto(std::string_view text, ProtoFormat format, std::string_view source,
                   google::protobuf::Message& out);

// JSON when `path` ends in ".json" (any case), text otherwise.
ProtoFormat proto_format_of(const std::string& path);

// The whole file (or pipe), refused past kMaxProtoFileBytes; errors name
// the path and the errno text.
Expected<std::string> read_proto_file(const std::string& path);

}  // namespace tcpsec
