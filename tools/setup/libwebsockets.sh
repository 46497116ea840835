#!/usr/bin/env bash
# Build libwebsockets (static, with libevent and IPv6) from Debian's own source package.
#
# Usage: tools/setup/libwebsockets.sh PREFIX_DIR
#
# Installs into PREFIX_DIR/libwebsockets-4.1.6-3 and prints that (absolute)
# prefix as the last line on stdout. If the system's libwebsockets already has
# libevent and IPv6 support, prints `system` and builds nothing. A stamp file in the
# prefix records the pinned checksums and configure flags: when it matches,
# nothing is downloaded or rebuilt. Progress goes to stderr, build output to
# PREFIX_DIR/logs/.
#
# The source is fetched with apt-get through a private apt configuration
# (PREFIX_DIR/apt) with deb-src entries derived from the machine's own apt
# sources, so the system's apt setup is left untouched.
set -euo pipefail

LWS_DEBIAN_VERSION=4.1.6-3
NAME=libwebsockets-$LWS_DEBIAN_VERSION

# Pinned source files (name sha256), checked after download.
SOURCE_FILES=(
  "libwebsockets_4.1.6-3.dsc 5084ff62d072edd9f4d6740979cea07bf9a23c72ed8c869a5c2c1b51466c435d"
  "libwebsockets_4.1.6.orig.tar.gz 402e9a8df553c9cd2aff5d7a9758e9e5285bf3070c82539082864633db3deb83"
  "libwebsockets_4.1.6-3.debian.tar.xz 8f141b844dcabdcae8ca7bc62b772ad071e73e3c77533cfc62519a8841cf1f5e"
)
DSC=libwebsockets_4.1.6-3.dsc

CMAKE_FLAGS=(
  -G "Unix Makefiles"
  -DLWS_WITH_LIBEVENT=ON
  -DLWS_WITH_EVLIB_PLUGINS=OFF
  -DDISABLE_WERROR=ON
  -DLWS_WITH_SHARED=OFF
  -DLWS_WITH_STATIC=ON
  -DLWS_WITHOUT_TESTAPPS=ON
  -DLWS_WITH_MINIMAL_EXAMPLES=OFF
  -DLWS_WITH_SSL=ON
  -DLWS_WITH_HTTP2=OFF
  -DLWS_IPV6=ON
  -DLWS_STATIC_PIC=ON
  -DCMAKE_BUILD_TYPE=Release
)
JOBS=2

log() { echo "libwebsockets: $*" >&2; }
die() { echo "libwebsockets: error: $*" >&2; exit 1; }

if (( $# != 1 )) || [[ -z $1 || $1 == -* ]]; then
  echo "usage: $0 PREFIX_DIR" >&2
  exit 2
fi

# has_define FILE NAME: lws_config.h FILE defines NAME.
has_define() { grep -Eq "^[[:space:]]*#[[:space:]]*define[[:space:]]+$2([[:space:]]|\$)" "$1"; }
has_libevent() { has_define "$1" LWS_WITH_LIBEVENT; }
has_ipv6() { has_define "$1" LWS_WITH_IPV6; }

# --- a system libwebsockets with libevent and IPv6 support wins -------------
system_lws_ok() {
  command -v pkg-config >/dev/null 2>&1 || return 1
  pkg-config --exists libwebsockets 2>/dev/null || return 1
  local dirs=() d flag
  d=$(pkg-config --variable=includedir libwebsockets 2>/dev/null || true)
  [[ -n $d ]] && dirs+=("$d")
  for flag in $(pkg-config --cflags-only-I libwebsockets 2>/dev/null || true); do
    dirs+=("${flag#-I}")
  done
  dirs+=(/usr/include /usr/local/include)
  for d in "${dirs[@]}"; do
    if [[ -f $d/lws_config.h ]]; then
      has_libevent "$d/lws_config.h" && has_ipv6 "$d/lws_config.h"
      return
    fi
  done
  return 1
}

if system_lws_ok; then
  echo system
  exit 0
fi

# --- layout ------------------------------------------------------------------
mkdir -p "$1"
PREFIX_DIR=$(cd "$1" && pwd)
PREFIX=$PREFIX_DIR/$NAME
STAMP=$PREFIX/.sentinel-lws-stamp
APT_DIR=$PREFIX_DIR/apt
DL_DIR=$PREFIX_DIR/download/$NAME
SRC_DIR=$PREFIX_DIR/src/$NAME
BUILD_DIR=$PREFIX_DIR/build/$NAME
LOG_DIR=$PREFIX_DIR/logs

stamp_content() {
  local entry
  echo "libwebsockets $LWS_DEBIAN_VERSION"
  for entry in "${SOURCE_FILES[@]}"; do
    echo "sha256 $entry"
  done
  printf 'cmake'
  printf ' %q' "${CMAKE_FLAGS[@]}" "-DCMAKE_INSTALL_PREFIX=$PREFIX"
  printf '\n'
}

cache_ok() {
  [[ -f $STAMP && -f $PREFIX/include/lws_config.h && -f $PREFIX/lib/libwebsockets.a ]] &&
    [[ $(cat "$STAMP") == "$(stamp_content)" ]]
}

if cache_ok; then
  echo "$PREFIX"
  exit 0
fi

# One builder at a time; re-check once we hold the lock.
exec 9>"$PREFIX_DIR/.libwebsockets.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if cache_ok; then
    echo "$PREFIX"
    exit 0
  fi
fi

for tool in apt-get dpkg-source sha256sum cmake make cc; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; run tools/setup/deps.sh first"
done

mkdir -p "$LOG_DIR"

# run LOGFILE CMD... : run CMD with output to LOGFILE; on failure show its tail.
run() {
  local logfile=$1
  shift
  if ! "$@" >"$logfile" 2>&1; then
    echo "libwebsockets: error: command failed: $*" >&2
    echo "---- last 40 lines of $logfile ----" >&2
    tail -n 40 "$logfile" >&2
    echo "----" >&2
    exit 1
  fi
}

# sources_ok: 0 when every pinned file is in DL_DIR with the right checksum.
# With "report", print each mismatch.
sources_ok() {
  local entry file want got ok=0
  for entry in "${SOURCE_FILES[@]}"; do
    file=${entry%% *}
    want=${entry##* }
    if [[ ! -f $DL_DIR/$file ]]; then
      [[ ${1:-} == report ]] && echo "libwebsockets: error: $file was not downloaded" >&2
      ok=1
      continue
    fi
    got=$(sha256sum "$DL_DIR/$file")
    got=${got%% *}
    if [[ $got != "$want" ]]; then
      if [[ ${1:-} == report ]]; then
        echo "libwebsockets: error: sha256 mismatch for $file" >&2
        echo "  expected $want" >&2
        echo "  got      $got" >&2
      fi
      ok=1
    fi
  done
  return $ok
}

# --- private apt configuration with deb-src entries --------------------------
setup_private_apt() {
  local lists=$APT_DIR/sources.list.d f
  mkdir -p "$lists" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  rm -f "$lists"/*

  # deb822 files: keep the stanzas that have type deb, as deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        out = ""; isdeb = 0
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          if (tolower(line) ~ /^types:/) {
            n = split(substr(line, index(line, ":") + 1), t, /[ \t]+/)
            for (j = 1; j <= n; j++) if (t[j] == "deb") isdeb = 1
            line = "Types: deb-src"
          }
          out = out line "\n"
        }
        if (isdeb) printf "%s\n", out
      }' "$f"
  done >"$lists/src.sources"

  # one-line format files: deb lines become deb-src lines.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -n -E 's/^[[:space:]]*deb([[:space:]]+)/deb-src\1/p' "$f"
  done >"$lists/src.list"

  [[ -s $lists/src.sources ]] || rm -f "$lists/src.sources"
  [[ -s $lists/src.list ]] || rm -f "$lists/src.list"
  compgen -G "$lists/*" >/dev/null ||
    die "no deb entries found in /etc/apt/sources.list{,.d/} to derive deb-src entries from"
}

apt_private() {
  apt-get \
    -o Dir::Etc::SourceList=/dev/null \
    -o Dir::Etc::SourceParts="$APT_DIR/sources.list.d" \
    -o Dir::State::Lists="$APT_DIR/lists" \
    -o Dir::Cache="$APT_DIR/cache" \
    -o Debug::NoLocking=1 \
    "$@"
}

download_sources() {
  local entry
  setup_private_apt
  log "fetching Debian source package $NAME (log: $LOG_DIR/libwebsockets-apt.log)"
  mkdir -p "$DL_DIR"
  for entry in "${SOURCE_FILES[@]}"; do
    rm -f "$DL_DIR/${entry%% *}"
  done
  run "$LOG_DIR/libwebsockets-apt-update.log" apt_private update
  (cd "$DL_DIR" && run "$LOG_DIR/libwebsockets-apt.log" \
    apt_private source --download-only "libwebsockets=$LWS_DEBIAN_VERSION")
}

if ! sources_ok; then
  download_sources
  sources_ok report || die "downloaded source files do not match the pinned checksums (see above)"
fi

# --- unpack, configure, build, install ---------------------------------------
# Keep a parent make (jobserver, -n, -s, ...) and the environment out of this build.
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR CMAKE_GENERATOR

log "building $NAME into $PREFIX (logs: $LOG_DIR/libwebsockets-*.log)"
rm -rf "$SRC_DIR" "$BUILD_DIR"
mkdir -p "$(dirname "$SRC_DIR")" "$BUILD_DIR"
run "$LOG_DIR/libwebsockets-unpack.log" dpkg-source -x "$DL_DIR/$DSC" "$SRC_DIR"

run "$LOG_DIR/libwebsockets-configure.log" \
  cmake -S "$SRC_DIR" -B "$BUILD_DIR" "${CMAKE_FLAGS[@]}" "-DCMAKE_INSTALL_PREFIX=$PREFIX"
run "$LOG_DIR/libwebsockets-build.log" make -C "$BUILD_DIR" -j"$JOBS"
rm -rf "$PREFIX"
run "$LOG_DIR/libwebsockets-install.log" make -C "$BUILD_DIR" install

[[ -f $PREFIX/include/lws_config.h ]] ||
  die "$PREFIX/include/lws_config.h was not installed"
has_libevent "$PREFIX/include/lws_config.h" ||
  die "$PREFIX/include/lws_config.h lacks '#define LWS_WITH_LIBEVENT': libevent support was not built (see $LOG_DIR/libwebsockets-configure.log)"
has_ipv6 "$PREFIX/include/lws_config.h" ||
  die "$PREFIX/include/lws_config.h lacks '#define LWS_WITH_IPV6': IPv6 support was not built (see $LOG_DIR/libwebsockets-configure.log)"
[[ -f $PREFIX/lib/libwebsockets.a ]] ||
  die "$PREFIX/lib/libwebsockets.a was not installed"

stamp_content >"$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
rm -rf "$BUILD_DIR" "$SRC_DIR"
log "installed $NAME"
echo "$PREFIX"
