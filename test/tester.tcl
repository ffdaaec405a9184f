# tester.tcl -- the harness every test/*.test file of kalam sources.
#
# A test file starts with
#
#     source [file join [file dirname [info script]] tester.tcl]
#     testprefix kshared
#     reset_db
#
# and ends with `finish_test`.  It is modelled on SQLite's own tester.tcl but
# runs under the stock tclsh with `package require sqlite3`.  Run one file
# with `tclsh test/NAME.test`, or all of them with `tclsh test/all.tcl`.
#
# What it provides:
#
#   ::kalam_root, ::kalam_lib      the repository root; the extension to load
#                                  (<root>/kalam, or $KALAM_LIB if set)
#   sqlite3_kalam NAME FILE        open a connection with kalam loaded
#   reset_db                       fresh test.db (and store) opened as `db`
#   reopen_db                      close and reopen `db`, deleting nothing
#   open_db2                       a second connection `db2` on test.db
#   testprefix NAME                test names become NAME-<name>
#   do_test NAME SCRIPT EXPECTED
#   do_execsql_test ?-db DB? NAME SQL ?EXPECTED?
#   do_catchsql_test ?-db DB? NAME SQL EXPECTED
#   execsql SQL ?DB?, catchsql SQL ?DB?
#   skip_test NAME REASON          count a test as skipped, saying why
#   finish_test                    print the summary line and exit
#
# Each test file runs in its own scratch directory, test/tmp/<file>.<pid>/,
# made afresh when this file is sourced and removed by finish_test when
# every test passed; the harness changes into it, so test.db
# is a relative name.  A failed test prints `! NAME failed: ...` (a test file
# may follow it with details, indented by two spaces); passing tests print
# their names only when the environment variable KALAM_VERBOSE is set.  finish_test prints `N passed, N failed` alone on its line (preceded
# by `N skipped` when tests were skipped) and exits 1 if anything failed.

package require sqlite3

set ::kalam_root [file dirname [file dirname [file normalize [info script]]]]
set ::kalam_lib [file join $::kalam_root kalam]
if {[info exists ::env(KALAM_LIB)] && $::env(KALAM_LIB) ne ""} {
  set ::kalam_lib $::env(KALAM_LIB)
}

array set ::kalam_test {pass 0 fail 0 skip 0 prefix ""}

# Returns the name, without extension, of the .test file that sourced this
# one: the outermost `source` frame whose file ends in .test, else argv0.
proc kalam_test_file_name {} {
  for {set level 1} {$level <= [info frame]} {incr level} {
    set frame [info frame $level]
    if {[dict exists $frame file] &&
        [string match *.test [dict get $frame file]]} {
      return [file rootname [file tail [dict get $frame file]]]
    }
  }
  if {[info exists ::argv0]} {
    return [file rootname [file tail $::argv0]]
  }
  return scratch
}

# The scratch directory of this test file, created afresh.
# The process id keeps two runs of one file (two developers' `make test`,
# or `make test` beside `make asan`) out of each other's files.
set ::kalam_testdir [file join $::kalam_root test tmp \
    [kalam_test_file_name].[pid]]
file delete -force $::kalam_testdir
file mkdir $::kalam_testdir
cd $::kalam_testdir

# Opens connection NAME on FILE with the kalam extension loaded, and turns
# extension loading off again so that SQL cannot load anything else.
proc sqlite3_kalam {name file} {
  uplevel #0 [list sqlite3 $name $file]
  set lib $::kalam_lib
  $name enable_load_extension 1
  if {[catch {$name eval {SELECT load_extension($lib)}} msg]} {
    $name close
    error "cannot load the kalam extension $lib: $msg"
  }
  $name enable_load_extension 0
  return $name
}

# Closes db and db2 where open.
proc kalam_close_all {} {
  foreach name {db db2} {
    if {[info commands ::$name] ne ""} {
      ::$name close
    }
  }
}

# Starts from nothing: closes the connections, deletes test.db with its
# journal, WAL and kalam store, and opens `db` on a new test.db.
proc reset_db {} {
  kalam_close_all
  foreach f {test.db test.db-journal test.db-wal test.db-shm test.db-kalam} {
    file delete -force $f
  }
  sqlite3_kalam db test.db
}

# Closes the connections and reopens `db` on the same test.db, deleting
# nothing: what was committed must still be there.
proc reopen_db {} {
  kalam_close_all
  sqlite3_kalam db test.db
}

# Opens a second connection `db2` on test.db (closing an earlier db2).
proc open_db2 {} {
  if {[info commands ::db2] ne ""} { ::db2 close }
  sqlite3_kalam db2 test.db
}

# Sets the prefix of the following test names: `testprefix kshared` makes
# test 1.0 be named kshared-1.0.  An empty prefix turns it off.
proc testprefix {name} {
  set ::kalam_test(prefix) $name
}

proc kalam_full_name {name} {
  if {$::kalam_test(prefix) eq ""} { return $name }
  return "$::kalam_test(prefix)-$name"
}

# Records a pass or a failure of the test named $name.
proc kalam_pass {name} {
  incr ::kalam_test(pass)
  if {[info exists ::env(KALAM_VERBOSE)] && $::env(KALAM_VERBOSE) ne ""} {
    puts "$name passed"
  }
}
proc kalam_fail {name msg} {
  incr ::kalam_test(fail)
  puts "! $name failed: $msg"
  flush stdout
}

# True if $a and $b are equal as Tcl lists (each must be a well-formed list).
proc kalam_lists_equal {a b} {
  if {[catch {list {*}$a} la] || [catch {list {*}$b} lb]} { return 0 }
  return [expr {$la eq $lb}]
}

# Runs SCRIPT at global level.  The test passes if the result equals
# EXPECTED, as strings after trimming or as lists.  An error fails it.
proc do_test {name script expected} {
  set name [kalam_full_name $name]
  set rc [catch {uplevel #0 $script} got]
  if {$rc == 1} {
    kalam_fail $name "expected \[$expected\] got error \[$got\]"
  } elseif {[string trim $got] eq [string trim $expected] ||
            [kalam_lists_equal $got $expected]} {
    kalam_pass $name
  } else {
    kalam_fail $name "expected \[$expected\] got \[$got\]"
  }
}

# Splits the optional leading `-db DB` off the arguments of the *sql_test
# commands.  Returns {db rest}.
proc kalam_db_option {argl} {
  if {[lindex $argl 0] eq "-db"} {
    return [list [lindex $argl 1] [lrange $argl 2 end]]
  }
  return [list db $argl]
}

# execsql SQL ?DB?: the flat result list of SQL.  Tcl variables named in the
# SQL ($x) are read at global level, where test files keep them.
proc execsql {sql {db db}} {
  return [uplevel #0 [list $db eval $sql]]
}

# catchsql SQL ?DB?: {0 RESULT-LIST} on success, {1 MESSAGE} on error.
proc catchsql {sql {db db}} {
  set rc [catch {uplevel #0 [list $db eval $sql]} msg]
  return [list $rc $msg]
}

# do_execsql_test ?-db DB? NAME SQL ?EXPECTED?
# Passes if the result of SQL equals EXPECTED as a Tcl list, so its layout
# (newlines, indentation) does not matter.
proc do_execsql_test {args} {
  lassign [kalam_db_option $args] db argl
  if {[llength $argl] < 2 || [llength $argl] > 3} {
    error "usage: do_execsql_test ?-db DB? NAME SQL ?EXPECTED?"
  }
  lassign $argl name sql expected
  set name [kalam_full_name $name]
  if {[catch {execsql $sql $db} got]} {
    kalam_fail $name "expected \[[string trim $expected]\] got error \[$got\]"
  } elseif {[kalam_lists_equal $got $expected]} {
    kalam_pass $name
  } else {
    kalam_fail $name "expected \[[string trim $expected]\] got \[$got\]"
  }
}

# do_catchsql_test ?-db DB? NAME SQL EXPECTED
# EXPECTED is {0 RESULT-LIST} or {1 MESSAGE}, as catchsql returns.
proc do_catchsql_test {args} {
  lassign [kalam_db_option $args] db argl
  if {[llength $argl] != 3} {
    error "usage: do_catchsql_test ?-db DB? NAME SQL EXPECTED"
  }
  lassign $argl name sql expected
  set name [kalam_full_name $name]
  set got [catchsql $sql $db]
  set ok 0
  if {![catch {llength $expected} n] && $n == 2} {
    lassign $expected erc emsg
    lassign $got grc gmsg
    if {$erc eq $grc} {
      if {$grc == 0} {
        set ok [kalam_lists_equal $gmsg $emsg]
      } else {
        set ok [expr {$gmsg eq $emsg}]
      }
    }
  }
  if {$ok} {
    kalam_pass $name
  } else {
    kalam_fail $name "expected \[[string trim $expected]\] got \[$got\]"
  }
}

# Counts the test NAME as skipped, printing why.
proc skip_test {name reason} {
  set name [kalam_full_name $name]
  incr ::kalam_test(skip)
  puts "$name skipped: $reason"
}

# Closes the connections, prints the summary and exits: 0 if nothing failed.
# Runs test/crash_writer.tcl on database file (from transaction number
# k0, mode "" or "big"), lets it commit for ms milliseconds after its first
# acknowledgement, kills it with kill -9, and returns the numbers of the
# transactions it acknowledged.
proc kalam_crash_round {file k0 ms {mode {}}} {
  set cmd [list [info nameofexecutable] \
      [file join $::kalam_root test crash_writer.tcl] $::kalam_lib $file \
      $k0 {*}$mode]
  set chan [open |$cmd r]
  fconfigure $chan -blocking 0 -buffering line
  set acked {}
  # The kill comes $ms after the writer's first acknowledgement, however
  # long it takes to start (a sanitizer build starts slowly).
  set deadline [expr {[clock milliseconds] + 30000}]
  while {[llength $acked] == 0 && [clock milliseconds] < $deadline} {
    while {[gets $chan line] >= 0} { lappend acked $line }
    after 5
  }
  set deadline [expr {[clock milliseconds] + $ms}]
  while {[clock milliseconds] < $deadline} {
    while {[gets $chan line] >= 0} { lappend acked $line }
    after 5
  }
  exec kill -9 [pid $chan]
  # A blocking close waits for the child to be gone, and with it the
  # store's lock.
  fconfigure $chan -blocking 1
  catch {close $chan}
  return $acked
}
proc finish_test {} {
  catch kalam_close_all
  if {$::kalam_test(skip) > 0} {
    puts "$::kalam_test(skip) skipped"
  }
  puts "$::kalam_test(pass) passed, $::kalam_test(fail) failed"
  flush stdout
  # A failed file's scratch directory is kept for a look; a clean one goes.
  if {$::kalam_test(fail) == 0} {
    cd [file join $::kalam_root test]
    catch {file delete -force $::kalam_testdir}
  }
  exit [expr {$::kalam_test(fail) > 0 ? 1 : 0}]
}
