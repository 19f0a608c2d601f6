#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine: the LLVM/MLIR 22 toolchain from the
# distribution's packages, then the npm dependencies (no install scripts:
# onnxruntime-node's postinstall would try to download GPU binaries).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mlir-22-tools llvm-22 lld-22 clang-22 libmlir-22-dev libomp-22-dev)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/lib/llvm-22/bin/mlir-opt --version | head -2

ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund
npm run build
