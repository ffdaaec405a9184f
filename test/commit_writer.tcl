# commit_writer.tcl -- the process test/kalam_commit.test kills, or makes
# exit at a chosen step of the commit protocol (KALAM_CRASH_AT).
#
#   tclsh commit_writer.tcl LIB DBFILE START COUNT ?big?
#
# Commits transaction after transaction (COUNT of them, or without end if
# COUNT is 0), each writing 10 rows to the kalam table kt and one row to
# the native table nt, all tagged with the transaction's number k, and
# prints k once COMMIT has returned: a number printed is acknowledged and
# must survive whatever happens next. With "big", a transaction writes
# 2,000 rows of 5 kB to kt instead (10 MB, a large transaction committed
# as a table file) and still one row to nt.
package require sqlite3
lassign $argv lib dbfile k count mode
sqlite3 db $dbfile
db timeout 10000
db enable_load_extension 1
db eval {SELECT load_extension($lib)}
fconfigure stdout -buffering line
set n 0
while {$count == 0 || $n < $count} {
  db eval BEGIN
  if {$mode eq "big"} {
    db eval {
      WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM s WHERE i < 1999)
      INSERT INTO kt(id, k, pad) SELECT $k*10000 + i, $k, randomblob(5000) FROM s
    }
  } else {
    for {set i 0} {$i < 10} {incr i} {
      db eval {INSERT INTO kt(id, k, pad) VALUES($k*10000 + $i, $k, randomblob(100))}
    }
  }
  db eval {INSERT INTO nt(k) VALUES($k)}
  db eval COMMIT
  puts $k
  incr k
  incr n
}
