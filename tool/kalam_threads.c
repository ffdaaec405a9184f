/*
** kalam_threads.c — two threads, two connections, one store.
**
** Used by test/kalam_txn.test: thread A writes table a and thread B writes
** table b of the same database file at the same time, each in its own
** connection, each committing many small transactions (SQLite serializes
** the writers on the file; kalam's shared store state must survive the
** interleaving). Then the main thread checks both tables row by row.
**
**   kalam_threads DBFILE EXTENSION ROWS   prints "ok A B" or an error
**
** With "ids" for DBFILE, the two threads instead draw ROWS snowflake ids
** each from the process-wide generator at once, through snowflake_id() in
** their own in-memory databases; the main thread checks that each thread's
** ids strictly increase with the node bits clear, and that no id was handed
** out twice.
**
**   kalam_threads ids EXTENSION ROWS      prints "ok IDS" or an error
*/
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Job Job;
struct Job {
  const char *zDb;
  const char *zExt;
  const char *zTable;
  int nRow;
  sqlite3_int64 *aId;   /* "ids" mode: where the ids go */
  char zErr[512];
};

static int openDb(const char *zDb, const char *zExt, sqlite3 **pDb,
                  char *zErr, size_t nErr){
  char *zMsg = 0;
  int rc = sqlite3_open(zDb, pDb);
  if( rc==SQLITE_OK ) sqlite3_busy_timeout(*pDb, 10000);
  if( rc==SQLITE_OK ) rc = sqlite3_enable_load_extension(*pDb, 1);
  if( rc==SQLITE_OK ) rc = sqlite3_load_extension(*pDb, zExt, 0, &zMsg);
  if( rc ){
    snprintf(zErr, nErr, "open/load: %s", zMsg ? zMsg : sqlite3_errmsg(*pDb));
  }
  sqlite3_free(zMsg);
  return rc;
}

static void *writer(void *pArg){
  Job *p = (Job*)pArg;
  sqlite3 *db = 0;
  sqlite3_stmt *pIns = 0;
  char zSql[256];
  int i, rc;
  if( openDb(p->zDb, p->zExt, &db, p->zErr, sizeof(p->zErr)) ) goto done;
  snprintf(zSql, sizeof(zSql), "INSERT INTO %s(n, tag) VALUES(?1, ?2)",
           p->zTable);
  rc = sqlite3_prepare_v2(db, zSql, -1, &pIns, 0);
  for(i=0; rc==SQLITE_OK && i<p->nRow; i++){
    sqlite3_bind_int(pIns, 1, i);
    sqlite3_bind_text(pIns, 2, p->zTable, -1, SQLITE_STATIC);
    /* Each row its own transaction, retried while the file is busy. */
    do{
      rc = sqlite3_step(pIns);
      sqlite3_reset(pIns);
    }while( rc==SQLITE_BUSY );
    rc = rc==SQLITE_DONE ? SQLITE_OK : rc;
  }
  if( rc ){
    snprintf(p->zErr, sizeof(p->zErr), "%s: %s", p->zTable, sqlite3_errmsg(db));
  }
done:
  sqlite3_finalize(pIns);
  sqlite3_close(db);
  return 0;
}

/* Runs xMain on jobs a and b in two threads at once. Returns 0, or 1
** after printing what went wrong. */
static int runTwo(void *(*xMain)(void*), Job *a, Job *b){
  pthread_t ta, tb;
  if( pthread_create(&ta, 0, xMain, a) ){
    printf("error: cannot start a thread\n");
    return 1;
  }
  if( pthread_create(&tb, 0, xMain, b) ){
    pthread_join(ta, 0);
    printf("error: cannot start a thread\n");
    return 1;
  }
  pthread_join(ta, 0);
  pthread_join(tb, 0);
  if( a->zErr[0] || b->zErr[0] ){
    printf("error: %s %s\n", a->zErr, b->zErr);
    return 1;
  }
  return 0;
}

/* Thread body of the "ids" mode: p->aId gets p->nRow snowflake ids. */
static void *drawer(void *pArg){
  Job *p = (Job*)pArg;
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  int i, rc;
  if( openDb(":memory:", p->zExt, &db, p->zErr, sizeof(p->zErr)) ) goto done;
  rc = sqlite3_prepare_v2(db, "SELECT snowflake_id()", -1, &pStmt, 0);
  for(i=0; rc==SQLITE_OK && i<p->nRow; i++){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      p->aId[i] = sqlite3_column_int64(pStmt, 0);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc ) snprintf(p->zErr, sizeof(p->zErr), "ids: %s", sqlite3_errmsg(db));
done:
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  return 0;
}

static int cmpId(const void *a, const void *b){
  sqlite3_int64 x = *(const sqlite3_int64*)a, y = *(const sqlite3_int64*)b;
  return x<y ? -1 : x>y;
}

/* The "ids" mode (see the header comment). */
static int drawIds(const char *zExt, int nRow){
  Job a, b;
  sqlite3_int64 *aAll;
  int i, nBad = 0;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.zExt = b.zExt = zExt;
  a.nRow = b.nRow = nRow;
  aAll = calloc((size_t)nRow*2, sizeof(sqlite3_int64));
  if( aAll==0 ){
    printf("error: out of memory\n");
    return 1;
  }
  a.aId = aAll;
  b.aId = aAll + nRow;
  if( runTwo(drawer, &a, &b) ){
    free(aAll);
    return 1;
  }
  for(i=0; i<nRow*2; i++){
    if( (aAll[i]>>12) & 1023 ) nBad++;                 /* node bits */
    if( i%nRow>0 && aAll[i]<=aAll[i-1] ) nBad++;        /* order */
  }
  qsort(aAll, (size_t)nRow*2, sizeof(sqlite3_int64), cmpId);
  for(i=1; i<nRow*2; i++){
    if( aAll[i]==aAll[i-1] ) nBad++;                   /* twice */
  }
  free(aAll);
  if( nBad ) printf("bad %d\n", nBad);
  else printf("ok %d\n", nRow*2);
  return 0;
}

static int countRows(sqlite3 *db, const char *zTable, int nRow){
  char zSql[256];
  sqlite3_stmt *pStmt = 0;
  int n = -1;
  snprintf(zSql, sizeof(zSql), "SELECT count(DISTINCT n), min(n), max(n), "
           "count(*) FROM %s WHERE tag = '%s'", zTable, zTable);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_int(pStmt, 0)==nRow && sqlite3_column_int(pStmt, 3)==nRow
     && sqlite3_column_int(pStmt, 1)==0
     && sqlite3_column_int(pStmt, 2)==nRow-1 ){
      n = nRow;
    }else{
      n = sqlite3_column_int(pStmt, 3);
    }
  }
  sqlite3_finalize(pStmt);
  return n;
}

int main(int argc, char **argv){
  Job a, b;
  sqlite3 *db = 0;
  char zErr[512] = {0};
  int nA, nB;
  if( argc!=4 ){
    fprintf(stderr, "usage: %s DBFILE EXTENSION ROWS\n", argv[0]);
    return 2;
  }
  if( sqlite3_threadsafe()==0 ){
    printf("error: SQLite built without threads\n");
    return 1;
  }
  if( strcmp(argv[1], "ids")==0 ) return drawIds(argv[2], atoi(argv[3]));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.zDb = b.zDb = argv[1];
  a.zExt = b.zExt = argv[2];
  a.nRow = b.nRow = atoi(argv[3]);
  a.zTable = "a";
  b.zTable = "b";
  if( openDb(argv[1], argv[2], &db, zErr, sizeof(zErr))
   || sqlite3_exec(db, "CREATE VIRTUAL TABLE a USING kalam_shared(n INTEGER, "
        "tag TEXT); CREATE VIRTUAL TABLE b USING kalam_shared(n INTEGER, "
        "tag TEXT);", 0, 0, 0) ){
    printf("error: setup: %s\n", zErr[0] ? zErr : sqlite3_errmsg(db));
    return 1;
  }
  if( runTwo(writer, &a, &b) ) return 1;
  nA = countRows(db, "a", a.nRow);
  nB = countRows(db, "b", b.nRow);
  sqlite3_close(db);
  printf("%s %d %d\n", (nA==a.nRow && nB==b.nRow) ? "ok" : "bad", nA, nB);
  return 0;
}
