#!/usr/bin/env bash
# End-to-end pretraining speed by wasm threads (issue 20): `jigclu pretrain --preset cpu-small` on
# ../shared/datasets/cifar10-dev/train for EPOCHS epochs on 1 thread, on auto (one per physical
# core), auto, 1 (the order A B B A evens out a machine whose load drifts), then, where
# /usr/bin/python3 has torch, PyTorch's trainer (scaleout/jigclu_ddp.py, one process with its two
# data loader processes, with OMP_NUM_THREADS 1 and the CPU count) on the same
# images, continuing the first run (export-job).
# Each line is the CLI's own summary: images/s of the training steps (batches included), the
# time the step waited for a batch, and the cores the process kept busy (CPU time / wall time);
# on a machine shared with other work the threads get fewer cores than they ask for, and the
# ratio follows the cores each run got more than the threads it asked for. Usage (after npm run build): bash test/bench/threads-e2e.sh [epochs]
# (JIGCLU_BENCH_DATA=<folder> trains on another folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs="${1:-2}"
data="${JIGCLU_BENCH_DATA:-../shared/datasets/cifar10-dev/train}"
[ -d "$data" ] || { echo "missing $data: this benchmark needs ../shared/datasets/cifar10-dev" >&2; exit 1; }
[ -f out/main/cli.js ] || { echo "out/main/cli.js is missing: run npm run build first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
declare -A rate
declare -A runs
for threads in 1 auto auto 1; do
  runs[$threads]=$(( ${runs[$threads]:-0} + 1 ))
  out="$work/run-$threads-${runs[$threads]}"
  log="$(node out/main/cli.js --data-dir "$work/data" pretrain "$data" --preset cpu-small --engine wasm --threads "$threads" \
    --epochs "$epochs" --seed 1 --out "$out" 2>&1)"
  echo "$log" | grep '^Engine: '
  line="$(echo "$log" | grep -A2 '^Finished' | grep ' steps in ')"
  echo "wasm, --threads $threads: $line"
  value="$(sed -E 's/.* ([0-9.]+) images\/s .*/\1/' <<<"$line")"
  rate[$threads]="${rate[$threads]:+${rate[$threads]} }$value"
done
mean() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }' <<<"$1"; }
one="$(mean "${rate[1]}")"
many="$(mean "${rate[auto]}")"
echo "wasm images/s, mean of 2 runs each: --threads 1: $one, --threads auto: $many; auto / 1 = $(awk -v a="$many" -v b="$one" 'BEGIN { printf "%.2f", a / b }')x"

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "PyTorch not measured: /usr/bin/python3 cannot import torch (install python3-torch python3-torchvision)"
  exit 0
fi
job="$(node out/main/cli.js --data-dir "$work/data" export-job "$work/run-1-1" --out "$work/jobs" 2>/dev/null | sed -n 's/^Job folder: //p')"
for threads in 1 "$(nproc)"; do
  rm -rf "$job/out"
  # The exported run ends at epoch EPOCHS: train EPOCHS more (the schedule's length is 2 x EPOCHS).
  export OMP_NUM_THREADS="$threads"
  /usr/bin/python3 "$job/jigclu_ddp.py" --out "$job/out" --epochs $(( 2 * epochs )) --device cpu --verify size 2>/dev/null
  # Images/s over its steps but the first (start-up), as the app's; each interval includes waiting for data.
  /usr/bin/python3 - "$job" "$threads" <<'PY'
import json, os, sys
job, threads = sys.argv[1], sys.argv[2]
batch = json.load(open(os.path.join(job, "job.json")))["config"]["batch"]
rows = [json.loads(line) for line in open(os.path.join(job, "out", "metrics.jsonl"))][1:]
seconds = sum(batch / r["imagesPerSecond"] for r in rows)
print("PyTorch (jigclu_ddp.py: 1 process, 2 data loader processes), OMP_NUM_THREADS=%s: %d steps in %.1f s, %.1f images/s" % (threads, len(rows), seconds, batch * len(rows) / seconds))
PY
done
