#pragma once
// Reading a user's file whole, bounded: only a regular file (a device such as /dev/zero or a
// pipe could be read until memory runs out), and only as many bytes as its size says.
#include <cstdint>
#include <limits>
#include <string>

namespace repflow {

// The file's bytes. Errors name the file: missing, not a regular file (a directory, a device),
// unreadable, larger than `max_bytes`, or changed in size while it was read.
std::string read_file(const std::string& path,
                      int64_t max_bytes = std::numeric_limits<int64_t>::max());

}  // namespace repflow
