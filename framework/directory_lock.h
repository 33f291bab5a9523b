#pragma once
// Making the directory a writer owns, and one writer per directory: a run directory (or an
// experiments folder) that two processes write at once ends up holding files of both runs, each of
// which exited 0.
#include <string>

namespace repflow {

// Creates `dir` and its missing parents; failing, an Error "<what>: cannot create it: <reason>".
void make_directory(const std::string& dir, const std::string& what);

// Whether make_directory would succeed, found out by making the missing directories and removing
// them again: only trying tells (a file in the way, a read-only or virtual file system,
// permissions), and a check (train --check, experiments --dry-run) leaves the file system as it
// was. The same Error as make_directory.
void check_directory_can_be_made(const std::string& dir, const std::string& what);

// Holds an exclusive flock(2) on a directory for the object's lifetime. The kernel drops it when
// the process ends however it ends (a SIGKILL too), so no stale lock is ever left to clear, and
// no file is added to the directory. Processes this one starts do not inherit it.
class DirectoryLock {
 public:
  // Locks `dir`, which must exist. Another process holding it is an Error naming `what` (e.g.
  // "run directory /runs/a"), as is a directory that cannot be opened.
  DirectoryLock(const std::string& dir, const std::string& what);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace repflow
