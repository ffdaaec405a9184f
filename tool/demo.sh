#!/bin/sh
# A scripted tour of kalam in the stock sqlite3 shell (run by `make demo`).
# It works on demo/demo.db beside the repository and starts afresh each time.
set -eu
cd "$(dirname "$0")/.."
mkdir -p demo
rm -rf demo/demo.db demo/demo.db-kalam demo/demo.db-journal
exec sqlite3 -echo -header -column demo/demo.db < tool/demo.sql
