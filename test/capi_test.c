/*
** capi_test.c — the C API of include/kalam.h, linked statically.
**
** Built by `make build/capi_test` against libkalam.a and run by
** test/kalam_user.test. kalam is registered with sqlite3_auto_extension,
** as an application that links it statically would do; the program then
** checks kalam_set_user, kalam_current_user and kalam_lock_user against
** the SQL functions and prints one line per check, "ok ..." or "FAIL ...".
*/
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "kalam.h"

static int nFail = 0;

static void check(int bOk, const char *zWhat, const char *zDetail){
  printf("%s %s%s%s\n", bOk ? "ok" : "FAIL", zWhat, zDetail ? ": " : "",
         zDetail ? zDetail : "");
  if( !bOk ) nFail++;
}

/* The first column of the first row of zSql as text ("NULL" for NULL). */
static void query(sqlite3 *db, const char *zSql, char *zOut, size_t nOut){
  sqlite3_stmt *pStmt = 0;
  snprintf(zOut, nOut, "(error)");
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    const unsigned char *z = sqlite3_column_text(pStmt, 0);
    snprintf(zOut, nOut, "%s", z ? (const char*)z : "NULL");
  }
  sqlite3_finalize(pStmt);
}

int main(int argc, char **argv){
  sqlite3 *db = 0;
  char zBuf[256];
  char *zUser;
  int rc;
  if( argc!=2 ){
    fprintf(stderr, "usage: %s DBFILE\n", argv[0]);
    return 2;
  }
  rc = sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
  check(rc==SQLITE_OK, "sqlite3_auto_extension", 0);
  rc = sqlite3_open(argv[1], &db);
  check(rc==SQLITE_OK, "open", 0);

  query(db, "SELECT kalam_version()", zBuf, sizeof(zBuf));
  check(strcmp(zBuf, KALAM_VERSION)==0, "kalam_version() is KALAM_VERSION",
        zBuf);

  zUser = kalam_current_user(db);
  check(zUser==0, "no user at first", zUser);
  sqlite3_free(zUser);

  rc = kalam_set_user(db, "alice");
  zUser = kalam_current_user(db);
  check(rc==SQLITE_OK && zUser && strcmp(zUser, "alice")==0,
        "kalam_set_user(db, alice)", zUser);
  sqlite3_free(zUser);
  query(db, "SELECT kalam_user()", zBuf, sizeof(zBuf));
  check(strcmp(zBuf, "alice")==0, "SQL kalam_user() sees it", zBuf);

  rc = kalam_set_user(db, "");
  check(rc!=SQLITE_OK && strstr(sqlite3_errmsg(db), "invalid user id")!=0,
        "empty user id refused", sqlite3_errmsg(db));

  sqlite3_exec(db, "CREATE VIRTUAL TABLE IF NOT EXISTS notes USING "
               "kalam_user(body TEXT)", 0, 0, 0);
  sqlite3_exec(db, "INSERT INTO notes VALUES('alice note')", 0, 0, 0);
  kalam_set_user(db, "bob");
  sqlite3_exec(db, "INSERT INTO notes VALUES('bob note')", 0, 0, 0);
  query(db, "SELECT group_concat(body) FROM notes", zBuf, sizeof(zBuf));
  check(strcmp(zBuf, "bob note")==0, "bob sees only bob's rows", zBuf);

  rc = kalam_lock_user(db);
  check(rc==SQLITE_OK, "kalam_lock_user(db)", 0);
  rc = kalam_set_user(db, "alice");
  check(rc!=SQLITE_OK && strstr(sqlite3_errmsg(db), "locked")!=0,
        "set_user refused once locked", sqlite3_errmsg(db));
  zUser = kalam_current_user(db);
  check(zUser && strcmp(zUser, "bob")==0, "still bob", zUser);
  sqlite3_free(zUser);
  rc = kalam_set_user(db, 0);
  check(rc!=SQLITE_OK, "clearing the user refused once locked", 0);

  sqlite3_close(db);
  printf("%s\n", nFail ? "FAILED" : "PASSED");
  return nFail ? 1 : 0;
}
