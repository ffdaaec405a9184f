/*
** install_test.c — a program built against an installed kalam.
**
** test/kalam_install.test runs `make install` into a scratch directory,
** compiles this file with the flags of `pkg-config --cflags --libs kalam`
** (kalam.h and libkalam.a from the installed copy, nothing from the source
** tree) and runs it two ways:
**
**   install_test static DBFILE        kalam registered with
**                                     sqlite3_auto_extension, as a program
**                                     linking libkalam.a does
**   install_test load DBFILE LIBRARY  kalam.so loaded from its installed
**                                     path with sqlite3_load_extension
**
** Each way creates a kalam table in DBFILE, writes a row, closes, reopens
** and reads it back, and checks kalam_version() against the installed
** kalam.h. It prints one line per check, "ok ..." or "FAIL ...", then
** PASSED or FAILED, and exits 1 if a check failed.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <kalam.h>

static int nFail = 0;

static void check(int bOk, const char *zWhat, const char *zDetail){
  printf("%s %s%s%s\n", bOk ? "ok" : "FAIL", zWhat, zDetail ? ": " : "",
         zDetail ? zDetail : "");
  if( !bOk ) nFail++;
}

/* Runs zSql; on failure records the error message as a failed check. */
static int run(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc!=SQLITE_OK ) check(0, zSql, zErr ? zErr : sqlite3_errstr(rc));
  sqlite3_free(zErr);
  return rc;
}

/* The first column of the first row of zSql as text into zOut: "NULL" for
** NULL, "(no row)" without a row, "(error) message" on an error. */
static void query(sqlite3 *db, const char *zSql, char *zOut, size_t nOut){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK ) rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW ){
    const unsigned char *z = sqlite3_column_text(pStmt, 0);
    snprintf(zOut, nOut, "%s", z ? (const char*)z : "NULL");
  }else if( rc==SQLITE_DONE ){
    snprintf(zOut, nOut, "(no row)");
  }else{
    snprintf(zOut, nOut, "(error) %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
}

/* Opens zFile; in load mode, loads kalam from zLib into the connection
** (and checks that it was not there before). Returns 0 on failure. */
static sqlite3 *openDb(const char *zFile, const char *zLib){
  sqlite3 *db = 0;
  char zBuf[256];
  int rc = sqlite3_open(zFile, &db);
  check(rc==SQLITE_OK, "open",
        rc==SQLITE_OK ? 0 : db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if( rc!=SQLITE_OK ){
    sqlite3_close(db);
    return 0;
  }
  if( zLib ){
    char *zErr = 0;
    query(db, "SELECT kalam_version()", zBuf, sizeof(zBuf));
    check(strncmp(zBuf, "(error) no such function", 24)==0,
          "kalam absent before sqlite3_load_extension", zBuf);
    rc = sqlite3_enable_load_extension(db, 1);
    check(rc==SQLITE_OK, "sqlite3_enable_load_extension", 0);
    rc = sqlite3_load_extension(db, zLib, 0, &zErr);
    check(rc==SQLITE_OK, "sqlite3_load_extension", zErr);
    sqlite3_free(zErr);
    if( rc!=SQLITE_OK ){
      sqlite3_close(db);
      return 0;
    }
  }
  return db;
}

int main(int argc, char **argv){
  const char *zLib = 0;
  sqlite3 *db;
  char zBuf[256];
  int rc;

  if( argc==3 && strcmp(argv[1], "static")==0 ){
    rc = sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
    check(rc==SQLITE_OK, "sqlite3_auto_extension", 0);
  }else if( argc==4 && strcmp(argv[1], "load")==0 ){
    zLib = argv[3];
  }else{
    fprintf(stderr, "usage: %s static DBFILE | load DBFILE LIBRARY\n",
            argv[0]);
    return 2;
  }

  db = openDb(argv[2], zLib);
  if( db ){
    query(db, "SELECT kalam_version()", zBuf, sizeof(zBuf));
    check(strcmp(zBuf, KALAM_VERSION)==0, "kalam_version() is KALAM_VERSION",
          zBuf);
    if( run(db, "CREATE VIRTUAL TABLE notes USING kalam_shared("
                "id INTEGER PRIMARY KEY, body TEXT NOT NULL)")==SQLITE_OK ){
      run(db, "INSERT INTO notes(id, body) VALUES (7, 'installed')");
    }
    sqlite3_close(db);
  }

  /* Reopened: the row comes back from the store on disk. */
  db = openDb(argv[2], zLib);
  if( db ){
    query(db, "SELECT body FROM notes WHERE id = 7", zBuf, sizeof(zBuf));
    check(strcmp(zBuf, "installed")==0, "row read back after reopening",
          zBuf);
    query(db, "SELECT kind FROM kalam_tables WHERE name = 'notes'",
          zBuf, sizeof(zBuf));
    check(strcmp(zBuf, "kalam_shared")==0, "kalam_tables lists it", zBuf);
    sqlite3_close(db);
  }

  printf("%s\n", nFail ? "FAILED" : "PASSED");
  return nFail ? 1 : 0;
}
