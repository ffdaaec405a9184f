# cold_writer.tcl -- the process test/kalam_cold.test crashes during flushes.
#
#   tclsh cold_writer.tcl LIB DBFILE START
#
# Inserts 20 rows into kalam table c (k = START, START+1, ...), then flushes
# it with kalam_flush, again and again, printing the last k of each batch
# once its COMMIT has returned: a number printed is acknowledged and must
# survive the crash. The crash is a kill -9 from the test, or the exit that
# KALAM_CRASH_AT (src/commit.c) makes at a step of the flush.
package require sqlite3
lassign $argv lib dbfile k
sqlite3 db $dbfile
db timeout 10000
db enable_load_extension 1
db eval {SELECT load_extension($lib)}
fconfigure stdout -buffering line
while 1 {
  db eval BEGIN
  for {set i 0} {$i < 20} {incr i} {
    db eval {INSERT INTO c(k, v) VALUES($k, 'row ' || $k)}
    incr k
  }
  db eval COMMIT
  puts [expr {$k - 1}]
  db eval {SELECT kalam_flush('c')}
}
