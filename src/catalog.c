/*
** catalog.c — the catalog column family and the kalam_tables table.
**
** The catalog ("kalam_catalog" column family) has one entry per table,
** keyed by the table name in lower case, whose value is a JSON object:
**
**   {"name":"t","kind":"kalam_shared","cf":"kt_...","columns":[...],
**    "options":{...},"created_at":<ms>[,"pending":<token>]}
**
** Catalog writes go straight to RocksDB, synced, outside any transaction:
** DDL is rare and must not be lost. But SQLite can roll back a CREATE or a
** DROP, and kalam is not told when a transaction that held one ends. So
** DDL run inside an explicit transaction marks the entry "pending" with
** the token of its connection and leaves the column family in place; once
** that transaction is over (the connection is back in autocommit, or the
** connection is gone, or the process died), the entry is settled against
** sqlite_master, which SQLite itself committed or rolled back: a table
** that is there keeps its entry, a table that is not is dropped for good.
** kalamCatalogResolvePending does that, from every entry point that can
** run SQL (xCreate, xBegin in autocommit, kalam_tables and the functions).
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <sys/stat.h>

SQLITE_EXTENSION_INIT3

/* The catalog key of a table: its name in lower case (SQLite names are
** case-insensitive). Caller frees with sqlite3_free. */
static char *catalogKey(const char *zTable){
  char *z = sqlite3_mprintf("%s", zTable);
  int i;
  if( z ) for(i=0; z[i]; i++) z[i] = (char)tolower((unsigned char)z[i]);
  return z;
}

int kalamCatalogGet(KalamStore *p, const char *zTable, char **pzJson,
                    char **pzErr){
  char *zKey = catalogKey(zTable);
  char *zErr = 0, *zVal;
  size_t nVal = 0;
  *pzJson = 0;
  if( zKey==0 ) return SQLITE_NOMEM;
  zVal = rocksdb_get_cf(p->db, p->pRo, p->hCatalog, zKey, strlen(zKey),
                        &nVal, &zErr);
  sqlite3_free(zKey);
  if( zErr ){
    *pzErr = kalamStoreError("cannot read the kalam catalog", zErr);
    return SQLITE_IOERR;
  }
  if( zVal ){
    *pzJson = sqlite3_mprintf("%.*s", (int)nVal, zVal);
    rocksdb_free(zVal);
    if( *pzJson==0 ) return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

int kalamCatalogPut(KalamStore *p, const char *zTable, const char *zJson,
                    char **pzErr){
  char *zKey = catalogKey(zTable);
  char *zErr = 0;
  if( zKey==0 ) return SQLITE_NOMEM;
  rocksdb_put_cf(p->db, p->pWoSync, p->hCatalog, zKey, strlen(zKey),
                 zJson, strlen(zJson), &zErr);
  sqlite3_free(zKey);
  if( zErr ){
    *pzErr = kalamStoreError("cannot write the kalam catalog", zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

int kalamCatalogDelete(KalamStore *p, const char *zTable, char **pzErr){
  char *zKey = catalogKey(zTable);
  char *zErr = 0;
  if( zKey==0 ) return SQLITE_NOMEM;
  rocksdb_delete_cf(p->db, p->pWoSync, p->hCatalog, zKey, strlen(zKey),
                    &zErr);
  sqlite3_free(zKey);
  if( zErr ){
    *pzErr = kalamStoreError("cannot write the kalam catalog", zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Builds the catalog entry of a table. zPending is the token text of the
** connection whose open transaction created it, or NULL. */
int kalamCatalogEntryJson(const KalamSchema *pSchema, const char *zCf,
                          sqlite3_int64 iCreated, const char *zPending,
                          char **pzOut){
  KalamBuf b;
  char *zCols = kalamSchemaColumnsJson(pSchema);
  char *zOpts = kalamSchemaOptionsJson(pSchema);
  int rc = SQLITE_OK;
  kalamBufInit(&b);
  *pzOut = 0;
  if( zCols==0 || zOpts==0 ){ rc = SQLITE_NOMEM; goto done; }
  kalamBufAppendStr(&b, "{\"name\":");
  kalamBufAppendJsonString(&b, pSchema->zTable,
                           (sqlite3_int64)strlen(pSchema->zTable));
  kalamBufAppendStr(&b, ",\"kind\":\"");
  kalamBufAppendStr(&b, kalamKindName(pSchema->eKind));
  kalamBufAppendStr(&b, "\",\"cf\":");
  kalamBufAppendJsonString(&b, zCf, (sqlite3_int64)strlen(zCf));
  kalamBufAppendStr(&b, ",\"columns\":");
  kalamBufAppendStr(&b, zCols);
  kalamBufAppendStr(&b, ",\"options\":");
  kalamBufAppendStr(&b, zOpts);
  kalamBufAppendStr(&b, ",\"created_at\":");
  kalamBufAppendInt(&b, iCreated);
  if( zPending ){
    kalamBufAppendStr(&b, ",\"pending\":");
    kalamBufAppendStr(&b, zPending);
  }
  kalamBufAppendChar(&b, '}');
  if( b.oom ){ rc = SQLITE_NOMEM; goto done; }
  *pzOut = b.z;
  b.z = 0;
done:
  kalamBufFree(&b);
  sqlite3_free(zCols);
  sqlite3_free(zOpts);
  return rc;
}

/* Is table zName in sqlite_master of schema zSchema? */
static int catalogInSqlite(sqlite3 *db, const char *zSchema,
                           const char *zName, int *pbFound){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_master "
      "WHERE type='table' AND name=%Q COLLATE NOCASE", zSchema, zName);
  int rc;
  *pbFound = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return rc;
  rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW ){
    *pbFound = 1;
    rc = SQLITE_OK;
  }else if( rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* Calls xEntry for each catalog entry of the store, parsed. An entry that
** does not parse is skipped here: the table it describes reports it when
** it connects. Iteration stops at the first error. Writing the catalog
** from xEntry is fine: the iterator reads a snapshot. */
int kalamCatalogForEach(KalamStore *p,
                        int (*xEntry)(void *pArg, cJSON *pEntry, char **pzErr),
                        void *pArg, char **pzErr){
  rocksdb_iterator_t *pIter;
  char *zErr = 0;
  int rc = SQLITE_OK;
  pIter = rocksdb_create_iterator_cf(p->db, p->pRo, p->hCatalog);
  if( pIter==0 ) return SQLITE_NOMEM;
  for(rocksdb_iter_seek_to_first(pIter); rc==SQLITE_OK
      && rocksdb_iter_valid(pIter); rocksdb_iter_next(pIter)){
    size_t nVal;
    const char *zVal = rocksdb_iter_value(pIter, &nVal);
    cJSON *pEntry = cJSON_ParseWithLength(zVal, nVal);
    if( pEntry==0 ) continue;
    rc = xEntry(pArg, pEntry, pzErr);
    cJSON_Delete(pEntry);
  }
  if( rc==SQLITE_OK ){
    rocksdb_iter_get_error(pIter, &zErr);
    if( zErr ){
      *pzErr = kalamStoreError("cannot read the kalam catalog", zErr);
      rc = SQLITE_IOERR;
    }
  }
  rocksdb_iter_destroy(pIter);
  return rc;
}

/* What catalogSettle needs. */
typedef struct CatalogSettle CatalogSettle;
struct CatalogSettle {
  KalamDb *pDb;
  int nLeft;          /* pending entries left for other connections */
};

/* Settles one pending entry, if this connection may (see the header). */
static int catalogSettle(void *pArg, cJSON *pEntry, char **pzErr){
  CatalogSettle *pSettle = (CatalogSettle*)pArg;
  KalamDb *pDb = pSettle->pDb;
  KalamStore *p = pDb->pStore;
  cJSON *pPending = cJSON_GetObjectItemCaseSensitive(pEntry, "pending");
  cJSON *pName = cJSON_GetObjectItemCaseSensitive(pEntry, "name");
  cJSON *pCf = cJSON_GetObjectItemCaseSensitive(pEntry, "cf");
  sqlite3_int64 iToken;
  int bFound = 0, rc;

  if( !cJSON_IsNumber(pPending) || !cJSON_IsString(pName)
   || !cJSON_IsString(pCf) ) return SQLITE_OK;
  iToken = (sqlite3_int64)pPending->valuedouble;
  if( iToken!=pDb->pConn->iToken && kalamConnIsLive(iToken) ){
    pSettle->nLeft++;
    return SQLITE_OK; /* another live connection's open transaction */
  }
  rc = catalogInSqlite(pDb->pConn->db, pDb->zSchema, pName->valuestring,
                       &bFound);
  if( rc ) return rc;
  if( bFound ){
    char *zNew;
    cJSON_DeleteItemFromObjectCaseSensitive(pEntry, "pending");
    zNew = cJSON_PrintUnformatted(pEntry);
    if( zNew==0 ) return SQLITE_NOMEM;
    rc = kalamCatalogPut(p, pName->valuestring, zNew, pzErr);
    cJSON_free(zNew);
  }else{
    KalamCf *pTabCf = kalamStoreCfFind(p, pCf->valuestring);
    if( pTabCf ){
      rc = kalamStoreCfDrop(p, pTabCf, pzErr);
      kalamStoreCfRelease(p, pTabCf);
    }
    if( rc==SQLITE_OK ) rc = kalamCatalogDelete(p, pName->valuestring, pzErr);
  }
  return rc;
}

/* Settles the pending entries this connection may settle (see the header
** comment). Does nothing inside an explicit transaction, and reads nothing
** while the store is known to have no pending entry. */
int kalamCatalogResolvePending(KalamDb *pDb, char **pzErr){
  KalamStore *p = pDb->pStore;
  CatalogSettle settle;
  int rc, bMaybe;
  if( !sqlite3_get_autocommit(pDb->pConn->db) ) return SQLITE_OK;
  sqlite3_mutex_enter(p->mutex);
  bMaybe = p->bMaybePending;
  p->bMaybePending = 0;
  sqlite3_mutex_leave(p->mutex);
  if( !bMaybe ) return SQLITE_OK;
  settle.pDb = pDb;
  settle.nLeft = 0;
  rc = kalamCatalogForEach(p, catalogSettle, &settle, pzErr);
  if( rc || settle.nLeft ) kalamCatalogMarkPending(p);
  return rc;
}

/* Notes that the store's catalog may now hold a pending entry. */
void kalamCatalogMarkPending(KalamStore *p){
  sqlite3_mutex_enter(p->mutex);
  p->bMaybePending = 1;
  sqlite3_mutex_leave(p->mutex);
}

/* ------------------------------------------------------------ kalam_tables
**
** An eponymous read-only table listing the catalog of every store the
** connection can see: one per schema (main, temp, attached) that has kalam
** tables. It is filled in xFilter from the (small) catalogs.
*/

typedef struct TablesVtab TablesVtab;
struct TablesVtab {
  sqlite3_vtab base;      /* must be first */
  sqlite3 *db;
  KalamConn *pConn;
};

typedef struct TablesRow TablesRow;
struct TablesRow {
  char *azCol[5];         /* schema, name, kind, columns, options */
  sqlite3_int64 iCreated;
};

typedef struct TablesCursor TablesCursor;
struct TablesCursor {
  sqlite3_vtab_cursor base; /* must be first */
  TablesRow *aRow;
  int nRow;
  int iRow;
};

static int tablesConnect(sqlite3 *db, void *pAux, int argc,
                         const char *const *argv, sqlite3_vtab **ppVtab,
                         char **pzErr){
  TablesVtab *p;
  int rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = sqlite3_declare_vtab(db, "CREATE TABLE x(schema TEXT, name TEXT, "
      "kind TEXT, columns TEXT, options TEXT, created_at INTEGER)");
  if( rc ) return rc;
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->pConn = (KalamConn*)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int tablesDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int tablesBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  pInfo->estimatedCost = 1000;
  pInfo->estimatedRows = 100;
  return SQLITE_OK;
}

static int tablesOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  TablesCursor *pCur = sqlite3_malloc(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void tablesReset(TablesCursor *pCur){
  int i, j;
  for(i=0; i<pCur->nRow; i++){
    for(j=0; j<5; j++) sqlite3_free(pCur->aRow[i].azCol[j]);
  }
  sqlite3_free(pCur->aRow);
  pCur->aRow = 0;
  pCur->nRow = 0;
  pCur->iRow = 0;
}

static int tablesClose(sqlite3_vtab_cursor *cur){
  tablesReset((TablesCursor*)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* What tablesCollectEntry needs. */
typedef struct TablesCollect TablesCollect;
struct TablesCollect {
  TablesCursor *pCur;
  const char *zSchema;
};

/* Appends one catalog entry to the cursor's rows. */
static int tablesCollectEntry(void *pArg, cJSON *pEntry, char **pzErr){
  TablesCollect *p = (TablesCollect*)pArg;
  TablesCursor *pCur = p->pCur;
  cJSON *pName = cJSON_GetObjectItemCaseSensitive(pEntry, "name");
  cJSON *pKind = cJSON_GetObjectItemCaseSensitive(pEntry, "kind");
  cJSON *pCols = cJSON_GetObjectItemCaseSensitive(pEntry, "columns");
  cJSON *pOpts = cJSON_GetObjectItemCaseSensitive(pEntry, "options");
  cJSON *pCreated = cJSON_GetObjectItemCaseSensitive(pEntry, "created_at");
  TablesRow *aNew, *pRow;
  char *zCols, *zOpts;
  int rc = SQLITE_OK;
  (void)pzErr;

  if( !cJSON_IsString(pName) || !cJSON_IsString(pKind) ) return SQLITE_OK;
  aNew = sqlite3_realloc64(pCur->aRow, sizeof(TablesRow) * (pCur->nRow + 1));
  if( aNew==0 ) return SQLITE_NOMEM;
  pCur->aRow = aNew;
  pRow = &aNew[pCur->nRow++];
  memset(pRow, 0, sizeof(*pRow));
  zCols = pCols ? cJSON_PrintUnformatted(pCols) : 0;
  zOpts = pOpts ? cJSON_PrintUnformatted(pOpts) : 0;
  pRow->azCol[0] = sqlite3_mprintf("%s", p->zSchema);
  pRow->azCol[1] = sqlite3_mprintf("%s", pName->valuestring);
  pRow->azCol[2] = sqlite3_mprintf("%s", pKind->valuestring);
  pRow->azCol[3] = sqlite3_mprintf("%s", zCols ? zCols : "[]");
  pRow->azCol[4] = sqlite3_mprintf("%s", zOpts ? zOpts : "{}");
  pRow->iCreated = cJSON_IsNumber(pCreated)
                 ? (sqlite3_int64)pCreated->valuedouble : 0;
  if( zCols ) cJSON_free(zCols);
  if( zOpts ) cJSON_free(zOpts);
  if( !pRow->azCol[0] || !pRow->azCol[1] || !pRow->azCol[2]
   || !pRow->azCol[3] || !pRow->azCol[4] ) rc = SQLITE_NOMEM;
  return rc;
}

static int tablesFilter(sqlite3_vtab_cursor *cur, int idxNum,
                        const char *idxStr, int argc, sqlite3_value **argv){
  TablesCursor *pCur = (TablesCursor*)cur;
  TablesVtab *pTab = (TablesVtab*)cur->pVtab;
  int rc = SQLITE_OK;
  int i;
  const char *zSchema;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  tablesReset(pCur);
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pTab->db, i))!=0; i++){
    KalamDb *pDb = 0;
    char *zErr = 0;
    rc = kalamConnDb(pTab->pConn, zSchema, 0, &pDb, &zErr);
    if( rc==SQLITE_OK && pDb ){
      TablesCollect collect;
      collect.pCur = pCur;
      collect.zSchema = pDb->zSchema;
      rc = kalamCatalogResolvePending(pDb, &zErr);
      if( rc==SQLITE_OK ){
        rc = kalamCatalogForEach(pDb->pStore, tablesCollectEntry, &collect,
                                 &zErr);
      }
    }
    if( rc && zErr ){
      sqlite3_free(pTab->base.zErrMsg);
      pTab->base.zErrMsg = zErr;
      zErr = 0;
    }
    sqlite3_free(zErr);
  }
  return rc;
}

static int tablesNext(sqlite3_vtab_cursor *cur){
  ((TablesCursor*)cur)->iRow++;
  return SQLITE_OK;
}

static int tablesEof(sqlite3_vtab_cursor *cur){
  TablesCursor *pCur = (TablesCursor*)cur;
  return pCur->iRow >= pCur->nRow;
}

static int tablesColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                        int iCol){
  TablesCursor *pCur = (TablesCursor*)cur;
  TablesRow *pRow = &pCur->aRow[pCur->iRow];
  if( iCol==5 ){
    sqlite3_result_int64(ctx, pRow->iCreated);
  }else{
    sqlite3_result_text(ctx, pRow->azCol[iCol], -1, SQLITE_TRANSIENT);
  }
  return SQLITE_OK;
}

static int tablesRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((TablesCursor*)cur)->iRow + 1;
  return SQLITE_OK;
}

static sqlite3_module tablesModule = {
  0,                  /* iVersion */
  0,                  /* xCreate: eponymous only */
  tablesConnect,      /* xConnect */
  tablesBestIndex,    /* xBestIndex */
  tablesDisconnect,   /* xDisconnect */
  0,                  /* xDestroy */
  tablesOpen,         /* xOpen */
  tablesClose,        /* xClose */
  tablesFilter,       /* xFilter */
  tablesNext,         /* xNext */
  tablesEof,          /* xEof */
  tablesColumn,       /* xColumn */
  tablesRowid,        /* xRowid */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */
  0                   /* xShadowName */
};

int kalamTablesRegister(sqlite3 *db, KalamConn *pConn){
  kalamConnRef(pConn);
  return sqlite3_create_module_v2(db, "kalam_tables", &tablesModule, pConn,
                                  kalamConnUnref);
}
