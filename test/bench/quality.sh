#!/usr/bin/env bash
# Representation quality (issues: engine, clusters). Pretrains cpu-small for at most 10 minutes on
# cifar10-dev/train, then prints kNN accuracy on cifar10-dev/test (train as the feature bank)
# for the pretrained backbone and for the random-init baseline of the same architecture,
# both at the crop size. Usage: npm run bench:quality [-- minutes [pretrain options...]],
# e.g. npm run bench:quality -- 10 --lr 0.24
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes="${1:-10}"
shift || true
data="../shared/datasets/cifar10-dev"
[ -d "$data/train" ] || { echo "missing $data: the quality benchmark needs ../shared/datasets/cifar10-dev" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
node out/main/cli.js --data-dir "$out" pretrain "$data/train" --preset cpu-small --epochs 20 --time-limit "$minutes" --seed 1 --out "$out/run" "$@"
node out/main/cli.js knn --random-init --preset cpu-small --train "$data/train" --test "$data/test"
node out/main/cli.js knn "$out/run" --train "$data/train" --test "$data/test"
# Cluster quality (issue: clusters): k = 10 k-means of cifar10-dev/test by the pretrained
# backbone's features and by the random-init one, NMI / ARI / purity against the 10 classes.
node out/main/cli.js cluster "$out/run" "$data/test" --random-init --k 10 --out "$out/clusters-random.csv"
node out/main/cli.js cluster "$out/run" "$data/test" --k 10 --out "$out/clusters-pretrained.csv"
# Few-label classification (issue: one-click fine-tuning): 10 labelled images per class drawn
# from cifar10-dev/train, a linear probe and a full fine-tune, tested on cifar10-dev/test, for
# the pretrained backbone and the random-init one of the same architecture, with 3 draws of the
# labels (seeds 1-3: 100 labels make single runs noisy); the last line gives the means and
# pretrained minus random-init in points.
fewlabel="$out/few-label.txt"
: > "$fewlabel"
for seed in 1 2 3; do
  node out/main/cli.js finetune "$out/run" --train "$data/train" --test "$data/test" --per-class 10 --mode both --seed "$seed" | tee -a "$fewlabel"
  node out/main/cli.js finetune "$out/run" --random-init --train "$data/train" --test "$data/test" --per-class 10 --mode both --seed "$seed" | tee -a "$fewlabel"
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n");
const mean = (mode, init) => {
  const values = lines
    .filter((l) => l.startsWith(`few-label ${mode}:`) && l.includes(`, ${init})`))
    .map((l) => /test (\d+(?:\.\d+)?)%/.exec(l))
    .filter(Boolean)
    .map((m) => Number(m[1]));
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
};
const parts = ["linear probe", "fine-tune"].map((mode) => {
  const diff = mean(mode, "pretrained") - mean(mode, "random-init");
  return `${mode} ${diff >= 0 ? "+" : ""}${diff.toFixed(1)} points (${mean(mode, "pretrained").toFixed(1)}% vs ${mean(mode, "random-init").toFixed(1)}%)`;
});
console.log(`few-label (10 labels/class, mean of 3 label draws), pretrained minus random-init test accuracy: ${parts.join(", ")}`);
' "$fewlabel"
