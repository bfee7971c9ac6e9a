#!/usr/bin/env bash
# The multi-GPU figures BENCHMARKS.md asks for, in one go, on a host with two or more GPUs:
#   - every example batch split across the devices against one device (one-shot and --resident);
#   - `bench persistent --devices all` twice: the group against its first device (producers,
#     drains, a one-shot batch split across them) and the exactly-once check across all devices;
#   - `scan` of 8 files of 256 MiB and of one 2 GiB file (cut into parts), on one device and on
#     all, against `LC_ALL=C grep -F -c -f`.
# Usage: tools/two-gpu-check.sh [VYRE_GL] [RESULTS_DIR] (defaults: vyre-gl on PATH, ./two-gpu-results).
# Needs about 4 GiB of free disk under $TMPDIR (default /tmp) and python3 for the summary.
set -u
V=${1:-vyre-gl}
R=${2:-two-gpu-results}
T=${TMPDIR:-/tmp}/vyre-two-gpu
cd "$(dirname "$0")/.."
mkdir -p "$R" "$T"
"$V" info > "$R/info.txt" 2>&1
nvidia-smi -L > "$R/gpus.txt" 2>&1
: > "$R/rc.txt"
for f in examples/*.json examples/custom/histogram.json; do
  n=$(basename "$f" .json)
  for mode in oneshot resident; do
    flag=""; [ "$mode" = resident ] && flag="--resident"
    "$V" run "$f" $flag --json > "$R/one-$n-$mode.json" 2>&1; echo "one $n $mode rc=$?" >> "$R/rc.txt"
    "$V" run "$f" $flag --devices all --json > "$R/all-$n-$mode.json" 2>&1; echo "all $n $mode rc=$?" >> "$R/rc.txt"
  done
done
for i in 1 2; do
  timeout 300 "$V" bench persistent --devices all --json > "$R/group-$i.json" 2> "$R/group-$i.err"; echo "group $i rc=$?" >> "$R/rc.txt"
done
# 100 fixed patterns: 98 random words, and two that every line or one file's lines hold.
python3 - "$T/patterns" <<'PY'
import random, sys
g = random.Random(7)
words = ["".join(g.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(g.randint(3, 8))) for _ in range(98)]
open(sys.argv[1], "w").write("\n".join(words + ["zdfnk", "lazy dog 7"]) + "\n")
PY
for i in 1 2 3 4 5 6 7 8; do
  yes "the quick brown fox jumps over the lazy dog $i 0123456789 zdfnk lorem ipsum $(printf '%*s' $((i * 7)) '')" | head -c 268435456 > "$T/f$i"
done
cat "$T"/f? > "$T/big"
LC_ALL=C grep -F -c -f "$T/patterns" "$T"/f? > "$R/grep-files.txt"
LC_ALL=C grep -F -c -f "$T/patterns" "$T/big" > "$R/grep-big.txt"
for i in 1 2; do
  for d in one all; do
    flag=""; [ "$d" = all ] && flag="--devices all"
    timeout 300 "$V" scan -f "$T/patterns" "$T"/f? $flag --json > "$R/scan-files-$d-$i.json" 2>&1; echo "scan files $d $i rc=$?" >> "$R/rc.txt"
    timeout 300 "$V" scan -f "$T/patterns" "$T/big" $flag --json > "$R/scan-big-$d-$i.json" 2>&1; echo "scan big $d $i rc=$?" >> "$R/rc.txt"
  done
done
"$V" scan -f "$T/patterns" "$T"/f? --devices all > "$R/all-files.txt" 2>&1
"$V" scan -f "$T/patterns" "$T/big" --devices all > "$R/all-big.txt" 2>&1
cmp -s "$R/all-files.txt" "$R/grep-files.txt" && cmp -s "$R/all-big.txt" "$R/grep-big.txt" && echo "scan across all devices equals grep" >> "$R/rc.txt"
rm -rf "$T"
python3 - "$R" <<'PY'
import json, sys, glob, os
r = sys.argv[1]
print(open(os.path.join(r, "rc.txt")).read().replace("\n", "; "))
dec = json.JSONDecoder()
def load(p):
    o, _ = dec.raw_decode(open(p).read())
    for k in ("timing", "device", "devices"): o.pop(k, None)
    return o
same = [os.path.basename(p)[4:-5] for p in sorted(glob.glob(os.path.join(r, "one-*.json")))
        if load(p) == load(p.replace("/one-", "/all-"))]
print("example batches identical across all devices:", len(same), "of", len(glob.glob(os.path.join(r, "one-*.json"))))
for i in (1, 2):
    try:
        d = json.load(open(os.path.join(r, "group-%d.json" % i)))
        print("bench persistent", i, "rows", [(x["devices"], round(x["producerSlotsPerSecond"] / 1e6, 2), round(x["drainSlotsPerSecond"] / 1e6, 2),
              round(x["oneShotSlotsPerSecond"] / 1e6, 2)) for x in d["rows"]], "scaling producers %.2fx drains %.2fx one-shot %.2fx" %
              (d["producerScaling"], d["drainScaling"], d["oneShotScaling"]), "exactly once", d["exactlyOncePassed"], d["exactlyOnceShares"])
    except Exception as e:
        print("bench persistent", i, "no report:", e)
for what in ("files", "big"):
    for i in (1, 2):
        try:
            one = json.load(open(os.path.join(r, "scan-%s-one-%d.json" % (what, i))))
            all_ = json.load(open(os.path.join(r, "scan-%s-all-%d.json" % (what, i))))
            print("scan", what, i, "one %.0f MB/s, all %.0f MB/s, %.2fx" % (one["bytesPerSecond"] / 1e6, all_["bytesPerSecond"] / 1e6,
                  all_["bytesPerSecond"] / one["bytesPerSecond"]))
        except Exception as e:
            print("scan", what, i, "no report:", e)
PY
