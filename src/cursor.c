/*
** cursor.c — reading a kalam table: the cursor methods, xOpen through
** xRowid.
**
** xFilter reads the plan plan.c chose (THE PLAN ENCODING, at the top of
** plan.c) and either looks rows up by row id (a list of them, from the
** row id itself or from the key index), or scans a row id range, or scans
** a range of an index's entries (index.c builds it) and reads the row each
** entry names, with an iterator over the store merged with the
** connection's own uncommitted writes (txn_iter.c). Either way every read
** is bounded by the owner prefix of the current user on kalam_user
** tables, so no plan reaches another user's rows (an index range and the
** rows its entries name alike); streams start at the key of now - ttl, so
** expired rows are never returned; soft-deleted rows are skipped unless
** the WHERE names _deleted.
**
** xColumn decodes a row lazily (row.c): only the columns asked for.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <math.h>

SQLITE_EXTENSION_INIT3

struct KalamCursor {
  sqlite3_vtab_cursor base;   /* must be first */
  int idxNum;
  int bEof;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  /* Range scans: pRows, hot and cold rows merged (cold_scan.c) */
  KalamRowIter *pRows;
  KalamIter *pIter;            /* index scans */
  /* Index scans (pIter over index entries) */
  int bIndex;
  KalamBuf idxLo;              /* first entry key in range */
  KalamBuf idxHi;              /* first entry key past it; both kept from
                               ** one query to the next */
  /* Lookups by row id or key: the row ids to fetch, in order */
  sqlite3_int64 *aRowid;       /* kept from one query to the next */
  int nRowid;
  int nRowidAlloc;
  int iNext;
  KalamPin *pPin;              /* value fetched by lookup from the store */
  char *zGot;                  /* value fetched by lookup from the
                               ** transaction's buffer (kalamStoreFree) */
  /* The current row */
  sqlite3_int64 iRowid;
  const char *zVal;
  size_t nVal;
  int bParsed;
  KalamRow row;
  int bCold;                   /* the current row is a cold row of pRows:
                               ** xColumn reads it with kalamRowIterColumn */
  sqlite3_int64 iMinRowid;     /* streams: rows below this have expired */
};


/* A prepared statement that runs once per request (a lookup by id) opens
** and closes a cursor each time; the table keeps the last closed cursor,
** with its row and row id arrays, for the next xOpen. */
int kalamCursorOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  KalamTable *pTab = (KalamTable*)pVtab;
  KalamCursor *pCur = pTab->pSpare;
  if( pTab->pDb ) pTab->pDb->nCursor++;
  if( pCur ){
    KalamRow row = pCur->row;
    sqlite3_int64 *aRowid = pCur->aRowid;
    int nRowidAlloc = pCur->nRowidAlloc;
    KalamBuf idxLo = pCur->idxLo, idxHi = pCur->idxHi;
    pTab->pSpare = 0;
    memset(pCur, 0, sizeof(*pCur));
    pCur->row = row;
    pCur->aRowid = aRowid;
    pCur->nRowidAlloc = nRowidAlloc;
    pCur->idxLo = idxLo;
    pCur->idxHi = idxHi;
  }else{
    pCur = sqlite3_malloc(sizeof(*pCur));
    if( pCur==0 ){
      if( pTab->pDb ) pTab->pDb->nCursor--;
      return SQLITE_NOMEM;
    }
    memset(pCur, 0, sizeof(*pCur));
  }
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

/* Drops the value a lookup fetched. */
static void cursorDropGot(KalamCursor *pCur){
  kalamStorePinFree(pCur->pPin);
  if( pCur->zGot ) kalamStoreFree(pCur->zGot);
  pCur->pPin = 0;
  pCur->zGot = 0;
}

static void cursorReset(KalamCursor *pCur){
  kalamIterDestroy(pCur->pIter);
  kalamRowIterFree(pCur->pRows);
  cursorDropGot(pCur);
  pCur->pIter = 0;
  pCur->pRows = 0;
  pCur->bIndex = 0;
  pCur->nRowid = 0;
  pCur->iNext = 0;
  pCur->bEof = 1;
  pCur->bParsed = 0;
  pCur->bCold = 0;
}

/* Frees a cursor for good (kalamCursorClose keeps one for reuse). */
void kalamCursorFree(KalamCursor *pCur){
  if( pCur==0 ) return;
  cursorReset(pCur);
  kalamRowFree(&pCur->row);
  sqlite3_free(pCur->aRowid);
  kalamBufFree(&pCur->idxLo);
  kalamBufFree(&pCur->idxHi);
  sqlite3_free(pCur);
}

int kalamCursorClose(sqlite3_vtab_cursor *cur){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  cursorReset(pCur);
  if( pTab->pSpare==0 ){
    pTab->pSpare = pCur;
  }else{
    kalamCursorFree(pCur);
  }
  /* The last cursor of an autocommit statement: its read transaction is
  ** over, and an idle connection should not pin a snapshot. */
  if( pTab->pDb ){
    assert( pTab->pDb->nCursor>0 );
    if( --pTab->pDb->nCursor==0 && sqlite3_get_autocommit(pTab->db) ){
      kalamCommitViewRelease(pTab->pDb);
    }
  }
  return SQLITE_OK;
}

/* Does the cursor's query want row iRowid, soft-deleted or not? Not an
** expired stream row; a deleted one only if the WHERE names _deleted. */
static int cursorWanted(KalamCursor *pCur, sqlite3_int64 iRowid,
                        int bDeleted){
  if( iRowid < pCur->iMinRowid ) return 0;
  return !bDeleted || (pCur->idxNum & KALAM_PLAN_TRASH)!=0;
}

/* cursorWanted for a stored row: its value says whether it is deleted. */
static int cursorVisible(KalamCursor *pCur, sqlite3_int64 iRowid,
                         const char *zVal, size_t nVal){
  return cursorWanted(pCur, iRowid, kalamRowIsDeleted(zVal, nVal));
}

/* Makes hot row iRowid, stored as zVal[0..nVal), the current row. */
static void cursorAt(KalamCursor *pCur, sqlite3_int64 iRowid,
                     const char *zVal, size_t nVal){
  pCur->iRowid = iRowid;
  pCur->zVal = zVal;
  pCur->nVal = nVal;
  pCur->bEof = 0;
}

/* Moves a range cursor to the next visible row, starting with the one the
** iterator is on. */
static int cursorScan(KalamCursor *pCur){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  char *zErr = 0;
  int rc;
  pCur->bParsed = 0;
  pCur->bCold = 0;
  while( kalamRowIterValid(pCur->pRows) ){
    size_t nVal;
    const char *zVal;
    sqlite3_int64 iRowid;
    int bDeleted;
    if( kalamRowIterCold(pCur->pRows, &iRowid, &bDeleted) ){
      /* A cold row, in the scan's range by construction: its columns are
      ** read from the cold file's chunks as xColumn asks for them. */
      pTab->pConn->nRowsRead++;
      if( cursorWanted(pCur, iRowid, bDeleted) ){
        pCur->iRowid = iRowid;
        pCur->bCold = 1;
        pCur->bEof = 0;
        return SQLITE_OK;
      }
      kalamRowIterNext(pCur->pRows);
      continue;
    }
    /* A hot row: a row key in the scan's range, which the row iterator
    ** has decoded already (it skips any other key). */
    iRowid = kalamRowIterRowid(pCur->pRows);
    pTab->pConn->nRowsRead++;
    zVal = kalamRowIterValue(pCur->pRows, &nVal);
    if( cursorVisible(pCur, iRowid, zVal, nVal) ){
      cursorAt(pCur, iRowid, zVal, nVal);
      return SQLITE_OK;
    }
    kalamRowIterNext(pCur->pRows);
  }
  pCur->bEof = 1;
  rc = kalamRowIterError(pCur->pRows, &zErr);
  if( rc ) kalamTableError(pTab, zErr);
  return rc;
}

/* Reads row iRowid and, if the cursor wants it, makes it the current row
** and sets *pbFound. A row that is missing or hidden leaves the cursor
** where it was. */
static int cursorFetch(KalamCursor *pCur, sqlite3_int64 iRowid,
                       int *pbFound){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  size_t nVal = 0;
  const char *zVal = 0;
  char *zErr = 0;
  int rc;
  cursorDropGot(pCur);
  rc = kalamRowRead(pTab, pCur->aPrefix, pCur->nPrefix, iRowid, &zVal,
                    &nVal, &pCur->pPin, &pCur->zGot, &zErr);
  if( rc ){
    kalamTableError(pTab, zErr);
    return rc;
  }
  if( zVal ) pTab->pConn->nRowsRead++;
  if( zVal && cursorVisible(pCur, iRowid, zVal, nVal) ){
    cursorAt(pCur, iRowid, zVal, nVal);
    *pbFound = 1;
  }
  return SQLITE_OK;
}

/* Moves a lookup cursor to the next row id of its list that exists. */
static int cursorLookup(KalamCursor *pCur){
  pCur->bParsed = 0;
  while( pCur->iNext < pCur->nRowid ){
    int bFound = 0;
    int rc = cursorFetch(pCur, pCur->aRowid[pCur->iNext++], &bFound);
    if( rc || bFound ) return rc;
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

/* Narrows [*piLo, *piHi] by a bound on the row id, or on _seq (whose
** bounds skip row groups of cold files, cold_scan.c). A value that is no
** number bounds nothing: SQLite tests every constraint again. */
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

/* A PRIMARY KEY bound as a KalamValue borrowing from pVal (cold_scan.c
** keeps only those it can compare statistics with). */
static void cursorKeyBound(sqlite3_value *pVal, int *pbSet, KalamValue *pOut){
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = sqlite3_value_type(pVal);
  switch( pOut->eType ){
    case SQLITE_INTEGER: pOut->i = sqlite3_value_int64(pVal); break;
    case SQLITE_FLOAT:   pOut->r = sqlite3_value_double(pVal); break;
    case SQLITE_TEXT:
      pOut->z = (const char*)sqlite3_value_text(pVal);
      pOut->n = sqlite3_value_bytes(pVal);
      if( pOut->z==0 ) return;
      break;
    case SQLITE_BLOB:
      pOut->z = (const char*)sqlite3_value_blob(pVal);
      pOut->n = sqlite3_value_bytes(pVal);
      if( pOut->z==0 && pOut->n>0 ) return;
      break;
    default:
      return;
  }
  *pbSet = 1;
}

/* Reads the cold-scan arguments of a scan plan (KALAM_PLAN_SEQ_* and
** _KEY_*, in cold.h) from argv[iArg...] into *pF; returns the index of
** the argument after them. */
static int cursorColdFilter(int idxNum, sqlite3_value **argv, int iArg,
                            KalamColdFilter *pF){
  kalamColdFilterInit(pF);
  pF->bLive = (idxNum & KALAM_PLAN_TRASH)==0;
  if( idxNum & KALAM_PLAN_SEQ_LO ){
    sqlite3_value *pVal = argv[iArg++];
    cursorNarrow(pVal, 1, (idxNum & KALAM_PLAN_SEQ_LO_GT)!=0,
                 &pF->iSeqLo, &pF->iSeqHi);
    if( idxNum & KALAM_PLAN_SEQ_EQ ){
      cursorNarrow(pVal, 0, 0, &pF->iSeqLo, &pF->iSeqHi);
    }
  }
  if( idxNum & KALAM_PLAN_SEQ_HI ){
    cursorNarrow(argv[iArg++], 0, (idxNum & KALAM_PLAN_SEQ_HI_LT)!=0,
                 &pF->iSeqLo, &pF->iSeqHi);
  }
  if( idxNum & KALAM_PLAN_KEY_LO ){
    cursorKeyBound(argv[iArg++], &pF->bKeyLo, &pF->keyLo);
  }
  if( idxNum & KALAM_PLAN_KEY_HI ){
    cursorKeyBound(argv[iArg++], &pF->bKeyHi, &pF->keyHi);
  }
  return iArg;
}

/* Can the key index answer "key = pVal"? Not when the key column has TEXT
** affinity and the value is a number: SQLite may then compare with numeric
** affinity (the right-hand side a CAST or an INTEGER column), so that '07',
** '7' and '7.0' all equal 7, while the index holds each text as it is. */
static int cursorKeyNeedsScan(const KalamSchema *pSchema, sqlite3_value *pVal){
  int eCol = pSchema->aCol[pSchema->iPk].eType;
  int eVal = sqlite3_value_type(pVal);
  return (eCol==KALAM_TYPE_TEXT || eCol==KALAM_TYPE_JSON)
      && (eVal==SQLITE_INTEGER || eVal==SQLITE_FLOAT);
}

static int rowidCmp(const void *a, const void *b){
  sqlite3_int64 x = *(const sqlite3_int64*)a, y = *(const sqlite3_int64*)b;
  return x<y ? -1 : (x>y);
}

/* Adds iRowid to the cursor's lookup list. */
static int cursorAddRowid(KalamCursor *pCur, sqlite3_int64 iRowid){
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

/* Adds the row id an EQ value names (directly, or through the key index
** with KALAM_PLAN_PK) to the cursor's lookup list. */
static int cursorAddEq(KalamCursor *pCur, sqlite3_value *pVal){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  sqlite3_int64 iRowid;
  if( pCur->idxNum & KALAM_PLAN_PK ){
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
    rc = kalamTxnGet(pTab->pDb->pTxn, pTab->pCf, key.z, (size_t)key.n, &zGot,
                     &nGot, &zErr);
    kalamBufFree(&key);
    if( rc ){
      kalamTableError(pTab, zErr);
      return rc;
    }
    if( zGot==0 ) return SQLITE_OK;
    if( !kalamKeyRowDecode(zGot, nGot, 0, &iRowid) ){
      kalamStoreFree(zGot);
      kalamTableError(pTab, sqlite3_mprintf("corrupt key index entry in kalam "
          "table %s", pTab->pSchema->zTable));
      return SQLITE_CORRUPT;
    }
    kalamStoreFree(zGot);
  }else if( !cursorRowidValue(pVal, &iRowid) ){
    return SQLITE_OK;
  }
  return cursorAddRowid(pCur, iRowid);
}

/* Moves an index cursor to the next visible row, starting with the entry
** the iterator is on: each entry in range names a row by its id, read
** under the cursor's owner prefix. */
static int cursorIndexScan(KalamCursor *pCur){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  int bDesc = (pCur->idxNum & KALAM_PLAN_DESC)!=0;
  char *zErr = 0;
  int rc;
  pCur->bParsed = 0;
  while( kalamIterValid(pCur->pIter) ){
    size_t nKey, nEntry;
    const char *zKey = kalamIterKey(pCur->pIter, &nKey);
    const char *zEntry;
    sqlite3_int64 iRowid;
    int bFound = 0;
    if( bDesc ? kalamKeyCmp(zKey, nKey, pCur->idxLo.z, (size_t)pCur->idxLo.n)<0
              : kalamKeyCmp(zKey, nKey, pCur->idxHi.z, (size_t)pCur->idxHi.n)>=0 ){
      break;
    }
    zEntry = kalamIterValue(pCur->pIter, &nEntry);
    if( !kalamKeyRowDecode(zEntry, nEntry, 0, &iRowid) ){
      kalamTableError(pTab, sqlite3_mprintf("corrupt index entry in kalam "
          "table %s", pTab->pSchema->zTable));
      return SQLITE_CORRUPT;
    }
    rc = cursorFetch(pCur, iRowid, &bFound);
    if( rc || bFound ) return rc;
    kalamIterNext(pCur->pIter);
  }
  pCur->bEof = 1;
  rc = kalamIterError(pCur->pIter, &zErr);
  if( rc ) kalamTableError(pTab, zErr);
  return rc;
}

/* xFilter of an index plan: the range of index entries index.c makes of
** the arguments, read forwards or backwards. */
static int cursorIndexFilter(KalamCursor *pCur, int idxNum,
                             sqlite3_value **argv){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  int iIndex = (idxNum >> 16) & 0xff;
  int nEq = (idxNum >> 24) & 0x3f;
  int flags = 0, bEmpty = 0, bWhole = 0;
  int rc;
  assert( iIndex < pTab->pSchema->nIndex );
  if( idxNum & KALAM_PLAN_LO ) flags |= KALAM_INDEX_LO;
  if( idxNum & KALAM_PLAN_LO_GT ) flags |= KALAM_INDEX_LO_GT;
  if( idxNum & KALAM_PLAN_HI ) flags |= KALAM_INDEX_HI;
  if( idxNum & KALAM_PLAN_HI_LT ) flags |= KALAM_INDEX_HI_LT;
  rc = kalamIndexRange(pTab->pSchema, iIndex, pCur->aPrefix, pCur->nPrefix,
                       nEq, flags, argv, &pCur->idxLo, &pCur->idxHi, &bEmpty,
                       &bWhole);
  if( rc ) return rc;
  if( bEmpty ){
    pCur->bEof = 1;
    return SQLITE_OK;
  }
  if( bWhole ){
    /* A whole UNIQUE key: one point read, as for a PRIMARY KEY, and the
    ** row it names, if any, read as a lookup. */
    char *zGot = 0, *zErr = 0;
    size_t nGot = 0;
    sqlite3_int64 iRowid;
    rc = kalamTxnGet(pTab->pDb->pTxn, pTab->pCf, pCur->idxLo.z,
                     (size_t)pCur->idxLo.n, &zGot, &nGot, &zErr);
    if( rc ){
      kalamTableError(pTab, zErr);
      return rc;
    }
    if( zGot ){
      int bOk = kalamKeyRowDecode(zGot, nGot, 0, &iRowid);
      kalamStoreFree(zGot);
      if( !bOk ){
        kalamTableError(pTab, sqlite3_mprintf("corrupt index entry in kalam "
            "table %s", pTab->pSchema->zTable));
        return SQLITE_CORRUPT;
      }
      rc = cursorAddRowid(pCur, iRowid);
      if( rc ) return rc;
    }
    return cursorLookup(pCur);
  }
  pCur->bIndex = 1;
  pCur->pIter = kalamTxnIterator(pTab->pDb->pTxn, pTab->pCf,
                                 pCur->idxLo.z, (int)pCur->idxLo.n,
                                 pCur->idxHi.z, (int)pCur->idxHi.n, 0);
  if( pCur->pIter==0 ) return SQLITE_NOMEM;
  if( idxNum & KALAM_PLAN_DESC ){
    kalamIterSeekForPrev(pCur->pIter, pCur->idxHi.z, (size_t)pCur->idxHi.n);
    /* The end bound is exclusive: an entry equal to it is not in range. */
    if( kalamIterValid(pCur->pIter) ){
      size_t n;
      const char *z = kalamIterKey(pCur->pIter, &n);
      if( kalamKeyCmp(z, n, pCur->idxHi.z, (size_t)pCur->idxHi.n)>=0 ){
        kalamIterNext(pCur->pIter);
      }
    }
  }else{
    kalamIterSeek(pCur->pIter, pCur->idxLo.z, (size_t)pCur->idxLo.n);
  }
  return cursorIndexScan(pCur);
}

/* xFilter: THE PLAN ENCODING (plan.c) says what idxNum and argv hold. */
int kalamCursorFilter(sqlite3_vtab_cursor *cur, int idxNum,
                      const char *idxStr, int argc, sqlite3_value **argv){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  int iArg = 0;
  int rc;
  (void)idxStr; (void)argc;

  cursorReset(pCur);
  pCur->idxNum = idxNum;
  if( pTab->zBroken ){
    kalamTableError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
    return SQLITE_CORRUPT;
  }
  rc = kalamTableOwnerPrefix(pTab, pCur->aPrefix, &pCur->nPrefix);
  if( rc ) return rc;
  {
    /* Read the store as of the commit SQLite's snapshot shows. */
    char *zErr = 0;
    rc = kalamCommitView(pTab->pDb, &zErr);
    if( rc ){
      kalamTableError(pTab, zErr);
      return rc;
    }
  }
  pCur->iMinRowid = INT64_MIN;
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    pCur->iMinRowid = kalamSnowflakeMin(kalamNowMs()
                                        - pTab->pSchema->nTtlSeconds*1000);
  }

  if( idxNum & KALAM_PLAN_INDEX ){
    return cursorIndexFilter(pCur, idxNum, argv);
  }
  if( (idxNum & KALAM_PLAN_PK) && cursorKeyNeedsScan(pTab->pSchema, argv[0]) ){
    /* Not a lookup after all: scan, and let SQLite's test decide. */
    idxNum &= ~(KALAM_PLAN_EQ|KALAM_PLAN_PK|KALAM_PLAN_IN);
    pCur->idxNum = idxNum;
    iArg = 1;
  }
  if( idxNum & KALAM_PLAN_EQ ){
    int i, j;
    sqlite3_value *pList = argv[iArg++];
    sqlite3_value *pVal = pList;
    if( idxNum & KALAM_PLAN_IN ){
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
    if( idxNum & KALAM_PLAN_DESC ){
      for(i=0; i<j/2; i++){
        sqlite3_int64 t = pCur->aRowid[i];
        pCur->aRowid[i] = pCur->aRowid[j-1-i];
        pCur->aRowid[j-1-i] = t;
      }
    }
    assert( iArg<=argc );
    return cursorLookup(pCur);
  }else{
    sqlite3_int64 iLo = INT64_MIN, iHi = INT64_MAX;
    int flags = 0;
    KalamColdFilter filter;
    if( idxNum & KALAM_PLAN_LO ){
      cursorNarrow(argv[iArg++], 1, (idxNum & KALAM_PLAN_LO_GT)!=0, &iLo, &iHi);
    }
    if( idxNum & KALAM_PLAN_HI ){
      cursorNarrow(argv[iArg++], 0, (idxNum & KALAM_PLAN_HI_LT)!=0, &iLo, &iHi);
    }
    if( idxNum & KALAM_PLAN_TS_EQ ){
      cursorNarrowTs(argv[iArg], 1, 0, &iLo, &iHi);
      cursorNarrowTs(argv[iArg++], 0, 0, &iLo, &iHi);
    }else if( idxNum & KALAM_PLAN_TS_LO ){
      cursorNarrowTs(argv[iArg++], 1, (idxNum & KALAM_PLAN_TS_LO_GT)!=0, &iLo, &iHi);
    }
    if( idxNum & KALAM_PLAN_TS_HI ){
      cursorNarrowTs(argv[iArg++], 0, (idxNum & KALAM_PLAN_TS_HI_LT)!=0, &iLo, &iHi);
    }
    iArg = cursorColdFilter(idxNum, argv, iArg, &filter);
    if( pCur->iMinRowid > iLo ) iLo = pCur->iMinRowid;
    if( iLo > iHi ){
      pCur->bEof = 1;
      return SQLITE_OK;
    }
    if( (idxNum & KALAM_PLAN_BULK) && pCur->nPrefix==0 ){
      /* A full scan of a large table would only push the blocks that
      ** point lookups need out of the cache. It reads the table files
      ** front to back: reading ahead 1 MB at a time took a third off a
      ** million-row scan (docs/performance.md). */
      flags = KALAM_ITER_BULK;
    }
    {
      char *zErr = 0;
      pCur->pRows = kalamRowIterScan(pTab, pCur->aPrefix, pCur->nPrefix, iLo,
                                     iHi, (idxNum & KALAM_PLAN_DESC)!=0, flags,
                                     &filter, &rc, &zErr);
      if( pCur->pRows==0 ){
        if( zErr ) kalamTableError(pTab, zErr);
        return rc ? rc : SQLITE_NOMEM;
      }
    }
    assert( iArg<=argc );
    return cursorScan(pCur);
  }
}

int kalamCursorNext(sqlite3_vtab_cursor *cur){
  KalamCursor *pCur = (KalamCursor*)cur;
  if( pCur->pRows ){
    kalamRowIterNext(pCur->pRows);
    return cursorScan(pCur);
  }
  if( pCur->pIter ){
    kalamIterNext(pCur->pIter);
    return cursorIndexScan(pCur);
  }
  return cursorLookup(pCur);
}

int kalamCursorEof(sqlite3_vtab_cursor *cur){
  return ((KalamCursor*)cur)->bEof;
}

/* Reports the cursor's row as damaged, from xColumn. */
static int cursorCorrupt(KalamCursor *pCur, sqlite3_context *ctx, int rc){
  KalamTable *pTab = (KalamTable*)pCur->base.pVtab;
  return kalamFuncError(ctx, rc,
                        kalamRowCorruptMessage(pTab->pSchema, pCur->iRowid));
}

/* xColumn: a user column, then the kind's system columns (schema.c). */
int kalamCursorColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                      int iCol){
  KalamCursor *pCur = (KalamCursor*)cur;
  KalamTable *pTab = (KalamTable*)cur->pVtab;
  const KalamSchema *pSchema = pTab->pSchema;
  int iSlot = -1;
  int rc;

  if( iCol<pSchema->nCol && pSchema->bIntPk && iCol==pSchema->iPk ){
    sqlite3_result_int64(ctx, pCur->iRowid);
    return SQLITE_OK;
  }
  if( iCol>=pSchema->nCol ){
    const KalamSysColumn *aSys;
    int nSys = kalamSysColumns(pSchema->eKind, &aSys);
    assert( iCol - pSchema->nCol < nSys );
    (void)nSys;
    iSlot = aSys[iCol - pSchema->nCol].iSlot;
    if( iSlot==KALAM_SYS_UPDATED && pSchema->eKind==KALAM_KIND_STREAM ){
      /* _ts: the time inside the snowflake row id, no row to read. */
      sqlite3_result_int64(ctx, kalamSnowflakeMs(pCur->iRowid));
      return SQLITE_OK;
    }
  }
  /* In an UPDATE, columns the statement does not set are not needed:
  ** xUpdate copies their stored JSON unchanged, and system columns it does
  ** not set are not writes to them. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  if( pCur->bCold ) return kalamRowIterColumn(pCur->pRows, iCol, ctx);
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
    rc = kalamRowSystem(&pCur->row, pSchema, iSlot, &v);
    if( rc ){
      return cursorCorrupt(pCur, ctx, rc);
    }
    sqlite3_result_int64(ctx, v);
  }
  return SQLITE_OK;
}

int kalamCursorRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((KalamCursor*)cur)->iRowid;
  return SQLITE_OK;
}
