# slt.tcl -- a sqllogictest runner for kalam.
#
# Usage:
#
#     tclsh test/slt.tcl ?--native? ?--verbose? FILE...
#
# Runs sqllogictest files (the format is described in
# ../shared/sqllogictest/README.md) against SQLite with kalam loaded.  Unless
# --native is given, every `CREATE TABLE tN(...)` is rewritten to
# `CREATE VIRTUAL TABLE tN USING kalam_shared(...)` with the column list kept
# verbatim, and `CREATE [UNIQUE] INDEX name ON tN(cols)` becomes kalam's own
# index: SQLite cannot index a virtual table, and kalam takes its indexes as
# `INDEX(cols)` and `UNIQUE(cols)` items of the CREATE arguments, so the
# runner makes the table again with the item added and copies its rows
# over (slt::add_index).  `DROP INDEX` and `REINDEX` are skipped.  With
# --native the tables stay native: that run is the baseline, and SQLite
# itself must pass every record of it.
#
# Each file runs in a fresh database file test/tmp/slt.<pid>/<file>.db (its
# -kalam store directory beside it), deleted before the run.  Per file the
# runner prints
#
#     FILE: N records, N passed, N failed, N skipped (Xs)
#
# then each failure as `FILE:LINE: SQL` with the expected and the actual
# result, and at the very end the total `N passed, N failed`.  The exit status
# is 1 if any record failed.
#
# The file can also be sourced (test/sqllogictest.test does): it then only
# defines the procs of namespace slt, chiefly [slt::run_file].
#
# How a result is rendered follows the reference runner: the type letter of
# the column decides.  `I` prints the value converted to a 64-bit integer, `R`
# prints it converted to a double with "%.3f", `T` prints its text with every
# byte outside printable ASCII replaced by `@`.  NULL prints as `NULL`, and an
# empty string in a `T` column as `(empty)`.  The Tcl binding hands back
# integers, reals and text as Tcl objects of different internal types; the
# runner looks at that type to know what SQLite returned, and leaves the odd
# conversions (a REAL shown as text, text shown as an integer) to SQLite
# itself, through a private in-memory connection, so they match exactly.

package require sqlite3

namespace eval slt {
  # The repository root: this file lives in <root>/test.
  variable root [file dirname [file dirname [file normalize [info script]]]]

  # What the binding returns for SQL NULL.  No value in a test looks like it.
  variable null "\x01<NULL>\x01"

  # The extension to load: <root>/kalam, or $KALAM_LIB if set.
  variable lib [file join $root kalam]
  if {[info exists ::env(KALAM_LIB)] && $::env(KALAM_LIB) ne ""} {
    set lib $::env(KALAM_LIB)
  }

  # How many failures a file keeps (and prints) in full when not --verbose.
  variable maxshow 30
}

# ---------------------------------------------------------------------------
# MD5 (RFC 1321), needed for "N values hashing to H" results.  Stock tclsh has
# no MD5, so here is one.  The 64 steps of a block are generated once into the
# body of [slt::md5_blocks] with every constant written in, so that Tcl
# compiles them to straight-line bytecode; that keeps hashing a few megabytes
# well under a second.

proc slt::md5_build {} {
  set shifts {{7 12 17 22} {5 9 14 20} {4 11 16 23} {6 10 15 21}}
  set funcs {
    {(($b & $c) | (~$b & $d))}
    {(($b & $d) | ($c & ~$d))}
    {($b ^ $c ^ $d)}
    {($c ^ ($b | (~$d & 0xFFFFFFFF)))}
  }
  # The four registers take the roles a, b, c, d in turn.
  set roles {{a b c d} {d a b c} {c d a b} {b c d a}}
  set steps ""
  for {set i 0} {$i < 64} {incr i} {
    set round [expr {$i / 16}]
    switch $round {
      0 { set k $i }
      1 { set k [expr {(5 * $i + 1) % 16}] }
      2 { set k [expr {(3 * $i + 5) % 16}] }
      3 { set k [expr {(7 * $i) % 16}] }
    }
    set s [lindex $shifts $round [expr {$i % 4}]]
    set t [expr {int(floor(abs(sin($i + 1)) * 4294967296.0))}]
    lassign [lindex $roles [expr {$i % 4}]] ra rb rc rd
    set f [string map [list {$b} "\$$rb" {$c} "\$$rc" {$d} "\$$rd"] \
        [lindex $funcs $round]]
    append steps "    set t \[expr {(\$$ra + $f + \$x$k + $t) & 0xFFFFFFFF}\]\n"
    append steps "    set $ra \[expr {(\$$rb + (((\$t << $s) | (\$t >> [expr {32 - $s}])) & 0xFFFFFFFF)) & 0xFFFFFFFF}\]\n"
  }
  set vars {}
  for {set k 0} {$k < 16} {incr k} { lappend vars x$k }
  set body "
  set a 0x67452301; set b 0xEFCDAB89; set c 0x98BADCFE; set d 0x10325476
  foreach {$vars} \$words {
    set aa \$a; set bb \$b; set cc \$c; set dd \$d
$steps
    set a \[expr {(\$a + \$aa) & 0xFFFFFFFF}\]
    set b \[expr {(\$b + \$bb) & 0xFFFFFFFF}\]
    set c \[expr {(\$c + \$cc) & 0xFFFFFFFF}\]
    set d \[expr {(\$d + \$dd) & 0xFFFFFFFF}\]
  }
  return \[list \$a \$b \$c \$d\]
"
  proc ::slt::md5_blocks {words} $body
}
slt::md5_build

# Returns the MD5 of the UTF-8 bytes of $text as 32 lowercase hex digits.
proc slt::md5 {text} {
  set data [encoding convertto utf-8 $text]
  set n [string length $data]
  append data \x80 [string repeat \x00 [expr {(55 - $n) % 64}]]
  append data [binary format w [expr {$n * 8}]]
  binary scan $data iu* words
  binary scan [binary format i4 [md5_blocks $words]] H* hex
  return $hex
}

# ---------------------------------------------------------------------------
# Rendering of results.

# Returns the rendered form of every value of a query result.  $types holds
# one type letter per column; $vals is the flat result list of [db eval].
proc slt::render {types vals} {
  variable null
  set ncol [string length $types]
  set out {}
  set i 0
  foreach v $vals {
    set type [string index $types [expr {$i % $ncol}]]
    incr i
    # What SQLite returned: int, double, bytearray, or (pure) string.
    scan [tcl::unsupported::representation $v] "value is a %s" kind
    switch -glob -- $kind {
      int - wideInt - bignum {
        if {$type eq "R"} {
          lappend out [conv_real $v]
        } else {
          lappend out $v
        }
      }
      double {
        switch -- $type {
          I { lappend out [conv_int $v] }
          R { lappend out [conv_real $v] }
          default { lappend out [conv_text $v] }
        }
      }
      default {
        if {$v eq $null} {
          lappend out NULL
        } elseif {$type eq "T" || $type eq ""} {
          if {$v eq ""} {
            lappend out (empty)
          } elseif {$kind eq "bytearray" || [regexp {[^ -~]} $v]} {
            lappend out [printable $v $kind]
          } else {
            lappend out $v
          }
        } elseif {$type eq "I"} {
          lappend out [conv_int $v]
        } else {
          lappend out [conv_real $v]
        }
      }
    }
  }
  return $out
}

# Text with each byte outside printable ASCII replaced by '@', as the
# reference runner prints it.
proc slt::printable {v kind} {
  if {$kind ne "bytearray"} {
    set v [encoding convertto utf-8 $v]
  }
  return [regsub -all {[^ -~]} $v @]
}

# The conversions below are done by SQLite, on a private connection, so that
# they are exactly SQLite's: sqlite3_column_int64(), sqlite3_column_text()
# and the "%.3f" of sqlite3_snprintf() (through printf()).
proc slt::conv_db {} {
  if {[info commands ::slt::conv] eq ""} {
    sqlite3 ::slt::conv :memory:
  }
  return ::slt::conv
}
proc slt::conv_int {v} {
  return [[conv_db] onecolumn {SELECT CAST($v AS INTEGER)}]
}
proc slt::conv_real {v} {
  return [[conv_db] onecolumn {SELECT printf('%.3f', $v)}]
}
proc slt::conv_text {v} {
  return [printable [[conv_db] onecolumn {SELECT CAST($v AS TEXT)}] string]
}

# ---------------------------------------------------------------------------
# Rewriting of statements for kalam.

# Decides what to do with the SQL of a `statement` record.  Returns a pair
# {action sql}: action is "run" (with the SQL to run, rewritten unless
# $native), "create" (a rewritten CREATE TABLE; sql is then the list {sql
# name columns}), "index" (a CREATE INDEX; sql is the list {unique table
# columns}) or "skip" (DROP INDEX or REINDEX).
proc slt::rewrite {sql native} {
  if {$native} { return [list run $sql] }
  set id {(?:"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|[A-Za-z_][A-Za-z0-9_$]*)}
  if {[regexp -nocase "^\\s*CREATE\\s+(UNIQUE\\s+)?INDEX\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${id}\\s+ON\\s+(${id})\\s*\\((.*)\\)\\s*;?\\s*\$" \
          $sql -> unique table cols]} {
    return [list index [list [expr {$unique ne ""}] $table $cols]]
  }
  if {[regexp -nocase {^\s*(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX)\y} $sql]} {
    return [list skip {}]
  }
  set head {^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?}
  if {![regexp -nocase -indices $head $sql m ine]} {
    return [list run $sql]
  }
  set ine [string range $sql {*}$ine]
  set rest [string range $sql [lindex $m 1]+1 end]
  # The table name: a plain or quoted identifier, perhaps schema-qualified.
  set id {(?:"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|[A-Za-z_][A-Za-z0-9_$]*)}
  if {![regexp -indices "^(${id}(?:\\s*\\.\\s*${id})?)\\s*\\(" $rest m nm]} {
    return [list run $sql]
  }
  set name [string range $rest {*}$nm]
  set open [lindex $m 1]
  set close [matching_paren $rest $open]
  if {$close < 0} { return [list run $sql] }
  # Anything after the column list (WITHOUT ROWID, AS SELECT ...) has no
  # counterpart in a virtual table: leave such a statement alone.
  if {![regexp {^\s*;?\s*$} [string range $rest $close+1 end]]} {
    return [list run $sql]
  }
  set cols [string range $rest $open+1 $close-1]
  return [list create [list \
      "CREATE VIRTUAL TABLE $ine$name USING kalam_shared($cols)" $name $cols]]
}

# Gives kalam table $table of connection $db the index `INDEX($cols)` (or
# UNIQUE): kalam reads its indexes from the CREATE arguments, so the table
# is made again with the item added, under its own name, and the rows are
# copied over with their row ids. If that fails (rows that break a new
# UNIQUE, as CREATE UNIQUE INDEX would refuse them), the table is left as
# it was and the error raised. $tablesVar names the caller's dict of the
# tables the file created: lower-case name -> {name columns items}.
proc slt::add_index {db tablesVar unique table cols} {
  upvar 1 $tablesVar tables
  set key [string tolower [string trim $table {"[]`}]]
  if {![dict exists $tables $key]} {
    error "no such table: $table"
  }
  lassign [dict get $tables $key] name coldefs items
  lappend items "[expr {$unique ? {UNIQUE} : {INDEX}}]($cols)"
  set names {}
  foreach col [$db eval "SELECT name FROM
                         pragma_table_info('[string map {' ''} $name]')"] {
    lappend names "\"[string map {\" \"\"} $col]\""
  }
  set list [join $names ", "]
  $db eval "ALTER TABLE $name RENAME TO slt_index_old"
  if {[catch {
    $db eval "CREATE VIRTUAL TABLE $name USING kalam_shared($coldefs,
              [join $items {, }])"
    $db eval "INSERT INTO ${name}(rowid, $list)
              SELECT rowid, $list FROM slt_index_old ORDER BY rowid"
  } msg]} {
    catch {$db eval "DROP TABLE $name"}
    $db eval "ALTER TABLE slt_index_old RENAME TO $name"
    error $msg
  }
  $db eval "DROP TABLE slt_index_old"
  dict set tables $key [list $name $coldefs $items]
}

# Returns the index of the parenthesis that closes the one at index $open of
# $s, skipping quoted strings and identifiers; -1 if there is none.
proc slt::matching_paren {s open} {
  set depth 0
  set n [string length $s]
  for {set i $open} {$i < $n} {incr i} {
    set ch [string index $s $i]
    switch -- $ch {
      ( { incr depth }
      ) {
        incr depth -1
        if {$depth == 0} { return $i }
      }
      ' - \" - ` - \[ {
        set endch [expr {$ch eq "\[" ? "\]" : $ch}]
        set j [string first $endch $s [expr {$i + 1}]]
        if {$j < 0} { return -1 }
        set i $j
      }
    }
  }
  return -1
}

# ---------------------------------------------------------------------------
# Running a file.

# Shortens $s to at most $max characters for a report line.
proc slt::clip {s {max 240}} {
  set s [regsub -all {\s+} [string trim $s] " "]
  if {$max > 0 && [string length $s] > $max} {
    set s "[string range $s 0 $max-4]..."
  }
  return $s
}

# Runs one sqllogictest file in a fresh database and returns a dict:
#   records passed failed skipped  counts
#   failures   the report of each failed record (the first $maxshow only,
#              unless -verbose)
#   seconds    wall time
# Options:
#   -native BOOL    keep native tables (default 0: rewrite to kalam_shared)
#   -dbdir DIR      where the database file goes (default test/tmp/slt.<pid>)
#   -lib PATH       the extension to load (default $slt::lib)
#   -verbose BOOL   keep every failure, unclipped, and note skipped records
#   -log CHAN       with -verbose, where to write notes (default stdout)
proc slt::run_file {file args} {
  variable root
  variable null
  variable maxshow
  variable lib
  set opt [dict merge [dict create -native 0 \
      -dbdir [file join $root test tmp slt.[pid]] -lib $lib \
      -verbose 0 -log stdout] $args]
  set native [dict get $opt -native]
  set verbose [dict get $opt -verbose]
  set log [dict get $opt -log]
  set clipat [expr {$verbose ? 0 : 240}]
  set fname [file tail $file]

  set t0 [clock microseconds]
  set fd [open $file r]
  fconfigure $fd -encoding utf-8 -translation auto
  set lines [split [read $fd] \n]
  close $fd

  # A fresh database file, with its kalam store, for every file.
  file mkdir [dict get $opt -dbdir]
  set dbfile [file join [dict get $opt -dbdir] [file rootname $fname].db]
  foreach suffix {"" -journal -wal -shm -kalam} {
    file delete -force $dbfile$suffix
  }
  set db ::slt::db
  sqlite3 $db $dbfile
  if {!$native} {
    set libpath [dict get $opt -lib]
    $db enable_load_extension 1
    if {[catch {$db eval {SELECT load_extension($libpath)}} msg]} {
      $db close
      error "cannot load the kalam extension $libpath: $msg"
    }
    $db enable_load_extension 0
  }
  $db nullvalue $null

  set tables [dict create]
  set records 0
  set passed 0
  set failed 0
  set skipped 0
  set failures {}
  set threshold 8
  set labels [dict create]

  set nline [llength $lines]
  set i 0
  while {$i < $nline} {
    set line [string trimright [lindex $lines $i]]
    incr i
    if {$line eq "" || [string index $line 0] eq "#"} continue

    # Conditions that come before a record.
    set skip 0
    while {[regexp {^(skipif|onlyif)\s+(\S+)} $line -> cond engine]} {
      if {($cond eq "skipif") == ($engine eq "sqlite")} { set skip 1 }
      set line [string trimright [lindex $lines $i]]
      incr i
    }
    set lineno $i
    set words [regexp -all -inline {\S+} $line]
    set cmd [lindex $words 0]

    # The body of the record: lines up to the next blank line.
    set body {}
    while {$i < $nline} {
      set l [string trimright [lindex $lines $i]]
      if {$l eq ""} break
      lappend body $l
      incr i
    }

    switch -- $cmd {
      hash-threshold {
        if {!$skip} { set threshold [lindex $words 1] }
        continue
      }
      halt {
        if {$skip} continue
        break
      }
      statement - query {}
      default {
        incr records
        incr failed
        set msg "$fname:$lineno: unknown record type: [clip $line]"
        if {$verbose || [llength $failures] < $maxshow} {
          lappend failures $msg
        }
        continue
      }
    }

    incr records
    if {$skip} {
      incr skipped
      if {$verbose} { puts $log "$fname:$lineno: skipped (skipif/onlyif)" }
      continue
    }

    set err ""
    if {$cmd eq "statement"} {
      set sql [join $body \n]
      lassign [rewrite $sql $native] action runsql
      if {$action eq "skip"} {
        incr skipped
        if {$verbose} {
          puts $log "$fname:$lineno: skipped (index statement): [clip $sql]"
        }
        continue
      }
      switch -- $action {
        create {
          lassign $runsql runsql name cols
          set rc [catch {$db eval $runsql} res]
          if {!$rc} {
            dict set tables [string tolower [string trim $name {"[]`}]] \
                [list $name $cols {}]
          }
        }
        index {
          set rc [catch {add_index $db tables {*}$runsql} res]
        }
        default {
          set rc [catch {$db eval $runsql} res]
        }
      }
      switch -- [lindex $words 1] {
        ok {
          if {$rc} { set err "  expected: success\n  got error: $res" }
        }
        error {
          if {!$rc} { set err "  expected: an error\n  got: success" }
        }
        default {
          set err "  unknown statement mode [lindex $words 1]"
        }
      }
    } else {
      # query <types> <sort> [label]
      lassign $words - types sort label
      set sep [lsearch -exact $body ----]
      if {$sep < 0} {
        set sql [join $body \n]
        set expected {}
        set check 0
      } else {
        set sql [join [lrange $body 0 $sep-1] \n]
        set expected [lrange $body $sep+1 end]
        set check 1
      }
      set err [check_query $db $sql $types $sort $label $expected $check \
          $threshold labels $fname:$lineno $clipat]
    }

    if {$err eq ""} {
      incr passed
    } else {
      incr failed
      if {$verbose || [llength $failures] < $maxshow} {
        lappend failures "$fname:$lineno: [clip $sql $clipat]\n$err"
      }
    }
  }

  $db close
  set secs [expr {([clock microseconds] - $t0) / 1e6}]
  return [dict create records $records passed $passed failed $failed \
      skipped $skipped failures $failures seconds $secs]
}

# Runs the SQL of one query record and checks its result.  Returns "" if it
# passes, else the lines that explain the failure.  $labelsVar names the
# caller's dict of label -> {hash where} for results that must agree.
proc slt::check_query {db sql types sort label expected check threshold
                       labelsVar where clipat} {
  upvar 1 $labelsVar labels
  if {[catch {$db eval $sql} vals]} {
    return "  expected: a result\n  got error: $vals"
  }
  set ncol [string length $types]
  if {$ncol == 0 || ![regexp {^[ITR]+$} $types]} {
    return "  bad column types \"$types\""
  }
  if {[llength $vals] % $ncol} {
    return "  got [llength $vals] values, not a multiple of $ncol columns"
  }
  set got [render $types $vals]
  switch -- $sort {
    nosort {}
    rowsort {
      # Sorting rows joined by \x01 (below every rendered character) orders
      # them column by column, as the reference runner does.
      set rows {}
      for {set k 0} {$k < [llength $got]} {incr k $ncol} {
        lappend rows [join [lrange $got $k [expr {$k + $ncol - 1}]] \x01]
      }
      set got [split [join [lsort $rows] \x01] \x01]
    }
    valuesort { set got [lsort $got] }
    default { return "  unknown sort mode \"$sort\"" }
  }
  set n [llength $got]

  # A hash is computed only when something needs it.
  set hash ""
  set err ""
  if {$check} {
    if {[llength $expected] == 1 && [regexp \
        {^(\d+) values hashing to ([0-9a-f]{32})$} [lindex $expected 0] \
        -> wantn wanthash]} {
      set hash [hash_of $got]
      if {$n != $wantn || $hash ne $wanthash} {
        set err "  expected: [lindex $expected 0]\n  got:      $n values\
            hashing to $hash: [clip [join $got { }] $clipat]"
      }
    } elseif {[join $got \n] ne [join $expected \n]} {
      # Some files give a row per line, its values separated by spaces.
      set rowwise 0
      if {$ncol > 1 && [llength $expected] * $ncol == $n} {
        set rows {}
        for {set k 0} {$k < $n} {incr k $ncol} {
          lappend rows [join [lrange $got $k [expr {$k + $ncol - 1}]] " "]
        }
        set rowwise [expr {[join $rows \n] eq [join $expected \n]}]
      }
      if {!$rowwise} {
        set err "  expected: [clip [join $expected { }] $clipat]\n  got:     \
            [clip [join $got { }] $clipat]"
        if {$n > $threshold} {
          append err " ($n values hashing to [hash_of $got])"
        }
      }
    }
  }
  if {$err eq "" && $label ne ""} {
    if {$hash eq ""} { set hash [hash_of $got] }
    if {[dict exists $labels $label]} {
      lassign [dict get $labels $label] firsthash firstwhere
      if {$firsthash ne $hash} {
        set err "  label $label: result differs from the query at\
            $firstwhere\n  got: $n values hashing to $hash"
      }
    } else {
      dict set labels $label [list $hash $where]
    }
  }
  return $err
}

# The hash of a result: MD5 of every rendered value followed by a newline.
proc slt::hash_of {values} {
  if {[llength $values] == 0} { return [md5 ""] }
  return [md5 "[join $values \n]\n"]
}

# ---------------------------------------------------------------------------
# Command line.

proc slt::main {argv} {
  set native 0
  set verbose 0
  set files {}
  foreach a $argv {
    switch -- $a {
      --native { set native 1 }
      --verbose { set verbose 1 }
      default {
        if {[string match -* $a]} {
          puts stderr "slt.tcl: unknown option $a"
          set files {}
          break
        }
        lappend files $a
      }
    }
  }
  if {[llength $files] == 0} {
    puts stderr "usage: tclsh test/slt.tcl ?--native? ?--verbose? FILE..."
    exit 2
  }
  set totalpass 0
  set totalfail 0
  foreach file $files {
    if {[catch {slt::run_file $file -native $native -verbose $verbose} r]} {
      puts "[file tail $file]: cannot run: $r"
      incr totalfail
      continue
    }
    dict with r {
      puts "[file tail $file]: $records records, $passed passed,\
          $failed failed, $skipped skipped ([format %.2f $seconds]s)"
      foreach f $failures { puts $f }
      if {[llength $failures] < $failed} {
        puts "... [expr {$failed - [llength $failures]}] more failures\
            not shown (use --verbose)"
      }
      incr totalpass $passed
      incr totalfail $failed
    }
    flush stdout
  }
  puts "$totalpass passed, $totalfail failed"
  exit [expr {$totalfail ? 1 : 0}]
}

if {[info exists ::argv0] &&
    [file normalize $::argv0] eq [file normalize [info script]]} {
  slt::main $::argv
}
