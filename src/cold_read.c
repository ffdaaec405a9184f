/*
** cold_read.c — a table's rows as a connection sees them: the hot rows of
** the store merged with the rows of its cold files (segment.c, flush.c).
**
** A flush removes row keys only; key-index and index entries stay hot and
** keep naming row ids. So every read of a row by its id (the cursor's
** lookups and index scans, and every read update.c makes) goes through
** kalamRowRead: the hot row if there is one, else the row in the owner's
** newest segment whose _rowid range holds the id (its row groups are
** skipped by their _rowid statistics, and the row found by a binary
** search of the group's _rowid column, which a flush writes in order).
**
** Scans (kalamRowIter, cold_scan.c) merge the hot rows with the cold
** files' by row id. A lookup hands a cold row on as the row codec's JSON
** text, rebuilt from its columns (kalamColdEncode), so everything that
** reads rows by id reads cold ones alike.
**
** Rows removed for good (a row id moved by UPDATE, a row replaced by OR
** REPLACE or by an insert over a deleted row, kalam_purge) may still be in
** a cold file. kalamRowGone removes the hot key and, when a segment may
** hold the row id, puts a "gone" marker in the same transaction:
**
**   <owner> 'g' <row id, as in a row key>  ->  (empty)
**
** A row id with a hot row is that row; else one with a marker is no row;
** else it is the newest segment's. A flush deletes the markers of the
** rows it moves (their newest state is then in the newest file).
**
** Segments are read through the connection's view (the flush publishes
** them in the write that removes the hot rows), so a reader sees each row
** hot or cold, as of one commit.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>

SQLITE_EXTENSION_INIT3

static void coldGroupDrop(KalamColdFile *f){
  int i;
  for(i=0; i<f->nChunk; i++){
    kalamParquetChunkFree(f->apChunk[i]);
    f->apChunk[i] = 0;
    f->apSlot[i] = 0;
    f->apNull[i] = 0;
  }
  f->iGroup = -1;
  f->nRow = 0;
  f->aRowid = 0;
}

void kalamColdFileClose(KalamColdFile *f){
  if( f->apChunk ) coldGroupDrop(f);
  sqlite3_free(f->apChunk);   /* apSlot, apNull and aType live in it */
  sqlite3_free(f->aiCol);
  kalamParquetClose(f->pFile);
  memset(f, 0, sizeof(*f));
}

/* Is file column iCol a REQUIRED column of type eType? */
static int coldSysColumnOk(KalamColdFile *f, int iCol, int eType){
  const KalamParquetColumn *pCol = kalamParquetColumnInfo(f->pFile, iCol);
  return pCol->eType==eType && pCol->bNotNull;
}

/* Opens segment pSeg's file for table pSchema. */
int kalamColdFileOpen(const KalamSchema *pSchema, const KalamSegment *pSeg,
                      KalamColdFile *f, char **pzErr){
  int i, rc;
  memset(f, 0, sizeof(*f));
  f->iGroup = -1;
  rc = kalamParquetOpen(pSeg->zPath, &f->pFile, pzErr);
  if( rc ) return rc;
  f->nChunk = kalamParquetColumnCount(f->pFile);
  f->nCol = pSchema->nCol;
  f->aiCol = sqlite3_malloc64(sizeof(int)*(size_t)(pSchema->nCol + 1));
  /* One allocation: apChunk, apSlot, apNull (pointers), then aType. */
  f->apChunk = sqlite3_malloc64((3*sizeof(void*) + 1)*(size_t)f->nChunk);
  if( f->aiCol==0 || f->apChunk==0 ){
    sqlite3_free(f->apChunk);
    f->apChunk = 0;
    kalamColdFileClose(f);
    return SQLITE_NOMEM;
  }
  memset(f->apChunk, 0, (3*sizeof(void*) + 1)*(size_t)f->nChunk);
  f->apSlot = (const sqlite3_int64**)&f->apChunk[f->nChunk];
  f->apNull = (const unsigned char**)&f->apSlot[f->nChunk];
  f->aType = (unsigned char*)&f->apNull[f->nChunk];
  for(i=0; i<f->nChunk; i++){
    f->aType[i] = (unsigned char)kalamParquetColumnInfo(f->pFile, i)->eType;
  }
  for(i=0; i<pSchema->nCol; i++){
    f->aiCol[i] = kalamParquetColumnByFieldId(f->pFile,
                                              pSchema->aCol[i].iId);
  }
  f->iRowid = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_ROWID);
  f->iSeq = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_SEQ);
  f->iDel = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_DELETED);
  /* Scans read these three columns' slots directly: each must be the
  ** REQUIRED column of the type kalam writes. */
  if( f->iRowid<0 || f->iSeq<0 || f->iDel<0
   || !coldSysColumnOk(f, f->iRowid, KALAM_TYPE_INTEGER)
   || !coldSysColumnOk(f, f->iSeq, KALAM_TYPE_INTEGER)
   || !coldSysColumnOk(f, f->iDel, KALAM_TYPE_BOOLEAN) ){
    *pzErr = sqlite3_mprintf("cold file %s of kalam table %s has no _rowid, "
                             "_seq or _deleted column as kalam writes them",
                             pSeg->zPath, pSchema->zTable);
    kalamColdFileClose(f);
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

/* Decodes column iFileCol of the current group, unless it is already. */
int kalamColdChunk(KalamColdFile *f, int iFileCol, char **pzErr){
  int rc;
  assert( f->iGroup>=0 && iFileCol>=0 && iFileCol<f->nChunk );
  if( f->apChunk[iFileCol] ) return SQLITE_OK;
  rc = kalamParquetReadChunk(f->pFile, f->iGroup, iFileCol,
                             &f->apChunk[iFileCol], pzErr);
  if( rc ) return rc;
  if( f->pnChunks ) (*f->pnChunks)++;
  if( kalamParquetChunkRows(f->apChunk[iFileCol])!=f->nRow ){
    *pzErr = sqlite3_mprintf("corrupt cold file: a column of row group %d "
                             "has the wrong number of rows", f->iGroup);
    return SQLITE_CORRUPT;
  }
  f->apSlot[iFileCol] = kalamParquetChunkSlots(f->apChunk[iFileCol],
                                               &f->apNull[iFileCol]);
  if( iFileCol==f->iRowid ) f->aRowid = f->apSlot[iFileCol];
  return SQLITE_OK;
}

/* Makes iGroup the current group and decodes its _rowid column (and with
** bAll every other). */
int kalamColdGroupRead(KalamColdFile *f, int iGroup, int bAll, char **pzErr){
  int i, rc = SQLITE_OK;
  if( f->iGroup!=iGroup ){
    coldGroupDrop(f);
    f->iGroup = iGroup;
    f->nRow = kalamParquetGroupRows(f->pFile, iGroup);
  }
  for(i=0; i<f->nChunk && rc==SQLITE_OK; i++){
    if( !bAll && i!=f->iRowid ) continue;
    rc = kalamColdChunk(f, i, pzErr);
  }
  return rc;
}

/* An integer of the current group: column iFileCol (decoded), row iRow. */
sqlite3_int64 kalamColdInt(KalamColdFile *f, int iFileCol, sqlite3_int64 iRow){
  KalamValue v;
  char *zErr = 0;
  if( kalamParquetChunkValue(f->apChunk[iFileCol], iRow, &v, &zErr) ){
    sqlite3_free(zErr);
    return 0;
  }
  return v.eType==SQLITE_INTEGER ? v.i : 0;
}

/* Does group iGroup's _rowid range hold [iLo, iHi]? (Unknown: yes.) */
int kalamColdGroupOverlaps(KalamColdFile *f, int iGroup, sqlite3_int64 iLo,
                           sqlite3_int64 iHi){
  KalamParquetStats st;
  kalamParquetGroupStats(f->pFile, iGroup, f->iRowid, &st);
  if( !st.bMinMax ) return 1;
  return !(st.max.i < iLo || st.min.i > iHi);
}

/* The first row of the current group whose row id is >= iRowid (bAfter
** 0) or > iRowid (bAfter 1); nRow if none. Row ids are in order. */
sqlite3_int64 kalamColdSearch(KalamColdFile *f, sqlite3_int64 iRowid,
                              int bAfter){
  sqlite3_int64 lo = 0, hi = f->nRow;
  assert( f->aRowid!=0 || f->nRow==0 );
  while( lo<hi ){
    sqlite3_int64 mid = lo + (hi - lo)/2;
    sqlite3_int64 v = f->aRowid[mid];
    if( v<iRowid || (bAfter && v==iRowid) ) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/* Row iRow of the current group as the row codec's JSON, into p. */
int kalamColdEncode(const KalamSchema *pSchema, KalamColdFile *f,
                    sqlite3_int64 iRow, KalamBuf *p, char **pzErr){
  sqlite3_int64 iRowid, iSeq;
  int i, bFirst = 1, rc = SQLITE_OK;
  rc = kalamColdGroupRead(f, f->iGroup, 1, pzErr);
  if( rc ) return rc;
  iRowid = kalamColdInt(f, f->iRowid, iRow);
  iSeq = kalamColdInt(f, f->iSeq, iRow);
  kalamRowEncodeBegin(p);
  for(i=0; i<pSchema->nCol && rc==SQLITE_OK; i++){
    KalamValue v;
    memset(&v, 0, sizeof(v));
    v.eType = SQLITE_NULL;
    if( pSchema->bIntPk && i==pSchema->iPk ){
      v.eType = SQLITE_INTEGER;
      v.i = iRowid;
    }else if( i<f->nCol && f->aiCol[i]>=0 ){
      rc = kalamParquetChunkValue(f->apChunk[f->aiCol[i]], iRow, &v, pzErr);
      if( rc ) break;
    }else if( pSchema->aCol[i].zDefault
           && pSchema->aCol[i].dflt.eType!=SQLITE_NULL ){
      /* A column added after the flush with a DEFAULT, which kalam_alter
      ** gave every hot row. */
      rc = kalamValueDefault(pSchema, i, &v, pzErr);
      if( rc ) break;
    }else{
      continue;   /* added after the flush: NULL, as in a hot row */
    }
    kalamRowEncodeValue(p, &pSchema->aCol[i], &v, bFirst);
    bFirst = 0;
    kalamValueClear(&v);
  }
  if( rc ) return rc;
  if( bFirst && pSchema->nCol>0 ){
    /* Every column added after the flush: one written NULL, which reads
    ** as a missing one does, keeps the JSON whole. */
    KalamValue v;
    memset(&v, 0, sizeof(v));
    v.eType = SQLITE_NULL;
    kalamRowEncodeValue(p, &pSchema->aCol[0], &v, 1);
  }
  kalamRowEncodeEnd(p, pSchema->eKind, iSeq, kalamSnowflakeMs(iSeq),
                    kalamColdInt(f, f->iDel, iRow)!=0);
  return p->oom ? SQLITE_NOMEM : SQLITE_OK;
}

/* The files a table's lookups opened last, each with the row group it
** decoded last: lookups near one another (a join, a run of ids) decode a
** group once. Files never change once published, so an entry stays
** right for as long as it is kept; a file's number and path name it. */
#define COLD_CACHE_FILES 2
typedef struct ColdCacheEntry ColdCacheEntry;
struct ColdCacheEntry {
  sqlite3_int64 iNum;
  char *zPath;
  KalamColdFile f;
};
struct KalamColdCache {
  int n;
  ColdCacheEntry a[COLD_CACHE_FILES];  /* most recently used first */
};

void kalamColdCacheFree(KalamColdCache *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<p->n; i++){
    kalamColdFileClose(&p->a[i].f);
    sqlite3_free(p->a[i].zPath);
  }
  sqlite3_free(p);
}

/* Segment pSeg's file, open, from the table's cache (*ppF belongs to it). */
static int coldCacheFile(KalamTable *pTab, const KalamSegment *pSeg,
                         KalamColdFile **ppF, char **pzErr){
  KalamColdCache *p = pTab->pColdCache;
  int i, rc;
  if( p==0 ){
    p = pTab->pColdCache = sqlite3_malloc(sizeof(*p));
    if( p==0 ) return SQLITE_NOMEM;
    memset(p, 0, sizeof(*p));
  }
  for(i=0; i<p->n; i++){
    if( p->a[i].iNum==pSeg->iNum && strcmp(p->a[i].zPath, pSeg->zPath)==0 ){
      break;
    }
  }
  if( i==p->n ){
    char *zPath = sqlite3_mprintf("%s", pSeg->zPath);
    KalamColdFile f;
    if( zPath==0 ) return SQLITE_NOMEM;
    rc = kalamColdFileOpen(pTab->pSchema, pSeg, &f, pzErr);
    if( rc ){
      sqlite3_free(zPath);
      return rc;
    }
    f.pnChunks = &pTab->pConn->nColdChunks;
    if( p->n==COLD_CACHE_FILES ){
      p->n--;
      kalamColdFileClose(&p->a[p->n].f);
      sqlite3_free(p->a[p->n].zPath);
    }
    i = p->n++;
    p->a[i].iNum = pSeg->iNum;
    p->a[i].zPath = zPath;
    p->a[i].f = f;
  }
  if( i>0 ){
    /* To the front. */
    ColdCacheEntry t = p->a[i];
    memmove(&p->a[1], &p->a[0], sizeof(p->a[0])*(size_t)i);
    p->a[0] = t;
  }
  *ppF = &p->a[0].f;
  return SQLITE_OK;
}

/* Finds row iRowid in segment pSeg's file; *pbFound says whether it is
** there, and its JSON is then in p. */
static int coldFind(KalamTable *pTab, const KalamSegment *pSeg,
                    sqlite3_int64 iRowid, KalamBuf *p, int *pbFound,
                    char **pzErr){
  KalamColdFile *f = 0;
  int iGroup, nGroup, rc;
  *pbFound = 0;
  rc = coldCacheFile(pTab, pSeg, &f, pzErr);
  if( rc ) return rc;
  nGroup = kalamParquetGroupCount(f->pFile);
  for(iGroup=0; iGroup<nGroup && rc==SQLITE_OK && !*pbFound; iGroup++){
    sqlite3_int64 iRow;
    if( !kalamColdGroupOverlaps(f, iGroup, iRowid, iRowid) ) continue;
    rc = kalamColdGroupRead(f, iGroup, 0, pzErr);
    if( rc ) break;
    iRow = kalamColdSearch(f, iRowid, 0);
    if( iRow<f->nRow && kalamColdInt(f, f->iRowid, iRow)==iRowid ){
      rc = kalamColdEncode(pTab->pSchema, f, iRow, p, pzErr);
      if( rc==SQLITE_OK ) *pbFound = 1;
    }
  }
  return rc;
}

/* Can pTab have cold rows? Not in a store without a directory, nor in a
** stream (neither is ever flushed). */
int kalamColdHasTier(KalamTable *pTab){
  return pTab->pSchema->eKind!=KALAM_KIND_STREAM
      && !kalamStoreIsMemory(pTab->pDb->pStore);
}

/* The gone marker key of iRowid, into aOut (KALAM_ROWKEY_MAX bytes). */
int kalamColdGoneKey(char *aOut, const char *aPrefix, int nPrefix,
                     sqlite3_int64 iRowid){
  int n = kalamKeyRow(aOut, aPrefix, nPrefix, iRowid);
  aOut[nPrefix] = KALAM_TAG_GONE;
  return n;
}

/* Has row iRowid a gone marker, as transaction pTxn sees it? */
int kalamColdIsGone(KalamTable *pTab, const char *aPrefix, int nPrefix,
                    sqlite3_int64 iRowid, int *pbGone, char **pzErr){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamColdGoneKey(aKey, aPrefix, nPrefix, iRowid);
  char *zGot = 0;
  size_t nGot = 0;
  int rc = kalamTxnGet(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey, &zGot,
                       &nGot, pzErr);
  *pbGone = zGot!=0;
  if( zGot ) kalamStoreFree(zGot);
  return rc;
}

/* Removes row iRowid of the owner for good, in the connection's
** transaction: its hot key, and the cold copies through a gone marker
** when a segment's row id range holds it. */
int kalamRowGone(KalamTable *pTab, const char *aPrefix, int nPrefix,
                 sqlite3_int64 iRowid, char **pzErr){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyRow(aKey, aPrefix, nPrefix, iRowid);
  KalamSegment *aSeg = 0;
  int nSeg = 0, i, rc;
  kalamTxnDelete(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey);
  if( !kalamColdHasTier(pTab) ) return SQLITE_OK;
  rc = kalamSegmentList(pTab->pDb->pView, pTab->pDb->pStore, pTab->pCf,
                        aPrefix, nPrefix, pTab->pSchema->zTable, &aSeg, &nSeg,
                        pzErr);
  for(i=0; rc==SQLITE_OK && i<nSeg; i++){
    if( iRowid>=aSeg[i].iMinRowid && iRowid<=aSeg[i].iMaxRowid ){
      nKey = kalamColdGoneKey(aKey, aPrefix, nPrefix, iRowid);
      kalamTxnPut(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey, "", 0);
      break;
    }
  }
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}

/* Reads row iRowid of the owner aPrefix/nPrefix as the connection sees
** it: hot (*pzVal points into *ppPin or *pzCopy, as kalamTxnGetPinned
** gives it) or cold (*pzVal is *pzCopy, which kalamStoreFree frees).
** *pzVal is NULL if there is no such row. */
int kalamRowRead(KalamTable *pTab, const char *aPrefix, int nPrefix,
                 sqlite3_int64 iRowid, const char **pzVal, size_t *pnVal,
                 KalamPin **ppPin, char **pzCopy, char **pzErr){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyRow(aKey, aPrefix, nPrefix, iRowid);
  KalamSegment *aSeg = 0;
  int nSeg = 0, i, rc, bFound = 0;
  KalamBuf b;

  rc = kalamTxnGetPinned(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey,
                         pzVal, pnVal, ppPin, pzCopy, pzErr);
  if( rc || *pzVal ) return rc;
  if( !kalamColdHasTier(pTab) ) return SQLITE_OK;
  rc = kalamSegmentList(pTab->pDb->pView, pTab->pDb->pStore, pTab->pCf,
                        aPrefix, nPrefix, pTab->pSchema->zTable, &aSeg, &nSeg,
                        pzErr);
  if( rc || nSeg==0 ) return rc;
  kalamBufInit(&b);
  for(i=nSeg-1; i>=0 && rc==SQLITE_OK && !bFound; i--){
    int bGone = 0;
    if( iRowid<aSeg[i].iMinRowid || iRowid>aSeg[i].iMaxRowid ) continue;
    rc = kalamColdIsGone(pTab, aPrefix, nPrefix, iRowid, &bGone, pzErr);
    if( rc || bGone ) break;
    rc = coldFind(pTab, &aSeg[i], iRowid, &b, &bFound, pzErr);
  }
  if( rc==SQLITE_OK && bFound ){
    *pzCopy = kalamStoreDup(b.z, (size_t)b.n);
    if( *pzCopy==0 ){
      rc = SQLITE_NOMEM;
    }else{
      *pzVal = *pzCopy;
      *pnVal = (size_t)b.n;
    }
  }
  kalamBufFree(&b);
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}

/* kalamRowRead for callers that keep the row: *pzVal is a copy (or NULL
** if there is no such row) that kalamStoreFree frees. */
int kalamRowReadCopy(KalamTable *pTab, const char *aPrefix, int nPrefix,
                     sqlite3_int64 iRowid, char **pzVal, size_t *pnVal,
                     char **pzErr){
  const char *zVal = 0;
  KalamPin *pPin = 0;
  char *zCopy = 0;
  int rc;
  *pzVal = 0;
  rc = kalamRowRead(pTab, aPrefix, nPrefix, iRowid, &zVal, pnVal, &pPin,
                    &zCopy, pzErr);
  if( rc==SQLITE_OK && zVal ){
    *pzVal = zCopy ? zCopy : kalamStoreDup(zVal, *pnVal);
    if( *pzVal==0 ) rc = SQLITE_NOMEM;
    zCopy = 0;
  }
  kalamStorePinFree(pPin);
  if( zCopy ) kalamStoreFree(zCopy);
  return rc;
}

/* ------------------------------------------------------------ purge */

/* A row of a segment, for kalamColdPurge. */
typedef struct ColdVersion ColdVersion;
struct ColdVersion {
  sqlite3_int64 iRowid;
  sqlite3_int64 iSeq;
  int iSeg;                  /* the segment (newer is larger) */
  int bDeleted;
};

static int coldVersionCmp(const void *a, const void *b){
  const ColdVersion *x = (const ColdVersion*)a, *y = (const ColdVersion*)b;
  if( x->iRowid!=y->iRowid ) return x->iRowid<y->iRowid ? -1 : 1;
  return y->iSeg - x->iSeg;          /* the newest version first */
}

/* What coldPurgeOwner needs. */
typedef struct ColdPurge ColdPurge;
struct ColdPurge {
  KalamStore *pStore;
  KalamCf *pCf;
  sqlite3_int64 iBeforeMs;
  KalamBatch *pBatch;
  int (*xGone)(void*, const char*, int, int, sqlite3_int64);
  void *pArg;
};

/* Appends the versions of every row of segment pSeg (number iSeg) to *pa. */
static int coldPurgeVersions(const KalamSegment *pSeg, int iSeg,
                             ColdVersion **pa, sqlite3_int64 *pn,
                             sqlite3_int64 *pnAlloc, char **pzErr){
  static const KalamSchema noColumns = {0};
  KalamColdFile f;
  int iGroup, nGroup, rc;
  rc = kalamColdFileOpen(&noColumns, pSeg, &f, pzErr);
  if( rc ) return rc;
  nGroup = kalamParquetGroupCount(f.pFile);
  for(iGroup=0; iGroup<nGroup && rc==SQLITE_OK; iGroup++){
    sqlite3_int64 i;
    rc = kalamColdGroupRead(&f, iGroup, 1, pzErr);
    for(i=0; rc==SQLITE_OK && i<f.nRow; i++){
      ColdVersion *v;
      if( *pn>=*pnAlloc ){
        sqlite3_int64 nNew = *pnAlloc ? *pnAlloc*2 : 256;
        ColdVersion *aNew = sqlite3_realloc64(*pa, sizeof(ColdVersion)*nNew);
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        *pa = aNew;
        *pnAlloc = nNew;
      }
      v = &(*pa)[(*pn)++];
      v->iRowid = kalamColdInt(&f, f.iRowid, i);
      v->iSeq = kalamColdInt(&f, f.iSeq, i);
      v->bDeleted = kalamColdInt(&f, f.iDel, i)!=0;
      v->iSeg = iSeg;
    }
  }
  kalamColdFileClose(&f);
  return rc;
}

/* kalamColdPurge for one owner (also kalamColdOwners' callback). */
static int coldPurgeOwner(void *pArg, const char *aPrefix, int nPrefix,
                          char **pzErr){
  ColdPurge *p = (ColdPurge*)pArg;
  KalamSegment *aSeg = 0;
  ColdVersion *aVer = 0;
  sqlite3_int64 nVer = 0, nAlloc = 0, i;
  int nSeg = 0, j, rc;
  rc = kalamSegmentList(0, p->pStore, p->pCf, aPrefix, nPrefix,
                        kalamStoreCfName(p->pCf), &aSeg, &nSeg, pzErr);
  for(j=0; rc==SQLITE_OK && j<nSeg; j++){
    rc = coldPurgeVersions(&aSeg[j], j, &aVer, &nVer, &nAlloc, pzErr);
  }
  if( rc==SQLITE_OK && nVer>1 ){
    qsort(aVer, (size_t)nVer, sizeof(ColdVersion), coldVersionCmp);
  }
  for(i=0; rc==SQLITE_OK && i<nVer; i++){
    char aKey[KALAM_ROWKEY_MAX];
    char *zGot = 0;
    size_t nGot = 0;
    int nKey;
    if( i>0 && aVer[i].iRowid==aVer[i-1].iRowid ) continue;  /* older */
    if( !aVer[i].bDeleted ) continue;
    if( p->iBeforeMs!=INT64_MAX
     && kalamSnowflakeMs(aVer[i].iSeq) >= p->iBeforeMs ) continue;
    /* A hot row is newer; a gone marker says it is purged already. */
    nKey = kalamKeyRow(aKey, aPrefix, nPrefix, aVer[i].iRowid);
    rc = kalamStoreGet(p->pStore, 0, p->pCf, aKey, (size_t)nKey, &zGot, &nGot,
                       "kalam_purge failed", pzErr);
    if( rc==SQLITE_OK && zGot==0 ){
      char aGone[KALAM_ROWKEY_MAX];
      int nGone = kalamColdGoneKey(aGone, aPrefix, nPrefix, aVer[i].iRowid);
      rc = kalamStoreGet(p->pStore, 0, p->pCf, aGone, (size_t)nGone, &zGot,
                         &nGot, "kalam_purge failed", pzErr);
      if( rc==SQLITE_OK && zGot==0 ){
        kalamBatchPut(p->pBatch, p->pCf, aGone, (size_t)nGone, "", 0);
        rc = p->xGone(p->pArg, aKey, nKey, nPrefix, aVer[i].iSeq);
      }
    }
    if( zGot ) kalamStoreFree(zGot);
  }
  sqlite3_free(aVer);
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}

/* kalam_purge of cold rows: each row whose newest state is a soft-deleted
** row in a segment (deleted before iBeforeMs, or any with INT64_MAX), of
** the owner aPrefix/nPrefix (nPrefix<0: every owner of a kalam_user
** table), with no hot row, gets a gone marker in pBatch, and xGone is
** called with its row key, owner prefix length and _seq (so that the
** caller removes its key-index, index and change entries in the same
** write). As of the newest commit. */
int kalamColdPurge(KalamStore *pStore, KalamCf *pCf, const char *aPrefix,
                   int nPrefix, sqlite3_int64 iBeforeMs, KalamBatch *pBatch,
                   int (*xGone)(void*, const char*, int, int, sqlite3_int64),
                   void *pArg, char **pzErr){
  ColdPurge p;
  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  p.pStore = pStore;
  p.pCf = pCf;
  p.iBeforeMs = iBeforeMs;
  p.pBatch = pBatch;
  p.xGone = xGone;
  p.pArg = pArg;
  if( nPrefix<0 ){
    return kalamColdOwners(pStore, pCf, kalamStoreCfName(pCf),
                           coldPurgeOwner, &p, pzErr);
  }
  return coldPurgeOwner(&p, aPrefix, nPrefix, pzErr);
}

/* A hot row key zKey (its owner prefix nPrefix long) removed for good
** by a write outside a transaction (kalam_purge): puts a gone marker in
** pBatch when one of the owner's segments may hold the row too. */
int kalamColdMask(KalamStore *pStore, KalamCf *pCf, const char *zKey,
                  size_t nKey, int nPrefix, KalamBatch *pBatch, char **pzErr){
  KalamSegment *aSeg = 0;
  sqlite3_int64 iRowid;
  int nSeg = 0, i, rc;
  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  if( !kalamKeyRowDecode(zKey, nKey, nPrefix, &iRowid) ) return SQLITE_OK;
  rc = kalamSegmentList(0, pStore, pCf, zKey, nPrefix, kalamStoreCfName(pCf),
                        &aSeg, &nSeg, pzErr);
  for(i=0; rc==SQLITE_OK && i<nSeg; i++){
    if( iRowid>=aSeg[i].iMinRowid && iRowid<=aSeg[i].iMaxRowid ){
      char aGone[KALAM_ROWKEY_MAX];
      int nGone = kalamColdGoneKey(aGone, zKey, nPrefix, iRowid);
      kalamBatchPut(pBatch, pCf, aGone, (size_t)nGone, "", 0);
      break;
    }
  }
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}
