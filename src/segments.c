/*
** segments.c — kalam_segments, an eponymous read-only table listing the
** cold files of every kalam table the connection can see (segment.c has
** their records):
**
**   SELECT schema, name, user, path, rows, min_seq, max_seq, bytes
**   FROM kalam_segments;
**
** user is NULL for kalam_shared tables. On a connection locked to a user
** (kalam_lock_user) only that user's files of kalam_user tables are
** listed, as only its rows are readable. path is the file's full path,
** as any Parquet reader takes it. Filled in xFilter from the newest
** commit's records.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3


typedef struct SegRow SegRow;
struct SegRow {
  char *azCol[4];         /* schema, name, user (or NULL), path */
  sqlite3_int64 aInt[4];  /* rows, min_seq, max_seq, bytes */
};

typedef struct SegCursor SegCursor;
struct SegCursor {
  sqlite3_vtab_cursor base; /* must be first */
  SegRow *aRow;
  int nRow;
  int iRow;
};

static int segConnect(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  int rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = kalamTvfConnect(db, pAux, "CREATE TABLE x(schema TEXT, name TEXT, "
      "user TEXT, path TEXT, rows INTEGER, min_seq INTEGER, max_seq INTEGER, "
      "bytes INTEGER)", ppVtab);
  if( rc==SQLITE_OK ) sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  return rc;
}

static int segBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  pInfo->estimatedCost = 1000;
  pInfo->estimatedRows = 100;
  return SQLITE_OK;
}

static int segOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  SegCursor *pCur = sqlite3_malloc(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void segReset(SegCursor *pCur){
  int i, j;
  for(i=0; i<pCur->nRow; i++){
    for(j=0; j<4; j++) sqlite3_free(pCur->aRow[i].azCol[j]);
  }
  sqlite3_free(pCur->aRow);
  pCur->aRow = 0;
  pCur->nRow = 0;
  pCur->iRow = 0;
}

static int segClose(sqlite3_vtab_cursor *cur){
  segReset((SegCursor*)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* What segCollectEntry needs. */
typedef struct SegCollect SegCollect;
struct SegCollect {
  SegCursor *pCur;
  KalamDb *pDb;
  const char *zLockedUser;   /* only this user's files, or NULL for all */
  const KalamCatalogEntry *pEntry;  /* the table segCollectUser lists */
  KalamCf *pCf;
};

/* Appends the segments of one owner of one table to the cursor's rows. */
static int segCollectOwner(SegCollect *p, const KalamCatalogEntry *pEntry,
                           KalamCf *pCf, const char *aPrefix, int nPrefix,
                           char **pzErr){
  SegCursor *pCur = p->pCur;
  KalamSegment *aSeg = 0;
  int nSeg = 0, i, rc;
  rc = kalamSegmentList(0, p->pDb->pStore, pCf, aPrefix, nPrefix,
                        pEntry->zName, &aSeg, &nSeg, pzErr);
  for(i=0; rc==SQLITE_OK && i<nSeg; i++){
    SegRow *aNew, *pRow;
    aNew = sqlite3_realloc64(pCur->aRow, sizeof(SegRow)*(size_t)(pCur->nRow+1));
    if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
    pCur->aRow = aNew;
    pRow = &aNew[pCur->nRow++];
    memset(pRow, 0, sizeof(*pRow));
    pRow->azCol[0] = sqlite3_mprintf("%s", p->pDb->zSchema);
    pRow->azCol[1] = sqlite3_mprintf("%s", pEntry->zName);
    if( nPrefix>0 ){
      pRow->azCol[2] = sqlite3_mprintf("%.*s", nPrefix - 1, aPrefix + 1);
    }
    pRow->azCol[3] = sqlite3_mprintf("%s", aSeg[i].zPath);
    pRow->aInt[0] = aSeg[i].nRows;
    pRow->aInt[1] = aSeg[i].iMinSeq;
    pRow->aInt[2] = aSeg[i].iMaxSeq;
    pRow->aInt[3] = aSeg[i].nBytes;
    if( !pRow->azCol[0] || !pRow->azCol[1] || !pRow->azCol[3]
     || (nPrefix>0 && !pRow->azCol[2]) ){
      rc = SQLITE_NOMEM;
    }
  }
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}

/* kalamColdOwners' callback: one user's segments. */
static int segCollectUser(void *pArg, const char *aPrefix, int nPrefix,
                          char **pzErr){
  SegCollect *p = (SegCollect*)pArg;
  return segCollectOwner(p, p->pEntry, p->pCf, aPrefix, nPrefix, pzErr);
}

/* Appends the segments of one catalog entry's table (of each user of a
** kalam_user table). */
static int segCollectEntry(void *pArg, const KalamCatalogEntry *pEntry,
                           char **pzErr){
  SegCollect *p = (SegCollect*)pArg;
  KalamStore *pStore = p->pDb->pStore;
  KalamCf *pCf;
  int rc = SQLITE_OK;
  if( pEntry->eKind<0 || pEntry->eKind==KALAM_KIND_STREAM || pEntry->zCf==0 ){
    return SQLITE_OK;
  }
  pCf = kalamStoreCfFind(pStore, pEntry->zCf);
  if( pCf==0 ) return SQLITE_OK;
  if( pEntry->eKind==KALAM_KIND_SHARED ){
    rc = segCollectOwner(p, pEntry, pCf, "", 0, pzErr);
  }else if( p->zLockedUser ){
    char aPrefix[KALAM_MAX_PREFIX];
    int nPrefix = kalamKeyPrefix(aPrefix, p->zLockedUser);
    rc = segCollectOwner(p, pEntry, pCf, aPrefix, nPrefix, pzErr);
  }else{
    p->pEntry = pEntry;
    p->pCf = pCf;
    rc = kalamColdOwners(pStore, pCf, pEntry->zName, segCollectUser, p,
                         pzErr);
  }
  kalamStoreCfRelease(pStore, pCf);
  return rc;
}

static int segFilter(sqlite3_vtab_cursor *cur, int idxNum,
                     const char *idxStr, int argc, sqlite3_value **argv){
  SegCursor *pCur = (SegCursor*)cur;
  KalamTvf *pTab = (KalamTvf*)cur->pVtab;
  int rc = SQLITE_OK, i;
  const char *zSchema;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  segReset(pCur);
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pTab->db, i))!=0; i++){
    KalamDb *pDb = 0;
    char *zErr = 0;
    rc = kalamConnDb(pTab->pConn, zSchema, 0, &pDb, &zErr);
    if( rc==SQLITE_OK && pDb && !kalamStoreIsMemory(pDb->pStore) ){
      SegCollect collect;
      collect.pCur = pCur;
      collect.pDb = pDb;
      collect.zLockedUser = pTab->pConn->bLocked ? pTab->pConn->zUser : 0;
      rc = kalamCatalogResolvePending(pDb, &zErr);
      if( rc==SQLITE_OK ){
        rc = kalamCatalogForEach(pDb->pStore, segCollectEntry, &collect,
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

static int segNext(sqlite3_vtab_cursor *cur){
  ((SegCursor*)cur)->iRow++;
  return SQLITE_OK;
}

static int segEof(sqlite3_vtab_cursor *cur){
  SegCursor *pCur = (SegCursor*)cur;
  return pCur->iRow >= pCur->nRow;
}

static int segColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                     int iCol){
  SegCursor *pCur = (SegCursor*)cur;
  SegRow *pRow = &pCur->aRow[pCur->iRow];
  if( iCol>=4 ){
    sqlite3_result_int64(ctx, pRow->aInt[iCol - 4]);
  }else if( pRow->azCol[iCol] ){
    sqlite3_result_text(ctx, pRow->azCol[iCol], -1, SQLITE_TRANSIENT);
  }
  return SQLITE_OK;
}

static int segRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((SegCursor*)cur)->iRow + 1;
  return SQLITE_OK;
}

static sqlite3_module segModule = {
  0,                  /* iVersion */
  0,                  /* xCreate: eponymous only */
  segConnect,         /* xConnect */
  segBestIndex,       /* xBestIndex */
  kalamTvfDisconnect, /* xDisconnect */
  0,                  /* xDestroy */
  segOpen,            /* xOpen */
  segClose,           /* xClose */
  segFilter,          /* xFilter */
  segNext,            /* xNext */
  segEof,             /* xEof */
  segColumn,          /* xColumn */
  segRowid,           /* xRowid */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */
  0                   /* xShadowName */
};

/* Registers kalam_segments on db, holding a reference on pConn. */
int kalamSegmentsRegister(sqlite3 *db, KalamConn *pConn){
  kalamConnRef(pConn);
  return sqlite3_create_module_v2(db, "kalam_segments", &segModule, pConn,
                                  kalamConnUnref);
}
