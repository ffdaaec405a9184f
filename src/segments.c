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

/* The columns: SEG_TEXT of text, then SEG_INT integers. */
#define SEG_DECL "CREATE TABLE x(schema TEXT, name TEXT, user TEXT, " \
    "path TEXT, rows INTEGER, min_seq INTEGER, max_seq INTEGER, bytes INTEGER)"
#define SEG_TEXT 4      /* schema, name, user (or NULL), path */
#define SEG_INT  4      /* rows, min_seq, max_seq, bytes */

/* What segCollectEntry needs. */
typedef struct SegCollect SegCollect;
struct SegCollect {
  sqlite3_vtab_cursor *pCur;
  KalamDb *pDb;
  const char *zLockedUser;   /* only this user's files, or NULL for all */
  const KalamCatalogEntry *pEntry;  /* the table segCollectUser lists */
  KalamCf *pCf;
};

/* Appends the segments of one owner of one table to the cursor's rows. */
static int segCollectOwner(SegCollect *p, const KalamCatalogEntry *pEntry,
                           KalamCf *pCf, const char *aPrefix, int nPrefix,
                           char **pzErr){
  KalamSegment *aSeg = 0;
  char *zUser = 0;
  int nSeg = 0, i, rc;
  rc = kalamSegmentList(0, p->pDb->pStore, pCf, aPrefix, nPrefix,
                        pEntry->zName, &aSeg, &nSeg, pzErr);
  if( rc==SQLITE_OK && nSeg>0 && nPrefix>0 ){
    zUser = sqlite3_mprintf("%.*s", nPrefix - 1, aPrefix + 1);
    if( zUser==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<nSeg; i++){
    const char *azText[SEG_TEXT];
    sqlite3_int64 aInt[SEG_INT];
    azText[0] = p->pDb->zSchema;
    azText[1] = pEntry->zName ? pEntry->zName : "";
    azText[2] = zUser;
    azText[3] = aSeg[i].zPath ? aSeg[i].zPath : "";
    aInt[0] = aSeg[i].nRows;
    aInt[1] = aSeg[i].iMinSeq;
    aInt[2] = aSeg[i].iMaxSeq;
    aInt[3] = aSeg[i].nBytes;
    rc = kalamTvfRowsAdd(p->pCur, azText, aInt);
  }
  sqlite3_free(zUser);
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

/* The rows of one database (kalamTvfRowsEachDb): the segments of its
** tables. A memory store has no cold files. */
static int segCollectDb(sqlite3_vtab_cursor *pCur, KalamDb *pDb,
                        char **pzErr){
  KalamTvf *pTab = (KalamTvf*)pCur->pVtab;
  SegCollect collect;
  int rc;
  if( kalamStoreIsMemory(pDb->pStore) ) return SQLITE_OK;
  memset(&collect, 0, sizeof(collect));
  collect.pCur = pCur;
  collect.pDb = pDb;
  collect.zLockedUser = pTab->pConn->bLocked ? pTab->pConn->zUser : 0;
  rc = kalamCatalogResolvePending(pDb, pzErr);
  if( rc==SQLITE_OK ){
    rc = kalamCatalogForEach(pDb->pStore, segCollectEntry, &collect, pzErr);
  }
  return rc;
}

static int segConnect(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  return kalamTvfRowsConnect(db, pAux, SEG_DECL, SEG_TEXT, SEG_INT,
                             segCollectDb, ppVtab);
}

static sqlite3_module segModule =
    KALAM_TVF_ROWS_MODULE(segConnect, kalamTvfRowsBestIndex,
                          kalamTvfRowsEachDb);

/* Registers kalam_segments on db, holding a reference on pConn. */
int kalamSegmentsRegister(sqlite3 *db, KalamConn *pConn){
  return kalamTvfRegister(db, pConn, "kalam_segments", &segModule);
}
