#include "lloyd/io/text_lines.hpp"

#include <fstream>

#include "lloyd/error.hpp"

namespace lloyd {

void for_each_line_starting_in(const std::string& path, RowRange bytes, const std::string& what,
                               const std::function<void(std::string& line, std::uint64_t offset)>& visit) {
  if (bytes.size() == 0) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + what + " '" + path + "'");
  std::uint64_t start = bytes.begin;
  if (start > 0) {  // a line starts here only if the previous byte ends one
    in.seekg(static_cast<std::streamoff>(start - 1));
    std::string rest;
    std::getline(in, rest);
    start += rest.size();  // the partial line belongs to the previous rank
  } else {
    in.seekg(0);
  }
  std::uint64_t at = start;
  std::string line;
  while (at < bytes.end && std::getline(in, line)) {
    const std::uint64_t offset = at;
    at += line.size() + 1;
    visit(line, offset);
  }
  if (in.bad()) throw Error("cannot read " + what + " '" + path + "'");
}

}  // namespace lloyd
