/*
** changes_test.c — subscriptions (kalam_subscribe) and kalam_wait across
** connections and threads, linked statically with libkalam.a.
**
** Built by `make build/changes_test` and run by test/kalam_changes.test
** with a database path. Each check prints "ok ..." or "FAIL ...", and the
** last line is PASSED or FAILED.
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kalam.h"

static int nFail = 0;

static void check(int bOk, const char *zWhat, const char *zDetail){
  printf("%s %s%s%s\n", bOk ? "ok" : "FAIL", zWhat, zDetail ? ": " : "",
         zDetail ? zDetail : "");
  if( !bOk ) nFail++;
}

static int exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc && zErr ) printf("  (%s: %s)\n", zSql, zErr);
  sqlite3_free(zErr);
  return rc;
}

static sqlite3_int64 queryInt(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 v = -1;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

static sqlite3 *openDb(const char *zPath){
  sqlite3 *db = 0;
  if( sqlite3_open(zPath, &db) ){
    printf("FAIL open %s\nFAILED\n", zPath);
    exit(1);
  }
  return db;
}

/* What the callbacks saw: one line per change, "op rowid new old". */
static char zLog[16384];
static pthread_t logThread;
static int bOtherThread = 0;

static void onChange(void *pArg, const kalam_change *p){
  size_t n = strlen(zLog);
  (void)pArg;
  if( !pthread_equal(pthread_self(), logThread) ) bOtherThread = 1;
  snprintf(zLog + n, sizeof(zLog) - n, "%s %d %lld %s %s|", p->zTable, p->op,
           (long long)p->rowid, p->zNew ? p->zNew : "-",
           p->zOld ? p->zOld : "-");
}

static void expectLog(const char *zWhat, const char *zWant){
  check(strcmp(zLog, zWant)==0, zWhat, strcmp(zLog, zWant) ? zLog : 0);
  zLog[0] = 0;
}

/* A commit on another connection, from another thread, after a pause. */
typedef struct Writer Writer;
struct Writer {
  const char *zPath;
  const char *zSql;
  int msDelay;
};

static void *writerMain(void *pArg){
  Writer *w = (Writer*)pArg;
  sqlite3 *db = openDb(w->zPath);
  usleep((useconds_t)w->msDelay*1000);
  exec(db, w->zSql);
  sqlite3_close(db);
  return 0;
}

static double nowMs(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec*1000.0 + t.tv_nsec/1e6;
}

int main(int argc, char **argv){
  const char *zPath = argc>1 ? argv[1] : "changes.db";
  sqlite3 *dbSub, *dbW, *dbR;
  sqlite3_int64 iSub = 0, iSubAlice = 0, iSeq;
  char zBuf[256];
  int rc;

  sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
  logThread = pthread_self();
  dbSub = openDb(zPath);
  dbW = openDb(zPath);
  dbR = openDb(zPath);
  exec(dbSub, "CREATE VIRTUAL TABLE m USING kalam_shared(id INTEGER PRIMARY "
              "KEY, body TEXT, n INTEGER DEFAULT 5);"
              "CREATE VIRTUAL TABLE notes USING kalam_user(id INTEGER PRIMARY "
              "KEY, body TEXT);"
              "CREATE TABLE native(x)");

  rc = kalam_subscribe(dbSub, "m", onChange, 0, &iSub);
  check(rc==SQLITE_OK && iSub>0, "subscribe m", sqlite3_errmsg(dbSub));
  rc = kalam_subscribe(dbSub, "nosuch", onChange, 0, &iSeq);
  check(rc==SQLITE_ERROR
        && strstr(sqlite3_errmsg(dbSub), "no such kalam table: nosuch")!=0,
        "subscribe to a missing table", sqlite3_errmsg(dbSub));
  rc = kalam_subscribe(dbSub, "notes", onChange, 0, &iSeq);
  check(rc==SQLITE_AUTH && strstr(sqlite3_errmsg(dbSub), "kalam_set_user"),
        "subscribe to a user table without a user", sqlite3_errmsg(dbSub));

  /* Changes from another connection, delivered after its commit. */
  exec(dbW, "INSERT INTO m(id, body) VALUES(1, 'a')");
  expectLog("insert", "m 1 1 {\"id\":1,\"body\":\"a\",\"n\":5} -|");
  exec(dbW, "UPDATE m SET body = 'b' WHERE id = 1");
  expectLog("update", "m 2 1 {\"id\":1,\"body\":\"b\",\"n\":5} "
                      "{\"id\":1,\"body\":\"a\",\"n\":5}|");
  exec(dbW, "BEGIN; INSERT INTO m(id, body) VALUES(2, 'x');"
            "SAVEPOINT s; INSERT INTO m(id, body) VALUES(3, 'y');"
            "ROLLBACK TO s; RELEASE s;");
  expectLog("nothing before COMMIT", "");
  exec(dbW, "COMMIT");
  expectLog("savepoint rollback leaves only row 2",
            "m 1 2 {\"id\":2,\"body\":\"x\",\"n\":5} -|");
  exec(dbW, "BEGIN; INSERT INTO m(id, body) VALUES(4, 'z'); ROLLBACK");
  expectLog("nothing for a ROLLBACK", "");
  exec(dbW, "DELETE FROM m WHERE id = 2");
  expectLog("soft delete", "m 3 2 {\"id\":2,\"body\":\"x\",\"n\":5} "
                           "{\"id\":2,\"body\":\"x\",\"n\":5}|");
  exec(dbW, "INSERT OR REPLACE INTO m(id, body) VALUES(1, 'c')");
  expectLog("OR REPLACE of a live row is an update",
            "m 2 1 {\"id\":1,\"body\":\"c\",\"n\":5} "
            "{\"id\":1,\"body\":\"b\",\"n\":5}|");
  exec(dbW, "SELECT kalam_purge('m')");
  expectLog("purge is a hard delete",
            "m 4 2 - {\"id\":2,\"body\":\"x\",\"n\":5}|");
  /* Rows in cold files (kalam_flush) purged: the same hard delete, with
  ** the row's old state read from its file; a tombstone flushed (20), and
  ** a row flushed, deleted and flushed again (21). */
  exec(dbW, "INSERT INTO m(id, body) VALUES(20, 'c'), (21, 'd')");
  expectLog("rows to flush", "m 1 20 {\"id\":20,\"body\":\"c\",\"n\":5} -|"
                             "m 1 21 {\"id\":21,\"body\":\"d\",\"n\":5} -|");
  exec(dbW, "DELETE FROM m WHERE id = 20; SELECT kalam_flush('m');"
            "DELETE FROM m WHERE id = 21; SELECT kalam_flush('m')");
  check(queryInt(dbR, "SELECT count(*) FROM kalam_segments WHERE name='m'")==2,
        "two cold files", 0);
  zLog[0] = 0;
  exec(dbW, "SELECT kalam_purge('m')");
  expectLog("purging cold rows is a hard delete of each",
            "m 4 20 - {\"id\":20,\"body\":\"c\",\"n\":5}|"
            "m 4 21 - {\"id\":21,\"body\":\"d\",\"n\":5}|");
  check(queryInt(dbR, "SELECT count(*) FROM m WHERE _deleted IN (0, 1) "
                      "AND id IN (20, 21)")==0, "the purged rows are gone", 0);
  exec(dbW, "BEGIN; INSERT INTO native VALUES(1); "
            "INSERT INTO m(id, body) VALUES(5, 'w'); COMMIT");
  expectLog("a commit with native rows too",
            "m 1 5 {\"id\":5,\"body\":\"w\",\"n\":5} -|");

  /* A COMMIT that fails (a reader holds the rollback journal's lock)
  ** delivers nothing; the retry that succeeds delivers once. */
  exec(dbR, "BEGIN; SELECT count(*) FROM native;");
  exec(dbW, "BEGIN; INSERT INTO native VALUES(2);"
            "INSERT INTO m(id, body) VALUES(6, 'v')");
  rc = exec(dbW, "COMMIT");
  check(rc==SQLITE_BUSY, "COMMIT fails while a reader holds the file", 0);
  expectLog("nothing for a failed COMMIT", "");
  exec(dbR, "COMMIT");
  rc = exec(dbW, "COMMIT");
  check(rc==SQLITE_OK, "COMMIT again succeeds", 0);
  expectLog("the retried COMMIT delivers once",
            "m 1 6 {\"id\":6,\"body\":\"v\",\"n\":5} -|");

  /* User tables: alice's subscription never sees bob's rows. */
  kalam_set_user(dbSub, "alice");
  rc = kalam_subscribe(dbSub, "notes", onChange, 0, &iSubAlice);
  check(rc==SQLITE_OK, "subscribe to notes as alice", sqlite3_errmsg(dbSub));
  kalam_set_user(dbW, "bob");
  exec(dbW, "INSERT INTO notes VALUES(1, 'bob''s')");
  expectLog("bob's insert is not alice's", "");
  kalam_set_user(dbW, "alice");
  exec(dbW, "INSERT INTO notes VALUES(1, 'alice''s')");
  expectLog("alice's insert", "notes 1 1 {\"id\":1,\"body\":\"alice's\"} -|");
  /* A cold purge of bob's rows is bob's; of alice's, alice's. */
  kalam_set_user(dbW, "bob");
  exec(dbW, "INSERT INTO notes VALUES(2, 'b2'); DELETE FROM notes WHERE id = 2;"
            "SELECT kalam_flush('notes'); SELECT kalam_purge('notes')");
  expectLog("bob's cold purge is not alice's", "");
  kalam_set_user(dbW, "alice");
  exec(dbW, "INSERT INTO notes VALUES(3, 'a3'); DELETE FROM notes WHERE id = 3;"
            "SELECT kalam_flush('notes')");
  zLog[0] = 0;
  exec(dbW, "SELECT kalam_purge('notes')");
  expectLog("alice's cold purge", "notes 4 3 - {\"id\":3,\"body\":\"a3\"}|");
  exec(dbW, "SELECT kalam_erase_user('bob')");
  expectLog("erasing bob tells alice nothing", "");
  /* Erasing a user: a hard delete of each row, cold (1, flushed above)
  ** and hot (4). */
  exec(dbW, "INSERT INTO notes VALUES(4, 'a4')");
  zLog[0] = 0;
  exec(dbW, "SELECT kalam_erase_user('alice')");
  expectLog("erasing alice is a hard delete of her rows, cold and hot",
            "notes 4 1 - {\"id\":1,\"body\":\"alice's\"}|"
            "notes 4 4 - {\"id\":4,\"body\":\"a4\"}|");

  /* Unsubscribe: no more calls. */
  rc = kalam_unsubscribe(dbSub, iSub);
  check(rc==SQLITE_OK, "unsubscribe", 0);
  rc = kalam_unsubscribe(dbSub, iSub);
  check(rc==SQLITE_NOTFOUND, "unsubscribe twice", 0);
  exec(dbW, "INSERT INTO m(id, body) VALUES(7, 'u')");
  expectLog("nothing after unsubscribe", "");

  /* Another thread's commit reaches the callback on that thread. */
  {
    Writer w = {zPath, "INSERT INTO m(id, body) VALUES(8, 't')", 0};
    pthread_t t;
    rc = kalam_subscribe(dbSub, "m", onChange, 0, &iSub);
    check(rc==SQLITE_OK, "subscribe again", 0);
    pthread_create(&t, 0, writerMain, &w);
    pthread_join(t, 0);
    expectLog("another thread's commit",
              "m 1 8 {\"id\":8,\"body\":\"t\",\"n\":5} -|");
    check(bOtherThread, "the callback ran on the committing thread", 0);
  }

  /* kalam_wait: wakes on another thread's commit; times out otherwise. */
  {
    Writer w = {zPath, "INSERT INTO m(id, body) VALUES(9, 's')", 150};
    pthread_t t;
    sqlite3_int64 iBefore = queryInt(dbR,
        "SELECT max(_seq) FROM kalam_changes('m')");
    sqlite3_int64 iGot, iAfter;
    double t0;
    snprintf(zBuf, sizeof(zBuf), "SELECT kalam_wait('m', %lld, 20000)",
             (long long)iBefore);
    t0 = nowMs();
    pthread_create(&t, 0, writerMain, &w);
    iGot = queryInt(dbR, zBuf);
    pthread_join(t, 0);
    iAfter = queryInt(dbR, "SELECT max(_seq) FROM kalam_changes('m')");
    check(iGot==iAfter && iGot>iBefore,
          "kalam_wait returns the new _seq of another thread's commit", 0);
    check(nowMs() - t0 < 20000, "kalam_wait woke before its timeout", 0);
    snprintf(zBuf, sizeof(zBuf), "SELECT kalam_wait('m', %lld, 300)",
             (long long)iAfter);
    t0 = nowMs();
    iGot = queryInt(dbR, zBuf);
    check(iGot==iAfter && nowMs() - t0 >= 290,
          "kalam_wait with nothing new returns since_seq at the timeout", 0);
    /* A wait does not keep others from writing: this connection waits
    ** while another thread's INSERT commits. */
    zLog[0] = 0;
  }

  /* Closing the subscribing connection ends its subscriptions. */
  sqlite3_close(dbSub);
  exec(dbW, "INSERT INTO m(id, body) VALUES(10, 'r')");
  expectLog("nothing after the subscriber closed", "");

  sqlite3_close(dbW);
  sqlite3_close(dbR);
  printf("%s\n", nFail ? "FAILED" : "PASSED");
  return nFail ? 1 : 0;
}
