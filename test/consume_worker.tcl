# consume_worker.tcl -- the consumer test/kalam_consume.test kills with
# kill -9.
#
#   tclsh consume_worker.tcl LIB DBFILE
#
# Processes stream ev for group 'w' in a loop, each batch in one
# transaction: read up to 7 events with kalam_consume, write one row per
# event into the native table results, ack the last, COMMIT. Prints each
# batch's last row id once COMMIT has returned, and "idle" when nothing
# is left.
package require sqlite3
lassign $argv lib dbfile
sqlite3 db $dbfile
db timeout 10000
db enable_load_extension 1
db eval {SELECT load_extension($lib)}
fconfigure stdout -buffering line
while 1 {
  db eval BEGIN
  set ids [db eval {SELECT rowid FROM kalam_consume('ev', 'w', 7)}]
  if {[llength $ids] == 0} {
    db eval COMMIT
    puts idle
    after 20
    continue
  }
  foreach id $ids {
    db eval {INSERT INTO results(ev) VALUES($id)}
  }
  set last [lindex $ids end]
  db eval {SELECT kalam_ack('ev', 'w', $last)}
  db eval COMMIT
  puts $last
}
