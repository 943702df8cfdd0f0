// Parsing and reading GatewayConfig files (gateway_config.h).
#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "controlplane/config/gateway_config.h"

namespace tcpsec::ikeconfig {

namespace {

class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
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

bool ends_with_json(const std::string& path) {
  static constexpr std::string_view kExt = ".json";
  if (path.size() < kExt.size()) return false;
  for (size_t i = 0; i < kExt.size(); ++i) {
    char c = path[path.size() - kExt.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kExt[i]) return false;
  }
  return true;
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
  return path + ": file is larger than " + std::to_string(kMaxConfigBytes / (1024 * 1024)) +
         " MiB, the most a configuration may be";
}

}  // namespace

Expected<v1::GatewayConfig> parse_gateway_config(std::string_view text, ConfigFormat format,
                                                 std::string_view source_name) {
  std::string source(source_name);
  if (text.size() > kMaxConfigBytes) {
    return Status::error(source + ": configuration is larger than " +
                         std::to_string(kMaxConfigBytes / (1024 * 1024)) + " MiB");
  }
  v1::GatewayConfig config;
  if (format == ConfigFormat::kJson) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &config, options);
    if (!status.ok()) return Status::error(source + ": " + std::string(status.message()));
    return config;
  }
  FirstErrorCollector errors(source);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(std::string(text), &config)) {
    if (errors.first().empty()) return Status::error(source + ": cannot parse the configuration");
    return Status::error(errors.first());
  }
  return config;
}

Expected<v1::GatewayConfig> load_gateway_config(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::error(path + ": cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::error(path + ": cannot stat: " + errno_text(errno));
  }
  if (S_ISDIR(st.st_mode)) return Status::error(path + ": is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
    return Status::error(too_big(path));
  }
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
    if (text.size() > kMaxConfigBytes) return Status::error(too_big(path));
  }
  auto config = parse_gateway_config(
      text, ends_with_json(path) ? ConfigFormat::kJson : ConfigFormat::kText, path);
  if (!config) return config;
  auto slash = path.rfind('/');
  if (slash != std::string::npos) resolve_relative_paths(*config, path.substr(0, slash + 1));
  return config;
}

void resolve_relative_paths(v1::GatewayConfig& config, const std::string& base_dir) {
  if (base_dir.empty()) return;
  std::string dir = base_dir.back() == '/' ? base_dir : base_dir + "/";
  auto fix = [&](std::string* p) {
    if (!p->empty() && (*p)[0] != '/') *p = dir + *p;
  };
  for (auto& p : *config.mutable_ca_certificates()) fix(&p);
  for (auto& p : *config.mutable_crl_files()) fix(&p);
  if (config.has_operator_endpoint()) {
    auto* e = config.mutable_operator_endpoint();
    fix(e->mutable_certificate());
    fix(e->mutable_private_key());
    fix(e->mutable_client_ca());
  }
  for (auto& c : *config.mutable_connections()) {
    fix(c.mutable_local_certificate());
    fix(c.mutable_local_private_key());
  }
}

Expected<v1::GatewayConfig> load_validated_gateway_config(const std::string& path) {
  auto config = load_gateway_config(path);
  if (!config) return config;
  if (auto s = validate_gateway_config(*config); !s)
    return Status::error(path + ": " + s.message());
  return with_defaults(*config);
}

}  // namespace tcpsec::ikeconfig
