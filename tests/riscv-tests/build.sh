#!/bin/sh
# Rebuilds tests/riscv-tests/rv64mi/*.elf from a riscv-tests checkout (with its env submodule):
#   tests/riscv-tests/build.sh /path/to/riscv-tests
# Flags as riscv-tests' isa/Makefile uses them for the "p" (physical, M-mode) environment, plus
# --build-id=none so the ELFs do not depend on the build machine.
set -eu
src=${1:?usage: build.sh RISCV_TESTS_CHECKOUT}
out=$(cd "$(dirname "$0")" && pwd)/rv64mi
CC=${CROSS:-riscv64-unknown-elf-}gcc
mkdir -p "$out"
for s in "$src"/isa/rv64mi/*.S; do
    n=$(basename "$s" .S)
    $CC -march=rv64g_zicsr_zifencei -mabi=lp64d -static -mcmodel=medany -fvisibility=hidden \
        -nostdlib -nostartfiles -Wl,--build-id=none -I"$src/env/p" -I"$src/isa/macros/scalar" \
        -T"$src/env/p/link.ld" "$s" -o "$out/rv64mi-p-$n.elf"
done
