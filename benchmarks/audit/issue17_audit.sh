#!/usr/bin/env bash
# Issue 17 audit: each case, its exit code and the first error line. Run it from an empty
# folder (it writes there): cd "$(mktemp -d)" && bash REPO/benchmarks/audit/issue17_audit.sh
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=$ROOT/.venv/bin/painnjax
PY=$ROOT/.venv/bin/python
export OMP_NUM_THREADS=1
row() { echo "CASE $1 | rc=$2 | $(echo "$3" | grep -m1 -iE 'error|warning|refus|another' | cut -c1-200)"; }
# 1 concurrent md into one folder
$P md saam-gfn1 SA2AM2 --steps 300 --out same --seed 1 >o1 2>e1 & $P md saam-gfn1 SA2AM2 --steps 300 --out same --seed 2 >o2 2>e2 & wait
echo "CASE 1 concurrent md: rcs $(grep -c . same/thermo.csv) thermo lines"; cat e1 e2 | grep -m2 -i "another"
# 1b kill -9 then restart: the lock does not block
$P md saam-gfn1 SA2AM2 --steps 2000 --out killed >/dev/null 2>&1 & pid=$!; sleep 25; kill -9 $pid; wait $pid 2>/dev/null
out=$($P md saam-gfn1 SA2AM2 --steps 2000 --out killed --restart 2>&1); row "1b restart after kill -9" $? "$out"; tail -1 killed/thermo.csv | cut -d, -f1-2
# 2 header flip
$PY - <<'PY'
import shutil, msgpack
from painnjax.io.modelfile import resolve_model_path
src = resolve_model_path("saam-gfn1"); data = bytearray(open(src, "rb").read())
i = data.find(msgpack.packb("cutoff")) + len(msgpack.packb("cutoff")); data[i + 1] ^= 0x01
open("flipped.painn", "wb").write(bytes(data))
PY
out=$($P info flipped.painn 2>&1); row "2 flipped header byte" $? "$out"
# 3 restart with another model
$PY -c "
import painnjax
m = painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1,7,8,16])
painnjax.save_model(m, 'other.painn')"
$P md saam-gfn1 SA2AM2 --steps 100 --out m3 >/dev/null 2>&1
out=$($P md other.painn SA2AM2 --steps 200 --out m3 --restart 2>&1); row "3 restart with another model" $? "$out"
# 4 periodic input
$PY -c "
from painnjax.data import bundled_structure
a = bundled_structure('SA1AM1'); a.cell = [15, 15, 15]; a.pbc = True; a.write('periodic.extxyz')"
out=$($P md saam-gfn1 periodic.extxyz --steps 20 --out p4 2>&1); row "4 periodic md" $? "$out"
out=$($P md saam-gfn1 periodic.extxyz --steps 20 --out p4b --ignore-cell 2>&1); row "4 periodic md --ignore-cell" $? "$out"
out=$($P label periodic.extxyz lab.extxyz 2>&1); row "4 periodic label" $? "$out"
# 5 crafted pickle
$PY - <<'PY'
import torch, os
class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))
torch.save(Evil(), "evil.pt")
PY
out=$($P convert-schnetpack evil.pt conv.painn 2>&1); row "5 crafted .pt" $? "$out"; ls PWNED 2>/dev/null && echo "CASE 5 MARKER CREATED" || echo "CASE 5 marker not created"
# 6 unwritable output
touch afile
out=$($P md saam-gfn1 SA2AM2 --steps 20 --out afile/out 2>&1); row "6 md --out under a file" $? "$out"
out=$($P harmonic saam-gfn1 SA1AM1 --json afile/h.json 2>&1); row "6 harmonic --json under a file" $? "$out"
# 7 resources
s=$(date +%s); out=$($P md saam-gfn1 SA2AM2 --replicas 1000000 --steps 20 --out r7 2>&1); rc=$?; row "7 --replicas 1000000 ($(( $(date +%s) - s )) s)" $rc "$out"
# 8 stopped run reports the last good step
out=$($P md saam-gfn1 SA1AM1 --T 2000 --steps 3000 --out hot 2>&1); row "8 SA1AM1 at 2000 K" $? "$out"
echo "$out" | tail -2; $PY -c "import json; s=json.load(open('hot/summary.json')); print('steps_done', s.get('steps_done'), s.get('stop_reason'))"; tail -1 hot/thermo.csv | cut -d, -f1-3
# 9 ignored options
out=$($P md saam-gfn1 SA2AM2 --ensemble nve --tau -5 --friction -1 --steps 20 --out n9 2>&1); row "9 nve --tau -5 --friction -1" $? "$out"
out=$($P md saam-gfn1 SA2AM2 --ensemble nve --friction 0.02 --steps 20 --out n9b 2>&1); row "9 nve --friction 0.02" $? "$out"
# 10 .dat and metrics.csv line endings
$PY -c "from painnjax.data import bundled_structure; bundled_structure('SA1AM1').write('cluster.xyz')"; cp cluster.xyz cluster.dat
out=$($P md saam-gfn1 cluster.dat --steps 20 --out d10 2>&1); row "10 xyz named .dat" $? "$out"
