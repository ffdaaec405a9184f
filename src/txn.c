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

SQLITE_EXTENSION_INIT3

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

/* Commits the buffer as an ingested table file, if it qualifies. *pbDone
** is set when it did; an error means nothing was committed. */
static int txnIngest(KalamDb *p, int *pbDone, char **pzErr){
  KalamTxnEntry **aKey = 0;      /* newest entry of each key, in key order */
  int nKey = 0, bSorted = 1, i;
  rocksdb_column_family_handle_t *h = p->aEntry[0]->h;
  rocksdb_envoptions_t *pEnvOpts = 0;
  rocksdb_sstfilewriter_t *pWriter = 0;
  rocksdb_ingestexternalfileoptions_t *pIngestOpts = 0;
  char *zFile = 0;
  char *zErr = 0;
  int bOpened = 0;
  int fdWarm = -1;
  int rc = SQLITE_OK;

  *pbDone = 0;
  if( p->pStore->bMem || p->nBytes < TXN_INGEST_MIN_BYTES ) return SQLITE_OK;
  for(i=0; i<p->nEntry; i++){
    if( p->aEntry[i]->h!=h ) return SQLITE_OK;
    if( bSorted && i>0 && txnEntryCmp(&p->aEntry[i-1], &p->aEntry[i])>=0 ){
      bSorted = 0;
    }
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

  /* One writer per KalamDb at a time, and one process per store: the name
  ** is unique. store.c removes files that a crash left behind. */
  zFile = sqlite3_mprintf("%s/" KALAM_INGEST_PREFIX "%d-%p.sst",
                          p->pStore->zPath, (int)getpid(), (void*)p);
  pEnvOpts = rocksdb_envoptions_create();
  pIngestOpts = rocksdb_ingestexternalfileoptions_create();
  if( zFile==0 || pEnvOpts==0 || pIngestOpts==0 ){
    rc = SQLITE_NOMEM;
    goto done;
  }
  pWriter = rocksdb_sstfilewriter_create(pEnvOpts, p->pStore->pOpts);
  if( pWriter==0 ){ rc = SQLITE_NOMEM; goto done; }
  rocksdb_sstfilewriter_open(pWriter, zFile, &zErr);
  if( zErr ) goto done;
  bOpened = 1;
  for(i=0; i<nKey && zErr==0; i++){
    KalamTxnEntry *pE = aKey[i];
    if( pE->nVal<0 ){
      rocksdb_sstfilewriter_delete(pWriter, pE->zKey, (size_t)pE->nKey, &zErr);
    }else{
      rocksdb_sstfilewriter_put(pWriter, pE->zKey, (size_t)pE->nKey,
                                pE->zVal, (size_t)pE->nVal, &zErr);
    }
  }
  if( zErr ) goto done;
  rocksdb_sstfilewriter_finish(pWriter, &zErr);
  if( zErr ) goto done;
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
  if( pWriter ) rocksdb_sstfilewriter_destroy(pWriter);
  if( fdWarm>=0 ) close(fdWarm);
  /* After a move the name is RocksDB's link, already gone or ours to
  ** drop; after a failure it is a partial file. Either way it goes. */
  if( bOpened ) kalamIngestFileRemove(zFile);
  if( pIngestOpts ) rocksdb_ingestexternalfileoptions_destroy(pIngestOpts);
  if( pEnvOpts ) rocksdb_envoptions_destroy(pEnvOpts);
  sqlite3_free(zFile);
  sqlite3_free(aKey);
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
  return SQLITE_OK;
}

int kalamTxnRollbackTo(KalamDb *p, int iSavepoint, char **pzErr){
  int nTarget;
  (void)pzErr;
  if( !p->bInTxn || iSavepoint >= p->nSp ) return SQLITE_OK;
  nTarget = iSavepoint<0 ? 0 : p->aSp[iSavepoint];
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

/* Reads one key as this connection sees it: its pending writes over the
** store. *pzVal is NULL when there is no such key; otherwise the caller
** frees it with rocksdb_free. */
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
