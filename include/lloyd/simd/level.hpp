#pragma once
// Which instruction set the kernels run with, chosen once per process at run time.
//
// The kernels (include/lloyd/simd/kernels.hpp) are compiled three times, each translation
// unit with its own target flags (src/simd/kernels_*.cpp), so one binary runs on every
// x86-64 CPU and uses the widest vectors the CPU has. Every level computes the same bits:
// each score is the same chain of fused multiply-adds in the same order (std::fma where
// the vector levels use FMA instructions), so results never depend on the CPU.
#include <string>

namespace lloyd::simd {

/// From the narrowest: baseline x86-64 (SSE2; fused multiply-adds by std::fma), AVX2 with
/// FMA, AVX-512 (F, DQ, BW, VL).
enum class Level { Portable, Avx2, Avx512 };
inline constexpr Level kLevels[] = {Level::Portable, Level::Avx2, Level::Avx512};

const char* to_string(Level level);  ///< "portable", "avx2", "avx512"
/// Whether this CPU runs the kernels of `level`.
bool supported(Level level);
/// The widest level this CPU supports.
Level widest_supported();
/// The level in use: the first call chooses it, from LLOYD_SIMD (avx512 | avx2 | portable)
/// when set, else the widest this CPU supports. Throws lloyd::Error with one line when
/// LLOYD_SIMD names no level or one this CPU lacks.
Level level();
/// Uses `level` from now on (tests compare the levels). Throws lloyd::Error where the CPU
/// lacks it. Not while kernels run on other threads.
void use(Level level);

}  // namespace lloyd::simd
