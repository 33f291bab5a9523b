#pragma once
// Files that readers see whole or not at all: every output of a run (weights, checkpoints,
// metrics, config, charts, logits) is written through write_file_atomic.
#include <string>
#include <vector>

namespace repflow {

// Writes into a new temporary file in the same directory (PATH.tmp.<pid>.<n>), checks every
// write, flushes it to disk and renames it over `path`: readers see the old file or the whole
// new one, never a partial one, and the temporary file is removed when any step fails. A `path`
// that exists and is not a regular file (a directory, /dev/null, a FIFO) is an Error.
void write_file_atomic(const std::string& path, const std::string& contents);

// What write_file_atomic would refuse, and what it must not replace, checked before the work
// whose result it writes: `path` (`what` names its flag) must not exist unless it is a regular
// file, its directory must exist and be writable, and it must not be one of `inputs` (files or
// directories the program reads; empty entries are skipped) or a file inside one of them.
void check_output_file(const std::string& path, const std::string& what,
                       const std::vector<std::string>& inputs);

// Removes the temporary files write_file_atomic left in `dir` when its process was killed
// mid-save (PATH.tmp.<pid>.<n> whose process no longer runs); returns how many. A temporary
// file of a live process, such as a save in progress, is kept.
int remove_stale_temporaries(const std::string& dir);

}  // namespace repflow
