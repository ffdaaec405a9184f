#!/bin/sh
# Installs the Debian packages kalam needs to build and test, whichever are
# missing. Run as root it uses apt-get; otherwise it names what to install.
# Called by `make deps`, which `make test`, `make demo` and `make bench` run first.
set -eu

pkgs="build-essential pkg-config libsqlite3-dev sqlite3 librocksdb-dev libcjson-dev tcl libsqlite3-tcl"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "kalam: installing missing packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "kalam: missing packages:$missing" >&2
  echo "kalam: install them with: sudo apt-get install$missing" >&2
  exit 1
fi
