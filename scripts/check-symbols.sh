#!/usr/bin/env bash
# Compares the symbols libsbert.so exports with abi/exported-symbols.txt, so that an API change
# is a deliberate edit of that file. Only defined dynamic symbols of namespace sbert count
# (demangled; "typeinfo for", "vtable for" kept), one per line, sorted: the same list for a CPU
# and a CUDA build, since everything but the public API is hidden (-fvisibility=hidden).
#   scripts/check-symbols.sh build/lib/libsbert.so            # exit 1 and a diff when different
#   scripts/check-symbols.sh build/lib/libsbert.so --update   # rewrite the list
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:?usage: scripts/check-symbols.sh LIBSBERT.so [--update]}
list=abi/exported-symbols.txt
actual=$(nm -D --defined-only -C "$lib" |
  sed -E 's/^[0-9a-fA-F]* *[A-Za-z] //' |
  grep -E '^((typeinfo name for|typeinfo for|vtable for) )?sbert::' |
  LC_ALL=C sort -u)
if [[ ${2:-} == --update ]]; then
  printf '%s\n' "$actual" >"$list"
  echo "$list: $(wc -l <"$list") symbols"
  exit 0
fi
if ! diff -u "$list" <(printf '%s\n' "$actual"); then
  echo "check-symbols: $lib exports a different API than $list (lines + are new, - are gone)." >&2
  echo "check-symbols: if the change is meant, run scripts/check-symbols.sh $lib --update" >&2
  exit 1
fi
echo "check-symbols: $lib exports the $(wc -l <"$list") symbols of $list"
