#pragma once
// The rules that keep a user's files safe (ARCHITECTURE.md, invariant 5), in one place:
// what an output path may be, how a finished output takes its final name, and how a file
// lloyd wrote itself (a checkpoint) is recognised before it is removed. Nothing here is
// collective; callers agree on the outcome (run_agreed).
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lloyd {

/// What identifies one file on disk, and a version of its content: the same (device, inode)
/// is the same file whatever path names it (links, "..", symlinks); size and modification
/// time change when anyone writes it.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t modified_ns = 0;
  bool same_file(const FileIdentity& other) const {
    return device == other.device && inode == other.inode;
  }
  bool operator==(const FileIdentity&) const = default;
};

/// The identity of the file `path` names (following symlinks), or nothing when it does not
/// exist or cannot be examined.
std::optional<FileIdentity> identify(const std::filesystem::path& path);

/// Throws Error (one line, naming `role`, e.g. "output" or "--checkpoint") when `path` may not
/// be written:
///  - it is, or names the same file as, one of `inputs`, or lies inside an input directory
///    (every file a command reads must be listed: data, centres, model, labels, stop words…);
///  - something that is not a regular file (directory, device, FIFO, socket, symlink) is
///    there — never replaced, not even with `replace_existing`;
///  - a regular file is there and `replace_existing` is false;
///  - its directory is missing or not writable (found now, not after hours of work).
void check_output_path(const std::filesystem::path& path, bool replace_existing,
                       const std::vector<std::string>& inputs, const std::string& role = "output");

/// Throws Error unless every path in `paths` is distinct from the others (as files: the same
/// file under two names is one path); `roles` names each for the message.
void check_distinct_outputs(const std::vector<std::string>& paths, const std::vector<std::string>& roles);

/// Moves the finished file `partial` to `final_path`. Without `replace_existing` the move never
/// replaces anything (an atomic no-clobber rename: a file that appeared at `final_path` during
/// the run is kept); with it only a regular file is replaced. Throws Error naming both paths.
void move_into_place(const std::filesystem::path& partial, const std::filesystem::path& final_path,
                     bool replace_existing);

/// Removes `path` only if it is still exactly the file `expected` describes (same file, same
/// size and modification time): a file lloyd wrote and nobody has changed or replaced since.
/// Returns whether it was removed.
bool remove_if_unchanged(const std::filesystem::path& path, const FileIdentity& expected);

}  // namespace lloyd
