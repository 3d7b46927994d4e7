#!/usr/bin/env bash
# Installs every Debian 12 package irqdiff needs to build, test and run its notebooks.
# Idempotent: asks dpkg which packages are missing and installs only those. Extra package names
# given as arguments are added (make bench-machine: qemu-system-arm, the QEMU TCG peer).
# As root it runs apt-get itself; otherwise it prints the exact command to run and exits 1.
# The package list and versions are those checked on bookworm (docs: ../shared/reference/toolchain_debian.md §1, §11).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache
  # guest programs (docs/guests.md): AArch64 assembler and linker; x86-64 uses the host binutils
  binutils binutils-aarch64-linux-gnu
  # machine mode (docs/machine.md): the device tree library, dtc for its tests, and the AArch64
  # cross compiler for the freestanding test guests in tests/machine/guests/
  libfdt-dev device-tree-compiler gcc-aarch64-linux-gnu
  # fuzzing and coverage (docs/fuzzing.md): `make fuzz` builds the libFuzzer targets with clang 14 and
  # its sanitizer/libFuzzer runtimes (libclang-rt-14-dev); `make coverage` reports with gcovr. CI
  # runs a fuzz smoke after `make test`
  clang libclang-rt-14-dev gcovr
  # C++ libraries
  libunicorn-dev libcapstone-dev pybind11-dev python3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  # Python: tests, notebooks, analysis, sweeps
  python3-pytest python3-numpy python3-pandas python3-matplotlib
  jupyter-nbconvert python3-nbclient python3-nbformat python3-ipykernel
  python3-dask python3-distributed python3-tqdm
)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root:" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${cmd[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
"${cmd[@]}"
