#!/usr/bin/env bash
# Prepare the GPU checks for a GPU machine that has no package index.
#
# Your GPU machine has torch (a CUDA build), numpy, scikit-learn and scipy, but pip cannot reach
# a package index there, and no data set can be downloaded.  Run this script on a machine where
# pip works: it fills the folder _carry/ (ignored by git) with what
# examples/benchmarks/gpu_check.py needs besides those packages,
#   - the wheels of skorch, of the pure-Python packages it and sksubset import (tabulate, tqdm),
#     of nvidia-ml-py (pynvml, for the GPU's energy readings) and of CORDS (the reference solver);
#   - the four Fashion-MNIST IDX files;
# then prints its size and the command to run on the GPU machine, from the repository root,
# once you have copied the repository there with _carry/ inside it.
#
#   bash examples/benchmarks/prepare_gpu_carry.sh [FASHION_MNIST_DIR]
#
# FASHION_MNIST_DIR defaults to where Debian's dataset-fashion-mnist package puts the files.
# matplotlib is not included (binary wheels): without it the runner writes no plots.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
DATA=${1:-/usr/share/datasets/fashion-mnist}
CARRY=_carry
WHEELS="skorch==1.4.0 tabulate==0.10.0 tqdm==4.70.1 nvidia-ml-py==13.615.71 cords==0.0.4"
FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
t10k-labels-idx1-ubyte.gz"

for f in $FILES; do
  [ -f "$DATA/$f" ] || { echo "missing $DATA/$f (apt-get install dataset-fashion-mnist," \
                              "or pass the folder holding the IDX files)" >&2; exit 1; }
done
rm -rf "$CARRY"
mkdir -p "$CARRY/wheels" "$CARRY/fashion-mnist"
# shellcheck disable=SC2086
python -m pip download -q --no-deps --only-binary=:all: -d "$CARRY/wheels" $WHEELS
for f in $FILES; do cp "$DATA/$f" "$CARRY/fashion-mnist/"; done
git check-ignore -q "$CARRY" || echo "note: $CARRY/ is not ignored by git here" >&2

echo "$CARRY/ holds $(du -sh "$CARRY" | cut -f1):"
ls -l "$CARRY/wheels" "$CARRY/fashion-mnist"
echo
echo "Copy the repository, $CARRY/ included, to the GPU machine, and run there, from the"
echo "repository root (\$OUT: a folder for the two files to bring back, the archive and the log):"
python examples/benchmarks/gpu_check.py --print-command
