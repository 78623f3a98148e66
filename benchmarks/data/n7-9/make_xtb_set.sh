#!/usr/bin/env bash
# Third round of training frames for issue 14: GFN1-xTB MD (not NN MD) of the clusters with more
# bases than acids, where an SO4^2- ion is needed and, for m = n + 2, one NH3 stays neutral
# beside it. The shared pool has no SO4^2- at all and the first two rounds had 54 frames of the
# "neutral NH3 + SO4^2-" state that dominates the test compositions SA8AM10 and SA9AM11; NN MD of
# SA6AM8 drifted into a region the model puts 10-20 kcal/mol too low (a hole), so these frames
# are sampled on the true GFN1-xTB surface instead (`painnjax sample --xtb`: Langevin, 1 fs,
# friction 0.02 fs^-1, as the test set), 100 steps of equilibration, then a frame every 10 fs
# to step 700 (61 frames per trajectory), each labelled with `painnjax label`.
# Starts: the GFN1-xTB minima of SA6AM8, SA7AM9 and SA6AM7 in ../shared/data/starts, and
# SA5AM7, SA4AM6 and SA3AM5 cut out of SA6AM8 by smaller_starts.py (1-3 HSO4-/NH4+ pairs taken
# away, GFN1-xTB relaxed; RUN_DIR/starts): the reference study's data had m = n + 2 from n = 1.
#
#   bash benchmarks/data/n7-9/make_xtb_set.sh RUN_DIR [WORKERS]
# Resumable: a finished trajectory is not run again (one cut short runs again from its start;
# with the same seed it gives the same frames) and labelling continues where it stopped. A
# second run on the same folder while one is writing is refused.
# The test compositions SA8AM10, SA9AM10, SA9AM11 and SA10AM10 are not among the starts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give a run folder outside git}
workers=${2:-2}
starts="$root/../shared/data/starts"
pj="$root/.venv/bin/painnjax"
export OMP_NUM_THREADS=1
mkdir -p "$run/xtb" "$run/starts"
exec 9> "$run/.make_xtb_set.lock"
flock -n 9 || { echo "another make_xtb_set.sh is writing $run" >&2; exit 2; }
# 0. the smaller m = n + 2 clusters (kept when there)
nice -n 10 "$root/.venv/bin/python" "$here/smaller_starts.py" "$starts/k24_6sa8am.xyz" --remove 1 2 3 --out "$run/starts"
# start structure, temperature (K), seed
specs=("k24_6sa8am 300 31" "k24_6sa8am 450 32" "k24_6sa8am 300 33" "k24_6sa8am 450 34"
       "k24_7sa9am 300 35" "k24_7sa9am 450 36" "k24_6sa7am 300 37" "k24_6sa7am 450 38"
       "cut_SA5AM7 300 39" "cut_SA5AM7 450 40" "cut_SA4AM6 300 41" "cut_SA4AM6 450 42"
       "cut_SA3AM5 300 43" "cut_SA3AM5 450 44")
one() {
  read -r name T seed <<< "$1"
  local out="$run/xtb/${name}_${T}K_s${seed}.extxyz" part="$run/xtb/unfinished_${name}_${T}K_s${seed}.extxyz"
  [ -s "$out" ] && return 0
  local start="$starts/$name.xyz"
  [ -e "$run/starts/$name.xyz" ] && start="$run/starts/$name.xyz"
  nice -n 10 "$pj" sample --xtb GFN1-xTB "$start" --T "$T" --dt 1 --friction 0.02 \
    --steps 700 --every 10 --equilibrate 100 --seed "$seed" --quiet --out "$part"
  mv "$part" "$out"
}
export -f one
export run starts pj
printf '%s\n' "${specs[@]}" | xargs -P "$workers" -I{} bash -c 'one "{}"'
files=()
for spec in "${specs[@]}"; do
  read -r name T seed <<< "$spec"
  files+=("$run/xtb/${name}_${T}K_s${seed}.extxyz")
done
nice -n 10 "$pj" label "${files[@]}" "$run/xtb_labelled.extxyz" --workers "$workers" --quiet
echo "xTB-MD frames done: $run/xtb_labelled.extxyz"
