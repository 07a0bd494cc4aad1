#!/usr/bin/env bash
# Opt-in mutation testing of pltvm-core with cargo-mutants (configuration: .cargo/mutants.toml;
# results and the reasons survivors are accepted: docs/mutation-testing.md).
# Not run by CI. Each mutant is a rebuild plus pltvm-core's test suite, about 20-40 s on two
# cores, so run a few files at a time:
#
#   scripts/mutants.sh rust/core/src/mmu/sv39.rs          # one file
#   scripts/mutants.sh rust/core/src/hart/csr.rs -- --re 'legal_pmpcfg|csr_access'
#   MUTANTS_TIMEOUT=3600 scripts/mutants.sh               # everything in the config, for an hour
#
# Arguments before `--` are files to mutate (default: the config's examine_globs); arguments
# after it go to cargo-mutants. The tree is copied (never mutated in place), so it is safe to
# keep working meanwhile. Results: $MUTANTS_OUT/mutants.out (default target/mutants), with
# missed.txt listing the mutants no test caught. Stopped by the timeout, cargo-mutants still
# writes what it has.
set -euo pipefail
VERSION=27.1.0
cd "$(dirname "$0")/.."

if ! cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $VERSION"; then
    cargo install cargo-mutants --version "$VERSION" --locked
fi

files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    files+=(--file "$1")
    shift
done
[ "${1:-}" = "--" ] && shift

out="${MUTANTS_OUT:-target/mutants}"
mkdir -p "$out"
cmd=(cargo mutants --package pltvm-core --jobs 1 --output "$out" "${files[@]}" "$@")
if [ -n "${MUTANTS_TIMEOUT:-}" ]; then
    cmd=(timeout --signal=INT --kill-after=60 "$MUTANTS_TIMEOUT" "${cmd[@]}")
fi
exec "${cmd[@]}"
