/*
** txn.c — SQLite transactions over RocksDB.
**
** Every write of a connection to a schema's kalam tables goes into one
** write buffer on its KalamDb, opened by xBegin and written by xSync as one
** atomic RocksDB write (synced when the database's PRAGMA synchronous is
** FULL or EXTRA); xCommit and xRollback then empty it. Reads inside the
** transaction look in the buffer first, so a connection sees its own writes
** and nobody else does until commit. SQLite opens a transaction around
** every writing statement, autocommit included, so a statement that fails
** part-way leaves nothing behind.
**
** The buffer. Each write is an entry (column family, key, value or "delete")
** allocated in an arena, in the order written (aEntry). A hash table maps
** (column family, key) to the newest entry of that key; each entry links to
** the entry it shadows. Entries join the hash table lazily, when the
** transaction next reads (txnIndex): an import that never reads its own
** writes never builds it. Commit replays the entries in order into one
** plain RocksDB WriteBatch: a later write of a key overrides an earlier one
** there too. A large transaction on one table is committed as an ingested
** table file instead (txnIngest). A scan merges a sorted snapshot of the
** column family's newest entries in range with a store iterator
** (KalamIter). kalam keeps its own buffer rather than RocksDB's
** WriteBatchWithIndex because that one's index costs a third of all the
** instructions of a bulk insert (its comparator looks the column family up
** on every comparison), while a hash table is all kalam's writes and point
** reads need.
**
** The table file of a large commit. Building it (blocks, LZ4) was a
** quarter of a million-row import, all at COMMIT on one core while the
** other idled. So once a transaction's buffer reaches TXN_INGEST_MIN_BYTES
** and all it wrote so far went to one column family in strictly ascending
** key order (snowflake row ids make an import so), a worker thread starts
** writing that file while the transaction goes on (TxnSpec), and COMMIT
** only finishes and ingests it. This is speculation: the transaction may
** yet write out of order or to another table, or roll back. The worker is
** only ever handed settled entries, those below the oldest open savepoint,
** which no failing statement can take back. A write that breaks the order
** or goes to another column family, a ROLLBACK TO below what was handed
** over, a worker's error, or the end of the transaction stops the worker
** and removes its file for good (until the next transaction); COMMIT then
** builds the file itself or takes the WriteBatch, as it would have
** without the worker. The worker calls RocksDB, pthreads and libc only,
** never SQLite, which may be built single-threaded.
**
** Savepoints. SQLite numbers its savepoints (statement journals included)
** 0, 1, 2...; a SAVEPOINT that opened the transaction itself is -1, so
** xRollbackTo(-1) means back to the start, transaction still open;
** xSavepoint(N) is called when savepoint N opens in a transaction the table
** is part of, and a table that joins late gets xSavepoint for the newest
** level only. aSp[i] is how many entries existed when savepoint i opened;
** ROLLBACK TO i undoes the entries after that, newest first (each key's
** slot goes back to the entry it shadowed), and savepoint i stays open;
** RELEASE i forgets i and above. Levels opened before a table joined all
** mark "nothing of kalam's written since", which is what they were. All
** tables of the schema share the KalamDb, so each call is idempotent: a
** second xSavepoint(N) for a level already held is a no-op.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <errno.h>

SQLITE_EXTENSION_INIT3

static void txnSpecEnd(KalamDb *p);
static void txnSpecOnWrite(KalamDb *p);
static void txnSpecSettled(KalamDb *p);

/* One buffered write. The key, then the value, follow the struct in the
** arena. */
struct KalamTxnEntry {
  rocksdb_column_family_handle_t *h;
  KalamTxnEntry *pOlder;   /* the entry of the same key this one shadows */
  unsigned int hash;       /* set when the entry is indexed */
  int iOrder;              /* its place in aEntry when written */
  int nKey;
  int nVal;                /* -1: a delete */
  char *zKey;
  char *zVal;
};

/* A hash slot that held an entry which a rollback removed: probing goes on
** past it, an insert may reuse it. */
static KalamTxnEntry txnGoneEntry;
#define TXN_GONE (&txnGoneEntry)

/* Arena chunks: entries live until the transaction ends. A chunk is twice
** the size of the one before, from TXN_CHUNK_MIN up to TXN_CHUNK_MAX, so a
** small transaction takes little and a large one few allocations. */
typedef struct TxnChunk TxnChunk;
struct TxnChunk {
  TxnChunk *pNext;
  size_t nUsed;
  size_t nSize;
  int bMapped;             /* from a mapping: munmap, not sqlite3_free */
};
#define TXN_CHUNK_MIN ((size_t)256*1024)
#define TXN_CHUNK_MAX ((size_t)4*1024*1024)

/* Chunks of 1 MB and more are mapped with their pages already present. A
** large import writes hundreds of MB into fresh memory, and taking one
** page fault per 4 kB page as the writes reach it cost a quarter of a
** million-row bulk insert; populating a chunk in one call costs the
** kernel far less (docs/performance.md). A failed mapping falls back to
** sqlite3_malloc64. The arena is then not counted by sqlite3_memory_used,
** like RocksDB's own memory. */
#define TXN_CHUNK_MAP ((size_t)1024*1024)

static TxnChunk *txnChunkAlloc(size_t nSize){
  TxnChunk *pChunk = 0;
#if defined(MAP_POPULATE) && defined(MAP_ANONYMOUS)
  if( nSize>=TXN_CHUNK_MAP ){
    void *pMap = mmap(0, nSize, PROT_READ|PROT_WRITE,
                      MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0);
    if( pMap!=MAP_FAILED ){
      pChunk = (TxnChunk*)pMap;
      pChunk->bMapped = 1;
      return pChunk;
    }
  }
#endif
  pChunk = sqlite3_malloc64(nSize);
  if( pChunk ) pChunk->bMapped = 0;
  return pChunk;
}

static void *txnArenaAlloc(KalamDb *p, size_t n){
  TxnChunk *pChunk = (TxnChunk*)p->pArena;
  void *pRet;
  n = (n + 7) & ~(size_t)7;
  if( pChunk==0 || pChunk->nSize - pChunk->nUsed < n ){
    size_t nSize = pChunk ? pChunk->nSize*2 : TXN_CHUNK_MIN;
    if( nSize > TXN_CHUNK_MAX ) nSize = TXN_CHUNK_MAX;
    if( n + sizeof(TxnChunk) > nSize ) nSize = n + sizeof(TxnChunk);
    pChunk = txnChunkAlloc(nSize);
    if( pChunk==0 ) return 0;
    pChunk->pNext = (TxnChunk*)p->pArena;
    pChunk->nUsed = (sizeof(TxnChunk) + 7) & ~(size_t)7;
    pChunk->nSize = nSize;
    p->pArena = pChunk;
  }
  pRet = (char*)pChunk + pChunk->nUsed;
  pChunk->nUsed += n;
  return pRet;
}

static void txnChunksFree(TxnChunk *pChunk){
  while( pChunk ){
    TxnChunk *pNext = pChunk->pNext;
#if defined(MAP_POPULATE) && defined(MAP_ANONYMOUS)
    if( pChunk->bMapped ){
      /* Cannot fail for a whole mapping made by txnChunkAlloc. */
      (void)munmap(pChunk, pChunk->nSize);
    }else
#endif
    sqlite3_free(pChunk);
    pChunk = pNext;
  }
}

/* The arena, shared with iterators. A cursor's iterator points at entries
** of its snapshot, and the cursor may stay open past the end of the
** transaction (a SELECT stepped on after COMMIT from the same connection),
** so the arena is freed only when the transaction is over and the last
** such iterator is gone. */
struct TxnArenaRef {
  int nRef;                /* the KalamDb's share, while it holds it, and
                           ** one per iterator */
  TxnChunk *pChunk;        /* the chunks, once the KalamDb let them go */
};

static void txnArenaRelease(TxnArenaRef *pRef){
  if( pRef && --pRef->nRef==0 ){
    txnChunksFree(pRef->pChunk);
    sqlite3_free(pRef);
  }
}

/* Forgets every buffered write. */
static void txnClear(KalamDb *p){
  /* First, because the worker reads entries in the arena freed below. */
  txnSpecEnd(p);
  if( p->pArenaRef ){
    p->pArenaRef->pChunk = (TxnChunk*)p->pArena;
    txnArenaRelease(p->pArenaRef);
    p->pArenaRef = 0;
  }else{
    txnChunksFree((TxnChunk*)p->pArena);
  }
  p->pArena = 0;
  p->nEntry = 0;
  p->nIndexed = 0;
  p->nBytes = 0;
  if( p->nUsed ){
    memset(p->aSlot, 0, sizeof(KalamTxnEntry*) * (size_t)p->nSlot);
    p->nUsed = 0;
  }
  p->nSp = 0;
  p->bFailed = 0;
  p->bSpecOff = 0;
}

void kalamTxnFree(KalamDb *p){
  txnClear(p);
  sqlite3_free(p->aEntry);
  sqlite3_free(p->aSlot);
  sqlite3_free(p->aSp);
  p->aEntry = 0;
  p->aSlot = 0;
  p->aSp = 0;
}

static unsigned int txnHash(rocksdb_column_family_handle_t *h,
                            const char *z, size_t n){
  unsigned int x = 2166136261u ^ (unsigned int)(size_t)h;
  size_t i;
  for(i=0; i<n; i++){
    x ^= (unsigned char)z[i];
    x *= 16777619u;
  }
  return x;
}

/* The slot of (h, key): the slot holding its newest entry, or if none, an
** empty slot where it would go. With nSlot a power of two and the table at
** most half full, the probe ends. */
static int txnFind(KalamDb *p, rocksdb_column_family_handle_t *h,
                   const char *z, size_t n, unsigned int hash){
  int mask = p->nSlot - 1;
  int i = (int)(hash & (unsigned)mask);
  int iFree = -1;
  for(;;){
    KalamTxnEntry *pE = p->aSlot[i];
    if( pE==0 ) return iFree>=0 ? iFree : i;
    if( pE==TXN_GONE ){
      if( iFree<0 ) iFree = i;
    }else if( pE->hash==hash && pE->h==h && (size_t)pE->nKey==n
           && memcmp(pE->zKey, z, n)==0 ){
      return i;
    }
    i = (i + 1) & mask;
  }
}

/* Makes room for one more key in the hash table. */
static int txnGrow(KalamDb *p){
  KalamTxnEntry **aOld = p->aSlot;
  int nOld = p->nSlot, i;
  int nNew = nOld ? nOld*2 : 1024;
  if( (p->nUsed + 1)*2 <= nOld ) return SQLITE_OK;
  p->aSlot = sqlite3_malloc64(sizeof(KalamTxnEntry*) * (size_t)nNew);
  if( p->aSlot==0 ){
    p->aSlot = aOld;
    return SQLITE_NOMEM;
  }
  memset(p->aSlot, 0, sizeof(KalamTxnEntry*) * (size_t)nNew);
  p->nSlot = nNew;
  p->nUsed = 0;
  for(i=0; i<nOld; i++){
    KalamTxnEntry *pE = aOld[i];
    if( pE && pE!=TXN_GONE ){
      p->aSlot[txnFind(p, pE->h, pE->zKey, (size_t)pE->nKey, pE->hash)] = pE;
      p->nUsed++;
    }
  }
  sqlite3_free(aOld);
  return SQLITE_OK;
}

/* Buffers a put (nv>=0) or a delete (nv<0). A failure (out of memory) is
** remembered and reported by xSync, which then fails the commit. The entry
** is only appended here: txnIndex puts it in the hash table when the
** transaction next reads, so an import that never reads its own writes
** never pays for the hash table. */
static void txnWrite(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                     const char *v, int nv){
  KalamTxnEntry *pE;
  if( p->bFailed ) return;
  if( p->nEntry>=p->nEntryAlloc ){
    int nNew = p->nEntryAlloc ? p->nEntryAlloc*2 : 1024;
    KalamTxnEntry **aNew = sqlite3_realloc64(p->aEntry,
                                     sizeof(KalamTxnEntry*) * (size_t)nNew);
    if( aNew==0 ) goto oom;
    p->aEntry = aNew;
    p->nEntryAlloc = nNew;
  }
  pE = txnArenaAlloc(p, sizeof(*pE) + nk + (nv>0 ? (size_t)nv : 0));
  if( pE==0 ) goto oom;
  pE->h = pCf->h;
  pE->pOlder = 0;
  pE->hash = 0;
  pE->iOrder = p->nEntry;
  pE->nKey = (int)nk;
  pE->nVal = nv;
  pE->zKey = (char*)&pE[1];
  pE->zVal = pE->zKey + nk;
  memcpy(pE->zKey, k, nk);
  if( nv>0 ) memcpy(pE->zVal, v, (size_t)nv);
  p->aEntry[p->nEntry++] = pE;
  p->nBytes += (sqlite3_int64)nk + (nv>0 ? nv : 0);
  if( !p->bSpecOff ) txnSpecOnWrite(p);
  return;
oom:
  p->bFailed = 1;
}

/* Adds the entries written since the last call to the hash table, oldest
** first, so that each key's slot ends at its newest entry. */
static int txnIndex(KalamDb *p){
  if( p->bFailed ) return SQLITE_NOMEM;
  while( p->nIndexed < p->nEntry ){
    KalamTxnEntry *pE = p->aEntry[p->nIndexed];
    int iSlot;
    if( txnGrow(p) ){
      p->bFailed = 1;
      return SQLITE_NOMEM;
    }
    pE->hash = txnHash(pE->h, pE->zKey, (size_t)pE->nKey);
    iSlot = txnFind(p, pE->h, pE->zKey, (size_t)pE->nKey, pE->hash);
    pE->pOlder = (p->aSlot[iSlot] && p->aSlot[iSlot]!=TXN_GONE)
               ? p->aSlot[iSlot] : 0;
    if( p->aSlot[iSlot]==0 ) p->nUsed++;
    p->aSlot[iSlot] = pE;
    p->nIndexed++;
  }
  return SQLITE_OK;
}

void kalamTxnPut(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                 const char *v, size_t nv){
  txnWrite(p, pCf, k, nk, v, (int)nv);
}

void kalamTxnDelete(KalamDb *p, KalamCf *pCf, const char *k, size_t nk){
  txnWrite(p, pCf, k, nk, 0, -1);
}

int kalamTxnBegin(KalamDb *p){
  if( p->bInTxn ) return SQLITE_OK;
  txnClear(p);
  p->bInTxn = 1;
  return SQLITE_OK;
}

static int txnEntryCmp(const void *pA, const void *pB){
  const KalamTxnEntry *a = *(KalamTxnEntry*const*)pA;
  const KalamTxnEntry *b = *(KalamTxnEntry*const*)pB;
  return kalamKeyCmp(a->zKey, (size_t)a->nKey, b->zKey, (size_t)b->nKey);
}

/* Key order, and for one key the order written. */
static int txnEntryOrderCmp(const void *pA, const void *pB){
  const KalamTxnEntry *a = *(KalamTxnEntry*const*)pA;
  const KalamTxnEntry *b = *(KalamTxnEntry*const*)pB;
  int c = kalamKeyCmp(a->zKey, (size_t)a->nKey, b->zKey, (size_t)b->nKey);
  return c ? c : (a->iOrder < b->iOrder ? -1 : 1);
}

/* Large transactions. Written through a WriteBatch, a transaction's rows
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
** first. Writes to several column families keep the WriteBatch, which is
** the only atomic write across them; so do memory stores, and small
** transactions, for which a file and a manifest sync cost more than the
** log. */
#define TXN_INGEST_MIN_BYTES ((sqlite3_int64)8 << 20)
#define TXN_WARM_STEP ((off_t)4 << 20)

/* The name of p's ingestion file (sqlite3_free), or NULL if out of
** memory. One writer per KalamDb at a time, and one process per store,
** so the name is unique; store.c sweeps what a crash leaves. */
static char *txnIngestFileName(KalamDb *p){
  return sqlite3_mprintf("%s/" KALAM_INGEST_PREFIX "%d-%p.sst",
                         p->pStore->zPath, (int)getpid(), (void*)p);
}

/* A table file writer with the store's options, or NULL if out of memory.
** *ppEnvOpts receives its env options; the caller destroys both, the
** writer first. */
static rocksdb_sstfilewriter_t *txnWriterCreate(KalamDb *p,
                                   rocksdb_envoptions_t **ppEnvOpts){
  *ppEnvOpts = rocksdb_envoptions_create();
  if( *ppEnvOpts==0 ) return 0;
  return rocksdb_sstfilewriter_create(*ppEnvOpts, p->pStore->pOpts);
}

/* Writes one entry, a put or a delete, into the table file. Called by the
** worker thread too: RocksDB only. */
static void txnWriterAdd(rocksdb_sstfilewriter_t *pWriter,
                         const KalamTxnEntry *pE, char **pzErr){
  if( pE->nVal<0 ){
    rocksdb_sstfilewriter_delete(pWriter, pE->zKey, (size_t)pE->nKey, pzErr);
  }else{
    rocksdb_sstfilewriter_put(pWriter, pE->zKey, (size_t)pE->nKey,
                              pE->zVal, (size_t)pE->nVal, pzErr);
  }
}

/* The speculative build of that file while the transaction goes on (see
** the header comment). One per KalamDb at most, in p->pSpec. The main
** thread makes it (txnSpecStart), joins its worker, and frees it and all
** it points to (txnSpecFree); the worker frees nothing of it. Entries
** are handed to the worker as copies of their pointers, because aEntry
** moves when it grows; the entries themselves stay put in the arena, and
** their keys and values never change, so the worker reads them unlocked.
** The arena outlives the worker: txnClear joins it first. */
struct TxnSpec {
  /* Set before the worker starts, fixed after. */
  pthread_t thread;
  char *zFile;                      /* the file (sqlite3_mprintf) */
  rocksdb_envoptions_t *pEnvOpts;
  rocksdb_sstfilewriter_t *pWriter; /* the worker's until it is joined */
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
  char *zErr = 0;
  int bFail = 0;

  rocksdb_sstfilewriter_open(s->pWriter, s->zFile, &zErr);
  while( zErr==0 && !bFail ){
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
    for(i=0; i<nBatch && zErr==0; i++){
      KalamTxnEntry *pE = aBatch[i];
      /* A main thread waiting to stop us waits at most one entry. */
      if( atomic_load_explicit(&s->bStop, memory_order_relaxed) ) break;
      txnWriterAdd(s->pWriter, pE, &zErr);
    }
    if( i<nBatch ) break;            /* stopped, or failed */
    if( bFinish && zErr==0 ){
      rocksdb_sstfilewriter_finish(s->pWriter, &zErr);
      if( zErr==0 ) s->bBuilt = 1;
      break;
    }
  }

  if( zErr ){
    bFail = 1;
    rocksdb_free(zErr);   /* COMMIT's own build reports the cause */
  }
  if( bFail ) atomic_store(&s->bFailed, 1);
  return 0;
}

/* Frees a speculation whose worker has been joined (or never started),
** removing its file if bRemove. */
static void txnSpecFree(TxnSpec *s, int bRemove){
  if( s==0 ) return;
  /* The writer closes the file: before it is removed. */
  if( s->pWriter ) rocksdb_sstfilewriter_destroy(s->pWriter);
  if( bRemove && s->zFile ) kalamIngestFileRemove(s->zFile);
  if( s->pEnvOpts ) rocksdb_envoptions_destroy(s->pEnvOpts);
  if( s->bCond ) (void)pthread_cond_destroy(&s->cond);
  if( s->bMutex ) (void)pthread_mutex_destroy(&s->mutex);
  sqlite3_free(s->aIn);
  sqlite3_free(s->aWork);
  sqlite3_free(s->zFile);
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
static void txnSpecStart(KalamDb *p){
  TxnSpec *s = sqlite3_malloc(sizeof(*s));
  if( s==0 ) goto fail;
  memset(s, 0, sizeof(*s));
  atomic_init(&s->bStop, 0);
  atomic_init(&s->bFailed, 0);
  s->zFile = txnIngestFileName(p);
  if( s->zFile==0 ) goto fail;
  s->pWriter = txnWriterCreate(p, &s->pEnvOpts);
  if( s->pWriter==0 ) goto fail;
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
static int txnSpecFeed(KalamDb *p, int nTo, int bFinish){
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
static void txnSpecEnd(KalamDb *p){
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

/* The entries that no open savepoint can take back. */
static int txnSpecSettledCount(KalamDb *p){
  return p->nSp>0 ? p->aSp[0] : p->nEntry;
}

/* After each write, while the transaction may still speculate: keeps
** watching that it qualifies, starts the worker when the buffer is large
** enough, and hands over settled entries a batch at a time. */
static void txnSpecOnWrite(KalamDb *p){
  KalamTxnEntry *pE = p->aEntry[p->nEntry-1];
  int nSettled;
  if( p->pStore->bMem ){          /* memory stores never ingest */
    p->bSpecOff = 1;
    return;
  }
  if( p->nEntry>1 ){
    KalamTxnEntry *pPrev = p->aEntry[p->nEntry-2];
    if( pE->h!=pPrev->h
     || kalamKeyCmp(pPrev->zKey, (size_t)pPrev->nKey,
                    pE->zKey, (size_t)pE->nKey)>=0 ){
      txnSpecEnd(p);
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
    txnSpecEnd(p);
  }
}

/* After a RELEASE: hands over what it settled, however little, so that
** an import of many multi-row statements keeps the worker busy. */
static void txnSpecSettled(KalamDb *p){
  int nSettled = txnSpecSettledCount(p);
  if( nSettled > p->pSpec->nHanded && txnSpecFeed(p, nSettled, 0) ){
    txnSpecEnd(p);
  }
}

/* At COMMIT: hands over the rest, waits for the worker to finish the file
** and returns its name, which the caller frees (sqlite3_free). NULL if the
** worker could not build it; its file is then gone and the speculation
** over. */
static char *txnSpecFinish(KalamDb *p){
  TxnSpec *s = p->pSpec;
  char *zFile = 0;
  if( txnSpecFeed(p, p->nEntry, 1) ){
    txnSpecEnd(p);
    return 0;
  }
  p->pSpec = 0;
  p->bSpecOff = 1;
  if( txnSpecJoin(s) ) return 0;
  if( s->bBuilt ){
    zFile = s->zFile;
    s->zFile = 0;
  }
  txnSpecFree(s, zFile==0);
  return zFile;
}

/* Writes the buffer, all of one column family (txnIngest checked), into
** a new table file, sorted, newest entry of each key: COMMIT's own build,
** when no worker built it. On success *pzFile is the file's name, which
** the caller frees (sqlite3_free); on failure no file is left. */
static int txnIngestBuild(KalamDb *p, char **pzFile, char **pzErr){
  KalamTxnEntry **aKey = 0;      /* newest entry of each key, in key order */
  int nKey = 0, bSorted = 1, i;
  rocksdb_envoptions_t *pEnvOpts = 0;
  rocksdb_sstfilewriter_t *pWriter = 0;
  char *zFile = 0;
  char *zErr = 0;
  int bOpened = 0;
  int rc = SQLITE_OK;

  *pzFile = 0;
  for(i=1; i<p->nEntry && bSorted; i++){
    if( txnEntryCmp(&p->aEntry[i-1], &p->aEntry[i])>=0 ) bSorted = 0;
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
      if( i+1<nKey && txnEntryCmp(&aKey[i], &aKey[i+1])==0 ) continue;
      aKey[j++] = aKey[i];
    }
    nKey = j;
  }

  zFile = txnIngestFileName(p);
  if( zFile==0 ){ rc = SQLITE_NOMEM; goto done; }
  pWriter = txnWriterCreate(p, &pEnvOpts);
  if( pWriter==0 ){ rc = SQLITE_NOMEM; goto done; }
  rocksdb_sstfilewriter_open(pWriter, zFile, &zErr);
  if( zErr ) goto done;
  bOpened = 1;
  for(i=0; i<nKey && zErr==0; i++){
    txnWriterAdd(pWriter, aKey[i], &zErr);
  }
  if( zErr ) goto done;
  rocksdb_sstfilewriter_finish(pWriter, &zErr);

done:
  if( zErr ){
    *pzErr = kalamStoreError("kalam commit failed", zErr);
    rc = SQLITE_IOERR;
  }
  /* The writer closes the file: before a partial one is removed. */
  if( pWriter ) rocksdb_sstfilewriter_destroy(pWriter);
  if( rc==SQLITE_OK ){
    *pzFile = zFile;
    zFile = 0;
  }else if( bOpened ){
    kalamIngestFileRemove(zFile);
  }
  if( pEnvOpts ) rocksdb_envoptions_destroy(pEnvOpts);
  sqlite3_free(zFile);
  sqlite3_free(aKey);
  return rc;
}

/* Ingests the finished table file zFile into column family h, whoever
** built it, and removes the name. *pbDone is set when it was ingested;
** an error means nothing was committed. */
static int txnIngestFile(KalamDb *p, rocksdb_column_family_handle_t *h,
                         const char *zFile, int *pbDone, char **pzErr){
  rocksdb_ingestexternalfileoptions_t *pIngestOpts = 0;
  char *zErr = 0;
  int fdWarm = -1;
  int rc = SQLITE_OK;

  *pbDone = 0;
  pIngestOpts = rocksdb_ingestexternalfileoptions_create();
  if( pIngestOpts==0 ){ rc = SQLITE_NOMEM; goto done; }
  /* RocksDB's writer drops the file it wrote from the OS page cache, so
  ** the first reads after an import would all go to the disk, where
  ** after a native import they find the pages in memory. The descriptor
  ** outlives the move below (the store's name is a link to the same
  ** file), and asks the kernel to read the file back in the background. */
  fdWarm = open(zFile, O_RDONLY);
  /* Moved (hard-linked) into the store rather than copied. */
  rocksdb_ingestexternalfileoptions_set_move_files(pIngestOpts, 1);
  rocksdb_ingest_external_file_cf(p->pStore->db, h,
                                  (const char*const*)&zFile, 1,
                                  pIngestOpts, &zErr);
  if( zErr==0 ){
    *pbDone = 1;
#ifdef POSIX_FADV_WILLNEED
    struct stat st;
    if( fdWarm>=0 && fstat(fdWarm, &st)==0 ){
      /* Linux reads ahead at most a few MB per call: one call per 4 MB.
      ** Advice only: nothing to do if the kernel declines. */
      off_t iOff;
      for(iOff=0; iOff<st.st_size; iOff+=TXN_WARM_STEP){
        (void)posix_fadvise(fdWarm, iOff, TXN_WARM_STEP, POSIX_FADV_WILLNEED);
      }
    }
#endif
  }

done:
  if( zErr ){
    *pzErr = kalamStoreError("kalam commit failed", zErr);
    rc = SQLITE_IOERR;
  }
  if( fdWarm>=0 ) close(fdWarm);
  /* After a move the name is RocksDB's link, already gone or ours to
  ** drop; after a failure it is the file nobody will ingest. Either way
  ** it goes. */
  kalamIngestFileRemove(zFile);
  if( pIngestOpts ) rocksdb_ingestexternalfileoptions_destroy(pIngestOpts);
  return rc;
}

/* Commits the buffer as an ingested table file, if it qualifies: with the
** file the worker built during the transaction if it has one, else
** building it now. *pbDone is set when it did; an error means nothing was
** committed. */
static int txnIngest(KalamDb *p, int *pbDone, char **pzErr){
  rocksdb_column_family_handle_t *h = p->aEntry[0]->h;
  char *zFile = 0;
  int i;
  int rc = SQLITE_OK;

  *pbDone = 0;
  if( p->pStore->bMem || p->nBytes < TXN_INGEST_MIN_BYTES ) goto done;
  for(i=0; i<p->nEntry; i++){
    if( p->aEntry[i]->h!=h ) goto done;
  }
  if( p->pSpec ) zFile = txnSpecFinish(p);
  if( zFile==0 ){
    rc = txnIngestBuild(p, &zFile, pzErr);
    if( rc!=SQLITE_OK ) goto done;
  }
  rc = txnIngestFile(p, h, zFile, pbDone, pzErr);

done:
  /* A worker whose file this commit does not take (a ROLLBACK TO brought
  ** the transaction below the threshold) is stopped before the batch. */
  txnSpecEnd(p);
  sqlite3_free(zFile);
  return rc;
}

/* Writes the buffer to the store in one atomic write. Called from xSync:
** an error here still makes SQLite roll the transaction back. */
int kalamTxnSync(KalamDb *p, char **pzErr){
  rocksdb_writebatch_t *pBatch;
  char *zErr = 0;
  int i, rc, bDone = 0;
  if( p->bFailed ){
    *pzErr = sqlite3_mprintf("kalam commit failed: out of memory while "
                             "buffering the transaction");
    return SQLITE_NOMEM;
  }
  if( p->nEntry==0 ) return SQLITE_OK;
  rc = txnIngest(p, &bDone, pzErr);
  if( rc!=SQLITE_OK ) return rc;
  if( bDone ){
    txnClear(p);
    return SQLITE_OK;
  }
  pBatch = rocksdb_writebatch_create();
  if( pBatch==0 ) return SQLITE_NOMEM;
  for(i=0; i<p->nEntry; i++){
    KalamTxnEntry *pE = p->aEntry[i];
    if( pE->nVal<0 ){
      rocksdb_writebatch_delete_cf(pBatch, pE->h, pE->zKey, (size_t)pE->nKey);
    }else{
      rocksdb_writebatch_put_cf(pBatch, pE->h, pE->zKey, (size_t)pE->nKey,
                                pE->zVal, (size_t)pE->nVal);
    }
  }
  rocksdb_write(p->pStore->db, p->bSync ? p->pStore->pWoSync
                : p->pStore->pWoNoSync, pBatch, &zErr);
  rocksdb_writebatch_destroy(pBatch);
  if( zErr ){
    *pzErr = kalamStoreError("kalam commit failed", zErr);
    return SQLITE_IOERR;
  }
  txnClear(p);
  return SQLITE_OK;
}

/* Ends the transaction: after a successful sync the buffer is already
** empty; after a rollback this discards it. */
void kalamTxnEnd(KalamDb *p){
  txnClear(p);
  p->bInTxn = 0;
}

int kalamTxnSavepoint(KalamDb *p, int iSavepoint){
  if( !p->bInTxn || iSavepoint<0 ) return SQLITE_OK;
  if( iSavepoint >= p->nSpAlloc ){
    int nNew = iSavepoint + 8;
    int *aNew = sqlite3_realloc64(p->aSp, sizeof(int)*nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    p->aSp = aNew;
    p->nSpAlloc = nNew;
  }
  while( p->nSp <= iSavepoint ) p->aSp[p->nSp++] = p->nEntry;
  return SQLITE_OK;
}

int kalamTxnRelease(KalamDb *p, int iSavepoint){
  if( iSavepoint < 0 ) iSavepoint = 0;
  if( iSavepoint < p->nSp ) p->nSp = iSavepoint;
  /* A statement's end releases its savepoint: its rows are settled now. */
  if( p->pSpec ) txnSpecSettled(p);
  return SQLITE_OK;
}

int kalamTxnRollbackTo(KalamDb *p, int iSavepoint, char **pzErr){
  int nTarget;
  (void)pzErr;
  if( !p->bInTxn || iSavepoint >= p->nSp ) return SQLITE_OK;
  nTarget = iSavepoint<0 ? 0 : p->aSp[iSavepoint];
  /* Only ROLLBACK TO -1 can reach below what was handed over, which never
  ** goes past aSp[0]; the worker's file cannot take entries back. */
  if( p->pSpec && nTarget < p->pSpec->nHanded ) txnSpecEnd(p);
  /* Newest first, each key's slot goes back to what it shadowed. The
  ** entries' memory stays in the arena until the transaction ends, so a
  ** cursor's snapshot never points at freed memory. */
  while( p->nEntry > nTarget ){
    KalamTxnEntry *pE = p->aEntry[--p->nEntry];
    if( p->nEntry < p->nIndexed ){
      int iSlot = txnFind(p, pE->h, pE->zKey, (size_t)pE->nKey, pE->hash);
      p->aSlot[iSlot] = pE->pOlder ? pE->pOlder : TXN_GONE;
      p->nIndexed = p->nEntry;
    }
    p->nBytes -= (sqlite3_int64)pE->nKey + (pE->nVal>0 ? pE->nVal : 0);
  }
  if( iSavepoint<0 ){
    p->nSp = 0;
  }else{
    p->nSp = iSavepoint + 1;   /* the savepoint stays open */
  }
  return SQLITE_OK;
}

/* The newest buffered entry of a key, or NULL. The buffer must be
** indexed (txnIndex). */
static KalamTxnEntry *txnLookup(KalamDb *p, KalamCf *pCf, const char *k,
                                size_t nk){
  KalamTxnEntry *pE;
  if( p->nEntry==0 ) return 0;
  pE = p->aSlot[txnFind(p, pCf->h, k, nk, txnHash(pCf->h, k, nk))];
  return (pE && pE!=TXN_GONE) ? pE : 0;
}

/* The buffer's newest entry of a key, indexing the buffer first; *ppE is
** NULL when the buffer does not hold the key. */
static int txnPending(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                      KalamTxnEntry **ppE){
  *ppE = 0;
  if( txnIndex(p) ) return SQLITE_NOMEM;
  *ppE = txnLookup(p, pCf, k, nk);
  return SQLITE_OK;
}

/* A buffered entry's value as the caller's own copy (rocksdb_free), or
** NULL for a delete. rocksdb_free is free(): the copy comes from malloc. */
static int txnEntryCopy(const KalamTxnEntry *pE, char **pzVal, size_t *pnVal){
  *pzVal = 0;
  if( pE->nVal<0 ) return SQLITE_OK;
  *pzVal = malloc(pE->nVal ? (size_t)pE->nVal : 1);
  if( *pzVal==0 ) return SQLITE_NOMEM;
  memcpy(*pzVal, pE->zVal, (size_t)pE->nVal);
  *pnVal = (size_t)pE->nVal;
  return SQLITE_OK;
}

/* Reads one key as this connection sees it: its pending writes over the
** store. *pzVal is NULL when there is no such key; otherwise the caller
** frees it with rocksdb_free. */
int kalamTxnGet(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                char **pzVal, size_t *pnVal, char **pzErr){
  KalamTxnEntry *pE;
  char *zErr = 0;
  if( txnPending(p, pCf, k, nk, &pE) ) return SQLITE_NOMEM;
  if( pE ) return txnEntryCopy(pE, pzVal, pnVal);
  *pzVal = rocksdb_get_cf(p->pStore->db, p->pStore->pRo, pCf->h, k, nk,
                          pnVal, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("kalam read failed", zErr);
    *pzVal = 0;
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* kalamTxnGet for cursors, without the copy of a value from the store: it
** stays pinned in *ppPin, which the caller destroys
** (rocksdb_pinnableslice_destroy) when done with *pzVal. A value from the
** buffer is copied into *pzCopy (rocksdb_free), because the buffer is
** emptied at COMMIT while a cursor may still be open. *pzVal is NULL when
** there is no such key. */
int kalamTxnGetPinned(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                      const char **pzVal, size_t *pnVal,
                      rocksdb_pinnableslice_t **ppPin, char **pzCopy,
                      char **pzErr){
  KalamTxnEntry *pE;
  char *zErr = 0;
  *pzVal = 0;
  *ppPin = 0;
  *pzCopy = 0;
  if( txnPending(p, pCf, k, nk, &pE) ) return SQLITE_NOMEM;
  if( pE ){
    int rc = txnEntryCopy(pE, pzCopy, pnVal);
    *pzVal = *pzCopy;
    return rc;
  }
  *ppPin = rocksdb_get_pinned_cf(p->pStore->db, p->pStore->pRo, pCf->h, k, nk,
                                 &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("kalam read failed", zErr);
    if( *ppPin ) rocksdb_pinnableslice_destroy(*ppPin);
    *ppPin = 0;
    return SQLITE_IOERR;
  }
  if( *ppPin ) *pzVal = rocksdb_pinnableslice_value(*ppPin, pnVal);
  return SQLITE_OK;
}

/* ------------------------------------------------------------ iterators
**
** A KalamIter is a store iterator merged with a snapshot of the buffered
** writes of one column family in one key range, taken when the iterator is
** made: a cursor sees the table as it was when its scan began. Where both
** hold a key, the buffer's entry wins; a buffered delete hides the key. A
** KalamIter moves in one direction, set by its seek. */
struct KalamIter {
  rocksdb_iterator_t *pBase;
  TxnArenaRef *pArenaRef;   /* keeps aPend's entries alive */
  KalamTxnEntry **aPend;    /* snapshot, sorted by key */
  int nPend;
  int iPend;                /* current pending entry */
  int bDesc;
  int eCur;                 /* ITER_BASE, ITER_PEND, or ITER_EOF */
};
#define ITER_EOF  0
#define ITER_BASE 1
#define ITER_PEND 2

/* An iterator over the column family as this connection sees it, for keys
** in [aLo, aHi). The caller destroys it with kalamIterDestroy; pRo (which
** carries the same bounds for the store) must outlive it. */
KalamIter *kalamTxnIterator(KalamDb *p, KalamCf *pCf,
                            rocksdb_readoptions_t *pRo,
                            const char *aLo, int nLo,
                            const char *aHi, int nHi){
  KalamIter *pIter;
  int i;
  if( txnIndex(p) ) return 0;
  pIter = sqlite3_malloc(sizeof(*pIter));
  if( pIter==0 ) return 0;
  memset(pIter, 0, sizeof(*pIter));
  pIter->pBase = rocksdb_create_iterator_cf(p->pStore->db, pRo, pCf->h);
  if( pIter->pBase==0 ){
    sqlite3_free(pIter);
    return 0;
  }
  if( p->nEntry>0 ){
    if( p->pArenaRef==0 ){
      p->pArenaRef = sqlite3_malloc(sizeof(TxnArenaRef));
      if( p->pArenaRef==0 ){
        kalamIterDestroy(pIter);
        return 0;
      }
      p->pArenaRef->nRef = 1;
      p->pArenaRef->pChunk = 0;
    }
    p->pArenaRef->nRef++;
    pIter->pArenaRef = p->pArenaRef;
    pIter->aPend = sqlite3_malloc64(sizeof(KalamTxnEntry*)*((size_t)p->nUsed+1));
    if( pIter->aPend==0 ){
      kalamIterDestroy(pIter);
      return 0;
    }
    for(i=0; i<p->nSlot; i++){
      KalamTxnEntry *pE = p->aSlot[i];
      if( pE==0 || pE==TXN_GONE || pE->h!=pCf->h ) continue;
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, aLo, (size_t)nLo)<0 ) continue;
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, aHi, (size_t)nHi)>=0 ) continue;
      pIter->aPend[pIter->nPend++] = pE;
    }
    qsort(pIter->aPend, (size_t)pIter->nPend, sizeof(KalamTxnEntry*),
          txnEntryCmp);
  }
  return pIter;
}

void kalamIterDestroy(KalamIter *pIter){
  if( pIter==0 ) return;
  if( pIter->pBase ) rocksdb_iter_destroy(pIter->pBase);
  txnArenaRelease(pIter->pArenaRef);
  sqlite3_free(pIter->aPend);
  sqlite3_free(pIter);
}

/* Picks the current entry from the two sources, skipping deletes and store
** keys that the buffer shadows. */
static void iterSettle(KalamIter *p){
  for(;;){
    int bBase = rocksdb_iter_valid(p->pBase);
    int bPend = p->iPend>=0 && p->iPend<p->nPend;
    int c = 0;
    KalamTxnEntry *pE;
    if( !bPend ){
      p->eCur = bBase ? ITER_BASE : ITER_EOF;
      return;
    }
    pE = p->aPend[p->iPend];
    if( bBase ){
      size_t nKey;
      const char *zKey = rocksdb_iter_key(p->pBase, &nKey);
      c = kalamKeyCmp(pE->zKey, (size_t)pE->nKey, zKey, nKey);
      if( p->bDesc ) c = -c;
      if( c>0 ){            /* the store's key comes first */
        p->eCur = ITER_BASE;
        return;
      }
    }
    if( pE->nVal>=0 ){
      p->eCur = ITER_PEND;   /* with c==0 the store's key is shadowed */
      return;
    }
    /* A buffered delete: skip it, and the store's key it hides. */
    if( bBase && c==0 ){
      if( p->bDesc ) rocksdb_iter_prev(p->pBase);
      else rocksdb_iter_next(p->pBase);
    }
    p->iPend += p->bDesc ? -1 : 1;
  }
}

void kalamIterSeek(KalamIter *p, const char *k, size_t n){
  int lo = 0, hi = p->nPend;
  rocksdb_iter_seek(p->pBase, k, n);
  while( lo<hi ){       /* first pending key >= k */
    int mid = (lo + hi)/2;
    KalamTxnEntry *pE = p->aPend[mid];
    if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, k, n)<0 ) lo = mid + 1;
    else hi = mid;
  }
  p->iPend = lo;
  p->bDesc = 0;
  iterSettle(p);
}

void kalamIterSeekForPrev(KalamIter *p, const char *k, size_t n){
  int lo = 0, hi = p->nPend;
  rocksdb_iter_seek_for_prev(p->pBase, k, n);
  while( lo<hi ){       /* first pending key > k */
    int mid = (lo + hi)/2;
    KalamTxnEntry *pE = p->aPend[mid];
    if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, k, n)<=0 ) lo = mid + 1;
    else hi = mid;
  }
  p->iPend = lo - 1;
  p->bDesc = 1;
  iterSettle(p);
}

void kalamIterNext(KalamIter *p){
  if( p->eCur==ITER_PEND ){
    KalamTxnEntry *pE = p->aPend[p->iPend];
    if( rocksdb_iter_valid(p->pBase) ){
      size_t nKey;
      const char *zKey = rocksdb_iter_key(p->pBase, &nKey);
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, zKey, nKey)==0 ){
        if( p->bDesc ) rocksdb_iter_prev(p->pBase);
        else rocksdb_iter_next(p->pBase);
      }
    }
    p->iPend += p->bDesc ? -1 : 1;
  }else if( p->eCur==ITER_BASE ){
    if( p->bDesc ) rocksdb_iter_prev(p->pBase);
    else rocksdb_iter_next(p->pBase);
  }
  iterSettle(p);
}

int kalamIterValid(KalamIter *p){
  return p->eCur!=ITER_EOF;
}

const char *kalamIterKey(KalamIter *p, size_t *pn){
  if( p->eCur==ITER_PEND ){
    *pn = (size_t)p->aPend[p->iPend]->nKey;
    return p->aPend[p->iPend]->zKey;
  }
  return rocksdb_iter_key(p->pBase, pn);
}

const char *kalamIterValue(KalamIter *p, size_t *pn){
  if( p->eCur==ITER_PEND ){
    *pn = (size_t)p->aPend[p->iPend]->nVal;
    return p->aPend[p->iPend]->zVal;
  }
  return rocksdb_iter_value(p->pBase, pn);
}

void kalamIterError(KalamIter *p, char **pzErr){
  rocksdb_iter_get_error(p->pBase, pzErr);
}
