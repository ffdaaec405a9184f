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

/* Counts the keys in [aLo, aHi) of a column family, reading keys only. */
static int hkCount(KalamStore *pStore, KalamCf *pCf, const char *aLo, int nLo,
                   const char *aHi, int nHi, sqlite3_int64 *pn,
                   char **pzErr){
  KalamStoreIter *pIt;
  sqlite3_int64 n = 0;
  int rc;
  pIt = kalamStoreIterNew(pStore, 0, pCf, 0, 0, aHi, nHi, KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo); kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    n++;
  }
  rc = kalamStoreIterError(pIt, "kalam read failed", pzErr);
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

/* The list of purged row keys kalamPurge keeps (one slot each, see
** there), as kalamColdPurge adds to it. */
typedef struct HkGone HkGone;
struct HkGone {
  KalamBuf *pGone;
  sqlite3_int64 *pn;
};

static int hkGoneAdd(void *pArg, const char *zKey, int nKey){
  HkGone *p = (HkGone*)pArg;
  char aRow[KALAM_ROWKEY_MAX + 1];
  if( nKey > KALAM_ROWKEY_MAX ) return SQLITE_OK;
  memset(aRow, 0, sizeof(aRow));
  memcpy(aRow, zKey, (size_t)nKey);
  aRow[KALAM_ROWKEY_MAX] = (char)nKey;
  kalamBufAppend(p->pGone, aRow, sizeof(aRow));
  if( p->pGone->oom ) return SQLITE_NOMEM;
  (*p->pn)++;
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
** for both when it reads every owner anyway). *pn is the number of rows
** removed. */
int kalamPurge(KalamStore *pStore, KalamCf *pCf, const char *aPrefix,
               int nPrefix, sqlite3_int64 iBeforeMs, sqlite3_int64 *pn,
               char **pzErr){
  KalamStoreIter *pIt = 0;
  KalamBatch *pBatch = 0;
  KalamBuf gone;    /* purged row keys in key order, one slot each: the key,
                    ** zero padded (no row key is a prefix of another, so
                    ** slots compare as the keys do), then its length */
  sqlite3_int64 nGone = 0;
  KalamRow row;
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  const int nSlot = KALAM_ROWKEY_MAX + 1;
  int bAll = nPrefix<0;
  int pass;
  int rc = SQLITE_OK;

  assert( nPrefix<=KALAM_MAX_PREFIX );
  memset(&row, 0, sizeof(row));
  kalamBufInit(&gone);
  *pn = 0;
  pBatch = kalamBatchNew();
  if( pBatch==0 ){ rc = SQLITE_NOMEM; goto done; }

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
      if( zKey[np]!=cTag
       && !(bAll && pass==1 && zKey[np]==KALAM_TAG_INDEX) ) continue;
      if( pass==0 ){
        if( !kalamRowIsDeleted(zVal, nVal) ) continue;
        if( !kalamKeyRowDecode(zKey, nKey, np, &iRowid) ) continue;
        if( iBeforeMs!=INT64_MAX ){
          if( kalamRowParse(&row, &hkNoColumns, zVal, nVal) ) continue;
          if( row.aSys[KALAM_SYS_UPDATED] >= iBeforeMs ) continue;
        }
        if( nKey > KALAM_ROWKEY_MAX ) continue;
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
      rc = kalamColdPurge(pStore, pCf, aPrefix, nPrefix, iBeforeMs, pBatch,
                          hkGoneAdd, &g, pzErr);
      if( rc==SQLITE_OK && nGone>nHot ){
        qsort(gone.z, (size_t)nGone, KALAM_ROWKEY_MAX + 1, hkSlotCmp);
      }
    }
  }
  if( rc==SQLITE_OK && nGone ){
    rc = kalamBatchWrite(pStore, pBatch, 0, "kalam_purge failed", pzErr);
    kalamStoreRowsChanged(pStore);
  }
  if( rc==SQLITE_OK ) *pn = nGone;

done:
  kalamRowFree(&row);
  kalamBufFree(&gone);
  kalamStoreIterFree(pIt);
  kalamBatchFree(pBatch);
  return rc;
}

/* Removes a stream's rows older than its ttl: one range delete of the keys
** below the cutoff (keys are time ordered, so nothing is read but the
** expired keys, to count them). Then disk space: on the write path only a
** compaction hint for that range, so a write never waits; with bCompact
** (kalam_expire) the range is compacted now, and the catalog flushed, so
** that the log files holding the expired rows can go too. *pn is the
** number of rows removed. */
int kalamExpire(KalamStore *pStore, KalamCf *pCf, sqlite3_int64 nTtlSeconds,
                int bCompact, sqlite3_int64 *pn, char **pzErr){
  char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_ROWKEY_MAX];
  int nLo, nHi, rc;
  sqlite3_int64 iCut = kalamSnowflakeMin(kalamNowMs() - nTtlSeconds*1000);
  nLo = kalamKeyRow(aLo, 0, 0, INT64_MIN);
  nHi = kalamKeyRow(aHi, 0, 0, iCut);
  rc = hkCount(pStore, pCf, aLo, nLo, aHi, nHi, pn, pzErr);
  if( rc || *pn==0 ) return rc;
  rc = kalamStoreDeleteRange(pStore, pCf, aLo, nLo, aHi, nHi, 0,
                             "kalam_expire failed", pzErr);
  kalamStoreRowsChanged(pStore);
  if( rc ) return rc;
  if( !bCompact ){
    kalamStoreCompactHint(pStore, pCf, aLo, nLo, aHi, nHi);
    return SQLITE_OK;
  }
  kalamStoreCompact(pStore, pCf, aLo, nLo, aHi, nHi);
  return kalamStoreFlush(pStore, kalamStoreCatalog(pStore),
                         "kalam_expire: flush failed", pzErr);
}

/* Erases user zUser from one kalam_user table: counts the user's rows
** (not the key-index entries), then removes the user's whole range, rows
** and keys, with one synced range delete. *pn is the number of rows. */
int kalamEraseUser(KalamStore *pStore, KalamCf *pCf, const char *zUser,
                   sqlite3_int64 *pn, char **pzErr){
  char aPrefix[KALAM_MAX_PREFIX];
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nPrefix = kalamKeyPrefix(aPrefix, zUser);
  int nLo, nHi, rc;
  *pn = 0;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, aLo, &nLo, aHi, &nHi);
  rc = hkCount(pStore, pCf, aLo, nLo, aHi, nHi, pn, pzErr);
  if( rc ) return rc;
  kalamKeyOwnerRange(aPrefix, nPrefix, aLo, &nLo, aHi, &nHi);
  rc = kalamStoreDeleteRange(pStore, pCf, aLo, nLo, aHi, nHi, 1,
                             "kalam_erase_user failed", pzErr);
  kalamStoreRowsChanged(pStore);
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
        rc = kalamExpire(pStore, pTab->pCf, pSchema->nTtlSeconds, 0, &nGone,
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
      rc = kalamPurge(pStore, pTab->pCf, "",
                      pSchema->eKind==KALAM_KIND_USER ? -1 : 0,
                      now - pSchema->nRetentionHours*3600000, &nGone, pzErr);
      pTab->nNextPurge = now + hkPurgeInterval(pSchema);
      break;
    case KALAM_HOUSEKEEP_WRITE:
      if( pSchema->eKind!=KALAM_KIND_STREAM ) break;
      now = kalamNowMs();
      if( now < pTab->nNextExpire ) break;
      rc = kalamExpire(pStore, pTab->pCf, pSchema->nTtlSeconds, 0, &nGone,
                       pzErr);
      if( rc==SQLITE_OK ) pTab->nNextExpire = now + hkExpireInterval(pSchema);
      break;
    default:
      assert( 0 );
      break;
  }
  return rc;
}
