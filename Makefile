# kalam — KalamDB's table model for SQLite, as one loadable extension.
#
#   make          kalam.so (loadable) and libkalam.a (static)
#   make deps     install missing Debian packages (as root) or name them
#   make test     deps, build, every Tcl test (test/all.tcl)
#   make test-deps            DuckDB for Node under build/node (the
#                             cross-checks of kalam's Parquet files)
#   make demo     deps, build, a scripted tour in the sqlite3 shell
#   make bench    deps, build, the benchmark (tool/bench.c); N=rows
#   make asan     the test suite against an ASan+UBSan build
#   make slt FILE=path.test   one sqllogictest file on kalam_shared tables
#   make lint     stricter warnings as errors, and the layout rules
#   make install              kalam.so, libkalam.a, kalam.h, kalam.pc and the
#                             docs into PREFIX (/usr/local), below DESTDIR
#   make uninstall            removes what make install put there

CC      ?= cc
CFLAGS  ?= -O2 -g
PKG_CONFIG ?= pkg-config

# The libraries kalam uses come from pkg-config, which looks in the
# prefixes that PKG_CONFIG_PATH names before the system's, so they can live
# anywhere (README.md, "Building without root"). Each is asked about on its
# own: one that pkg-config does not know is taken from the compiler's own
# paths (-lrocksdb), and the others still bring their flags. CPPFLAGS and
# LDFLAGS reach every compile and link for what pkg-config does not say
# (-I, -Wl,-rpath).
DEP_PKGS  := $(strip $(foreach p,sqlite3 rocksdb libcjson libzstd,$(if $(shell $(PKG_CONFIG) --exists $(p) 2>/dev/null && echo y),$(p))))
dep_libs   = $(if $(filter $(1),$(DEP_PKGS)),$(shell $(PKG_CONFIG) --libs $(1)),$(2))
DEPCFLAGS := $(if $(DEP_PKGS),$(shell $(PKG_CONFIG) --cflags $(DEP_PKGS)))
SQLITE_LIBS  := $(call dep_libs,sqlite3,-lsqlite3)
ROCKSDB_LIBS := $(call dep_libs,rocksdb,-lrocksdb)
CJSON_LIBS   := $(call dep_libs,libcjson,-lcjson)
ZSTD_LIBS    := $(call dep_libs,libzstd,-lzstd)
DEPLIBS   := $(ZSTD_LIBS) $(ROCKSDB_LIBS) $(CJSON_LIBS)
# src/txn.c builds a large commit's table file in a thread of its own, so
# everything that links kalam (kalam.so, and programs linking libkalam.a)
# links -pthread; glibc before 2.34 keeps pthreads out of libc.
DEPLIBS  += -pthread
KCFLAGS  = -std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra -fPIC $(CPPFLAGS) $(DEPCFLAGS)

SRC  = kalam_vtab.c $(wildcard src/*.c)
HDR  = include/kalam.h $(wildcard src/*.h)
SO_OBJ = $(patsubst %.c,build/so/%.o,$(SRC))
A_OBJ  = $(patsubst %.c,build/a/%.o,$(SRC))
ASAN_OBJ = $(patsubst %.c,build/asan/%.o,$(SRC))
ASANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

TCLSH ?= tclsh

.PHONY: all deps test test-deps demo bench asan slt lint clean install uninstall FORCE

all: kalam.so libkalam.a

# The loadable library reaches SQLite through the host's API table, so it
# does not link libsqlite3 itself.
kalam.so: $(SO_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $(SO_OBJ) $(DEPLIBS) -lm

build/so/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KCFLAGS) -c $< -o $@

# The static library calls SQLite directly (SQLITE_CORE), so it does not
# clash with other extensions linked into the same program.
libkalam.a: $(A_OBJ)
	rm -f $@
	ar rcs $@ $(A_OBJ)

build/a/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KCFLAGS) -DSQLITE_CORE -c $< -o $@

build/asan/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ASANFLAGS) $(KCFLAGS) -c $< -o $@

# SQLite derives the entry point from the file name (kalam-asan.so would
# need sqlite3_kalamasan_init), so the sanitizer build is also kalam.so,
# in a directory of its own.
build/asan/kalam.so: $(ASAN_OBJ)
	$(CC) -shared $(ASANFLAGS) $(LDFLAGS) -o $@ $(ASAN_OBJ) $(DEPLIBS) -lm

deps:
	@sh tool/deps.sh

test: deps test-deps
	@$(MAKE) --no-print-directory all
	$(TCLSH) test/all.tcl

# DuckDB, an independent Parquet reader, from the npm registry into
# build/node (never committed): test/kalam_parquet.test reads kalam's files
# with it (test/parquet_duckdb.mjs). Without node or npm it says so, and
# those tests count as skipped.
DUCKDB_NODE ?= @duckdb/node-api@1.5.6-r.1
test-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "kalam: node or npm not found: the DuckDB cross-checks will be skipped"; \
	elif [ ! -f build/node/node_modules/@duckdb/node-api/package.json ]; then \
	  mkdir -p build/node && \
	  npm install --silent --no-audit --no-fund --prefix build/node $(DUCKDB_NODE); \
	fi

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tool/demo.sh

slt: all
	$(TCLSH) test/slt.tcl $(FILE)

# Every source file compiled with warnings that -Wall -Wextra leave out,
# as errors (a function without a prototype is one no header declares),
# then the layout rules of docs/architecture.md (test/kalam_layout.test:
# RocksDB only in the storage layer, files under 900 lines, ...).
LINTFLAGS = -fsyntax-only -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wmissing-declarations -Wpointer-arith \
            -Wformat=2 -Wundef
lint: deps
	@for f in $(SRC); do $(CC) $(KCFLAGS) $(LINTFLAGS) $$f || exit 1; done
	$(TCLSH) test/kalam_layout.test

# The stock tclsh is not instrumented, so the ASan runtime is preloaded into
# it. kalam.so is preloaded too: SQLite dlclose()s an extension when its
# connection closes, and a library that is gone at exit makes LeakSanitizer
# report what its globals still hold (the store registry) and leaves its
# frames unsymbolized. Reports go to build/asan-log/, one file per process
# named after its program (all.tcl keeps only the tail of a dead child's
# output). Any report from tclsh (which runs kalam), kalam_store or
# parquet_test (test/kalam_parquet.test's sanitizer build) fails the
# target; programs the tests merely run, such as the compiler behind a
# `make` of a test helper, inherit the preload, so leaks do not change exit
# codes (LSan exitcode=0) and their reports are listed, not counted. A 16 MB
# quarantine keeps recent frees poisoned without tripping the RSS bound of
# the streaming-scan test; test/lsan.supp says what is suppressed and why.
# all.tcl's summary line is printed again last, so that it closes the output.
# KALAM_SANITIZER=asan tells tests that time or measure memory that they
# run several times slower than usual. TESTS=pattern runs only some files.
asan: deps
	@$(MAKE) --no-print-directory build/asan/kalam.so store-tool
	@rm -rf build/asan-log && mkdir -p build/asan-log
	{ KALAM_LIB=$(CURDIR)/build/asan/kalam KALAM_SANITIZER=asan \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so) $(CURDIR)/build/asan/kalam.so" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:fast_unwind_on_malloc=0:log_exe_name=1:log_path=$(CURDIR)/build/asan-log/asan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0:exitcode=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_exe_name=1:log_path=$(CURDIR)/build/asan-log/ubsan \
	$(TCLSH) test/all.tcl $(TESTS); echo $$? > build/asan-rc; } | tee build/asan-out.txt; \
	rc=$$(cat build/asan-rc); \
	cd build/asan-log; \
	other=$$(ls | grep -v -e tclsh -e kalam_store -e parquet_test -e changes_test); \
	mine=$$(ls | grep -e tclsh -e kalam_store -e parquet_test -e changes_test); \
	[ -z "$$other" ] || echo "asan: not counted, reports of other programs the tests ran: $$other"; \
	if [ -n "$$mine" ]; then \
	  cat $$mine; echo "asan: sanitizer reports above (build/asan-log/)"; rc=1; \
	else \
	  echo "asan: no sanitizer report"; \
	fi; \
	tail -n 1 ../asan-out.txt; exit $$rc

clean:
	rm -rf build kalam.so libkalam.a test/tmp

# ------------------------------------------------------------------ install
# `make install` copies kalam into PREFIX, or into DESTDIR/PREFIX when
# DESTDIR names a staging directory (a package build): kalam.so and
# libkalam.a into LIBDIR, where a program loads kalam.so by its path;
# kalam.h into INCLUDEDIR; kalam.pc (made from kalam.pc.in with the version
# of include/kalam.h and the dependencies found above) into PKGCONFIGDIR;
# README.md, LICENSE, CHANGELOG.md and docs/ into DOCDIR. `make uninstall`
# with the same variables removes those files, and DOCDIR once empty.
# test/kalam_install.test installs into a scratch directory and builds a
# program against the result.
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DOCDIR       ?= $(PREFIX)/share/doc/kalam
VERSION := $(shell sed -n 's/^\#define KALAM_VERSION "\(.*\)"$$/\1/p' include/kalam.h)
DOCS      = README.md LICENSE CHANGELOG.md
DOCS_MORE = $(notdir $(wildcard docs/*.md))

# kalam.pc names paths below its prefix as ${prefix}/..., so that
# pkg-config --define-prefix can move it.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
PC_LIBS = $(if $(filter sqlite3,$(DEP_PKGS)),,-lsqlite3) \
          $(if $(filter rocksdb,$(DEP_PKGS)),,-lrocksdb) \
          $(if $(filter libcjson,$(DEP_PKGS)),,-lcjson) \
          $(if $(filter libzstd,$(DEP_PKGS)),,-lzstd) -pthread -lm

# Made afresh every time: PREFIX may differ from the last run.
build/kalam.pc: kalam.pc.in include/kalam.h FORCE
	@mkdir -p build
	@[ -n "$(VERSION)" ] || { echo "kalam: include/kalam.h defines no KALAM_VERSION" >&2; exit 1; }
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(DEP_PKGS)|' -e 's|@LIBS@|$(strip $(PC_LIBS))|' kalam.pc.in > $@.tmp
	mv $@.tmp $@

install: all build/kalam.pc
	install -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" \
	  "$(DESTDIR)$(PKGCONFIGDIR)" "$(DESTDIR)$(DOCDIR)/docs"
	install -m 755 kalam.so "$(DESTDIR)$(LIBDIR)/kalam.so"
	install -m 644 libkalam.a "$(DESTDIR)$(LIBDIR)/libkalam.a"
	install -m 644 include/kalam.h "$(DESTDIR)$(INCLUDEDIR)/kalam.h"
	install -m 644 build/kalam.pc "$(DESTDIR)$(PKGCONFIGDIR)/kalam.pc"
	install -m 644 $(DOCS) "$(DESTDIR)$(DOCDIR)/"
	install -m 644 $(addprefix docs/,$(DOCS_MORE)) "$(DESTDIR)$(DOCDIR)/docs/"

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/kalam.so" "$(DESTDIR)$(LIBDIR)/libkalam.a" \
	  "$(DESTDIR)$(INCLUDEDIR)/kalam.h" "$(DESTDIR)$(PKGCONFIGDIR)/kalam.pc"
	for f in $(DOCS); do rm -f "$(DESTDIR)$(DOCDIR)/$$f" || exit 1; done
	for f in $(DOCS_MORE); do rm -f "$(DESTDIR)$(DOCDIR)/docs/$$f" || exit 1; done
	for d in "$(DESTDIR)$(DOCDIR)/docs" "$(DESTDIR)$(DOCDIR)"; do \
	  if [ -d "$$d" ] && [ -z "$$(ls -A "$$d")" ]; then rmdir "$$d" || exit 1; fi; \
	done

FORCE:

# Helpers that tests build and run.
build/kalam_threads: tool/kalam_threads.c
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -o $@ $< $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) $(SQLITE_LIBS) -lpthread

build/kalam_fork: tool/kalam_fork.c
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -o $@ $< $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) $(SQLITE_LIBS)

# The C API, linked statically with sqlite3_auto_extension.
build/capi_test: test/capi_test.c libkalam.a include/kalam.h
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -Iinclude $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(SQLITE_LIBS) -lm

# Subscriptions and kalam_wait across connections and threads
# (test/kalam_changes.test); under `make asan`, built with the sanitizers
# from the sources.
build/changes_test: test/changes_test.c libkalam.a include/kalam.h
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -Iinclude $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(SQLITE_LIBS) -lm
build/asan/changes_test: test/changes_test.c $(wildcard src/*.c) kalam_vtab.c $(HDR)
	@mkdir -p build/asan
	$(CC) $(ASANFLAGS) $(KCFLAGS) -DSQLITE_CORE -Iinclude $(LDFLAGS) -o $@ $< $(wildcard src/*.c) kalam_vtab.c $(DEPLIBS) $(SQLITE_LIBS) -lm

# The subscription API's example (docs/changes.md).
build/kalam_follow: tool/kalam_follow.c libkalam.a include/kalam.h
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -Iinclude $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(SQLITE_LIBS) -lm

# The Parquet writer and reader on their own (test/kalam_parquet.test),
# linked with libkalam.a; under `make asan` the test builds the second,
# from the sources with the sanitizers.
build/parquet_test: test/parquet_test.c libkalam.a $(HDR)
	@mkdir -p build
	$(CC) $(CFLAGS) $(KCFLAGS) -DSQLITE_CORE -Isrc $(LDFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(SQLITE_LIBS) -lm
build/asan/parquet_test: test/parquet_test.c $(wildcard src/*.c) $(HDR)
	@mkdir -p build/asan
	$(CC) $(ASANFLAGS) $(KCFLAGS) -DSQLITE_CORE -Isrc $(LDFLAGS) -o $@ $< $(wildcard src/*.c) $(DEPLIBS) $(SQLITE_LIBS) -lm

# The benchmark (tool/bench.c): native SQLite vs kalam vs a raw RocksDB +
# cJSON floor, in one program linked with libkalam.a. N rows; its scratch
# files go to build/bench/run/, deleted before each run. docs/performance.md
# explains the workloads and the results.
N ?= 200000 1000000
build/bench/bench: tool/bench.c libkalam.a include/kalam.h
	@mkdir -p build/bench
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(SQLITE_LIBS) -lm

bench: deps
	@$(MAKE) --no-print-directory all build/bench/bench
	@for n in $(N); do build/bench/bench -n $$n -d build/bench/run || exit 1; done

# ---------------------------------------------------------------- hardening
# docs/hardening.md explains these targets.

.PHONY: store-tool valgrind fuzz fuzz-deps

# tool/kalam_store.c: list, dump and poke a store (test/kalam_corrupt.test).
store-tool: build/kalam_store
build/kalam_store: tool/kalam_store.c
	@mkdir -p build
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(CPPFLAGS) $(DEPCFLAGS) $(LDFLAGS) -o $@ $< $(DEPLIBS)

# libFuzzer targets (test/fuzz/fuzz_*.c), linked with the src/ objects built
# by clang with ASan+UBSan (SQLITE_CORE: they call libsqlite3 directly).
# `make fuzz` installs clang and its fuzzer runtime if missing (as root),
# builds the targets and replays each seed corpus; FUZZ_SECS=300 fuzzes
# each target that long, keeping new inputs in build/fuzz/corpus/<target>/
# and crashes in build/fuzz/artifacts/. FUZZ_TARGETS picks targets.
FUZZ_CC ?= clang
FUZZ_SECS ?= 0
FUZZ_TARGETS ?= row schema key value parquet
FUZZ_SAN = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
FUZZ_OBJ = $(patsubst src/%.c,build/fuzz/obj/%.o,$(wildcard src/*.c))

build/fuzz/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(KCFLAGS) -DSQLITE_CORE -c $< -o $@

build/fuzz/libkalam-fuzz.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $(FUZZ_OBJ)

build/fuzz/fuzz_%: test/fuzz/fuzz_%.c build/fuzz/libkalam-fuzz.a $(HDR)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(KCFLAGS) -DSQLITE_CORE -Isrc $(LDFLAGS) -o $@ $< build/fuzz/libkalam-fuzz.a $(DEPLIBS) $(SQLITE_LIBS) -lm

fuzz-deps:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1 || \
	    ! ls "$$($(FUZZ_CC) -print-resource-dir 2>/dev/null)"/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "kalam: installing clang and libFuzzer"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null; \
	  else \
	    echo "kalam: make fuzz needs clang and libFuzzer: sudo apt-get install clang libclang-rt-dev" >&2; exit 1; \
	  fi; \
	fi

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@mkdir -p build/fuzz/artifacts
	@bad=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  dict=""; [ -f test/fuzz/$$t.dict ] && dict="-dict=test/fuzz/$$t.dict"; \
	  if [ "$(FUZZ_SECS)" = 0 ]; then \
	    echo "fuzz_$$t: replaying test/fuzz/corpus/$$t"; \
	    build/fuzz/fuzz_$$t -runs=0 $$dict test/fuzz/corpus/$$t \
	      > build/fuzz/$$t.log 2>&1; rc=$$?; n=2; \
	  else \
	    echo "fuzz_$$t: fuzzing for $(FUZZ_SECS)s"; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECS) -print_final_stats=1 \
	      -artifact_prefix=build/fuzz/artifacts/$$t- $$dict \
	      build/fuzz/corpus/$$t test/fuzz/corpus/$$t > build/fuzz/$$t.log 2>&1; \
	    rc=$$?; n=12; \
	  fi; \
	  if [ $$rc -ne 0 ]; then n=60; bad="$$bad $$t"; fi; \
	  tail -$$n build/fuzz/$$t.log; \
	done; \
	if [ -n "$$bad" ]; then echo "fuzz: failed:$$bad (build/fuzz/<target>.log)"; exit 1; fi

# A subset of the suite under valgrind (docs/hardening.md says which files
# and why), one file at a time. kalam.so is preloaded for the reason given
# at `asan`. Definite leaks count as errors; test/valgrind.supp holds the
# suppressions, all of them outside kalam. VALGRIND_TESTS picks files.
VALGRIND_TESTS ?= harness kalam_shared kalam_plan kalam_store kalam_corrupt kalam_user \
                  kalam_differential
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --suppressions=$(CURDIR)/test/valgrind.supp --trace-children=no
valgrind: deps
	@command -v valgrind >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null; \
	  else echo "kalam: make valgrind needs valgrind: sudo apt-get install valgrind" >&2; exit 1; fi; }
	@$(MAKE) --no-print-directory all store-tool
	@bad=""; for t in $(VALGRIND_TESTS); do \
	  start=$$(date +%s); \
	  KALAM_LIB=$(CURDIR)/kalam KALAM_SANITIZER=valgrind KALAM_DIFF_N=400 \
	  LD_PRELOAD=$(CURDIR)/kalam.so $(VALGRIND) $(TCLSH) test/$$t.test \
	    > build/valgrind-$$t.log 2>&1; rc=$$?; \
	  echo "$$t.test: $$(grep -E '^[0-9]+ passed, [0-9]+ failed' build/valgrind-$$t.log | tail -1) (exit $$rc, $$(( $$(date +%s) - start ))s)"; \
	  if [ $$rc -ne 0 ]; then bad="$$bad $$t"; \
	    grep -E '^==[0-9]+==|^! ' build/valgrind-$$t.log | grep -v 'unimplemented fcntl' | head -60; fi; \
	done; \
	if [ -n "$$bad" ]; then echo "valgrind: errors in:$$bad (build/valgrind-*.log)"; exit 1; fi; \
	echo "valgrind: no error"
