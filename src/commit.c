/*
** commit.c — one commit, one snapshot: a transaction that writes native
** and kalam tables commits as one, with SQLite as the coordinator of a
** two-phase commit, and a reader sees kalam tables as of the same commit
** as native ones.
**
** Each database file with kalam tables holds a native table kalam owns,
** kalam_txn(id, txn): one row whose txn is the number of the newest kalam
** transaction the file has committed. The protocol, per transaction:
**
**   xSync     (before SQLite commits) PREPARE: the transaction gets the
**             number T = txn + 1; its writes become a prepared record in
**             the store (the batch's bytes, or the name of its large
**             table file), durable as PRAGMA synchronous says but
**             invisible; then kalam_txn.txn = T is written in SQLite's
**             own transaction.
**   SQLite    commits its file, T included, or fails (busy, full disk),
**             or the process dies.
**   xCommit   APPLY: the prepared writes become visible, in commit order,
**             and the record goes in the same write.
**   xRollback DISCARD: the record goes (also after a failed COMMIT).
**
** The database file decides: at the first use of a store after it is
** opened, and before any read, SETTLE applies every prepared record whose
** T the file shows (T <= kalam_txn.txn) and discards the others. Crash
** cases, and what settling does, are in docs/transactions.md.
**
** Reads. A reader's SQLite snapshot shows some kalam_txn.txn = T; it must
** read the store as of T (a view: a RocksDB snapshot, store_io.c). At
** every xFilter and xBegin, the connection's cached view is checked
** against SQLite's data version of the file, which changes whenever the
** file does; only then is kalam_txn read again (one small query) and the
** view of the new T taken, waiting while T is committed in SQLite but not
** yet applied. A write transaction reads the newest commit, which SQLite
** guarantees its snapshot to be.
**
** Databases without a file (memory stores) have no file to coordinate
** with: their transactions prepare in memory and apply at xCommit, so a
** failed COMMIT still shows nothing.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ crash points
** Tests make the process exit at a chosen step of the protocol, as a
** crash there would: KALAM_CRASH_AT=<step> in the environment, with the
** steps prepare, sync, commit, apply and settle. Read once. */

static const char *commitCrashAt = 0;
static pthread_once_t commitCrashOnce = PTHREAD_ONCE_INIT;

static void commitCrashInit(void){
  commitCrashAt = getenv("KALAM_CRASH_AT");
}

void kalamCrashPoint(const char *zStep){
  if( pthread_once(&commitCrashOnce, commitCrashInit) ) return;
  if( commitCrashAt && strcmp(commitCrashAt, zStep)==0 ) _exit(99);
}

/* ------------------------------------------------------------ kalam_txn */

/* Creates the schema's kalam_txn table if it is missing, with its row.
** Run by CREATE VIRTUAL TABLE, and before the first commit of a database
** made before the table existed. */
int kalamCommitTableCreate(sqlite3 *db, const char *zSchema, char **pzErr){
  sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(db);
  char *zSql = sqlite3_mprintf(
      "CREATE TABLE IF NOT EXISTS \"%w\".kalam_txn("
      "id INTEGER PRIMARY KEY, txn INTEGER NOT NULL);"
      "INSERT OR IGNORE INTO \"%w\".kalam_txn(id, txn) VALUES(1, 0);",
      zSchema, zSchema);
  char *zErr = 0;
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  sqlite3_free(zSql);
  sqlite3_set_last_insert_rowid(db, iLastRowid);
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam: cannot create %s.kalam_txn: %s",
                             zSchema, zErr ? zErr : sqlite3_errstr(rc));
  }
  sqlite3_free(zErr);
  return rc;
}

/* Reads kalam_txn.txn as the connection's current SQLite transaction sees
** it. *pbTable is 0 (and *piTxn 0) when the table does not exist. */
static int commitRead(KalamDb *pDb, sqlite3_int64 *piTxn, int *pbTable,
                      char **pzErr){
  sqlite3 *db = pDb->pConn->db;
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc;
  *piTxn = 0;
  *pbTable = 1;
  zSql = sqlite3_mprintf("SELECT txn FROM \"%w\".kalam_txn WHERE id=1",
                         pDb->zSchema);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc==SQLITE_ERROR
   && sqlite3_strnicmp(sqlite3_errmsg(db), "no such table", 13)==0 ){
    *pbTable = 0;
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      *piTxn = sqlite3_column_int64(pStmt, 0);
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }
  }
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam: cannot read %s.kalam_txn: %s",
                             pDb->zSchema, sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* Writes kalam_txn.txn = iTxn in the connection's write transaction.
** The user's last_insert_rowid() is theirs: this INSERT leaves it as it
** was. */
static int commitWrite(KalamDb *pDb, sqlite3_int64 iTxn, char **pzErr){
  sqlite3 *db = pDb->pConn->db;
  sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(db);
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc;
  zSql = sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\".kalam_txn(id, txn) "
                         "VALUES(1, ?1)", pDb->zSchema);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc==SQLITE_OK ) rc = sqlite3_bind_int64(pStmt, 1, iTxn);
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_DONE ) rc = SQLITE_OK;
  }
  if( rc ){
    *pzErr = sqlite3_mprintf("kalam commit failed: cannot write "
        "%s.kalam_txn: %s", pDb->zSchema, sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  sqlite3_set_last_insert_rowid(db, iLastRowid);
  return rc;
}

/* ------------------------------------------------------------ settle */

/* The prepared record (key aKey, value zVal) of a transaction the file
** committed: its writes, then the record's removal. A batch goes in one
** write with the removal; a table file is ingested, then the record
** removed (a file that is gone was ingested before a crash). */
static int commitSettleApply(KalamStore *pStore, const char *aKey,
                             size_t nKey, const char *zVal, size_t nVal,
                             char **pzErr){
  KalamCf *pPrepared = kalamStorePrepared(pStore);
  int rc = SQLITE_OK;
  if( aKey[8]==KALAM_PREPARED_BATCH ){
    KalamBatch *pBatch = kalamBatchFromData(zVal, nVal);
    if( pBatch==0 ) return SQLITE_NOMEM;
    kalamBatchDelete(pBatch, pPrepared, aKey, nKey);
    rc = kalamBatchWrite(pStore, pBatch, 1, "kalam: settling a prepared "
                         "transaction failed", pzErr);
    kalamBatchFree(pBatch);
    return rc;
  }else{
    /* "<column family>\n<file name>\n<8-byte offset><the file's end>",
    ** the name without a directory (txn.c writes it) */
    const char *zNl = memchr(zVal, '\n', nVal);
    const char *zBase = zNl ? zNl + 1 : 0;
    const char *zNl2 = zBase ? memchr(zBase, '\n', nVal - (size_t)(zBase-zVal))
                             : 0;
    size_t nBase = zNl2 ? (size_t)(zNl2 - zBase) : 0;
    const unsigned char *aOff = (const unsigned char*)(zNl2 ? zNl2 + 1 : 0);
    size_t nRest = zNl2 ? nVal - (size_t)(zNl2 + 1 - zVal) : 0;
    sqlite3_int64 iOff = 0;
    char *zCf = 0, *zFile = 0;
    KalamCf *pCf = 0;
    if( zNl2==0 || nBase==0 || memchr(zBase, '/', nBase) || nRest<8 ){
      goto corrupt;
    }
    iOff = (sqlite3_int64)kalamGet64(aOff);
    zCf = sqlite3_mprintf("%.*s", (int)(zNl - zVal), zVal);
    zFile = sqlite3_mprintf("%s/%.*s", kalamStorePath(pStore), (int)nBase,
                            zBase);
    if( zCf==0 || zFile==0 ){ rc = SQLITE_NOMEM; goto file_done; }
    pCf = kalamStoreCfFind(pStore, zCf);
    if( pCf && access(zFile, F_OK)==0
     && !kalamStoreFileIngested(pStore, pCf, zFile) ){
      /* Not in the store: an ingestion a crash cut short may have marked
      ** the file, so its end goes back as it was written first. */
      rc = kalamPreparedFileRestore(zFile, iOff, (const char*)aOff + 8,
                                    (int)(nRest - 8), pzErr);
      if( rc==SQLITE_OK ){
        rc = kalamStoreIngest(pStore, pCf, zFile, "kalam: settling a "
                              "prepared transaction failed", pzErr);
      }
    }else{
      kalamIngestFileRemove(zFile);
    }
    /* No column family: the table was dropped since; no file, or a file
    ** that is live already: ingested before a crash. Either way only the
    ** record is left to remove. */
    kalamCrashPoint("settle");
    if( rc==SQLITE_OK ){
      rc = kalamStorePut(pStore, pPrepared, aKey, nKey, 0, 0, 1,
                         "kalam: settling a prepared transaction failed",
                         pzErr);
    }
file_done:
    if( pCf ) kalamStoreCfRelease(pStore, pCf);
    sqlite3_free(zCf);
    sqlite3_free(zFile);
    return rc;
  }
corrupt:
  *pzErr = sqlite3_mprintf("kalam store %s: a prepared transaction's "
                           "record is damaged", kalamStorePath(pStore));
  return SQLITE_CORRUPT;
}

/* A prepared record of a transaction the file does not show: removed,
** with its table file. */
static int commitSettleDiscard(KalamStore *pStore, const char *aKey,
                               size_t nKey, sqlite3_int64 iTxn,
                               char **pzErr){
  if( aKey[8]==KALAM_PREPARED_FILE ){
    char *zFile = kalamPreparedFileName(pStore, iTxn);
    if( zFile==0 ) return SQLITE_NOMEM;
    kalamIngestFileRemove(zFile);
    sqlite3_free(zFile);
  }
  return kalamStorePut(pStore, kalamStorePrepared(pStore), aKey, nKey, 0, 0,
                       1, "kalam: settling a prepared transaction failed",
                       pzErr);
}

/* kalamPreparedFilesSweep's question after settling: no file is kept. */
static int commitKeepNone(void *pArg, sqlite3_int64 iTxn){
  (void)pArg; (void)iTxn;
  return 0;
}

/* Settles the store's prepared transactions against the database file
** (the header says how), once per open and before any read. bFirst: the
** first settle since the open, when no transaction of this process is
** prepared yet, so that records of later numbers and stray files can go;
** a later settle (after an apply failed) only applies. */
static int commitSettle(KalamDb *pDb, int bFirst, sqlite3_int64 *piTxn,
                        char **pzErr){
  KalamStore *pStore = pDb->pStore;
  KalamStoreIter *pIt;
  sqlite3_int64 iFile = 0;
  int bTable, rc;

  rc = commitRead(pDb, &iFile, &bTable, pzErr);
  if( rc ) return rc;
  *piTxn = iFile;
  pIt = kalamStoreIterNew(pStore, 0, kalamStorePrepared(pStore), 0, 0, 0, 0,
                          0);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterFirst(pIt); rc==SQLITE_OK && kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    size_t nKey, nVal;
    const char *aKey = kalamStoreIterKey(pIt, &nKey);
    const char *zVal = kalamStoreIterValue(pIt, &nVal);
    sqlite3_int64 iTxn;
    if( nKey!=9 ) continue;      /* not kalam's: left alone */
    iTxn = (sqlite3_int64)kalamGet64((const unsigned char*)aKey);
    if( bTable && iTxn<=iFile ){
      rc = commitSettleApply(pStore, aKey, nKey, zVal, nVal, pzErr);
    }else if( bFirst ){
      rc = commitSettleDiscard(pStore, aKey, nKey, iTxn, pzErr);
    }
  }
  if( rc==SQLITE_OK ){
    rc = kalamStoreIterError(pIt, "kalam: cannot read prepared "
                             "transactions", pzErr);
  }
  kalamStoreIterFree(pIt);
  if( rc==SQLITE_OK && bFirst ){
    kalamPreparedFilesSweep(pStore, commitKeepNone, 0);
  }
  return rc;
}

/* Settles the store if nobody has since it was opened. */
static int commitSettleOnce(KalamDb *pDb, char **pzErr){
  KalamStore *pStore = pDb->pStore;
  sqlite3_int64 iTxn = 0;
  int eMine = kalamStoreSettleBegin(pStore);
  int rc;
  if( eMine==0 ) return SQLITE_OK;
  rc = commitSettle(pDb, eMine==1, &iTxn, pzErr);
  kalamStoreSettleEnd(pStore, rc==SQLITE_OK, iTxn);
  return rc;
}

/* ------------------------------------------------------------ the protocol */

/* xSync: PREPARE (see the header). */
int kalamCommitPrepare(KalamDb *pDb, char **pzErr){
  KalamTxn *pTxn = pDb->pTxn;
  sqlite3_int64 iLast = 0, iTxn;
  int bTable = 0, rc;

  if( !kalamTxnHasWrites(pTxn) ) return SQLITE_OK;
  if( kalamStoreIsMemory(pDb->pStore) ) return kalamTxnPrepare(pTxn, 0, pzErr);
  if( kalamTxnPreparedCurrent(pTxn) ) return SQLITE_OK;
  kalamCrashPoint("prepare");
  rc = commitSettleOnce(pDb, pzErr);
  if( rc ) return rc;
  /* A COMMIT that SQLite refused keeps its number: the file may not show
  ** a number until the transaction that took it commits or is gone. */
  iTxn = kalamTxnPreparedNumber(pTxn);
  if( iTxn==0 ){
    rc = commitRead(pDb, &iLast, &bTable, pzErr);
    if( rc ) return rc;
    if( !bTable ){
      rc = kalamCommitTableCreate(pDb->pConn->db, pDb->zSchema, pzErr);
      if( rc ) return rc;
    }
    iTxn = iLast;
    if( kalamStoreApplied(pDb->pStore) > iTxn ){
      iTxn = kalamStoreApplied(pDb->pStore);
    }
    iTxn++;
  }
  rc = kalamTxnPrepare(pTxn, iTxn, pzErr);
  if( rc ) return rc;
  kalamCrashPoint("sync");
  return commitWrite(pDb, iTxn, pzErr);
}

/* xCommit: APPLY (see the header). SQLite has committed: an error here
** cannot undo that; the prepared record stays, and the store settles
** again at its next use, which applies it. */
int kalamCommitApply(KalamDb *pDb, char **pzErr){
  KalamSubBatch *pSub;
  int rc;
  kalamCrashPoint("commit");
  /* What subscriptions will be told, read before the apply changes it. */
  pSub = kalamSubscribeCollect(pDb);
  rc = kalamTxnApply(pDb->pTxn, pzErr);
  kalamTxnEnd(pDb->pTxn);
  if( rc==SQLITE_OK ) kalamFeedNotify();
  kalamSubscribeDeliver(pSub, pDb->pStore, rc==SQLITE_OK);
  /* The connection now sees its own commit: a statement that goes on
  ** reading after it (a SELECT stepped past COMMIT) reads the newest rows
  ** until its next xFilter takes the view its snapshot shows. */
  kalamCommitViewForget(pDb);
  return rc;
}

/* xRollback: DISCARD. */
void kalamCommitRollback(KalamDb *pDb){
  kalamTxnEnd(pDb->pTxn);
}

/* Makes the connection's reads of this store see the commit its SQLite
** transaction shows (see the header): at xFilter and xBegin. */
int kalamCommitView(KalamDb *pDb, char **pzErr){
  KalamStore *pStore = pDb->pStore;
  sqlite3 *db = pDb->pConn->db;
  unsigned int iVersion = 0;
  sqlite3_int64 iEpoch;
  KalamView *pView = 0;
  int rc;

  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  rc = sqlite3_file_control(db, pDb->zSchema, SQLITE_FCNTL_DATA_VERSION,
                            &iVersion);
  if( rc ) pDb->bViewKnown = 0;
  if( kalamStoreReadOnly(pStore, 0) ){
    /* Another process owns the store: each read transaction that finds
    ** the file changed catches up with the owner's newest whole commit. */
    if( pDb->bViewKnown && iVersion==pDb->iDataVersion ) return SQLITE_OK;
    rc = kalamStoreCatchUp(pStore, pzErr);
    if( rc ) return rc;
    pDb->iDataVersion = iVersion;
    pDb->bViewKnown = 1;
    return SQLITE_OK;
  }
  rc = commitSettleOnce(pDb, pzErr);
  if( rc ) return rc;
  if( !pDb->bViewKnown || iVersion!=pDb->iDataVersion ){
    sqlite3_int64 iTxn = 0;
    int bTable = 0;
    rc = commitRead(pDb, &iTxn, &bTable, pzErr);
    if( rc ) return rc;
    /* A database from before kalam_txn: no commit to match, the newest. */
    if( !bTable ) iTxn = kalamStoreApplied(pStore);
    pDb->iViewTxn = iTxn;
    pDb->iDataVersion = iVersion;
    pDb->bViewKnown = 1;
  }
  iEpoch = kalamStoreEpoch(pStore);
  if( pDb->pView && kalamStoreViewTxn(pDb->pView)==pDb->iViewTxn
   && iEpoch==pDb->iEpoch ){
    return SQLITE_OK;
  }
  rc = kalamStoreViewGet(pStore, pDb->iViewTxn, &pView, pzErr);
  if( rc ) return rc;
  kalamCommitViewRelease(pDb);
  pDb->pView = pView;
  pDb->iEpoch = iEpoch;
  kalamTxnSetView(pDb->pTxn, pView);
  return SQLITE_OK;
}

/* Lets go of the connection's view, keeping which commit it showed: when
** its read transaction may be over (no cursor open in autocommit), so
** that an idle connection pins no snapshot of the store. The next read
** takes the view again, cheaply while nothing changed. */
void kalamCommitViewRelease(KalamDb *pDb){
  if( pDb->pView==0 ) return;
  kalamTxnSetView(pDb->pTxn, 0);
  kalamStoreViewRelease(pDb->pStore, pDb->pView);
  pDb->pView = 0;
}

/* Lets go of the view and of what it showed: the next read asks SQLite
** again. */
void kalamCommitViewForget(KalamDb *pDb){
  kalamCommitViewRelease(pDb);
  pDb->bViewKnown = 0;
}
