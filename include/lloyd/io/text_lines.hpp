#pragma once
// One text file read by many ranks: rank r takes the lines that start in its block of the
// file's bytes, so each line is read by exactly one rank and no rank reads the whole file.
#include <cstdint>
#include <functional>
#include <string>

#include "lloyd/shard.hpp"

namespace lloyd {

/// Calls visit(line, offset) for each line of `path` that starts in the byte range `bytes`
/// (a line starts at byte 0 or after a '\n'), in order, without its '\n'; `offset` is the
/// byte offset of the line's start. The ranks that take the blocks of block_rows(file size,
/// ranks, rank) visit every line exactly once. A last line without '\n' counts; a final '\n'
/// does not start an empty one. An unreadable file is an Error naming `what`. Not collective.
void for_each_line_starting_in(const std::string& path, RowRange bytes, const std::string& what,
                               const std::function<void(std::string& line, std::uint64_t offset)>& visit);

}  // namespace lloyd
