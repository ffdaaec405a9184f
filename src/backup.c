/*
** backup.c — kalam_backup(dest): a copy of the main database with its
** kalam store, both as of one commit.
**
**   SELECT kalam_backup('/backups/app.db');   -- returns the path
**
** writes the SQLite file to dest and the store to dest-kalam/, so that
** the copy opens with kalam like the original. A copy of the SQLite file
** alone (the shell's .backup, VACUUM INTO, a file copy) has no kalam
** data: only both together are a database.
**
** One commit: a connection of its own holds SQLite's write lock (BEGIN
** IMMEDIATE) throughout, so no transaction commits in between; readers go
** on reading, and writers wait as for any writer. Under the lock kalam_txn names the newest commit T; kalam waits
** until T is applied (its writer may be between SQLite's commit and
** kalam's), copies the store (a RocksDB checkpoint: hard links where the
** file system allows) and then the file (SQLite's backup API). A prepared
** record of a transaction that has not committed may be copied too; the
** copy discards it when it first opens, as settling does after a crash.
*/
#include "kalam_int.h"
#include <string.h>
#include <unistd.h>

SQLITE_EXTENSION_INIT3

/* How long the copy waits for a writer to finish, as a writer would. */
#define BACKUP_BUSY_MS 10000

/* Removes what a failed backup left: the file and the store directory. */
static void backupRemove(const char *zDest, const char *zDestStore){
  kalamStoreDirRemove(zDestStore);
  (void)unlink(zDest);
}

/* The newest commit the file shows, read by pSrc inside its transaction;
** 0 if the database has no kalam_txn. */
static int backupTxn(sqlite3 *pSrc, sqlite3_int64 *piTxn, int *pbTable){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(pSrc, "SELECT txn FROM main.kalam_txn "
                              "WHERE id=1", -1, &pStmt, 0);
  *piTxn = 0;
  *pbTable = rc==SQLITE_OK;
  if( rc ) return SQLITE_OK;         /* no kalam_txn: nothing to match */
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piTxn = sqlite3_column_int64(pStmt, 0);
  }
  return sqlite3_finalize(pStmt);
}

/* Copies pSrc's main database to the new file zDest. */
static int backupFile(sqlite3 *pSrc, const char *zDest, char **pzErr){
  sqlite3 *pDest = 0;
  sqlite3_backup *pBackup;
  int rc = sqlite3_open_v2(zDest, &pDest,
                           SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc==SQLITE_OK ){
    pBackup = sqlite3_backup_init(pDest, "main", pSrc, "main");
    if( pBackup==0 ){
      rc = sqlite3_errcode(pDest);
    }else{
      rc = sqlite3_backup_step(pBackup, -1);
      if( rc==SQLITE_DONE ) rc = SQLITE_OK;
      if( sqlite3_backup_finish(pBackup)!=SQLITE_OK && rc==SQLITE_OK ){
        rc = sqlite3_errcode(pDest);
      }
    }
  }
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot write %s: %s", zDest,
                             pDest ? sqlite3_errmsg(pDest)
                                   : sqlite3_errstr(rc));
  }
  if( sqlite3_close(pDest)!=SQLITE_OK && rc==SQLITE_OK ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot close %s", zDest);
    rc = SQLITE_IOERR;
  }
  return rc;
}

/* Opens zFile with the copy's busy timeout; *pp is closed by the caller
** (sqlite3_close takes NULL too). */
static int backupOpen(const char *zFile, sqlite3 **pp){
  int rc = sqlite3_open_v2(zFile, pp, SQLITE_OPEN_READWRITE, 0);
  if( rc==SQLITE_OK ) rc = sqlite3_busy_timeout(*pp, BACKUP_BUSY_MS);
  return rc;
}

/* Makes the copy (see the header); pDb is NULL when the database has no
** kalam store, and then only the file is copied. One connection holds the
** write lock; another reads the file for the copy, since SQLite's backup
** does not read from a connection in the middle of a write. */
static int backupRun(sqlite3 *db, KalamDb *pDb, const char *zDest,
                     const char *zDestStore, char **pzErr){
  const char *zFile = sqlite3_db_filename(db, "main");
  sqlite3 *pLock = 0, *pSrc = 0;
  sqlite3_int64 iTxn = 0;
  int bTable = 0, bBegun = 0, rc;

  rc = backupOpen(zFile, &pLock);
  if( rc==SQLITE_OK ) rc = sqlite3_exec(pLock, "BEGIN IMMEDIATE", 0, 0, 0);
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot hold %s still to copy "
        "it: %s", zFile, pLock ? sqlite3_errmsg(pLock) : sqlite3_errstr(rc));
    goto done;
  }
  bBegun = 1;
  rc = backupTxn(pLock, &iTxn, &bTable);
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot read %s: %s", zFile,
                             sqlite3_errmsg(pLock));
    goto done;
  }
  if( pDb ){
    if( bTable ){
      /* The newest commit may still be on its way into the store. */
      KalamView *pView = 0;
      rc = kalamStoreViewGet(pDb->pStore, iTxn, &pView, pzErr);
      kalamStoreViewRelease(pDb->pStore, pView);
      if( rc ) goto done;
    }
    rc = kalamStoreCopy(pDb->pStore, zDestStore, pzErr);
    if( rc==SQLITE_OK ) rc = kalamColdCopy(pDb->pStore, zDestStore, pzErr);
    if( rc ) goto done;
  }
  rc = backupOpen(zFile, &pSrc);
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot read %s: %s", zFile,
                             pSrc ? sqlite3_errmsg(pSrc) : sqlite3_errstr(rc));
    goto done;
  }
  rc = backupFile(pSrc, zDest, pzErr);

done:
  if( sqlite3_close(pSrc)!=SQLITE_OK && rc==SQLITE_OK ) rc = SQLITE_BUSY;
  if( bBegun ) (void)sqlite3_exec(pLock, "ROLLBACK", 0, 0, 0);
  if( sqlite3_close(pLock)!=SQLITE_OK && rc==SQLITE_OK ) rc = SQLITE_BUSY;
  return rc;
}

/* kalam_backup(dest) */
void kalamBackupFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  const char *zDest = (const char*)sqlite3_value_text(argv[0]);
  const char *zFile = sqlite3_db_filename(pConn->db, "main");
  char *zDestStore = 0, *zErr = 0;
  KalamDb *pDb = 0;
  int rc = SQLITE_OK;
  (void)argc;

  if( pConn->bLocked ){
    zErr = sqlite3_mprintf("kalam_backup: this connection is locked by "
                           "kalam_lock_user()");
    rc = SQLITE_AUTH;
  }else if( zDest==0 || zDest[0]==0 ){
    zErr = sqlite3_mprintf("kalam_backup: the destination must be a file "
                           "name (TEXT)");
    rc = SQLITE_MISUSE;
  }else if( zFile==0 || zFile[0]==0
         || !kalamStoreHasFile(pConn->db, "main") ){
    zErr = sqlite3_mprintf("kalam_backup: the main database has no file to "
                           "copy (an in-memory database)");
    rc = SQLITE_MISUSE;
  }else if( !sqlite3_get_autocommit(pConn->db) ){
    zErr = sqlite3_mprintf("kalam_backup: cannot run inside a transaction "
                           "(COMMIT first)");
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ){
    zDestStore = sqlite3_mprintf("%s-kalam", zDest);
    if( zDestStore==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK
   && (access(zDest, F_OK)==0 || access(zDestStore, F_OK)==0) ){
    zErr = sqlite3_mprintf("kalam_backup: %s already exists: the copy goes "
                           "to a new file", access(zDest, F_OK)==0
                                            ? zDest : zDestStore);
    rc = SQLITE_CANTOPEN;
  }
  if( rc==SQLITE_OK ) rc = kalamConnDb(pConn, "main", 0, &pDb, &zErr);
  if( rc==SQLITE_OK && pDb ) rc = kalamStoreWriteRefused(pDb->pStore, &zErr);
  if( rc==SQLITE_OK && pDb ){
    /* A store not used yet since it opened is settled first (commit.c),
    ** so that the commits the file shows are in it. */
    rc = kalamCommitView(pDb, &zErr);
    kalamCommitViewRelease(pDb);
  }
  if( rc==SQLITE_OK ){
    rc = backupRun(pConn->db, pDb, zDest, zDestStore, &zErr);
    if( rc ) backupRemove(zDest, zDestStore);
  }
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
  }else{
    sqlite3_result_text(ctx, zDest, -1, SQLITE_TRANSIENT);
    sqlite3_free(zErr);
  }
  sqlite3_free(zDestStore);
}
