#!/usr/bin/env bash
# tests/gpu/bundle.sh DIR: the prebuilt GPU check. Builds HERE (nvcc needed, no GPU needed)
# everything the GPU check runs and puts it in DIR, so that a GPU machine with only an NVIDIA
# driver, CUDA 13's runtime libraries and a Python with PyTorch (no compilers, no -dev packages,
# no network) runs it with `bash DIR/run.sh` (docs/gpu.md):
#
#   DIR/run.sh             the check (tests/gpu/bundle_run.sh)
#   DIR/bin/               sbert_tests, the apps (sbert-bench, ...), sbert-gpu-query (the device
#                          check: static CUDA runtime, needs only the driver); stripped; RUNPATH
#                          $ORIGIN/../lib
#   DIR/lib/               libsbert.so.0 and every shared library the binaries need EXCEPT the
#                          C/C++ runtime (glibc, libstdc++, libgcc_s) and CUDA's own (cudart,
#                          cuBLAS/cuBLASLt, cuDNN, NCCL, nvrtc, the driver): OpenBLAS (+ gfortran,
#                          quadmath), libgomp, yaml-cpp, simdjson, utf8proc
#   DIR/src/               what the tests and benchmarks read: tests/fixtures/tiny-* (the
#                          [nccl] test's model, the four architectures of the [cuda] embed
#                          test; tiny-bert is also the tokenizer of sbert-bench's lenN
#                          workloads), tests/data, benchmarks/pytorch/*.py
#   DIR/MANIFEST.txt       commit, build flags, glibc/libstdc++ versions required, file sizes
# and DIR.tar.xz, the archive to carry to the GPU machine (`tar xJf DIR.tar.xz` there).
#
# Then it checks its work and exits non-zero when a check fails: DIR.tar.xz under 60 MiB (the
# GPU machine takes at most 64 MiB with the command), and `ldd` of every binary and library in DIR,
# with LD_LIBRARY_PATH=DIR/lib, resolving only into DIR/lib, the C/C++ runtime or CUDA's own.
#
#   tests/gpu/bundle.sh /tmp/g
#   (env: BUILD_DIR=build-bundle JOBS=nproc NVCC=/usr/local/cuda/bin/nvcc CUDA_ARCHS="80;90a")
# A cold build takes about 4-5 minutes on 2 cores (ccache makes a rebuild seconds).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: tests/gpu/bundle.sh DIR" >&2; exit 2; }
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DEST=$(mkdir -p "$1" && cd "$1" && pwd)
# DIR is emptied of what an earlier bundle.sh put there: never / or the repo root; inside the
# checkout only a git-ignored folder (e.g. one in .git/info/exclude, to carry it to a GPU machine).
if [ "$DEST" = / ] || [ "$DEST" = "$ROOT" ]; then
  echo "bundle.sh: refusing DIR=$DEST" >&2
  exit 2
fi
if [[ $DEST == "$ROOT"/* ]] && ! git check-ignore -q "$DEST"; then
  echo "bundle.sh: $DEST is inside the checkout but not ignored by git: add it to .git/info/exclude" >&2
  exit 2
fi
BUILD=${BUILD_DIR:-$ROOT/build-bundle}  # /build*/ is gitignored
JOBS=${JOBS:-$(nproc)}
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
# Machine code for the A100 (sm_80) and Hopper (sm_90a: H100/H200), PTX for compute_80 that the
# driver JIT-compiles on anything newer.
CUDA_ARCHS=${CUDA_ARCHS:-80;90a}
LIMIT_MIB=60
# Libraries that are not copied. The C/C++ runtime every Linux has (glibc's parts, libstdc++,
# libgcc_s), and CUDA's own, which come from the GPU machine's driver, CUDA install or Python's
# nvidia-* wheels (run.sh finds them).
SYSTEM_RE='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|libresolv\.so|libstdc\+\+\.so|libgcc_s\.so)'
CUDA_RE='^(libcuda\.so|libcudart\.so|libcublas\.so|libcublasLt\.so|libcudnn[a-z_]*\.so|libnccl\.so|libnvrtc[a-z.-]*\.so|libnvJitLink\.so)'

[ -x "$NVCC" ] || { echo "bundle.sh: nvcc not found at $NVCC (set NVCC)" >&2; exit 1; }
PATH=$(dirname "$NVCC"):$PATH
export PATH
LAUNCH=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCH=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi

# ---- 1. build ---------------------------------------------------------------------------------
# SBERT_MPI=OFF: there is no mpirun on the GPU machine, and it keeps OpenMPI out of the bundle.
# Install RPATH at build time: bin/* and lib/* find libsbert.so.0 in $ORIGIN/../lib, both in the
# build folder and in DIR (no patchelf needed). Everything else comes from LD_LIBRARY_PATH.
echo "bundle.sh: building in $BUILD (CUDA archs $CUDA_ARCHS, -j$JOBS)"
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=ON -DSBERT_MPI=OFF
  "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" -DCMAKE_CUDA_COMPILER="$NVCC"
  -DSBERT_BUILD_TESTS=ON -DSBERT_BUILD_APPS=ON -DSBERT_BUILD_BENCHMARKS=ON
  -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN/../lib')
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" "${CMAKE_FLAGS[@]}" "${LAUNCH[@]}" >"$BUILD/bundle-configure.log" 2>&1 \
  || { cat "$BUILD/bundle-configure.log" >&2; exit 1; }
grep -q "libsbert NCCL communicator: ON" "$BUILD/bundle-configure.log" \
  || { echo "bundle.sh: NCCL not found: the [nccl] tests would not be built" >&2; exit 1; }
cmake --build "$BUILD" -j "$JOBS"

# ---- 2. binaries ------------------------------------------------------------------------------
rm -rf "${DEST:?}"/{bin,lib,src,run.sh,MANIFEST.txt,results}
mkdir -p "$DEST/bin" "$DEST/lib" "$DEST/src"
for f in "$BUILD"/bin/*; do
  case $(basename "$f") in fma_peak | gemm_bench) continue ;; esac  # CPU-only benchmarks
  [ -f "$f" ] && [ -x "$f" ] && strip --strip-unneeded -o "$DEST/bin/$(basename "$f")" "$f"
done
# The real file under its SONAME (what the binaries ask for).
strip --strip-unneeded -o "$DEST/lib/libsbert.so.0" "$(readlink -f "$BUILD/lib/libsbert.so.0")"
# The device check: the static CUDA runtime (nvcc's default), so only libcuda.so.1 is needed.
"$NVCC" -O2 -cudart static -o "$DEST/bin/sbert-gpu-query" tests/gpu/gpu_query.cu
strip --strip-unneeded "$DEST/bin/sbert-gpu-query"

# ---- 3. the shared libraries they need --------------------------------------------------------
# ldd lists the whole closure (OpenBLAS -> gfortran -> quadmath too). Follow symlinks: copy the
# real file under the name the binaries ask for.
elfs() { find "$DEST/bin" "$DEST/lib" -type f -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print; }
for f in $(elfs); do
  LD_LIBRARY_PATH="$DEST/lib" ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $name =~ $SYSTEM_RE || $name =~ $CUDA_RE || $path == "$DEST"/* ]] && continue
  cp -L "$path" "$DEST/lib/$name"
  chmod u+w "$DEST/lib/$name"
  strip --strip-unneeded "$DEST/lib/$name" 2>/dev/null || true
done

# ---- 4. data, scripts, run.sh -----------------------------------------------------------------
mkdir -p "$DEST/src/tests/fixtures" "$DEST/src/benchmarks/pytorch"
cp -r tests/fixtures/tiny-bert tests/fixtures/tiny-bert-cls tests/fixtures/tiny-roberta \
      tests/fixtures/tiny-xlmr "$DEST/src/tests/fixtures/"
cp -r tests/data "$DEST/src/tests/"
cp benchmarks/pytorch/bench_torch.py benchmarks/pytorch/table.py "$DEST/src/benchmarks/pytorch/"
cp tests/gpu/bundle_run.sh "$DEST/run.sh"
chmod +x "$DEST/run.sh"

# ---- 5. manifest ------------------------------------------------------------------------------
maxver() { for f in $(elfs); do objdump -T "$f" 2>/dev/null | grep -o "$1[0-9.]*"; done | sort -uV | tail -1; }
{
  echo "libsbert GPU check bundle (tests/gpu/bundle.sh)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u '+%F %H:%M UTC') on $(. /etc/os-release && echo "$PRETTY_NAME"), $("$NVCC" --version | grep -o 'release [0-9.]*')"
  echo "cmake flags: ${CMAKE_FLAGS[*]}"
  echo "requires: glibc >= $(maxver GLIBC_ | sed 's/GLIBC_//'), libstdc++ >= $(maxver GLIBCXX_ | sed 's/GLIBCXX_//')"
  echo "          CUDA 13 runtime: libcudart.so.13 libcublasLt.so.13 libnccl.so.2; NVIDIA driver >= 580"
  echo "files (bytes):"
  (cd "$DEST" && find . -type f ! -name MANIFEST.txt -printf '%s\t%P\n' | sort -k2)
} >"$DEST/MANIFEST.txt"

# ---- 6. the archive that travels: DIR.tar.xz (OpenBLAS's every-core kernels compress well) ----
ARCHIVE="$DEST.tar.xz"
tar -C "$(dirname "$DEST")" -cf - "$(basename "$DEST")" | xz -T0 -6 >"$ARCHIVE"

# ---- 7. self-check ----------------------------------------------------------------------------
bad=0
unpacked=$(du -sb "$DEST" | cut -f1)
total=$(stat -c %s "$ARCHIVE")
mib=$(awk -v b="$total" 'BEGIN {printf "%.1f", b / 1048576}')
unpacked_mib=$(awk -v b="$unpacked" 'BEGIN {printf "%.1f", b / 1048576}')
if [ "$total" -ge $((LIMIT_MIB * 1048576)) ]; then
  echo "bundle.sh: FAIL: $ARCHIVE is $mib MiB, over the $LIMIT_MIB MiB limit" >&2
  bad=1
fi
for f in $(elfs); do
  while read -r line; do
    name=${line%% *}
    path=$(awk '{ if ($2 == "=>") print $3; else print $1 }' <<<"$line")
    if [[ $path == "$DEST"/* ]]; then continue; fi
    if [[ $name =~ $CUDA_RE ]]; then continue; fi           # found here or not: the GPU machine's
    if [[ $name =~ $SYSTEM_RE || $(basename "$path") =~ $SYSTEM_RE ]] && [[ $path != not ]]; then
      continue
    fi
    echo "bundle.sh: FAIL: ${f#"$DEST"/} needs $line (neither in the bundle, the C/C++ runtime nor CUDA's)" >&2
    bad=1
  done < <(LD_LIBRARY_PATH="$DEST/lib" ldd "$f" | sed 's/^[[:space:]]*//; s/ (0x[0-9a-f]*)$//' | grep -v '^statically linked')
done
if LD_LIBRARY_PATH="$DEST/lib" ldd "$DEST/bin/sbert-gpu-query" | grep -q libcudart; then
  echo "bundle.sh: FAIL: sbert-gpu-query links libcudart dynamically (it must need only the driver)" >&2
  bad=1
fi

echo "bundle.sh: $ARCHIVE: $mib MiB (limit $LIMIT_MIB MiB); $DEST unpacked: $unpacked_mib MiB"
(cd "$DEST" && du -sh bin lib src | sed 's/^/  /')
echo "  lib/: $(cd "$DEST/lib" && ls | tr '\n' ' ')"
grep '^requires' -A1 "$DEST/MANIFEST.txt" | sed 's/^/  /'
if [ $bad -ne 0 ]; then
  echo "bundle.sh: FAILED self-check (above)" >&2
  exit 1
fi
echo "bundle.sh: self-check passed (size, ldd). On the GPU machine: bash $DEST/run.sh (docs/gpu.md)"
