/*
** txn_ingest.c — large transactions: the commit as an ingested table file.
**
** Written through a batch, a transaction's rows
** are copied four times over (batch, log, memtable, and the table file a
** flush writes later), and the memtable insert is a skip-list search per
** row: a million-row import spent most of its commit there. A transaction
** of at least TXN_INGEST_MIN_BYTES whose writes all fall in one column
** family is instead written, sorted, into one table file beside the store
** and handed to RocksDB's file ingestion, which adds it to the column
** family atomically (one manifest record) with a sequence number newer
** than every earlier write. The writer syncs the file and the ingestion
** syncs the manifest, so the commit is durable whatever PRAGMA synchronous
** says. A key range that overlaps the memtable makes RocksDB flush it
** first. Writes to several column families keep the batch, which is
** the only atomic write across them; so do memory stores, and small
** transactions, for which a file and a manifest sync cost more than the
** log.
**
** The worker. Building the file (blocks, LZ4) was a quarter of a
** million-row import, all at COMMIT on one core while the other idled. So
** once a transaction's buffer reaches TXN_INGEST_MIN_BYTES and all it
** wrote so far went to one column family in strictly ascending key order
** (snowflake row ids make an import so), a worker thread starts writing
** that file while the transaction goes on (TxnSpec), and COMMIT only
** finishes and ingests it. This is speculation: the transaction may yet
** write out of order or to another table, or roll back. The worker is
** handed settled entries, those below the oldest open savepoint, which no
** failing statement can take back, or, once the open savepoints hold a
** large transaction's worth, all of them (txnSpecSettledCount). A write
** that breaks the order or goes to another column family, a ROLLBACK TO
** below what was handed over, a worker's error, or the end of the
** transaction stops the worker and removes its file for good (until the
** next transaction); COMMIT then builds the file itself or takes the
** batch, as it would have without the worker. The worker calls the
** store's file writer (RocksDB), pthreads
** and libc only, never SQLite, which may be built single-threaded.
*/
#include "txn_int.h"
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <errno.h>

SQLITE_EXTENSION_INIT3

#define TXN_INGEST_MIN_BYTES ((sqlite3_int64)8 << 20)

/* The speculative build of that file while the transaction goes on (see
** the header comment). One per KalamTxn at most, in p->pSpec. The main
** thread makes it (txnSpecStart), joins its worker, and frees it and all
** it points to (txnSpecFree); the worker frees nothing of it. Entries
** are handed to the worker as copies of their pointers, because aEntry
** moves when it grows; the entries themselves stay put in the arena, and
** their keys and values never change, so the worker reads them unlocked.
** The arena outlives the worker: txn.c's txnClear stops it first. */
struct TxnSpec {
  /* Set before the worker starts, fixed after. */
  pthread_t thread;
  KalamFileWriter *pWriter;         /* the worker's until it is joined */
  int bMutex;                       /* mutex initialized */
  int bCond;                        /* cond initialized */
  /* The main thread's alone. */
  int nHanded;                      /* aEntry[0..nHanded) were handed over */
  sqlite3_int64 nBytesFed;          /* p->nBytes at the last hand-over */
  /* Guarded by mutex. The main thread appends to aIn; the worker swaps
  ** it with aWork, the batch it has written, then writes the new aWork's
  ** entries unlocked. Both arrays are the main thread's
  ** (sqlite3_realloc64, freed by txnSpecFree): the worker only swaps
  ** them. */
  pthread_mutex_t mutex;
  pthread_cond_t cond;              /* signals: entries handed, or stop */
  KalamTxnEntry **aIn;
  int nIn;
  int nInAlloc;
  KalamTxnEntry **aWork;
  int nWorkAlloc;
  int bFinish;                      /* aIn holds the last entries */
  /* Read without the lock. */
  atomic_int bStop;                 /* main: abandon the file, now */
  atomic_int bFailed;               /* worker: the file cannot be had */
  /* The worker's, read after the join. */
  int bBuilt;                       /* the file is finished, whole */
};

/* Entries are handed over in batches of TXN_SPEC_BATCH, or of whatever
** is settled once TXN_SPEC_BATCH_BYTES were written since the last one:
** a lock and a wake-up per batch, not per row, while rows of many kB
** still reach the worker long before COMMIT. */
#define TXN_SPEC_BATCH 4096
#define TXN_SPEC_BATCH_BYTES ((sqlite3_int64)1 << 20)
/* How long the worker sleeps between looks at bStop, should a wake-up be
** lost (a stop flagged by a main thread whose lock failed). */
#define TXN_SPEC_WAIT_NS 100000000L

/* The worker: writes the entries handed over, in order, into the file,
** and finishes it once told that it has them all. It stops at once on
** bStop, and on any error sets bFailed and stops: the main thread then
** removes the file and COMMIT builds it anew, reporting the error. Only
** RocksDB, pthreads and libc here. */
static void *txnSpecRun(void *pArg){
  TxnSpec *s = (TxnSpec*)pArg;
  int bFail = kalamFileWriterOpen(s->pWriter);

  while( !bFail ){
    KalamTxnEntry **aBatch = 0;
    int nBatch = 0, bFinish, i;
    if( pthread_mutex_lock(&s->mutex) ){ bFail = 1; break; }
    while( s->nIn==0 && !s->bFinish && !atomic_load(&s->bStop) ){
      struct timespec ts;
      int rc;
      if( clock_gettime(CLOCK_REALTIME, &ts) ){ bFail = 1; break; }
      ts.tv_nsec += TXN_SPEC_WAIT_NS;
      if( ts.tv_nsec >= 1000000000L ){
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      rc = pthread_cond_timedwait(&s->cond, &s->mutex, &ts);
      if( rc && rc!=ETIMEDOUT ){ bFail = 1; break; }
    }
    if( !bFail && s->nIn>0 ){
      KalamTxnEntry **aSwap = s->aWork;
      int nSwap = s->nWorkAlloc;
      s->aWork = s->aIn;
      s->nWorkAlloc = s->nInAlloc;
      s->aIn = aSwap;
      s->nInAlloc = nSwap;
      aBatch = s->aWork;
      nBatch = s->nIn;
      s->nIn = 0;
    }
    bFinish = s->bFinish;
    if( pthread_mutex_unlock(&s->mutex) ) bFail = 1;
    if( bFail || atomic_load(&s->bStop) ) break;
    for(i=0; i<nBatch && !bFail; i++){
      KalamTxnEntry *pE = aBatch[i];
      /* A main thread waiting to stop us waits at most one entry. */
      if( atomic_load_explicit(&s->bStop, memory_order_relaxed) ) break;
      bFail = kalamFileWriterAdd(s->pWriter, pE->zKey, (size_t)pE->nKey,
                                 pE->zVal, pE->nVal);
    }
    if( i<nBatch ) break;            /* stopped, or failed */
    if( bFinish && !bFail ){
      bFail = kalamFileWriterFinish(s->pWriter);
      if( !bFail ) s->bBuilt = 1;
      break;
    }
  }

  /* COMMIT's own build reports the cause of a failure. */
  if( bFail ) atomic_store(&s->bFailed, 1);
  return 0;
}

/* Frees a speculation whose worker has been joined (or never started),
** removing its file if bRemove. */
static void txnSpecFree(TxnSpec *s, int bRemove){
  if( s==0 ) return;
  kalamFileWriterFree(s->pWriter, bRemove);
  if( s->bCond ) (void)pthread_cond_destroy(&s->cond);
  if( s->bMutex ) (void)pthread_mutex_destroy(&s->mutex);
  sqlite3_free(s->aIn);
  sqlite3_free(s->aWork);
  sqlite3_free(s);
}

/* Joins the worker. Nonzero if that failed, which pthread_join does only
** for a thread that cannot be joined (ours always can): the caller then
** leaks s rather than free it under a thread that might still run. */
static int txnSpecJoin(TxnSpec *s){
  return pthread_join(s->thread, 0)!=0;
}

/* Starts the worker, or if anything fails, gives up speculating for this
** transaction: the commit builds the file as it always could. */
static void txnSpecStart(KalamTxn *p){
  TxnSpec *s = sqlite3_malloc(sizeof(*s));
  char *zFile;
  if( s==0 ) goto fail;
  memset(s, 0, sizeof(*s));
  atomic_init(&s->bStop, 0);
  atomic_init(&s->bFailed, 0);
  zFile = kalamIngestFileName(p->pStore, p);
  if( zFile==0 ) goto fail;
  s->pWriter = kalamFileWriterNew(p->pStore, zFile);
  if( s->pWriter==0 ){
    sqlite3_free(zFile);
    goto fail;
  }
  if( pthread_mutex_init(&s->mutex, 0) ) goto fail;
  s->bMutex = 1;
  if( pthread_cond_init(&s->cond, 0) ) goto fail;
  s->bCond = 1;
  if( pthread_create(&s->thread, 0, txnSpecRun, s) ) goto fail;
  p->pSpec = s;
  return;

fail:
  txnSpecFree(s, 0);
  p->bSpecOff = 1;
}

/* Hands aEntry[nHanded..nTo) to the worker; bFinish says they are the
** last. Nonzero if the speculation cannot go on: the worker failed, or
** the hand-over did. */
static int txnSpecFeed(KalamTxn *p, int nTo, int bFinish){
  TxnSpec *s = p->pSpec;
  int n = nTo - s->nHanded;
  int bBad = 0;
  if( atomic_load(&s->bFailed) ) return 1;
  if( pthread_mutex_lock(&s->mutex) ) return 1;
  if( s->nIn + n > s->nInAlloc ){
    /* Under the lock: the worker may be swapping aIn away. */
    int nNew = s->nInAlloc ? s->nInAlloc*2 : TXN_SPEC_BATCH*2;
    KalamTxnEntry **aNew;
    if( nNew < s->nIn + n ) nNew = s->nIn + n;
    aNew = sqlite3_realloc64(s->aIn, sizeof(KalamTxnEntry*) * (size_t)nNew);
    if( aNew==0 ){
      bBad = 1;
    }else{
      s->aIn = aNew;
      s->nInAlloc = nNew;
    }
  }
  if( !bBad ){
    if( n>0 ){
      memcpy(&s->aIn[s->nIn], &p->aEntry[s->nHanded],
             sizeof(KalamTxnEntry*) * (size_t)n);
    }
    s->nIn += n;
    s->bFinish = bFinish;
    if( pthread_cond_signal(&s->cond) ) bBad = 1;
  }
  if( pthread_mutex_unlock(&s->mutex) ) bBad = 1;
  if( !bBad ){
    s->nHanded = nTo;
    s->nBytesFed = p->nBytes;
  }
  return bBad;
}

/* Ends the speculation, if any, for the rest of the transaction: stops
** the worker, waits for it (at most the entry it is writing) and removes
** its file. */
void kalamIngestStop(KalamTxn *p){
  TxnSpec *s = p->pSpec;
  if( s==0 ) return;
  p->pSpec = 0;
  p->bSpecOff = 1;
  atomic_store(&s->bStop, 1);
  /* The wake-up, under the lock so that a worker about to wait sees
  ** bStop; without it (the lock failed) the worker's timed wait does. */
  if( pthread_mutex_lock(&s->mutex)==0 ){
    /* Neither fails on a mutex this thread holds and a live cond. */
    (void)pthread_cond_signal(&s->cond);
    (void)pthread_mutex_unlock(&s->mutex);
  }else{
    (void)pthread_cond_signal(&s->cond);
  }
  if( txnSpecJoin(s) ) return;
  txnSpecFree(s, 1);
}

/* The entries the worker may have: those that no open savepoint can take
** back. But an import inside BEGIN ... COMMIT is often one INSERT ...
** SELECT, whose statement savepoint stays open until its last row: once
** what the open savepoints hold is TXN_INGEST_MIN_BYTES or more, their
** entries go to the worker too. Should that statement fail after all, its
** rollback reaches below them and the speculation ends
** (kalamIngestRollback): COMMIT builds the file, as without the worker. */
static int txnSpecSettledCount(KalamTxn *p){
  if( p->nSp==0 || p->nBytes - p->nSpBytes >= TXN_INGEST_MIN_BYTES ){
    return p->nEntry;
  }
  return p->aSp[0];
}

/* After each write, while the transaction may still speculate: keeps
** watching that it qualifies, starts the worker when the buffer is large
** enough, and hands over settled entries a batch at a time. */
void kalamIngestOnWrite(KalamTxn *p){
  KalamTxnEntry *pE = p->aEntry[p->nEntry-1];
  int nSettled;
  if( kalamStoreIsMemory(p->pStore) ){   /* memory stores never ingest */
    p->bSpecOff = 1;
    return;
  }
  if( p->nEntry>1 ){
    KalamTxnEntry *pPrev = p->aEntry[p->nEntry-2];
    if( pE->pCf!=pPrev->pCf
     || kalamKeyCmp(pPrev->zKey, (size_t)pPrev->nKey,
                    pE->zKey, (size_t)pE->nKey)>=0 ){
      kalamIngestStop(p);
      p->bSpecOff = 1;
      return;
    }
  }
  if( p->pSpec==0 ){
    if( p->nBytes < TXN_INGEST_MIN_BYTES ) return;
    txnSpecStart(p);
    if( p->pSpec==0 ) return;
  }
  nSettled = txnSpecSettledCount(p);
  if( nSettled > p->pSpec->nHanded
   && ( nSettled - p->pSpec->nHanded >= TXN_SPEC_BATCH
     || p->nBytes - p->pSpec->nBytesFed >= TXN_SPEC_BATCH_BYTES )
   && txnSpecFeed(p, nSettled, 0) ){
    kalamIngestStop(p);
  }
}

/* After a RELEASE: hands over what it settled, however little, so that
** an import of many multi-row statements keeps the worker busy. */
void kalamIngestSettled(KalamTxn *p){
  int nSettled = txnSpecSettledCount(p);
  if( nSettled > p->pSpec->nHanded && txnSpecFeed(p, nSettled, 0) ){
    kalamIngestStop(p);
  }
}

/* At COMMIT: hands over the rest, waits for the worker to finish the file
** and returns its name, which the caller frees (sqlite3_free). NULL if the
** worker could not build it; its file is then gone and the speculation
** over. */
static char *txnSpecFinish(KalamTxn *p){
  TxnSpec *s = p->pSpec;
  char *zFile = 0;
  if( txnSpecFeed(p, p->nEntry, 1) ){
    kalamIngestStop(p);
    return 0;
  }
  p->pSpec = 0;
  p->bSpecOff = 1;
  if( txnSpecJoin(s) ) return 0;
  if( s->bBuilt ) zFile = kalamFileWriterTakeName(s->pWriter);
  txnSpecFree(s, zFile==0);
  return zFile;
}

/* Key order, and for one key the order written. */
static int txnEntryOrderCmp(const void *pA, const void *pB){
  const KalamTxnEntry *a = *(KalamTxnEntry*const*)pA;
  const KalamTxnEntry *b = *(KalamTxnEntry*const*)pB;
  int c = kalamKeyCmp(a->zKey, (size_t)a->nKey, b->zKey, (size_t)b->nKey);
  return c ? c : (a->iOrder < b->iOrder ? -1 : 1);
}

/* Writes the buffer, all of one column family (kalamIngestPrepare
** checked), into a new table file, sorted, newest entry of each key:
** COMMIT's own build, when no worker built it. On success *pzFile is the
** file's name, which the caller frees (sqlite3_free); on failure no file
** is left. */
static int txnIngestBuild(KalamTxn *p, char **pzFile, char **pzErr){
  KalamTxnEntry **aKey = 0;      /* newest entry of each key, in key order */
  int nKey = 0, bSorted = 1, i;
  KalamFileWriter *pWriter = 0;
  char *zFile = 0;
  int rc = SQLITE_OK;

  *pzFile = 0;
  for(i=1; i<p->nEntry && bSorted; i++){
    if( kalamTxnEntryCmp(&p->aEntry[i-1], &p->aEntry[i])>=0 ) bSorted = 0;
  }
  aKey = sqlite3_malloc64(sizeof(KalamTxnEntry*) * (size_t)p->nEntry);
  if( aKey==0 ){ rc = SQLITE_NOMEM; goto done; }
  memcpy(aKey, p->aEntry, sizeof(KalamTxnEntry*) * (size_t)p->nEntry);
  nKey = p->nEntry;
  /* Snowflake row ids make an import's keys strictly ascending as
  ** written: no key twice, nothing to sort. Otherwise sort, and keep the
  ** newest entry of each key, which the sort puts last among its equals. */
  if( !bSorted ){
    int j = 0;
    qsort(aKey, (size_t)nKey, sizeof(KalamTxnEntry*), txnEntryOrderCmp);
    for(i=0; i<nKey; i++){
      if( i+1<nKey && kalamTxnEntryCmp(&aKey[i], &aKey[i+1])==0 ) continue;
      aKey[j++] = aKey[i];
    }
    nKey = j;
  }

  zFile = kalamIngestFileName(p->pStore, p);
  if( zFile==0 ){ rc = SQLITE_NOMEM; goto done; }
  pWriter = kalamFileWriterNew(p->pStore, zFile);
  if( pWriter==0 ){
    sqlite3_free(zFile);
    rc = SQLITE_NOMEM;
    goto done;
  }
  if( kalamFileWriterOpen(pWriter)==0 ){
    for(i=0; i<nKey; i++){
      KalamTxnEntry *pE = aKey[i];
      if( kalamFileWriterAdd(pWriter, pE->zKey, (size_t)pE->nKey,
                             pE->zVal, pE->nVal) ) break;
    }
    if( i==nKey ) kalamFileWriterFinish(pWriter);
  }
  rc = kalamFileWriterError(pWriter, "kalam commit failed", pzErr);
  if( rc==SQLITE_OK ) *pzFile = kalamFileWriterTakeName(pWriter);

done:
  /* The writer closes the file before a partial one is removed. */
  kalamFileWriterFree(pWriter, rc!=SQLITE_OK);
  sqlite3_free(aKey);
  return rc;
}

/* The table file of a large transaction, if the buffer qualifies: the
** file the worker built during the transaction if it has one, else built
** now. *pzFile is NULL when the transaction is to commit as a batch;
** otherwise it is the finished file's name (sqlite3_free; the caller
** removes the file if it does not use it) and *ppCf the column family
** it goes to. */
int kalamIngestPrepare(KalamTxn *p, KalamCf **ppCf, char **pzFile,
                       char **pzErr){
  KalamCf *pCf = p->aEntry[0]->pCf;
  char *zFile = 0;
  int i;
  int rc = SQLITE_OK;

  *pzFile = 0;
  *ppCf = 0;
  if( kalamStoreIsMemory(p->pStore) || p->nBytes < TXN_INGEST_MIN_BYTES ){
    goto done;
  }
  for(i=0; i<p->nEntry; i++){
    if( p->aEntry[i]->pCf!=pCf ) goto done;
  }
  if( p->pSpec ) zFile = txnSpecFinish(p);
  if( zFile==0 ){
    rc = txnIngestBuild(p, &zFile, pzErr);
    if( rc!=SQLITE_OK ) goto done;
  }
  *pzFile = zFile;
  *ppCf = pCf;

done:
  /* A worker whose file this commit does not take (a ROLLBACK TO brought
  ** the transaction below the threshold) is stopped before the batch. */
  kalamIngestStop(p);
  return rc;
}

/* ROLLBACK TO back to nTarget entries: below what was handed over (by
** ROLLBACK TO -1, or to a savepoint whose entries were handed over while
** it was open, txnSpecSettledCount), the worker's file cannot take
** entries back, so the speculation ends. */
void kalamIngestRollback(KalamTxn *p, int nTarget){
  if( p->pSpec && nTarget < p->pSpec->nHanded ) kalamIngestStop(p);
}
