#!/usr/bin/env bash
# Fails when an include runs upwards in the layered house (docs/design.md, "Repository layout"):
# a file in layer L may include only headers of layers <= L. The layer of a file is the
# directory under src/ or include/lloyd/ it lives in; files directly there are the base.
#     scripts/check_layers.sh [ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
# Bottom to top.
layers=(base simd core io kmeans metrics select text cli)
rank_of() {
  local i
  for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo "unknown layer '$1'" >&2; return 1
}
layer_of_path() {  # src/kmeans/x.cpp, include/lloyd/kmeans/x.hpp, src/x.cpp -> kmeans / base
  local rel=${1#"$root"/}; rel=${rel#src/}; rel=${rel#include/lloyd/}
  case $rel in */*) echo "${rel%%/*}" ;; *) echo base ;; esac
}
status=0
while IFS= read -r file; do
  from=$(layer_of_path "$file"); from_rank=$(rank_of "$from")
  while IFS= read -r header; do
    case $header in */*) to=${header%%/*} ;; *) to=base ;; esac
    to_rank=$(rank_of "$to")
    if [ "$to_rank" -gt "$from_rank" ]; then
      echo "${file#"$root"/}: includes lloyd/$header ($to is above $from)"
      status=1
    fi
  done < <(sed -n 's|^#include "lloyd/\([^"]*\)".*|\1|p' "$file")
done < <(find "$root/src" "$root/include/lloyd" -name '*.[ch]pp' | sort)
exit "$status"
