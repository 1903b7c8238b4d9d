// The names of the options' vocabulary types (core/options.hpp), as the CLI and the model
// file spell them.
#include "lloyd/core/options.hpp"

#include <stdexcept>
#include <string>

#include "lloyd/error.hpp"

namespace lloyd {

InitMethod parse_init_method(const std::string& name) {
  if (name == "k-means++") return InitMethod::KMeansPlusPlus;
  if (name == "k-means||") return InitMethod::KMeansParallel;
  if (name == "forgy" || name == "random") return InitMethod::Forgy;
  if (name == "random-partition") return InitMethod::RandomPartition;
  return InitMethod::Explicit;
}

const char* to_string(InitMethod method) {
  switch (method) {
    case InitMethod::KMeansPlusPlus: return "k-means++";
    case InitMethod::Forgy: return "forgy";
    case InitMethod::RandomPartition: return "random-partition";
    case InitMethod::Explicit: return "explicit";
    case InitMethod::KMeansParallel: return "k-means||";
  }
  return "?";
}

Algorithm parse_algorithm(const std::string& name) {
  if (name == "lloyd") return Algorithm::Lloyd;
  if (name == "hamerly") return Algorithm::Hamerly;
  if (name == "yinyang") return Algorithm::Yinyang;
  if (name == "auto") return Algorithm::Auto;
  // scikit-learn's name for its pruned exact algorithm: here Hamerly's bounds, which give the
  // same labels as Elkan's (and Lloyd's) and measured faster (bounded.cpp, choose_algorithm).
  if (name == "elkan") return Algorithm::Hamerly;
  throw std::invalid_argument("unknown algorithm '" + name +
                              "': expected lloyd, hamerly, yinyang, elkan or auto");
}

const char* to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::Lloyd: return "lloyd";
    case Algorithm::Hamerly: return "hamerly";
    case Algorithm::Yinyang: return "yinyang";
    case Algorithm::Auto: return "auto";
  }
  return "?";
}

MedoidMethod parse_medoid_method(const std::string& name) {
  if (name == "alternate") return MedoidMethod::Alternate;
  if (name == "pam") return MedoidMethod::Pam;
  throw Error("unknown medoid method '" + name + "': expected alternate or pam");
}

const char* to_string(MedoidMethod method) {
  return method == MedoidMethod::Alternate ? "alternate" : "pam";
}

}  // namespace lloyd
