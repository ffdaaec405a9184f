/*
** bench.c — kalam's benchmark: the same workloads, in one run, on native
** SQLite tables, on kalam tables, and on a raw RocksDB + cJSON loop that is
** the floor of kalam's architecture (JSON rows in RocksDB, no SQLite).
**
**   make bench [N=rows]               N defaults to 1,000,000
**   build/bench/bench -n N -d DIR [-r ROUNDS] [-only native|kalam|raw]
**
** DIR (make uses build/bench/run) is deleted and made afresh first; it
** holds native.db, kalam.db with its store kalam.db-kalam/, and raw/ (the
** RocksDB directory of the floor). `-r 3` runs everything three times,
** each time from nothing, and prints the least time of each cell: other
** processes on the machine can only add time. `-only` runs one system, so
** that a profiler sees nothing else. Each timed workload is a function of
** its own named benchWork*, never inlined, so
**   valgrind --tool=callgrind --dump-before='benchWork*' \
**            build/bench/bench -only kalam ...
** starts a new profile file at each workload (docs/performance.md shows
** the use).
**
** Two tables are printed: wall-clock seconds, which the targets apply to,
** and the CPU seconds of the benchmark's own thread, which leave out fsync
** waits, RocksDB's background threads and, above all, time lost to other
** processes on a shared machine.
**
** Workloads (one row = an INTEGER, a REAL, two TEXTs and an INTEGER, made
** from its index by benchRowMake, so every system stores the same values):
**
**   insert    N rows into an empty table in one transaction, no row id
**             given (native: 1, 2, 3...; kalam: snowflake ids)
**   scan      SELECT sum(e) FROM t: the last column, so that a codec that
**             stops early gains nothing here
**   hotscan   the same scan right after the insert, in the connection that
**             wrote the rows (every other read comes after a reopen)
**   lookup    100,000 random rows by rowid, all five columns, through one
**             prepared statement, inside one read transaction (BEGIN ...
**             COMMIT); then the same again in autocommit, where each
**             statement also takes and drops the database file's lock and
**             looks for a hot journal (printed, no target)
**   mtinsert  N rows spread over N/200 users, interleaved (row i belongs to
**             user i % users, so consecutive rows have different users), in
**             one transaction. kalam: a kalam_user table, and the user is
**             switched before every row with a prepared
**             SELECT kalam_set_user(?), because an interleaved stream of
**             requests is what a server sees and switching per row is the
**             honest cost of it (batching one user's rows would turn the
**             workload into N/200 small bulk inserts). Native: one table
**             with a user_id column and an index on it.
**   mtread    every row of 500 random users. kalam: set the user, then
**             SELECT a,b,c,d,e FROM mt; native: ... WHERE user_id = ?.
**   ixinsert  the N rows of insert again, into a table with one index on
**             a (kalam: INDEX(a); native: CREATE INDEX). Its time against
**             insert's is the cost of one index (printed, no target).
**   ixlookup  100,000 lookups of random rows by a (= ?), through the
**             index, all five columns read, in one read transaction
**   ixrange   5,000 ranges a BETWEEN ? AND ? of 100 rows each (at random
**             places; a few more where values repeat), sum(e) of each,
**             through the index, in one read transaction
**   update    100,000 random rows of t by rowid (SET e = e), in one
**             transaction: kalam rewrites the row and moves its change
**             entry (docs/changes.md); printed, no target
**   feed      the 100 newest changes of t, read 1,000 times: kalam through
**             kalam_changes('t', S, 100); native, having no feed, reads the
**             same number of rows by a rowid range, for scale; printed, no
**             target
**   expire    N/10 rows of a per-user stream (kalam: kalam_stream with
**             ttl_seconds=1, per_user=1; native: a table with user_id and
**             ts columns and an index on ts) spread over 100 users, then
**             the same over 10,000 users, all expired (an untimed wait of a
**             second), removed: kalam_expire, or DELETE ... WHERE ts < ?.
**             The two kalam times should be alike: expiry reads only the
**             expired rows, whatever the number of users (docs/streams.md);
**             printed, no target
**   coldscan  "scan after flush": SELECT sum(e) FROM t again, last, after
**             kalam_flush('t') (untimed; its time goes to stderr) has
**             moved every row of t to Parquet files, so that kalam reads
**             the column e from the cold files (docs/cold.md); native
**             scans its table as before
**
** Between the writes and the reads every connection (and the raw store) is
** closed and opened again, so reads see the data as it lies on disk (warm
** in the OS page cache, as for native), not what is left in memory by the
** writers; the time of that reopen is printed as an extra line because
** RocksDB replays its log there.
**
** Durability: native and kalam databases run with the same settings,
** journal_mode=DELETE and synchronous=FULL (SQLite's defaults), which makes
** kalam sync its RocksDB log at COMMIT; the raw floor writes with sync on.
**
** kalam is linked in from libkalam.a and registered for every connection
** with sqlite3_auto_extension: one binary, nothing loaded at run time, and
** profilers see kalam's symbols like the benchmark's own.
**
** Memory of a full scan is measured in a child process (this program run
** again with -rss) that reads VmHWM, RssAnon and RssFile from
** /proc/self/status before and after the scan: a fresh process, so the
** parent's own memory (row id arrays, other stores) does not count. It
** scans ti (t's rows, still hot at the end) and, on kalam, t too, whose
** rows the last workload flushed. Run with two values of N to see
** whether it depends on N.
**
** Every result is checked (sums, row counts, the values looked up), and the
** three systems must agree, so a fast wrong answer cannot pass unnoticed.
*/
#include <sqlite3.h>
#include <rocksdb/c.h>
#include <cjson/cJSON.h>
#include "../include/kalam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <time.h>
#include <ftw.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Each timed workload is a function of its own, never inlined, so that a
** profiler can cut its report at the workload's entry and exit. */
#if defined(__GNUC__)
# define BENCH_WORKLOAD __attribute__((noinline))
#else
# define BENCH_WORKLOAD
#endif

#define BENCH_LOOKUPS    100000
#define BENCH_USER_ROWS  200     /* rows per user in the multi-tenant table */
#define BENCH_USER_READS 500     /* users whose rows are read back */
#define BENCH_RANGES     5000    /* indexed ranges read */
#define BENCH_RANGE_ROWS 100     /* rows in each */

/* The workloads, in the order they are printed. */
#define W_INSERT   0
#define W_SCAN     1
#define W_HOTSCAN  2     /* the scan again, in the writers' connection */
#define W_LOOKUP   3
#define W_AUTOLOOK 4     /* the lookups again, each its own transaction */
#define W_MTINSERT 5
#define W_MTREAD   6
#define W_IXINSERT 7     /* bulk insert into a table with one index */
#define W_IXLOOKUP 8
#define W_IXRANGE  9
#define W_UPDATE   10    /* updates by rowid: what the _seq index costs */
#define W_FEED     11    /* the last 100 changes, read again and again */
#define W_EXPIRE1  12    /* stream expiry: N/10 rows of 100 users */
#define W_EXPIRE2  13    /* the same rows over 10,000 users */
#define W_COLDSCAN 14    /* the scan again, after kalam_flush('t') */
#define W_REOPEN   15    /* not a workload: the reopen between the phases */
#define W_COUNT    16

/* The systems. */
#define S_NATIVE 0
#define S_KALAM  1
#define S_RAW    2
#define S_COUNT  3

static const struct {
  const char *zName;
  double rTarget;     /* the kalam/native ratio to stay under; 0: none */
} benchWork[W_COUNT] = {
  { "bulk insert",                1.3 },
  { "full scan sum(e)",           2.5 },
  { "  same, after the insert",   2.5 },
  { "point lookups by rowid",     1.3 },
  { "  same, autocommit",         0.0 },
  { "multi-tenant insert",        0.8 },
  { "multi-tenant per-user read", 0.4 },
  { "bulk insert, one index",     0.0 },
  { "indexed lookups a = ?",      1.5 },
  { "indexed ranges, 100 rows",   1.5 },
  { "updates by rowid",           0.0 },
  { "last 100 changes, x1000",    0.0 },
  { "stream expiry, 100 users",   0.0 },
  { "  same, 10,000 users",       0.0 },
  { "scan after flush",           1.0 },
  { "(reopen after the writes)",  0.0 },
};

static const char *const benchSysName[S_COUNT] = { "native", "kalam", "raw" };

/* One benchmark run. */
typedef struct Bench Bench;
struct Bench {
  sqlite3_int64 nRow;            /* N */
  int nUser;                     /* users of the multi-tenant table */
  int nUserRead;                 /* users read back */
  const char *zDir;              /* scratch directory */
  int mSys;                      /* bit (1<<S_x) set: system x is run */
  int nRound;                    /* rounds run (-r); the best is shown */
  double aTime[W_COUNT][S_COUNT];/* seconds, this round; negative: not run */
  double aCpu[W_COUNT][S_COUNT]; /* CPU seconds of the main thread, same */
  double aBest[W_COUNT][S_COUNT];/* the least of every round so far */
  double aBestCpu[W_COUNT][S_COUNT];
  sqlite3_int64 *aRowid;         /* row ids of table t, in insert order */
  int *aLookup;                  /* row indexes to look up */
  int *aUserRead;                /* users to read back */
  sqlite3_int64 iSumE;           /* expected sum(e) over table t */
  sqlite3_int64 iSumLookup;      /* expected sum(a) over the lookups */
  sqlite3_int64 nMtReadRows;     /* expected rows read by mtread */
  sqlite3_int64 iMtReadSum;      /* expected sum(a) over them */
  sqlite3_int64 *aRangeLo;       /* ixrange: the bounds of each range */
  sqlite3_int64 *aRangeHi;
  sqlite3_int64 nIxLookupRows;   /* expected rows found by ixlookup */
  sqlite3_int64 iIxLookupSum;    /* expected sum(e) over them */
  sqlite3_int64 nIxRangeRows;    /* expected rows read by ixrange */
  sqlite3_int64 iIxRangeSum;     /* expected sum(e) over them */
};

/* ------------------------------------------------------------ utilities */

/* Prints a message and ends the program: a benchmark that has gone wrong
** has nothing useful left to measure. */
static void benchDie(const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  fprintf(stderr, "bench: ");
  vfprintf(stderr, zFmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void *benchMalloc(size_t n){
  void *p = malloc(n ? n : 1);
  if( p==0 ) benchDie("out of memory (%zu bytes)", n);
  return p;
}

/* Seconds on a clock that never steps. */
static double benchNow(void){
  struct timespec ts;
  if( clock_gettime(CLOCK_MONOTONIC, &ts)!=0 ){
    benchDie("clock_gettime: %s", strerror(errno));
  }
  return (double)ts.tv_sec + (double)ts.tv_nsec/1e9;
}

/* CPU seconds used so far by the calling thread. Unlike wall time it does
** not grow when other processes take the CPU, so on a shared machine it
** is the steadier measure of the code's own cost; it leaves out time spent
** waiting (fsync) and RocksDB's background threads (flushes). */
static double benchCpuNow(void){
  struct timespec ts;
  if( clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)!=0 ){
    benchDie("clock_gettime: %s", strerror(errno));
  }
  return (double)ts.tv_sec + (double)ts.tv_nsec/1e9;
}

/* A stopwatch for one workload: wall time and main-thread CPU time. */
typedef struct BenchClock BenchClock;
struct BenchClock {
  double rWall;
  double rCpu;
};

static void benchClockStart(BenchClock *c){
  c->rWall = benchNow();
  c->rCpu = benchCpuNow();
}

/* Records the time since benchClockStart as workload w of system s. */
static void benchClockStop(Bench *p, int w, int s, const BenchClock *c){
  p->aTime[w][s] = benchNow() - c->rWall;
  p->aCpu[w][s] = benchCpuNow() - c->rCpu;
}

/* splitmix64's finalizer: a well-mixed 64-bit value from a counter, so the
** data and the random choices are the same on every run and machine. */
static sqlite3_uint64 benchMix(sqlite3_uint64 x){
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x>>30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x>>27)) * 0x94d049bb133111ebULL;
  return x ^ (x>>31);
}

/* One row's values. */
typedef struct BenchRow BenchRow;
struct BenchRow {
  sqlite3_int64 a;
  double b;
  char zC[32];
  int nC;
  char zD[96];
  int nD;
  sqlite3_int64 e;
};

/* Fills row i: a short text and a sentence-like longer one, so that rows
** are about the size of an ordinary application record. */
static void benchRowMake(sqlite3_int64 i, BenchRow *p){
  static const char *const azWord[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    "hotel", "india", "juliet", "kilo", "lima", "mike", "november"
  };
  sqlite3_uint64 h = benchMix((sqlite3_uint64)i);
  p->a = (sqlite3_int64)(h % 1000000000ULL);
  p->b = (double)((h>>32) % 1000000ULL) / 100.0;
  p->nC = snprintf(p->zC, sizeof(p->zC), "name-%010llu",
                   (unsigned long long)((h>>8) % 10000000000ULL));
  p->nD = snprintf(p->zD, sizeof(p->zD), "%s %s %s %s, item %lld",
                   azWord[h % 14], azWord[(h>>4) % 14], azWord[(h>>8) % 14],
                   azWord[(h>>12) % 14], (long long)i);
  p->e = i % 1000;
}

/* The user id of user u, for both the kalam and native tables. */
static int benchUserName(int u, char *zOut, int nOut){
  return snprintf(zOut, (size_t)nOut, "user%06d", u);
}

/* nftw callback of benchRemoveTree. */
static int benchRemoveOne(const char *zPath, const struct stat *pSt, int flag,
                          struct FTW *pFtw){
  (void)pSt; (void)flag; (void)pFtw;
  if( remove(zPath)!=0 ) benchDie("cannot remove %s: %s", zPath,
                                  strerror(errno));
  return 0;
}

/* rm -rf zDir, then mkdir: each run starts from nothing. */
static void benchRemoveTree(const char *zDir){
  struct stat st;
  if( lstat(zDir, &st)==0 ){
    if( nftw(zDir, benchRemoveOne, 16, FTW_DEPTH | FTW_PHYS)!=0 ){
      benchDie("cannot remove %s", zDir);
    }
  }else if( errno!=ENOENT ){
    benchDie("cannot stat %s: %s", zDir, strerror(errno));
  }
  if( mkdir(zDir, 0777)!=0 ){
    benchDie("cannot create %s: %s", zDir, strerror(errno));
  }
}

/* A path under the scratch directory, in a static buffer per slot. */
static const char *benchPath(const Bench *p, const char *zName, int iSlot){
  static char aBuf[4][4096];
  int n = snprintf(aBuf[iSlot], sizeof(aBuf[iSlot]), "%s/%s", p->zDir, zName);
  if( n<0 || n>=(int)sizeof(aBuf[iSlot]) ) benchDie("path too long: %s", zName);
  return aBuf[iSlot];
}

/* A value from /proc/self/status (VmHWM, VmRSS) in kB. */
static long benchProcStatusKb(const char *zField){
  FILE *f = fopen("/proc/self/status", "r");
  char zLine[256];
  size_t nField = strlen(zField);
  long v = -1;
  if( f==0 ) benchDie("cannot open /proc/self/status: %s", strerror(errno));
  while( fgets(zLine, sizeof(zLine), f) ){
    if( strncmp(zLine, zField, nField)==0 && zLine[nField]==':' ){
      v = strtol(zLine + nField + 1, 0, 10);
      break;
    }
  }
  if( fclose(f)!=0 ) benchDie("cannot read /proc/self/status");
  if( v<0 ) benchDie("no %s in /proc/self/status", zField);
  return v;
}

/* ------------------------------------------------------------ SQLite */

/* Ends the program unless rc is one of the codes a step may return. */
static void benchSqlCheck(sqlite3 *db, int rc, const char *zWhat){
  if( rc!=SQLITE_OK && rc!=SQLITE_ROW && rc!=SQLITE_DONE ){
    benchDie("%s: %s (%s)", zWhat, sqlite3_errmsg(db), sqlite3_errstr(rc));
  }
}

static void benchExec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc!=SQLITE_OK ){
    benchDie("%s: %s", zSql, zErr ? zErr : sqlite3_errstr(rc));
  }
}

static sqlite3_stmt *benchPrepare(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  benchSqlCheck(db, rc, zSql);
  return pStmt;
}

static void benchFinalize(sqlite3 *db, sqlite3_stmt *pStmt){
  int rc = sqlite3_finalize(pStmt);
  benchSqlCheck(db, rc, "finalize");
}

/* Steps a statement that must return no row, and resets it. */
static void benchStepDone(sqlite3 *db, sqlite3_stmt *pStmt, const char *zWhat){
  int rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_DONE ) benchSqlCheck(db, rc==SQLITE_ROW ? SQLITE_ERROR : rc,
                                      zWhat);
  rc = sqlite3_reset(pStmt);
  benchSqlCheck(db, rc, zWhat);
}

/* The text of the first column of the first row of zSql. */
static void benchQueryText(sqlite3 *db, const char *zSql, char *zOut,
                           int nOut){
  sqlite3_stmt *pStmt = benchPrepare(db, zSql);
  int rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc==SQLITE_DONE ? SQLITE_ERROR : rc,
                                     zSql);
  snprintf(zOut, (size_t)nOut, "%s",
           (const char*)sqlite3_column_text(pStmt, 0));
  benchFinalize(db, pStmt);
}

/* Opens a database with the durability settings both SQL systems share. */
static sqlite3 *benchSqlOpen(const char *zFile){
  sqlite3 *db = 0;
  int rc = sqlite3_open_v2(zFile, &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
  if( rc!=SQLITE_OK ){
    benchDie("cannot open %s: %s", zFile,
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  }
  benchExec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;");
  return db;
}

static void benchSqlClose(sqlite3 *db){
  int rc = sqlite3_close(db);
  if( rc!=SQLITE_OK ) benchDie("cannot close a database: %s",
                               sqlite3_errstr(rc));
}

/* Binds row r's values to parameters iFirst..iFirst+4. */
static void benchBindRow(sqlite3 *db, sqlite3_stmt *pStmt, int iFirst,
                         const BenchRow *r){
  int rc = sqlite3_bind_int64(pStmt, iFirst, r->a);
  if( rc==SQLITE_OK ) rc = sqlite3_bind_double(pStmt, iFirst+1, r->b);
  if( rc==SQLITE_OK ){
    rc = sqlite3_bind_text(pStmt, iFirst+2, r->zC, r->nC, SQLITE_STATIC);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_bind_text(pStmt, iFirst+3, r->zD, r->nD, SQLITE_STATIC);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_bind_int64(pStmt, iFirst+4, r->e);
  benchSqlCheck(db, rc, "bind");
}

/* The tables of the SQL systems. ti is t with an index on a. */
static void benchSqlCreate(sqlite3 *db, int bKalam){
  if( bKalam ){
    benchExec(db,
      "CREATE VIRTUAL TABLE t USING kalam_shared("
      "  a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER);"
      "CREATE VIRTUAL TABLE mt USING kalam_user("
      "  a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER);"
      "CREATE VIRTUAL TABLE ti USING kalam_shared("
      "  a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER, INDEX(a));");
  }else{
    benchExec(db,
      "CREATE TABLE t(a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER);"
      "CREATE TABLE mt(user_id TEXT, a INTEGER, b REAL, c TEXT, d TEXT,"
      "  e INTEGER);"
      "CREATE INDEX mt_user ON mt(user_id);"
      "CREATE TABLE ti(a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER);"
      "CREATE INDEX ti_a ON ti(a);");
  }
}

/* Workload insert (and ixinsert, into ti): N rows in one transaction;
** insert records their row ids. */
static BENCH_WORKLOAD void benchWorkSqlInsert(Bench *p, sqlite3 *db,
                                              const char *zTable){
  sqlite3_stmt *pIns;
  sqlite3_int64 i;
  char zSql[128];
  BenchRow r;
  int bRowids = strcmp(zTable, "t")==0;
  snprintf(zSql, sizeof(zSql),
           "INSERT INTO %s(a,b,c,d,e) VALUES(?1,?2,?3,?4,?5)", zTable);
  benchExec(db, "BEGIN");
  pIns = benchPrepare(db, zSql);
  for(i=0; i<p->nRow; i++){
    benchRowMake(i, &r);
    benchBindRow(db, pIns, 1, &r);
    benchStepDone(db, pIns, zSql);
    if( bRowids ) p->aRowid[i] = sqlite3_last_insert_rowid(db);
  }
  benchFinalize(db, pIns);
  benchExec(db, "COMMIT");
}

/* Workload scan: returns sum(e). */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlScan(sqlite3 *db){
  sqlite3_stmt *pStmt = benchPrepare(db, "SELECT sum(e) FROM t");
  sqlite3_int64 iSum;
  int rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc==SQLITE_DONE ? SQLITE_ERROR : rc,
                                     "SELECT sum(e) FROM t");
  iSum = sqlite3_column_int64(pStmt, 0);
  benchFinalize(db, pStmt);
  return iSum;
}

/* Workload coldscan: the scan of t once its rows are flushed; sum(e). */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlColdScan(sqlite3 *db){
  return benchWorkSqlScan(db);
}

/* Workload lookup: returns the sum of a over the rows found, and fails if a
** row is missing or its values are not the ones inserted. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlLookup(Bench *p, sqlite3 *db){
  sqlite3_stmt *pStmt = benchPrepare(db,
      "SELECT a, b, c, d, e FROM t WHERE rowid = ?1");
  sqlite3_int64 iSum = 0;
  int i, rc;
  for(i=0; i<BENCH_LOOKUPS; i++){
    int iRow = p->aLookup[i];
    rc = sqlite3_bind_int64(pStmt, 1, p->aRowid[iRow]);
    benchSqlCheck(db, rc, "bind");
    rc = sqlite3_step(pStmt);
    if( rc!=SQLITE_ROW ){
      benchSqlCheck(db, rc, "lookup");
      benchDie("lookup: rowid %lld not found", (long long)p->aRowid[iRow]);
    }
    iSum += sqlite3_column_int64(pStmt, 0);
    /* Read every column, as an application would. */
    if( sqlite3_column_double(pStmt, 1)<0.0
     || sqlite3_column_bytes(pStmt, 2)==0
     || sqlite3_column_bytes(pStmt, 3)==0
     || sqlite3_column_int64(pStmt, 4)!=iRow % 1000 ){
      benchDie("lookup: wrong values for rowid %lld",
               (long long)p->aRowid[iRow]);
    }
    rc = sqlite3_step(pStmt);
    if( rc!=SQLITE_DONE ) benchDie("lookup: more than one row for a rowid");
    rc = sqlite3_reset(pStmt);
    benchSqlCheck(db, rc, "lookup");
  }
  benchFinalize(db, pStmt);
  return iSum;
}

/* Workload update: the lookup rows rewritten (sums stay as they were). */
static BENCH_WORKLOAD void benchWorkSqlUpdate(Bench *p, sqlite3 *db){
  sqlite3_stmt *pStmt = benchPrepare(db,
      "UPDATE t SET e = e WHERE rowid = ?1");
  int i, rc;
  benchExec(db, "BEGIN");
  for(i=0; i<BENCH_LOOKUPS; i++){
    rc = sqlite3_bind_int64(pStmt, 1, p->aRowid[p->aLookup[i]]);
    benchSqlCheck(db, rc, "bind");
    benchStepDone(db, pStmt, "update");
    if( sqlite3_changes(db)!=1 ) benchDie("update: no row for a rowid");
  }
  benchExec(db, "COMMIT");
  benchFinalize(db, pStmt);
}

/* Workload feed: reads the newest 100 changes 1,000 times (kalam), or as
** many rows by a rowid range (native); iFrom is the _seq or row id they
** follow. Returns the rows read. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlFeed(sqlite3 *db, int bKalam,
                                                     sqlite3_int64 iFrom){
  sqlite3_stmt *pStmt = benchPrepare(db, bKalam
      ? "SELECT _seq, rowid, _deleted, row FROM kalam_changes('t', ?1, 100)"
      : "SELECT rowid, a, b, c, d, e FROM t WHERE rowid > ?1 LIMIT 100");
  sqlite3_int64 n = 0;
  int i, rc;
  for(i=0; i<1000; i++){
    rc = sqlite3_bind_int64(pStmt, 1, iFrom);
    benchSqlCheck(db, rc, "bind");
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      if( sqlite3_column_bytes(pStmt, 3)==0 ) benchDie("feed: an empty row");
      n++;
    }
    if( rc!=SQLITE_DONE ) benchSqlCheck(db, rc, "feed");
    rc = sqlite3_reset(pStmt);
    benchSqlCheck(db, rc, "feed");
  }
  benchFinalize(db, pStmt);
  return n;
}

/* The wall clock in ms, as kalam's snowflake ids read it. */
static sqlite3_int64 benchWallMs(void){
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (sqlite3_int64)t.tv_sec*1000 + t.tv_nsec/1000000;
}

/* Workload expire: fills stream zTable with nRow rows over nUsers users
** (untimed), waits for them to expire, and times their removal. Returns
** the rows removed. */
static sqlite3_int64 benchWorkSqlExpire(Bench *p, sqlite3 *db, int bKalam,
                                        const char *zTable, int nUsers,
                                        int w, int iSys){
  sqlite3_stmt *pIns, *pUser = 0;
  sqlite3_int64 i, nRow = p->nRow/10, nGone;
  char zSql[160], zUser[32];
  BenchClock clk;
  if( bKalam ){
    snprintf(zSql, sizeof(zSql), "CREATE VIRTUAL TABLE %s USING kalam_stream("
             "a INTEGER, c TEXT, ttl_seconds=1, per_user=1)", zTable);
    benchExec(db, zSql);
    snprintf(zSql, sizeof(zSql), "INSERT INTO %s VALUES(?1, ?2)", zTable);
    pUser = benchPrepare(db, "SELECT kalam_set_user(?1)");
  }else{
    snprintf(zSql, sizeof(zSql), "CREATE TABLE %s(user_id TEXT, ts INTEGER,"
             " a INTEGER, c TEXT); CREATE INDEX %s_ts ON %s(ts)", zTable,
             zTable, zTable);
    benchExec(db, zSql);
    snprintf(zSql, sizeof(zSql), "INSERT INTO %s VALUES(?3, ?4, ?1, ?2)",
             zTable);
  }
  pIns = benchPrepare(db, zSql);
  benchExec(db, "BEGIN");
  for(i=0; i<nRow; i++){
    int nName = benchUserName((int)(i % nUsers), zUser, sizeof(zUser));
    BenchRow r;
    int rc;
    benchRowMake(i, &r);
    if( pUser ){
      rc = sqlite3_bind_text(pUser, 1, zUser, nName, SQLITE_STATIC);
      benchSqlCheck(db, rc, "bind");
      rc = sqlite3_step(pUser);
      if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc, "kalam_set_user");
      sqlite3_reset(pUser);
    }else{
      rc = sqlite3_bind_text(pIns, 3, zUser, nName, SQLITE_STATIC);
      if( rc==SQLITE_OK ) rc = sqlite3_bind_int64(pIns, 4, benchWallMs());
      benchSqlCheck(db, rc, "bind");
    }
    rc = sqlite3_bind_int64(pIns, 1, r.a);
    if( rc==SQLITE_OK ) rc = sqlite3_bind_text(pIns, 2, r.zC, r.nC,
                                               SQLITE_STATIC);
    benchSqlCheck(db, rc, "bind");
    benchStepDone(db, pIns, zSql);
  }
  benchExec(db, "COMMIT");
  benchFinalize(db, pIns);
  if( pUser ) benchFinalize(db, pUser);
  usleep(1100000);
  benchClockStart(&clk);
  if( bKalam ){
    char zOut[32];
    snprintf(zSql, sizeof(zSql), "SELECT kalam_expire('%s')", zTable);
    benchQueryText(db, zSql, zOut, (int)sizeof(zOut));
    nGone = strtoll(zOut, 0, 10);
  }else{
    snprintf(zSql, sizeof(zSql), "DELETE FROM %s WHERE ts < %lld", zTable,
             (long long)(benchWallMs() - 1000));
    benchExec(db, zSql);
    nGone = sqlite3_changes64(db);
  }
  benchClockStop(p, w, iSys, &clk);
  return nGone;
}

/* Workload mtinsert: row i goes to user i % nUser. */
static BENCH_WORKLOAD void benchWorkSqlMtInsert(Bench *p, sqlite3 *db,
                                                 int bKalam){
  sqlite3_stmt *pIns, *pUser = 0;
  sqlite3_int64 i;
  char zUser[32];
  BenchRow r;
  int rc, nName;
  benchExec(db, "BEGIN");
  if( bKalam ){
    pUser = benchPrepare(db, "SELECT kalam_set_user(?1)");
    pIns = benchPrepare(db,
        "INSERT INTO mt(a,b,c,d,e) VALUES(?1,?2,?3,?4,?5)");
  }else{
    pIns = benchPrepare(db,
        "INSERT INTO mt(user_id,a,b,c,d,e) VALUES(?6,?1,?2,?3,?4,?5)");
  }
  for(i=0; i<p->nRow; i++){
    nName = benchUserName((int)(i % p->nUser), zUser, sizeof(zUser));
    benchRowMake(i, &r);
    if( bKalam ){
      rc = sqlite3_bind_text(pUser, 1, zUser, nName, SQLITE_STATIC);
      benchSqlCheck(db, rc, "bind");
      rc = sqlite3_step(pUser);
      if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc==SQLITE_DONE?SQLITE_ERROR:rc,
                                         "kalam_set_user");
      rc = sqlite3_reset(pUser);
      benchSqlCheck(db, rc, "kalam_set_user");
    }else{
      rc = sqlite3_bind_text(pIns, 6, zUser, nName, SQLITE_STATIC);
      benchSqlCheck(db, rc, "bind");
    }
    benchBindRow(db, pIns, 1, &r);
    benchStepDone(db, pIns, "INSERT INTO mt");
  }
  benchFinalize(db, pIns);
  if( pUser ) benchFinalize(db, pUser);
  benchExec(db, "COMMIT");
}

/* Workload mtread: every row of the chosen users. Returns the number of
** rows read; *piSum gets the sum of a over them. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlMtRead(Bench *p, sqlite3 *db,
                                                       int bKalam,
                                                       sqlite3_int64 *piSum){
  sqlite3_stmt *pSel, *pUser = 0;
  sqlite3_int64 nRow = 0, iSum = 0;
  char zUser[32];
  int i, rc, nName;
  if( bKalam ){
    pUser = benchPrepare(db, "SELECT kalam_set_user(?1)");
    pSel = benchPrepare(db, "SELECT a, b, c, d, e FROM mt");
  }else{
    pSel = benchPrepare(db,
        "SELECT a, b, c, d, e FROM mt WHERE user_id = ?1");
  }
  for(i=0; i<p->nUserRead; i++){
    nName = benchUserName(p->aUserRead[i], zUser, sizeof(zUser));
    if( bKalam ){
      rc = sqlite3_bind_text(pUser, 1, zUser, nName, SQLITE_STATIC);
      benchSqlCheck(db, rc, "bind");
      rc = sqlite3_step(pUser);
      if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc==SQLITE_DONE?SQLITE_ERROR:rc,
                                         "kalam_set_user");
      rc = sqlite3_reset(pUser);
      benchSqlCheck(db, rc, "kalam_set_user");
    }else{
      rc = sqlite3_bind_text(pSel, 1, zUser, nName, SQLITE_STATIC);
      benchSqlCheck(db, rc, "bind");
    }
    while( (rc = sqlite3_step(pSel))==SQLITE_ROW ){
      nRow++;
      iSum += sqlite3_column_int64(pSel, 0);
      if( sqlite3_column_bytes(pSel, 2)==0 || sqlite3_column_bytes(pSel, 3)==0
       || sqlite3_column_double(pSel, 1)<0.0
       || sqlite3_column_int64(pSel, 4)<0 ){
        benchDie("mtread: wrong values for %s", zUser);
      }
    }
    benchSqlCheck(db, rc, "mtread");
    rc = sqlite3_reset(pSel);
    benchSqlCheck(db, rc, "mtread");
  }
  benchFinalize(db, pSel);
  if( pUser ) benchFinalize(db, pUser);
  *piSum = iSum;
  return nRow;
}

/* Workload ixlookup: the lookups' rows found by a through the index.
** Returns the rows found (a value may repeat); *piSum gets sum(e). */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlIxLookup(Bench *p, sqlite3 *db,
                                                         sqlite3_int64 *piSum){
  sqlite3_stmt *pStmt = benchPrepare(db,
      "SELECT a, b, c, d, e FROM ti WHERE a = ?1");
  sqlite3_int64 nRow = 0, iSum = 0;
  BenchRow r;
  int i, rc;
  for(i=0; i<BENCH_LOOKUPS; i++){
    benchRowMake(p->aLookup[i], &r);
    rc = sqlite3_bind_int64(pStmt, 1, r.a);
    benchSqlCheck(db, rc, "bind");
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      nRow++;
      iSum += sqlite3_column_int64(pStmt, 4);
      if( sqlite3_column_int64(pStmt, 0)!=r.a
       || sqlite3_column_bytes(pStmt, 2)==0
       || sqlite3_column_bytes(pStmt, 3)==0 ){
        benchDie("ixlookup: wrong values for a = %lld", (long long)r.a);
      }
    }
    benchSqlCheck(db, rc, "ixlookup");
    rc = sqlite3_reset(pStmt);
    benchSqlCheck(db, rc, "ixlookup");
  }
  benchFinalize(db, pStmt);
  *piSum = iSum;
  return nRow;
}

/* Workload ixrange: the ranges' rows through the index. Returns the rows
** read; *piSum gets sum(e) over them. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkSqlIxRange(Bench *p, sqlite3 *db,
                                                        sqlite3_int64 *piSum){
  sqlite3_stmt *pStmt = benchPrepare(db,
      "SELECT count(*), sum(e) FROM ti WHERE a BETWEEN ?1 AND ?2");
  sqlite3_int64 nRow = 0, iSum = 0;
  int i, rc;
  for(i=0; i<BENCH_RANGES; i++){
    rc = sqlite3_bind_int64(pStmt, 1, p->aRangeLo[i]);
    if( rc==SQLITE_OK ) rc = sqlite3_bind_int64(pStmt, 2, p->aRangeHi[i]);
    benchSqlCheck(db, rc, "bind");
    rc = sqlite3_step(pStmt);
    if( rc!=SQLITE_ROW ) benchSqlCheck(db, rc==SQLITE_DONE?SQLITE_ERROR:rc,
                                       "ixrange");
    nRow += sqlite3_column_int64(pStmt, 0);
    iSum += sqlite3_column_int64(pStmt, 1);
    rc = sqlite3_reset(pStmt);
    benchSqlCheck(db, rc, "ixrange");
  }
  benchFinalize(db, pStmt);
  *piSum = iSum;
  return nRow;
}

/* The plan of an SQL statement, as EXPLAIN QUERY PLAN words it, into zOut:
** the benchmark says which access each system used. */
static void benchPlanOf(sqlite3 *db, const char *zSql, char *zOut, int nOut){
  char *zExplain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", zSql);
  sqlite3_stmt *pStmt;
  int rc;
  if( zExplain==0 ) benchDie("out of memory");
  pStmt = benchPrepare(db, zExplain);
  sqlite3_free(zExplain);
  zOut[0] = 0;
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 3);
    snprintf(zOut, (size_t)nOut, "%s", z ? z : "");
  }
  benchSqlCheck(db, rc==SQLITE_DONE ? SQLITE_OK : rc, "EXPLAIN QUERY PLAN");
  benchFinalize(db, pStmt);
}

/* Checks a result against the one every system must produce. */
static void benchExpect(const char *zSys, const char *zWhat,
                        sqlite3_int64 iGot, sqlite3_int64 iWant){
  if( iGot!=iWant ){
    benchDie("%s %s: got %lld, expected %lld", zSys, zWhat, (long long)iGot,
             (long long)iWant);
  }
}

/* Runs every workload on one SQL system. */
static void benchSqlRun(Bench *p, int iSys){
  int bKalam = iSys==S_KALAM;
  const char *zFile = benchPath(p, bKalam ? "kalam.db" : "native.db", 0);
  const char *zSys = benchSysName[iSys];
  sqlite3 *db = benchSqlOpen(zFile);
  sqlite3_int64 iGot, iSum;
  BenchClock clk;

  benchSqlCreate(db, bKalam);
  benchClockStart(&clk);
  benchWorkSqlInsert(p, db, "t");
  benchClockStop(p, W_INSERT, iSys, &clk);

  benchClockStart(&clk);
  iGot = benchWorkSqlScan(db);
  benchClockStop(p, W_HOTSCAN, iSys, &clk);
  benchExpect(zSys, "sum(e)", iGot, p->iSumE);

  benchClockStart(&clk);
  benchWorkSqlMtInsert(p, db, bKalam);
  benchClockStop(p, W_MTINSERT, iSys, &clk);

  benchClockStart(&clk);
  benchWorkSqlInsert(p, db, "ti");
  benchClockStop(p, W_IXINSERT, iSys, &clk);

  /* Reads start from what is on disk. */
  benchSqlClose(db);
  benchClockStart(&clk);
  db = benchSqlOpen(zFile);
  /* Preparing a statement on each table connects it: for kalam that opens
  ** the store, which replays its log. No row is read. */
  benchFinalize(db, benchPrepare(db, "SELECT a FROM t"));
  benchFinalize(db, benchPrepare(db, "SELECT a FROM mt"));
  benchFinalize(db, benchPrepare(db, "SELECT a FROM ti"));
  benchClockStop(p, W_REOPEN, iSys, &clk);

  benchClockStart(&clk);
  iGot = benchWorkSqlScan(db);
  benchClockStop(p, W_SCAN, iSys, &clk);
  benchExpect(zSys, "sum(e)", iGot, p->iSumE);

  /* The many-statement reads run in one read transaction: in autocommit
  ** every statement would take and drop the database file's lock and look
  ** for a hot journal, some 10 us of system calls that both systems pay
  ** and that would hide the cost of the lookups themselves. */
  benchClockStart(&clk);
  benchExec(db, "BEGIN");
  iGot = benchWorkSqlLookup(p, db);
  benchExec(db, "COMMIT");
  benchClockStop(p, W_LOOKUP, iSys, &clk);
  benchExpect(zSys, "lookup sum(a)", iGot, p->iSumLookup);

  benchClockStart(&clk);
  iGot = benchWorkSqlLookup(p, db);
  benchClockStop(p, W_AUTOLOOK, iSys, &clk);
  benchExpect(zSys, "lookup sum(a)", iGot, p->iSumLookup);

  benchClockStart(&clk);
  benchExec(db, "BEGIN");
  iGot = benchWorkSqlMtRead(p, db, bKalam, &iSum);
  benchExec(db, "COMMIT");
  benchClockStop(p, W_MTREAD, iSys, &clk);
  benchExpect(zSys, "mtread rows", iGot, p->nMtReadRows);
  benchExpect(zSys, "mtread sum(a)", iSum, p->iMtReadSum);

  benchClockStart(&clk);
  benchExec(db, "BEGIN");
  iGot = benchWorkSqlIxLookup(p, db, &iSum);
  benchExec(db, "COMMIT");
  benchClockStop(p, W_IXLOOKUP, iSys, &clk);
  benchExpect(zSys, "ixlookup rows", iGot, p->nIxLookupRows);
  benchExpect(zSys, "ixlookup sum(e)", iSum, p->iIxLookupSum);

  benchClockStart(&clk);
  benchExec(db, "BEGIN");
  iGot = benchWorkSqlIxRange(p, db, &iSum);
  benchExec(db, "COMMIT");
  benchClockStop(p, W_IXRANGE, iSys, &clk);
  benchExpect(zSys, "ixrange rows", iGot, p->nIxRangeRows);
  benchExpect(zSys, "ixrange sum(e)", iSum, p->iIxRangeSum);

  benchClockStart(&clk);
  benchWorkSqlUpdate(p, db);
  benchClockStop(p, W_UPDATE, iSys, &clk);

  {
    /* The feed's start: 100 changes before the newest (untimed). */
    char zFrom[64];
    benchQueryText(db, bKalam
        ? "SELECT _seq FROM t ORDER BY _seq DESC LIMIT 1 OFFSET 100"
        : "SELECT rowid FROM t ORDER BY rowid DESC LIMIT 1 OFFSET 100",
        zFrom, (int)sizeof(zFrom));
    benchClockStart(&clk);
    iGot = benchWorkSqlFeed(db, bKalam, strtoll(zFrom, 0, 10));
    benchClockStop(p, W_FEED, iSys, &clk);
    benchExpect(zSys, "feed rows", iGot, 100000);
  }

  iGot = benchWorkSqlExpire(p, db, bKalam, "s1", 100, W_EXPIRE1, iSys);
  benchExpect(zSys, "expire 100 users", iGot, p->nRow/10);
  iGot = benchWorkSqlExpire(p, db, bKalam, "s2", 10000, W_EXPIRE2, iSys);
  benchExpect(zSys, "expire 10,000 users", iGot, p->nRow/10);

  if( bKalam ){
    /* Every row of t to the cold files: untimed, reported aside. */
    double t0 = benchNow();
    benchExec(db, "SELECT kalam_flush('t')");
    fprintf(stderr, "bench: kalam_flush('t') of %lld rows: %.3f s\n",
            (long long)p->nRow, benchNow() - t0);
  }
  benchClockStart(&clk);
  iGot = benchWorkSqlColdScan(db);
  benchClockStop(p, W_COLDSCAN, iSys, &clk);
  benchExpect(zSys, "sum(e) after flush", iGot, p->iSumE);

  /* Both must read through the index: say so, in SQLite's words. */
  {
    char zPlan[256];
    benchPlanOf(db, "SELECT count(*), sum(e) FROM ti WHERE a BETWEEN ?1 AND ?2",
                zPlan, (int)sizeof(zPlan));
    fprintf(stderr, "bench: %s ixrange plan: %s\n", zSys, zPlan);
  }

  benchSqlClose(db);
}

/* ------------------------------------------------------------ raw floor */

/* The floor: rows as cJSON-printed objects in RocksDB, keyed like kalam's
** (8-byte big-endian row id with the sign bit flipped; a multi-tenant row
** behind <length><user id>'r'), one column family per table, opened with
** the options kalam's store uses (src/store.c storeOptions), so that the
** gap between kalam and this is what SQLite and kalam's own code cost. */
typedef struct BenchRaw BenchRaw;
struct BenchRaw {
  rocksdb_t *db;
  rocksdb_options_t *pOpts;
  rocksdb_block_based_table_options_t *pTableOpts;
  rocksdb_cache_t *pCache;
  rocksdb_filterpolicy_t *pFilter;
  rocksdb_writeoptions_t *pWo;
  rocksdb_readoptions_t *pRo;
  rocksdb_column_family_handle_t *aCf[3];  /* default, t, mt */
};

/* Ends the program if RocksDB reported an error. */
static void benchRawCheck(char *zErr, const char *zWhat){
  if( zErr ){
    fprintf(stderr, "bench: raw %s: %s\n", zWhat, zErr);
    rocksdb_free(zErr);
    exit(1);
  }
}

static void benchRawOpen(BenchRaw *r, const char *zPath){
  static const char *azCf[3] = { "default", "t", "mt" };
  const rocksdb_options_t *aCfOpts[3];
  char *zErr = 0;
  int i;
  memset(r, 0, sizeof(*r));
  r->pOpts = rocksdb_options_create();
  r->pTableOpts = rocksdb_block_based_options_create();
  r->pCache = rocksdb_cache_create_lru(32 << 20);
  r->pFilter = rocksdb_filterpolicy_create_bloom_full(10);
  r->pWo = rocksdb_writeoptions_create();
  r->pRo = rocksdb_readoptions_create();
  if( !r->pOpts || !r->pTableOpts || !r->pCache || !r->pFilter || !r->pWo
   || !r->pRo ){
    benchDie("raw: out of memory creating RocksDB options");
  }
  rocksdb_block_based_options_set_block_cache(r->pTableOpts, r->pCache);
  /* The table options take over the filter policy. */
  rocksdb_block_based_options_set_filter_policy(r->pTableOpts, r->pFilter);
  rocksdb_block_based_options_set_cache_index_and_filter_blocks(
      r->pTableOpts, 0);
  rocksdb_block_based_options_set_block_restart_interval(r->pTableOpts, 4);
  rocksdb_options_set_block_based_table_factory(r->pOpts, r->pTableOpts);
  rocksdb_options_set_create_if_missing(r->pOpts, 1);
  rocksdb_options_set_create_missing_column_families(r->pOpts, 1);
  rocksdb_options_set_info_log_level(r->pOpts, 4);
  rocksdb_options_set_max_total_wal_size(r->pOpts, 64 << 20);
  rocksdb_options_set_keep_log_file_num(r->pOpts, 2);
  rocksdb_options_set_max_background_jobs(r->pOpts, 2);
  rocksdb_options_set_compression(r->pOpts, rocksdb_lz4_compression);
  rocksdb_writeoptions_set_sync(r->pWo, 1);
  for(i=0; i<3; i++) aCfOpts[i] = r->pOpts;
  r->db = rocksdb_open_column_families(r->pOpts, zPath, 3, azCf, aCfOpts,
                                       r->aCf, &zErr);
  benchRawCheck(zErr, "open");
}

static void benchRawClose(BenchRaw *r){
  rocksdb_flushoptions_t *pFlush = rocksdb_flushoptions_create();
  int i;
  /* As kalam's store does at close (src/store.c storeFree). */
  if( pFlush ){
    rocksdb_flushoptions_set_wait(pFlush, 1);
    for(i=1; i<3; i++){
      char *zErr = 0;
      rocksdb_flush_cf(r->db, pFlush, r->aCf[i], &zErr);
      benchRawCheck(zErr, "flush");
    }
    rocksdb_flushoptions_destroy(pFlush);
  }
  for(i=0; i<3; i++) rocksdb_column_family_handle_destroy(r->aCf[i]);
  rocksdb_close(r->db);
  rocksdb_writeoptions_destroy(r->pWo);
  rocksdb_readoptions_destroy(r->pRo);
  rocksdb_options_destroy(r->pOpts);
  rocksdb_block_based_options_destroy(r->pTableOpts);
  rocksdb_cache_destroy(r->pCache);
}

/* The row key of iRowid after a prefix of nPrefix bytes already in aKey. */
static int benchRawKey(char *aKey, int nPrefix, sqlite3_int64 iRowid){
  sqlite3_uint64 u = (sqlite3_uint64)iRowid ^ ((sqlite3_uint64)1 << 63);
  int i;
  aKey[nPrefix] = 'r';
  for(i=8; i>=1; i--){
    aKey[nPrefix + i] = (char)(u & 0xff);
    u >>= 8;
  }
  return nPrefix + 9;
}

/* The owner prefix of a multi-tenant row: <length><user id>. */
static int benchRawUserPrefix(char *aKey, int u){
  char zUser[32];
  int n = benchUserName(u, zUser, sizeof(zUser));
  aKey[0] = (char)n;
  memcpy(aKey + 1, zUser, (size_t)n);
  return n + 1;
}

/* The JSON text of row r, shaped like kalam's (system columns included);
** the caller frees it with cJSON_free. */
static char *benchRawJson(const BenchRow *r, sqlite3_int64 iSeq){
  cJSON *pObj = cJSON_CreateObject();
  char *z = 0;
  if( pObj==0 ) benchDie("raw: out of memory");
  if( cJSON_AddNumberToObject(pObj, "a", (double)r->a)==0
   || cJSON_AddNumberToObject(pObj, "b", r->b)==0
   || cJSON_AddStringToObject(pObj, "c", r->zC)==0
   || cJSON_AddStringToObject(pObj, "d", r->zD)==0
   || cJSON_AddNumberToObject(pObj, "e", (double)r->e)==0
   || cJSON_AddNumberToObject(pObj, "_seq", (double)iSeq)==0
   || cJSON_AddNumberToObject(pObj, "_updated", 1.7e12)==0
   || cJSON_AddNumberToObject(pObj, "_deleted", 0)==0 ){
    benchDie("raw: out of memory building a row");
  }
  z = cJSON_PrintUnformatted(pObj);
  cJSON_Delete(pObj);
  if( z==0 ) benchDie("raw: out of memory printing a row");
  return z;
}

/* Parses a stored row and returns the number in field zField. With bAll
** the other fields are looked up too, as an application that reads the
** whole row would. */
static sqlite3_int64 benchRawField(const char *zVal, size_t nVal,
                                   const char *zField, int bAll){
  cJSON *pObj = cJSON_ParseWithLength(zVal, nVal);
  cJSON *pItem;
  sqlite3_int64 v;
  if( pObj==0 ) benchDie("raw: a stored row is not JSON");
  pItem = cJSON_GetObjectItemCaseSensitive(pObj, zField);
  if( !cJSON_IsNumber(pItem) ) benchDie("raw: field %s missing", zField);
  v = (sqlite3_int64)pItem->valuedouble;
  if( bAll ){
    if( !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pObj, "b"))
     || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pObj, "c"))
     || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pObj, "d"))
     || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pObj, "e")) ){
      benchDie("raw: a stored row lacks a field");
    }
  }
  cJSON_Delete(pObj);
  return v;
}

/* Writes rows 1..N in one write batch, with sync, into column family
** aCf[iCf]; with bUsers, row i belongs to user i mod nUser (interleaved),
** as kalam_user keys it. Shared by the two raw insert workloads. */
static void benchRawWriteRows(Bench *p, BenchRaw *r, int iCf, int bUsers,
                              const char *zWhat){
  rocksdb_writebatch_t *pBatch = rocksdb_writebatch_create();
  sqlite3_int64 i;
  char *zErr = 0;
  if( pBatch==0 ) benchDie("raw: out of memory");
  for(i=0; i<p->nRow; i++){
    char aKey[64];
    BenchRow row;
    char *zJson;
    int nPrefix = bUsers ? benchRawUserPrefix(aKey, (int)(i % p->nUser)) : 0;
    int nKey = benchRawKey(aKey, nPrefix, i + 1);
    benchRowMake(i, &row);
    zJson = benchRawJson(&row, i + 1);
    rocksdb_writebatch_put_cf(pBatch, r->aCf[iCf], aKey, (size_t)nKey, zJson,
                              strlen(zJson));
    cJSON_free(zJson);
  }
  rocksdb_write(r->db, r->pWo, pBatch, &zErr);
  rocksdb_writebatch_destroy(pBatch);
  benchRawCheck(zErr, zWhat);
}

/* Raw insert: one write batch, written with sync. Row ids are 1..N. */
static BENCH_WORKLOAD void benchWorkRawInsert(Bench *p, BenchRaw *r){
  benchRawWriteRows(p, r, 1, 0, "insert");
}

/* Raw scan: every row of t parsed, e summed. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkRawScan(Bench *p, BenchRaw *r){
  rocksdb_readoptions_t *pRo = rocksdb_readoptions_create();
  rocksdb_iterator_t *pIter;
  sqlite3_int64 iSum = 0;
  char *zErr = 0;
  (void)p;
  if( pRo==0 ) benchDie("raw: out of memory");
  rocksdb_readoptions_set_fill_cache(pRo, 0);  /* as kalam's big scans */
  rocksdb_readoptions_set_readahead_size(pRo, 1024*1024);
  pIter = rocksdb_create_iterator_cf(r->db, pRo, r->aCf[1]);
  if( pIter==0 ) benchDie("raw: out of memory");
  for(rocksdb_iter_seek_to_first(pIter); rocksdb_iter_valid(pIter);
      rocksdb_iter_next(pIter)){
    size_t nVal;
    const char *zVal = rocksdb_iter_value(pIter, &nVal);
    iSum += benchRawField(zVal, nVal, "e", 0);
  }
  rocksdb_iter_get_error(pIter, &zErr);
  rocksdb_iter_destroy(pIter);
  rocksdb_readoptions_destroy(pRo);
  benchRawCheck(zErr, "scan");
  return iSum;
}

/* Raw lookups: a Get and a parse of the whole row each. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkRawLookup(Bench *p, BenchRaw *r){
  sqlite3_int64 iSum = 0;
  int i;
  for(i=0; i<BENCH_LOOKUPS; i++){
    char aKey[16];
    char *zErr = 0;
    size_t nVal = 0;
    int nKey = benchRawKey(aKey, 0, p->aLookup[i] + 1);
    char *zVal = rocksdb_get_cf(r->db, r->pRo, r->aCf[1], aKey, (size_t)nKey,
                                &nVal, &zErr);
    benchRawCheck(zErr, "lookup");
    if( zVal==0 ) benchDie("raw lookup: row %d not found", p->aLookup[i]);
    iSum += benchRawField(zVal, nVal, "a", 1);
    rocksdb_free(zVal);
  }
  return iSum;
}

/* Raw multi-tenant insert: interleaved users, one write batch. */
static BENCH_WORKLOAD void benchWorkRawMtInsert(Bench *p, BenchRaw *r){
  benchRawWriteRows(p, r, 2, 1, "multi-tenant insert");
}

/* Raw multi-tenant read: one bounded iterator per user. */
static BENCH_WORKLOAD sqlite3_int64 benchWorkRawMtRead(Bench *p, BenchRaw *r,
                                                       sqlite3_int64 *piSum){
  sqlite3_int64 nRow = 0, iSum = 0;
  int i;
  for(i=0; i<p->nUserRead; i++){
    char aLo[64], aHi[64];
    int nPrefix = benchRawUserPrefix(aLo, p->aUserRead[i]);
    rocksdb_readoptions_t *pRo = rocksdb_readoptions_create();
    rocksdb_iterator_t *pIter;
    char *zErr = 0;
    if( pRo==0 ) benchDie("raw: out of memory");
    memcpy(aHi, aLo, (size_t)nPrefix);
    aLo[nPrefix] = 'r';
    aHi[nPrefix] = 'r' + 1;
    rocksdb_readoptions_set_iterate_lower_bound(pRo, aLo, (size_t)nPrefix+1);
    rocksdb_readoptions_set_iterate_upper_bound(pRo, aHi, (size_t)nPrefix+1);
    pIter = rocksdb_create_iterator_cf(r->db, pRo, r->aCf[2]);
    if( pIter==0 ) benchDie("raw: out of memory");
    for(rocksdb_iter_seek(pIter, aLo, (size_t)nPrefix + 1);
        rocksdb_iter_valid(pIter); rocksdb_iter_next(pIter)){
      size_t nVal;
      const char *zVal = rocksdb_iter_value(pIter, &nVal);
      iSum += benchRawField(zVal, nVal, "a", 1);
      nRow++;
    }
    rocksdb_iter_get_error(pIter, &zErr);
    rocksdb_iter_destroy(pIter);
    rocksdb_readoptions_destroy(pRo);
    benchRawCheck(zErr, "multi-tenant read");
  }
  *piSum = iSum;
  return nRow;
}

/* Runs every workload on the raw floor. */
static void benchRawRun(Bench *p){
  const char *zPath = benchPath(p, "raw", 0);
  const char *zSys = benchSysName[S_RAW];
  BenchRaw r;
  sqlite3_int64 iGot, iSum;
  BenchClock clk;

  benchRawOpen(&r, zPath);
  benchClockStart(&clk);
  benchWorkRawInsert(p, &r);
  benchClockStop(p, W_INSERT, S_RAW, &clk);

  benchClockStart(&clk);
  benchWorkRawMtInsert(p, &r);
  benchClockStop(p, W_MTINSERT, S_RAW, &clk);

  benchRawClose(&r);
  benchClockStart(&clk);
  benchRawOpen(&r, zPath);
  benchClockStop(p, W_REOPEN, S_RAW, &clk);

  benchClockStart(&clk);
  iGot = benchWorkRawScan(p, &r);
  benchClockStop(p, W_SCAN, S_RAW, &clk);
  benchExpect(zSys, "sum(e)", iGot, p->iSumE);

  benchClockStart(&clk);
  iGot = benchWorkRawLookup(p, &r);
  benchClockStop(p, W_LOOKUP, S_RAW, &clk);
  benchExpect(zSys, "lookup sum(a)", iGot, p->iSumLookup);

  benchClockStart(&clk);
  iGot = benchWorkRawMtRead(p, &r, &iSum);
  benchClockStop(p, W_MTREAD, S_RAW, &clk);
  benchExpect(zSys, "mtread rows", iGot, p->nMtReadRows);
  benchExpect(zSys, "mtread sum(a)", iSum, p->iMtReadSum);

  benchRawClose(&r);
}

/* ------------------------------------------------------------ memory */

/* What the memory measurement reads of /proc/self/status, in kB: peak
** RSS, then its two parts now: memory the process allocated (RssAnon),
** and pages of files it maps (RssFile). kalam maps its table files
** (docs/performance.md), so a scan's pages show in RssFile. */
static const char *const benchRssField[] = { "VmHWM", "RssAnon", "RssFile" };
#define BENCH_RSS_N 3

/* The child side of the memory measurement (-rss SYSTEM TABLE): opens
** the database, scans TABLE, and prints each benchRssField before and
** after, then the sum. */
static int benchRssChild(const char *zDir, const char *zSys,
                         const char *zTable){
  char zFile[4096], zSql[128];
  sqlite3 *db;
  sqlite3_stmt *pStmt;
  long aBefore[BENCH_RSS_N], aAfter[BENCH_RSS_N];
  sqlite3_int64 iSum;
  int i, n = snprintf(zFile, sizeof(zFile), "%s/%s.db", zDir, zSys);
  if( n<0 || n>=(int)sizeof(zFile) ) benchDie("path too long");
  db = benchSqlOpen(zFile);
  /* Opening the store and reading the schema are not part of the scan. */
  benchExec(db, "SELECT count(*) FROM sqlite_schema");
  snprintf(zSql, sizeof(zSql), "SELECT sum(e) FROM %s", zTable);
  pStmt = benchPrepare(db, zSql);
  for(i=0; i<BENCH_RSS_N; i++) aBefore[i] = benchProcStatusKb(benchRssField[i]);
  if( sqlite3_step(pStmt)!=SQLITE_ROW ) benchSqlCheck(db, SQLITE_ERROR, zSql);
  iSum = sqlite3_column_int64(pStmt, 0);
  for(i=0; i<BENCH_RSS_N; i++) aAfter[i] = benchProcStatusKb(benchRssField[i]);
  benchFinalize(db, pStmt);
  benchSqlClose(db);
  for(i=0; i<BENCH_RSS_N; i++) printf("%ld %ld ", aBefore[i], aAfter[i]);
  printf("%lld\n", (long long)iSum);
  if( fflush(stdout)!=0 ) return 1;
  return 0;
}

/* Runs this program again with -rss for system zSys and table zTable;
** returns each benchRssField (kB) before and after its full scan. The
** database must be closed here: the child opens the kalam store, which
** allows one process at a time. */
static void benchRssMeasure(Bench *p, const char *zSys, const char *zTable,
                            long *aBefore, long *aAfter){
  int aPipe[2];
  pid_t pid;
  char zBuf[256];
  FILE *f;
  int status;
  long long iSum = 0;
  char zExe[4096];
  /* The path of this program, read here rather than exec'ing
  ** /proc/self/exe so that it also works under valgrind, which reports
  ** the program it runs. */
  ssize_t nExe = readlink("/proc/self/exe", zExe, sizeof(zExe) - 1);
  if( nExe<=0 ) benchDie("readlink /proc/self/exe: %s", strerror(errno));
  zExe[nExe] = 0;
  if( pipe(aPipe)!=0 ) benchDie("pipe: %s", strerror(errno));
  /* Or the child would inherit, and print again, what is buffered. */
  if( fflush(stdout)!=0 ) benchDie("cannot write the report");
  pid = fork();
  if( pid<0 ) benchDie("fork: %s", strerror(errno));
  if( pid==0 ){
    char *azArg[] = { "bench", "-rss", (char*)zSys, (char*)zTable,
                      "-d", (char*)p->zDir, 0 };
    if( dup2(aPipe[1], 1)<0 ) _exit(127);
    close(aPipe[0]);
    close(aPipe[1]);
    execv(zExe, azArg);
    _exit(127);
  }
  close(aPipe[1]);
  f = fdopen(aPipe[0], "r");
  if( f==0 ) benchDie("fdopen: %s", strerror(errno));
  if( fgets(zBuf, sizeof(zBuf), f)==0
   || sscanf(zBuf, "%ld %ld %ld %ld %ld %ld %lld", &aBefore[0], &aAfter[0],
             &aBefore[1], &aAfter[1], &aBefore[2], &aAfter[2], &iSum)!=7 ){
    zBuf[0] = 0;
  }
  fclose(f);
  if( waitpid(pid, &status, 0)!=pid ) benchDie("waitpid: %s",
                                                strerror(errno));
  if( !WIFEXITED(status) || WEXITSTATUS(status)!=0 || zBuf[0]==0 ){
    benchDie("the memory measurement of %s failed", zSys);
  }
  benchExpect(zSys, "sum(e) in the memory child", iSum, p->iSumE);
}

/* ------------------------------------------------------------ main */

/* A row's (a, e), for the index workloads' answers. */
typedef struct BenchAE BenchAE;
struct BenchAE { sqlite3_int64 a, e; };
static int benchAECmp(const void *x, const void *y){
  sqlite3_int64 a = ((const BenchAE*)x)->a, b = ((const BenchAE*)y)->a;
  return a<b ? -1 : (a>b);
}

/* The first place in the sorted aAE[0..n) whose a is not below v. */
static sqlite3_int64 benchAEFirst(const BenchAE *aAE, sqlite3_int64 n,
                                  sqlite3_int64 v){
  sqlite3_int64 lo = 0, hi = n;
  while( lo<hi ){
    sqlite3_int64 mid = (lo + hi)/2;
    if( aAE[mid].a < v ) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/* The index workloads: each range starts at a random row of a's order
** and ends 99 rows on (more rows where a value repeats), and every
** answer is worked out from the rows sorted by a. */
static void benchPlanIndex(Bench *p){
  BenchAE *aAE = benchMalloc(sizeof(BenchAE) * (size_t)p->nRow);
  sqlite3_int64 i, k;
  int j;
  BenchRow r;
  for(i=0; i<p->nRow; i++){
    benchRowMake(i, &r);
    aAE[i].a = r.a;
    aAE[i].e = r.e;
  }
  qsort(aAE, (size_t)p->nRow, sizeof(BenchAE), benchAECmp);
  p->nIxLookupRows = p->iIxLookupSum = 0;
  for(j=0; j<BENCH_LOOKUPS; j++){
    benchRowMake(p->aLookup[j], &r);
    for(k=benchAEFirst(aAE, p->nRow, r.a); k<p->nRow && aAE[k].a==r.a; k++){
      p->nIxLookupRows++;
      p->iIxLookupSum += aAE[k].e;
    }
  }
  p->aRangeLo = benchMalloc(sizeof(sqlite3_int64) * BENCH_RANGES);
  p->aRangeHi = benchMalloc(sizeof(sqlite3_int64) * BENCH_RANGES);
  p->nIxRangeRows = p->iIxRangeSum = 0;
  for(j=0; j<BENCH_RANGES; j++){
    sqlite3_int64 iStart = (sqlite3_int64)(benchMix(0x30000000ULL
        + (sqlite3_uint64)j) % (sqlite3_uint64)(p->nRow - BENCH_RANGE_ROWS));
    p->aRangeLo[j] = aAE[iStart].a;
    p->aRangeHi[j] = aAE[iStart + BENCH_RANGE_ROWS - 1].a;
    for(k=benchAEFirst(aAE, p->nRow, p->aRangeLo[j]);
        k<p->nRow && aAE[k].a<=p->aRangeHi[j]; k++){
      p->nIxRangeRows++;
      p->iIxRangeSum += aAE[k].e;
    }
  }
  free(aAE);
}

/* Chooses the lookups and users and works out every expected answer. */
static void benchPlan(Bench *p){
  sqlite3_int64 i;
  int j;
  char *aSeen;
  BenchRow r;
  p->aRowid = benchMalloc(sizeof(sqlite3_int64) * (size_t)p->nRow);
  p->aLookup = benchMalloc(sizeof(int) * BENCH_LOOKUPS);
  p->nUser = (int)(p->nRow / BENCH_USER_ROWS);
  p->nUserRead = p->nUser<BENCH_USER_READS ? p->nUser : BENCH_USER_READS;
  p->aUserRead = benchMalloc(sizeof(int) * (size_t)p->nUserRead);

  p->iSumE = 0;
  for(i=0; i<p->nRow; i++) p->iSumE += i % 1000;
  p->iSumLookup = 0;
  for(j=0; j<BENCH_LOOKUPS; j++){
    p->aLookup[j] = (int)(benchMix(0x10000000ULL + (sqlite3_uint64)j)
                          % (sqlite3_uint64)p->nRow);
    benchRowMake(p->aLookup[j], &r);
    p->iSumLookup += r.a;
  }
  /* Distinct users, picked at random. */
  aSeen = benchMalloc((size_t)p->nUser);
  memset(aSeen, 0, (size_t)p->nUser);
  for(i=0, j=0; j<p->nUserRead; i++){
    int u = (int)(benchMix(0x20000000ULL + (sqlite3_uint64)i)
                  % (sqlite3_uint64)p->nUser);
    if( aSeen[u] ) continue;
    aSeen[u] = 1;
    p->aUserRead[j++] = u;
  }
  p->nMtReadRows = 0;
  p->iMtReadSum = 0;
  for(i=0; i<p->nRow; i++){
    if( aSeen[i % p->nUser] ){
      benchRowMake(i, &r);
      p->nMtReadRows++;
      p->iMtReadSum += r.a;
    }
  }
  free(aSeen);
  benchPlanIndex(p);
}

/* Formats a time, or "-" for a system that did not run. */
static const char *benchFmtTime(double t, char *zBuf, int nBuf){
  if( t<0 ) snprintf(zBuf, (size_t)nBuf, "-");
  else snprintf(zBuf, (size_t)nBuf, "%.3f", t);
  return zBuf;
}

static const char *benchFmtRatio(double a, double b, char *zBuf, int nBuf){
  if( a<0 || b<=0 ) snprintf(zBuf, (size_t)nBuf, "-");
  else snprintf(zBuf, (size_t)nBuf, "%.2f", a/b);
  return zBuf;
}

/* Prints one table: aT holds the times, zWhat says which. The verdict
** against the targets is given for wall time only, the time a user
** waits. */
static void benchTable(double aT[W_COUNT][S_COUNT], const char *zWhat,
                       int bVerdict){
  int w;
  printf("\n%s\n", zWhat);
  printf("%-28s %9s %9s %9s %12s %9s %7s %s\n", "workload", "native s",
         "kalam s", "raw s", "kalam/native", "kalam/raw",
         bVerdict ? "target" : "", "");
  for(w=0; w<W_COUNT; w++){
    char z1[32], z2[32], z3[32], z4[32], z5[32], z6[32];
    const char *zVerdict = "";
    double tn = aT[w][S_NATIVE], tk = aT[w][S_KALAM];
    z6[0] = 0;
    if( bVerdict && benchWork[w].rTarget>0 ){
      snprintf(z6, sizeof(z6), "<=%.1f", benchWork[w].rTarget);
      if( tn>0 && tk>=0 ){
        zVerdict = tk/tn <= benchWork[w].rTarget ? "met" : "MISSED";
      }
    }
    printf("%-28s %9s %9s %9s %12s %9s %7s %s\n", benchWork[w].zName,
           benchFmtTime(tn, z1, sizeof(z1)),
           benchFmtTime(tk, z2, sizeof(z2)),
           benchFmtTime(aT[w][S_RAW], z3, sizeof(z3)),
           w!=W_REOPEN ? benchFmtRatio(tk, tn, z4, sizeof(z4)) : "",
           benchFmtRatio(tk, aT[w][S_RAW], z5, sizeof(z5)),
           z6, zVerdict);
  }
}

static void benchReport(Bench *p, const char *zSettings){
  double rLoad[3];
  printf("\nkalam bench: N=%lld rows; %d lookups; %d users x %d rows, %d "
         "users read\n", (long long)p->nRow, BENCH_LOOKUPS, p->nUser,
         BENCH_USER_ROWS, p->nUserRead);
  printf("SQLite %s, RocksDB options as kalam's store, cJSON %s\n",
         sqlite3_libversion(), cJSON_Version());
  printf("durability: %s\n", zSettings);
  printf("kalam: libkalam.a linked in, registered with "
         "sqlite3_auto_extension\n");
  /* Other processes make wall times longer: say how busy the machine was. */
  if( getloadavg(rLoad, 3)==3 ){
    printf("load average at the end: %.2f %.2f %.2f\n", rLoad[0], rLoad[1],
           rLoad[2]);
  }
  printf("times: the best of %d round%s\n", p->nRound,
         p->nRound==1 ? "" : "s");
  benchTable(p->aBest, "wall-clock seconds", 1);
  benchTable(p->aBestCpu, "CPU seconds of the benchmark's thread (no fsync "
             "waits, no RocksDB background threads)", 0);
  if( p->aBest[W_INSERT][S_NATIVE]>0 || p->aBest[W_INSERT][S_KALAM]>0 ){
    char z1[32], z2[32];
    printf("\ncost of one index on bulk insert (insert into ti / insert into "
           "t): native %s, kalam %s\n",
           benchFmtRatio(p->aBest[W_IXINSERT][S_NATIVE],
                         p->aBest[W_INSERT][S_NATIVE], z1, sizeof(z1)),
           benchFmtRatio(p->aBest[W_IXINSERT][S_KALAM],
                         p->aBest[W_INSERT][S_KALAM], z2, sizeof(z2)));
  }
}

static void benchUsage(void){
  fprintf(stderr, "usage: bench -n ROWS -d DIR [-r ROUNDS] "
                  "[-only native|kalam|raw]\n");
  exit(2);
}

int main(int argc, char **argv){
  Bench b;
  const char *zRss = 0, *zRssTable = 0;
  char zSettings[256];
  int i, w, s, rc;

  memset(&b, 0, sizeof(b));
  b.nRow = 1000000;
  b.zDir = 0;
  b.mSys = (1<<S_NATIVE) | (1<<S_KALAM) | (1<<S_RAW);
  b.nRound = 1;
  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "-n")==0 && i+1<argc ){
      char *zEnd = 0;
      b.nRow = strtoll(argv[++i], &zEnd, 10);
      if( zEnd==argv[i] || *zEnd ) benchUsage();
    }else if( strcmp(argv[i], "-d")==0 && i+1<argc ){
      b.zDir = argv[++i];
    }else if( strcmp(argv[i], "-only")==0 && i+1<argc ){
      i++;
      for(s=0; s<S_COUNT && strcmp(argv[i], benchSysName[s])!=0; s++){}
      if( s==S_COUNT ) benchUsage();
      b.mSys = 1<<s;
    }else if( strcmp(argv[i], "-r")==0 && i+1<argc ){
      b.nRound = atoi(argv[++i]);
      if( b.nRound<1 ) benchUsage();
    }else if( strcmp(argv[i], "-rss")==0 && i+2<argc ){
      zRss = argv[++i];
      zRssTable = argv[++i];
    }else{
      benchUsage();
    }
  }
  if( b.zDir==0 ) benchUsage();

  /* Every connection opened from here on has kalam. */
  rc = sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
  if( rc!=SQLITE_OK ) benchDie("sqlite3_auto_extension: %s",
                               sqlite3_errstr(rc));
  if( zRss ) return benchRssChild(b.zDir, zRss, zRssTable);

  if( b.nRow < 1000 || b.nRow > 100000000 ){
    benchDie("N must be between 1000 and 100000000");
  }
  for(w=0; w<W_COUNT; w++){
    for(s=0; s<S_COUNT; s++) b.aBest[w][s] = b.aBestCpu[w][s] = -1.0;
  }
  benchRemoveTree(b.zDir);
  benchPlan(&b);

  /* Read the settings back rather than trusting the PRAGMAs above. */
  {
    sqlite3 *db = benchSqlOpen(benchPath(&b, "settings.db", 0));
    char zJm[32], zSync[32];
    benchQueryText(db, "PRAGMA journal_mode", zJm, sizeof(zJm));
    benchQueryText(db, "PRAGMA synchronous", zSync, sizeof(zSync));
    benchSqlClose(db);
    snprintf(zSettings, sizeof(zSettings), "journal_mode=%s synchronous=%s "
             "(2=FULL: kalam syncs its RocksDB log at COMMIT) for native and "
             "kalam; the raw floor writes with sync=true", zJm, zSync);
  }

  /* On a shared machine the other processes only ever add time, so the
  ** least of several rounds is the closest to the code's own cost. */
  for(i=0; i<b.nRound; i++){
    if( i>0 ) benchRemoveTree(b.zDir);
    for(w=0; w<W_COUNT; w++){
      for(s=0; s<S_COUNT; s++) b.aTime[w][s] = b.aCpu[w][s] = -1.0;
    }
    for(s=0; s<S_COUNT; s++){
      if( (b.mSys & (1<<s))==0 ) continue;
      fprintf(stderr, "bench: round %d, %s ...\n", i+1, benchSysName[s]);
      if( s==S_RAW ) benchRawRun(&b);
      else benchSqlRun(&b, s);
    }
    for(w=0; w<W_COUNT; w++){
      for(s=0; s<S_COUNT; s++){
        double t = b.aTime[w][s], c = b.aCpu[w][s];
        if( t>=0 && (b.aBest[w][s]<0 || t<b.aBest[w][s]) ) b.aBest[w][s] = t;
        if( c>=0 && (b.aBestCpu[w][s]<0 || c<b.aBestCpu[w][s]) ){
          b.aBestCpu[w][s] = c;
        }
      }
    }
  }

  benchReport(&b, zSettings);

  if( b.mSys & (1<<S_KALAM) ){
    /* ti holds t's rows, still hot at the end; t's are flushed (the
    ** last workload) on kalam. */
    static const struct { int iSys; const char *zTable, *zName; } aRss[] = {
      { S_NATIVE, "ti", "native" },
      { S_KALAM,  "ti", "kalam, hot rows" },
      { S_KALAM,  "t",  "kalam, flushed rows" },
    };
    int j, i;
    printf("\nmemory of a full scan in a fresh process, kB (growth during "
           "the scan):\n");
    for(j=0; j<(int)(sizeof(aRss)/sizeof(aRss[0])); j++){
      long aBefore[BENCH_RSS_N], aAfter[BENCH_RSS_N];
      if( (b.mSys & (1<<aRss[j].iSys))==0 ) continue;
      benchRssMeasure(&b, benchSysName[aRss[j].iSys], aRss[j].zTable,
                      aBefore, aAfter);
      printf("  %-20s", aRss[j].zName);
      for(i=0; i<BENCH_RSS_N; i++){
        printf("  %s %ld -> %ld (+%ld)", i==0 ? "peak RSS" : benchRssField[i],
               aBefore[i], aAfter[i], aAfter[i] - aBefore[i]);
      }
      printf("\n");
    }
  }

  free(b.aRowid);
  free(b.aLookup);
  free(b.aUserRead);
  free(b.aRangeLo);
  free(b.aRangeHi);
  if( fflush(stdout)!=0 ) return 1;
  return 0;
}
