#!/bin/sh
# Makes sure that what kalam needs to build and test is there. Called by
# `make deps`, which `make test`, `make demo` and `make bench` run first.
#
# On Debian the needs are the packages below. Whatever dpkg says, they are
# also met when the tools are on PATH and pkg-config finds the libraries
# (in any prefix PKG_CONFIG_PATH names): nothing is installed then. Else,
# run as root with apt-get, it installs the missing packages; otherwise it
# prints the exact `apt-get install` line (or, without dpkg, what is
# missing) and fails.
set -eu

pkgs="build-essential pkg-config libsqlite3-dev sqlite3 librocksdb-dev libcjson-dev libzstd-dev tcl libsqlite3-tcl"
libs="sqlite3 rocksdb libcjson libzstd"

# The Debian packages of $pkgs that dpkg does not list as installed (all of
# them where there is no dpkg).
debian_missing() {
  for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      printf ' %s' "$p"
    fi
  done
}

# What is missing whatever installed it: one line per need, empty if none.
found_missing() {
  cc="${CC:-cc}"
  command -v "$cc" >/dev/null 2>&1 || echo "a C compiler ($cc)"
  command -v make >/dev/null 2>&1 || echo "make"
  if command -v pkg-config >/dev/null 2>&1; then
    for l in $libs; do
      pkg-config --exists "$l" 2>/dev/null || echo "$l (pkg-config does not find $l.pc)"
    done
  else
    echo "pkg-config"
  fi
  command -v sqlite3 >/dev/null 2>&1 || echo "the sqlite3 shell"
  if command -v tclsh >/dev/null 2>&1; then
    echo 'if {[catch {package require sqlite3}]} {exit 1}' | tclsh >/dev/null 2>&1 ||
      echo "SQLite's Tcl package (package require sqlite3 fails in tclsh)"
  else
    echo "tclsh"
  fi
}

missing=$(debian_missing)
[ -z "$missing" ] && exit 0

needs=$(found_missing)
[ -z "$needs" ] && exit 0

hint="kalam: libraries in another prefix are found through pkg-config: PKG_CONFIG_PATH=<prefix>/lib/pkgconfig make test (README.md, Building without root)"
if command -v dpkg-query >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kalam: installing missing packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
      exit 0
    fi
    echo "kalam: apt-get failed; install the packages with: apt-get install$missing" >&2
    exit 1
  fi
  echo "kalam: missing packages:$missing" >&2
  echo "kalam: install them with: sudo apt-get install$missing" >&2
else
  echo "kalam: not found:" >&2
  echo "$needs" | sed 's/^/kalam:   /' >&2
  echo "kalam: on Debian or Ubuntu: sudo apt-get install$missing" >&2
fi
echo "$hint" >&2
exit 1
