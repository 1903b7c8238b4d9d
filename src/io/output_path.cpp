#include "lloyd/io/output_path.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lloyd/error.hpp"

namespace lloyd {

namespace fs = std::filesystem;

namespace {

FileIdentity identity_of(const struct stat& info) {
  return {info.st_dev, info.st_ino, static_cast<std::uint64_t>(info.st_size),
          static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

// What a non-regular file is, for messages.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The absolute, normalised form of a path whose last parts may not exist yet.
fs::path normalised(const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  fs::path result = fs::weakly_canonical(absolute, ec);
  return ec ? absolute : result;
}

bool is_inside(const fs::path& path, const fs::path& directory) {
  const auto [end, _] = std::mismatch(directory.begin(), directory.end(), path.begin(), path.end());
  return end == directory.end();
}

}  // namespace

std::optional<FileIdentity> identify(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return identity_of(info);
}

void check_output_path(const fs::path& path, bool replace_existing, const std::vector<std::string>& inputs,
                       const std::string& role) {
  // The system calls below stop at a NUL byte (possible from Python, not from a command line):
  // "a\0b.h5" would check and create "a", another file than the one named.
  if (path.native().find('\0') != std::string::npos)
    throw Error(role + " path contains a NUL byte");
  const std::string quoted = role + " '" + path.string() + "'";
  const fs::path where = normalised(path);
  const std::optional<FileIdentity> existing = identify(path);
  for (const auto& input : inputs) {
    if (input.empty()) continue;
    const std::optional<FileIdentity> read = identify(input);
    const bool same = (existing && read && existing->same_file(*read)) || normalised(input) == where;
    if (same) throw Error(quoted + " is also an input of this command; choose another path");
    std::error_code ec;
    if (fs::is_directory(input, ec) && is_inside(where, normalised(input)))
      throw Error(quoted + " lies inside the input directory '" + input + "'; choose another path");
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISREG(info.st_mode))
      throw Error(quoted + " is " + kind_of(info.st_mode) +
                  "; lloyd writes only regular files and never replaces anything else");
    if (!replace_existing) throw Error(quoted + " exists; pass --force to replace it");
  } else if (errno != ENOENT) {
    throw Error("cannot examine " + quoted + ": " + std::strerror(errno));
  }
  const fs::path parent = where.parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw Error(role + " directory '" + parent.string() + "' does not exist");
  // Checked before the work starts, not after hours of it.
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    throw Error(role + " directory '" + parent.string() + "' is not writable: " + std::strerror(errno));
}

void check_distinct_outputs(const std::vector<std::string>& paths, const std::vector<std::string>& roles) {
  for (std::size_t a = 0; a < paths.size(); ++a) {
    for (std::size_t b = a + 1; b < paths.size(); ++b) {
      if (paths[a].empty() || paths[b].empty()) continue;
      const auto first = identify(paths[a]), second = identify(paths[b]);
      if ((first && second && first->same_file(*second)) || normalised(paths[a]) == normalised(paths[b]))
        throw Error(roles[a] + " '" + paths[a] + "' and " + roles[b] + " '" + paths[b] +
                    "' are the same file; choose different paths");
    }
  }
}

void move_into_place(const fs::path& partial, const fs::path& final_path, bool replace_existing) {
  const std::string failure = "cannot move the finished '" + partial.string() + "' to '" + final_path.string() + "'";
  if (!replace_existing) {
    // Atomic: whatever appeared at the final path during the run stays.
    if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EEXIST)
      throw Error(failure + ": a file of that name appeared during the run and is kept (pass --force to replace it)");
    if (errno != EINVAL && errno != ENOSYS) throw Error(failure + ": " + std::strerror(errno));
    // A file system without RENAME_NOREPLACE: link() refuses to replace just as atomically.
    if (::link(partial.c_str(), final_path.c_str()) == 0) {
      ::unlink(partial.c_str());
      return;
    }
    if (errno == EEXIST)
      throw Error(failure + ": a file of that name appeared during the run and is kept (pass --force to replace it)");
    throw Error(failure + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::lstat(final_path.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    throw Error(failure + ": it is now " + kind_of(info.st_mode) + ", which lloyd never replaces");
  if (::rename(partial.c_str(), final_path.c_str()) != 0) throw Error(failure + ": " + std::strerror(errno));
}

bool remove_if_unchanged(const fs::path& path, const FileIdentity& expected) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  if (!(identity_of(info) == expected)) return false;
  return ::unlink(path.c_str()) == 0;
}

}  // namespace lloyd
