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

/* The columns: TABLES_TEXT of text, then TABLES_INT integers. */
#define TABLES_DECL "CREATE TABLE x(schema TEXT, name TEXT, kind TEXT, " \
    "columns TEXT, options TEXT, created_at INTEGER)"
#define TABLES_TEXT 5      /* schema, name, kind, columns, options */
#define TABLES_INT  1      /* created_at */

/* What tablesCollectEntry needs. */
typedef struct TablesCollect TablesCollect;
struct TablesCollect {
  sqlite3_vtab_cursor *pCur;
  const char *zSchema;
};

/* Appends one catalog entry to the cursor's rows. An entry without a
** name (damage kalam_check reports) is listed with an empty one. */
static int tablesCollectEntry(void *pArg, const KalamCatalogEntry *pEntry,
                              char **pzErr){
  TablesCollect *p = (TablesCollect*)pArg;
  const char *azText[TABLES_TEXT];
  sqlite3_int64 aInt[TABLES_INT];
  (void)pzErr;
  if( pEntry->eKind<0 ) return SQLITE_OK;
  azText[0] = p->zSchema;
  azText[1] = pEntry->zName ? pEntry->zName : "";
  azText[2] = kalamKindName(pEntry->eKind);
  azText[3] = pEntry->zColumns ? pEntry->zColumns : "[]";
  azText[4] = pEntry->zOptions ? pEntry->zOptions : "{}";
  aInt[0] = pEntry->iCreated;
  return kalamTvfRowsAdd(p->pCur, azText, aInt);
}

/* The rows of one database (kalamTvfRowsEachDb): its catalog's
** entries. */
static int tablesCollectDb(sqlite3_vtab_cursor *pCur, KalamDb *pDb,
                           char **pzErr){
  TablesCollect collect;
  int rc;
  collect.pCur = pCur;
  collect.zSchema = pDb->zSchema;
  rc = kalamCatalogResolvePending(pDb, pzErr);
  if( rc==SQLITE_OK ){
    rc = kalamCatalogForEach(pDb->pStore, tablesCollectEntry, &collect,
                             pzErr);
  }
  return rc;
}

static int tablesConnect(sqlite3 *db, void *pAux, int argc,
                         const char *const *argv, sqlite3_vtab **ppVtab,
                         char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  return kalamTvfRowsConnect(db, pAux, TABLES_DECL, TABLES_TEXT, TABLES_INT,
                             tablesCollectDb, ppVtab);
}

static sqlite3_module tablesModule =
    KALAM_TVF_ROWS_MODULE(tablesConnect, kalamTvfRowsBestIndex,
                          kalamTvfRowsEachDb);

/* Registers kalam_tables on db, holding a reference on pConn. */
int kalamTablesRegister(sqlite3 *db, KalamConn *pConn){
  return kalamTvfRegister(db, pConn, "kalam_tables", &tablesModule);
}
