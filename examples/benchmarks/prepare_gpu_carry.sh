#!/usr/bin/env bash
# Fill _carry/ (ignored by git) with what examples/benchmarks/gpu_check.py needs on a GPU
# machine that has torch, numpy, scikit-learn and scipy but reaches no package index:
# the wheels of skorch and of the pure-Python packages it and sksubset import (tabulate,
# tqdm), of pynvml (nvidia-ml-py) for energy readings and of CORDS (the reference solver),
# plus the four Fashion-MNIST IDX files.  Then prints the command to run on that machine.
#
#   bash examples/benchmarks/prepare_gpu_carry.sh [FASHION_MNIST_DIR]
#
# matplotlib is not carried (binary wheels): without it the runner writes no plots.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
DATA=${1:-/usr/share/datasets/fashion-mnist}
CARRY=_carry
LIMIT=$((60 * 1024 * 1024))  # of the 64 MiB that travel with the working tree
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
git check-ignore -q "$CARRY" || { echo "$CARRY/ is not ignored by git" >&2; exit 1; }

# what travels besides _carry/: tracked and untracked, not ignored files
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- |
       tail -1 | cut -f1)
carry=$(du -sb "$CARRY" | cut -f1)
echo "carry: $carry bytes in $CARRY/, working tree: $tree bytes (limit 64 MiB together)"
[ $((carry + tree)) -le $LIMIT ] || { echo "over ${LIMIT} bytes" >&2; exit 1; }
ls -l "$CARRY/wheels" "$CARRY/fashion-mnist"
echo
echo "On the GPU machine, from the repository root, with $CARRY/ carried along:"
python examples/benchmarks/gpu_check.py --print-command
