#!/usr/bin/env bash
# Issue 32 item 2: the new routes (DFT labels through QC codes, JKQC databases, the i-PI client,
# kernel model files, config files and templates) audited as the old ones: each case, its exit
# code, the first error line and the check that matters (no traceback, file unchanged, labels
# identical to an uninterrupted run, seconds elapsed). Run it from an empty folder (it writes there):
#   cd "$(mktemp -d)" && bash REPO/benchmarks/audit/issue32_new_routes.sh [GROUPS]
# GROUPS (default LJIKCS): L label --calculator, J convert-jkqc, I ipi, K kernel model files, C configs,
# S screen's search (--refine-kinds, --refine-patience, --refine-rounds, SO4 states, the found count, resume).
# Tiny inputs: PySCF HF/STO-3G on water, a PaiNN model of 8 features, KRR on 25 SA-W frames; S screens
# SA1AM2 with saam-gfn1 (4 candidates, at most 4 rounds of 2 x 4 refinement candidates; it stops after 2).
# The bad-input cases of a group run in one process (cli_batch.py: painnjax's command-line entry
# point, one start of JAX for all); kills, resumes and timings run as separate commands.
# Every fake i-PI server is a small python process on a UNIX socket, killed at the end.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=$ROOT/.venv/bin/painnjax
PY=$ROOT/.venv/bin/python
batch() { $PY "$ROOT/benchmarks/audit/cli_batch.py"; }
export OMP_NUM_THREADS=1 PATH=$ROOT/.venv/bin:$PATH
# the first error line, else the last line
row() { local l; l=$(echo "$3" | grep -m1 -iE 'error|refus|another|traceback'); echo "CASE $1 | rc=$2 | $(echo "${l:-$(echo "$3" | tail -1)}" | cut -c1-220)"; }
tb() { echo "$1" | grep -q Traceback && echo "  TRACEBACK" || echo "  no traceback"; }
same() { [ "$1" = "$(sha256sum < "$2")" ] && echo "  $2 unchanged" || echo "  $2 CHANGED"; }
count() { local n; n=$(grep -c -- "$1" "$2" 2>/dev/null); echo "${n:-0}"; }  # lines matching $1 in file $2, 0 if none
nframes() { count '^[0-9]' "$1"; }
SERVERS=()
trap 'for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done' EXIT
T0=$(date +%s)
RUN=${1:-LJIKCS}
NAME=audit$$  # i-PI UNIX socket names: /tmp/ipi_${NAME}...
# ---------------------------------------------------------------------------------- setup
$PY - <<'PY'
import numpy as np, painnjax
from ase import Atoms
from ase.io import write
m = painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 7, 8, 16])
painnjax.save_model(m, "tiny.painn")
rng = np.random.default_rng(0)
w = Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
frames = []
for _ in range(6):
    a = w.copy(); a.positions += rng.normal(0, 0.03, a.positions.shape); frames.append(a)
write("water.extxyz", frames)
write("water1.extxyz", frames[:1])
write("w2.xyz", [w + Atoms("OH2", positions=w.positions + [3, 0, 0])])
PY
echo "setup: tiny.painn, water.extxyz (6 frames), w2.xyz"


if [[ $RUN == *L* ]]; then
# ---------------------------------------------------------------------------------- L: label --calculator
HF='pyscf:hf/sto-3g'
s=$(date +%s); $P label water.extxyz ref.extxyz --calculator "$HF" --quiet >/dev/null 2>&1
echo "setup: uninterrupted HF/STO-3G labels rc=$? ($(nframes ref.extxyz) lines, $(( $(date +%s) - s )) s)"
out=$($P label water1.extxyz l1.extxyz --calculator "$HF,max_cycle=1" --quiet 2>&1); rc=$?
row "L1 failed SCF (max_cycle=1)" $rc "$out"; tb "$out"
echo "  l1.extxyz: $(nframes l1.extxyz) lines; l1.failed.extxyz reason: $(grep -o 'label_error="[^"]*' l1.failed.extxyz | cut -c1-80)"
out=$($P label water1.extxyz l1.extxyz --calculator "$HF" --retry-failed --quiet 2>&1); rc=$?
echo "  --retry-failed with max_cycle 50: rc=$rc, l1.extxyz $(nframes l1.extxyz) lines, failed file: $([ -s l1.failed.extxyz ] && echo kept || echo empty/removed)"
printf 'program = "pyscf"\nmethod = "hf"\nbasis = 7\n' > bad.toml
printf 'program = "pyscf"\nmethod = \n' > broken.toml
cp ref.extxyz l4.extxyz; before=$(sha256sum < l4.extxyz)
batch <<CASES
L2 missing executable (ORCA) | label water.extxyz l2.extxyz --quiet --calculator "ase:ase.calculators.orca.ORCA,orcasimpleinput='HF STO-3G EnGrad',command=/nonexistent/orca" | l2.extxyz l2.failed.extxyz
L2 missing executable (Gaussian) | label water.extxyz l2.extxyz --quiet --calculator "ase:ase.calculators.gaussian.Gaussian,method=hf,basis=sto-3g,command='nog16 < PREFIX.com > PREFIX.log'" | l2.extxyz l2.failed.extxyz
L3 unknown method | label water1.extxyz l3.extxyz --quiet --calculator pyscf:nosuchxc/sto-3g | l3.extxyz
L3 bad basis | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/no-such-basis | l3.extxyz
L3 unknown key | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,colour=red | l3.extxyz
L3 max_cycle=abc | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,max_cycle=abc | l3.extxyz
L3 grids=abc | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,grids=abc | l3.extxyz
L3 grids=42 | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,grids=42 | l3.extxyz
L3 conv_tol=nan | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,conv_tol=nan | l3.extxyz
L3 forces=maybe | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,forces=maybe | l3.extxyz
L3 density_fit=nobasis | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,density_fit=nobasis | l3.extxyz l3.failed.extxyz
L3 malformed 'pyscf:' | label water1.extxyz l3.extxyz --quiet --calculator pyscf: | l3.extxyz
L3 malformed 'pyscf:hf' | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf | l3.extxyz
L3 malformed 'pyscf:hf/sto-3g,x' | label water1.extxyz l3.extxyz --quiet --calculator pyscf:hf/sto-3g,x | l3.extxyz
L3 class outside ase.calculators | label water1.extxyz l3.extxyz --quiet --calculator ase:os.system | l3.extxyz
L3 class that does not exist | label water1.extxyz l3.extxyz --quiet --calculator ase:ase.calculators.nope.Nope | l3.extxyz
L3 not a calculator class | label water1.extxyz l3.extxyz --quiet --calculator ase:ase.calculators.calculator.Parameters | l3.extxyz
L3 command for a class without one | label water1.extxyz l3.extxyz --quiet --calculator ase:ase.calculators.emt.EMT,command=ls | l3.extxyz
L3 missing scratch folder | label water1.extxyz l3.extxyz --quiet --calculator ase:ase.calculators.emt.EMT,scratch=/nonexistent/dir | l3.extxyz l3.failed.extxyz
L3 unknown program 'gaussian' | label water1.extxyz l3.extxyz --quiet --calculator gaussian | l3.extxyz
L3 missing spec file | label water1.extxyz l3.extxyz --quiet --calculator missing.toml | l3.extxyz
L3 spec file basis = 7 | label water1.extxyz l3.extxyz --quiet --calculator bad.toml | l3.extxyz
L3 spec file not TOML | label water1.extxyz l3.extxyz --quiet --calculator broken.toml | l3.extxyz
L4 resume into a file of another level | label water.extxyz l4.extxyz --quiet --calculator pyscf:b3lyp/sto-3g
CASES
same "$before" l4.extxyz
# L5: kill -9 the command mid-run (--workers 2), resume: the labels equal the uninterrupted run's
$P label water.extxyz l5.extxyz --calculator "$HF" --workers 2 --quiet >/dev/null 2>&1 & pid=$!
while kill -0 $pid 2>/dev/null && [ "$(count Properties l5.extxyz)" -lt 2 ]; do sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null; sleep 1; echo "  killed the command (kill -9) with $(grep -c Properties l5.extxyz) of 6 frames"
out=$($P label water.extxyz l5.extxyz --calculator "$HF" --workers 2 --quiet 2>&1); rc=$?
row "L5 resume after kill -9 of the command" $rc "$out"
cmp_labels() { $PY - "$1" "$2" <<'PY'
import sys
from ase.io import read
a = sorted(read(sys.argv[1], ":"), key=lambda x: x.info["label_index"])
b = sorted(read(sys.argv[2], ":"), key=lambda x: x.info["label_index"])
de = max((abs(x.get_potential_energy() - y.get_potential_energy()) for x, y in zip(a, b)), default=0)
df = max((abs(x.get_forces() - y.get_forces()).max() for x, y in zip(a, b)), default=0)
same = [x.info["label_index"] for x in a] == [y.info["label_index"] for y in b]
print(f"  {len(b)} of {len(a)} frames, indices {'equal' if same else 'DIFFER'}, max |dE| {de:.1e} eV, max |dF| {df:.1e} eV/A")
PY
}
cmp_labels ref.extxyz l5.extxyz
# L6: kill -9 one worker process (a child running spawn_main) once the first frame is written
$P label water.extxyz l6.extxyz --calculator "$HF" --workers 2 --quiet >l6.out 2>l6.err & pid=$!
w=""
while kill -0 $pid 2>/dev/null; do
    w=$(pgrep -P $pid -f spawn_main | head -1); [ -n "$w" ] && [ -s l6.extxyz ] && break; sleep 0.05
done
[ -n "$w" ] && kill -9 "$w"; s=$(date +%s); wait $pid; rc=$?
row "L6 kill -9 of one worker process ($(( $(date +%s) - s )) s to end)" $rc "$(cat l6.err)"; tb "$(cat l6.err)"
echo "  l6.extxyz $(grep -c Properties l6.extxyz) frames, l6.failed.extxyz $(count Properties l6.failed.extxyz)"
out=$($P label water.extxyz l6.extxyz --calculator "$HF" --workers 2 --retry-failed --quiet 2>&1); rc=$?
row "L6 rerun (--retry-failed)" $rc "$out"; cmp_labels ref.extxyz l6.extxyz

fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
if [[ $RUN == *J* ]]; then
# ---------------------------------------------------------------------------------- J: convert-jkqc
$PY - <<'PY'
import pickle, numpy as np, pandas as pd
from ase import Atoms
w = Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
def db(energies, forces):
    return pd.DataFrame({("info", "file_basename"): [f"w{i}" for i in range(len(energies))],
                         ("xyz", "structure"): [w.copy() for _ in energies],
                         ("log", "electronic_energy"): energies, ("extra", "forces"): forces})
ok = db([-76.0, -76.1], [np.zeros((3, 3)).tolist()] * 2); ok.to_pickle("ok.pkl")
db([-76.0, float("nan")], [np.zeros((3, 3)).tolist()] * 2).to_pickle("nan.pkl")
db([-76.0, -76.1], [np.zeros((2, 3)).tolist()] * 2).to_pickle("shape.pkl")
db([-76.0, -76.1], [[[0, 0, float("nan")]] * 3] * 2).to_pickle("nanforces.pkl")
db([-76.0, "abc"], [None, None]).to_pickle("textenergy.pkl")
pd.DataFrame({("xyz", "structure"): [w]}).to_pickle("nocolumns.pkl")
pd.DataFrame({"a": [1]}).to_pickle("flat.pkl")
class Evil:
    def __reduce__(self):
        return (open, ("PWNED", "w"))
open("crafted.pkl", "wb").write(pickle.dumps(Evil()))
data = open("ok.pkl", "rb").read(); open("truncated.pkl", "wb").write(data[: len(data) // 2])
open("text.pkl", "w").write("not a pickle\n")
open("empty.pkl", "w").close()
pickle.dump({"a": 1}, open("dict.pkl", "wb"))
PY
echo precious > exists.extxyz; before=$(sha256sum < exists.extxyz)
batch <<CASES
J ok.pkl (setup) | convert-jkqc ok.pkl ok.extxyz
J crafted pickle (opens a file) | convert-jkqc crafted.pkl j.extxyz | j.extxyz PWNED
J truncated pickle | convert-jkqc truncated.pkl j.extxyz | j.extxyz
J no energy column | convert-jkqc nocolumns.pkl j.extxyz | j.extxyz
J flat columns | convert-jkqc flat.pkl j.extxyz | j.extxyz
J wrong shape of forces | convert-jkqc shape.pkl j.extxyz | j.extxyz
J NaN forces | convert-jkqc nanforces.pkl j.extxyz | j.extxyz
J energy 'abc' | convert-jkqc textenergy.pkl j.extxyz | j.extxyz
J text file | convert-jkqc text.pkl j.extxyz | j.extxyz
J empty file | convert-jkqc empty.pkl j.extxyz | j.extxyz
J a pickled dict | convert-jkqc dict.pkl j.extxyz | j.extxyz
J missing file | convert-jkqc missing.pkl j.extxyz | j.extxyz
J output exists | convert-jkqc ok.pkl exists.extxyz
J output out.txt | convert-jkqc ok.pkl out.txt | out.txt
J --energy-unit parsec | convert-jkqc ok.pkl j.extxyz --energy-unit parsec | j.extxyz
J --energy-column nocolon | convert-jkqc ok.pkl j.extxyz --energy-column nocolon | j.extxyz
J NaN energy: row skipped, named | convert-jkqc nan.pkl j_nan.extxyz
CASES
same "$before" exists.extxyz; echo "  ok.extxyz $(grep -c Properties ok.extxyz) frames, j_nan.extxyz $(grep -c Properties j_nan.extxyz) frame"

fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
if [[ $RUN == *I* ]]; then
# ---------------------------------------------------------------------------------- I: ipi
# a fake i-PI server: MODE says what it does; it listens on the UNIX socket /tmp/ipi_NAME
ipiserver() {
    $PY - "$@" 2>/dev/null <<'PY' &
import os, socket, struct, sys, time
import numpy as np
mode, path = sys.argv[1], "/tmp/ipi_" + sys.argv[2]
natoms = int(sys.argv[3]) if len(sys.argv) > 3 else 6
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
c, _ = s.accept()
def msg(m): c.sendall(m.encode().ljust(12))
def recv(n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x: raise SystemExit(0)
        b += x
    return b
if mode == "silent":
    time.sleep(600)
if mode == "garbage":
    c.sendall(bytes(range(256)) * 4); time.sleep(5); raise SystemExit
if mode == "highbytes":
    c.sendall(b"\xff" * 64); time.sleep(5); raise SystemExit
if mode == "init":  # INIT announcing a 2 GB init string
    msg("INIT"); c.sendall(struct.pack("ii", 0, 2**31 - 1)); time.sleep(30); raise SystemExit
if mode == "huge":  # POSDATA announcing 2**31-1 atoms
    msg("STATUS"); recv(12); msg("POSDATA"); c.sendall(np.eye(3).tobytes() * 2 + struct.pack("i", 2**31 - 1)); time.sleep(30); raise SystemExit
if mode == "negative":
    msg("STATUS"); recv(12); msg("POSDATA"); c.sendall(np.eye(3).tobytes() * 2 + struct.pack("i", -5)); time.sleep(5); raise SystemExit
pos = np.array([[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]] * 2) / 0.52917721
pos[3:, 0] += 3 / 0.52917721
pos = pos[:natoms]
if mode == "nan":
    pos[0, 0] = float("nan")
for step in range(1000):
    msg("STATUS"); recv(12); msg("POSDATA"); c.sendall(np.eye(3).tobytes() * 2 + struct.pack("i", len(pos)) + pos.tobytes())
    msg("STATUS"); recv(12); msg("GETFORCE"); recv(12); recv(8); n = struct.unpack("i", recv(4))[0]; recv(8 * 3 * n + 72)
    nextra = struct.unpack("i", recv(4))[0]; recv(nextra) if nextra > 0 else None
    if mode == "gone" and step == 3: os._exit(1)
    if mode == "exit" and step == 3: msg("EXIT"); time.sleep(1); raise SystemExit
PY
    SERVERS+=($!)
    while [ ! -S "/tmp/ipi_$2" ]; do sleep 0.1; done
}
for m in exit gone silent garbage highbytes init huge negative nan; do ipiserver $m ${NAME}$m; done
ipiserver exit ${NAME}three 3; ipiserver silent ${NAME}zero
touch /tmp/ipi_${NAME}file
I="ipi tiny.painn w2.xyz"
s=$(date +%s)
batch <<CASES
I1 no server, --wait 2 | $I --unix ${NAME}none --wait 2
I1 no server at 127.0.0.1:1, --wait 1 | $I --address 127.0.0.1:1 --wait 1
I2 --unix a path | $I --unix /tmp/x/y
I2 --port 0 | $I --port 0
I2 --port 70000 | $I --port 70000
I2 --address nohost | $I --address nohost
I2 --address unix: | $I --address unix:
I2 --wait -1 | $I --wait -1
I2 --wait nan | $I --wait nan
I2 --timeout nan | $I --timeout nan
I2 --timeout -1 | $I --timeout -1
I2 --timeout 0 at a live server | $I --unix ${NAME}zero --timeout 0
I2 --unix a regular file, not a socket | $I --unix ${NAME}file --wait 1
I3 a server that sends EXIT after 4 steps | $I --unix ${NAME}exit --timeout 60
I4 the server dies after 4 steps | $I --unix ${NAME}gone --timeout 60
I5 a server that never speaks, --timeout 3 | $I --unix ${NAME}silent --timeout 3
I6 a peer that sends bytes 0..255 | $I --unix ${NAME}garbage --timeout 10
I6 a peer that sends 64 x ff | $I --unix ${NAME}highbytes --timeout 10
I6 INIT announcing a 2 GB string | $I --unix ${NAME}init --timeout 10
I6 POSDATA announcing 2^31-1 atoms | $I --unix ${NAME}huge --timeout 10
I6 POSDATA announcing -5 atoms | $I --unix ${NAME}negative --timeout 10
I6 POSDATA with a NaN position | $I --unix ${NAME}nan --timeout 10
I7 the server sends 3 atoms, the structure has 6 | $I --unix ${NAME}three --timeout 10
CASES
echo "  the I cases took $(( $(date +%s) - s )) s"
# I8: the real i-PI (PIMD, 2 beads) killed (kill -9) mid-run: the client says so in one line, exit 1
cat > ipi.xml <<XML
<simulation verbosity="low">
  <output prefix="pimd"><properties stride="1" filename="out">[ step, potential{electronvolt} ]</properties></output>
  <total_steps>100000</total_steps>
  <ffsocket name="p" mode="unix" pbc="false"><address>${NAME}real</address><latency>1e-3</latency></ffsocket>
  <system>
    <initialize nbeads="2"><file mode="xyz" units="angstrom">w2.xyz</file>
      <cell mode="abc" units="angstrom"> [ 50, 50, 50 ] </cell><velocities mode="thermal" units="kelvin">300</velocities></initialize>
    <forces><force forcefield="p"/></forces>
    <motion mode="dynamics"><dynamics mode="nvt"><timestep units="femtosecond">0.5</timestep>
      <thermostat mode="pile_l"><tau units="femtosecond">100</tau></thermostat></dynamics></motion>
    <ensemble><temperature units="kelvin">300</temperature></ensemble>
  </system>
</simulation>
XML
IPI=$(command -v i-pi || echo "$ROOT/.venv/bin/i-pi")  # the venv's, where .venv/bin is not on PATH
if [ -x "$IPI" ]; then
    "$IPI" ipi.xml >ipi.log 2>&1 & ipi=$!; SERVERS+=($ipi)
    $P ipi tiny.painn w2.xyz --unix ${NAME}real --wait 120 >i8.out 2>i8.err & client=$!  # i-PI starts slowly on a loaded CPU
    while kill -0 $client 2>/dev/null && [ $(( $(count . pimd.out) - $(count '^#' pimd.out) )) -lt 20 ]; do sleep 0.1; done
    steps=$(( $(count . pimd.out) - $(count '^#' pimd.out) )); kill -9 $ipi; s=$(date +%s); wait $client; rc=$?; wait $ipi 2>/dev/null
    row "I8 the real i-PI killed (kill -9) after $steps steps ($(( $(date +%s) - s )) s to end)" $rc "$(cat i8.err)"; tb "$(cat i8.err)"
else
    echo "CASE I8 skipped: no i-pi executable"
fi
rm -f /tmp/ipi_${NAME}*

fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
if [[ $RUN == *K* ]]; then
# ---------------------------------------------------------------------------------- K: kernel model files
$PY - "$ROOT" <<'PY'
import sys
from pathlib import Path
from ase.io import write
from painnjax.data.dataset import read_frames
write("saw.extxyz", read_frames(Path(sys.argv[1]) / "benchmarks/data/saw/round1_gfn1_gfn2.extxyz.gz")[::110], format="extxyz")
PY
krr() { printf '[model]\nkind = "%s"\n%s\n[data]\nenergy_key = "gfn2_energy"\nmonomers = "gfn2-monomers"\n[split]\nvalid_fraction = 0.2\n' "$1" "$2" > "$3"; }
krr krr "sigma = 2.0" krr.toml
s=$(date +%s); out=$($P train --config krr.toml --data saw.extxyz --out k0 --quiet 2>&1); rc=$?
echo "setup: KRR on $(grep -c Properties saw.extxyz) frames rc=$rc ($(( $(date +%s) - s )) s)"; [ $rc = 0 ] || echo "$out" | tail -3
head -c 2000 k0/model.painn > trunc.painn
$PY -c "d = bytearray(open('k0/model.painn','rb').read()); d[len(d)//2] ^= 1; open('flip.painn','wb').write(bytes(d))"
n=0; for hp in "sigma = 0.0" "sigma = -1.0" "sigma = nan" "regularization = -1.0" "regularization = nan" 'sigma = "2"'; do
    n=$((n+1)); krr krr "$hp" b$n.toml; done
for hp in "k = 1000" "k = 0" "k = -3" 'weights = "closest"' 'metric = "cosine"' "mlkr_components = 0" "colour = 1"; do
    n=$((n+1)); krr knn "$hp" b$n.toml; done
krr kr "" b14.toml; krr KRR "" b15.toml
batch <<CASES
K1 info of a truncated kernel file | info trunc.painn
K1 evaluate of a truncated kernel file | evaluate trunc.painn saw.extxyz
K1 info of a kernel file with a flipped byte | info flip.painn
K1 evaluate of a kernel file with a flipped byte | evaluate flip.painn saw.extxyz
K2 md with a kernel file | md k0/model.painn SA1AM1 --steps 10 --out km | km
K2 screen with a kernel file | screen k0/model.painn --composition SA1AM1 --n 2 --out ks | ks
K2 optimize with a kernel file | optimize k0/model.painn SA1AM1 --out ko | ko
K2 harmonic with a kernel file | harmonic k0/model.painn SA1AM1
K2 sample with a kernel file | sample k0/model.painn SA1AM1 --out kp --steps 10 | kp
K2 ipi with a kernel file | ipi k0/model.painn w2.xyz --unix ${NAME}k --wait 1
K2 evaluate a PaiNN and a kernel file together | evaluate tiny.painn k0/model.painn saw.extxyz
K2 evaluate a kernel file with a PaiNN file | evaluate k0/model.painn tiny.painn saw.extxyz
K2 train --init-from a kernel file (kind painn) | train --data saw.extxyz --out kt --epochs 1 --init-from k0/model.painn | kt
K2 train kind krr --init-from | train --config krr.toml --data saw.extxyz --out kt --init-from k0/model.painn | kt
K3 krr sigma = 0 | train --config b1.toml --data saw.extxyz --out kb1 | kb1
K3 krr sigma = -1 | train --config b2.toml --data saw.extxyz --out kb2 | kb2
K3 krr sigma = nan | train --config b3.toml --data saw.extxyz --out kb3 | kb3
K3 krr regularization = -1 | train --config b4.toml --data saw.extxyz --out kb4 | kb4
K3 krr regularization = nan | train --config b5.toml --data saw.extxyz --out kb5 | kb5
K3 krr sigma = "2" | train --config b6.toml --data saw.extxyz --out kb6 | kb6
K3 knn k = 1000 > n_train | train --config b7.toml --data saw.extxyz --out kb7 | kb7
K3 knn k = 0 | train --config b8.toml --data saw.extxyz --out kb8 | kb8
K3 knn k = -3 | train --config b9.toml --data saw.extxyz --out kb9 | kb9
K3 knn weights = "closest" | train --config b10.toml --data saw.extxyz --out kb10 | kb10
K3 knn metric = "cosine" | train --config b11.toml --data saw.extxyz --out kb11 | kb11
K3 knn mlkr_components = 0 | train --config b12.toml --data saw.extxyz --out kb12 | kb12
K3 knn unknown key colour | train --config b13.toml --data saw.extxyz --out kb13 | kb13
K4 kind = "kr" | train --config b14.toml --data saw.extxyz --out kb14 | kb14
K4 kind = "KRR" | train --config b15.toml --data saw.extxyz --out kb15 | kb15
K4 krr, missing data file | train --config krr.toml --data missing.extxyz --out kb16 | kb16
CASES
# K5: kill -9 a KRR training mid-run, then rerun into the same folder: the model equals an uninterrupted run's
same_model() { $PY - "$1" "$2" <<'PY'
import sys, numpy as np
from painnjax.kernels.files import load_kernel_model
a, b = (load_kernel_model(p) for p in sys.argv[1:])
same = a.config == b.config and a.arrays.keys() == b.arrays.keys() and all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
print(f"  {sys.argv[2]}: config and arrays {'equal to' if same else 'DIFFER from'} {sys.argv[1]}'s (the file's timings differ)")
PY
}
cp -r k0 k0.first
$P train --config krr.toml --data saw.extxyz --out k5 >k5.log 2>&1 & pid=$!
while kill -0 $pid 2>/dev/null && ! grep -q "training structures" k5.log 2>/dev/null; do sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null; echo "  killed train (kill -9) while fitting: k5 holds $(ls -A k5 2>/dev/null | tr '\n' ' ')"
out=$($P train --config krr.toml --data saw.extxyz --out k5 --quiet 2>&1); rc=$?
row "K5 rerun into the folder of a killed KRR train" $rc "$out"; tb "$out"; same_model k0.first/model.painn k5/model.painn
# K6: a second train into a finished run's folder retrains it (as PaiNN's train does without --resume)
$P train --config krr.toml --data saw.extxyz --out k0 --quiet >/dev/null 2>&1 & pid=$!
sleep 0.5; out=$($P train --config krr.toml --data saw.extxyz --out k0 --quiet 2>&1); rc=$?
row "K6 two trains into one folder at once" $rc "$out"; wait $pid; echo "  the first: rc=$?"; same_model k0.first/model.painn k0/model.painn

fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
if [[ $RUN == *C* ]]; then
# ---------------------------------------------------------------------------------- C: configs and templates
cfg() { printf -- "$2" > "$1"; }
cfg c_unknown.toml '[md]\nsteps = 10\ncolour = 1\n'; cfg c_section.toml '[mdd]\ndt = 1.0\n'; cfg c_type.toml '[md]\nsteps = 10\ndt = "fast"\n'
cfg c_nan.toml '[md]\nsteps = 10\ndt = nan\n'; cfg c_neg.toml '[md]\nsteps = 10\ndt = -1.0\n'; cfg c_T.toml '[md]\nsteps = 10\ntemperature = [-5.0]\n'
cfg c_notoml.toml 'this is = = not toml\n'; cfg c_yaml.yaml 'md: [1, 2\n'; cfg c_list.yaml '- 1\n- 2\n'
cfg c_bool.toml '[md]\nsteps = true\n'; cfg c_float.toml '[md]\nsteps = 2.5\n'; cfg c_big.toml '[md]\nsteps = 100000000000000000000\n'
cfg c_inf.toml '[md]\nsteps = 10\ntemperature = inf\n'; cfg c_notable.toml 'md = 3\n'; cfg c_zero.toml 'md = 0\n'; printf '\xff\xfe[md]\n' > c_binary.toml
cfg s_fmax.toml '[screen]\nfmax = -1\n'; cfg s_refine.toml '[refine]\nseed = 3\n'; cfg s_keep.toml '[screen]\nkeep = 0\n'
cfg s_nan.toml '[refine]\nangle = nan\n'; cfg s_opt.toml '[screen]\noptimizer = "newton"\n'
echo old > exists.toml; before=$(sha256sum < exists.toml)
M="md tiny.painn SA1AM1 --out cm --config"
S="screen tiny.painn --composition SA1AM1 --n 2 --out cs --config"
batch <<CASES
C1 md: unknown key | $M c_unknown.toml | cm
C1 md: unknown section | $M c_section.toml | cm
C1 md: dt = "fast" | $M c_type.toml | cm
C1 md: dt = nan | $M c_nan.toml | cm
C1 md: dt = -1 | $M c_neg.toml | cm
C1 md: temperature = [-5] | $M c_T.toml | cm
C1 md: temperature = inf | $M c_inf.toml | cm
C1 md: steps = true | $M c_bool.toml | cm
C1 md: steps = 2.5 | $M c_float.toml | cm
C1 md: steps = 1e20 | $M c_big.toml | cm
C1 md: not TOML | $M c_notoml.toml | cm
C1 md: not YAML | $M c_yaml.yaml | cm
C1 md: YAML list | $M c_list.yaml | cm
C1 md: md = 3 | $M c_notable.toml | cm
C1 md: md = 0 | $M c_zero.toml | cm
C1 md: bytes ff fe | $M c_binary.toml | cm
C1 md: missing file | $M missing.toml | cm
C1 md: a folder | $M . | cm
C2 screen: fmax = -1 | $S s_fmax.toml | cs
C2 screen: [refine] seed | $S s_refine.toml | cs
C2 screen: keep = 0 | $S s_keep.toml | cs
C2 screen: angle = nan | $S s_nan.toml | cs
C2 screen: optimizer = "newton" | $S s_opt.toml | cs
C2 screen: not TOML | $S c_notoml.toml | cs
C3 template --out an existing file | template md --out exists.toml
C3 template nosuch | template nosuch
C3 template --out md.yaml | template md --out md.yaml | md.yaml
C3 template --out a folder | template md --out .
C4 template md | template md --out t_md.toml
C4 template screen | template screen --out t_screen.toml
C4 template train | template train --out t_train.toml
C4 template learn | template learn --out t_learn.toml
CASES
same "$before" exists.toml
for c in md screen train learn; do echo "  t_$c.toml: $(count '^[a-z_0-9]* =' t_$c.toml) keys set"; done
batch <<CASES
C4 md --config (template md) | md tiny.painn SA1AM1 --out tm --config t_md.toml --steps 10 --quiet
C4 screen --config (template screen) | screen tiny.painn --composition SA1AM1 --n 1 --refine-rounds 0 --out ts --config t_screen.toml --quiet
C4 md --config (template screen) | md tiny.painn SA1AM1 --out tm2 --config t_screen.toml --steps 10 | tm2
C4 train --config (template md) | train --config t_md.toml --data saw.extxyz --out tt | tt
CASES
fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
if [[ $RUN == *S* ]]; then
# ---------------------------------------------------------------------------------- S: screen's search
# The refinement's moves and stop rule (--refine-kinds, --refine-patience, --refine-rounds a maximum), the
# SO4 (sulfate) states of base-rich compositions, the "found" count, and a search killed and resumed.
# tbatch: cli_batch.py with the seconds each case took in the process (the first's include md's imports)
tbatch() { $PY -c '
import sys, time
sys.path.insert(0, sys.argv[1])
import cli_batch
run, last = cli_batch.run, [0.0]
def timed(args):
    t = time.perf_counter(); r = run(args); last[0] = time.perf_counter() - t; return r
def shown(*a, **k):
    print(*((f"{a[0]} | {last[0]:.1f} s",) + a[1:] if a and str(a[0]).startswith("CASE ") else a), **k)
cli_batch.run, cli_batch.print = timed, shown
cli_batch.main_batch(sys.stdin)' "$ROOT/benchmarks/audit"; }
# found_vs_json OUT FOLDER: the closing "found N times (M independently)" lines of a screen's output against
# the "found" of its screen.json, and the "search" record (rounds run, why it stopped)
found_vs_json() { $PY - "$1" "$2" <<'PY'
import json, re, sys
text, rec = open(sys.argv[1]).read(), json.load(open(sys.argv[2] + "/screen.json"))
pat = r"^(\S+): lowest minimum (-?[\d.]+) eV \(candidate (\d+)\) found (\d+) times? \((\d+) independently\); (.*)$"
lines = re.findall(pat, text, re.M)
shown = {c: (int(k), float(e), int(f), int(i)) for c, e, k, f, i, _ in lines}
found = {c: (f["candidate"], round(f["energy_eV"], 5), f["found"], f["independently"]) for c, f in rec["found"].items()}
ok = bool(lines) and shown == found
s = rec.get("search") or {}
print(f"  {sys.argv[1]}: {len(lines)} found line(s) {'match' if ok else 'DO NOT MATCH'} screen.json found {found}; "
      f"search: {s.get('rounds')} of {s.get('max_rounds')} rounds, stopped: {s.get('stopped')}")
for *_, why in lines[:1]:
    print(f"  ... {why[:150]}")
PY
}
printf '[refine]\nkinds = ["perturb", "nope"]\n' > sk_list.toml; printf '[refine]\npatience = "3"\n' > sp_text.toml
printf '[refine]\nkinds = []\n' > sk_empty.toml; printf '[refine]\npatience = 1.5\n' > sp_float.toml
printf '[refine]\nrounds = -1\n' > sr_neg.toml; printf 'refine:\n  kinds: [perturb, cut]\n' > sk_list.yaml
printf '[refine]\nkinds = "perturb,,splice"\n' > sk_comma.toml
B="screen tiny.painn --composition SA1AM1 --n 2 --refine-top 1 --refine-moves 1 --fmax 0.5 --steps 20 --quiet"
s0=$(date +%s%N); out=$($P $B --refine-kinds nope --out sb0 2>&1); rc=$?
row "S1 --refine-kinds nope, its own process ($(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $s0) / 1e9 }") s)" $rc "$out"; tb "$out"
echo "  sb0 $([ -e sb0 ] && echo exists || echo absent)"
tbatch <<CASES
S1 --refine-kinds nope | $B --refine-kinds nope --out sb1 | sb1
S1 --refine-kinds PERTURB | $B --refine-kinds PERTURB --out sb2 | sb2
S1 --refine-kinds perturb,perturb | $B --refine-kinds perturb,perturb --out sb3 | sb3
S1 --refine-kinds '' | $B --refine-kinds '' --out sb4 | sb4
S1 --refine-kinds ' , ' | $B --refine-kinds ' , ' --out sb5 | sb5
S1 --refine-kinds perturb,,splice | $B --refine-kinds perturb,,splice --out sb6 | sb6
S1 --refine-kinds perturb, | $B --refine-kinds perturb, --out sb7 | sb7
S1 --refine-patience -1 | $B --refine-patience -1 --out sb8 | sb8
S1 --refine-patience 1.5 | $B --refine-patience 1.5 --out sb9 | sb9
S1 --refine-patience nan | $B --refine-patience nan --out sb10 | sb10
S1 --refine-patience 10^23 | $B --refine-rounds 1 --refine-patience 99999999999999999999999 --out sb11 | sb11
S1 --refine-rounds -1 | $B --refine-rounds -1 --out sb12 | sb12
S1 --refine-rounds 1.5 | $B --refine-rounds 1.5 --out sb13 | sb13
S2 [refine] kinds = ["perturb", "nope"] | $B --config sk_list.toml --out sb14 | sb14
S2 [refine] patience = "3" | $B --config sp_text.toml --out sb15 | sb15
S2 [refine] kinds = [] | $B --config sk_empty.toml --out sb16 | sb16
S2 [refine] patience = 1.5 | $B --config sp_float.toml --out sb17 | sb17
S2 [refine] rounds = -1 | $B --config sr_neg.toml --out sb18 | sb18
S2 YAML refine: kinds: [perturb, cut] | $B --config sk_list.yaml --out sb19 | sb19
S2 [refine] kinds = "perturb,,splice" | $B --config sk_comma.toml --out sb20 | sb20
S2 bad [refine] kinds with --refine-rounds 0 | $B --config sk_list.toml --refine-rounds 0 --out sb21 | sb21
CASES
echo "  patience 10^23: $(grep -c '^patience = 99999999999999999999999' sb11/config.toml 2>/dev/null || echo 0) line in sb11/config.toml (TOML integers are 64-bit)"
# S3 compositions: SO4 (sulfate) states; the valid ones screen (saam-gfn1, 1 candidate, no refinement)
V="--n 1 --refine-rounds 0 --fmax 0.5 --steps 300 --quiet"
tbatch <<CASES
S3 SO4 | screen tiny.painn --composition SO4 $V --out sc1 | sc1
S3 SO41 | screen tiny.painn --composition SO41 $V --out sc2 | sc2
S3 SA1SO41 (charge -2) | screen tiny.painn --composition SA1SO41 $V --out sc3 | sc3
S3 B1SO4AH1 (charge -2) | screen tiny.painn --composition B1SO4AH1 $V --out sc4 | sc4
S3 SA1AM2 --transfers 3 | screen tiny.painn --composition SA1AM2 --transfers 3 $V --out sc5 | sc5
S3 SA1AM2 --transfers 2,3 | screen tiny.painn --composition SA1AM2 --transfers 2,3 $V --out sc6 | sc6
S3 SA0SO41AM0AH2 --transfers 1 | screen tiny.painn --composition SA0SO41AM0AH2 --transfers 1 $V --out sc7 | sc7
S3 so4-1-ah2 | screen tiny.painn --composition so4-1-ah2 $V --out sc8 | sc8
S3 valid: sa0so41am0ah2 | screen saam-gfn1 --composition sa0so41am0ah2 $V --out sv1 | sv1
S3 valid: 'SO4 1 AH 2' | screen saam-gfn1 --composition 'SO4 1 AH 2' $V --out sv2 | sv2
S3 valid: SO4AH2 | screen saam-gfn1 --composition SO4AH2 $V --out sv3 | sv3
S3 valid: SO42AH4 | screen saam-gfn1 --composition SO42AH4 $V --out sv4 | sv4
S3 valid: SA1AM2 --transfers 2 | screen saam-gfn1 --composition SA1AM2 --transfers 2 $V --out sv5 | sv5
CASES
for d in sv1 sv2 sv3 sv4 sv5; do
    [ -s $d/screen.json ] && echo "  $d: $($PY -c "import json; d = json.load(open('$d/screen.json')); print(repr(d['settings']['candidates']), 'states', list(d['states']))")"
done
# S4 a screen of a ready-made SO4 state with a refinement: its output and its found count
s=$(date +%s); $P screen saam-gfn1 --composition SA0SO41AM0AH2 --n 4 --refine-rounds 2 --refine-top 2 --refine-moves 4 \
    --fmax 0.1 --steps 200 --out so4 --quiet >so4.out 2>&1; rc=$?
row "S4 SA0SO41AM0AH2 --n 4 --refine-rounds 2 ($(( $(date +%s) - s )) s)" $rc "$(grep -m1 -iE 'error|traceback' so4.out || grep -m1 'candidates (' so4.out)"
tb "$(cat so4.out)"; found_vs_json so4.out so4
# S5 the search resumed: refused with other search settings; killed (kill -9) and resumed exactly
# --energy-window 0.5: the search stops by its patience (after round 2 of 4, 20 structures; with 0.1 it runs all 4)
R="screen saam-gfn1 --composition SA1AM2 --n 4 --energy-window 0.5 --refine-rounds 4 --refine-top 2 --refine-moves 4 --refine-patience 2 --fmax 0.1 --steps 200 --quiet"
s=$(date +%s); $P $R --out r0 >r0.out 2>&1; rc=$?
echo "setup: uninterrupted SA1AM2 screen rc=$rc, $(nframes r0/summary.csv) structures ($(( $(date +%s) - s )) s)"
row "S4 the found line of the uninterrupted screen" $rc "$(grep -m1 'found' r0.out)"; tb "$(cat r0.out)"; found_vs_json r0.out r0
cp -r r0 rr; cp -r r0 rs; rm rs/screen.json; before=$(sha256sum < rr/minimised.extxyz); before_s=$(sha256sum < rs/minimised.extxyz)
tbatch <<CASES
S5 --resume with --refine-kinds perturb,splice | $R --out rr --resume --refine-kinds perturb,splice
S5 --resume with --refine-patience 3 | $R --out rr --resume --refine-patience 3
S5 --resume with --refine-patience 0 --refine-kinds perturb | $R --out rr --resume --refine-patience 0 --refine-kinds perturb
S5 --resume with --refine-rounds 10 | $R --out rr --resume --refine-rounds 10
S5 --resume with --energy-window 0.2 (the stop rule's) | $R --out rr --resume --energy-window 0.2
S5 screen.json gone, --resume with --refine-kinds perturb | $R --out rs --resume --refine-kinds perturb
S5 screen.json gone, --resume with --refine-patience 1 | $R --out rs --resume --refine-patience 1
CASES
same "$before" rr/minimised.extxyz; same "$before_s" rs/minimised.extxyz
# kill -9 during the refinement's first round (> 4 frames), resume, kill again in a later round, resume to the end
kills=""
for at in 7 15; do
    resume=""; [ -d rk ] && resume=--resume
    $P $R --out rk $resume >rk.log 2>&1 & pid=$!
    while kill -0 $pid 2>/dev/null && [ "$(count Properties rk/minimised.extxyz)" -lt $at ]; do sleep 0.05; done
    if kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null; kills="$kills killed at $(count Properties rk/minimised.extxyz) frames;"
    else wait $pid; kills="$kills finished before $at frames (rc=$?);"; fi
done
s=$(date +%s); $P $R --out rk --resume >rk.out 2>&1; rc=$?
row "S5 resumed after kill -9 in the refinement ($kills $(( $(date +%s) - s )) s)" $rc "$(grep -m1 -iE 'error|traceback|resuming' rk.out)"; tb "$(cat rk.out)"
for f in summary.csv best.extxyz unconverged.extxyz minimised.extxyz; do
    cmp -s r0/$f rk/$f && echo "  $f byte-identical" || echo "  $f DIFFERS from the uninterrupted screen's"
done
$PY - <<'PY'
import json
a, b = (json.load(open(f"{d}/screen.json")) for d in ("r0", "rk"))
for key in ("search", "found", "settings"):
    print(f"  screen.json {key}: {'equal' if a[key] == b[key] else 'DIFFERS'}{' ' + json.dumps(a[key])[:160] if key == 'search' else ''}")
print(f"  resumed_from {b['resumed_from']} of {b['candidates']}")
PY
found_vs_json rk.out rk
fi; echo "  ($(( $(date +%s) - T0 )) s since the start)"
echo "total $(( $(date +%s) - T0 )) s"
