#!/usr/bin/env bash
# Build the Debian package of sentinel-logd: configure BUILD_DIR for the
# prefix /usr without the tests, build it, let CPack make the package, and
# print the package's path (the only line on standard output).
#
# Usage: tools/packaging/build-deb.sh BUILD_DIR [LWS_PREFIX]
#   LWS_PREFIX  the libwebsockets build to link (tools/setup/libwebsockets.sh);
#               empty: the system's
# JOBS (default 2) is the number of parallel compile jobs.
set -euo pipefail

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 BUILD_DIR [LWS_PREFIX]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$1
LWS=${2:-}

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DSENTINEL_BUILD_TESTS=OFF -DLWS_PREFIX="$LWS" >&2
cmake --build "$BUILD" -j"${JOBS:-2}" >&2
rm -f "$BUILD"/sentinel-logd_*.deb
(cd "$BUILD" && cpack -G DEB >&2)
debs=("$BUILD"/sentinel-logd_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || { echo "build-deb.sh: CPack made no package" >&2; exit 1; }
printf '%s\n' "${debs[0]}"
