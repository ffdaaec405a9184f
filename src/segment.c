/*
** segment.c — the cold tier's records: which Parquet files hold a table's
** flushed rows, and where those files live.
**
** A flushed file is a "segment". Each has one record in the table's
** column family, under the owner prefix of the rows it holds:
**
**   <owner> 'f' <file number: 8 bytes big-endian>  ->  record
**
** The file number is a snowflake id drawn at the flush, so a later flush
** of the same owner has a larger number (and its rows are newer). The
** record is 7 integers of 8 bytes big-endian, then the file's path
** relative to the store directory:
**
**   rows, min _seq, max _seq, bytes, min _rowid, max _rowid, reserved (0),
**   "cold/<table>/[<user>/]<column family>-<file number>.parquet"
**
** Records are published in the same RocksDB write that removes the flushed
** rows (flush.c), read through the connection's view like rows, and go with
** their owner's range (kalam_erase_user) or the column family (DROP TABLE).
**
** Folder names: a table name (in lower case) or a user id becomes a folder
** name with the bytes A-Z a-z 0-9 _ - kept and every other byte written
** %XX (two upper-case hex digits), so that no name holds a '/' or a '.'
** and none can be ".", "..", or climb out of the cold folder.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

#define SEG_HEADER 56   /* seven 8-byte integers */

/* Appends zName (n bytes; lower-cased if bLower) as a folder name. */
void kalamColdNameEncode(KalamBuf *p, const char *zName, int n, int bLower){
  static const char aHex[] = "0123456789ABCDEF";
  int i;
  for(i=0; i<n; i++){
    unsigned char c = (unsigned char)zName[i];
    if( bLower && c>='A' && c<='Z' ) c = (unsigned char)(c + 32);
    if( (c>='a' && c<='z') || (c>='A' && c<='Z') || (c>='0' && c<='9')
     || c=='_' || c=='-' ){
      kalamBufAppendChar(p, (char)c);
    }else{
      kalamBufAppendChar(p, '%');
      kalamBufAppendChar(p, aHex[c>>4]);
      kalamBufAppendChar(p, aHex[c&15]);
    }
  }
}

/* The key of segment iNum of an owner, into aOut (KALAM_ROWKEY_MAX). */
int kalamSegmentKey(char *aOut, const char *aPrefix, int nPrefix,
                    sqlite3_int64 iNum){
  memcpy(aOut, aPrefix, (size_t)nPrefix);
  aOut[nPrefix] = KALAM_TAG_COLD;
  kalamPut64((unsigned char*)aOut + nPrefix + 1, iNum);
  return nPrefix + 9;
}

/* The record of *pSeg (its zRel, the path relative to the store) into p. */
void kalamSegmentEncode(KalamBuf *p, const KalamSegment *pSeg){
  unsigned char a[SEG_HEADER];
  kalamPut64(a, pSeg->nRows);
  kalamPut64(a + 8, pSeg->iMinSeq);
  kalamPut64(a + 16, pSeg->iMaxSeq);
  kalamPut64(a + 24, pSeg->nBytes);
  kalamPut64(a + 32, pSeg->iMinRowid);
  kalamPut64(a + 40, pSeg->iMaxRowid);
  kalamPut64(a + 48, 0);
  p->n = 0;
  kalamBufAppend(p, a, SEG_HEADER);
  kalamBufAppendStr(p, pSeg->zRel);
}

/* Reads the record at key zKey (of an owner prefix nPrefix long) and value
** zVal into *pSeg, its zPath the absolute path of the file under store
** directory zDir (sqlite3_free it, or kalamSegmentClear). SQLITE_CORRUPT,
** with no message, when the key or record is not one flush.c writes. */
int kalamSegmentDecode(const char *zKey, size_t nKey, int nPrefix,
                       const char *zVal, size_t nVal, const char *zDir,
                       KalamSegment *pSeg){
  const unsigned char *a = (const unsigned char*)zVal;
  size_t i;
  memset(pSeg, 0, sizeof(*pSeg));
  if( nKey!=(size_t)nPrefix + 9 || zKey[nPrefix]!=KALAM_TAG_COLD
   || nVal<=SEG_HEADER || nVal>SEG_HEADER + 4096 ){
    return SQLITE_CORRUPT;
  }
  /* The path is flush.c's: encoded names, '/', '-' and ".parquet". */
  for(i=SEG_HEADER; i<nVal; i++){
    if( a[i]<=' ' || a[i]>=0x7f ) return SQLITE_CORRUPT;
  }
  pSeg->iNum = (sqlite3_int64)kalamGet64((const unsigned char*)zKey
                                         + nPrefix + 1);
  pSeg->nRows = (sqlite3_int64)kalamGet64(a);
  pSeg->iMinSeq = (sqlite3_int64)kalamGet64(a + 8);
  pSeg->iMaxSeq = (sqlite3_int64)kalamGet64(a + 16);
  pSeg->nBytes = (sqlite3_int64)kalamGet64(a + 24);
  pSeg->iMinRowid = (sqlite3_int64)kalamGet64(a + 32);
  pSeg->iMaxRowid = (sqlite3_int64)kalamGet64(a + 40);
  if( nVal - SEG_HEADER < 5 || memcmp(zVal + SEG_HEADER, "cold/", 5)!=0 ){
    return SQLITE_CORRUPT;
  }
  for(i=SEG_HEADER; i+1<nVal; i++){
    if( zVal[i]=='.' && zVal[i+1]=='.' ) return SQLITE_CORRUPT;
  }
  pSeg->zRel = sqlite3_mprintf("%.*s", (int)(nVal - SEG_HEADER),
                               zVal + SEG_HEADER);
  pSeg->zPath = pSeg->zRel ? sqlite3_mprintf("%s/%s", zDir, pSeg->zRel) : 0;
  if( pSeg->zPath==0 ){
    kalamSegmentClear(pSeg);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

void kalamSegmentClear(KalamSegment *pSeg){
  sqlite3_free(pSeg->zPath);
  sqlite3_free(pSeg->zRel);
  pSeg->zPath = 0;
  pSeg->zRel = 0;
}

void kalamSegmentListFree(KalamSegment *aSeg, int nSeg){
  int i;
  for(i=0; i<nSeg; i++) kalamSegmentClear(&aSeg[i]);
  sqlite3_free(aSeg);
}

/* The segments of one owner as of view pView (NULL: the newest commit),
** oldest first, into *paSeg (kalamSegmentListFree). Only flushes write
** records, never a transaction, so the view alone has them all. */
int kalamSegmentList(KalamView *pView, KalamStore *pStore, KalamCf *pCf,
                     const char *aPrefix, int nPrefix, const char *zTable,
                     KalamSegment **paSeg, int *pnSeg, char **pzErr){
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi, nSeg = 0, nAlloc = 0, rc = SQLITE_OK;
  KalamSegment *aSeg = 0;
  KalamStoreIter *pIter;
  *paSeg = 0;
  *pnSeg = 0;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_COLD, aLo, &nLo, aHi, &nHi);
  pIter = kalamStoreIterNew(pStore, pView, pCf, aLo, nLo, aHi, nHi, 0);
  if( pIter==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIter, aLo, (size_t)nLo); kalamStoreIterValid(pIter);
      kalamStoreIterNext(pIter)){
    size_t nKey, nVal;
    const char *zKey = kalamStoreIterKey(pIter, &nKey);
    const char *zVal = kalamStoreIterValue(pIter, &nVal);
    if( kalamKeyCmp(zKey, nKey, aHi, (size_t)nHi)>=0 ) break;
    if( nSeg>=nAlloc ){
      int nNew = nAlloc ? nAlloc*2 : 4;
      KalamSegment *aNew = sqlite3_realloc64(aSeg, sizeof(*aSeg)*(size_t)nNew);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      aSeg = aNew;
      nAlloc = nNew;
    }
    rc = kalamSegmentDecode(zKey, nKey, nPrefix, zVal, nVal,
                            kalamStorePath(pStore), &aSeg[nSeg]);
    if( rc==SQLITE_CORRUPT ){
      *pzErr = sqlite3_mprintf("corrupt cold segment record in kalam table "
                               "%s", zTable);
    }
    if( rc ) break;
    nSeg++;
  }
  if( rc==SQLITE_OK ){
    rc = kalamStoreIterError(pIter, "kalam: cannot read the cold segments",
                             pzErr);
  }
  kalamStoreIterFree(pIter);
  if( rc ){
    kalamSegmentListFree(aSeg, nSeg);
    return rc;
  }
  *paSeg = aSeg;
  *pnSeg = nSeg;
  return SQLITE_OK;
}

/* The rows of user zUser's segments in column family pCf, as of the
** newest commit, into *pn (a row flushed twice counts twice). */
int kalamColdUserRows(KalamStore *pStore, KalamCf *pCf, const char *zUser,
                      sqlite3_int64 *pn, char **pzErr){
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix = kalamKeyPrefix(aPrefix, zUser);
  KalamSegment *aSeg = 0;
  int nSeg = 0, i, rc;
  *pn = 0;
  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  rc = kalamSegmentList(0, pStore, pCf, aPrefix, nPrefix, zUser, &aSeg, &nSeg,
                        pzErr);
  for(i=0; i<nSeg; i++) *pn += aSeg[i].nRows;
  kalamSegmentListFree(aSeg, nSeg);
  return rc;
}

/* Calls xOwner for each owner of a kalam_user table's column family (as
** of the newest commit), one seek per owner: its first key, then the end
** of its range. Stops at the first error xOwner returns. */
int kalamColdOwners(KalamStore *pStore, KalamCf *pCf, const char *zTable,
                    int (*xOwner)(void*, const char*, int, char**),
                    void *pArg, char **pzErr){
  KalamStoreIter *pIt;
  int rc = SQLITE_OK;
  pIt = kalamStoreIterNew(pStore, 0, pCf, 0, 0, 0, 0, KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  kalamStoreIterFirst(pIt);
  while( rc==SQLITE_OK && kalamStoreIterValid(pIt) ){
    size_t nKey;
    const char *zKey = kalamStoreIterKey(pIt, &nKey);
    char aOwner[KALAM_MAX_PREFIX];
    char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
    int nOwner = kalamKeyOwnerLength(zKey, nKey), nLo, nHi;
    if( nOwner==1 ){
      /* 0x00: keys of the table as a whole, no user's. */
      kalamKeyOwnerRange(zKey, 1, aLo, &nLo, aHi, &nHi);
      kalamStoreIterSeek(pIt, aHi, (size_t)nHi);
      continue;
    }
    if( nOwner<2 || memchr(zKey + 1, 0, (size_t)nOwner - 1) ){
      *pzErr = sqlite3_mprintf("kalam table %s has a key with no valid "
                               "owner", zTable);
      rc = SQLITE_CORRUPT;
      break;
    }
    memcpy(aOwner, zKey, (size_t)nOwner);
    rc = xOwner(pArg, aOwner, nOwner, pzErr);
    kalamKeyOwnerRange(aOwner, nOwner, aLo, &nLo, aHi, &nHi);
    kalamStoreIterSeek(pIt, aHi, (size_t)nHi);
  }
  if( rc==SQLITE_OK ){
    rc = kalamStoreIterError(pIt, "kalam: cannot read a table's users",
                             pzErr);
  }
  kalamStoreIterFree(pIt);
  return rc;
}

/* kalamColdAny's callback: stops (SQLITE_DONE) at an owner with a record. */
static int segAnyOwner(void *pArg, const char *aPrefix, int nPrefix,
                       char **pzErr){
  void **a = (void**)pArg;
  KalamStore *pStore = (KalamStore*)a[0];
  KalamCf *pCf = (KalamCf*)a[1];
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  KalamStoreIter *pIt;
  int nLo, nHi, bAny, rc;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_COLD, aLo, &nLo, aHi, &nHi);
  pIt = kalamStoreIterNew(pStore, 0, pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
  bAny = kalamStoreIterValid(pIt);
  rc = kalamStoreIterError(pIt, "kalam: cannot read the cold segments",
                           pzErr);
  kalamStoreIterFree(pIt);
  return rc ? rc : bAny ? SQLITE_DONE : SQLITE_OK;
}

/* Has the table of column family pCf (of kind eKind) any cold segment, of
** any owner, as of the newest commit? */
int kalamColdAny(KalamStore *pStore, KalamCf *pCf, int eKind,
                 const char *zTable, int *pbAny, char **pzErr){
  void *a[2];
  int rc;
  *pbAny = 0;
  if( kalamStoreIsMemory(pStore) || eKind==KALAM_KIND_STREAM ) return 0;
  a[0] = pStore;
  a[1] = pCf;
  if( eKind==KALAM_KIND_USER ){
    rc = kalamColdOwners(pStore, pCf, zTable, segAnyOwner, a, pzErr);
  }else{
    rc = segAnyOwner(a, "", 0, pzErr);
  }
  if( rc==SQLITE_DONE ){
    *pbAny = 1;
    rc = SQLITE_OK;
  }
  return rc;
}
