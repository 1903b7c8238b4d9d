#include "lloyd/io/npy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "lloyd/error.hpp"

namespace lloyd {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{1} << 20;
// Raw bytes converted at a time: memory beyond the caller's rows stays bounded.
constexpr std::uint64_t kScratchBytes = std::uint64_t{8} << 20;

std::string quoted(const std::string& file) { return "'" + file + "'"; }

// The value after "'key':" in the header's dict literal, from its first non-space character.
std::string_view dict_value(std::string_view header, std::string_view key, const std::string& file) {
  std::string needle(1, '\'');
  needle.append(key).push_back('\'');
  std::size_t at = header.find(needle);
  if (at == std::string_view::npos) {
    std::string alternative(1, '"');
    alternative.append(key).push_back('"');
    at = header.find(alternative);
  }
  if (at == std::string_view::npos)
    throw Error("input " + quoted(file) + " has a .npy header without '" + std::string(key) + "'");
  at = header.find(':', at + needle.size());
  if (at == std::string_view::npos) throw Error("input " + quoted(file) + " has a malformed .npy header");
  std::string_view value = header.substr(at + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

std::string kind_name(char kind, unsigned bytes) {
  switch (kind) {
    case 'b': return "bool";
    case 'O': return "object";
    case 'c': return "complex";
    case 'U': case 'S': case 'a': return "string";
    case 'V': return "structured (void)";
    case 'M': case 'm': return "datetime";
    case 'f': return std::string("float").append(std::to_string(8 * bytes));
    default: return std::string("kind ").append(1, kind);
  }
}

// Element conversion: `count` elements of type Source at `raw` (swapped when asked) to
// out[0], out[stride], ...
template <class Source, class T>
void convert(const unsigned char* raw, std::size_t count, bool swap, T* out, std::size_t stride) {
  using Bits = std::conditional_t<sizeof(Source) == 1, std::uint8_t,
               std::conditional_t<sizeof(Source) == 2, std::uint16_t,
               std::conditional_t<sizeof(Source) == 4, std::uint32_t, std::uint64_t>>>;
  for (std::size_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, raw + i * sizeof(Source), sizeof bits);
    if (swap) {
      if constexpr (sizeof(Bits) == 2) bits = __builtin_bswap16(bits);
      else if constexpr (sizeof(Bits) == 4) bits = __builtin_bswap32(bits);
      else if constexpr (sizeof(Bits) == 8) bits = __builtin_bswap64(bits);
    }
    out[i * stride] = static_cast<T>(std::bit_cast<Source>(bits));
  }
}

template <class T>
using Converter = void (*)(const unsigned char*, std::size_t, bool, T*, std::size_t);

template <class T>
Converter<T> converter(const NpyLayout& layout) {
  switch (layout.kind) {
    case 'f': return layout.item_bytes == 4 ? &convert<float, T> : &convert<double, T>;
    case 'i':
      switch (layout.item_bytes) {
        case 1: return &convert<std::int8_t, T>;
        case 2: return &convert<std::int16_t, T>;
        case 4: return &convert<std::int32_t, T>;
        default: return &convert<std::int64_t, T>;
      }
    default:
      switch (layout.item_bytes) {
        case 1: return &convert<std::uint8_t, T>;
        case 2: return &convert<std::uint16_t, T>;
        case 4: return &convert<std::uint32_t, T>;
        default: return &convert<std::uint64_t, T>;
      }
  }
}

}  // namespace

NpyLayout read_npy_layout(const std::string& file) {
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) throw Error("cannot read input " + quoted(file) + ": " + ec.message());
  const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) throw Error("cannot read input " + quoted(file) + ": " + std::strerror(errno));
  std::string head(std::min<std::uint64_t>(size, 12), '\0');
  const ssize_t got = ::pread(descriptor, head.data(), head.size(), 0);
  if (got != static_cast<ssize_t>(head.size())) {
    ::close(descriptor);
    throw Error("cannot read input " + quoted(file) + ": " + std::strerror(errno));
  }
  if (head.size() < 10 || head.compare(0, kMagicBytes, kMagic) != 0) {
    ::close(descriptor);
    if (head.size() >= kMagicBytes && head.compare(0, kMagicBytes, kMagic) == 0)
      throw Error("input " + quoted(file) + " is a truncated .npy file (" + std::to_string(size) + " bytes)");
    throw Error("input " + quoted(file) + " is not a NumPy .npy file (it does not start with \\x93NUMPY)");
  }
  const auto major = static_cast<unsigned char>(head[6]), minor = static_cast<unsigned char>(head[7]);
  if (major < 1 || major > 3) {
    ::close(descriptor);
    throw Error("input " + quoted(file) + " is .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + "; lloyd reads versions 1.0, 2.0 and 3.0");
  }
  std::uint64_t header_bytes = 0, header_start = 0;
  if (major == 1) {
    header_bytes = static_cast<unsigned char>(head[8]) | (static_cast<unsigned>(static_cast<unsigned char>(head[9])) << 8);
    header_start = 10;
  } else {
    if (head.size() < 12) {
      ::close(descriptor);
      throw Error("input " + quoted(file) + " is a truncated .npy file (" + std::to_string(size) + " bytes)");
    }
    for (int b = 3; b >= 0; --b) header_bytes = (header_bytes << 8) | static_cast<unsigned char>(head[8 + b]);
    header_start = 12;
  }
  if (header_bytes > kMaxHeaderBytes || header_start + header_bytes > size) {
    ::close(descriptor);
    throw Error("input " + quoted(file) + " is a truncated .npy file: its header claims " +
                std::to_string(header_bytes) + " bytes, the file holds " + std::to_string(size));
  }
  std::string header(header_bytes, '\0');
  const ssize_t header_got = ::pread(descriptor, header.data(), header.size(), static_cast<off_t>(header_start));
  ::close(descriptor);
  if (header_got != static_cast<ssize_t>(header.size()))
    throw Error("cannot read the .npy header of " + quoted(file));

  NpyLayout layout;
  layout.data_offset = header_start + header_bytes;
  // 'descr': a dtype string, or a list for a structured dtype.
  const std::string_view descr_value = dict_value(header, "descr", file);
  if (descr_value.empty() || (descr_value.front() != '\'' && descr_value.front() != '"'))
    throw Error("input " + quoted(file) + " holds a structured dtype; lloyd reads float32, float64 and integer arrays");
  const std::size_t descr_end = descr_value.find(descr_value.front(), 1);
  if (descr_end == std::string_view::npos) throw Error("input " + quoted(file) + " has a malformed .npy header");
  layout.descr = std::string(descr_value.substr(1, descr_end - 1));
  std::string_view descr = layout.descr;
  char order = '|';
  if (!descr.empty() && std::strchr("<>|=", descr.front())) {
    order = descr.front();
    descr.remove_prefix(1);
  }
  const char kind = descr.empty() ? '?' : descr.front();
  unsigned bytes = 0;
  for (std::size_t i = 1; i < descr.size() && descr[i] >= '0' && descr[i] <= '9' && bytes < 1000; ++i)
    bytes = bytes * 10 + static_cast<unsigned>(descr[i] - '0');
  const bool readable = (kind == 'f' && (bytes == 4 || bytes == 8)) ||
                        ((kind == 'i' || kind == 'u') && (bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8));
  if (!readable || descr.size() != 1 + std::to_string(bytes).size())
    throw Error("input " + quoted(file) + " holds " + kind_name(kind, bytes) + " elements (dtype '" + layout.descr +
                "'); lloyd reads float32, float64 and (u)int8..64 arrays");
  layout.kind = kind;
  layout.item_bytes = bytes;
  const bool little_host = std::endian::native == std::endian::little;
  layout.swap_bytes = bytes > 1 && ((order == '<' && !little_host) || (order == '>' && little_host));

  const std::string_view fortran = dict_value(header, "fortran_order", file);
  if (fortran.starts_with("True")) layout.fortran_order = true;
  else if (!fortran.starts_with("False")) throw Error("input " + quoted(file) + " has a malformed .npy header (fortran_order)");

  const std::string_view shape_value = dict_value(header, "shape", file);
  const std::size_t close = shape_value.find(')');
  if (shape_value.empty() || shape_value.front() != '(' || close == std::string_view::npos)
    throw Error("input " + quoted(file) + " has a malformed .npy header (shape)");
  const std::string shape_text(shape_value.substr(0, close + 1));
  std::vector<std::uint64_t> dims;
  for (std::size_t at = 1; at < close;) {
    while (at < close && (shape_value[at] == ' ' || shape_value[at] == ',')) ++at;
    if (at >= close) break;
    std::uint64_t dim = 0;
    bool digits = false;
    while (at < close && shape_value[at] >= '0' && shape_value[at] <= '9') {
      if (dim > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
        throw Error("input " + quoted(file) + " has a malformed .npy header (shape " + shape_text + ")");
      dim = dim * 10 + static_cast<std::uint64_t>(shape_value[at++] - '0');
      digits = true;
    }
    if (!digits) throw Error("input " + quoted(file) + " has a malformed .npy header (shape " + shape_text + ")");
    dims.push_back(dim);
  }
  if (dims.size() == 1)
    throw Error("input " + quoted(file) + " is a 1-D array (shape " + shape_text +
                "); lloyd needs rows x features: save it as a.reshape(-1, 1) for one feature");
  if (dims.size() != 2)
    throw Error("input " + quoted(file) + " has " + std::to_string(dims.size()) + " dimension(s) (shape " +
                shape_text + "); expected 2 (rows x features)");
  layout.rows = dims[0];
  layout.cols = dims[1];
  if (layout.rows == 0) throw Error("input " + quoted(file) + " has no rows (shape " + shape_text + ")");
  if (layout.cols == 0) throw Error("input " + quoted(file) + " has no features (shape " + shape_text + ")");
  // Every element must be in the file (overflow-safe: compared by division).
  const std::uint64_t available = size - layout.data_offset;
  const bool complete = layout.rows <= available / layout.item_bytes / layout.cols;
  if (!complete) {
    const long double needed = static_cast<long double>(layout.rows) * static_cast<long double>(layout.cols) * bytes;
    char text[64];
    std::snprintf(text, sizeof text, "%.0Lf", needed);
    throw Error("input " + quoted(file) + " is truncated: shape " + shape_text + " of dtype '" + layout.descr +
                "' needs " + text + " bytes of data, the file holds " + std::to_string(available));
  }
  return layout;
}

ElementType npy_element_type(const NpyLayout& layout) {
  return layout.kind == 'f' && layout.item_bytes == 4 ? ElementType::Float32 : ElementType::Float64;
}

NpyFile::NpyFile(const std::string& file) : file_(file), layout_(read_npy_layout(file)) {
  descriptor_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor_ < 0) throw Error("cannot read input " + quoted(file) + ": " + std::strerror(errno));
}

NpyFile::~NpyFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

void NpyFile::read_bytes(std::uint64_t offset, std::uint64_t bytes, unsigned char* out) const {
  std::uint64_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(descriptor_, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (got <= 0)
      throw Error("cannot read input " + quoted(file_) + ": " + (got < 0 ? std::strerror(errno) : "unexpected end of file"));
    done += static_cast<std::uint64_t>(got);
  }
}

template <class T>
void NpyFile::read_rows(std::uint64_t first, std::uint64_t count, T* out) const {
  if (count == 0) return;
  const std::uint64_t d = layout_.cols, item = layout_.item_bytes;
  const Converter<T> to_t = converter<T>(layout_);
  std::vector<unsigned char> scratch;
  if (!layout_.fortran_order) {
    const std::uint64_t chunk = std::max<std::uint64_t>(1, kScratchBytes / (d * item));
    for (std::uint64_t done = 0; done < count; done += chunk) {
      const std::uint64_t rows = std::min(chunk, count - done);
      scratch.resize(rows * d * item);
      read_bytes(layout_.data_offset + (first + done) * d * item, scratch.size(), scratch.data());
      to_t(scratch.data(), rows * d, layout_.swap_bytes, out + done * d, 1);
    }
    return;
  }
  // Column j holds rows [0, n) contiguously: the rows of a block are one read per column.
  const std::uint64_t chunk = std::max<std::uint64_t>(1, kScratchBytes / item);
  for (std::uint64_t done = 0; done < count; done += chunk) {
    const std::uint64_t rows = std::min(chunk, count - done);
    scratch.resize(rows * item);
    for (std::uint64_t j = 0; j < d; ++j) {
      read_bytes(layout_.data_offset + (j * layout_.rows + first + done) * item, scratch.size(), scratch.data());
      to_t(scratch.data(), rows, layout_.swap_bytes, out + done * d + j, d);
    }
  }
}

template <class T>
void NpyFile::read_selected(std::span<const std::uint64_t> sorted, T* out) const {
  const std::uint64_t d = layout_.cols;
  for (std::size_t q = 0; q < sorted.size();) {
    if (q > 0 && sorted[q] == sorted[q - 1]) {
      std::copy_n(out + (q - 1) * d, d, out + q * d);
      ++q;
      continue;
    }
    std::size_t end = q + 1;
    while (end < sorted.size() && sorted[end] == sorted[end - 1] + 1) ++end;
    read_rows(sorted[q], end - q, out + q * d);
    q = end;
  }
}

template void NpyFile::read_rows(std::uint64_t, std::uint64_t, float*) const;
template void NpyFile::read_rows(std::uint64_t, std::uint64_t, double*) const;
template void NpyFile::read_selected(std::span<const std::uint64_t>, float*) const;
template void NpyFile::read_selected(std::span<const std::uint64_t>, double*) const;

}  // namespace lloyd
