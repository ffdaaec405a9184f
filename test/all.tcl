# all.tcl -- runs kalam's Tcl test suite.
#
#     tclsh test/all.tcl ?PATTERN...?
#
# Runs every test/*.test file, in sorted order, each in a child process of
# the same tclsh so that one file's crash or leak cannot hide another's
# result.  The environment passes through unchanged: a sanitizer build runs
# the same suite with LD_PRELOAD (and ASAN_OPTIONS ...) set.  Optional glob
# PATTERNs select files by name, with or without the .test suffix
# (`tclsh test/all.tcl kalam_*`).
#
# For each file it prints `file.test: N passed, N failed (Xs)` (with
# `, N skipped` when the file skipped tests) followed by the failure lines of
# the file: the lines that start with "! ", each with the indented lines
# that follow it.  A child that dies of a signal, or exits non-zero without a
# summary that accounts for it (an ASan report at exit, say), counts as one
# failure and the tail of its output is printed.  The last line is the total,
# `N passed, N failed` (or `N passed, N failed, N skipped`); the exit status
# is 1 if anything failed.

set testdir [file dirname [file normalize [info script]]]
set tclsh [info nameofexecutable]

# The last lines of $text, indented, for a report.
proc output_tail {text {n 30}} {
  set lines [split [string trimright $text] \n]
  if {[llength $lines] > $n} {
    set lines [concat [list "  ..."] [lrange $lines end-[expr {$n - 1}] end]]
  }
  set out {}
  foreach l $lines { lappend out "  | $l" }
  return [join $out \n]
}

set files {}
foreach f [lsort [glob -nocomplain -directory $testdir *.test]] {
  set tail [file tail $f]
  if {[llength $argv] == 0} {
    lappend files $f
    continue
  }
  foreach pat $argv {
    if {[string match $pat $tail] || [string match $pat [file rootname $tail]]} {
      lappend files $f
      break
    }
  }
}
if {[llength $files] == 0} {
  puts "no test file in $testdir matches: $argv"
  puts "0 passed, 1 failed"
  exit 1
}

set total(pass) 0
set total(fail) 0
set total(skip) 0
foreach f $files {
  set tail [file tail $f]
  set t0 [clock milliseconds]
  set status 0
  set problem ""
  if {[catch {exec $tclsh $f 2>@1} out opts]} {
    set code [lindex [dict get $opts -errorcode] 0]
    switch -- $code {
      CHILDSTATUS {
        set status [lindex [dict get $opts -errorcode] 2]
        set problem "exited with status $status"
        # exec adds this line of its own to the output.
        regsub {\n?child process exited abnormally$} $out {} out
      }
      CHILDKILLED {
        set status -1
        set problem "killed by [lindex [dict get $opts -errorcode] 2]"
        # exec appends its own note on the signal to the output.
      }
      default {
        set status -1
        set problem "could not be run: $out"
      }
    }
  }
  set secs [expr {([clock milliseconds] - $t0) / 1000.0}]

  # The summary lines the harness prints at the end of a file.
  set pass 0
  set fail 0
  set skip 0
  set summary 0
  set failures {}
  set indetail 0
  foreach line [split $out \n] {
    # Indented lines right after a failure line are its details.
    if {$indetail && [string match "  *" $line]} {
      lappend failures $line
      continue
    }
    set indetail 0
    if {[regexp {^(\d+) passed, (\d+) failed$} $line -> p n]} {
      set pass $p
      set fail $n
      set summary 1
    } elseif {[regexp {^(\d+) skipped$} $line -> s]} {
      set skip $s
    } elseif {[string match "! *" $line]} {
      lappend failures $line
      set indetail 1
    }
  }

  # A crash, or a non-zero exit that the summary does not explain, is one
  # more failure.
  set broken 0
  if {$status < 0 || ($status != 0 && (!$summary || $fail == 0))} {
    set broken 1
    incr fail
  } elseif {$status == 0 && $fail > 0} {
    set broken 1
    set problem "exited with status 0 although tests failed"
    incr fail
  }

  set line "$tail: $pass passed, $fail failed"
  if {$skip > 0} { append line ", $skip skipped" }
  puts "$line ([format %.1f $secs]s)"
  foreach l $failures { puts "  $l" }
  if {$broken} {
    puts "  ! $tail $problem[expr {$summary ? {} : { without a summary line}}]"
    puts [output_tail $out]
  } elseif {$fail > 0 && [llength $failures] == 0} {
    puts [output_tail $out]
  }
  flush stdout

  incr total(pass) $pass
  incr total(fail) $fail
  incr total(skip) $skip
}

set line "$total(pass) passed, $total(fail) failed"
if {$total(skip) > 0} { append line ", $total(skip) skipped" }
puts $line
exit [expr {$total(fail) > 0 ? 1 : 0}]
