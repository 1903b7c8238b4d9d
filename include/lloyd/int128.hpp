#pragma once

namespace lloyd {
// GCC and Clang provide 128-bit integers on 64-bit targets; __extension__ marks the use as
// deliberate under -Wpedantic.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;
}  // namespace lloyd
