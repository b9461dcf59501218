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
