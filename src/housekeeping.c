/*
** housekeeping.c — removing rows for good, and when it happens.
**
**   kalamPurge      hard-deletes soft-deleted rows (kalam_purge, and
**                   deleted_retention_hours)
**   kalamExpire     removes a stream's rows older than its ttl
**                   (kalam_expire, and streams' writers)
**   kalamEraseUser  removes every row of one user of a kalam_user table
**                   (kalam_erase_user)
**   kalamHousekeep  the one place that decides when a table's own use
**                   runs the first two
**
** These act on committed rows and take effect at once, whatever
** transaction the calling connection has open: they are housekeeping, not
** data changes, and each is one atomic write to the store. The SQL
** functions that call them are in functions.c.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>

SQLITE_EXTENSION_INIT3

/* A schema with no user columns: enough to read a row's system columns. */
static const KalamSchema hkNoColumns = {0};

/* Counts the row keys in [aLo, aHi) of a column family under an owner
** prefix of nPrefix bytes, reading keys only; *piLast is the row id of the
** last one (0 if none). Each row goes into *ppSub too (unless ppSub is
** NULL) when a subscription wants the table's hard deletes (subscribe.c),
** and with
** pExpiry (a per-user stream's rows) its expiry entry is deleted there. */
static int hkCount(KalamStore *pStore, KalamCf *pCf, const char *aLo, int nLo,
                   const char *aHi, int nHi, int nPrefix, sqlite3_int64 *pn,
                   sqlite3_int64 *piLast, KalamSubBatch **ppSub,
                   KalamBatch *pExpiry, char **pzErr){
  KalamStoreIter *pIt;
  sqlite3_int64 n = 0;
  int bSub = ppSub && kalamSubscribeWanted(pStore, pCf);
  int rc = SQLITE_OK;
  *piLast = 0;
  pIt = kalamStoreIterNew(pStore, 0, pCf, 0, 0, aHi, nHi, KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo); kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    size_t nKey;
    const char *zKey = kalamStoreIterKey(pIt, &nKey);
    if( kalamKeyRowDecode(zKey, nKey, nPrefix, piLast) && pExpiry ){
      char aEntry[KALAM_EXPIRYKEY_MAX];
      int nEntry = kalamKeyExpiry(aEntry, *piLast, zKey, nPrefix);
      kalamBatchDelete(pExpiry, pCf, aEntry, (size_t)nEntry);
    }
    n++;
    if( bSub && rc==SQLITE_OK ){
      size_t nVal;
      const char *zVal = kalamStoreIterValue(pIt, &nVal);
      rc = kalamSubscribeHardDelete(ppSub, pStore, pCf, 0, zKey, nKey,
                                    nPrefix, zVal, nVal);
    }
  }
  if( rc==SQLITE_OK ) rc = kalamStoreIterError(pIt, "kalam read failed", pzErr);
  kalamStoreIterFree(pIt);
  if( rc==SQLITE_OK ) *pn = n;
  return rc;
}

/* The owner prefix length of a stored key: nPrefix, or for nPrefix<0
** (every owner of a kalam_user table) read from the key itself. -1 for a
** key too short to be kalam's. */
static int hkKeyPrefix(const char *zKey, size_t nKey, int nPrefix){
  if( nPrefix<0 ) return kalamKeyOwnerLength(zKey, nKey);
  return (size_t)nPrefix < nKey ? nPrefix : -1;
}

/* One owner's horizon keys (feed.c) while a purge goes through its keys:
** every horizon key but the newest is removed, and the newest _seq of a
** purged row becomes the horizon if it is newer. */
typedef struct HkHorizon HkHorizon;
struct HkHorizon {
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  int bOwner;               /* aPrefix holds an owner being gone through */
  sqlite3_int64 iNewest;    /* its newest horizon key met, 0 if none */
  sqlite3_int64 iGone;      /* the newest _seq of its rows purged */
};

/* Ends the owner being gone through: its horizon into pBatch. */
static void hkHorizonEnd(HkHorizon *h, KalamBatch *pBatch, KalamCf *pCf){
  if( h->bOwner && h->iGone > h->iNewest ){
    if( h->iNewest ){
      char aKey[KALAM_ROWKEY_MAX];
      int nKey = kalamKeyNumbered(aKey, h->aPrefix, h->nPrefix,
                                  KALAM_TAG_HORIZON, h->iNewest);
      kalamBatchDelete(pBatch, pCf, aKey, (size_t)nKey);
    }
    kalamFeedHorizonAdd(0, pBatch, pCf, h->aPrefix, h->nPrefix, h->iGone);
  }
  h->bOwner = 0;
}

/* Makes zKey's owner (np bytes) the one gone through. */
static void hkHorizonOwner(HkHorizon *h, const char *zKey, int np,
                           KalamBatch *pBatch, KalamCf *pCf){
  if( h->bOwner && h->nPrefix==np && memcmp(h->aPrefix, zKey, (size_t)np)==0 ){
    return;
  }
  hkHorizonEnd(h, pBatch, pCf);
  memcpy(h->aPrefix, zKey, (size_t)np);
  h->nPrefix = np;
  h->bOwner = 1;
  h->iNewest = h->iGone = 0;
}

/* A horizon key of the owner, met in key order: the one met before it is
** older, and goes. */
static void hkHorizonKey(HkHorizon *h, const char *zKey, size_t nKey,
                         KalamBatch *pBatch, KalamCf *pCf){
  sqlite3_int64 iSeq;
  if( !kalamKeyNumberedDecode(zKey, nKey, h->nPrefix, KALAM_TAG_HORIZON,
                              &iSeq) ){
    return;
  }
  if( h->iNewest ){
    char aKey[KALAM_ROWKEY_MAX];
    int nOld = kalamKeyNumbered(aKey, h->aPrefix, h->nPrefix,
                                KALAM_TAG_HORIZON, h->iNewest);
    kalamBatchDelete(pBatch, pCf, aKey, (size_t)nOld);
  }
  h->iNewest = iSeq;
}

/* Reads one owner's horizon keys into h (a purge of one owner reads only
** its rows' range, so it meets them here instead). */
static int hkHorizonRead(HkHorizon *h, KalamStore *pStore, KalamCf *pCf,
                         const char *aPrefix, int nPrefix,
                         KalamBatch *pBatch, char **pzErr){
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi, rc;
  KalamStoreIter *pIt;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_HORIZON, aLo, &nLo, aHi, &nHi);
  hkHorizonOwner(h, aLo, nPrefix, pBatch, pCf);
  pIt = kalamStoreIterNew(pStore, 0, pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo); kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    size_t nKey;
    const char *zKey = kalamStoreIterKey(pIt, &nKey);
    hkHorizonKey(h, zKey, nKey, pBatch, pCf);
  }
  rc = kalamStoreIterError(pIt, "kalam_purge failed", pzErr);
  kalamStoreIterFree(pIt);
  return rc;
}

/* What kalamColdPurge's callback needs: the purge's list of row keys
** (one slot each, as kalamPurge keeps them), its write, its horizon, and
** what tells subscriptions of the rows. */
typedef struct HkGone HkGone;
struct HkGone {
  KalamBuf *pGone;
  sqlite3_int64 *pn;
  KalamBatch *pBatch;
  KalamStore *pStore;
  KalamCf *pCf;
  HkHorizon *pHorizon;
  KalamTable *pTab;         /* reads the cold rows, or NULL */
  KalamSubBatch **ppSub;    /* the purge's hard deletes, when wanted */
  char **pzErr;
};

/* A cold row purged, for the subscriptions on its table: the same hard
** delete a hot row's purge gives them, its old state read from its file
** through the table (as the connection sees it: the newest commit unless
** a transaction or statement holds an older view). A row that cannot be
** read so is told of with no columns ("{}"), so that no hard delete is
** lost. */
static int hkGoneTell(HkGone *p, const char *zKey, int nKey, int np){
  static const char zNone[] = "{}";
  sqlite3_int64 iRowid = 0;
  char *zOld = 0;
  size_t nOld = 0;
  int rc = SQLITE_OK;
  if( p->pTab && kalamKeyRowDecode(zKey, (size_t)nKey, np, &iRowid) ){
    rc = kalamRowReadCopy(p->pTab, zKey, np, iRowid, &zOld, &nOld, p->pzErr);
  }
  if( rc==SQLITE_OK && zOld ){
    rc = kalamSubscribeHardDelete(p->ppSub, p->pStore, p->pCf,
                                  p->pTab->pSchema, zKey, (size_t)nKey, np,
                                  zOld, nOld);
  }else if( rc==SQLITE_OK ){
    rc = kalamSubscribeHardDelete(p->ppSub, p->pStore, p->pCf, 0, zKey,
                                  (size_t)nKey, np, zNone, sizeof(zNone)-1);
  }
  if( zOld ) kalamStoreFree(zOld);
  return rc;
}

/* A cold row purged (cold_read.c): its key among the purged, its change
** entry removed, its _seq into its owner's horizon, subscriptions told. */
static int hkGoneAdd(void *pArg, const char *zKey, int nKey, int np,
                     sqlite3_int64 iSeq){
  HkGone *p = (HkGone*)pArg;
  char aRow[KALAM_ROWKEY_MAX + 1];
  char aSeq[KALAM_ROWKEY_MAX];
  int nSeq;
  if( nKey > KALAM_ROWKEY_MAX ) return SQLITE_OK;
  if( p->ppSub ){
    int rc = hkGoneTell(p, zKey, nKey, np);
    if( rc ) return rc;
  }
  memset(aRow, 0, sizeof(aRow));
  memcpy(aRow, zKey, (size_t)nKey);
  aRow[KALAM_ROWKEY_MAX] = (char)nKey;
  kalamBufAppend(p->pGone, aRow, sizeof(aRow));
  if( p->pGone->oom ) return SQLITE_NOMEM;
  (*p->pn)++;
  nSeq = kalamKeyNumbered(aSeq, zKey, np, KALAM_TAG_SEQ, iSeq);
  kalamBatchDelete(p->pBatch, p->pCf, aSeq, (size_t)nSeq);
  hkHorizonOwner(p->pHorizon, zKey, np, p->pBatch, p->pCf);
  if( iSeq > p->pHorizon->iGone ) p->pHorizon->iGone = iSeq;
  return SQLITE_OK;
}

static int hkSlotCmp(const void *a, const void *b){
  return memcmp(a, b, KALAM_ROWKEY_MAX + 1);
}

/* Hard-deletes soft-deleted rows deleted before iBeforeMs (INT64_MAX: all
** of them), with their key-index and index entries, in one write.
** aPrefix/nPrefix is the owner (empty for shared tables, one user for
** kalam_user); nPrefix<0 means every owner of a kalam_user table
** (deleted_retention_hours). Pass 1 collects the row keys to purge, in
** key order; passes 2 and 3 remove the key-index and index entries (each
** holds its row's id as its value) that point at one of them (one pass
** for both when it reads every owner anyway). Each purged row's change
** entry goes too, and its owner's horizon moves to the newest of their
** _seq (feed.c). Subscriptions are told of each row (subscribe.c): pTab,
** the table as the calling connection has it (or NULL), reads the purged
** cold rows for them. *pn is the number of rows removed. */
int kalamPurge(KalamStore *pStore, KalamCf *pCf, KalamTable *pTab,
               const char *aPrefix, int nPrefix, sqlite3_int64 iBeforeMs,
               sqlite3_int64 *pn, char **pzErr){
  KalamStoreIter *pIt = 0;
  KalamBatch *pBatch = 0;
  KalamBuf gone;    /* purged row keys in key order, one slot each: the key,
                    ** zero padded (no row key is a prefix of another, so
                    ** slots compare as the keys do), then its length */
  sqlite3_int64 nGone = 0;
  KalamRow row;
  HkHorizon horizon;
  KalamSubBatch *pSub = 0;
  int bSub = kalamSubscribeWanted(pStore, pCf);
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  const int nSlot = KALAM_ROWKEY_MAX + 1;
  int bAll = nPrefix<0;
  int pass;
  int rc = SQLITE_OK;

  assert( nPrefix<=KALAM_MAX_PREFIX );
  memset(&row, 0, sizeof(row));
  memset(&horizon, 0, sizeof(horizon));
  kalamBufInit(&gone);
  *pn = 0;
  pBatch = kalamBatchNew();
  if( pBatch==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( !bAll ){
    rc = hkHorizonRead(&horizon, pStore, pCf, aPrefix, nPrefix, pBatch,
                       pzErr);
    if( rc ) goto done;
  }

  for(pass=0; pass<3 && rc==SQLITE_OK; pass++){
    char cTag = pass==0 ? KALAM_TAG_ROW : pass==1 ? KALAM_TAG_KEY
                                                   : KALAM_TAG_INDEX;
    int nLo = 0, nHi = 0;
    if( pass>0 && nGone==0 ) break;
    if( pass==2 && bAll ) break;  /* pass 2 saw the index entries too */
    if( bAll ){
      pIt = kalamStoreIterNew(pStore, 0, pCf, 0, 0, 0, 0, KALAM_ITER_NOCACHE);
    }else{
      kalamKeyTagRange(aPrefix, nPrefix, cTag, aLo, &nLo, aHi, &nHi);
      pIt = kalamStoreIterNew(pStore, 0, pCf, aLo, nLo, aHi, nHi,
                              KALAM_ITER_NOCACHE);
    }
    if( pIt==0 ){ rc = SQLITE_NOMEM; goto done; }
    if( bAll ) kalamStoreIterFirst(pIt);
    else kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
    for(; kalamStoreIterValid(pIt); kalamStoreIterNext(pIt)){
      size_t nKey, nVal;
      const char *zKey = kalamStoreIterKey(pIt, &nKey);
      const char *zVal = kalamStoreIterValue(pIt, &nVal);
      int np = hkKeyPrefix(zKey, nKey, nPrefix);
      sqlite3_int64 iRowid;
      char aRow[KALAM_ROWKEY_MAX + 1];
      if( np<0 ) continue;
      if( bAll && pass==0 && zKey[np]==KALAM_TAG_HORIZON ){
        hkHorizonOwner(&horizon, zKey, np, pBatch, pCf);
        hkHorizonKey(&horizon, zKey, nKey, pBatch, pCf);
        continue;
      }
      if( zKey[np]!=cTag
       && !(bAll && pass==1 && zKey[np]==KALAM_TAG_INDEX) ) continue;
      if( pass==0 ){
        sqlite3_int64 iSeq;
        if( !kalamRowIsDeleted(zVal, nVal) ) continue;
        if( !kalamKeyRowDecode(zKey, nKey, np, &iRowid) ) continue;
        if( kalamRowParse(&row, &hkNoColumns, zVal, nVal) ) continue;
        if( iBeforeMs!=INT64_MAX
         && row.aSys[KALAM_SYS_UPDATED] >= iBeforeMs ) continue;
        if( nKey > KALAM_ROWKEY_MAX ) continue;
        iSeq = row.aSys[KALAM_SYS_SEQ];
        if( bSub ){
          rc = kalamSubscribeHardDelete(&pSub, pStore, pCf, 0, zKey, nKey, np,
                                        zVal, nVal);
          if( rc ) break;
        }
        hkHorizonOwner(&horizon, zKey, np, pBatch, pCf);
        if( iSeq > horizon.iGone ) horizon.iGone = iSeq;
        if( iSeq!=iRowid ){   /* it has a change entry (feed.c) */
          char aSeq[KALAM_ROWKEY_MAX];
          int nSeq = kalamKeyNumbered(aSeq, zKey, np, KALAM_TAG_SEQ, iSeq);
          kalamBatchDelete(pBatch, pCf, aSeq, (size_t)nSeq);
        }
        memset(aRow, 0, sizeof(aRow));
        memcpy(aRow, zKey, nKey);
        aRow[nSlot-1] = (char)nKey;
        kalamBufAppend(&gone, aRow, nSlot);
        if( gone.oom ){ rc = SQLITE_NOMEM; break; }
        nGone++;
        kalamBatchDelete(pBatch, pCf, zKey, nKey);
        /* A cold copy of it stays gone too (cold_read.c). */
        rc = kalamColdMask(pStore, pCf, zKey, nKey, np, pBatch, pzErr);
        if( rc ) break;
      }else{
        /* Index entry: does it point at a purged row? Rebuild that row's
        ** key and look for it among the purged, which are sorted. */
        sqlite3_int64 lo = 0, hi = nGone - 1;
        if( !kalamKeyRowDecode(zVal, nVal, 0, &iRowid) ) continue;
        memset(aRow, 0, sizeof(aRow));
        aRow[nSlot-1] = (char)kalamKeyRow(aRow, zKey, np, iRowid);
        while( lo<=hi ){
          sqlite3_int64 mid = (lo + hi)/2;
          int c = memcmp(gone.z + mid*nSlot, aRow, (size_t)nSlot);
          if( c==0 ){
            kalamBatchDelete(pBatch, pCf, zKey, nKey);
            break;
          }
          if( c<0 ) lo = mid + 1; else hi = mid - 1;
        }
      }
    }
    if( rc==SQLITE_OK ){
      rc = kalamStoreIterError(pIt, "kalam_purge failed", pzErr);
    }
    kalamStoreIterFree(pIt);
    pIt = 0;
    if( rc==SQLITE_OK && pass==0 ){
      /* Deleted rows in cold files are masked for good (cold_read.c);
      ** their entries go in passes 1 and 2 like the hot rows'. */
      sqlite3_int64 nHot = nGone;
      HkGone g;
      g.pGone = &gone;
      g.pn = &nGone;
      g.pBatch = pBatch;
      g.pStore = pStore;
      g.pCf = pCf;
      g.pHorizon = &horizon;
      g.pTab = pTab;
      g.ppSub = bSub ? &pSub : 0;
      g.pzErr = pzErr;
      rc = kalamColdPurge(pStore, pCf, aPrefix, nPrefix, iBeforeMs, pBatch,
                          hkGoneAdd, &g, pzErr);
      if( rc==SQLITE_OK && nGone>nHot ){
        qsort(gone.z, (size_t)nGone, (size_t)nSlot, hkSlotCmp);
      }
    }
  }
  if( rc==SQLITE_OK && nGone ){
    hkHorizonEnd(&horizon, pBatch, pCf);
    rc = kalamBatchWrite(pStore, pBatch, 0, "kalam_purge failed", pzErr);
    kalamStoreRowsChanged(pStore);
    if( rc==SQLITE_OK ) kalamFeedNotify();
    kalamSubscribeDeliver(pSub, pStore, rc==SQLITE_OK);
    pSub = 0;
  }
  if( rc==SQLITE_OK ) *pn = nGone;

done:
  kalamSubscribeDeliver(pSub, pStore, 0);
  kalamRowFree(&row);
  kalamBufFree(&gone);
  kalamStoreIterFree(pIt);
  kalamBatchFree(pBatch);
  return rc;
}

/* Replaces the owner's horizon keys with one of iSeq, in pBatch: a hard
** delete that every reader of the feed must learn of (feed.c). */
static void hkHorizonSet(KalamCf *pCf, const char *aPrefix, int nPrefix,
                         sqlite3_int64 iSeq, KalamBatch *pBatch){
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_HORIZON, aLo, &nLo, aHi, &nHi);
  kalamBatchDeleteRange(pBatch, pCf, aLo, nLo, aHi, nHi);
  kalamFeedHorizonAdd(0, pBatch, pCf, aPrefix, nPrefix, iSeq);
}

/* The rows of a per-user stream whose expiry entries lie in [aLo, aHi)
** (keys.c, kalamKeyExpiry): each row's key deleted in pBatch, counted in
** *pn, and handed to subscriptions. Reads only the expired entries, so it
** costs the rows expired, however many users there are. */
static int hkExpireEntries(KalamStore *pStore, KalamCf *pCf,
                           const char *aLo, int nLo, const char *aHi, int nHi,
                           KalamBatch *pBatch, sqlite3_int64 *pn,
                           sqlite3_int64 *piLast, KalamSubBatch **ppSub,
                           char **pzErr){
  KalamStoreIter *pIt;
  int bSub = kalamSubscribeWanted(pStore, pCf);
  int rc = SQLITE_OK;
  *pn = 0;
  *piLast = 0;
  pIt = kalamStoreIterNew(pStore, 0, pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
      rc==SQLITE_OK && kalamStoreIterValid(pIt); kalamStoreIterNext(pIt)){
    size_t nKey;
    const char *zKey = kalamStoreIterKey(pIt, &nKey);
    const char *aPrefix;
    char aRow[KALAM_ROWKEY_MAX];
    int nPrefix, nRow;
    sqlite3_int64 iRowid;
    if( !kalamKeyExpiryDecode(zKey, nKey, &iRowid, &aPrefix, &nPrefix) ){
      continue;
    }
    nRow = kalamKeyRow(aRow, aPrefix, nPrefix, iRowid);
    kalamBatchDelete(pBatch, pCf, aRow, (size_t)nRow);
    (*pn)++;
    *piLast = iRowid;
    if( bSub ){
      char *zOld = 0, *zErr = 0;
      size_t nOld = 0;
      rc = kalamStoreGet(pStore, 0, pCf, aRow, (size_t)nRow, &zOld, &nOld,
                         "kalam_expire failed", &zErr);
      sqlite3_free(zErr);
      if( rc==SQLITE_OK && zOld ){
        rc = kalamSubscribeHardDelete(ppSub, pStore, pCf, 0, aRow,
                                      (size_t)nRow, nPrefix, zOld, nOld);
      }
      if( zOld ) kalamStoreFree(zOld);
    }
  }
  if( rc==SQLITE_OK ) rc = kalamStoreIterError(pIt, "kalam_expire failed",
                                               pzErr);
  kalamStoreIterFree(pIt);
  return rc;
}

/* Removes a stream's rows older than its ttl, written in one batch with
** the stream's horizon, the newest row id removed. A shared stream's rows
** are in time order: one range delete of the keys below the cutoff
** (nothing is read but the expired keys, to count them). A per-user
** stream (bPerUser) goes through its expiry entries instead, deleting
** each expired row, and the entries' range. Then disk space: on the write
** path only a compaction hint for that range, so a write never waits;
** with bCompact (kalam_expire) the range is compacted now, and the
** catalog flushed, so that the log files holding the expired rows can go
** too. *pn is the number of rows removed. */
int kalamExpire(KalamStore *pStore, KalamCf *pCf, sqlite3_int64 nTtlSeconds,
                int bPerUser, int bCompact, sqlite3_int64 *pn, char **pzErr){
  char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_ROWKEY_MAX];
  int nLo, nHi, rc;
  sqlite3_int64 iLast = 0;
  sqlite3_int64 iCut = kalamSnowflakeMin(kalamNowMs() - nTtlSeconds*1000);
  KalamBatch *pBatch = kalamBatchNew();
  KalamSubBatch *pSub = 0;
  if( pBatch==0 ) return SQLITE_NOMEM;
  if( bPerUser ){
    nLo = kalamKeyNumbered(aLo, KALAM_TABLE_PREFIX, 1, KALAM_TAG_EXPIRY,
                           INT64_MIN);
    nHi = kalamKeyNumbered(aHi, KALAM_TABLE_PREFIX, 1, KALAM_TAG_EXPIRY,
                           iCut);
    rc = hkExpireEntries(pStore, pCf, aLo, nLo, aHi, nHi, pBatch, pn, &iLast,
                         &pSub, pzErr);
  }else{
    nLo = kalamKeyRow(aLo, 0, 0, INT64_MIN);
    nHi = kalamKeyRow(aHi, 0, 0, iCut);
    rc = hkCount(pStore, pCf, aLo, nLo, aHi, nHi, 0, pn, &iLast, &pSub, 0,
                 pzErr);
  }
  if( rc==SQLITE_OK && *pn>0 ){
    kalamBatchDeleteRange(pBatch, pCf, aLo, nLo, aHi, nHi);
    if( bPerUser ){
      hkHorizonSet(pCf, KALAM_TABLE_PREFIX, 1, iLast, pBatch);
    }else{
      hkHorizonSet(pCf, "", 0, iLast, pBatch);
    }
    rc = kalamBatchWrite(pStore, pBatch, 0, "kalam_expire failed", pzErr);
    kalamStoreRowsChanged(pStore);
    if( rc==SQLITE_OK ) kalamFeedNotify();
    kalamSubscribeDeliver(pSub, pStore, rc==SQLITE_OK);
    pSub = 0;
    if( rc==SQLITE_OK ){
      if( !bCompact ){
        kalamStoreCompactHint(pStore, pCf, aLo, nLo, aHi, nHi);
      }else{
        kalamStoreCompact(pStore, pCf, aLo, nLo, aHi, nHi);
        rc = kalamStoreFlush(pStore, kalamStoreCatalog(pStore),
                             "kalam_expire: flush failed", pzErr);
      }
    }
  }
  kalamSubscribeDeliver(pSub, pStore, 0);
  kalamBatchFree(pBatch);
  return rc;
}

/* Tells the subscriptions of the owner's every row, hot and cold merged
** (cold_read.c), as the connection of pTab sees them: all going for good. */
static int hkTellRows(KalamTable *pTab, const char *aPrefix, int nPrefix,
                      KalamSubBatch **ppSub, char **pzErr){
  KalamRowIter *pRows;
  int rc = SQLITE_OK;
  pRows = kalamRowIterNew(pTab, aPrefix, nPrefix, INT64_MIN, INT64_MAX, 0,
                          KALAM_ITER_NOCACHE, &rc, pzErr);
  if( pRows==0 ) return rc ? rc : SQLITE_NOMEM;
  for(; rc==SQLITE_OK && kalamRowIterValid(pRows); kalamRowIterNext(pRows)){
    size_t nk, nv;
    const char *k = kalamRowIterKey(pRows, &nk);
    const char *v = kalamRowIterValue(pRows, &nv);
    rc = kalamSubscribeHardDelete(ppSub, pTab->pDb->pStore, pTab->pCf,
                                  pTab->pSchema, k, nk, nPrefix, v, nv);
  }
  if( rc==SQLITE_OK ) rc = kalamRowIterError(pRows, pzErr);
  kalamRowIterFree(pRows);
  return rc;
}

/* Erases user zUser from one kalam_user table: counts the user's rows
** (not the key-index entries), then removes the user's whole range, rows
** and keys, with one synced range delete, written with a horizon newer
** than any _seq, since readers of the user's feed hold rows now gone. On a
** per-user stream (bPerUser) the rows' expiry entries, which lie outside
** the user's range, go too. *pn is the number of hot rows. Subscriptions
** are told of each row: with pTab (the table as the calling connection
** has it, or NULL) every row it reads of the user, hot and cold (the
** range delete takes the segment records, and the caller the files). */
int kalamEraseUser(KalamStore *pStore, KalamCf *pCf, KalamTable *pTab,
                   const char *zUser, int bPerUser, sqlite3_int64 *pn,
                   char **pzErr){
  char aPrefix[KALAM_MAX_PREFIX];
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nPrefix = kalamKeyPrefix(aPrefix, zUser);
  int nLo, nHi, rc;
  sqlite3_int64 iLast = 0;
  KalamBatch *pBatch;
  KalamSubBatch *pSub = 0;
  int bTellAll = pTab && pTab->pSchema->eKind==KALAM_KIND_USER
              && kalamSubscribeWanted(pStore, pCf);
  *pn = 0;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, aLo, &nLo, aHi, &nHi);
  pBatch = kalamBatchNew();
  if( pBatch==0 ) return SQLITE_NOMEM;
  rc = hkCount(pStore, pCf, aLo, nLo, aHi, nHi, nPrefix, pn, &iLast,
               bTellAll ? 0 : &pSub, bPerUser ? pBatch : 0, pzErr);
  if( rc==SQLITE_OK && bTellAll ){
    rc = hkTellRows(pTab, aPrefix, nPrefix, &pSub, pzErr);
  }
  if( rc ){
    kalamSubscribeDeliver(pSub, pStore, 0);
    kalamBatchFree(pBatch);
    return rc;
  }
  kalamKeyOwnerRange(aPrefix, nPrefix, aLo, &nLo, aHi, &nHi);
  kalamBatchDeleteRange(pBatch, pCf, aLo, nLo, aHi, nHi);
  if( bPerUser ){
    /* The user's consumer positions (consume.c): under the table's own
    ** prefix, then the user's. */
    char aCLo[KALAM_ROWKEY_MAX], aCHi[KALAM_ROWKEY_MAX];
    aCLo[0] = aCHi[0] = KALAM_TABLE_PREFIX[0];
    aCLo[1] = aCHi[1] = KALAM_TAG_CONSUMER;
    memcpy(aCLo + 2, aPrefix, (size_t)nPrefix);
    memcpy(aCHi + 2, aPrefix, (size_t)nPrefix);
    aCHi[2 + nPrefix] = (char)0xff;
    kalamBatchDeleteRange(pBatch, pCf, aCLo, 2 + nPrefix, aCHi, 3 + nPrefix);
  }
  if( *pn ){
    kalamFeedHorizonAdd(0, pBatch, pCf, aPrefix, nPrefix,
                        kalamSnowflakeNext());
  }
  rc = kalamBatchWrite(pStore, pBatch, 1, "kalam_erase_user failed", pzErr);
  kalamBatchFree(pBatch);
  kalamStoreRowsChanged(pStore);
  if( rc==SQLITE_OK ) kalamFeedNotify();
  kalamSubscribeDeliver(pSub, pStore, rc==SQLITE_OK);
  return rc;
}

/* How often, in ms, a stream's writes also remove its expired rows: a
** quarter of the ttl, between one second and a minute, so that expired rows
** never wait long on disk and range deletes stay few. */
static sqlite3_int64 hkExpireInterval(const KalamSchema *pSchema){
  sqlite3_int64 ms = pSchema->nTtlSeconds * 250;
  if( ms < 1000 ) ms = 1000;
  if( ms > 60000 ) ms = 60000;
  return ms;
}

/* How often, in ms, deleted_retention_hours purges: a quarter of the
** retention, and at least hourly. */
static sqlite3_int64 hkPurgeInterval(const KalamSchema *pSchema){
  sqlite3_int64 ms = pSchema->nRetentionHours*900000;
  return ms > 3600000 ? 3600000 : ms;
}

/* The housekeeping a table's own use brings, by event:
**
**   OPEN   a stream's rows that expired while the database was closed go;
**          other tables' cold files a crash left unpublished go (flush.c)
**   BEGIN  flush_policy (flush.c: kalamFlushPolicy says when); then
**          deleted_retention_hours: soft-deleted rows older than the
**          retention are purged, from the first write transaction after
**          open and then at most every hkPurgeInterval; every owner's
**          rows, because the retention is the table's policy, not a user's
**   WRITE  a stream's expired rows (already invisible) are removed from
**          disk at most every hkExpireInterval
**
** Each runs on committed rows, outside the caller's transaction. */
int kalamHousekeep(KalamTable *pTab, int eEvent, char **pzErr){
  const KalamSchema *pSchema = pTab->pSchema;
  KalamStore *pStore = pTab->pDb->pStore;
  sqlite3_int64 now, nGone = 0;
  int rc = SQLITE_OK;
  assert( pTab->pCf!=0 );
  /* A store this process only reads is its owner's to keep. */
  if( kalamStoreReadOnly(pStore, 0) ) return SQLITE_OK;
  switch( eEvent ){
    case KALAM_HOUSEKEEP_OPEN:
      if( pSchema->eKind==KALAM_KIND_STREAM ){
        rc = kalamExpire(pStore, pTab->pCf, pSchema->nTtlSeconds,
                         pSchema->bPerUser, 0, &nGone,
                         pzErr);
      }else{
        /* Cold files a crash left unpublished (flush.c). */
        rc = kalamColdSweep(pTab, pzErr);
      }
      break;
    case KALAM_HOUSEKEEP_BEGIN:
      /* flush_policy (flush.c): before this transaction writes the table. */
      rc = kalamFlushPolicy(pTab, pzErr);
      if( rc ) break;
      now = kalamNowMs();
      if( pSchema->nRetentionHours<=0 || now < pTab->nNextPurge ) break;
      rc = kalamPurge(pStore, pTab->pCf, pTab, "",
                      pSchema->eKind==KALAM_KIND_USER ? -1 : 0,
                      now - pSchema->nRetentionHours*3600000, &nGone, pzErr);
      pTab->nNextPurge = now + hkPurgeInterval(pSchema);
      break;
    case KALAM_HOUSEKEEP_WRITE:
      if( pSchema->eKind!=KALAM_KIND_STREAM ) break;
      now = kalamNowMs();
      if( now < pTab->nNextExpire ) break;
      rc = kalamExpire(pStore, pTab->pCf, pSchema->nTtlSeconds,
                         pSchema->bPerUser, 0, &nGone,
                       pzErr);
      if( rc==SQLITE_OK ) pTab->nNextExpire = now + hkExpireInterval(pSchema);
      break;
    default:
      assert( 0 );
      break;
  }
  return rc;
}
