/*
** catalog.c — the catalog: one typed entry (KalamCatalogEntry) per table.
**
** The catalog column family of each store has one entry per table, keyed
** by the table name in lower case, whose value is a JSON object:
**
**   {"name":"t","kind":"kalam_shared","cf":"kt_...","columns":[...],
**    "options":{...},"created_at":<ms>[,"pending":<token>]}
**
** This file is the only one that reads or writes that JSON: entries are
** parsed once into the struct (catalogParse) and written back from it
** (catalogSerialize). A damaged entry parses into a struct whose missing
** parts are NULL (or -1), and each user says what it cannot do without.
**
** Catalog writes go straight to the store, synced, outside any
** transaction: DDL is rare and must not be lost. But SQLite can roll back
** a CREATE or a DROP, and kalam is not told when a transaction that held
** one ends. So DDL run inside an explicit transaction marks the entry
** "pending" with the token of its connection and leaves the column family
** in place; once that transaction is over (the connection is back in
** autocommit, or the connection is gone, or the process died), the entry
** is settled against sqlite_master, which SQLite itself committed or
** rolled back: a table that is there keeps its entry, a table that is not
** is dropped for good. kalamCatalogResolvePending does that, from every
** entry point that can run SQL (xCreate, xBegin in autocommit,
** kalam_tables and the functions).
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>
#include <ctype.h>

SQLITE_EXTENSION_INIT3

/* The catalog key of a table: its name in lower case (SQLite names are
** case-insensitive). Caller frees with sqlite3_free. */
static char *catalogKey(const char *zTable){
  char *z = sqlite3_mprintf("%s", zTable);
  int i;
  if( z ) for(i=0; z[i]; i++) z[i] = (char)tolower((unsigned char)z[i]);
  return z;
}

void kalamCatalogEntryFree(KalamCatalogEntry *p){
  if( p==0 ) return;
  sqlite3_free(p->zName);
  sqlite3_free(p->zCf);
  sqlite3_free(p->zColumns);
  sqlite3_free(p->zOptions);
  sqlite3_free(p->zAlterSql);
  sqlite3_free(p->zPrevColumns);
  sqlite3_free(p->zPrevOptions);
  sqlite3_free(p);
}

static KalamCatalogEntry *catalogEntryAlloc(void){
  KalamCatalogEntry *p = sqlite3_malloc(sizeof(*p));
  if( p ){
    memset(p, 0, sizeof(*p));
    p->eKind = -1;
  }
  return p;
}

/* The entry of a table being created, from its schema; iPending is the
** token of the connection if CREATE runs inside an explicit transaction,
** else 0. The caller frees *pp with kalamCatalogEntryFree. */
int kalamCatalogEntryNew(const KalamSchema *pSchema, const char *zCf,
                         sqlite3_int64 iPending, KalamCatalogEntry **pp){
  KalamCatalogEntry *p = catalogEntryAlloc();
  *pp = 0;
  if( p==0 ) return SQLITE_NOMEM;
  p->zName = sqlite3_mprintf("%s", pSchema->zTable);
  p->eKind = pSchema->eKind;
  p->zCf = sqlite3_mprintf("%s", zCf);
  p->zColumns = kalamSchemaColumnsJson(pSchema);
  p->zOptions = kalamSchemaOptionsJson(pSchema);
  p->nTtlSeconds = pSchema->nTtlSeconds;
  p->nRetentionHours = pSchema->nRetentionHours;
  p->iCreated = kalamNowMs();
  p->iPending = iPending;
  if( !p->zName || !p->zCf || !p->zColumns || !p->zOptions ){
    kalamCatalogEntryFree(p);
    return SQLITE_NOMEM;
  }
  *pp = p;
  return SQLITE_OK;
}

/* The text of a string member, copied (sqlite3_free), or NULL. */
static int catalogString(cJSON *pObj, const char *zKey, char **pz){
  cJSON *pItem = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  *pz = 0;
  if( !cJSON_IsString(pItem) ) return SQLITE_OK;
  *pz = sqlite3_mprintf("%s", pItem->valuestring);
  return *pz ? SQLITE_OK : SQLITE_NOMEM;
}

/* A number member as an integer, or 0. */
static sqlite3_int64 catalogNumber(cJSON *pObj, const char *zKey){
  cJSON *pItem = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  return cJSON_IsNumber(pItem) ? (sqlite3_int64)pItem->valuedouble : 0;
}

/* A member's compact JSON text (sqlite3_free), or NULL if it is absent. */
static int catalogJsonText(cJSON *pObj, const char *zKey, char **pz){
  cJSON *pItem = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  char *z;
  *pz = 0;
  if( pItem==0 ) return SQLITE_OK;
  z = cJSON_PrintUnformatted(pItem);
  if( z==0 ) return SQLITE_NOMEM;
  *pz = sqlite3_mprintf("%s", z);
  cJSON_free(z);
  return *pz ? SQLITE_OK : SQLITE_NOMEM;
}

/* Parses an entry's JSON. Anything missing or of the wrong type is left
** empty (NULL, or -1 for the kind): text that is not JSON at all gives an
** entry with nothing in it. Only running out of memory fails. */
static int catalogParse(const char *z, size_t n, KalamCatalogEntry **pp){
  KalamCatalogEntry *p = catalogEntryAlloc();
  cJSON *pObj;
  int rc = SQLITE_OK;
  *pp = 0;
  if( p==0 ) return SQLITE_NOMEM;
  pObj = cJSON_ParseWithLength(z, n);
  if( cJSON_IsObject(pObj) ){
    cJSON *pOpts = cJSON_GetObjectItemCaseSensitive(pObj, "options");
    char *zKind = 0;
    rc = catalogString(pObj, "name", &p->zName);
    if( rc==SQLITE_OK ) rc = catalogString(pObj, "kind", &zKind);
    if( rc==SQLITE_OK ) rc = catalogString(pObj, "cf", &p->zCf);
    if( rc==SQLITE_OK ) rc = catalogJsonText(pObj, "columns", &p->zColumns);
    if( rc==SQLITE_OK ) rc = catalogJsonText(pObj, "options", &p->zOptions);
    p->eKind = kalamKindFromName(zKind);
    sqlite3_free(zKind);
    p->nTtlSeconds = catalogNumber(pOpts, "ttl_seconds");
    p->nRetentionHours = catalogNumber(pOpts, "deleted_retention_hours");
    p->bPerUser = catalogNumber(pOpts, "per_user")!=0;
    p->iCreated = catalogNumber(pObj, "created_at");
    p->iPending = catalogNumber(pObj, "pending");
    if( rc==SQLITE_OK ){
      cJSON *pAlt = cJSON_GetObjectItemCaseSensitive(pObj, "altered");
      if( cJSON_IsObject(pAlt) ){
        rc = catalogString(pAlt, "sql", &p->zAlterSql);
        if( rc==SQLITE_OK ) rc = catalogJsonText(pAlt, "columns",
                                                 &p->zPrevColumns);
        if( rc==SQLITE_OK ) rc = catalogJsonText(pAlt, "options",
                                                 &p->zPrevOptions);
      }
    }
  }
  cJSON_Delete(pObj);
  if( rc ){
    kalamCatalogEntryFree(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

/* The entry's JSON (sqlite3_free), or NULL if out of memory. Parts the
** entry lacks are left out, so that rewriting a damaged entry invents
** nothing. */
static char *catalogSerialize(const KalamCatalogEntry *p){
  KalamBuf b;
  kalamBufInit(&b);
  kalamBufAppendStr(&b, "{\"name\":");
  kalamBufAppendJsonString(&b, p->zName, (sqlite3_int64)strlen(p->zName));
  if( p->eKind>=0 ){
    kalamBufAppendStr(&b, ",\"kind\":\"");
    kalamBufAppendStr(&b, kalamKindName(p->eKind));
    kalamBufAppendChar(&b, '"');
  }
  if( p->zCf ){
    kalamBufAppendStr(&b, ",\"cf\":");
    kalamBufAppendJsonString(&b, p->zCf, (sqlite3_int64)strlen(p->zCf));
  }
  if( p->zColumns ){
    kalamBufAppendStr(&b, ",\"columns\":");
    kalamBufAppendStr(&b, p->zColumns);
  }
  if( p->zOptions ){
    kalamBufAppendStr(&b, ",\"options\":");
    kalamBufAppendStr(&b, p->zOptions);
  }
  kalamBufAppendStr(&b, ",\"created_at\":");
  kalamBufAppendInt(&b, p->iCreated);
  if( p->iPending ){
    kalamBufAppendStr(&b, ",\"pending\":");
    kalamBufAppendInt(&b, p->iPending);
  }
  if( p->zAlterSql ){
    kalamBufAppendStr(&b, ",\"altered\":{\"sql\":");
    kalamBufAppendJsonString(&b, p->zAlterSql,
                             (sqlite3_int64)strlen(p->zAlterSql));
    if( p->zPrevColumns ){
      kalamBufAppendStr(&b, ",\"columns\":");
      kalamBufAppendStr(&b, p->zPrevColumns);
    }
    if( p->zPrevOptions ){
      kalamBufAppendStr(&b, ",\"options\":");
      kalamBufAppendStr(&b, p->zPrevOptions);
    }
    kalamBufAppendChar(&b, '}');
  }
  kalamBufAppendChar(&b, '}');
  if( b.oom ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}

/* Reads table zTable's entry. *pp is NULL when the catalog has none;
** otherwise the caller frees it with kalamCatalogEntryFree. */
int kalamCatalogRead(KalamStore *p, const char *zTable,
                     KalamCatalogEntry **pp, char **pzErr){
  char *zKey = catalogKey(zTable);
  char *zVal = 0;
  size_t nVal = 0;
  int rc;
  *pp = 0;
  if( zKey==0 ) return SQLITE_NOMEM;
  rc = kalamStoreGet(p, 0, kalamStoreCatalog(p), zKey, strlen(zKey), &zVal,
                     &nVal, "cannot read the kalam catalog", pzErr);
  sqlite3_free(zKey);
  if( rc==SQLITE_OK && zVal ) rc = catalogParse(zVal, nVal, pp);
  if( zVal ) kalamStoreFree(zVal);
  return rc;
}

/* Writes an entry under its name, replacing any entry of that name. */
int kalamCatalogWrite(KalamStore *p, const KalamCatalogEntry *pEntry,
                      char **pzErr){
  char *zKey = catalogKey(pEntry->zName);
  char *zJson = catalogSerialize(pEntry);
  int rc = SQLITE_NOMEM;
  if( zKey && zJson ){
    rc = kalamStorePut(p, kalamStoreCatalog(p), zKey, strlen(zKey),
                           zJson, strlen(zJson), 1,
                           "cannot write the kalam catalog", pzErr);
  }
  sqlite3_free(zKey);
  sqlite3_free(zJson);
  return rc;
}

/* Removes table zTable's entry; no entry is not an error. */
int kalamCatalogDelete(KalamStore *p, const char *zTable, char **pzErr){
  char *zKey = catalogKey(zTable);
  int rc;
  if( zKey==0 ) return SQLITE_NOMEM;
  rc = kalamStorePut(p, kalamStoreCatalog(p), zKey, strlen(zKey), 0, 0, 1,
                         "cannot write the kalam catalog", pzErr);
  sqlite3_free(zKey);
  return rc;
}

/* Calls xEntry for each entry of the store, parsed. An entry without a
** name is skipped here: the table it describes reports the damage when it
** connects. Iteration stops at the first error. Writing the catalog from
** xEntry is fine: the iterator reads a snapshot. */
int kalamCatalogForEach(KalamStore *p,
                        int (*xEntry)(void*, const KalamCatalogEntry*, char**),
                        void *pArg, char **pzErr){
  KalamStoreIter *pIt;
  int rc = SQLITE_OK;
  pIt = kalamStoreIterNew(p, 0, kalamStoreCatalog(p), 0, 0, 0, 0, 0);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterFirst(pIt); rc==SQLITE_OK && kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    size_t nVal;
    const char *zVal = kalamStoreIterValue(pIt, &nVal);
    KalamCatalogEntry *pEntry = 0;
    rc = catalogParse(zVal, nVal, &pEntry);
    if( rc==SQLITE_OK && pEntry->zName ) rc = xEntry(pArg, pEntry, pzErr);
    kalamCatalogEntryFree(pEntry);
  }
  if( rc==SQLITE_OK ){
    rc = kalamStoreIterError(pIt, "cannot read the kalam catalog", pzErr);
  }
  kalamStoreIterFree(pIt);
  return rc;
}

/* Do two CREATE VIRTUAL TABLE texts have the same module and arguments?
** The names before USING may differ: ALTER TABLE ... RENAME TO in the
** same transaction as kalam_alter rewrites only the name. */
static int catalogSameArguments(const char *zA, const char *zB){
  const char *a = zA ? strstr(zA, " USING ") : 0;
  const char *b = zB ? strstr(zB, " USING ") : 0;
  return a && b && strcmp(a, b)==0;
}

/* Is table zName in sqlite_master of schema zSchema? If so and pbSame is
** not NULL, *pbSame says whether its CREATE text is zAlterSql. */
static int catalogInSqlite(sqlite3 *db, const char *zSchema,
                           const char *zName, int *pbFound,
                           const char *zAlterSql, int *pbSame){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT sql FROM \"%w\".sqlite_master "
      "WHERE type='table' AND name=%Q COLLATE NOCASE", zSchema, zName);
  int rc;
  *pbFound = 0;
  if( pbSame ) *pbSame = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return rc;
  rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW ){
    const char *zHave = (const char*)sqlite3_column_text(pStmt, 0);
    *pbFound = 1;
    if( pbSame ) *pbSame = catalogSameArguments(zHave, zAlterSql);
    rc = SQLITE_OK;
  }else if( rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* What catalogSettle needs. */
typedef struct CatalogSettle CatalogSettle;
struct CatalogSettle {
  KalamDb *pDb;
  int nLeft;          /* pending entries left for other connections */
};

/* Settles one pending entry, if this connection may (see the header). */
static int catalogSettle(void *pArg, const KalamCatalogEntry *pEntry,
                         char **pzErr){
  CatalogSettle *pSettle = (CatalogSettle*)pArg;
  KalamDb *pDb = pSettle->pDb;
  KalamStore *p = pDb->pStore;
  int bFound = 0, bSame = 0, rc;

  if( pEntry->iPending==0 || pEntry->zCf==0 ) return SQLITE_OK;
  if( pEntry->iPending!=pDb->pConn->iToken
   && kalamConnIsLive(pEntry->iPending) ){
    pSettle->nLeft++;
    return SQLITE_OK; /* another live connection's open transaction */
  }
  rc = catalogInSqlite(pDb->pConn->db, pDb->zSchema, pEntry->zName, &bFound,
                       pEntry->zAlterSql, &bSame);
  if( rc ) return rc;
  if( bFound ){
    KalamCatalogEntry settled = *pEntry;
    settled.iPending = 0;
    settled.zAlterSql = 0;
    settled.zPrevColumns = 0;
    settled.zPrevOptions = 0;
    if( pEntry->zAlterSql && !bSame ){
      /* kalam_alter was rolled back: the columns from before it. */
      settled.zColumns = pEntry->zPrevColumns;
      settled.zOptions = pEntry->zPrevOptions;
    }
    rc = kalamCatalogWrite(p, &settled, pzErr);
  }else{
    KalamCf *pTabCf = kalamStoreCfFind(p, pEntry->zCf);
    if( pTabCf ){
      rc = kalamStoreCfDrop(p, pTabCf, pzErr);
      kalamStoreCfRelease(p, pTabCf);
    }
    if( rc==SQLITE_OK ) rc = kalamCatalogDelete(p, pEntry->zName, pzErr);
    /* Its cold files (flush.c); one left behind is named by no record. */
    if( rc==SQLITE_OK ) (void)kalamColdRemoveFolder(p, pEntry->zName, 0);
  }
  return rc;
}

/* Settles the pending entries this connection may settle (see the header
** comment). Does nothing inside an explicit transaction, and reads nothing
** while the store is known to have no pending entry. */
int kalamCatalogResolvePending(KalamDb *pDb, char **pzErr){
  KalamStore *p = pDb->pStore;
  CatalogSettle settle;
  int rc;
  if( !sqlite3_get_autocommit(pDb->pConn->db) ) return SQLITE_OK;
  if( kalamStoreReadOnly(p, 0) ) return SQLITE_OK;  /* the owner's to do */
  if( !kalamStorePendingTake(p) ) return SQLITE_OK;
  settle.pDb = pDb;
  settle.nLeft = 0;
  rc = kalamCatalogForEach(p, catalogSettle, &settle, pzErr);
  if( rc || settle.nLeft ) kalamStorePendingMark(p);
  return rc;
}

/* Records that kalam_alter changed table zTable to schema pNew, whose
** CREATE text (written into sqlite_schema in the open transaction) is
** zSql: the entry gets the new columns and options now, pending until
** the transaction is over (see the header). A second change in the same
** transaction keeps the columns from before the first; a table created
** in this transaction has nothing to go back to. */
int kalamCatalogAlter(KalamDb *pDb, const char *zTable,
                      const KalamSchema *pNew, const char *zSql,
                      char **pzErr){
  KalamStore *p = pDb->pStore;
  KalamCatalogEntry *pEntry = 0;
  char *zColumns = kalamSchemaColumnsJson(pNew);
  char *zOptions = kalamSchemaOptionsJson(pNew);
  int rc = SQLITE_NOMEM;
  if( zColumns==0 || zOptions==0 ) goto done;
  rc = kalamCatalogRead(p, zTable, &pEntry, pzErr);
  if( rc ) goto done;
  if( pEntry==0 || pEntry->zCf==0 ){
    *pzErr = sqlite3_mprintf("the kalam catalog entry of table %s is "
                             "damaged", zTable);
    rc = SQLITE_CORRUPT;
    goto done;
  }
  if( pEntry->iPending==0 ){
    pEntry->iPending = pDb->pConn->iToken;
    pEntry->zPrevColumns = pEntry->zColumns;
    pEntry->zPrevOptions = pEntry->zOptions;
    pEntry->zColumns = 0;
    pEntry->zOptions = 0;
  }
  if( pEntry->zPrevColumns || pEntry->zAlterSql ){
    sqlite3_free(pEntry->zAlterSql);
    pEntry->zAlterSql = sqlite3_mprintf("%s", zSql);
    if( pEntry->zAlterSql==0 ){ rc = SQLITE_NOMEM; goto done; }
  }
  sqlite3_free(pEntry->zColumns);
  sqlite3_free(pEntry->zOptions);
  pEntry->zColumns = zColumns;
  pEntry->zOptions = zOptions;
  zColumns = zOptions = 0;
  kalamStorePendingMark(p);
  rc = kalamCatalogWrite(p, pEntry, pzErr);
done:
  kalamCatalogEntryFree(pEntry);
  sqlite3_free(zColumns);
  sqlite3_free(zOptions);
  return rc;
}
