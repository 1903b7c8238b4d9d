#!/usr/bin/env bash
# A build without -march=native (LLOYD_NATIVE=OFF) must run on every x86-64 CPU: outside the
# kernels compiled per SIMD level (lloyd::simd::avx2, lloyd::simd::avx512, chosen at run time
# by include/lloyd/simd/level.hpp) no function of the executable may use an instruction
# beyond baseline x86-64 — no VEX/EVEX encoding (mnemonics v…: AVX, AVX2, FMA, AVX-512), no
# ymm/zmm or mask registers.
#
#     bash tests/simd/portable_instructions.sh /path/to/lloyd
set -u
binary=$1
offenders=$(objdump -d --no-show-raw-insn -C "$binary" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
  /^ +[0-9a-f]+:\t/ {
    split($0, part, "\t"); insn = part[2]
    if (insn ~ /^v[a-z]/ || insn ~ /%[yz]mm|%k[0-7]/)
      if (fn !~ /lloyd::simd::(avx2|avx512)::/) bad[fn] = insn
  }
  END { for (f in bad) print f "  (" bad[f] ")" }' | sort)
if [ -n "$offenders" ]; then
  echo "FAIL: instructions beyond baseline x86-64 outside the per-level kernels:" >&2
  echo "$offenders" | head -20 >&2
  echo "($(echo "$offenders" | wc -l) functions)" >&2
  exit 1
fi
echo "PASS: only the per-level kernels use AVX2/FMA/AVX-512 instructions"
