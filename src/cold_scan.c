/*
** cold_scan.c — scans of a table's rows, hot and cold merged, in row id
** order either way (kalamRowIter): the cursor's full scans and row id
** ranges.
**
** A scan merges the hot iterator with one source per segment whose _rowid
** range overlaps the scan's. Where more than one holds a row id, the
** newest state wins: the hot row (any hot row was written after the flush
** that made the cold one, which removed its key), else the newest file's
** (files are numbered in flush order, and the sources are kept oldest
** first). A row id with a gone marker (cold_read.c) is no row.
**
** The cursor's scans (kalamRowIterScan) read cold rows column-wise. A
** source decodes the _rowid column of the row group it is in (the merge
** needs it), and every other column only when a caller first asks for it
** in that group (kalamRowIterColumn, from xColumn): `SELECT sum(x)`
** decodes _rowid and x, and _deleted only in groups whose statistics say
** some row is deleted. Values go to SQLite straight from the decoded
** chunks. Callers that read whole rows (kalamRowIterNew: ADD INDEX's
** backfill, the subscriptions told of an erase) get each cold row as the
** row codec's JSON (kalamRowIterValue).
**
** Row groups are passed over by their statistics: by _rowid when outside
** the scan's range, and by _seq, the PRIMARY KEY and _deleted when a
** KalamColdFilter shows that no row of the group can be wanted. Such a
** group still holds the newest copy of each of its row ids among the
** files, which must hide older copies: so it is skipped whole only when no
** older segment's _rowid range meets the group's; otherwise its _rowid
** column is decoded and its rows, never returned, hide the older copies
** (a "shadow" group). Every skipped group and decoded chunk is counted for
** kalam_cold_stats().
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* One segment's rows in a scan: the current row of the current group. */
typedef struct ColdSrc ColdSrc;
struct ColdSrc {
  KalamColdFile f;
  int bEof;
  int bShadow;               /* the current group's rows are not wanted */
  const sqlite3_int64 *aDel; /* its _deleted flags; NULL: none is deleted */
  sqlite3_int64 iRow;        /* current row of f's current group */
  sqlite3_int64 iRowid;      /* its row id */
};

struct KalamRowIter {
  KalamTable *pTab;
  KalamIter *pHot;           /* the hot rows */
  int bHotOn;                /* pHot is on a row in range, whose id is */
  sqlite3_int64 iHot;        /* ... iHot (rowIterHot) */
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  int bDesc;
  sqlite3_int64 iLo, iHi;    /* the row id range, both included */
  KalamColdFilter filter;    /* its key values owned (zOwned) */
  int bFilter;               /* the filter can exclude a group */
  int iKeyCol;               /* table column the key bounds are on, or -1 */
  KalamSegment *aSeg;        /* the segments that overlap it, oldest first */
  int nSeg;
  ColdSrc *aSrc;             /* one per segment */
  int eCur;                  /* ROWITER_* */
  int iCurSrc;               /* the source of a cold current row */
  sqlite3_int64 iCurRowid;
  int bJson;                 /* each cold row is made JSON when picked */
  int bRowMade;              /* row holds the cold current row's JSON */
  KalamBuf row;
  int bKeyMade;              /* aKey holds the cold current row's key */
  char aKey[KALAM_ROWKEY_MAX];
  int nKey;
  int bGone;                 /* the owner has gone markers */
  sqlite3_int64 *pnSkipped;  /* the connection's count of skipped groups */
  int rc;                    /* the first error, with zErr */
  char *zErr;
};
#define ROWITER_EOF  0
#define ROWITER_HOT  1
#define ROWITER_COLD 2

/* What a scan does with a row group. */
#define COLD_GROUP_SKIP   0  /* nothing: no row of it can matter */
#define COLD_GROUP_READ   1  /* its rows are read */
#define COLD_GROUP_SHADOW 2  /* its rows only hide older copies */

void kalamColdFilterInit(KalamColdFilter *p){
  memset(p, 0, sizeof(*p));
  p->iSeqLo = INT64_MIN;
  p->iSeqHi = INT64_MAX;
  p->keyLo.eType = p->keyHi.eType = SQLITE_NULL;
}

/* Does the key value pV bound a column of type eType in a way statistics
** can be compared with? Only values of the column's own storage class
** (and integers small enough to be exact doubles for REAL): SQLite's
** comparisons across classes follow affinity rules best left to it. Text
** only in a UTF-8 database (bUtf8), where SQLite's BINARY order is the
** byte order the statistics keep. */
static int coldKeyComparable(int eType, int bUtf8, const KalamValue *pV){
  switch( eType ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
      return pV->eType==SQLITE_INTEGER;
    case KALAM_TYPE_REAL:
      return pV->eType==SQLITE_FLOAT
          || (pV->eType==SQLITE_INTEGER && pV->i<=(1LL<<53)
              && pV->i>=-(1LL<<53));
    case KALAM_TYPE_TEXT:
      return pV->eType==SQLITE_TEXT && bUtf8;
    case KALAM_TYPE_BLOB:
      return pV->eType==SQLITE_BLOB;
    default:
      return 0;
  }
}

/* Compares statistic pStat with key bound pV (coldKeyComparable holds):
** <0, 0, >0 as SQLite orders them (BINARY for text). */
static int coldKeyCmp(const KalamValue *pStat, const KalamValue *pV){
  if( pStat->eType==SQLITE_INTEGER && pV->eType==SQLITE_INTEGER ){
    return pStat->i<pV->i ? -1 : pStat->i>pV->i;
  }
  if( pStat->eType==SQLITE_FLOAT ){
    double r = pV->eType==SQLITE_FLOAT ? pV->r : (double)pV->i;
    return pStat->r<r ? -1 : pStat->r>r;
  }
  {
    int n = pStat->n<pV->n ? pStat->n : pV->n;
    int c = n ? memcmp(pStat->z, pV->z, (size_t)n) : 0;
    return c ? c : pStat->n - pV->n;
  }
}

/* Can no row of group iGroup of f meet the filter? */
static int coldGroupExcluded(KalamRowIter *p, KalamColdFile *f, int iGroup){
  const KalamColdFilter *pF = &p->filter;
  KalamParquetStats st;
  if( pF->iSeqLo>INT64_MIN || pF->iSeqHi<INT64_MAX ){
    kalamParquetGroupStats(f->pFile, iGroup, f->iSeq, &st);
    if( st.bMinMax && (st.max.i<pF->iSeqLo || st.min.i>pF->iSeqHi) ){
      return 1;
    }
  }
  if( pF->bLive ){
    /* Every row deleted: min(_deleted) is true. */
    kalamParquetGroupStats(f->pFile, iGroup, f->iDel, &st);
    if( st.bMinMax && st.min.i!=0 ) return 1;
  }
  if( p->iKeyCol>=0 && p->iKeyCol<f->nCol && f->aiCol[p->iKeyCol]>=0 ){
    int iFileCol = f->aiCol[p->iKeyCol];
    if( kalamParquetColumnInfo(f->pFile, iFileCol)->eType
        ==p->pTab->pSchema->aCol[p->iKeyCol].eType ){
      kalamParquetGroupStats(f->pFile, iGroup, iFileCol, &st);
      if( st.bMinMax ){
        if( pF->bKeyLo && coldKeyCmp(&st.max, &pF->keyLo)<0 ) return 1;
        if( pF->bKeyHi && coldKeyCmp(&st.min, &pF->keyHi)>0 ) return 1;
      }
    }
  }
  return 0;
}

/* What the scan does with group iGroup of source iSrc (COLD_GROUP_*). */
static int coldGroupUse(KalamRowIter *p, int iSrc, int iGroup){
  KalamColdFile *f = &p->aSrc[iSrc].f;
  KalamParquetStats st;
  sqlite3_int64 iMin = INT64_MIN, iMax = INT64_MAX;
  int j;
  if( !kalamColdGroupOverlaps(f, iGroup, p->iLo, p->iHi) ){
    return COLD_GROUP_SKIP;
  }
  if( !p->bFilter || !coldGroupExcluded(p, f, iGroup) ){
    return COLD_GROUP_READ;
  }
  kalamParquetGroupStats(f->pFile, iGroup, f->iRowid, &st);
  if( st.bMinMax ){
    iMin = st.min.i;
    iMax = st.max.i;
  }
  for(j=0; j<iSrc; j++){
    if( p->aSeg[j].iMaxRowid>=iMin && p->aSeg[j].iMinRowid<=iMax ){
      return COLD_GROUP_SHADOW;
    }
  }
  return COLD_GROUP_SKIP;
}

/* Makes iGroup source s's current group: its _rowid column decoded, and
** its _deleted column when its statistics do not rule deleted rows out. */
static int coldSrcEnter(KalamRowIter *p, ColdSrc *s, int iGroup, int eUse){
  KalamParquetStats st;
  int rc = kalamColdGroupRead(&s->f, iGroup, 0, &p->zErr);
  if( rc ) return rc;
  s->bShadow = eUse==COLD_GROUP_SHADOW;
  s->aDel = 0;
  if( s->bShadow ) return SQLITE_OK;
  kalamParquetGroupStats(s->f.pFile, iGroup, s->f.iDel, &st);
  if( !st.bMinMax || st.max.i!=0 ){
    rc = kalamColdChunk(&s->f, s->f.iDel, &p->zErr);
    if( rc ) return rc;
    s->aDel = s->f.apSlot[s->f.iDel];
  }
  return SQLITE_OK;
}

/* Moves source iSrc to its next row in the scan's direction, within
** [iLo, iHi], starting a group from its edge when bStart. */
static int coldSrcStep(KalamRowIter *p, int iSrc, int bStart){
  ColdSrc *s = &p->aSrc[iSrc];
  const int nGroup = kalamParquetGroupCount(s->f.pFile);
  const int d = p->bDesc ? -1 : 1;
  int iGroup = s->f.iGroup;
  int rc;
  if( !bStart ) s->iRow += d;
  for(;;){
    if( bStart || s->iRow<0 || s->iRow>=s->f.nRow ){
      /* The next group the scan reads. */
      int eUse = COLD_GROUP_SKIP;
      if( bStart && iGroup<0 ){
        iGroup = p->bDesc ? nGroup - 1 : 0;
      }else{
        iGroup += d;
      }
      bStart = 0;
      for(; iGroup>=0 && iGroup<nGroup; iGroup+=d){
        eUse = coldGroupUse(p, iSrc, iGroup);
        if( eUse!=COLD_GROUP_SKIP ) break;
        (*p->pnSkipped)++;
      }
      if( iGroup<0 || iGroup>=nGroup ){
        s->bEof = 1;
        return SQLITE_OK;
      }
      rc = coldSrcEnter(p, s, iGroup, eUse);
      if( rc ) return rc;
      if( p->bDesc ){
        s->iRow = kalamColdSearch(&s->f, p->iHi, 1) - 1;
      }else{
        s->iRow = kalamColdSearch(&s->f, p->iLo, 0);
      }
      continue;
    }
    s->iRowid = s->f.aRowid[s->iRow];
    if( p->bDesc ? s->iRowid<p->iLo : s->iRowid>p->iHi ){
      s->bEof = 1;
    }
    return SQLITE_OK;
  }
}

/* Notes whether the hot iterator is on a row in range, and its row id,
** after each move (its keys are the owner's row keys in range: it was
** made with those bounds), so that the merge compares numbers only. */
static void rowIterHot(KalamRowIter *p){
  p->bHotOn = 0;
  while( kalamIterValid(p->pHot) ){
    size_t nKey;
    const char *zKey = kalamIterKey(p->pHot, &nKey);
    if( kalamKeyRowDecode(zKey, nKey, p->nPrefix, &p->iHot) ){
      p->bHotOn = p->iHot>=p->iLo && p->iHot<=p->iHi;
      return;
    }
    kalamIterNext(p->pHot);
  }
}

/* Steps every source on row id iRowid: within its group here (the
** common case, row after row), else by coldSrcStep. */
static void rowIterStepAll(KalamRowIter *p, sqlite3_int64 iRowid){
  int i;
  for(i=0; i<p->nSeg && p->rc==SQLITE_OK; i++){
    ColdSrc *s = &p->aSrc[i];
    sqlite3_int64 iRow;
    if( s->bEof || s->iRowid!=iRowid ) continue;
    iRow = s->iRow + (p->bDesc ? -1 : 1);
    if( iRow>=0 && iRow<s->f.nRow ){
      s->iRow = iRow;
      s->iRowid = s->f.aRowid[iRow];
      if( p->bDesc ? s->iRowid<p->iLo : s->iRowid>p->iHi ) s->bEof = 1;
    }else{
      p->rc = coldSrcStep(p, i, 0);
    }
  }
}

/* Chooses the current row among the sources (the rule in the header):
** the lowest row id (highest with bDesc); on a tie the hot row, else the
** newest source (sources are oldest first). */
static void rowIterPick(KalamRowIter *p){
  for(;;){
    sqlite3_int64 iBest = 0;
    int bAny = 0, iSrc = -1, i, bGone = 0;
    if( p->rc ){ p->eCur = ROWITER_EOF; return; }
    if( p->bHotOn ){
      iBest = p->iHot;
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
    if( p->aSrc[iSrc].bShadow ){
      /* Its newest copy cannot be wanted; the older ones are not it. */
      rowIterStepAll(p, iBest);
      continue;
    }
    if( p->bGone ){
      p->rc = kalamColdIsGone(p->pTab, p->aPrefix, p->nPrefix, iBest, &bGone,
                              &p->zErr);
      if( p->rc==SQLITE_OK && bGone ){
        /* Removed for good: every copy of it is stepped over. */
        rowIterStepAll(p, iBest);
        continue;
      }
      if( p->rc ) continue;
    }
    p->eCur = ROWITER_COLD;
    p->iCurSrc = iSrc;
    p->bRowMade = 0;
    p->bKeyMade = 0;
    if( p->bJson ){
      /* For callers that read whole rows: a row that cannot be made ends
      ** the scan with its error, never reaching them damaged. */
      ColdSrc *s = &p->aSrc[iSrc];
      p->rc = kalamColdEncode(p->pTab->pSchema, &s->f, s->iRow, &p->row,
                              &p->zErr);
      p->bRowMade = p->rc==SQLITE_OK;
      if( p->rc ) p->eCur = ROWITER_EOF;
    }
    return;
  }
}

/* Copies key bound pV into pOut, its text or blob owned. */
static int coldValueCopy(KalamValue *pOut, const KalamValue *pV){
  *pOut = *pV;
  pOut->zOwned = 0;
  if( pV->eType==SQLITE_TEXT || pV->eType==SQLITE_BLOB ){
    pOut->zOwned = sqlite3_malloc(pV->n + 1);
    if( pOut->zOwned==0 ) return SQLITE_NOMEM;
    if( pV->n ) memcpy(pOut->zOwned, pV->z, (size_t)pV->n);
    pOut->z = pOut->zOwned;
  }
  return SQLITE_OK;
}

/* Takes pFilter into the scan: the key bounds it can compare statistics
** with, copied (SQLite's values last only as long as xFilter). */
static int rowIterFilter(KalamRowIter *p, const KalamColdFilter *pFilter){
  const KalamSchema *pSchema = p->pTab->pSchema;
  int rc = SQLITE_OK;
  kalamColdFilterInit(&p->filter);
  p->iKeyCol = -1;
  if( pFilter==0 ) return SQLITE_OK;
  p->filter.iSeqLo = pFilter->iSeqLo;
  p->filter.iSeqHi = pFilter->iSeqHi;
  p->filter.bLive = pFilter->bLive;
  if( pSchema->iPk>=0 && !pSchema->bIntPk ){
    int eType = pSchema->aCol[pSchema->iPk].eType;
    if( pFilter->bKeyLo
     && coldKeyComparable(eType, pSchema->bUtf8, &pFilter->keyLo) ){
      p->filter.bKeyLo = 1;
      rc = coldValueCopy(&p->filter.keyLo, &pFilter->keyLo);
    }
    if( rc==SQLITE_OK && pFilter->bKeyHi
     && coldKeyComparable(eType, pSchema->bUtf8, &pFilter->keyHi) ){
      p->filter.bKeyHi = 1;
      rc = coldValueCopy(&p->filter.keyHi, &pFilter->keyHi);
    }
    if( p->filter.bKeyLo || p->filter.bKeyHi ) p->iKeyCol = pSchema->iPk;
  }
  p->bFilter = p->filter.iSeqLo>INT64_MIN || p->filter.iSeqHi<INT64_MAX
            || p->filter.bLive || p->iKeyCol>=0;
  return rc;
}

/* Are there gone markers of the owner, as the transaction sees them? */
static int rowIterHasGone(KalamRowIter *p, char **pzErr){
  char aGLo[KALAM_BOUND_MAX], aGHi[KALAM_BOUND_MAX];
  int nGLo, nGHi, rc;
  KalamIter *pG;
  KalamTable *pTab = p->pTab;
  kalamKeyTagRange(p->aPrefix, p->nPrefix, KALAM_TAG_GONE, aGLo, &nGLo, aGHi,
                   &nGHi);
  pG = kalamTxnIterator(pTab->pDb->pTxn, pTab->pCf, aGLo, nGLo, aGHi, nGHi, 0);
  if( pG==0 ) return SQLITE_NOMEM;
  kalamIterSeek(pG, aGLo, (size_t)nGLo);
  if( kalamIterValid(pG) ){
    size_t nK;
    const char *zK = kalamIterKey(pG, &nK);
    p->bGone = kalamKeyCmp(zK, nK, aGHi, (size_t)nGHi)<0;
  }
  rc = kalamIterError(pG, pzErr);
  kalamIterDestroy(pG);
  return rc;
}

/* A scan of the owner's rows with ids in [iLo, iHi], in row id order
** (descending with bDesc), hot and cold merged, positioned on its first
** row, for callers that read whole rows (kalamRowIterValue): each cold row
** is made JSON as the scan reaches it. flags are kalamStoreIterNew's for
** the hot part. NULL with *pRc set (and *pzErr, sqlite3_free it) on
** failure. */
KalamRowIter *kalamRowIterNew(KalamTable *pTab, const char *aPrefix,
                              int nPrefix, sqlite3_int64 iLo,
                              sqlite3_int64 iHi, int bDesc, int flags,
                              int *pRc, char **pzErr){
  return kalamRowIterScan(pTab, aPrefix, nPrefix, iLo, iHi, bDesc, flags, 0,
                          pRc, pzErr);
}

/* kalamRowIterNew for the cursor's scans, which read cold rows column by
** column (kalamRowIterCold, kalamRowIterColumn) and make JSON of one only
** when asked; pFilter (or NULL) lets row groups be skipped. */
KalamRowIter *kalamRowIterScan(KalamTable *pTab, const char *aPrefix,
                               int nPrefix, sqlite3_int64 iLo,
                               sqlite3_int64 iHi, int bDesc, int flags,
                               const KalamColdFilter *pFilter,
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
  p->pnSkipped = &pTab->pConn->nColdSkipped;
  p->bJson = pFilter==0;
  rc = rowIterFilter(p, pFilter);
  if( rc ) goto done;
  nLo = kalamKeyRow(aLo, aPrefix, nPrefix, iLo);
  nHi = kalamKeyRowEnd(aHi, aPrefix, nPrefix, iHi);
  p->pHot = kalamTxnIterator(pTab->pDb->pTxn, pTab->pCf, aLo, nLo, aHi, nHi,
                             flags);
  if( p->pHot==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( bDesc ){
    kalamIterSeekForPrev(p->pHot, aHi, (size_t)nHi);
  }else{
    kalamIterSeek(p->pHot, aLo, (size_t)nLo);
  }

  if( kalamColdHasTier(pTab) ){
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
      rc = kalamColdFileOpen(pTab->pSchema, &p->aSeg[p->nSeg],
                             &p->aSrc[p->nSeg].f, pzErr);
      p->aSrc[p->nSeg].f.pnChunks = &pTab->pConn->nColdChunks;
      p->nSeg++;
      if( rc ) goto done;
    }
  }
  /* Sources step only once all are open: a group's use depends on the
  ** older segments' ranges. */
  for(i=0; i<p->nSeg; i++){
    rc = coldSrcStep(p, i, 1);
    if( rc ){
      *pzErr = p->zErr;
      p->zErr = 0;
      goto done;
    }
  }
  rowIterHot(p);
  /* Markers are rare: look them up only when the owner has any. */
  if( p->nSeg ){
    rc = rowIterHasGone(p, pzErr);
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
    kalamColdFileClose(&p->aSrc[i].f);
    kalamSegmentClear(&p->aSeg[i]);
  }
  sqlite3_free(p->aSrc);
  sqlite3_free(p->aSeg);
  kalamValueClear(&p->filter.keyLo);
  kalamValueClear(&p->filter.keyHi);
  kalamBufFree(&p->row);
  sqlite3_free(p->zErr);
  sqlite3_free(p);
}

int kalamRowIterValid(KalamRowIter *p){
  return p->eCur!=ROWITER_EOF;
}

/* Steps every source on the current row id, then picks again. */
void kalamRowIterNext(KalamRowIter *p){
  if( p->eCur==ROWITER_EOF ) return;
  if( p->eCur==ROWITER_HOT ){
    kalamIterNext(p->pHot);
    rowIterHot(p);
  }
  rowIterStepAll(p, p->iCurRowid);
  rowIterPick(p);
}

/* The current row's key (a cold row's is made when first asked for). */
const char *kalamRowIterKey(KalamRowIter *p, size_t *pn){
  if( p->eCur==ROWITER_HOT ) return kalamIterKey(p->pHot, pn);
  if( !p->bKeyMade ){
    p->nKey = kalamKeyRow(p->aKey, p->aPrefix, p->nPrefix, p->iCurRowid);
    p->bKeyMade = 1;
  }
  *pn = (size_t)p->nKey;
  return p->aKey;
}

/* The current row as the row codec's JSON. A cold row's is built when
** first asked for; if that fails, the scan ends with the error (the
** value is then empty: kalamRowIterError says why). */
const char *kalamRowIterValue(KalamRowIter *p, size_t *pn){
  ColdSrc *s;
  if( p->eCur==ROWITER_HOT ) return kalamIterValue(p->pHot, pn);
  s = &p->aSrc[p->iCurSrc];
  if( !p->bRowMade && p->rc==SQLITE_OK ){
    p->rc = kalamColdEncode(p->pTab->pSchema, &s->f, s->iRow, &p->row,
                            &p->zErr);
    p->bRowMade = p->rc==SQLITE_OK;
  }
  if( !p->bRowMade ){
    *pn = 0;
    return "";
  }
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

/* The current row's id (the iterator is on a row). */
sqlite3_int64 kalamRowIterRowid(KalamRowIter *p){
  assert( p->eCur!=ROWITER_EOF );
  return p->iCurRowid;
}

/* Is the current row cold? Then *piRowid is its row id and *pbDeleted
** says whether it is soft-deleted, and its values are read with
** kalamRowIterColumn. */
int kalamRowIterCold(KalamRowIter *p, sqlite3_int64 *piRowid,
                     int *pbDeleted){
  ColdSrc *s;
  if( p->eCur!=ROWITER_COLD ) return 0;
  s = &p->aSrc[p->iCurSrc];
  *piRowid = p->iCurRowid;
  *pbDeleted = s->aDel ? s->aDel[s->iRow]!=0 : 0;
  return 1;
}

/* Column iCol (as xColumn numbers them: user columns, then the system
** columns) of the cold current row, straight from the decoded chunks. */
int kalamRowIterColumn(KalamRowIter *p, int iCol, sqlite3_context *ctx){
  const KalamSchema *pSchema = p->pTab->pSchema;
  ColdSrc *s = &p->aSrc[p->iCurSrc];
  KalamColdFile *f = &s->f;
  const sqlite3_int64 iRow = s->iRow;
  KalamValue v;
  char *zErr = 0;
  int iFileCol, rc;

  assert( p->eCur==ROWITER_COLD );
  if( iCol>=pSchema->nCol ){
    const KalamSysColumn *aSys;
    sqlite3_int64 iSeq;
    int nSys = kalamSysColumns(pSchema->eKind, &aSys);
    int iSlot;
    assert( iCol - pSchema->nCol < nSys );
    (void)nSys;
    iSlot = aSys[iCol - pSchema->nCol].iSlot;
    if( iSlot==KALAM_SYS_DELETED ){
      sqlite3_result_int(ctx, s->aDel ? s->aDel[iRow]!=0 : 0);
      return SQLITE_OK;
    }
    rc = kalamColdChunk(f, f->iSeq, &zErr);
    if( rc ) return kalamFuncError(ctx, rc, zErr);
    iSeq = f->apSlot[f->iSeq][iRow];
    sqlite3_result_int64(ctx, iSlot==KALAM_SYS_SEQ ? iSeq
                                                   : kalamSnowflakeMs(iSeq));
    return SQLITE_OK;
  }
  if( pSchema->bIntPk && iCol==pSchema->iPk ){
    sqlite3_result_int64(ctx, p->iCurRowid);
    return SQLITE_OK;
  }
  iFileCol = iCol<f->nCol ? f->aiCol[iCol] : -1;
  if( iFileCol<0 ){
    /* Added after the flush: its DEFAULT, which kalam_alter gave every
    ** hot row, or NULL. */
    memset(&v, 0, sizeof(v));
    v.eType = SQLITE_NULL;
    if( pSchema->aCol[iCol].zDefault
     && pSchema->aCol[iCol].dflt.eType!=SQLITE_NULL ){
      rc = kalamValueDefault(pSchema, iCol, &v, &zErr);
      if( rc ) return kalamFuncError(ctx, rc, zErr);
    }
    kalamValueResult(ctx, &v);
    return SQLITE_OK;
  }
  if( f->apSlot[iFileCol]==0 ){
    rc = kalamColdChunk(f, iFileCol, &zErr);
    if( rc ) return kalamFuncError(ctx, rc, zErr);
  }
  if( f->apNull[iFileCol] && f->apNull[iFileCol][iRow] ){
    return SQLITE_OK;   /* NULL: xColumn's result unless one is set */
  }
  switch( f->aType[iFileCol] ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
    case KALAM_TYPE_BOOLEAN:
      sqlite3_result_int64(ctx, f->apSlot[iFileCol][iRow]);
      return SQLITE_OK;
    case KALAM_TYPE_REAL: {
      double r;
      memcpy(&r, &f->apSlot[iFileCol][iRow], sizeof(r));
      sqlite3_result_double(ctx, r);
      return SQLITE_OK;
    }
    default:
      rc = kalamParquetChunkValue(f->apChunk[iFileCol], iRow, &v, &zErr);
      if( rc ) return kalamFuncError(ctx, rc, zErr);
      kalamValueResult(ctx, &v);
      return SQLITE_OK;
  }
}

/* kalam_cold_stats(): what this connection's reads of cold files have
** done so far, as JSON: the column chunks they decoded and the row groups
** they passed over by their statistics. A diagnostic, like
** kalam_rows_read(): it shows which columns and groups a query read. */
static void coldStatsFunc(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv){
  KalamConn *p = (KalamConn*)sqlite3_user_data(ctx);
  char *z;
  (void)argc; (void)argv;
  z = sqlite3_mprintf("{\"chunks_decoded\":%lld,\"groups_skipped\":%lld}",
                      p->nColdChunks, p->nColdSkipped);
  if( z==0 ){
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

/* Registers kalam_cold_stats on db, holding a reference on pConn. */
int kalamColdStatsRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_cold_stats", 0, SQLITE_INNOCUOUS, coldStatsFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc, 1);
}
