/*
** tables.c — kalam_tables, an eponymous read-only table listing the
** catalog of every store the connection can see: one per schema (main,
** temp, attached) that has kalam tables.
**
**   SELECT schema, name, kind, columns, options, created_at FROM kalam_tables;
**
** It is filled in xFilter from the (small) catalogs; pending entries are
** settled first, so that it never lists a table a rolled-back transaction
** created.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

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
static int tablesCollectEntry(void *pArg, const KalamCatalogEntry *pEntry,
                              char **pzErr){
  TablesCollect *p = (TablesCollect*)pArg;
  TablesCursor *pCur = p->pCur;
  TablesRow *aNew, *pRow;
  (void)pzErr;

  if( pEntry->eKind<0 ) return SQLITE_OK;
  aNew = sqlite3_realloc64(pCur->aRow, sizeof(TablesRow) * (pCur->nRow + 1));
  if( aNew==0 ) return SQLITE_NOMEM;
  pCur->aRow = aNew;
  pRow = &aNew[pCur->nRow++];
  memset(pRow, 0, sizeof(*pRow));
  pRow->azCol[0] = sqlite3_mprintf("%s", p->zSchema);
  pRow->azCol[1] = sqlite3_mprintf("%s", pEntry->zName);
  pRow->azCol[2] = sqlite3_mprintf("%s", kalamKindName(pEntry->eKind));
  pRow->azCol[3] = sqlite3_mprintf("%s", pEntry->zColumns ? pEntry->zColumns
                                                          : "[]");
  pRow->azCol[4] = sqlite3_mprintf("%s", pEntry->zOptions ? pEntry->zOptions
                                                          : "{}");
  pRow->iCreated = pEntry->iCreated;
  if( !pRow->azCol[0] || !pRow->azCol[1] || !pRow->azCol[2]
   || !pRow->azCol[3] || !pRow->azCol[4] ) return SQLITE_NOMEM;
  return SQLITE_OK;
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

/* Registers kalam_tables on db, holding a reference on pConn. */
int kalamTablesRegister(sqlite3 *db, KalamConn *pConn){
  kalamConnRef(pConn);
  return sqlite3_create_module_v2(db, "kalam_tables", &tablesModule, pConn,
                                  kalamConnUnref);
}
