/*
** table.c — the kalam_shared, kalam_user and kalam_stream modules: the
** module itself, table lifetime (create, connect, drop, rename) and the
** transaction methods. Planning is in plan.c, reading in cursor.c,
** writing in update.c.
**
** The three kinds share one sqlite3_module; the kind comes from the module
** name SQLite passes as argv[0]. What differs by kind:
**
**   kalam_shared  rows keyed by row id; DELETE is soft
**   kalam_user    rows keyed by <current user> + row id: every cursor is
**                 bounded to the current user's key range, so no plan can
**                 reach another user's rows; DELETE is soft
**   kalam_stream  rows keyed by snowflake row id (time order); rows older
**                 than ttl_seconds are skipped by starting the scan at the
**                 key of now - ttl; UPDATE and DELETE are refused
**
** Declared columns: the user columns in order, then the kind's HIDDEN
** system columns (schema.c).
**
** A table's rows live in a column family of its own, named at CREATE
** ("kt_<snowflake>") and recorded in its catalog entry (catalog.c). A
** table whose entry is missing or damaged, or whose data is gone, still
** connects, but "broken": every use fails with the reason, and DROP TABLE
** clears it away.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ helpers */

/* Sets the message SQLite reports for the method that fails, taking
** zErr over. */
void kalamTableError(KalamTable *pTab, char *zErr){
  sqlite3_free(pTab->base.zErrMsg);
  pTab->base.zErrMsg = zErr;
}

/* The owner prefix of the table's keys for the current user: empty for
** shared and stream tables; for user tables an error if there is no
** current user. */
int kalamTableOwnerPrefix(KalamTable *pTab, char *aPrefix, int *pnPrefix){
  *pnPrefix = 0;
  if( !kalamSchemaOwned(pTab->pSchema) ) return SQLITE_OK;
  if( pTab->pConn->zUser==0 ){
    kalamTableError(pTab, sqlite3_mprintf("%s table %s%s has no "
        "current user: call kalam_set_user('<user id>') first",
        kalamKindName(pTab->pSchema->eKind), pTab->pSchema->zTable,
        pTab->pSchema->bPerUser ? " (per_user=1)" : ""));
    return SQLITE_AUTH;
  }
  *pnPrefix = kalamKeyPrefix(aPrefix, pTab->pConn->zUser);
  return SQLITE_OK;
}

/* The "locked" refusal of DDL (kalam_lock_user). */
static char *tableLockedError(const char *zVerb, const char *zTable){
  return sqlite3_mprintf("cannot %s kalam table %s: this connection is "
                         "locked by kalam_lock_user()", zVerb, zTable);
}

/* The broken table's refusal, from any method. */
static int tableBroken(KalamTable *pTab){
  kalamTableError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
  return SQLITE_CORRUPT;
}

/* Whether the database's text encoding is UTF-8. All databases of a
** connection share it, and it is fixed once the schema holds a table. */
static int tableIsUtf8(sqlite3 *db, int *pbUtf8){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "PRAGMA encoding", -1, &pStmt, 0);
  *pbUtf8 = 0;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zEnc = (const char*)sqlite3_column_text(pStmt, 0);
    *pbUtf8 = zEnc!=0 && sqlite3_stricmp(zEnc, "UTF-8")==0;
  }
  return sqlite3_finalize(pStmt);
}

/* ------------------------------------------------------------ lifetime */

static int tableDisconnect(sqlite3_vtab *pVtab);

/* CREATE: clears what an earlier table of this name left in the store,
** makes the new table's column family and writes its catalog entry. On
** success *ppCf holds a reference on the new column family. */
static int tableCreateStorage(sqlite3 *db, KalamConn *pConn, KalamDb *pDb,
                              const KalamSchema *pSchema, KalamCf **ppCf,
                              char **pzErr){
  KalamStore *pStore = pDb->pStore;
  const char *zTable = pSchema->zTable;
  KalamCatalogEntry *pOld = 0, *pEntry = 0;
  KalamCf *pCf = 0;
  char *zCf = 0;
  int rc;

  *ppCf = 0;
  rc = kalamStoreWriteRefused(pStore, pzErr);
  if( rc==SQLITE_OK ) rc = kalamCatalogResolvePending(pDb, pzErr);
  if( rc==SQLITE_OK ) rc = kalamCatalogRead(pStore, zTable, &pOld, pzErr);
  if( rc ) goto done;
  if( pOld ){
    /* SQLite says the table does not exist, yet the store has it: left
    ** over from a database file that was replaced, or dropped earlier in
    ** this very transaction. The first is replaced; the second must wait
    ** for COMMIT, or a ROLLBACK could not bring the old rows back. A
    ** damaged entry names no data to drop. */
    if( pOld->iPending ){
      *pzErr = sqlite3_mprintf("kalam table %s was dropped in this "
          "transaction: COMMIT before creating it again", zTable);
      rc = SQLITE_ERROR;
      goto done;
    }
    if( pOld->zCf ){
      KalamCf *pOldCf = kalamStoreCfFind(pStore, pOld->zCf);
      if( pOldCf ){
        rc = kalamStoreCfDrop(pStore, pOldCf, pzErr);
        kalamStoreCfRelease(pStore, pOldCf);
        if( rc ) goto done;
      }
    }
  }
  /* The table that records kalam's commits in the database file
  ** (commit.c); databases without a file have no need of it. */
  if( !kalamStoreIsMemory(pStore) ){
    rc = kalamCommitTableCreate(db, pDb->zSchema, pzErr);
    if( rc ) goto done;
  }
  zCf = sqlite3_mprintf("kt_%lld", kalamSnowflakeNext());
  if( zCf==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = kalamStoreCfCreate(pStore, zCf, &pCf, pzErr);
  if( rc ) goto done;
  rc = kalamCatalogEntryNew(pSchema, zCf,
                            sqlite3_get_autocommit(db) ? 0 : pConn->iToken,
                            &pEntry);
  if( rc==SQLITE_OK ){
    if( pEntry->iPending ) kalamStorePendingMark(pStore);
    rc = kalamCatalogWrite(pStore, pEntry, pzErr);
  }
  if( rc ){
    /* A failed CREATE leaves nothing behind. */
    char *zIgnore = 0;
    kalamStoreCfDrop(pStore, pCf, &zIgnore);
    sqlite3_free(zIgnore);
    kalamStoreCfRelease(pStore, pCf);
    pCf = 0;
  }

done:
  kalamCatalogEntryFree(pOld);
  kalamCatalogEntryFree(pEntry);
  sqlite3_free(zCf);
  *ppCf = pCf;
  return rc;
}

/* CONNECT: finds the table's column family through its catalog entry. A
** table that cannot be used gets *pzBroken, the reason, instead. */
static int tableConnectStorage(KalamDb *pDb, const char *zTable,
                               KalamCf **ppCf, char **pzBroken,
                               char **pzErr){
  KalamCatalogEntry *pEntry = 0;
  int rc;
  *ppCf = 0;
  *pzBroken = 0;
  rc = kalamCatalogRead(pDb->pStore, zTable, &pEntry, pzErr);
  if( rc ) return rc;
  if( pEntry==0 ){
    *pzBroken = sqlite3_mprintf("kalam table %s is not in its store %s: the "
        "store was removed or replaced", zTable, kalamStorePath(pDb->pStore));
  }else if( pEntry->zCf==0 ){
    *pzBroken = sqlite3_mprintf("the kalam catalog entry of table %s is "
                                "damaged and cannot be read", zTable);
  }else{
    *ppCf = kalamStoreCfFind(pDb->pStore, pEntry->zCf);
    if( *ppCf==0 && kalamStoreReadOnly(pDb->pStore, 0) ){
      /* A reader sees a table made after it opened the store when the
      ** store can be opened again (conn.c, docs/processes.md). */
      *pzBroken = sqlite3_mprintf("kalam table %s was created after this "
          "process opened kalam store %s for reading, and other statements "
          "or connections of this process were reading the store when the "
          "table was opened: open this connection again once they are "
          "done", zTable, kalamStorePath(pDb->pStore));
    }else if( *ppCf==0 ){
      *pzBroken = sqlite3_mprintf("the data of kalam table %s (column family "
          "%s) is missing from its store", zTable, pEntry->zCf);
    }
  }
  kalamCatalogEntryFree(pEntry);
  if( *ppCf==0 && *pzBroken==0 ) return SQLITE_NOMEM;
  return SQLITE_OK;
}

/* xCreate (bCreate=1) and xConnect (bCreate=0). */
static int tableInit(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr, int bCreate){
  KalamConn *pConn = (KalamConn*)pAux;
  KalamTable *pTab = 0;
  KalamSchema *pSchema = 0;
  KalamDb *pDb = 0;
  KalamCf *pCf = 0;
  char *zDeclare = 0, *zErr = 0, *zBroken = 0;
  int rc;
  const char *zSchemaName = argv[1];
  const char *zTable = argv[2];

  *ppVtab = 0;
  rc = kalamSchemaParse(kalamKindFromName(argv[0]), zTable, argc - 3,
                        argv + 3, &pSchema, &zErr);
  if( rc==SQLITE_OK ) rc = kalamValueCheckDefaults(pSchema, &zErr);
  if( rc ) goto done;
  if( bCreate && pConn->bLocked ){
    zErr = tableLockedError("create", zTable);
    rc = SQLITE_AUTH;
    goto done;
  }
  if( !bCreate ){
    /* A table of a database file whose store is gone: a copy of the file
    ** alone. It connects broken, naming what is missing; no empty store
    ** is made in its place. */
    const char *zFile = sqlite3_db_filename(db, zSchemaName);
    rc = kalamConnDb(pConn, zSchemaName, 0, &pDb, &zErr);
    if( rc ) goto done;
    if( pDb==0 && zFile && zFile[0] && kalamStoreHasFile(db, zSchemaName) ){
      zBroken = sqlite3_mprintf("kalam table %s: its store %s-kalam is "
          "missing: a copy of the database file alone has no kalam data "
          "(copy %s-kalam with the file, or make copies with "
          "kalam_backup())", zTable, zFile, zFile);
      if( zBroken==0 ){ rc = SQLITE_NOMEM; goto done; }
    }
  }
  if( zBroken==0 ){
    rc = kalamConnDb(pConn, zSchemaName, 1, &pDb, &zErr);
    if( rc ) goto done;
    if( bCreate ){
      rc = tableCreateStorage(db, pConn, pDb, pSchema, &pCf, &zErr);
    }else{
      rc = tableConnectStorage(pDb, zTable, &pCf, &zBroken, &zErr);
    }
    if( rc ) goto done;
  }

  zDeclare = kalamSchemaDeclare(pSchema);
  if( zDeclare==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = sqlite3_declare_vtab(db, zDeclare);
  if( rc ){
    zErr = sqlite3_mprintf("kalam table %s: cannot declare its columns: %s",
                           zTable, sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  rc = tableIsUtf8(db, &pSchema->bUtf8);
  if( rc ){
    zErr = sqlite3_mprintf("kalam table %s: cannot read the database's "
                           "text encoding: %s", zTable, sqlite3_errmsg(db));
    goto done;
  }

  pTab = sqlite3_malloc(sizeof(*pTab));
  if( pTab==0 ){ rc = SQLITE_NOMEM; goto done; }
  memset(pTab, 0, sizeof(*pTab));
  pTab->zSchemaName = sqlite3_mprintf("%s", zSchemaName);
  if( pTab->zSchemaName==0 ){
    sqlite3_free(pTab);
    pTab = 0;
    rc = SQLITE_NOMEM;
    goto done;
  }
  pTab->db = db;
  pTab->pConn = pConn;
  pTab->pDb = pDb;
  pTab->pCf = pCf;
  pTab->pSchema = pSchema;
  pTab->zBroken = zBroken;
  pTab->nRowEst = pCf ? kalamStoreKeyEstimate(pDb->pStore, pCf) : 0;
  /* pDb is NULL only for a table whose store is missing (broken). */
  assert( pDb!=0 || pTab->zBroken!=0 );
  pCf = 0;
  pSchema = 0;
  zBroken = 0;
  *ppVtab = &pTab->base;
  if( pDb ){
    /* Found by name by kalam_changes and kalam_wait (changes.c). */
    pTab->pNextInDb = pDb->pTables;
    pDb->pTables = pTab;
  }
  if( !bCreate && pTab->pCf ){
    rc = kalamHousekeep(pTab, KALAM_HOUSEKEEP_OPEN, &zErr);
    if( rc ){
      *ppVtab = 0;
      tableDisconnect(&pTab->base);
      pTab = 0;
      goto done;
    }
  }

done:
  if( rc && bCreate && pCf ){
    /* A failed CREATE leaves nothing behind. */
    char *zIgnore = 0;
    kalamStoreCfDrop(pDb->pStore, pCf, &zIgnore);
    sqlite3_free(zIgnore);
    zIgnore = 0;
    kalamCatalogDelete(pDb->pStore, zTable, &zIgnore);
    sqlite3_free(zIgnore);
  }
  if( pCf ) kalamStoreCfRelease(pDb->pStore, pCf);
  kalamSchemaFree(pSchema);
  sqlite3_free(zDeclare);
  sqlite3_free(zBroken);
  if( zErr ){
    *pzErr = zErr;
  }else if( rc && rc!=SQLITE_NOMEM ){
    *pzErr = sqlite3_mprintf("kalam table %s: error %d", zTable, rc);
  }
  return rc;
}

static int tableCreate(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  return tableInit(db, pAux, argc, argv, ppVtab, pzErr, 1);
}

static int tableConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  return tableInit(db, pAux, argc, argv, ppVtab, pzErr, 0);
}

static int tableDisconnect(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  if( pTab->pDb ){
    KalamTable **pp = &pTab->pDb->pTables;
    while( *pp && *pp!=pTab ) pp = &(*pp)->pNextInDb;
    if( *pp ) *pp = pTab->pNextInDb;
  }
  kalamCursorFree(pTab->pSpare);
  kalamColdCacheFree(pTab->pColdCache);
  if( pTab->pDb ) kalamStoreCfRelease(pTab->pDb->pStore, pTab->pCf);
  sqlite3_free(pTab->zBroken);
  kalamBufFree(&pTab->rowBuf);
  /* SQLite takes a method's message over, except xDestroy's. */
  sqlite3_free(pTab->base.zErrMsg);
  kalamSchemaFree(pTab->pSchema);
  sqlite3_free(pTab->zSchemaName);
  sqlite3_free(pTab);
  return SQLITE_OK;
}

/* DROP TABLE. In autocommit the table's column family and catalog entry go
** at once; inside a transaction the entry is marked pending and settled
** once the transaction is over (catalog.c). */
static int tableDestroy(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamStore *pStore;
  const char *zTable = pTab->pSchema->zTable;
  KalamCatalogEntry *pEntry = 0;
  char *zErr = 0;
  int rc = SQLITE_OK;

  if( pTab->pConn->bLocked ){
    kalamTableError(pTab, tableLockedError("drop", zTable));
    return SQLITE_AUTH;
  }
  /* No store at all (a copy of the file alone): nothing to remove. */
  if( pTab->pDb==0 ) return tableDisconnect(pVtab);
  pStore = pTab->pDb->pStore;
  rc = kalamStoreWriteRefused(pStore, &zErr);
  if( rc ){
    kalamTableError(pTab, zErr);
    return rc;
  }
  if( pTab->zBroken ){
    /* Nothing usable is left: the damaged entry goes, whatever it held. */
    rc = kalamCatalogDelete(pStore, zTable, &zErr);
  }else if( sqlite3_get_autocommit(pTab->db) ){
    rc = kalamStoreCfDrop(pStore, pTab->pCf, &zErr);
    if( rc==SQLITE_OK ) rc = kalamCatalogDelete(pStore, zTable, &zErr);
    /* Its cold files (flush.c): a file left behind is named by no record,
    ** and the sweep takes it. */
    if( rc==SQLITE_OK ) (void)kalamColdRemoveFolder(pStore, zTable, 0);
  }else{
    rc = kalamCatalogRead(pStore, zTable, &pEntry, &zErr);
    if( rc==SQLITE_OK && pEntry && pEntry->iPending==0 ){
      pEntry->iPending = pTab->pConn->iToken;
      kalamStorePendingMark(pStore);
      rc = kalamCatalogWrite(pStore, pEntry, &zErr);
    }
    kalamCatalogEntryFree(pEntry);
  }
  if( rc ){
    kalamTableError(pTab, zErr);
    return rc;
  }
  return tableDisconnect(pVtab);
}

/* ALTER TABLE ... RENAME TO: the catalog entry moves to the new name. */
static int tableRename(sqlite3_vtab *pVtab, const char *zNew){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamStore *pStore;
  KalamCatalogEntry *pEntry = 0;
  char *zErr = 0, *zName = 0;
  int rc;

  if( pTab->pConn->bLocked ){
    kalamTableError(pTab, tableLockedError("rename", pTab->pSchema->zTable));
    return SQLITE_AUTH;
  }
  if( pTab->zBroken ) return tableBroken(pTab);
  pStore = pTab->pDb->pStore;
  rc = kalamStoreWriteRefused(pStore, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamCatalogRead(pStore, pTab->pSchema->zTable, &pEntry, &zErr);
  }
  if( rc ) goto done;
  if( pEntry==0 || pEntry->zCf==0 ){
    zErr = sqlite3_mprintf("the kalam catalog entry of table %s is damaged",
                           pTab->pSchema->zTable);
    rc = SQLITE_CORRUPT;
    goto done;
  }
  zName = sqlite3_mprintf("%s", zNew);
  if( zName==0 ){ rc = SQLITE_NOMEM; goto done; }
  sqlite3_free(pEntry->zName);
  pEntry->zName = sqlite3_mprintf("%s", zNew);
  if( pEntry->zName==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = kalamCatalogWrite(pStore, pEntry, &zErr);
  if( rc==SQLITE_OK && sqlite3_stricmp(zNew, pTab->pSchema->zTable)!=0 ){
    rc = kalamCatalogDelete(pStore, pTab->pSchema->zTable, &zErr);
  }
  if( rc==SQLITE_OK ){
    sqlite3_free(pTab->pSchema->zTable);
    pTab->pSchema->zTable = zName;
    zName = 0;
  }
done:
  if( zErr ) kalamTableError(pTab, zErr);
  kalamCatalogEntryFree(pEntry);
  sqlite3_free(zName);
  return rc;
}

/* ------------------------------------------------------------ transactions
** All tables of one schema in one connection share the KalamDb's
** transaction (txn.c), so each of these is idempotent across them. */

/* Reads PRAGMA synchronous of the table's database: kalam syncs its log at
** commit when it is FULL or EXTRA, as SQLite does. */
static int tableSynchronous(KalamTable *pTab, int *pbSync){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("PRAGMA \"%w\".synchronous",
                               pTab->zSchemaName);
  int rc;
  *pbSync = 1;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(pTab->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pbSync = sqlite3_column_int(pStmt, 0) >= 2;
  }
  return sqlite3_finalize(pStmt);
}

static int tableBegin(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamDb *pDb = pTab->pDb;
  char *zErr = 0;
  int bSync = 1;
  int rc;
  if( pTab->zBroken ) return tableBroken(pTab);
  rc = kalamConnWriteRefused(pDb, &zErr);
  if( rc==SQLITE_OK ) rc = kalamHousekeep(pTab, KALAM_HOUSEKEEP_BEGIN, &zErr);
  if( rc ){
    kalamTableError(pTab, zErr);
    return rc;
  }
  if( kalamTxnIsOpen(pDb->pTxn) ) return SQLITE_OK;
  rc = kalamCatalogResolvePending(pDb, &zErr);
  if( rc==SQLITE_OK ) rc = kalamCommitView(pDb, &zErr);
  if( rc==SQLITE_OK ) rc = tableSynchronous(pTab, &bSync);
  if( rc==SQLITE_OK ){
    kalamTxnSetSync(pDb->pTxn, bSync);
    rc = kalamTxnBegin(pDb->pTxn);
  }
  if( zErr ) kalamTableError(pTab, zErr);
  return rc;
}

/* The commit protocol (commit.c): xSync prepares, xCommit applies once
** SQLite has committed, xRollback discards. */
static int tableSync(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  char *zErr = 0;
  int rc = kalamCommitPrepare(pTab->pDb, &zErr);
  if( zErr ) kalamTableError(pTab, zErr);
  return rc;
}

static int tableCommit(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  char *zErr = 0;
  int rc = kalamCommitApply(pTab->pDb, &zErr);
  if( zErr ) kalamTableError(pTab, zErr);
  return rc;
}

static int tableRollback(sqlite3_vtab *pVtab){
  kalamCommitRollback(((KalamTable*)pVtab)->pDb);
  return SQLITE_OK;
}

static int tableSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  return kalamTxnSavepoint(((KalamTable*)pVtab)->pDb->pTxn, iSavepoint);
}

static int tableRelease(sqlite3_vtab *pVtab, int iSavepoint){
  return kalamTxnRelease(((KalamTable*)pVtab)->pDb->pTxn, iSavepoint);
}

static int tableRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  KalamTable *pTab = (KalamTable*)pVtab;
  char *zErr = 0;
  int rc = kalamTxnRollbackTo(pTab->pDb->pTxn, iSavepoint, &zErr);
  if( zErr ) kalamTableError(pTab, zErr);
  return rc;
}

static sqlite3_module tableModule = {
  2,                  /* iVersion: 2 adds the savepoint methods */
  tableCreate,        /* xCreate: CREATE VIRTUAL TABLE */
  tableConnect,       /* xConnect: reattach from the catalog */
  kalamPlanBestIndex, /* xBestIndex: plan.c */
  tableDisconnect,    /* xDisconnect */
  tableDestroy,       /* xDestroy: DROP TABLE */
  kalamCursorOpen,    /* xOpen: cursor.c, as are the next six */
  kalamCursorClose,   /* xClose */
  kalamCursorFilter,  /* xFilter */
  kalamCursorNext,    /* xNext */
  kalamCursorEof,     /* xEof */
  kalamCursorColumn,  /* xColumn */
  kalamCursorRowid,   /* xRowid */
  kalamTableUpdate,   /* xUpdate: update.c */
  tableBegin,         /* xBegin */
  tableSync,          /* xSync: the transaction is written here */
  tableCommit,        /* xCommit */
  tableRollback,      /* xRollback */
  0,                  /* xFindFunction */
  tableRename,        /* xRename */
  tableSavepoint,     /* xSavepoint */
  tableRelease,       /* xRelease */
  tableRollbackTo,    /* xRollbackTo */
  0                   /* xShadowName */
};

/* Registers the three modules on db, each holding a reference on pConn. */
int kalamTableModulesRegister(sqlite3 *db, KalamConn *pConn){
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<3; i++){
    kalamConnRef(pConn);
    rc = sqlite3_create_module_v2(db, kalamKindName(i), &tableModule, pConn,
                                  kalamConnUnref);
  }
  return rc;
}
