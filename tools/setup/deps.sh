#!/usr/bin/env bash
# Install the Debian packages sentinel-logd needs, if any is missing.
#
# Usage: tools/setup/deps.sh [GROUP...]
#   (no group)  build + run packages
#   test        also the test-only packages, and the pinned npm packages of
#               tests/js/package.json (ws; pino and pino-loki, a Loki client
#               library) in tests/js/node_modules
#   bench       the peers `make bench-peers` measures beside sentinel-logd:
#               nats-server (JetStream), nginx with its nchan module
#
# As root, missing packages are installed with apt-get. Otherwise the one
# `sudo apt-get install` command that would install them is printed and the
# script exits 1. Nothing is printed when nothing is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# libsystemd-dev: sd_notify for Type=notify; file and dpkg-dev: `make deb`
# (CPack finds the binaries' library dependencies with them).
BASE_PKGS=(
  build-essential cmake pkg-config
  libsqlite3-dev sqlite3 libjansson-dev libevent-dev libssl-dev libcap-dev zlib1g-dev
  libnats-dev libsystemd-dev
  dpkg-dev file ca-certificates
)
# chromium: the dashboard's browser test (the emoji font makes its screenshot
# show the example events' emoji); nats-server: the cluster tests;
# clang-format: `make format-check`, which `make test` runs first.
# systemd: systemd-analyze, systemd-sysusers and systemd-tmpfiles check the
# unit and its files (systemd need not be running). man-db: the manual
# pages' test renders them. syslog-ng: the shippers' test runs the real
# syslog-ng with the README's recipe (its http() destination is in
# syslog-ng-mod-http).
TEST_PKGS=(python3-websockets nodejs npm chromium fonts-noto-color-emoji nats-server clang-format
  systemd man-db syslog-ng-core syslog-ng-mod-http)

# make bench-peers: the servers measured beside ours (libnats, for
# sentinel-bench's JetStream scenarios, is a build package above).
BENCH_PKGS=(nats-server nginx libnginx-mod-nchan)

# The npm packages the tests use, pinned (as in tests/js/package.json).
NPM_PINS=(ws@8.18.0 pino@10.4.0 pino-loki@3.0.0)
JS_DIR=$ROOT/tests/js

die() { echo "deps.sh: $*" >&2; exit 1; }

usage() {
  echo "usage: $0 [test] [bench]" >&2
  exit 2
}

want=("${BASE_PKGS[@]}")
with_test=0
for group in "$@"; do
  case $group in
    test)
      if (( ! with_test )); then
        with_test=1
        want+=("${TEST_PKGS[@]}")
      fi
      ;;
    bench) want+=("${BENCH_PKGS[@]}") ;;
    -h | --help) usage ;;
    *) echo "deps.sh: unknown package group '$group' (known: test, bench)" >&2; usage ;;
  esac
done

# A command that exists and answers --version.
works() { command -v "$1" >/dev/null 2>&1 && "$1" --version >/dev/null 2>&1; }

is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
  [[ $status == *" ok installed" ]] && return 0
  # node/npm may come from a non-Debian package (or a bundled npm): a
  # working binary on PATH is good enough.
  case $1 in
    nodejs) works node ;;
    npm) works npm ;;
    *) return 1 ;;
  esac
}

missing=()
for pkg in "${want[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if (( ${#missing[@]} )); then
  if (( EUID != 0 )); then
    echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "deps.sh: installing ${missing[*]}" >&2
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  for pkg in "${missing[@]}"; do
    is_installed "$pkg" || die "package $pkg is still missing after apt-get install"
  done
fi

(( with_test )) || exit 0

# --- npm: the pinned packages, into tests/js/node_modules ------------------
npm_installed_version() {
  local pj=$JS_DIR/node_modules/$1/package.json
  [[ -f $pj ]] || return 0
  node -e 'try { process.stdout.write(String(require(process.argv[1]).version)); } catch (e) {}' "$pj"
}

npm_missing() {
  local pin
  for pin in "${NPM_PINS[@]}"; do
    [[ $(npm_installed_version "${pin%@*}") == "${pin##*@}" ]] || return 0
  done
  return 1
}

if npm_missing; then
  [[ -f $JS_DIR/package.json ]] || die "tests/js/package.json is missing"
  echo "deps.sh: installing npm packages ${NPM_PINS[*]} into tests/js/node_modules" >&2
  (cd "$JS_DIR" && npm install --no-package-lock --no-audit --no-fund)
  for pin in "${NPM_PINS[@]}"; do
    got=$(npm_installed_version "${pin%@*}")
    [[ $got == "${pin##*@}" ]] ||
      die "expected ${pin%@*} ${pin##*@} in tests/js/node_modules, found '${got:-none}' (check tests/js/package.json)"
  done
fi
