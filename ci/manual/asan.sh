#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the _core fuzz test, the Ctrl-C
# test and the engine test files.  Run by hand (and before a release); it is not part
# of .ci/run, whose loop runs ci/*.sh only (this file is in ci/manual/).  It builds
# _core with the sanitizers (RelWithDebInfo, no LTO) into BUILD_DIR, puts it next to a
# copy of the Python package, and runs pytest against that copy with libasan and
# libstdc++ preloaded (without libstdc++ the first C++ throw kills the process).
#
#   ci/manual/asan.sh                      # default test selection (fast suite of the engines)
#   ci/manual/asan.sh -m slow tests/test_core_fuzz.py   # the long fuzz run (pytest arguments)
#
# Environment: BUILD_DIR (default build/asan in the source tree), PYTHON (default python),
# JOBS (parallel compile jobs, default 2).  A full build takes several minutes.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build/asan}
py=${PYTHON:-python}
pyexe=$("$py" -c 'import sys; print(sys.executable)')
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF \
  -DSKBUILD=1 -DPython_EXECUTABLE="$pyexe" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" \
  -DCMAKE_CXX_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" >/dev/null
cmake --build "$build" -j "${JOBS:-2}"

pkg=$build/pkg
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r "$root/python/ridgeline" "$pkg/"
rm -f "$pkg"/ridgeline/_core*.so
ln -s "$build"/_core*.so "$pkg/ridgeline/"

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
# detect_leaks=0: CPython's own interpreter state is reported as leaked.  A huge allocation
# from numpy returns NULL (MemoryError) instead of an ASan report.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=2048
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH=$pkg
cd "$root"
if [ $# -eq 0 ]; then
  set -- tests/test_core_fuzz.py tests/test_interrupt.py tests/test_random.py tests/test_common.py \
    tests/test_core_nested.py tests/test_core_elbo.py tests/test_core_spectra.py \
    tests/test_nested.py tests/test_nested_badinput.py tests/test_nested_reliability.py tests/test_nested_dynamic.py \
    tests/test_nested_slice.py tests/test_nested_scale.py tests/test_elbo.py tests/test_pbt_elbo.py \
    tests/test_cluster.py tests/test_cluster_sklearn.py tests/test_spectra.py tests/test_spectra_digits.py \
    tests/test_determinism.py tests/test_nested_speed.py tests/test_spectra_float32.py tests/test_spectra_torch_loader.py \
    tests/test_cluster_quality.py \
    --deselect "tests/test_nested_reliability.py::test_ctrl_c_at_random_moments_then_run_again_is_bit_identical"
  # (that test interrupts a run every 2-20 ms, 200 times at most: too few for the run to end at ASan's speed)
fi
"$pyexe" -c 'import ridgeline, sys; print("ridgeline from", ridgeline.__file__, file=sys.stderr)'
exec "$pyexe" -m pytest -p no:cacheprovider -q "$@"
