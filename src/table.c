/*
** table.c — the kalam_shared, kalam_user and kalam_stream modules: table
** lifetime (create, connect, drop, rename), query planning and cursors,
** and the transaction methods. Writes are in update.c.
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
** Declared columns: the user columns in order, then HIDDEN system columns
** _seq, _updated, _deleted (shared, user) or _seq, _ts (stream).
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>

SQLITE_EXTENSION_INIT3

/*
** THE PLAN ENCODING (xBestIndex writes it, xFilter reads it).
**
** idxNum is a bit set:
**
**   PLAN_EQ       0x0001  argv[EQ] is the row id (or the PK value with
**                         PLAN_PK) the row must have (= or, for the row
**                         id, IS)
**   PLAN_PK       0x0002  the EQ argument is a PRIMARY KEY value, looked up
**                         in the table's key index
**   PLAN_IN       0x0004  the EQ argument is an IN list of row ids, read
**                         all at once with sqlite3_vtab_in_first/next
**   PLAN_LO       0x0010  argv[LO] is a lower bound on the row id
**   PLAN_LO_GT    0x0020    ... strict (>), else >=
**   PLAN_HI       0x0040  argv[HI] is an upper bound on the row id
**   PLAN_HI_LT    0x0080    ... strict (<), else <=
**   PLAN_TS_LO    0x0100  argv[TS_LO] is a lower bound on _ts (streams)
**   PLAN_TS_LO_GT 0x0200    ... strict
**   PLAN_TS_HI    0x0400  argv[TS_HI] is an upper bound on _ts
**   PLAN_TS_HI_LT 0x0800    ... strict
**   PLAN_DESC     0x1000  rows are wanted in descending row id order
**   PLAN_TRASH    0x2000  the WHERE constrains _deleted, so soft-deleted
**                         rows are returned too and SQLite filters them
**   PLAN_TS_EQ    0x4000  with PLAN_TS_LO: argv[TS_LO] is a value _ts must
**                         equal, both bounds at once (and no TS_HI)
**
** argv holds the arguments of the set bits in this order: EQ, LO, HI,
** TS_LO, TS_HI. Two exceptions to "the plan is what it says": a PLAN_PK
** whose value is a number for a TEXT key is scanned instead (see
** tableKeyNeedsScan), and plans with PLAN_TRASH are costed near zero so
** that SQLite cannot prefer a plan that never saw the _deleted term. idxStr is not used. Only an IN list is "omitted" (SQLite
** does not test it again); every other constraint is tested again by
** SQLite, so bounds only ever need to be loose, never exact.
*/
#define PLAN_EQ       0x0001
#define PLAN_PK       0x0002
#define PLAN_IN       0x0004
#define PLAN_LO       0x0010
#define PLAN_LO_GT    0x0020
#define PLAN_HI       0x0040
#define PLAN_HI_LT    0x0080
#define PLAN_TS_LO    0x0100
#define PLAN_TS_LO_GT 0x0200
#define PLAN_TS_HI    0x0400
#define PLAN_TS_HI_LT 0x0800
#define PLAN_DESC     0x1000
#define PLAN_TRASH    0x2000
#define PLAN_TS_EQ    0x4000

/* Full scans of tables larger than this do not fill the block cache. */
#define KALAM_SCAN_NOCACHE_ROWS 50000
/* ...and read their table files ahead by this much. */
#define KALAM_SCAN_READAHEAD (1024*1024)

struct KalamCursor {
  sqlite3_vtab_cursor base;   /* must be first */
  int idxNum;
  int bEof;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  /* Range scans */
  KalamIter *pIter;
  rocksdb_readoptions_t *pRo;
  char aLo[KALAM_ROWKEY_MAX];  /* first key in range */
  int nLo;
  char aHi[KALAM_ROWKEY_MAX];  /* first key past the range */
  int nHi;
  /* Lookups by row id or key: the row ids to fetch, in order */
  sqlite3_int64 *aRowid;       /* kept from one query to the next */
  int nRowid;
  int nRowidAlloc;
  int iNext;
  rocksdb_pinnableslice_t *pPin; /* value fetched by lookup from the store */
  char *zGot;                  /* value fetched by lookup from the
                               ** transaction's buffer (rocksdb_free) */
  /* The current row */
  sqlite3_int64 iRowid;
  const char *zVal;
  size_t nVal;
  int bParsed;
  KalamRow row;
  sqlite3_int64 iMinRowid;     /* streams: rows below this have expired */
};

/* ------------------------------------------------------------ helpers */

static void tableSetError(KalamTable *pTab, char *zErr){
  sqlite3_free(pTab->base.zErrMsg);
  pTab->base.zErrMsg = zErr;
}

/* The owner prefix of the table's keys for the current user: empty for
** shared and stream tables; for user tables an error if there is no
** current user. */
int kalamTableOwnerPrefix(KalamTable *pTab, char *aPrefix, int *pnPrefix){
  *pnPrefix = 0;
  if( pTab->pSchema->eKind!=KALAM_KIND_USER ) return SQLITE_OK;
  if( pTab->pConn->zUser==0 ){
    tableSetError(pTab, sqlite3_mprintf("kalam_user table %s has no current "
        "user: call kalam_set_user('<user id>') first",
        pTab->pSchema->zTable));
    return SQLITE_AUTH;
  }
  *pnPrefix = kalamKeyPrefix(aPrefix, pTab->pConn->zUser);
  return SQLITE_OK;
}

/* Parses the catalog entry zJson, returning its column family name. */
static int tableCatalogCf(const char *zTable, const char *zJson, char **pzCf,
                          char **pzErr){
  cJSON *pEntry = cJSON_Parse(zJson);
  cJSON *pCf = pEntry ? cJSON_GetObjectItemCaseSensitive(pEntry, "cf") : 0;
  int rc = SQLITE_OK;
  *pzCf = 0;
  if( !cJSON_IsString(pCf) ){
    *pzErr = sqlite3_mprintf("the kalam catalog entry of table %s is "
                             "damaged and cannot be read", zTable);
    rc = SQLITE_CORRUPT;
  }else{
    *pzCf = sqlite3_mprintf("%s", pCf->valuestring);
    if( *pzCf==0 ) rc = SQLITE_NOMEM;
  }
  cJSON_Delete(pEntry);
  return rc;
}

/* Is the catalog entry marked pending (DDL inside an open transaction)? */
static int tableEntryPending(const char *zJson){
  return zJson && strstr(zJson, "\"pending\":")!=0;
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

/* The planner's row estimate for a column family. */
static sqlite3_int64 tableRowEstimate(KalamDb *pDb, KalamCf *pCf){
  char *z = rocksdb_property_value_cf(pDb->pStore->db, pCf->h,
                                      "rocksdb.estimate-num-keys");
  sqlite3_int64 n = 0;
  if( z ){
    n = atoll(z);
    rocksdb_free(z);
  }
  return n;
}

/* ------------------------------------------------------------ lifetime */

static int tableKind(const char *zModule){
  if( sqlite3_stricmp(zModule, "kalam_user")==0 ) return KALAM_KIND_USER;
  if( sqlite3_stricmp(zModule, "kalam_stream")==0 ) return KALAM_KIND_STREAM;
  return KALAM_KIND_SHARED;
}

static int tableDisconnect(sqlite3_vtab *pVtab);
static void cursorFree(KalamCursor *pCur);

/* xCreate (bCreate=1) and xConnect (bCreate=0). A table whose catalog
** entry is missing or damaged, or whose data is gone, still connects, but
** "broken" (KalamTable.zBroken): every use of it fails with that message,
** and DROP TABLE works, so that the damage can be cleared away. */
static int tableInit(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr, int bCreate){
  KalamConn *pConn = (KalamConn*)pAux;
  KalamTable *pTab = 0;
  KalamSchema *pSchema = 0;
  KalamDb *pDb = 0;
  KalamCf *pCf = 0;
  char *zDeclare = 0, *zEntry = 0, *zCf = 0, *zErr = 0;
  char *zBroken = 0;
  int bCreatedCf = 0;
  int rc;
  const char *zSchemaName = argv[1];
  const char *zTable = argv[2];

  *ppVtab = 0;
  rc = kalamSchemaParse(tableKind(argv[0]), zTable, argc - 3, argv + 3,
                        &pSchema, &zErr);
  if( rc ) goto done;
  if( bCreate && pConn->bLocked ){
    zErr = sqlite3_mprintf("cannot create kalam table %s: this connection "
        "is locked by kalam_lock_user()", zTable);
    rc = SQLITE_AUTH;
    goto done;
  }
  rc = kalamConnDb(pConn, zSchemaName, 1, &pDb, &zErr);
  if( rc ) goto done;

  if( bCreate ){
    char *zOld = 0;
    rc = kalamCatalogResolvePending(pDb, &zErr);
    if( rc==SQLITE_OK ) rc = kalamCatalogGet(pDb->pStore, zTable, &zOld, &zErr);
    if( rc ) goto done;
    if( zOld ){
      /* SQLite says the table does not exist, yet the store has it: left
      ** over from a database file that was replaced, or dropped earlier in
      ** this very transaction. The first is replaced; the second must wait
      ** for COMMIT, or a ROLLBACK could not bring the old rows back. */
      if( tableEntryPending(zOld) ){
        zErr = sqlite3_mprintf("kalam table %s was dropped in this "
            "transaction: COMMIT before creating it again", zTable);
        rc = SQLITE_ERROR;
      }else{
        char *zOldCf = 0;
        rc = tableCatalogCf(zTable, zOld, &zOldCf, &zErr);
        if( rc==SQLITE_OK ){
          KalamCf *pOldCf = kalamStoreCfFind(pDb->pStore, zOldCf);
          if( pOldCf ){
            rc = kalamStoreCfDrop(pDb->pStore, pOldCf, &zErr);
            kalamStoreCfRelease(pDb->pStore, pOldCf);
          }
        }else if( rc==SQLITE_CORRUPT ){
          sqlite3_free(zErr);
          zErr = 0;
          rc = SQLITE_OK;
        }
        sqlite3_free(zOldCf);
      }
      sqlite3_free(zOld);
      if( rc ) goto done;
    }
    zCf = sqlite3_mprintf("kt_%lld", kalamSnowflakeNext());
    if( zCf==0 ){ rc = SQLITE_NOMEM; goto done; }
    rc = kalamStoreCfCreate(pDb->pStore, zCf, &pCf, &zErr);
    if( rc ) goto done;
    bCreatedCf = 1;
    {
      char zToken[32];
      int bPending = !sqlite3_get_autocommit(db);
      sqlite3_snprintf(sizeof(zToken), zToken, "%lld", pConn->iToken);
      rc = kalamCatalogEntryJson(pSchema, zCf, kalamNowMs(),
                                 bPending ? zToken : 0, &zEntry);
      if( rc==SQLITE_OK ){
        if( bPending ) kalamCatalogMarkPending(pDb->pStore);
        rc = kalamCatalogPut(pDb->pStore, zTable, zEntry, &zErr);
      }
      if( rc ) goto done;
    }
  }else{
    rc = kalamCatalogGet(pDb->pStore, zTable, &zEntry, &zErr);
    if( rc ) goto done;
    if( zEntry==0 ){
      zBroken = sqlite3_mprintf("kalam table %s is not in its store %s: the "
          "store was removed or replaced", zTable, pDb->pStore->zPath);
    }else if( tableCatalogCf(zTable, zEntry, &zCf, &zBroken)==SQLITE_OK ){
      pCf = kalamStoreCfFind(pDb->pStore, zCf);
      if( pCf==0 ){
        zBroken = sqlite3_mprintf("the data of kalam table %s (column family "
            "%s) is missing from its store", zTable, zCf);
      }
    }
    if( pCf==0 && zBroken==0 ){ rc = SQLITE_NOMEM; goto done; }
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
  pTab->nRowEst = pCf ? tableRowEstimate(pDb, pCf) : 0;
  pCf = 0;
  pSchema = 0;
  zBroken = 0;
  *ppVtab = &pTab->base;
  if( !bCreate && pTab->pCf && pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    /* Rows that expired while the database was closed go on open. */
    sqlite3_int64 nGone = 0;
    rc = kalamStreamExpire(pDb, pTab->pCf, pTab->pSchema->nTtlSeconds, 0,
                           &nGone, &zErr);
    if( rc ){
      *ppVtab = 0;
      tableDisconnect(&pTab->base);
      pTab = 0;
      goto done;
    }
  }

done:
  if( rc && bCreatedCf && pCf ){
    /* A failed CREATE leaves nothing behind. */
    char *zIgnore = 0;
    kalamStoreCfDrop(pDb->pStore, pCf, &zIgnore);
    sqlite3_free(zIgnore);
    zIgnore = 0;
    if( zEntry ) kalamCatalogDelete(pDb->pStore, zTable, &zIgnore);
    sqlite3_free(zIgnore);
  }
  if( pCf ) kalamStoreCfRelease(pDb->pStore, pCf);
  kalamSchemaFree(pSchema);
  sqlite3_free(zDeclare);
  sqlite3_free(zEntry);
  sqlite3_free(zCf);
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
  cursorFree(pTab->pSpare);
  kalamStoreCfRelease(pTab->pDb->pStore, pTab->pCf);
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
  KalamStore *pStore = pTab->pDb->pStore;
  const char *zTable = pTab->pSchema->zTable;
  char *zErr = 0, *zEntry = 0;
  int rc = SQLITE_OK;

  if( pTab->pConn->bLocked ){
    tableSetError(pTab, sqlite3_mprintf("cannot drop kalam table %s: this "
        "connection is locked by kalam_lock_user()", zTable));
    return SQLITE_AUTH;
  }
  if( pTab->zBroken ){
    /* Nothing usable is left: the damaged entry goes, whatever it held. */
    rc = kalamCatalogDelete(pStore, zTable, &zErr);
    if( rc ){
      tableSetError(pTab, zErr);
      return rc;
    }
    return tableDisconnect(pVtab);
  }
  if( sqlite3_get_autocommit(pTab->db) ){
    rc = kalamStoreCfDrop(pStore, pTab->pCf, &zErr);
    if( rc==SQLITE_OK ) rc = kalamCatalogDelete(pStore, zTable, &zErr);
  }else{
    rc = kalamCatalogGet(pStore, zTable, &zEntry, &zErr);
    if( rc==SQLITE_OK && zEntry && !tableEntryPending(zEntry) ){
      size_t n = strlen(zEntry);
      char *zNew = sqlite3_mprintf("%.*s,\"pending\":%lld}", (int)(n - 1),
                                   zEntry, pTab->pConn->iToken);
      if( zNew==0 ){
        rc = SQLITE_NOMEM;
      }else{
        kalamCatalogMarkPending(pStore);
        rc = kalamCatalogPut(pStore, zTable, zNew, &zErr);
        sqlite3_free(zNew);
      }
    }
    sqlite3_free(zEntry);
  }
  if( rc ){
    tableSetError(pTab, zErr);
    return rc;
  }
  return tableDisconnect(pVtab);
}

/* ALTER TABLE ... RENAME TO: the catalog entry moves to the new name. */
static int tableRename(sqlite3_vtab *pVtab, const char *zNew){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamStore *pStore = pTab->pDb->pStore;
  char *zEntry = 0, *zErr = 0, *zOut = 0, *zName = 0;
  cJSON *pEntry = 0;
  int rc;

  if( pTab->pConn->bLocked ){
    tableSetError(pTab, sqlite3_mprintf("cannot rename kalam table %s: this "
        "connection is locked by kalam_lock_user()", pTab->pSchema->zTable));
    return SQLITE_AUTH;
  }
  if( pTab->zBroken ){
    tableSetError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
    return SQLITE_CORRUPT;
  }
  rc = kalamCatalogGet(pStore, pTab->pSchema->zTable, &zEntry, &zErr);
  if( rc ) goto done;
  pEntry = zEntry ? cJSON_Parse(zEntry) : 0;
  if( pEntry==0 ){
    zErr = sqlite3_mprintf("the kalam catalog entry of table %s is damaged",
                           pTab->pSchema->zTable);
    rc = SQLITE_CORRUPT;
    goto done;
  }
  if( !cJSON_ReplaceItemInObjectCaseSensitive(pEntry, "name",
                                              cJSON_CreateString(zNew)) ){
    rc = SQLITE_NOMEM;
    goto done;
  }
  zOut = cJSON_PrintUnformatted(pEntry);
  zName = sqlite3_mprintf("%s", zNew);
  if( zOut==0 || zName==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = kalamCatalogPut(pStore, zNew, zOut, &zErr);
  if( rc==SQLITE_OK && sqlite3_stricmp(zNew, pTab->pSchema->zTable)!=0 ){
    rc = kalamCatalogDelete(pStore, pTab->pSchema->zTable, &zErr);
  }
  if( rc==SQLITE_OK ){
    sqlite3_free(pTab->pSchema->zTable);
    pTab->pSchema->zTable = zName;
    zName = 0;
  }
done:
  if( zErr ) tableSetError(pTab, zErr);
  if( zOut ) cJSON_free(zOut);
  cJSON_Delete(pEntry);
  sqlite3_free(zEntry);
  sqlite3_free(zName);
  return rc;
}

/* ------------------------------------------------------------ planning */

/* Is column iCol the row id as far as constraints and ORDER BY go? */
static int tableIsRowidCol(const KalamSchema *p, int iCol){
  return iCol<0 || (p->bIntPk && iCol==p->iPk);
}

/* Takes constraint i with operator op as a lower or upper bound, if it is
** one and no bound of that side was taken yet; a strict one sets its flag. */
static void planBound(int op, int i, int *piLo, int *piHi, int *pIdxNum,
                      int fLoStrict, int fHiStrict){
  if( op==SQLITE_INDEX_CONSTRAINT_GT || op==SQLITE_INDEX_CONSTRAINT_GE ){
    if( *piLo<0 ){
      *piLo = i;
      if( op==SQLITE_INDEX_CONSTRAINT_GT ) *pIdxNum |= fLoStrict;
    }
  }else if( op==SQLITE_INDEX_CONSTRAINT_LT || op==SQLITE_INDEX_CONSTRAINT_LE ){
    if( *piHi<0 ){
      *piHi = i;
      if( op==SQLITE_INDEX_CONSTRAINT_LT ) *pIdxNum |= fHiStrict;
    }
  }
}

static int tableBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  KalamTable *pTab = (KalamTable*)pVtab;
  const KalamSchema *pSchema = pTab->pSchema;
  int iDeleted = pSchema->eKind==KALAM_KIND_STREAM ? -2 : pSchema->nCol + 2;
  int iTs = pSchema->eKind==KALAM_KIND_STREAM ? pSchema->nCol + 1 : -2;
  int iEq = -1, iLo = -1, iHi = -1, iTsLo = -1, iTsHi = -1;
  int bPkEq = 0;
  int idxNum = 0, nArg = 0, i;
  double nRow = pTab->nRowEst<1000 ? 1000.0 : (double)pTab->nRowEst;
  double cost;

  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    int op = pC->op;
    if( pC->iColumn==iDeleted ) idxNum |= PLAN_TRASH;
    if( !pC->usable ) continue;
    if( tableIsRowidCol(pSchema, pC->iColumn) ){
      if( op==SQLITE_INDEX_CONSTRAINT_EQ || op==SQLITE_INDEX_CONSTRAINT_IS ){
        if( iEq<0 || bPkEq ){ iEq = i; bPkEq = 0; }
      }else{
        planBound(op, i, &iLo, &iHi, &idxNum, PLAN_LO_GT, PLAN_HI_LT);
      }
    }else if( pC->iColumn==pSchema->iPk && pSchema->iPk>=0
           && op==SQLITE_INDEX_CONSTRAINT_EQ ){
      /* Not IS: "k IS NULL" must find the rows with no key, which the key
      ** index does not hold. */
      if( iEq<0 ){ iEq = i; bPkEq = 1; }
    }else if( pC->iColumn==iTs ){
      if( op==SQLITE_INDEX_CONSTRAINT_EQ ){
        if( !(idxNum & PLAN_TS_EQ) ){
          iTsLo = i;
          iTsHi = -1;
          idxNum = (idxNum & ~(PLAN_TS_LO_GT|PLAN_TS_HI_LT)) | PLAN_TS_EQ;
        }
      }else if( !(idxNum & PLAN_TS_EQ) ){  /* an equality pins _ts already */
        planBound(op, i, &iTsLo, &iTsHi, &idxNum, PLAN_TS_LO_GT, PLAN_TS_HI_LT);
      }
    }
  }

  if( iEq>=0 ){
    int nIn = 1;
    idxNum &= PLAN_TRASH;
    idxNum |= PLAN_EQ | (bPkEq ? PLAN_PK : 0);
    pInfo->aConstraintUsage[iEq].argvIndex = ++nArg;
    /* An IN list on the row id is read all at once and not tested again:
    ** row ids compare as SQLite compares them. A key's IN list is left to
    ** SQLite one value at a time, and tested again, because the key index
    ** matches by kalam's conversion rules, which are wider than SQLite's
    ** comparison (a TIMESTAMP key takes ISO text). */
    if( !bPkEq && sqlite3_vtab_in(pInfo, iEq, -1) ){
      sqlite3_vtab_in(pInfo, iEq, 1);
      pInfo->aConstraintUsage[iEq].omit = 1;
      idxNum |= PLAN_IN;
      nIn = 10;
    }
    cost = (bPkEq ? 20.0 : 10.0) * nIn;
    pInfo->estimatedRows = nIn;
    if( !(idxNum & PLAN_IN) ) pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  }else{
    double nScan = nRow;
    if( iLo>=0 ){
      idxNum |= PLAN_LO;
      pInfo->aConstraintUsage[iLo].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iHi>=0 ){
      idxNum |= PLAN_HI;
      pInfo->aConstraintUsage[iHi].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iTsLo>=0 ){
      idxNum |= PLAN_TS_LO;
      pInfo->aConstraintUsage[iTsLo].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iTsHi>=0 ){
      idxNum |= PLAN_TS_HI;
      pInfo->aConstraintUsage[iTsHi].argvIndex = ++nArg;
      nScan /= 4;
    }
    idxNum &= ~(iLo<0 ? PLAN_LO_GT : 0) & ~(iHi<0 ? PLAN_HI_LT : 0)
            & ~(iTsLo<0 ? PLAN_TS_LO_GT : 0) & ~(iTsHi<0 ? PLAN_TS_HI_LT : 0);
    if( idxNum & PLAN_TS_EQ ) nScan /= 64;
    cost = nScan * 10.0 + 100.0;
    pInfo->estimatedRows = (sqlite3_int64)(nScan<1 ? 1 : nScan);
  }

  /* Rows come in row id order (time order for streams); a PK lookup of an
  ** IN list comes in key order instead, so that one cannot promise it. */
  if( pInfo->nOrderBy==1
   && (tableIsRowidCol(pSchema, pInfo->aOrderBy[0].iColumn)
       || pInfo->aOrderBy[0].iColumn==iTs)
   && !((idxNum & PLAN_PK) && (idxNum & PLAN_IN)) ){
    if( pInfo->aOrderBy[0].desc ) idxNum |= PLAN_DESC;
    pInfo->orderByConsumed = 1;
  }

  /* A plan that sees the _deleted term must win over any plan that does
  ** not: SQLite plans an OR of row id terms as a union of single-term
  ** plans, and those calls never show kalam the _deleted term beside the
  ** OR, so they would hide the trash the query asks for. */
  if( idxNum & PLAN_TRASH ) cost /= 1e9;

  pInfo->idxNum = idxNum;
  pInfo->estimatedCost = cost;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ cursors */

/* A prepared statement that runs once per request (a lookup by id) opens
** and closes a cursor each time; the table keeps the last closed cursor,
** with its row and row id arrays, for the next xOpen. */
static int tableOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamCursor *pCur = pTab->pSpare;
  if( pCur ){
    KalamRow row = pCur->row;
    sqlite3_int64 *aRowid = pCur->aRowid;
    int nRowidAlloc = pCur->nRowidAlloc;
    pTab->pSpare = 0;
    memset(pCur, 0, sizeof(*pCur));
    pCur->row = row;
    pCur->aRowid = aRowid;
    pCur->nRowidAlloc = nRowidAlloc;
  }else{
    pCur = sqlite3_malloc(sizeof(*pCur));
    if( pCur==0 ) return SQLITE_NOMEM;
    memset(pCur, 0, sizeof(*pCur));
  }
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

/* Drops the value a lookup fetched. */
static void cursorDropGot(KalamCursor *pCur){
  if( pCur->pPin ) rocksdb_pinnableslice_destroy(pCur->pPin);
  if( pCur->zGot ) rocksdb_free(pCur->zGot);
  pCur->pPin = 0;
  pCur->zGot = 0;
}

static void cursorReset(KalamCursor *pCur){
  kalamIterDestroy(pCur->pIter);
  if( pCur->pRo ) rocksdb_readoptions_destroy(pCur->pRo);
  cursorDropGot(pCur);
  pCur->pIter = 0;
  pCur->pRo = 0;
  pCur->nRowid = 0;
  pCur->iNext = 0;
  pCur->bEof = 1;
  pCur->bParsed = 0;
}

static void cursorFree(KalamCursor *pCur){
  if( pCur==0 ) return;
  cursorReset(pCur);
  kalamRowFree(&pCur->row);
  sqlite3_free(pCur->aRowid);
  sqlite3_free(pCur);
}

static int tableClose(sqlite3_vtab_cursor *cur){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  cursorReset(pCur);
  if( pTab->pSpare==0 ){
    pTab->pSpare = pCur;
  }else{
    cursorFree(pCur);
  }
  return SQLITE_OK;
}

/* Is the row with this value visible to the cursor's query? */
static int cursorVisible(KalamCursor *pCur, sqlite3_int64 iRowid,
                         const char *zVal, size_t nVal){
  if( iRowid < pCur->iMinRowid ) return 0;
  if( (pCur->idxNum & PLAN_TRASH)==0 && kalamRowIsDeleted(zVal, nVal) ){
    return 0;
  }
  return 1;
}

/* Moves a range cursor to the next visible row, starting with the one the
** iterator is on. */
static int cursorScan(KalamCursor *pCur){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  int bDesc = (pCur->idxNum & PLAN_DESC)!=0;
  char *zErr = 0;
  pCur->bParsed = 0;
  while( kalamIterValid(pCur->pIter) ){
    size_t nKey, nVal;
    const char *zKey = kalamIterKey(pCur->pIter, &nKey);
    const char *zVal;
    sqlite3_int64 iRowid;
    /* Bounds are checked here too, for keys that are not row keys. */
    if( bDesc ? kalamKeyCmp(zKey, nKey, pCur->aLo, pCur->nLo)<0
              : kalamKeyCmp(zKey, nKey, pCur->aHi, pCur->nHi)>=0 ){
      break;
    }
    pTab->pConn->nRowsRead++;
    if( !(bDesc ? kalamKeyCmp(zKey, nKey, pCur->aHi, pCur->nHi)>=0
                : kalamKeyCmp(zKey, nKey, pCur->aLo, pCur->nLo)<0)
     && kalamKeyRowDecode(zKey, nKey, pCur->nPrefix, &iRowid) ){
      zVal = kalamIterValue(pCur->pIter, &nVal);
      if( cursorVisible(pCur, iRowid, zVal, nVal) ){
        pCur->iRowid = iRowid;
        pCur->zVal = zVal;
        pCur->nVal = nVal;
        pCur->bEof = 0;
        return SQLITE_OK;
      }
    }
    kalamIterNext(pCur->pIter);
  }
  pCur->bEof = 1;
  kalamIterError(pCur->pIter, &zErr);
  if( zErr ){
    tableSetError(pTab, kalamStoreError("kalam scan failed", zErr));
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Moves a lookup cursor to the next row id of its list that exists. */
static int cursorLookup(KalamCursor *pCur){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  pCur->bParsed = 0;
  while( pCur->iNext < pCur->nRowid ){
    char aKey[KALAM_ROWKEY_MAX];
    sqlite3_int64 iRowid = pCur->aRowid[pCur->iNext++];
    int nKey = kalamKeyRow(aKey, pCur->aPrefix, pCur->nPrefix, iRowid);
    size_t nVal = 0;
    const char *zVal = 0;
    char *zErr = 0;
    int rc;
    cursorDropGot(pCur);
    rc = kalamTxnGetPinned(pTab->pDb, pTab->pCf, aKey, (size_t)nKey, &zVal,
                           &nVal, &pCur->pPin, &pCur->zGot, &zErr);
    if( rc ){
      tableSetError(pTab, zErr);
      return rc;
    }
    if( zVal ) pTab->pConn->nRowsRead++;
    if( zVal && cursorVisible(pCur, iRowid, zVal, nVal) ){
      pCur->iRowid = iRowid;
      pCur->zVal = zVal;
      pCur->nVal = nVal;
      pCur->bEof = 0;
      return SQLITE_OK;
    }
  }
  pCur->bEof = 1;
  return SQLITE_OK;
}

/* The value of a row id constraint as a row id, if it can equal one. */
static int cursorRowidValue(sqlite3_value *pVal, sqlite3_int64 *piOut){
  double r;
  switch( sqlite3_value_type(pVal) ){
    case SQLITE_INTEGER:
      *piOut = sqlite3_value_int64(pVal);
      return 1;
    case SQLITE_FLOAT:
      r = sqlite3_value_double(pVal);
      break;
    case SQLITE_TEXT: {
      const char *z = (const char*)sqlite3_value_text(pVal);
      int n = sqlite3_value_bytes(pVal);
      if( z==0 ) return 0;
      if( kalamParseInt(z, n, piOut) ) return 1;
      if( !kalamParseDouble(z, n, &r) ) return 0;
      break;
    }
    default:
      return 0;
  }
  if( r!=floor(r) || r<-9223372036854775808.0 || r>=9223372036854775808.0 ){
    return 0;
  }
  *piOut = (sqlite3_int64)r;
  return 1;
}

/* A bound value as a number, for range pushdown. Returns 0 when the value
** is not a number: then the range is not narrowed and SQLite's own test of
** the constraint decides. */
static int cursorBoundValue(sqlite3_value *pVal, double *prOut){
  switch( sqlite3_value_type(pVal) ){
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
      *prOut = sqlite3_value_double(pVal);
      return 1;
    default:
      return 0;
  }
}

/* Narrows [*piLo, *piHi] by a bound on the row id. */
static void cursorNarrow(sqlite3_value *pVal, int bLower, int bStrict,
                         sqlite3_int64 *piLo, sqlite3_int64 *piHi){
  sqlite3_int64 v;
  double r;
  if( sqlite3_value_type(pVal)==SQLITE_INTEGER ){
    v = sqlite3_value_int64(pVal);
    if( bLower ){
      if( bStrict ){
        if( v==INT64_MAX ){ *piLo = INT64_MAX; *piHi = INT64_MIN; return; }
        v++;
      }
      if( v>*piLo ) *piLo = v;
    }else{
      if( bStrict ){
        if( v==INT64_MIN ){ *piLo = INT64_MAX; *piHi = INT64_MIN; return; }
        v--;
      }
      if( v<*piHi ) *piHi = v;
    }
    return;
  }
  if( !cursorBoundValue(pVal, &r) ) return;
  if( bLower ){
    r = ceil(r);   /* rowid > 2.5 and rowid >= 2.5 both start at 3 */
    if( r>=9223372036854775807.0 ) return;
    if( r>(double)*piLo ) *piLo = (sqlite3_int64)r;
  }else{
    r = floor(r);
    if( r<=-9223372036854775807.0 ) return;
    if( r<(double)*piHi ) *piHi = (sqlite3_int64)r;
  }
}

/* Narrows [*piLo, *piHi] by a bound on _ts (milliseconds): the snowflake
** row id starts with its time, so a time range is a row id range. */
static void cursorNarrowTs(sqlite3_value *pVal, int bLower, int bStrict,
                           sqlite3_int64 *piLo, sqlite3_int64 *piHi){
  double r;
  sqlite3_int64 ms, v;
  if( !cursorBoundValue(pVal, &r) ) return;
  if( r > 4e15 || r < -4e15 ) return;
  if( bLower ){
    ms = (sqlite3_int64)ceil(r);
    if( bStrict && (double)ms==r ) ms++;
    v = kalamSnowflakeMin(ms);
    if( v>*piLo ) *piLo = v;
  }else{
    ms = (sqlite3_int64)floor(r);
    if( bStrict && (double)ms==r ) ms--;
    v = kalamSnowflakeMin(ms + 1) - 1;
    if( v<*piHi ) *piHi = v;
  }
}

/* Can the key index answer "key = pVal"? Not when the key column has TEXT
** affinity and the value is a number: SQLite may then compare with numeric
** affinity (the right-hand side a CAST or an INTEGER column), so that '07',
** '7' and '7.0' all equal 7, while the index holds each text as it is. */
static int tableKeyNeedsScan(const KalamSchema *pSchema, sqlite3_value *pVal){
  int eCol = pSchema->aCol[pSchema->iPk].eType;
  int eVal = sqlite3_value_type(pVal);
  return (eCol==KALAM_TYPE_TEXT || eCol==KALAM_TYPE_JSON)
      && (eVal==SQLITE_INTEGER || eVal==SQLITE_FLOAT);
}

static int rowidCmp(const void *a, const void *b){
  sqlite3_int64 x = *(const sqlite3_int64*)a, y = *(const sqlite3_int64*)b;
  return x<y ? -1 : (x>y);
}

/* Adds the row id an EQ value names (directly, or through the key index
** with PLAN_PK) to the cursor's lookup list. */
static int cursorAddEq(KalamCursor *pCur, sqlite3_value *pVal){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  sqlite3_int64 iRowid;
  if( pCur->idxNum & PLAN_PK ){
    KalamValue v;
    KalamBuf key;
    char *zErr = 0, *zGot = 0;
    size_t nGot = 0;
    int rc;
    if( sqlite3_value_type(pVal)==SQLITE_NULL ) return SQLITE_OK;
    rc = kalamValueConvert(pTab->pSchema, pTab->pSchema->iPk, pVal, &v, &zErr);
    sqlite3_free(zErr);
    zErr = 0;
    if( rc==SQLITE_NOMEM ) return rc;
    if( rc ) return SQLITE_OK; /* cannot equal any stored key */
    kalamBufInit(&key);
    kalamKeyIndex(&key, pCur->aPrefix, pCur->nPrefix, &v);
    kalamValueClear(&v);
    if( key.oom ) return SQLITE_NOMEM;
    rc = kalamTxnGet(pTab->pDb, pTab->pCf, key.z, (size_t)key.n, &zGot,
                     &nGot, &zErr);
    kalamBufFree(&key);
    if( rc ){
      tableSetError(pTab, zErr);
      return rc;
    }
    if( zGot==0 ) return SQLITE_OK;
    if( !kalamKeyRowDecode(zGot, nGot, 0, &iRowid) ){
      rocksdb_free(zGot);
      tableSetError(pTab, sqlite3_mprintf("corrupt key index entry in kalam "
          "table %s", pTab->pSchema->zTable));
      return SQLITE_CORRUPT;
    }
    rocksdb_free(zGot);
  }else if( !cursorRowidValue(pVal, &iRowid) ){
    return SQLITE_OK;
  }
  if( pCur->nRowid >= pCur->nRowidAlloc ){
    int nNew = pCur->nRowidAlloc ? pCur->nRowidAlloc*2 : 8;
    sqlite3_int64 *aNew = sqlite3_realloc64(pCur->aRowid,
                                            sizeof(sqlite3_int64)*nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    pCur->aRowid = aNew;
    pCur->nRowidAlloc = nNew;
  }
  pCur->aRowid[pCur->nRowid++] = iRowid;
  return SQLITE_OK;
}

static int tableFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  int iArg = 0;
  int rc;
  (void)idxStr; (void)argc;

  cursorReset(pCur);
  pCur->idxNum = idxNum;
  if( pTab->zBroken ){
    tableSetError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
    return SQLITE_CORRUPT;
  }
  rc = kalamTableOwnerPrefix(pTab, pCur->aPrefix, &pCur->nPrefix);
  if( rc ) return rc;
  pCur->iMinRowid = INT64_MIN;
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    pCur->iMinRowid = kalamSnowflakeMin(kalamNowMs()
                                        - pTab->pSchema->nTtlSeconds*1000);
  }

  if( (idxNum & PLAN_PK) && tableKeyNeedsScan(pTab->pSchema, argv[0]) ){
    /* Not a lookup after all: scan, and let SQLite's test decide. */
    idxNum &= ~(PLAN_EQ|PLAN_PK|PLAN_IN);
    pCur->idxNum = idxNum;
    iArg = 1;
  }
  if( idxNum & PLAN_EQ ){
    int i, j;
    sqlite3_value *pList = argv[iArg++];
    sqlite3_value *pVal = pList;
    if( idxNum & PLAN_IN ){
      for(rc=sqlite3_vtab_in_first(pList, &pVal); rc==SQLITE_OK && pVal;
          rc=sqlite3_vtab_in_next(pList, &pVal)){
        rc = cursorAddEq(pCur, pVal);
        if( rc ) return rc;
      }
      if( rc!=SQLITE_OK && rc!=SQLITE_DONE ) return rc;
    }else{
      rc = cursorAddEq(pCur, pVal);
      if( rc ) return rc;
    }
    /* Row id order, each row once. */
    if( pCur->nRowid>1 ){
      qsort(pCur->aRowid, (size_t)pCur->nRowid, sizeof(sqlite3_int64),
            rowidCmp);
    }
    for(i=j=0; i<pCur->nRowid; i++){
      if( j==0 || pCur->aRowid[j-1]!=pCur->aRowid[i] ){
        pCur->aRowid[j++] = pCur->aRowid[i];
      }
    }
    pCur->nRowid = j;
    if( idxNum & PLAN_DESC ){
      for(i=0; i<j/2; i++){
        sqlite3_int64 t = pCur->aRowid[i];
        pCur->aRowid[i] = pCur->aRowid[j-1-i];
        pCur->aRowid[j-1-i] = t;
      }
    }
    return cursorLookup(pCur);
  }else{
    sqlite3_int64 iLo = INT64_MIN, iHi = INT64_MAX;
    if( idxNum & PLAN_LO ){
      cursorNarrow(argv[iArg++], 1, (idxNum & PLAN_LO_GT)!=0, &iLo, &iHi);
    }
    if( idxNum & PLAN_HI ){
      cursorNarrow(argv[iArg++], 0, (idxNum & PLAN_HI_LT)!=0, &iLo, &iHi);
    }
    if( idxNum & PLAN_TS_EQ ){
      cursorNarrowTs(argv[iArg], 1, 0, &iLo, &iHi);
      cursorNarrowTs(argv[iArg++], 0, 0, &iLo, &iHi);
    }else if( idxNum & PLAN_TS_LO ){
      cursorNarrowTs(argv[iArg++], 1, (idxNum & PLAN_TS_LO_GT)!=0, &iLo, &iHi);
    }
    if( idxNum & PLAN_TS_HI ){
      cursorNarrowTs(argv[iArg++], 0, (idxNum & PLAN_TS_HI_LT)!=0, &iLo, &iHi);
    }
    if( pCur->iMinRowid > iLo ) iLo = pCur->iMinRowid;
    if( iLo > iHi ){
      pCur->bEof = 1;
      return SQLITE_OK;
    }
    pCur->nLo = kalamKeyRow(pCur->aLo, pCur->aPrefix, pCur->nPrefix, iLo);
    if( iHi==INT64_MAX ){
      /* Past every row key of this owner: the tag after KALAM_TAG_ROW. */
      memcpy(pCur->aHi, pCur->aPrefix, (size_t)pCur->nPrefix);
      pCur->aHi[pCur->nPrefix] = KALAM_TAG_ROW + 1;
      pCur->nHi = pCur->nPrefix + 1;
    }else{
      pCur->nHi = kalamKeyRow(pCur->aHi, pCur->aPrefix, pCur->nPrefix,
                              iHi + 1);
    }
    pCur->pRo = rocksdb_readoptions_create();
    if( pCur->pRo==0 ) return SQLITE_NOMEM;
    if( (idxNum & (PLAN_LO|PLAN_HI|PLAN_TS_LO|PLAN_TS_HI))==0
     && pCur->nPrefix==0 && pTab->nRowEst > KALAM_SCAN_NOCACHE_ROWS ){
      /* A full scan of a large table would only push the blocks that
      ** point lookups need out of the cache. It reads the table files
      ** front to back: reading ahead 1 MB at a time took a third off a
      ** million-row scan, against RocksDB's own readahead, which starts at
      ** 8 kB (docs/performance.md). */
      rocksdb_readoptions_set_fill_cache(pCur->pRo, 0);
      rocksdb_readoptions_set_readahead_size(pCur->pRo, KALAM_SCAN_READAHEAD);
    }
    rocksdb_readoptions_set_iterate_lower_bound(pCur->pRo, pCur->aLo,
                                                (size_t)pCur->nLo);
    rocksdb_readoptions_set_iterate_upper_bound(pCur->pRo, pCur->aHi,
                                                (size_t)pCur->nHi);
    pCur->pIter = kalamTxnIterator(pTab->pDb, pTab->pCf, pCur->pRo,
                                   pCur->aLo, pCur->nLo, pCur->aHi, pCur->nHi);
    if( pCur->pIter==0 ) return SQLITE_NOMEM;
    if( idxNum & PLAN_DESC ){
      kalamIterSeekForPrev(pCur->pIter, pCur->aHi, (size_t)pCur->nHi);
    }else{
      kalamIterSeek(pCur->pIter, pCur->aLo, (size_t)pCur->nLo);
    }
    return cursorScan(pCur);
  }
}

static int tableNext(sqlite3_vtab_cursor *cur){
  KalamCursor *pCur = (KalamCursor*)cur;
  if( pCur->pIter ){
    kalamIterNext(pCur->pIter);
    return cursorScan(pCur);
  }
  return cursorLookup(pCur);
}

static int tableEof(sqlite3_vtab_cursor *cur){
  return ((KalamCursor*)cur)->bEof;
}

/* Reports the cursor's row as damaged, from xColumn. */
static int cursorCorrupt(KalamCursor *pCur, sqlite3_context *ctx, int rc){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  char *zErr = kalamRowCorruptMessage(pTab->pSchema, pCur->iRowid);
  sqlite3_result_error(ctx, zErr ? zErr : "corrupt row", -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(zErr);
  return rc;
}

static int tableColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int iCol){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  const KalamSchema *pSchema = pTab->pSchema;
  int rc;

  if( iCol<pSchema->nCol && pSchema->bIntPk && iCol==pSchema->iPk ){
    sqlite3_result_int64(ctx, pCur->iRowid);
    return SQLITE_OK;
  }
  if( iCol==pSchema->nCol+1 && pSchema->eKind==KALAM_KIND_STREAM ){
    sqlite3_result_int64(ctx, kalamSnowflakeMs(pCur->iRowid));
    return SQLITE_OK;
  }
  /* In an UPDATE, columns the statement does not set are not needed:
  ** xUpdate copies their stored JSON unchanged, and system columns it does
  ** not set are not writes to them. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  if( !pCur->bParsed ){
    pCur->row.iRowid = pCur->iRowid;
    rc = kalamRowOpen(&pCur->row, pSchema, pCur->zVal, pCur->nVal);
    if( rc ){
      return cursorCorrupt(pCur, ctx, rc);
    }
    pCur->bParsed = 1;
  }
  if( iCol<pSchema->nCol ){
    return kalamRowResult(&pCur->row, pSchema, iCol, ctx);
  }
  {
    sqlite3_int64 v;
    rc = kalamRowSystem(&pCur->row, pSchema, iCol - pSchema->nCol, &v);
    if( rc ){
      return cursorCorrupt(pCur, ctx, rc);
    }
    sqlite3_result_int64(ctx, v);
  }
  return SQLITE_OK;
}

static int tableRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((KalamCursor*)cur)->iRowid;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ transactions */

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

/* deleted_retention_hours: soft-deleted rows older than the retention are
** purged by the table's writers, at most every quarter of the retention
** (and at least hourly), starting with the first write after open. Every
** owner's rows: the retention is the table's policy, not a user's. */
static int tableRetention(KalamTable *pTab, char **pzErr){
  sqlite3_int64 nHours = pTab->pSchema->nRetentionHours;
  sqlite3_int64 now = kalamNowMs(), nGone = 0, nEvery;
  int rc;
  if( nHours<=0 || now < pTab->nNextPurge ) return SQLITE_OK;
  rc = kalamPurgeRange(pTab->pDb, pTab->pCf, "",
                       pTab->pSchema->eKind==KALAM_KIND_USER ? -1 : 0,
                       now - nHours*3600000, &nGone, pzErr);
  nEvery = nHours*900000;
  if( nEvery > 3600000 ) nEvery = 3600000;
  pTab->nNextPurge = now + nEvery;
  return rc;
}

static int tableBegin(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamDb *pDb = pTab->pDb;
  char *zErr = 0;
  int rc;
  if( pTab->zBroken ){
    tableSetError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
    return SQLITE_CORRUPT;
  }
  rc = tableRetention(pTab, &zErr);
  if( rc ){
    tableSetError(pTab, zErr);
    return rc;
  }
  if( pDb->bInTxn ) return SQLITE_OK;
  rc = kalamCatalogResolvePending(pDb, &zErr);
  if( rc==SQLITE_OK ) rc = tableSynchronous(pTab, &pDb->bSync);
  if( rc==SQLITE_OK ) rc = kalamTxnBegin(pDb);
  if( zErr ) tableSetError(pTab, zErr);
  return rc;
}

static int tableSync(sqlite3_vtab *pVtab){
  KalamTable *pTab = (KalamTable*)pVtab;
  char *zErr = 0;
  int rc = kalamTxnSync(pTab->pDb, &zErr);
  if( zErr ) tableSetError(pTab, zErr);
  return rc;
}

static int tableCommit(sqlite3_vtab *pVtab){
  kalamTxnEnd(((KalamTable*)pVtab)->pDb);
  return SQLITE_OK;
}

static int tableRollback(sqlite3_vtab *pVtab){
  kalamTxnEnd(((KalamTable*)pVtab)->pDb);
  return SQLITE_OK;
}

static int tableSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  return kalamTxnSavepoint(((KalamTable*)pVtab)->pDb, iSavepoint);
}

static int tableRelease(sqlite3_vtab *pVtab, int iSavepoint){
  return kalamTxnRelease(((KalamTable*)pVtab)->pDb, iSavepoint);
}

static int tableRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  KalamTable *pTab = (KalamTable*)pVtab;
  char *zErr = 0;
  int rc = kalamTxnRollbackTo(pTab->pDb, iSavepoint, &zErr);
  if( zErr ) tableSetError(pTab, zErr);
  return rc;
}

int kalamTableUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                     sqlite3_int64 *pRowid);

static sqlite3_module tableModule = {
  2,                  /* iVersion: 2 adds the savepoint methods */
  tableCreate,        /* xCreate: CREATE VIRTUAL TABLE */
  tableConnect,       /* xConnect: reattach from the catalog */
  tableBestIndex,     /* xBestIndex: the plan encoding above */
  tableDisconnect,    /* xDisconnect */
  tableDestroy,       /* xDestroy: DROP TABLE */
  tableOpen,          /* xOpen */
  tableClose,         /* xClose */
  tableFilter,        /* xFilter */
  tableNext,          /* xNext */
  tableEof,           /* xEof */
  tableColumn,        /* xColumn */
  tableRowid,         /* xRowid */
  kalamTableUpdate,   /* xUpdate: update.c */
  tableBegin,         /* xBegin */
  tableSync,          /* xSync: the batch is written here */
  tableCommit,        /* xCommit */
  tableRollback,      /* xRollback */
  0,                  /* xFindFunction */
  tableRename,        /* xRename */
  tableSavepoint,     /* xSavepoint */
  tableRelease,       /* xRelease */
  tableRollbackTo,    /* xRollbackTo */
  0                   /* xShadowName */
};

int kalamTableModulesRegister(sqlite3 *db, KalamConn *pConn){
  static const char *azName[] = {"kalam_shared", "kalam_user", "kalam_stream"};
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<3; i++){
    kalamConnRef(pConn);
    rc = sqlite3_create_module_v2(db, azName[i], &tableModule, pConn,
                                  kalamConnUnref);
  }
  return rc;
}
