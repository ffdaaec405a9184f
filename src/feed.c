/*
** feed.c — the change entries and horizons that kalam_changes reads,
** kept beside the rows by every writer, and the ranges its readers
** (kalam_changes, kalam_consume) iterate over.
**
** The rows of a shared or user table changed after a _seq come from two
** key ranges, each in _seq order, merged (changes.c):
**   - the rows whose _seq is their row id: a row inserted with a new
**     snowflake id takes that id as its _seq too, so its row key is where
**     the feed finds it, in row id order, and it needs nothing more;
**   - every other row (written since, or inserted with a row id of its
**     own) has a change entry, <owner> 's' <_seq> -> row id, moved by
**     every write of the row (update.c) and removed with it by every hard
**     delete (update.c, housekeeping.c).
** Keeping no entry for a new row keeps a bulk insert's keys in ascending
** order (the large-transaction worker of txn_ingest.c needs that) and its
** writes to one key a row. A stream needs none at all: its row ids are
** its time order, and rows never change; its feed is its live rows, those
** whose row id the ttl has not passed (kalamFeedStream).
**
** A hard delete leaves nothing for the feed to report, so it records a
** horizon instead: a key <owner> 'h' <_seq>. A reader whose last _seq is
** below the owner's newest horizon may hold a row that is gone, and must
** read the table again (changes.c). Writers only ever add a horizon key
** (a read-modify-write of one key would race with housekeeping, which
** writes outside transactions); kalamPurge keeps the newest of each
** owner's and removes the rest.
**
** What a horizon records, by kind of hard delete:
**   a soft-deleted row removed (purge, retention, a row id or key taken
**     over by a new row): the row's own _seq, since a reader that saw its
**     deletion has nothing left to learn;
**   a live row removed (OR REPLACE, an UPDATE that moves a row id, a
**     user erased): the _seq of the write that removed it, newer than
**     anything a reader can have seen;
**   stream rows expired: the newest row id removed.
*/
#include "kalam_int.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

/* Points the change entry of _seq iSeq at row iRowid, in the transaction. */
void kalamFeedPut(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                  int nPrefix, sqlite3_int64 iSeq, sqlite3_int64 iRowid){
  char aKey[KALAM_ROWKEY_MAX], aVal[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyNumbered(aKey, aPrefix, nPrefix, KALAM_TAG_SEQ, iSeq);
  int nVal = kalamKeyRow(aVal, 0, 0, iRowid);
  kalamTxnPut(pTxn, pCf, aKey, (size_t)nKey, aVal, (size_t)nVal);
}

/* Removes the change entry of _seq iSeq, in the transaction. */
void kalamFeedDelete(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                     int nPrefix, sqlite3_int64 iSeq){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyNumbered(aKey, aPrefix, nPrefix, KALAM_TAG_SEQ, iSeq);
  kalamTxnDelete(pTxn, pCf, aKey, (size_t)nKey);
}

/* Records horizon iSeq for the owner, in the transaction or (pTxn NULL)
** in batch pBatch. */
void kalamFeedHorizonAdd(KalamTxn *pTxn, KalamBatch *pBatch, KalamCf *pCf,
                         const char *aPrefix, int nPrefix,
                         sqlite3_int64 iSeq){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyNumbered(aKey, aPrefix, nPrefix, KALAM_TAG_HORIZON,
                              iSeq);
  if( pTxn ){
    kalamTxnPut(pTxn, pCf, aKey, (size_t)nKey, "", 0);
  }else{
    kalamBatchPut(pBatch, pCf, aKey, (size_t)nKey, "", 0);
  }
}

/* An iterator over the owner's keys of tag cTag from number iFrom on,
** on the first of them. */
static KalamIter *feedFromOpen(KalamTxn *pTxn, KalamCf *pCf,
                               const char *aPrefix, int nPrefix, char cTag,
                               sqlite3_int64 iFrom){
  char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi;
  KalamIter *pIt;
  nLo = kalamKeyNumbered(aLo, aPrefix, nPrefix, cTag, iFrom);
  kalamKeyTagRange(aPrefix, nPrefix, cTag, 0, 0, aHi, &nHi);
  pIt = kalamTxnIterator(pTxn, pCf, aLo, nLo, aHi, nHi, 0);
  if( pIt ) kalamIterSeek(pIt, aLo, (size_t)nLo);
  return pIt;
}

/* The owner's rows from row id iFrom on, in row id order: an iterator on
** the first (NULL if out of memory), read with kalamFeedRow. */
KalamIter *kalamFeedRows(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                         int nPrefix, sqlite3_int64 iFrom){
  return feedFromOpen(pTxn, pCf, aPrefix, nPrefix, KALAM_TAG_ROW, iFrom);
}

/* The owner's change entries from _seq iFrom on, in _seq order: an
** iterator on the first (NULL if out of memory), read with kalamFeedEntry. */
KalamIter *kalamFeedEntries(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                            int nPrefix, sqlite3_int64 iFrom){
  return feedFromOpen(pTxn, pCf, aPrefix, nPrefix, KALAM_TAG_SEQ, iFrom);
}

/* The oldest row id of a stream whose rows live nTtlSeconds that has not
** expired now. Older rows are gone for every reader even while they are
** still on disk, waiting for expiry to remove them. */
sqlite3_int64 kalamFeedStreamCut(sqlite3_int64 nTtlSeconds){
  return kalamSnowflakeMin(kalamNowMs() - nTtlSeconds*1000);
}

/* A stream's feed for a reader at row id iAfter: the owner's live rows
** after it, in row id order (an iterator as kalamFeedRows gives). */
KalamIter *kalamFeedStream(KalamTxn *pTxn, KalamCf *pCf,
                           sqlite3_int64 nTtlSeconds, const char *aPrefix,
                           int nPrefix, sqlite3_int64 iAfter){
  sqlite3_int64 iCut = kalamFeedStreamCut(nTtlSeconds);
  return kalamFeedRows(pTxn, pCf, aPrefix, nPrefix,
                       iAfter + 1 > iCut ? iAfter + 1 : iCut);
}

/* The row the iterator is on: 1 and its row id and stored row if its key
** is a row key of an owner of nPrefix bytes, else 0 (a corrupt or foreign
** key, which readers pass over). */
int kalamFeedRow(KalamIter *pIt, int nPrefix, sqlite3_int64 *piRowid,
                 const char **pzVal, size_t *pnVal){
  size_t nKey;
  const char *zKey = kalamIterKey(pIt, &nKey);
  *pzVal = kalamIterValue(pIt, pnVal);
  return kalamKeyRowDecode(zKey, nKey, nPrefix, piRowid);
}

/* The change entry the iterator is on: 1 and its _seq and row id, or 0
** if it is not one (as kalamFeedRow). */
int kalamFeedEntry(KalamIter *pIt, int nPrefix, sqlite3_int64 *piSeq,
                   sqlite3_int64 *piRowid){
  size_t nKey, nVal;
  const char *zKey = kalamIterKey(pIt, &nKey);
  const char *zVal = kalamIterValue(pIt, &nVal);
  return kalamKeyNumberedDecode(zKey, nKey, nPrefix, KALAM_TAG_SEQ, piSeq)
      && kalamKeyRowDecode(zVal, nVal, 0, piRowid);
}

/* An iterator over the owner's keys of tag cTag, on the last of them:
** the newest, since a number in a key sorts as it compares. */
static KalamIter *feedLastOpen(KalamTxn *pTxn, KalamCf *pCf,
                               const char *aPrefix, int nPrefix, char cTag){
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi;
  KalamIter *pIt;
  kalamKeyTagRange(aPrefix, nPrefix, cTag, aLo, &nLo, aHi, &nHi);
  pIt = kalamTxnIterator(pTxn, pCf, aLo, nLo, aHi, nHi, 0);
  if( pIt ) kalamIterSeekForPrev(pIt, aHi, (size_t)nHi);
  return pIt;
}

/* The number in the last key of tag cTag under the owner, as the
** connection sees the table (0 if there is none) into *pi. */
static int feedLast(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                    int nPrefix, char cTag, sqlite3_int64 *pi,
                    char **pzErr){
  KalamIter *pIt = feedLastOpen(pTxn, pCf, aPrefix, nPrefix, cTag);
  int rc;
  *pi = 0;
  if( pIt==0 ) return SQLITE_NOMEM;
  if( kalamIterValid(pIt) ){
    size_t nKey;
    const char *zKey = kalamIterKey(pIt, &nKey);
    if( !kalamKeyNumberedDecode(zKey, nKey, nPrefix, cTag, pi) ) *pi = 0;
  }
  rc = kalamIterError(pIt, pzErr);
  kalamIterDestroy(pIt);
  return rc;
}

/* The owner's horizon: the newest _seq a hard delete removed unseen (0 if
** none), as the connection sees the table. */
int kalamFeedHorizon(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                     int nPrefix, sqlite3_int64 *piHorizon, char **pzErr){
  sqlite3_int64 iTable = 0;
  int rc = feedLast(pTxn, pCf, aPrefix, nPrefix, KALAM_TAG_HORIZON, piHorizon,
                    pzErr);
  /* A per-user stream's expiry records one horizon for the whole table,
  ** under the table's own prefix (housekeeping.c). */
  if( rc==SQLITE_OK && nPrefix>0 ){
    rc = feedLast(pTxn, pCf, KALAM_TABLE_PREFIX, 1, KALAM_TAG_HORIZON,
                  &iTable, pzErr);
    if( iTable > *piHorizon ) *piHorizon = iTable;
  }
  return rc;
}

/* The newest row whose _seq is its row id and newer than iFloor, as the
** connection sees the table, into *pi (left alone if none). Row ids run
** ahead of every _seq only where a writer gave them (an id "from the
** future"); such a row has a change entry instead, and is passed over:
** there are as few of them as such ids were given. */
static int feedLastOwnRow(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                          int nPrefix, sqlite3_int64 iFloor, sqlite3_int64 *pi,
                          char **pzErr){
  KalamIter *pIt = feedLastOpen(pTxn, pCf, aPrefix, nPrefix, KALAM_TAG_ROW);
  int rc;
  if( pIt==0 ) return SQLITE_NOMEM;
  for(; kalamIterValid(pIt); kalamIterNext(pIt)){
    const char *zVal;
    size_t nVal;
    sqlite3_int64 iRowid;
    if( !kalamFeedRow(pIt, nPrefix, &iRowid, &zVal, &nVal) ) continue;
    if( iRowid<=iFloor ) break;
    if( kalamRowSeq(zVal, nVal)==iRowid ){
      *pi = iRowid;
      break;
    }
  }
  rc = kalamIterError(pIt, pzErr);
  kalamIterDestroy(pIt);
  return rc;
}

/* The newest _seq of the owner's part of a table, as the connection sees
** it: of its rows (a stream's newest row id), or its horizon if that is
** newer, since a hard delete is a change too. 0 for none. */
int kalamFeedNewest(KalamTxn *pTxn, KalamCf *pCf, int eKind,
                    const char *aPrefix, int nPrefix,
                    sqlite3_int64 *piNewest, char **pzErr){
  sqlite3_int64 iRows = 0, iHorizon = 0;
  int rc = feedLast(pTxn, pCf, aPrefix, nPrefix,
                    eKind==KALAM_KIND_STREAM ? KALAM_TAG_ROW : KALAM_TAG_SEQ,
                    &iRows, pzErr);
  if( rc==SQLITE_OK && eKind!=KALAM_KIND_STREAM ){
    rc = feedLastOwnRow(pTxn, pCf, aPrefix, nPrefix, iRows, &iRows, pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = kalamFeedHorizon(pTxn, pCf, aPrefix, nPrefix, &iHorizon, pzErr);
  }
  *piNewest = iRows > iHorizon ? iRows : iHorizon;
  return rc;
}

/* Waiting for commits (kalam_wait). One generation count for the process,
** bumped after every commit or hard delete that changed kalam rows, and a
** condition variable to wake waiters: a waiter then reads its table's
** newest _seq again, so a wake-up for another table costs one seek. */
static pthread_mutex_t feedMutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t feedCond = PTHREAD_COND_INITIALIZER;
static sqlite3_int64 feedGeneration = 0;

/* Tells waiters that rows changed. */
void kalamFeedNotify(void){
  pthread_mutex_lock(&feedMutex);
  feedGeneration++;
  pthread_cond_broadcast(&feedCond);
  pthread_mutex_unlock(&feedMutex);
}

/* The current generation: read it before looking at the rows, then wait
** for a generation past it, so a commit between the two is not missed. */
sqlite3_int64 kalamFeedGeneration(void){
  sqlite3_int64 g;
  pthread_mutex_lock(&feedMutex);
  g = feedGeneration;
  pthread_mutex_unlock(&feedMutex);
  return g;
}

/* Waits until the generation passes iGen or the clock reaches the
** absolute deadline (CLOCK_REALTIME, as pthread_cond_timedwait reads it).
** Returns 1 if it passed, 0 at the deadline. */
int kalamFeedWait(sqlite3_int64 iGen, const struct timespec *pDeadline){
  int bPassed;
  pthread_mutex_lock(&feedMutex);
  while( feedGeneration==iGen ){
    if( pthread_cond_timedwait(&feedCond, &feedMutex, pDeadline)==ETIMEDOUT ){
      break;
    }
  }
  bPassed = feedGeneration!=iGen;
  pthread_mutex_unlock(&feedMutex);
  return bPassed;
}
