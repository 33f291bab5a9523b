#include "framework/weights.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace repflow {

namespace {

constexpr char kFormat[] = "repflow-weights";
constexpr int kVersion = 1;

std::string tensor_what(const std::string& path, const std::string& name) {
  return path + ": tensor '" + name + "'";
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  // Unique per process and call, so concurrent saves to one path never share a temporary file.
  static std::atomic<int> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  RF_CHECK(fd >= 0, path, ": cannot create the temporary file ", tmp, ": ", std::strerror(errno));
  const auto fail = [&](const char* step, int err, bool open) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    RF_FAIL(path, ": ", step, ": ", std::strerror(err), " (the previous file, if any, is kept)");
  };
  for (size_t done = 0; done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed", n < 0 ? errno : ENOSPC, true);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("flushing to disk failed", errno, true);
  if (::close(fd) != 0) fail("closing failed", errno, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot move into place", errno, false);
}

void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  TensorEncoding encoding) {
  save_weights(path, tensors, nlohmann::json::object(), encoding);
}

void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const nlohmann::json& extra, TensorEncoding encoding) {
  RF_CHECK(extra.is_object(), path, ": extra fields must be a JSON object");
  nlohmann::json entries = nlohmann::json::object();
  for (const auto& [name, t] : tensors) {
    RF_CHECK(!entries.contains(name), tensor_what(path, name), ": the name appears twice");
    entries[name] = tensor_to_json(t, tensor_what(path, name), encoding);
  }
  nlohmann::json doc = extra;
  for (const char* key : {"format", "version", "tensors"})
    RF_CHECK(!doc.contains(key), path, ": extra field '", key, "' is the format's own");
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["tensors"] = std::move(entries);
  std::string text;
  try {
    text = doc.dump();
  } catch (const nlohmann::json::exception& e) {
    RF_FAIL(path, ": cannot write the weights as JSON: ", e.what());
  }
  write_file_atomic(path, text);
}

void save_weights(const std::string& path, const std::map<std::string, Tensor>& tensors,
                  TensorEncoding encoding) {
  save_weights(path, std::vector<std::pair<std::string, Tensor>>(tensors.begin(), tensors.end()),
               encoding);
}

std::map<std::string, Tensor> load_weights(const std::string& path) {
  return load_weights(path, nullptr);
}

std::map<std::string, Tensor> load_weights(const std::string& path, nlohmann::json* extra) {
  nlohmann::json doc = read_json_file(path);
  try {
    RF_CHECK(doc.is_object() && doc.contains("format") && doc["format"] == kFormat, path,
             ": not a weight file (expected an object with \"format\": \"", kFormat, "\")");
    RF_CHECK(
        doc.contains("version") && doc["version"].is_number_integer() && doc["version"] == kVersion,
        path, ": format version ",
        doc.contains("version") ? json_excerpt(doc["version"]) : "(missing)",
        " is not supported (this build reads ", kVersion, ")");
    RF_CHECK(doc.contains("tensors") && doc["tensors"].is_object(), path,
             ": \"tensors\" must be an object mapping names to tensors");
    std::map<std::string, Tensor> out;
    for (const auto& [name, value] : doc["tensors"].items())
      out[name] = tensor_from_json(value, tensor_what(path, name));
    if (extra) {
      for (const char* key : {"format", "version", "tensors"}) doc.erase(key);
      *extra = std::move(doc);
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    RF_FAIL(path, ": unexpected JSON content: ", e.what());
  }
}

}  // namespace repflow
