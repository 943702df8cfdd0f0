#include "common/proto_file.h"

#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace tcpsec {

namespace {

class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    // The tokenizer counts from 0; people count from 1. A negative line is
    // an error about the whole message.
    if (line < 0) {
      first_ = source_ + ": " + message;
    } else {
      first_ = source_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string too_big(const std::string& path) {
  return path + ": file is larger than " + std::to_string(kMaxProtoFileBytes / (1024 * 1024)) +
         " MiB, the most a configuration may be";
}

}  // namespace

Status parse_proto(std::string_view text, ProtoFormat format, std::string_view source_name,
                   google::protobuf::Message& out) {
  std::string source(source_name);
  out.Clear();
  if (text.size() > kMaxProtoFileBytes) {
    return Status::error(source + ": configuration is larger than " +
                         std::to_string(kMaxProtoFileBytes / (1024 * 1024)) + " MiB");
  }
  if (format == ProtoFormat::kJson) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &out, options);
    if (!status.ok()) return Status::error(source + ": " + std::string(status.message()));
    return Status::ok();
  }
  FirstErrorCollector errors(source);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(std::string(text), &out)) {
    if (errors.first().empty()) return Status::error(source + ": cannot parse the configuration");
    return Status::error(errors.first());
  }
  return Status::ok();
}

ProtoFormat proto_format_of(const std::string& path) {
  static constexpr std::string_view kExt = ".json";
  if (path.size() < kExt.size()) return ProtoFormat::kText;
  for (size_t i = 0; i < kExt.size(); ++i) {
    char c = path[path.size() - kExt.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kExt[i]) return ProtoFormat::kText;
  }
  return ProtoFormat::kJson;
}

Expected<std::string> read_proto_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::error(path + ": cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return Status::error(path + ": cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) return Status::error(path + ": is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxProtoFileBytes) {
    return Status::error(too_big(path));
  }
  // Read to the end (the size may change, and pipes have none), one byte past
  // the limit so an oversized stream is noticed.
  std::string text;
  std::array<char, 65536> buf;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::error(path + ": cannot read: " + errno_text(errno));
    }
    if (n == 0) break;
    text.append(buf.data(), static_cast<size_t>(n));
    if (text.size() > kMaxProtoFileBytes) return Status::error(too_big(path));
  }
  return text;
}

}  // namespace tcpsec
