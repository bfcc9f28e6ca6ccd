#!/usr/bin/env bash
# Checks that the AVX-512 / AVX2 clones of the element-wise kernels (libsbert/src/cpu/simd.h) give
# the same bits as the baseline loops: builds the library a second time with the clones off
# (-DSBERT_SIMD_CLONES=), then compares an embedding run and a 3-step fine-tune (dropout on)
# bitwise between the two builds. Run on an AVX2 machine, from the repository root, after
# scripts/fetch-model.sh and tools/scifact/prepare.py --demo (the demo's data).
#   tools/simd/check_clones.sh [BUILD]     BUILD: the normal build folder (default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
BASE=${BASE:-build-noclones}
MODEL=models/all-MiniLM-L6-v2
grep -q avx2 /proc/cpuinfo || { echo "check_clones: this CPU has no AVX2; nothing to compare"; exit 0; }
cmake -S . -B "$BASE" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=OFF -DSBERT_BUILD_TESTS=OFF \
  "-DCMAKE_CXX_FLAGS=-DSBERT_SIMD_CLONES=" > /dev/null
cmake --build "$BASE" -j --target sbert-embed sbert-finetune > /dev/null
cmake --build "$BUILD" -j --target sbert-embed sbert-finetune > /dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for b in "$BUILD" "$BASE"; do
  n=$(basename "$b")
  "$b/bin/sbert-embed" --model "$MODEL" --input tests/data/texts.jsonl --output "$TMP/$n.npy" \
    --threads 2 2> /dev/null
  "$b/bin/sbert-finetune" --config-path conf --config-name demo trainer.max_steps=3 \
    trainer.threads=2 trainer.num_sanity_val_steps=0 trainer.val_check_interval=1000 \
    model.global_batch_size=8 model.micro_batch_size=4 "exp_manager.explicit_log_dir=$TMP/ft-$n" \
    2> /dev/null
done
a=$(basename "$BUILD") z=$(basename "$BASE")
cmp "$TMP/$a.npy" "$TMP/$z.npy"
cmp "$TMP/ft-$a/checkpoints/step-00000003/model.safetensors" \
  "$TMP/ft-$z/checkpoints/step-00000003/model.safetensors"
echo "check_clones: embeddings and 3 training steps are bitwise equal with and without the AVX2 clones"
