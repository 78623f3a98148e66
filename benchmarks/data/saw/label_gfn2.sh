#!/usr/bin/env bash
# Second level for the SA–W frames of make_saw_set.sh: every GFN1-xTB-labelled file of RUN_DIR (train/round*_gfn1.extxyz,
# test/*_gfn1.extxyz) labelled again with GFN2-xTB (`painnjax label --method GFN2-xTB`, same frames, same order), and
# both levels merged into one file per round (merge_levels.py: GFN1-xTB as the frames' energy and forces, GFN2-xTB as
# `gfn2_energy` / `gfn2_forces`), gzipped into OUT_DIR (the files committed under benchmarks/data/saw/).
#
#   bash benchmarks/data/saw/label_gfn2.sh RUN_DIR OUT_DIR [WORKERS]
# Resumable as `painnjax label` is (frames already labelled are skipped); a round whose merged file is in OUT_DIR is done.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give the run folder of make_saw_set.sh}
out=${2:?give the folder for the merged files}
workers=${3:-1}
pj="$root/.venv/bin/painnjax"
export OMP_NUM_THREADS=1
mkdir -p "$out"
exec 9> "$run/.label_gfn2.lock"
flock -n 9 || { echo "another label_gfn2.sh is writing $run" >&2; exit 2; }
for first in "$run"/train/round*_gfn1.extxyz "$run"/test/*_gfn1.extxyz; do
  [ -s "$first" ] || continue
  second="${first%_gfn1.extxyz}_gfn2.extxyz"
  merged="${first%_gfn1.extxyz}_gfn1_gfn2.extxyz"
  [ -s "$out/$(basename "$merged").gz" ] && { echo "done before: $out/$(basename "$merged").gz"; continue; }
  nice -n 19 "$pj" label "$first" "$second" --method GFN2-xTB --workers "$workers" --quiet
  "$root/.venv/bin/python" "$here/merge_levels.py" "$first" "$second" "$merged" --run "$run"
  gzip -9 -n -c "$merged" > "$out/$(basename "$merged").gz.part"
  mv "$out/$(basename "$merged").gz.part" "$out/$(basename "$merged").gz"
  echo "both levels: $out/$(basename "$merged").gz"
done
