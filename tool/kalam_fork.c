/*
** kalam_fork.c — a process that forks while it has a kalam store open.
**
** Used by test/kalam_process.test. The parent opens DBFILE with kalam,
** writes rows 1..3 of kalam table kt and keeps the connection open; then
** it forks. The child opens a connection of its own on the same file, as
** a forked worker would (Python multiprocessing, a preforking server),
** reads the rows and tries to insert row 100; it prints what happened and
** exits. The
** parent then deletes row 1, inserts row 4, closes, reopens and prints
** the rows it finds: the child must not have written into the parent's
** store through the handle fork() copied, and nothing the parent did may
** be lost.
**
**   kalam_fork DBFILE EXTENSION    prints "child: ...", then "parent: ..."
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

/* Opens zDb with the extension loaded, or exits saying why. */
static sqlite3 *forkOpen(const char *zDb, const char *zExt){
  sqlite3 *db = 0;
  char *zErr = 0;
  if( sqlite3_open(zDb, &db)!=SQLITE_OK
   || sqlite3_enable_load_extension(db, 1)!=SQLITE_OK
   || sqlite3_load_extension(db, zExt, 0, &zErr)!=SQLITE_OK ){
    fprintf(stderr, "kalam_fork: cannot open %s with %s: %s\n", zDb, zExt,
            zErr ? zErr : sqlite3_errmsg(db));
    exit(1);
  }
  return db;
}

/* Runs zSql; returns "ok" or the error message (static storage). */
static const char *forkRun(sqlite3 *db, const char *zSql){
  static char zOut[512];
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)==SQLITE_OK ) return "ok";
  snprintf(zOut, sizeof(zOut), "%s", zErr ? zErr : sqlite3_errmsg(db));
  sqlite3_free(zErr);
  return zOut;
}

/* Prints the row ids of kt that are not deleted, and those that are. */
static void forkRows(sqlite3 *db, const char *zWho){
  sqlite3_stmt *pStmt = 0;
  printf("%s: rows", zWho);
  if( sqlite3_prepare_v2(db, "SELECT id, _deleted FROM kt ORDER BY id",
                         -1, &pStmt, 0)==SQLITE_OK ){
    /* Only the live ones: a plain SELECT hides the trash. */
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      printf(" %lld", (long long)sqlite3_column_int64(pStmt, 0));
    }
  }else{
    printf(" error %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  printf("\n");
}

int main(int argc, char **argv){
  sqlite3 *db;
  pid_t pid;
  int status = 0;
  if( argc!=3 ){
    fprintf(stderr, "usage: kalam_fork DBFILE EXTENSION\n");
    return 2;
  }
  db = forkOpen(argv[1], argv[2]);
  if( strcmp(forkRun(db, "CREATE VIRTUAL TABLE kt USING "
                     "kalam_shared(id INTEGER PRIMARY KEY);"
                     "INSERT INTO kt VALUES(1), (2), (3)"), "ok") ){
    fprintf(stderr, "kalam_fork: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  fflush(stdout);
  pid = fork();
  if( pid<0 ){
    perror("fork");
    return 1;
  }
  if( pid==0 ){
    sqlite3 *db2 = forkOpen(argv[1], argv[2]);
    sqlite3_stmt *pStmt = 0;
    printf("child: read: ");
    if( sqlite3_prepare_v2(db2, "SELECT count(*) FROM kt", -1, &pStmt,
                           0)==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      printf("%lld\n", (long long)sqlite3_column_int64(pStmt, 0));
    }else{
      printf("%s\n", sqlite3_errmsg(db2));
    }
    sqlite3_finalize(pStmt);
    printf("child: insert: %s\n",
           forkRun(db2, "INSERT INTO kt VALUES(100)"));
    printf("parent pid %ld\n", (long)getppid());
    fflush(stdout);
    /* No sqlite3_close: a forked worker that exits does not tidy up the
    ** parent's state either, and must not need to. */
    _exit(0);
  }
  if( waitpid(pid, &status, 0)<0 ){
    perror("waitpid");
    return 1;
  }
  printf("parent: delete 1, insert 4: %s\n",
         forkRun(db, "DELETE FROM kt WHERE id = 1; INSERT INTO kt VALUES(4)"));
  sqlite3_close(db);
  db = forkOpen(argv[1], argv[2]);
  forkRows(db, "parent after reopen");
  sqlite3_close(db);
  return 0;
}
