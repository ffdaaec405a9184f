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
** Scans (kalamRowIter) merge the hot iterator with one stream per segment
** that overlaps the row id range, in row id order either way. Where more
** than one holds a row id, the newest state wins: the hot row (any hot row
** was written after the flush that made the cold one, which removed its
** key), else the newest file's (files are numbered in flush order). A
** cold row reaches the caller as the row codec's JSON text, rebuilt from
** its columns, so everything that reads rows reads cold ones alike.
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

/* One open cold file, its columns mapped to the table's by field id. */
typedef struct ColdFile ColdFile;
struct ColdFile {
  KalamParquetFile *pFile;
  int *aiCol;          /* per table column: the file's column, or -1 */
  int iRowid, iSeq, iDel;
  KalamParquetChunk **apChunk;  /* the current group: one per file column */
  int nChunk;
  int iGroup;          /* the group apChunk holds, or -1 */
  sqlite3_int64 nRow;  /* its rows */
};

static void coldGroupDrop(ColdFile *f){
  int i;
  for(i=0; i<f->nChunk; i++){
    kalamParquetChunkFree(f->apChunk[i]);
    f->apChunk[i] = 0;
  }
  f->iGroup = -1;
  f->nRow = 0;
}

static void coldFileClose(ColdFile *f){
  if( f->apChunk ) coldGroupDrop(f);
  sqlite3_free(f->apChunk);
  sqlite3_free(f->aiCol);
  kalamParquetClose(f->pFile);
  memset(f, 0, sizeof(*f));
}

/* Opens segment pSeg's file for table pSchema. */
static int coldFileOpen(const KalamSchema *pSchema, const KalamSegment *pSeg,
                        ColdFile *f, char **pzErr){
  int i, rc;
  memset(f, 0, sizeof(*f));
  f->iGroup = -1;
  rc = kalamParquetOpen(pSeg->zPath, &f->pFile, pzErr);
  if( rc ) return rc;
  f->nChunk = kalamParquetColumnCount(f->pFile);
  f->aiCol = sqlite3_malloc64(sizeof(int)*(size_t)(pSchema->nCol + 1));
  f->apChunk = sqlite3_malloc64(sizeof(KalamParquetChunk*)*(size_t)f->nChunk);
  if( f->aiCol==0 || f->apChunk==0 ){
    coldFileClose(f);
    return SQLITE_NOMEM;
  }
  memset(f->apChunk, 0, sizeof(KalamParquetChunk*)*(size_t)f->nChunk);
  for(i=0; i<pSchema->nCol; i++){
    f->aiCol[i] = kalamParquetColumnByFieldId(f->pFile,
                                              pSchema->aCol[i].iId);
  }
  f->iRowid = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_ROWID);
  f->iSeq = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_SEQ);
  f->iDel = kalamParquetColumnByFieldId(f->pFile, KALAM_PARQUET_ID_DELETED);
  if( f->iRowid<0 || f->iSeq<0 || f->iDel<0 ){
    *pzErr = sqlite3_mprintf("cold file %s of kalam table %s has no _rowid, "
                             "_seq or _deleted column", pSeg->zPath,
                             pSchema->zTable);
    coldFileClose(f);
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

/* Decodes group iGroup's _rowid column (and with bAll every other). */
static int coldGroupRead(ColdFile *f, int iGroup, int bAll, char **pzErr){
  int i, rc = SQLITE_OK;
  if( f->iGroup!=iGroup ){
    coldGroupDrop(f);
    f->iGroup = iGroup;
    f->nRow = kalamParquetGroupRows(f->pFile, iGroup);
  }
  for(i=0; i<f->nChunk && rc==SQLITE_OK; i++){
    if( f->apChunk[i] ) continue;
    if( !bAll && i!=f->iRowid ) continue;
    rc = kalamParquetReadChunk(f->pFile, iGroup, i, &f->apChunk[i], pzErr);
    if( rc==SQLITE_OK && kalamParquetChunkRows(f->apChunk[i])!=f->nRow ){
      *pzErr = sqlite3_mprintf("corrupt cold file: a column of row group %d "
                               "has the wrong number of rows", iGroup);
      rc = SQLITE_CORRUPT;
    }
  }
  return rc;
}

/* An integer of the current group: column iCol, row iRow. */
static sqlite3_int64 coldInt(ColdFile *f, int iCol, sqlite3_int64 iRow){
  KalamValue v;
  char *zErr = 0;
  if( kalamParquetChunkValue(f->apChunk[iCol], iRow, &v, &zErr) ){
    sqlite3_free(zErr);
    return 0;
  }
  return v.eType==SQLITE_INTEGER ? v.i : 0;
}

/* Does group iGroup's _rowid range hold [iLo, iHi]? (Unknown: yes.) */
static int coldGroupOverlaps(ColdFile *f, int iGroup, sqlite3_int64 iLo,
                             sqlite3_int64 iHi){
  KalamParquetStats st;
  kalamParquetGroupStats(f->pFile, iGroup, f->iRowid, &st);
  if( !st.bMinMax ) return 1;
  return !(st.max.i < iLo || st.min.i > iHi);
}

/* The first row of the current group whose row id is >= iRowid (bAfter
** 0) or > iRowid (bAfter 1); nRow if none. Row ids are in order. */
static sqlite3_int64 coldSearch(ColdFile *f, sqlite3_int64 iRowid,
                                int bAfter){
  sqlite3_int64 lo = 0, hi = f->nRow;
  while( lo<hi ){
    sqlite3_int64 mid = lo + (hi - lo)/2;
    sqlite3_int64 v = coldInt(f, f->iRowid, mid);
    if( v<iRowid || (bAfter && v==iRowid) ) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/* Row iRow of the current group as the row codec's JSON, into p. */
static int coldEncode(const KalamSchema *pSchema, ColdFile *f,
                      sqlite3_int64 iRow, KalamBuf *p, char **pzErr){
  sqlite3_int64 iRowid, iSeq;
  int i, bFirst = 1, rc = SQLITE_OK;
  rc = coldGroupRead(f, f->iGroup, 1, pzErr);
  if( rc ) return rc;
  iRowid = coldInt(f, f->iRowid, iRow);
  iSeq = coldInt(f, f->iSeq, iRow);
  kalamRowEncodeBegin(p);
  for(i=0; i<pSchema->nCol && rc==SQLITE_OK; i++){
    KalamValue v;
    memset(&v, 0, sizeof(v));
    v.eType = SQLITE_NULL;
    if( pSchema->bIntPk && i==pSchema->iPk ){
      v.eType = SQLITE_INTEGER;
      v.i = iRowid;
    }else if( f->aiCol[i]>=0 ){
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
                    coldInt(f, f->iDel, iRow)!=0);
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
  ColdFile f;
};
struct KalamColdCache {
  int n;
  ColdCacheEntry a[COLD_CACHE_FILES];  /* most recently used first */
};

void kalamColdCacheFree(KalamColdCache *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<p->n; i++){
    coldFileClose(&p->a[i].f);
    sqlite3_free(p->a[i].zPath);
  }
  sqlite3_free(p);
}

/* Segment pSeg's file, open, from the table's cache (*ppF belongs to it). */
static int coldCacheFile(KalamTable *pTab, const KalamSegment *pSeg,
                         ColdFile **ppF, char **pzErr){
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
    ColdFile f;
    if( zPath==0 ) return SQLITE_NOMEM;
    rc = coldFileOpen(pTab->pSchema, pSeg, &f, pzErr);
    if( rc ){
      sqlite3_free(zPath);
      return rc;
    }
    if( p->n==COLD_CACHE_FILES ){
      p->n--;
      coldFileClose(&p->a[p->n].f);
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
  ColdFile *f = 0;
  int iGroup, nGroup, rc;
  *pbFound = 0;
  rc = coldCacheFile(pTab, pSeg, &f, pzErr);
  if( rc ) return rc;
  nGroup = kalamParquetGroupCount(f->pFile);
  for(iGroup=0; iGroup<nGroup && rc==SQLITE_OK && !*pbFound; iGroup++){
    sqlite3_int64 iRow;
    if( !coldGroupOverlaps(f, iGroup, iRowid, iRowid) ) continue;
    rc = coldGroupRead(f, iGroup, 0, pzErr);
    if( rc ) break;
    iRow = coldSearch(f, iRowid, 0);
    if( iRow<f->nRow && coldInt(f, f->iRowid, iRow)==iRowid ){
      rc = coldEncode(pTab->pSchema, f, iRow, p, pzErr);
      if( rc==SQLITE_OK ) *pbFound = 1;
    }
  }
  return rc;
}

/* Can pTab have cold rows? Not in a store without a directory, nor in a
** stream (neither is ever flushed). */
static int coldHasTier(KalamTable *pTab){
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
static int coldIsGone(KalamTable *pTab, const char *aPrefix, int nPrefix,
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
  if( !coldHasTier(pTab) ) return SQLITE_OK;
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
  if( !coldHasTier(pTab) ) return SQLITE_OK;
  rc = kalamSegmentList(pTab->pDb->pView, pTab->pDb->pStore, pTab->pCf,
                        aPrefix, nPrefix, pTab->pSchema->zTable, &aSeg, &nSeg,
                        pzErr);
  if( rc || nSeg==0 ) return rc;
  kalamBufInit(&b);
  for(i=nSeg-1; i>=0 && rc==SQLITE_OK && !bFound; i--){
    int bGone = 0;
    if( iRowid<aSeg[i].iMinRowid || iRowid>aSeg[i].iMaxRowid ) continue;
    rc = coldIsGone(pTab, aPrefix, nPrefix, iRowid, &bGone, pzErr);
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

/* ------------------------------------------------------------ scans */

/* One segment's rows in a scan: the current row of the current group. */
typedef struct ColdSrc ColdSrc;
struct ColdSrc {
  ColdFile f;
  int bEof;
  sqlite3_int64 iRow;        /* current row of f's current group */
  sqlite3_int64 iRowid;      /* its row id */
};

struct KalamRowIter {
  KalamTable *pTab;
  KalamIter *pHot;           /* the hot rows */
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  int bDesc;
  sqlite3_int64 iLo, iHi;    /* the row id range, both included */
  KalamSegment *aSeg;        /* the segments that overlap it, oldest first */
  int nSeg;
  ColdSrc *aSrc;             /* one per segment */
  int eCur;                  /* ROWITER_* */
  int iCurSrc;               /* the source of a cold current row */
  sqlite3_int64 iCurRowid;
  KalamBuf row;              /* a cold current row's JSON */
  char aKey[KALAM_ROWKEY_MAX];
  int nKey;
  int bGone;                 /* the owner has gone markers */
  int rc;                    /* the first error, with zErr */
  char *zErr;
};
#define ROWITER_EOF  0
#define ROWITER_HOT  1
#define ROWITER_COLD 2

/* Moves a source to its next row in the scan's direction, within
** [iLo, iHi], starting a group from its edge when bStart. */
static int coldSrcStep(KalamRowIter *p, ColdSrc *s, int bStart){
  const int nGroup = kalamParquetGroupCount(s->f.pFile);
  int iGroup = s->f.iGroup;
  int rc;
  if( !bStart ){
    s->iRow += p->bDesc ? -1 : 1;
  }
  for(;;){
    if( bStart || s->iRow<0 || s->iRow>=s->f.nRow ){
      /* The next group that overlaps the range. */
      if( bStart && iGroup<0 ){
        iGroup = p->bDesc ? nGroup - 1 : 0;
      }else{
        iGroup += p->bDesc ? -1 : 1;
      }
      bStart = 0;
      while( iGroup>=0 && iGroup<nGroup
          && !coldGroupOverlaps(&s->f, iGroup, p->iLo, p->iHi) ){
        iGroup += p->bDesc ? -1 : 1;
      }
      if( iGroup<0 || iGroup>=nGroup ){
        s->bEof = 1;
        return SQLITE_OK;
      }
      rc = coldGroupRead(&s->f, iGroup, 0, &p->zErr);
      if( rc ) return rc;
      if( p->bDesc ){
        s->iRow = coldSearch(&s->f, p->iHi, 1) - 1;
      }else{
        s->iRow = coldSearch(&s->f, p->iLo, 0);
      }
      continue;
    }
    s->iRowid = coldInt(&s->f, s->f.iRowid, s->iRow);
    if( p->bDesc ? s->iRowid<p->iLo : s->iRowid>p->iHi ){
      s->bEof = 1;
    }
    return SQLITE_OK;
  }
}

/* The hot iterator's row id, if it is on a row in range (its keys are
** the owner's row keys in range: it was made with those bounds). */
static int rowIterHot(KalamRowIter *p, sqlite3_int64 *piRowid){
  while( kalamIterValid(p->pHot) ){
    size_t nKey;
    const char *zKey = kalamIterKey(p->pHot, &nKey);
    if( kalamKeyRowDecode(zKey, nKey, p->nPrefix, piRowid) ){
      return *piRowid>=p->iLo && *piRowid<=p->iHi;
    }
    kalamIterNext(p->pHot);
  }
  return 0;
}

/* Chooses the current row among the sources (the rule in the header):
** the lowest row id (highest with bDesc); on a tie the hot row, else the
** newest source (sources are oldest first). */
static void rowIterPick(KalamRowIter *p){
  for(;;){
    sqlite3_int64 iBest = 0, iHot = 0;
    int bAny = 0, iSrc = -1, i, bGone = 0;
    if( p->rc ){ p->eCur = ROWITER_EOF; return; }
    if( rowIterHot(p, &iHot) ){
      iBest = iHot;
      bAny = 1;
    }
    for(i=0; i<p->nSeg; i++){
      ColdSrc *s = &p->aSrc[i];
      if( s->bEof ) continue;
      if( !bAny || (p->bDesc ? s->iRowid>iBest : s->iRowid<iBest) ){
        iBest = s->iRowid;
        iSrc = i;
        bAny = 1;
      }else if( s->iRowid==iBest && iSrc>=0 ){
        iSrc = i;
      }
    }
    if( !bAny ){
      p->eCur = ROWITER_EOF;
      return;
    }
    p->iCurRowid = iBest;
    if( iSrc<0 ){
      p->eCur = ROWITER_HOT;
      return;
    }
    if( p->bGone ){
      p->rc = coldIsGone(p->pTab, p->aPrefix, p->nPrefix, iBest, &bGone,
                         &p->zErr);
      if( p->rc==SQLITE_OK && bGone ){
        /* Removed for good: every copy of it is stepped over. */
        for(i=0; i<p->nSeg && p->rc==SQLITE_OK; i++){
          ColdSrc *s = &p->aSrc[i];
          if( !s->bEof && s->iRowid==iBest ) p->rc = coldSrcStep(p, s, 0);
        }
        continue;
      }
      if( p->rc ) continue;
    }
    p->eCur = ROWITER_COLD;
    p->iCurSrc = iSrc;
    p->nKey = kalamKeyRow(p->aKey, p->aPrefix, p->nPrefix, iBest);
    p->rc = coldEncode(p->pTab->pSchema, &p->aSrc[iSrc].f, p->aSrc[iSrc].iRow,
                       &p->row, &p->zErr);
    if( p->rc ) p->eCur = ROWITER_EOF;
    return;
  }
}

/* A scan of the owner's rows with ids in [iLo, iHi], in row id order
** (descending with bDesc), hot and cold merged, positioned on its first
** row. flags are kalamStoreIterNew's for the hot part. NULL with *pRc
** set (and *pzErr, sqlite3_free it) on failure. */
KalamRowIter *kalamRowIterNew(KalamTable *pTab, const char *aPrefix,
                              int nPrefix, sqlite3_int64 iLo,
                              sqlite3_int64 iHi, int bDesc, int flags,
                              int *pRc, char **pzErr){
  KalamRowIter *p;
  char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_ROWKEY_MAX];
  int nLo, nHi, i, rc = SQLITE_OK;
  KalamSegment *aAll = 0;
  int nAll = 0;

  *pRc = SQLITE_OK;
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ){ *pRc = SQLITE_NOMEM; return 0; }
  memset(p, 0, sizeof(*p));
  kalamBufInit(&p->row);
  p->pTab = pTab;
  memcpy(p->aPrefix, aPrefix, (size_t)nPrefix);
  p->nPrefix = nPrefix;
  p->bDesc = bDesc;
  p->iLo = iLo;
  p->iHi = iHi;
  nLo = kalamKeyRow(aLo, aPrefix, nPrefix, iLo);
  if( iHi==INT64_MAX ){
    char aIgnored[KALAM_BOUND_MAX];
    int nIgnored;
    kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, aIgnored, &nIgnored,
                     aHi, &nHi);
  }else{
    nHi = kalamKeyRow(aHi, aPrefix, nPrefix, iHi + 1);
  }
  p->pHot = kalamTxnIterator(pTab->pDb->pTxn, pTab->pCf, aLo, nLo, aHi, nHi,
                             flags);
  if( p->pHot==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( bDesc ){
    kalamIterSeekForPrev(p->pHot, aHi, (size_t)nHi);
  }else{
    kalamIterSeek(p->pHot, aLo, (size_t)nLo);
  }

  if( coldHasTier(pTab) ){
    rc = kalamSegmentList(pTab->pDb->pView, pTab->pDb->pStore, pTab->pCf,
                          aPrefix, nPrefix, pTab->pSchema->zTable, &aAll,
                          &nAll, pzErr);
    if( rc ) goto done;
  }
  if( nAll ){
    p->aSeg = sqlite3_malloc64(sizeof(KalamSegment)*(size_t)nAll);
    p->aSrc = sqlite3_malloc64(sizeof(ColdSrc)*(size_t)nAll);
    if( p->aSeg==0 || p->aSrc==0 ){ rc = SQLITE_NOMEM; goto done; }
    memset(p->aSrc, 0, sizeof(ColdSrc)*(size_t)nAll);
    for(i=0; i<nAll; i++){
      if( aAll[i].iMaxRowid<iLo || aAll[i].iMinRowid>iHi ){
        kalamSegmentClear(&aAll[i]);
        continue;
      }
      p->aSeg[p->nSeg] = aAll[i];       /* takes its strings */
      memset(&aAll[i], 0, sizeof(aAll[i]));
      rc = coldFileOpen(pTab->pSchema, &p->aSeg[p->nSeg],
                        &p->aSrc[p->nSeg].f, pzErr);
      p->nSeg++;
      if( rc ) goto done;
      rc = coldSrcStep(p, &p->aSrc[p->nSeg - 1], 1);
      if( rc ){
        *pzErr = p->zErr;
        p->zErr = 0;
        goto done;
      }
    }
  }
  if( p->nSeg ){
    /* Markers are rare: look them up only when the owner has any. */
    char aGLo[KALAM_BOUND_MAX], aGHi[KALAM_BOUND_MAX];
    int nGLo, nGHi;
    KalamIter *pG;
    kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_GONE, aGLo, &nGLo, aGHi,
                     &nGHi);
    pG = kalamTxnIterator(pTab->pDb->pTxn, pTab->pCf, aGLo, nGLo, aGHi, nGHi,
                          0);
    if( pG==0 ){ rc = SQLITE_NOMEM; goto done; }
    kalamIterSeek(pG, aGLo, (size_t)nGLo);
    if( kalamIterValid(pG) ){
      size_t nK;
      const char *zK = kalamIterKey(pG, &nK);
      p->bGone = kalamKeyCmp(zK, nK, aGHi, (size_t)nGHi)<0;
    }
    rc = kalamIterError(pG, pzErr);
    kalamIterDestroy(pG);
    if( rc ) goto done;
  }
  rowIterPick(p);

done:
  kalamSegmentListFree(aAll, nAll);
  if( rc ){
    kalamRowIterFree(p);
    *pRc = rc;
    return 0;
  }
  return p;
}

void kalamRowIterFree(KalamRowIter *p){
  int i;
  if( p==0 ) return;
  kalamIterDestroy(p->pHot);
  for(i=0; i<p->nSeg; i++){
    coldFileClose(&p->aSrc[i].f);
    kalamSegmentClear(&p->aSeg[i]);
  }
  sqlite3_free(p->aSrc);
  sqlite3_free(p->aSeg);
  kalamBufFree(&p->row);
  sqlite3_free(p->zErr);
  sqlite3_free(p);
}

int kalamRowIterValid(KalamRowIter *p){
  return p->eCur!=ROWITER_EOF;
}

/* Steps every source on the current row id, then picks again. */
void kalamRowIterNext(KalamRowIter *p){
  sqlite3_int64 iRowid = p->iCurRowid;
  int i;
  if( p->eCur==ROWITER_EOF ) return;
  if( p->eCur==ROWITER_HOT ) kalamIterNext(p->pHot);
  for(i=0; i<p->nSeg && p->rc==SQLITE_OK; i++){
    ColdSrc *s = &p->aSrc[i];
    if( !s->bEof && s->iRowid==iRowid ) p->rc = coldSrcStep(p, s, 0);
  }
  rowIterPick(p);
}

const char *kalamRowIterKey(KalamRowIter *p, size_t *pn){
  if( p->eCur==ROWITER_HOT ) return kalamIterKey(p->pHot, pn);
  *pn = (size_t)p->nKey;
  return p->aKey;
}

const char *kalamRowIterValue(KalamRowIter *p, size_t *pn){
  if( p->eCur==ROWITER_HOT ) return kalamIterValue(p->pHot, pn);
  *pn = (size_t)p->row.n;
  return p->row.z;
}

/* The scan's error, if any (SQLITE_OK if none); *pzErr as usual. */
int kalamRowIterError(KalamRowIter *p, char **pzErr){
  if( p->rc ){
    *pzErr = p->zErr;
    p->zErr = 0;
    return p->rc;
  }
  return kalamIterError(p->pHot, pzErr);
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
  ColdFile f;
  int iGroup, nGroup, rc;
  rc = coldFileOpen(&noColumns, pSeg, &f, pzErr);
  if( rc ) return rc;
  nGroup = kalamParquetGroupCount(f.pFile);
  for(iGroup=0; iGroup<nGroup && rc==SQLITE_OK; iGroup++){
    sqlite3_int64 i;
    rc = coldGroupRead(&f, iGroup, 1, pzErr);
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
      v->iRowid = coldInt(&f, f.iRowid, i);
      v->iSeq = coldInt(&f, f.iSeq, i);
      v->bDeleted = coldInt(&f, f.iDel, i)!=0;
      v->iSeg = iSeg;
    }
  }
  coldFileClose(&f);
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
