# kalam — KalamDB's table model for SQLite, as one loadable extension.
#
#   make          kalam.so (loadable) and libkalam.a (static)
#   make deps     install missing Debian packages (as root) or name them
#   make test     deps, build, every Tcl test (test/all.tcl)
#   make demo     deps, build, a scripted tour in the sqlite3 shell
#   make bench    deps, build, the benchmark (tool/bench.c); N=rows
#   make asan     the test suite against an ASan+UBSan build
#   make slt FILE=path.test   one sqllogictest file on kalam_shared tables

CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS     = sqlite3 rocksdb libcjson
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS   := $(shell pkg-config --libs rocksdb libcjson 2>/dev/null || echo -lrocksdb -lcjson)
KCFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC $(DEPCFLAGS)

SRC  = kalam_vtab.c $(wildcard src/*.c)
HDR  = include/kalam.h $(wildcard src/*.h)
SO_OBJ = $(patsubst %.c,build/so/%.o,$(SRC))
A_OBJ  = $(patsubst %.c,build/a/%.o,$(SRC))
ASAN_OBJ = $(patsubst %.c,build/asan/%.o,$(SRC))
ASANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

TCLSH ?= tclsh

.PHONY: all deps test demo bench asan slt clean

all: kalam.so libkalam.a

# The loadable library reaches SQLite through the host's API table, so it
# does not link libsqlite3 itself.
kalam.so: $(SO_OBJ)
	$(CC) -shared -o $@ $(SO_OBJ) $(DEPLIBS) -lm

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
	$(CC) -shared $(ASANFLAGS) -o $@ $(ASAN_OBJ) $(DEPLIBS) -lm

deps:
	@sh tool/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	$(TCLSH) test/all.tcl

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tool/demo.sh

slt: all
	$(TCLSH) test/slt.tcl $(FILE)

# The stock tclsh is not instrumented, so the ASan runtime is preloaded into
# it. kalam.so is preloaded too: SQLite dlclose()s an extension when its
# connection closes, and a library that is gone at exit makes LeakSanitizer
# report what its globals still hold (the store registry) and leaves its
# frames unsymbolized. Reports go to build/asan-log/ (all.tcl keeps only the
# tail of a dead child's output), and any report fails the target. A 16 MB
# quarantine keeps recent frees poisoned without tripping the RSS bound of
# the streaming-scan test; test/lsan.supp says what is suppressed and why.
asan: deps
	@$(MAKE) --no-print-directory build/asan/kalam.so
	@rm -rf build/asan-log && mkdir -p build/asan-log
	KALAM_LIB=$(CURDIR)/build/asan/kalam \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so) $(CURDIR)/build/asan/kalam.so" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:log_path=$(CURDIR)/build/asan-log/asan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/build/asan-log/ubsan \
	$(TCLSH) test/all.tcl $(TESTS); rc=$$?; \
	if ls build/asan-log/* >/dev/null 2>&1; then \
	  cat build/asan-log/*; echo "asan: sanitizer reports above (build/asan-log/)"; exit 1; \
	fi; \
	[ $$rc -eq 0 ] && echo "asan: no sanitizer report"; exit $$rc

clean:
	rm -rf build kalam.so libkalam.a test/tmp

# Helpers that tests build and run.
build/kalam_threads: tool/kalam_threads.c
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -o $@ $< $(shell pkg-config --cflags --libs sqlite3 2>/dev/null || echo -lsqlite3) -lpthread

# The C API, linked statically with sqlite3_auto_extension.
build/capi_test: test/capi_test.c libkalam.a include/kalam.h
	@mkdir -p build
	$(CC) $(CFLAGS) -Wall -Wextra -Iinclude -o $@ $< libkalam.a $(DEPLIBS) $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -lm

# The benchmark (tool/bench.c): native SQLite vs kalam vs a raw RocksDB +
# cJSON floor, in one program linked with libkalam.a. N rows; its scratch
# files go to build/bench/run/, deleted before each run. docs/performance.md
# explains the workloads and the results.
N ?= 1000000
build/bench/bench: tool/bench.c libkalam.a include/kalam.h
	@mkdir -p build/bench
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(DEPCFLAGS) -o $@ $< libkalam.a $(DEPLIBS) $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -lm

bench: deps
	@$(MAKE) --no-print-directory all build/bench/bench
	build/bench/bench -n $(N) -d build/bench/run
