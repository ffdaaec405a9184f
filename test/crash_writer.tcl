# crash_writer.tcl -- the process test/kalam_txn.test kills with kill -9.
#
#   tclsh crash_writer.tcl LIB DBFILE START ?big?
#
# Commits transaction after transaction, each writing 5 rows to kalam table
# a and 5 to kalam table b, all tagged with the transaction's number, and
# prints the number once COMMIT has returned: a number printed is a
# transaction acknowledged to the caller, which must survive the kill.
# With "big", each transaction instead writes 2,000 rows of 4 kB to table
# a alone (one per row of the native table seq): 11 MB, which commits as
# an ingested table file.
package require sqlite3
lassign $argv lib dbfile k mode
sqlite3 db $dbfile
db timeout 10000
db enable_load_extension 1
db eval {SELECT load_extension($lib)}
fconfigure stdout -buffering line
while {$mode eq "big"} {
  db eval BEGIN
  db eval {INSERT INTO a(k, i, pad) SELECT $k, n, randomblob(4000) FROM seq}
  db eval COMMIT
  puts $k
  incr k
}
while 1 {
  db eval BEGIN
  for {set i 0} {$i < 5} {incr i} {
    db eval {INSERT INTO a(k, i, pad) VALUES($k, $i, randomblob(200))}
    db eval {INSERT INTO b(k, i) VALUES($k, $i)}
  }
  db eval COMMIT
  puts $k
  incr k
}
