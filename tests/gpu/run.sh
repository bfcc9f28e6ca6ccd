#!/usr/bin/env bash
# GPU checks, on a machine with an NVIDIA GPU: build with CUDA (and NCCL), then run the tests
# tagged [cuda] and [nccl] -- once as a plain process, once under `mpirun -np 1` (the MPI host
# communicator under NCCL) when mpirun is there.
#   tests/gpu/run.sh            build dir: build-gpu/
#   BUILD_DIR=b tests/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-gpu}
export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target sbert_tests sbert-finetune
nvidia-smi -L
"$BUILD_DIR/bin/sbert_tests" "[cuda],[nccl]"
if command -v mpirun >/dev/null; then
  mpirun --allow-run-as-root -np 1 "$BUILD_DIR/bin/sbert_tests" "[nccl]"
fi
echo "tests/gpu/run.sh: GPU tests passed"
