/*
** txn.c — SQLite transactions over kalam's store: the write buffer.
**
** Every write of a connection to a schema's kalam tables goes into one
** write buffer, the KalamTxn of its KalamDb, opened by xBegin and written by xSync as one
** atomic store write (synced when the database's PRAGMA synchronous is
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
** transaction next reads (kalamTxnIndex): an import that never reads its own
** writes never builds it. Commit replays the entries in order into one
** plain store batch (KalamBatch): a later write of a key overrides an earlier one
** there too. kalam keeps its own buffer rather than RocksDB's
** WriteBatchWithIndex because that one's index costs a third of all the
** instructions of a bulk insert (its comparator looks the column family up
** on every comparison), while a hash table is all kalam's writes and point
** reads need.
**
** A large transaction on one table commits as an ingested table file
** instead of the batch: txn_ingest.c. Scans merge the buffer with the
** store: txn_iter.c.
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
** tables of the schema share the KalamTxn, so each call is idempotent: a
** second xSavepoint(N) for a level already held is a no-op.
*/
#include "txn_int.h"
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

SQLITE_EXTENSION_INIT3

KalamTxnEntry kalamTxnGoneEntry;

static void txnUnprepare(KalamTxn *p, int bRemove);

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

/* n bytes, 8-aligned, that live until the transaction ends; NULL if out
** of memory. */
static void *txnArenaAlloc(KalamTxn *p, size_t n){
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
  int nRef;                /* the KalamTxn's share, while it holds it, and
                           ** one per iterator */
  TxnChunk *pChunk;        /* the chunks, once the KalamTxn let them go */
};

/* Gives back a share of the arena; the last one frees it. */
void kalamTxnArenaRelease(TxnArenaRef *pRef){
  if( pRef ){
    assert( pRef->nRef>0 );
    if( --pRef->nRef==0 ){
      txnChunksFree(pRef->pChunk);
      sqlite3_free(pRef);
    }
  }
}

/* A share of the arena for an iterator, which gives it back with
** kalamTxnArenaRelease; NULL if out of memory. */
TxnArenaRef *kalamTxnArenaShare(KalamTxn *p){
  if( p->pArenaRef==0 ){
    p->pArenaRef = sqlite3_malloc(sizeof(TxnArenaRef));
    if( p->pArenaRef==0 ) return 0;
    p->pArenaRef->nRef = 1;
    p->pArenaRef->pChunk = 0;
  }
  p->pArenaRef->nRef++;
  return p->pArenaRef;
}
/* Forgets every buffered write. */
static void txnClear(KalamTxn *p){
  /* First, because the worker reads entries in the arena freed below. */
  kalamIngestStop(p);
  if( p->pArenaRef ){
    p->pArenaRef->pChunk = (TxnChunk*)p->pArena;
    kalamTxnArenaRelease(p->pArenaRef);
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

/* A transaction on pStore, closed; NULL if out of memory. The caller
** frees it with kalamTxnFree, before it releases the store. */
KalamTxn *kalamTxnNew(KalamStore *pStore){
  KalamTxn *p = sqlite3_malloc(sizeof(*p));
  if( p ){
    memset(p, 0, sizeof(*p));
    p->pStore = pStore;
  }
  return p;
}

void kalamTxnFree(KalamTxn *p){
  if( p==0 ) return;
  txnUnprepare(p, 0);
  txnClear(p);
  sqlite3_free(p->aEntry);
  sqlite3_free(p->aSlot);
  sqlite3_free(p->aSp);
  sqlite3_free(p);
}

/* Is the transaction open (between kalamTxnBegin and kalamTxnEnd)? */
int kalamTxnIsOpen(const KalamTxn *p){
  return p->bInTxn;
}

/* Whether COMMIT syncs the store's log: PRAGMA synchronous FULL or EXTRA,
** read by the caller at xBegin. */
void kalamTxnSetSync(KalamTxn *p, int bSync){
  p->bSync = bSync;
}

static unsigned int txnHash(KalamCf *pCf,
                            const char *z, size_t n){
  unsigned int x = 2166136261u ^ (unsigned int)(size_t)pCf;
  size_t i;
  for(i=0; i<n; i++){
    x ^= (unsigned char)z[i];
    x *= 16777619u;
  }
  return x;
}

/* The slot of (pCf, key): the slot holding its newest entry, or if none, an
** empty slot where it would go. With nSlot a power of two and the table at
** most half full, the probe ends. */
static int txnFind(KalamTxn *p, KalamCf *pCf,
                   const char *z, size_t n, unsigned int hash){
  int mask = p->nSlot - 1;
  int i = (int)(hash & (unsigned)mask);
  int iFree = -1;
  assert( p->nSlot>0 && (p->nSlot & mask)==0 );
  assert( p->nUsed*2 <= p->nSlot );
  for(;;){
    KalamTxnEntry *pE = p->aSlot[i];
    if( pE==0 ) return iFree>=0 ? iFree : i;
    if( pE==TXN_GONE ){
      if( iFree<0 ) iFree = i;
    }else if( pE->hash==hash && pE->pCf==pCf && (size_t)pE->nKey==n
           && memcmp(pE->zKey, z, n)==0 ){
      return i;
    }
    i = (i + 1) & mask;
  }
}

/* Makes room for one more key in the hash table. */
static int txnGrow(KalamTxn *p){
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
      p->aSlot[txnFind(p, pE->pCf, pE->zKey, (size_t)pE->nKey, pE->hash)] = pE;
      p->nUsed++;
    }
  }
  sqlite3_free(aOld);
  return SQLITE_OK;
}

/* Buffers a put (nv>=0) or a delete (nv<0). A failure (out of memory) is
** remembered and reported by xSync, which then fails the commit. The entry
** is only appended here: kalamTxnIndex puts it in the hash table when the
** transaction next reads, so an import that never reads its own writes
** never pays for the hash table. */
static void txnWrite(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
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
  pE->pCf = pCf;
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
  p->iGen++;
  p->nBytes += (sqlite3_int64)nk + (nv>0 ? nv : 0);
  if( !p->bSpecOff ) kalamIngestOnWrite(p);
  return;
oom:
  p->bFailed = 1;
}

/* Adds the entries written since the last call to the hash table, oldest
** first, so that each key's slot ends at its newest entry. */
int kalamTxnIndex(KalamTxn *p){
  if( p->bFailed ) return SQLITE_NOMEM;
  while( p->nIndexed < p->nEntry ){
    KalamTxnEntry *pE = p->aEntry[p->nIndexed];
    int iSlot;
    if( txnGrow(p) ){
      p->bFailed = 1;
      return SQLITE_NOMEM;
    }
    pE->hash = txnHash(pE->pCf, pE->zKey, (size_t)pE->nKey);
    iSlot = txnFind(p, pE->pCf, pE->zKey, (size_t)pE->nKey, pE->hash);
    pE->pOlder = (p->aSlot[iSlot] && p->aSlot[iSlot]!=TXN_GONE)
               ? p->aSlot[iSlot] : 0;
    if( p->aSlot[iSlot]==0 ) p->nUsed++;
    p->aSlot[iSlot] = pE;
    p->nIndexed++;
  }
  return SQLITE_OK;
}

void kalamTxnPut(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                 const char *v, size_t nv){
  txnWrite(p, pCf, k, nk, v, (int)nv);
}

void kalamTxnDelete(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk){
  txnWrite(p, pCf, k, nk, 0, -1);
}

/* Opens the transaction; a no-op when it is open. */
int kalamTxnBegin(KalamTxn *p){
  if( p->bInTxn ) return SQLITE_OK;
  txnClear(p);
  p->bInTxn = 1;
  return SQLITE_OK;
}

/* qsort's comparison of entries (pointers to them): key order. */
int kalamTxnEntryCmp(const void *pA, const void *pB){
  const KalamTxnEntry *a = *(KalamTxnEntry*const*)pA;
  const KalamTxnEntry *b = *(KalamTxnEntry*const*)pB;
  return kalamKeyCmp(a->zKey, (size_t)a->nKey, b->zKey, (size_t)b->nKey);
}

/* ------------------------------------------------------------ commit
** The buffer commits in two steps (commit.c runs the protocol): Prepare,
** from xSync, makes it durable but invisible as prepared transaction
** iTxn: a record in the store's prepared column family that holds the
** batch's bytes, or, for a large transaction, names its table file.
** Apply, from xCommit once SQLite has committed, makes it visible. A
** transaction that ends without Apply (ROLLBACK, also after a failed
** COMMIT) discards the record. A memory store keeps nothing durable: its
** Prepare only builds the batch. */

/* The prepared record's key: the transaction's number, 8 bytes
** big-endian so that records sort in commit order, then what follows
** (TXN_PREPARED_BATCH or _FILE). */
#define TXN_PREPARED_KEY 9
static void txnPreparedKey(char *aKey, sqlite3_int64 iTxn, char cTag){
  kalamPut64((unsigned char*)aKey, (sqlite3_uint64)iTxn);
  aKey[8] = cTag;
}

/* Forgets the prepared transaction, if any; with bRemove its record and
** table file go too (it will never be applied). */
static void txnUnprepare(KalamTxn *p, int bRemove){
  if( bRemove && p->iPrepared ){
    char aKey[TXN_PREPARED_KEY];
    char *zIgnore = 0;
    txnPreparedKey(aKey, p->iPrepared, p->zPrepFile ? KALAM_PREPARED_FILE
                                                    : KALAM_PREPARED_BATCH);
    /* Unsynced: a record a crash leaves is discarded at the next open,
    ** because the database file does not show its transaction. */
    (void)kalamStorePut(p->pStore, kalamStorePrepared(p->pStore), aKey,
                        TXN_PREPARED_KEY, 0, 0, 0, "", &zIgnore);
    sqlite3_free(zIgnore);
  }
  if( bRemove && p->zPrepFile ) kalamIngestFileRemove(p->zPrepFile);
  kalamBatchFree(p->pPrepBatch);
  sqlite3_free(p->zPrepFile);
  p->pPrepBatch = 0;
  p->zPrepFile = 0;
  p->pPrepCf = 0;
  p->iPrepared = 0;
  p->bPrepared = 0;
}

/* The buffer as one batch (the caller frees it), or NULL if out of
** memory. */
static KalamBatch *txnBatch(KalamTxn *p){
  KalamBatch *pBatch = kalamBatchNew();
  int i;
  if( pBatch==0 ) return 0;
  for(i=0; i<p->nEntry; i++){
    KalamTxnEntry *pE = p->aEntry[i];
    if( pE->nVal<0 ){
      kalamBatchDelete(pBatch, pE->pCf, pE->zKey, (size_t)pE->nKey);
    }else{
      kalamBatchPut(pBatch, pE->pCf, pE->zKey, (size_t)pE->nKey,
                    pE->zVal, (size_t)pE->nVal);
    }
  }
  return pBatch;
}

/* Writes prepared record (iTxn, cTag) -> z[0..n), replacing a record of
** the same number with the other tag (an earlier prepare of a COMMIT that
** failed), synced when the transaction syncs. */
static int txnWriteRecord(KalamTxn *p, sqlite3_int64 iTxn, char cTag,
                          const char *z, size_t n, char **pzErr){
  KalamCf *pPrepared = kalamStorePrepared(p->pStore);
  KalamBatch *pBatch = kalamBatchNew();
  char aKey[TXN_PREPARED_KEY];
  int rc;
  if( pBatch==0 ) return SQLITE_NOMEM;
  txnPreparedKey(aKey, iTxn, cTag==KALAM_PREPARED_FILE ? KALAM_PREPARED_BATCH
                                                       : KALAM_PREPARED_FILE);
  kalamBatchDelete(pBatch, pPrepared, aKey, TXN_PREPARED_KEY);
  txnPreparedKey(aKey, iTxn, cTag);
  kalamBatchPut(pBatch, pPrepared, aKey, TXN_PREPARED_KEY, z, n);
  rc = kalamBatchWrite(p->pStore, pBatch, p->bSync, "kalam commit failed",
                       pzErr);
  kalamBatchFree(pBatch);
  return rc;
}

/* Is the buffer prepared as it stands (a second xSync has nothing to
** do)? */
int kalamTxnPreparedCurrent(const KalamTxn *p){
  return p->bPrepared && p->iPrepGen==p->iGen;
}

/* The number of the prepared transaction, or 0: kept when a COMMIT that
** SQLite refused is retried. */
sqlite3_int64 kalamTxnPreparedNumber(const KalamTxn *p){
  return p->bPrepared ? p->iPrepared : 0;
}

/* What reads see of the store: pView (commit.c holds it), or with NULL
** the newest commit. */
void kalamTxnSetView(KalamTxn *p, KalamView *pView){
  p->pView = pView;
}

/* Does the buffer hold writes to commit? */
int kalamTxnHasWrites(const KalamTxn *p){
  return p->nEntry>0 || p->bFailed;
}

/* Prepares the buffer as transaction iTxn (0 for a memory store): durable,
** invisible, ready for kalamTxnApply. A COMMIT that SQLite refused (busy)
** may be retried, with or without more writes in between: a prepare of an
** unchanged buffer is kept, a changed one is prepared anew. */
int kalamTxnPrepare(KalamTxn *p, sqlite3_int64 iTxn, char **pzErr){
  KalamCf *pCf = 0;
  char *zFile = 0;
  int rc = SQLITE_OK;

  if( p->bFailed ){
    *pzErr = sqlite3_mprintf("kalam commit failed: out of memory while "
                             "buffering the transaction");
    return SQLITE_NOMEM;
  }
  if( p->bPrepared && p->iPrepared==iTxn && p->iPrepGen==p->iGen ){
    return SQLITE_OK;
  }
  /* An earlier prepare of this transaction (a COMMIT SQLite refused, then
  ** more writes) goes, record and file, before the new one is written. */
  txnUnprepare(p, 1);
  if( p->nEntry==0 ) return SQLITE_OK;

  /* A large transaction on one table: its table file. */
  if( iTxn ){
    rc = kalamIngestPrepare(p, &pCf, &zFile, pzErr);
    if( rc ) goto done;
  }
  if( zFile ){
    char *zPrep = kalamPreparedFileName(p->pStore, iTxn);
    const char *zBase;
    if( zPrep==0 ){ rc = SQLITE_NOMEM; goto done; }
    rc = kalamPreparedFileKeep(zFile, zPrep, pzErr);
    sqlite3_free(zFile);
    zFile = zPrep;
    if( rc ) goto done;
    zBase = strrchr(zFile, '/');
    zBase = zBase ? zBase+1 : zFile;
    {
      /* The record (commit.c reads it): "<column family>\n<file name>\n",
      ** the offset of the file's end (8 bytes big-endian), and that end as
      ** written (kalamPreparedFileTail says why). */
      KalamBuf rec;
      char *zTail = 0;
      int nTail = 0;
      sqlite3_int64 iOff = 0;
      unsigned char aOff[8];
      rc = kalamPreparedFileTail(zFile, &zTail, &nTail, &iOff, pzErr);
      if( rc ) goto done;
      kalamPut64(aOff, (sqlite3_uint64)iOff);
      kalamBufInit(&rec);
      kalamBufAppendStr(&rec, kalamStoreCfName(pCf));
      kalamBufAppendChar(&rec, '\n');
      kalamBufAppendStr(&rec, zBase);
      kalamBufAppendChar(&rec, '\n');
      kalamBufAppend(&rec, aOff, 8);
      kalamBufAppend(&rec, zTail, nTail);
      sqlite3_free(zTail);
      if( rec.oom ){
        kalamBufFree(&rec);
        rc = SQLITE_NOMEM;
        goto done;
      }
      rc = txnWriteRecord(p, iTxn, KALAM_PREPARED_FILE, rec.z,
                          (size_t)rec.n, pzErr);
      kalamBufFree(&rec);
    }
    if( rc ) goto done;
    p->zPrepFile = zFile;
    p->pPrepCf = pCf;
    zFile = 0;
  }else{
    p->pPrepBatch = txnBatch(p);
    if( p->pPrepBatch==0 ){ rc = SQLITE_NOMEM; goto done; }
    if( iTxn ){
      size_t n = 0;
      const char *z = kalamBatchData(p->pPrepBatch, &n);
      rc = txnWriteRecord(p, iTxn, KALAM_PREPARED_BATCH, z, n, pzErr);
      if( rc ) goto done;
    }
  }
  p->iPrepared = iTxn;
  p->iPrepGen = p->iGen;
  p->bPrepared = 1;

done:
  if( zFile ){
    kalamIngestFileRemove(zFile);
    sqlite3_free(zFile);
  }
  if( rc ) txnUnprepare(p, 1);
  return rc;
}

/* Makes the prepared transaction visible, after SQLite committed it: the
** batch and the removal of its record in one write (unsynced: the record
** makes it durable until then), or the table file ingested and then its
** record removed. An error leaves the record for the next settle, which
** applies it (commit.c). */
int kalamTxnApply(KalamTxn *p, char **pzErr){
  KalamCf *pPrepared = kalamStorePrepared(p->pStore);
  sqlite3_int64 iTxn = p->iPrepared;
  char aKey[TXN_PREPARED_KEY];
  int rc = SQLITE_OK;

  if( !p->bPrepared ) return SQLITE_OK;
  if( iTxn ){
    rc = kalamStoreApplyBegin(p->pStore, iTxn, kalamStoreShared(p->pStore),
                              pzErr);
    if( rc ) return rc;
  }
  if( p->zPrepFile ){
    rc = kalamStoreIngest(p->pStore, p->pPrepCf, p->zPrepFile,
                          "kalam commit failed", pzErr);
    kalamCrashPoint("apply");
    if( rc==SQLITE_OK ){
      txnPreparedKey(aKey, iTxn, KALAM_PREPARED_FILE);
      rc = kalamStorePut(p->pStore, pPrepared, aKey, TXN_PREPARED_KEY, 0, 0,
                         0, "kalam commit failed", pzErr);
    }
  }else{
    if( iTxn ){
      txnPreparedKey(aKey, iTxn, KALAM_PREPARED_BATCH);
      kalamBatchDelete(p->pPrepBatch, pPrepared, aKey, TXN_PREPARED_KEY);
    }
    rc = kalamBatchWrite(p->pStore, p->pPrepBatch, 0, "kalam commit failed",
                         pzErr);
  }
  if( iTxn ){
    if( rc==SQLITE_OK ){
      kalamStoreApplyEnd(p->pStore, iTxn);
    }else{
      kalamStoreSettleAgain(p->pStore);
    }
  }
  txnUnprepare(p, 0);
  txnClear(p);
  return rc;
}

/* Ends the transaction: after kalamTxnApply the buffer is already empty;
** otherwise (a rollback) this discards it, and a prepared record with it. */
void kalamTxnEnd(KalamTxn *p){
  txnUnprepare(p, 1);
  txnClear(p);
  p->bInTxn = 0;
}

/* xSavepoint(N): savepoint N opens (see the header comment). */
int kalamTxnSavepoint(KalamTxn *p, int iSavepoint){
  if( !p->bInTxn || iSavepoint<0 ) return SQLITE_OK;
  if( iSavepoint >= p->nSpAlloc ){
    int nNew = iSavepoint + 8;
    int *aNew = sqlite3_realloc64(p->aSp, sizeof(int)*nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    p->aSp = aNew;
    p->nSpAlloc = nNew;
  }
  while( p->nSp <= iSavepoint ){
    if( p->nSp==0 ) p->nSpBytes = p->nBytes;
    p->aSp[p->nSp++] = p->nEntry;
  }
  assert( p->nSp<2 || p->aSp[p->nSp-2]<=p->aSp[p->nSp-1] );
  return SQLITE_OK;
}

/* xRelease(N): savepoint N and those inside it are forgotten; their
** writes stay. */
int kalamTxnRelease(KalamTxn *p, int iSavepoint){
  if( iSavepoint < 0 ) iSavepoint = 0;
  if( iSavepoint < p->nSp ) p->nSp = iSavepoint;
  /* A statement's end releases its savepoint: its rows are settled now. */
  if( p->pSpec ) kalamIngestSettled(p);
  return SQLITE_OK;
}

/* xRollbackTo(N): the writes since savepoint N opened are undone, and N
** stays open; N = -1 undoes the whole transaction, which stays open. */
int kalamTxnRollbackTo(KalamTxn *p, int iSavepoint, char **pzErr){
  int nTarget;
  (void)pzErr;
  if( !p->bInTxn || iSavepoint >= p->nSp ) return SQLITE_OK;
  nTarget = iSavepoint<0 ? 0 : p->aSp[iSavepoint];
  assert( nTarget>=0 && nTarget<=p->nEntry );
  /* The worker's file cannot take entries back: reaching below what it
  ** was handed (txn_ingest.c) ends the speculation. */
  kalamIngestRollback(p, nTarget);
  /* Newest first, each key's slot goes back to what it shadowed. The
  ** entries' memory stays in the arena until the transaction ends, so a
  ** cursor's snapshot never points at freed memory. */
  if( p->nEntry > nTarget ) p->iGen++;
  while( p->nEntry > nTarget ){
    KalamTxnEntry *pE = p->aEntry[--p->nEntry];
    if( p->nEntry < p->nIndexed ){
      int iSlot = txnFind(p, pE->pCf, pE->zKey, (size_t)pE->nKey, pE->hash);
      p->aSlot[iSlot] = pE->pOlder ? pE->pOlder : TXN_GONE;
      p->nIndexed = p->nEntry;
    }
    p->nBytes -= (sqlite3_int64)pE->nKey + (pE->nVal>0 ? pE->nVal : 0);
  }
  assert( p->nBytes>=0 && p->nIndexed<=p->nEntry );
  if( iSavepoint<0 ){
    p->nSp = 0;
  }else{
    p->nSp = iSavepoint + 1;   /* the savepoint stays open */
  }
  return SQLITE_OK;
}

/* The newest buffered entry of a key, or NULL. The buffer must be
** indexed (kalamTxnIndex). */
static KalamTxnEntry *txnLookup(KalamTxn *p, KalamCf *pCf, const char *k,
                                size_t nk){
  KalamTxnEntry *pE;
  if( p->nEntry==0 ) return 0;
  assert( p->nIndexed==p->nEntry );
  pE = p->aSlot[txnFind(p, pCf, k, nk, txnHash(pCf, k, nk))];
  return (pE && pE!=TXN_GONE) ? pE : 0;
}

/* Calls xWrite for each key the transaction writes, once, with its newest
** value (NULL for a delete), in the order of those newest writes: what a
** commit changes, for the subscriptions of subscribe.c. Stops at the first
** error xWrite returns. */
int kalamTxnEachWrite(KalamTxn *p,
                      int (*xWrite)(void*, KalamCf*, const char*, size_t,
                                    const char*, int),
                      void *pArg){
  int i, rc = SQLITE_OK;
  if( kalamTxnIndex(p) ) return SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<p->nEntry; i++){
    KalamTxnEntry *pE = p->aEntry[i];
    if( txnLookup(p, pE->pCf, pE->zKey, (size_t)pE->nKey)!=pE ) continue;
    rc = xWrite(pArg, pE->pCf, pE->zKey, (size_t)pE->nKey,
                pE->nVal<0 ? 0 : pE->zVal, pE->nVal);
  }
  return rc;
}

/* The buffer's newest entry of a key, indexing the buffer first; *ppE is
** NULL when the buffer does not hold the key. */
static int txnPending(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                      KalamTxnEntry **ppE){
  *ppE = 0;
  if( kalamTxnIndex(p) ) return SQLITE_NOMEM;
  *ppE = txnLookup(p, pCf, k, nk);
  return SQLITE_OK;
}

/* A buffered entry's value as the caller's own copy (kalamStoreFree), or
** NULL for a delete. kalamStoreFree is free(): the copy comes from malloc,
** so that callers free every value they read alike. */
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
** frees it with kalamStoreFree. */
int kalamTxnGet(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                char **pzVal, size_t *pnVal, char **pzErr){
  KalamTxnEntry *pE;
  if( txnPending(p, pCf, k, nk, &pE) ) return SQLITE_NOMEM;
  if( pE ) return txnEntryCopy(pE, pzVal, pnVal);
  return kalamStoreGet(p->pStore, p->pView, pCf, k, nk, pzVal, pnVal,
                       "kalam read failed", pzErr);
}

/* kalamTxnGet for cursors, without the copy of a value from the store: it
** stays pinned in *ppPin, which the caller frees (kalamStorePinFree) when
** done with *pzVal. A value from the buffer is copied into *pzCopy
** (kalamStoreFree), because the buffer is emptied at COMMIT while a cursor
** may still be open. *pzVal is NULL when there is no such key. */
int kalamTxnGetPinned(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                      const char **pzVal, size_t *pnVal, KalamPin **ppPin,
                      char **pzCopy, char **pzErr){
  KalamTxnEntry *pE;
  *pzVal = 0;
  *ppPin = 0;
  *pzCopy = 0;
  if( txnPending(p, pCf, k, nk, &pE) ) return SQLITE_NOMEM;
  if( pE ){
    int rc = txnEntryCopy(pE, pzCopy, pnVal);
    *pzVal = *pzCopy;
    return rc;
  }
  return kalamStoreGetPinned(p->pStore, p->pView, pCf, k, nk, ppPin, pzVal, pnVal,
                             pzErr);
}
