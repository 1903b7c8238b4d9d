#pragma once
#include <stdexcept>
#include <string>

namespace lloyd {

/// A problem the user can fix (bad input, bad option). Its message is one line that names
/// the problem. Thrown on the rank(s) that detected it.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An Error that every rank of the communicator throws together (after Comm::agree), so
/// the program can unwind and exit cleanly without any rank waiting in a collective.
class AgreedError : public Error {
 public:
  using Error::Error;
};

}  // namespace lloyd
