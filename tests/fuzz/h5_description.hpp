#pragma once
// Structure-aware fuzzing of lloyd's HDF5 readers: a fuzz input is not the bytes of an HDF5
// file but a description of one — which datasets and attributes, of which type, shape and
// values — that build_file() turns into a well-formed file with the HDF5 library. Mutations
// then change what lloyd validates (names, types, shapes, values: NaN, negative sizes, trees
// that do not hold together, strings it does not know) instead of HDF5's own encoding, whose
// parser (HDF5 1.10) crashes, hangs and leaks on damaged bytes within seconds of fuzzing and
// is not lloyd's to fix. describe_file() is the inverse, used to make the seed corpus from real
// files. The raw-bytes mode (LLOYD_FUZZ_RAW=1, tests/fuzz/run.sh) remains for exploring HDF5.
//
// Encoding, read front to back; a description that runs out reads as zeros and ends there:
//   object  := 0x00 dataset | 0x01 attribute              (op byte, modulo 2)
//   dataset := name:u8 (index into Vocabulary::datasets) array
//   attribute := holder:u8 (index into holders) name:u8 (index into attributes) array
//   array   := type:u8 (% 7: f32 f64 i32 i64 u8 fixed-string vlen-string) rank:u8 (% 4, 0: scalar)
//              dim:u8 × rank (255: 2^33, a chunked dataset with nothing written)
//              values (none if nothing is written): f64 or i64 little-endian per element,
//              strings as index:u8 into Vocabulary::strings, or 255 length:u8 bytes
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lloyd::fuzz {

/// The names and words a reader knows: mutations pick among them.
struct Vocabulary {
  std::vector<std::string> datasets;    ///< absolute paths; parent groups are created as needed
  std::vector<std::string> holders;     ///< objects that carry attributes ("/" and groups)
  std::vector<std::string> attributes;  ///< attribute names
  std::vector<std::string> strings;     ///< string values
};

Vocabulary csr_vocabulary();
Vocabulary model_vocabulary();
Vocabulary checkpoint_vocabulary();

/// Writes the file that `description` describes to `path` (a new file). Objects that cannot be
/// created (a name taken, a parent that is a dataset) are left out.
void build_file(const std::uint8_t* description, std::size_t size, const Vocabulary& vocabulary,
                const std::string& path);

/// The description of the objects of the HDF5 file `path` that `vocabulary` names.
std::vector<std::uint8_t> describe_file(const std::string& path, const Vocabulary& vocabulary);

}  // namespace lloyd::fuzz
