#!/usr/bin/env bash
# New training frames of issue 14 for (SA)n(AM)m, n = 7-9, m = n-2 ... n+2, made with painnjax's
# own tools (every step resumable: run the script again to continue):
#   1. a committee of two: the shipped saam-gfn1 and a second member, saam-gfn1 fine-tuned for
#      one epoch on the shared pool with another seed (`painnjax train --init-from`, member2.toml);
#   2. NN MD with the committee's mean (`painnjax sample`, Nose-Hoover, 0.5 fs) from every start
#      structure of these compositions in ../shared/data/starts, one replica at 300 K and one at
#      450 K, STEPS steps each (default 1,000), a frame every 10 steps (5 fs, as the pool)
#      after 200 steps;
#   3. per start, FRAMES frames (default 50): 70 % with the largest committee force spread and
#      30 % drawn at random from the rest (`painnjax select --random-share 0.3`);
#   4. GFN1-xTB labels (`painnjax label --workers WORKERS`, one xTB thread each).
# The test compositions SA8AM10, SA9AM10 and SA9AM11 are left out (make_test_set.sh).
#
#   bash benchmarks/data/n7-9/make_train_set.sh RUN_DIR [WORKERS] [FRAMES] [STEPS] [SEED]
# SEED (default 14, the committed frames) seeds the MD and the random share: another seed in
# another run folder gives new trajectories (copy RUN_DIR/member2 over to reuse the member).
# STARTS (environment, names in ../shared/data/starts separated by spaces) replaces the list of
# start structures below, e.g. to add frames where the model is weakest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${1:?give a run folder outside git}
workers=${2:-2}
frames=${3:-50}
steps=${4:-1000}
seed=${5:-14}
shared="$root/../shared/data"
pj="$root/.venv/bin/painnjax"
export OMP_NUM_THREADS=1
mkdir -p "$run/pool" "$run/selected"

# 1. the second committee member
m2="$run/member2"
if [ ! -s "$m2/summary.json" ] || ! grep -q '"epochs_done": 1' "$m2/summary.json"; then
  resume=()
  [ -e "$m2/checkpoints/latest.ckpt" ] && resume=(--resume)
  nice -n 10 "$pj" train --data "$shared/saam_gfn1/train_pool_300K.extxyz" \
    --monomers "$shared/saam_gfn1/monomers_gfn1.extxyz" --init-from saam-gfn1 \
    --config "$here/member2.toml" --out "$m2" --quiet "${resume[@]}"
fi

starts=(k24_7sa5am k24_7sa6am k24_7sa7am k24_7sa8am k24_7sa9am
        k24_8sa6am k24_8sa7am k24_8sa8am k24_8sa9am
        k24_9sa7am k24_9sa8am k24_9sa9am
        wu_7sa7am wu_8sa8am wu_9sa9am)
if [ -n "${STARTS:-}" ]; then
  read -r -a starts <<< "$STARTS"
fi
for name in "${starts[@]}"; do
  case $name in *8sa10am | *9sa10am | *9sa11am | *10sa10am)
    echo "$name is a test composition: never trained on" >&2; exit 2 ;;
  esac
  [ -s "$shared/starts/$name.xyz" ] || { echo "no start structure $shared/starts/$name.xyz" >&2; exit 2; }
done
for name in "${starts[@]}"; do
  # 2. committee NN MD
  pool="$run/pool/$name.extxyz"
  if [ ! -s "$pool" ]; then
    restart=()
    [ -d "$run/pool/${name}_md" ] && restart=(--restart)
    nice -n 10 "$pj" sample saam-gfn1 "$m2/best.painn" "$shared/starts/$name.xyz" --T 300 450 \
      --steps "$steps" --every 10 --equilibrate 200 --seed "$seed" --quiet --out "$pool" "${restart[@]}"
  fi
  # 3. selection: spread plus a random share
  sel="$run/selected/$name.extxyz"
  [ -s "$sel" ] || nice -n 10 "$pj" select saam-gfn1 "$m2/best.painn" --pool "$pool" --n "$frames" \
    --random-share 0.3 --seed "$seed" --out "$sel" > "$run/selected/$name.txt"
done
# 4. labels
nice -n 10 "$pj" label "$run"/selected/*.extxyz "$run/labelled.extxyz" --workers "$workers" --quiet
echo "training frames done: $run/labelled.extxyz"
