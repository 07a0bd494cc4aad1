#!/bin/sh
# Builds riscv-tests' rv64mi-p-* programs from a riscv-tests checkout (with its env submodule)
# into OUT_DIR (default tests/riscv-tests/build, not tracked by git):
#   tests/riscv-tests/build.sh /path/to/riscv-tests [OUT_DIR]
# then run them: PLTVM_RISCV_TESTS_DIR=OUT_DIR python3 -m pytest tests/test_riscv_tests.py
# Flags as riscv-tests' isa/Makefile uses them for the "p" (physical, M-mode) environment, plus
# --build-id=none so the ELFs do not depend on the build machine.
set -eu
src=${1:?usage: build.sh RISCV_TESTS_CHECKOUT}
out=${2:-$(cd "$(dirname "$0")" && pwd)/build}
CC=${CROSS:-riscv64-unknown-elf-}gcc
mkdir -p "$out"
for s in "$src"/isa/rv64mi/*.S; do
    n=$(basename "$s" .S)
    $CC -march=rv64g_zicsr_zifencei -mabi=lp64d -static -mcmodel=medany -fvisibility=hidden \
        -nostdlib -nostartfiles -Wl,--build-id=none -I"$src/env/p" -I"$src/isa/macros/scalar" \
        -T"$src/env/p/link.ld" "$s" -o "$out/rv64mi-p-$n.elf"
done
