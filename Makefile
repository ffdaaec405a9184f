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

build/kalam-asan.so: $(ASAN_OBJ)
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

asan: deps
	@$(MAKE) --no-print-directory build/kalam-asan.so
	KALAM_LIB=$(CURDIR)/build/kalam-asan \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(TCLSH) test/all.tcl

clean:
	rm -rf build kalam.so libkalam.a test/tmp
