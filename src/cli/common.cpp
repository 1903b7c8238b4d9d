#include "common.hpp"

#include <cmath>
#include <iomanip>
#include <iostream>

namespace lloyd::cli {

std::optional<po::variables_map> parse(const Comm& comm, const std::string& command,
                                       const std::string& synopsis,
                                       const po::options_description& options, const Args& args) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      if (comm.rank() == 0)
        std::cout << "usage: lloyd " << command << " " << synopsis << "\n\n" << options << std::flush;
      return std::nullopt;
    }
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("lloyd " + command + ": " + e.what() + " (see 'lloyd " + command + " --help')");
  }
  return vm;
}

namespace {
std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::ostringstream& JsonObject::next(const std::string& key) {
  if (!empty_) body_ << ",";
  empty_ = false;
  body_ << "\"" << escaped(key) << "\":";
  return body_;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  next(key) << "\"" << escaped(value) << "\"";
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, double value) {
  if (!std::isfinite(value)) {
    next(key) << "null";
  } else {
    next(key) << std::setprecision(17) << value;
  }
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, std::int64_t value) {
  next(key) << value;
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, bool value) {
  next(key) << (value ? "true" : "false");
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const JsonObject& nested) {
  next(key) << nested.str();
  return *this;
}

double elapsed_max(const Comm& comm, double start) {
  return comm.allreduce(MPI_Wtime() - start, MPI_MAX);
}

}  // namespace lloyd::cli
