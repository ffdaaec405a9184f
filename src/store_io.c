/*
** store_io.c — reading and writing an open store: point reads, atomic
** batches, iterators, range deletes and compaction, and the table files
** that large commits hand to RocksDB's ingestion.
**
** With store.c this is the storage layer, the only code that calls
** RocksDB. The handles it gives out (KalamPin, KalamBatch,
** KalamStoreIter, KalamFileWriter) are RocksDB's own objects or thin
** wrappers, so the seam costs a function call and nothing more. Every
** RocksDB error becomes an SQLite result code and a message that says what
** kalam was doing (zWhat) and what RocksDB said.
**
** Threads: the file writer's Open, Add and Finish are called by the
** large-transaction worker (txn_ingest.c), which must never call SQLite;
** they use RocksDB and libc only, and keep RocksDB's error for the main
** thread to turn into a message (kalamFileWriterError).
*/
#include "store_int.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <assert.h>
#include <time.h>
#include <errno.h>
#include <dirent.h>

SQLITE_EXTENSION_INIT3

/* Frees a value returned by kalamStoreGet: RocksDB allocates it. */
void kalamStoreFree(void *p){
  rocksdb_free(p);
}

/* A copy of z[0..n) (with a NUL after it) that kalamStoreFree frees: a
** value that does not come from RocksDB (a cold row) handed out where
** values from RocksDB are. rocksdb_free is free(). NULL if out of memory. */
char *kalamStoreDup(const char *z, size_t n){
  char *p = malloc(n + 1);
  if( p ){
    memcpy(p, z, n);
    p[n] = 0;
  }
  return p;
}

/* RocksDB counts every step of every read in a thread-local "perf
** context" unless the thread says not to, and kalam never reads those
** counts: turned off, a full scan runs 3.6% fewer instructions
** (docs/performance.md). The setting is per thread, so it is set again by
** each read and write, which costs less than one step it saves. */
static void storeNoPerfCounts(void){
  rocksdb_set_perf_level(1 /* kDisable */);
}

/* ------------------------------------------------------------ point reads */

/* Reads one key as of view pView (NULL: the newest commit). *pzVal is NULL
** when there is no such key; otherwise the caller frees it with
** kalamStoreFree. */
int kalamStoreGet(KalamStore *p, KalamView *pView, KalamCf *pCf,
                  const char *k, size_t nk, char **pzVal, size_t *pnVal,
                  const char *zWhat, char **pzErr){
  char *zErr = 0;
  storeNoPerfCounts();
  *pzVal = rocksdb_get_cf(p->db, pView ? pView->pRo : p->pRo, pCf->h, k, nk,
                          pnVal, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    if( *pzVal ) rocksdb_free(*pzVal);
    *pzVal = 0;
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Reads one key as of view pView without copying its value: the value stays pinned in the
** store's cache until the caller frees *ppPin (kalamStorePinFree). *pzVal
** is NULL, and *ppPin may be, when there is no such key. */
int kalamStoreGetPinned(KalamStore *p, KalamView *pView, KalamCf *pCf,
                        const char *k, size_t nk, KalamPin **ppPin,
                        const char **pzVal, size_t *pnVal, char **pzErr){
  rocksdb_pinnableslice_t *pPin;
  char *zErr = 0;
  *pzVal = 0;
  *ppPin = 0;
  storeNoPerfCounts();
  pPin = rocksdb_get_pinned_cf(p->db, pView ? pView->pRo : p->pRo, pCf->h, k,
                               nk, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("kalam read failed", zErr);
    if( pPin ) rocksdb_pinnableslice_destroy(pPin);
    return SQLITE_IOERR;
  }
  if( pPin ) *pzVal = rocksdb_pinnableslice_value(pPin, pnVal);
  *ppPin = (KalamPin*)pPin;
  return SQLITE_OK;
}

void kalamStorePinFree(KalamPin *pPin){
  if( pPin ) rocksdb_pinnableslice_destroy((rocksdb_pinnableslice_t*)pPin);
}

/* Writes or (v NULL) deletes one key outside any transaction: for the
** catalog, whose writes are rare and must not be lost (always synced), and
** prepared transactions (synced as PRAGMA synchronous says). */
int kalamStorePut(KalamStore *p, KalamCf *pCf, const char *k, size_t nk,
                  const char *v, size_t nv, int bSync, const char *zWhat,
                  char **pzErr){
  char *zErr = 0;
  rocksdb_writeoptions_t *pWo = bSync ? p->pWoSync : p->pWoNoSync;
  if( v ){
    rocksdb_put_cf(p->db, pWo, pCf->h, k, nk, v, nv, &zErr);
  }else{
    rocksdb_delete_cf(p->db, pWo, pCf->h, k, nk, &zErr);
  }
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ batches
** A KalamBatch is RocksDB's WriteBatch: puts and deletes over any column
** families of one store, written atomically by kalamBatchWrite. */

KalamBatch *kalamBatchNew(void){
  return (KalamBatch*)rocksdb_writebatch_create();
}

void kalamBatchFree(KalamBatch *pBatch){
  if( pBatch ) rocksdb_writebatch_destroy((rocksdb_writebatch_t*)pBatch);
}

void kalamBatchPut(KalamBatch *pBatch, KalamCf *pCf, const char *k,
                   size_t nk, const char *v, size_t nv){
  rocksdb_writebatch_put_cf((rocksdb_writebatch_t*)pBatch, pCf->h, k, nk,
                            v, nv);
}

void kalamBatchDelete(KalamBatch *pBatch, KalamCf *pCf, const char *k,
                      size_t nk){
  rocksdb_writebatch_delete_cf((rocksdb_writebatch_t*)pBatch, pCf->h, k, nk);
}

/* Deletes every key in [aLo, aHi) when the batch is written; a put later
** in the same batch survives it. */
void kalamBatchDeleteRange(KalamBatch *pBatch, KalamCf *pCf,
                           const char *aLo, int nLo,
                           const char *aHi, int nHi){
  rocksdb_writebatch_delete_range_cf((rocksdb_writebatch_t*)pBatch, pCf->h,
                                     aLo, (size_t)nLo, aHi, (size_t)nHi);
}

/* The batch's contents as bytes (owned by the batch), which
** kalamBatchFromData turns back into the same batch: how a prepared
** transaction keeps its writes (commit.c). */
const char *kalamBatchData(KalamBatch *pBatch, size_t *pn){
  return rocksdb_writebatch_data((rocksdb_writebatch_t*)pBatch, pn);
}

/* A batch from kalamBatchData's bytes, or NULL if out of memory. The
** bytes come from the store itself (kalam wrote them); RocksDB checks
** their framing when the batch is written. */
KalamBatch *kalamBatchFromData(const char *z, size_t n){
  return (KalamBatch*)rocksdb_writebatch_create_from(z, n);
}

/* Writes the batch in one atomic write; with bSync the log is synced
** before this returns (PRAGMA synchronous FULL or EXTRA). */
int kalamBatchWrite(KalamStore *p, KalamBatch *pBatch, int bSync,
                    const char *zWhat, char **pzErr){
  char *zErr = 0;
  storeNoPerfCounts();
  rocksdb_write(p->db, bSync ? p->pWoSync : p->pWoNoSync,
                (rocksdb_writebatch_t*)pBatch, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ iterators */

/* A RocksDB iterator with the read options it needs, which hold pointers
** to the bounds, so the bounds are copied in after the struct. */
struct KalamStoreIter {
  rocksdb_iterator_t *pIter;
  rocksdb_readoptions_t *pRo;
  KalamStore *pStore;
  KalamView *pView;        /* held while the iterator reads at it */
};

/* Large full scans read their table files ahead by this much, where
** RocksDB's own readahead starts at 8 kB (docs/performance.md). */
#define STORE_SCAN_READAHEAD (1024*1024)

/* An iterator over keys in [aLo, aHi) of a column family as of view pView
** (NULL: the newest commit); a NULL bound is no bound. KALAM_ITER_BULK marks a scan of much of a large table: it does
** not fill the block cache (it would only push out what point lookups
** need) and reads ahead. Returns NULL if out of memory; the caller frees
** it with kalamStoreIterFree. */
KalamStoreIter *kalamStoreIterNew(KalamStore *p, KalamView *pView,
                                  KalamCf *pCf,
                                  const char *aLo, int nLo,
                                  const char *aHi, int nHi, int flags){
  KalamStoreIter *pIt;
  char *aBound;
  if( aLo==0 ) nLo = 0;
  if( aHi==0 ) nHi = 0;
  assert( nLo>=0 && nHi>=0 );
  pIt = sqlite3_malloc64(sizeof(*pIt) + (size_t)nLo + (size_t)nHi);
  if( pIt==0 ) return 0;
  memset(pIt, 0, sizeof(*pIt));
  aBound = (char*)&pIt[1];
  pIt->pRo = rocksdb_readoptions_create();
  if( pIt->pRo==0 ) goto fail;
  if( pView ){
    /* The view's snapshot must outlive the iterator, whoever else lets
    ** go of the view meanwhile. */
    if( pthread_mutex_lock(&p->viewMutex) ) goto fail;
    pView->nRef++;
    (void)pthread_mutex_unlock(&p->viewMutex);
    pIt->pStore = p;
    pIt->pView = pView;
    rocksdb_readoptions_set_snapshot(pIt->pRo, pView->pSnap);
  }
  if( flags & KALAM_ITER_BULK ){
    rocksdb_readoptions_set_fill_cache(pIt->pRo, 0);
    rocksdb_readoptions_set_readahead_size(pIt->pRo, STORE_SCAN_READAHEAD);
  }
  if( flags & KALAM_ITER_NOCACHE ){
    rocksdb_readoptions_set_fill_cache(pIt->pRo, 0);
  }
  if( aLo ){
    memcpy(aBound, aLo, (size_t)nLo);
    rocksdb_readoptions_set_iterate_lower_bound(pIt->pRo, aBound,
                                                (size_t)nLo);
  }
  if( aHi ){
    memcpy(aBound + nLo, aHi, (size_t)nHi);
    rocksdb_readoptions_set_iterate_upper_bound(pIt->pRo, aBound + nLo,
                                                (size_t)nHi);
  }
  storeNoPerfCounts();
  pIt->pIter = rocksdb_create_iterator_cf(p->db, pIt->pRo, pCf->h);
  if( pIt->pIter==0 ) goto fail;
  return pIt;

fail:
  kalamStoreIterFree(pIt);
  return 0;
}

void kalamStoreIterFree(KalamStoreIter *pIt){
  if( pIt==0 ) return;
  /* The iterator first: it reads through the options. */
  if( pIt->pIter ) rocksdb_iter_destroy(pIt->pIter);
  if( pIt->pRo ) rocksdb_readoptions_destroy(pIt->pRo);
  if( pIt->pView ) kalamStoreViewRelease(pIt->pStore, pIt->pView);
  sqlite3_free(pIt);
}

void kalamStoreIterSeek(KalamStoreIter *pIt, const char *k, size_t n){
  rocksdb_iter_seek(pIt->pIter, k, n);
}
void kalamStoreIterSeekForPrev(KalamStoreIter *pIt, const char *k, size_t n){
  rocksdb_iter_seek_for_prev(pIt->pIter, k, n);
}
void kalamStoreIterFirst(KalamStoreIter *pIt){
  rocksdb_iter_seek_to_first(pIt->pIter);
}
void kalamStoreIterNext(KalamStoreIter *pIt){
  rocksdb_iter_next(pIt->pIter);
}
void kalamStoreIterPrev(KalamStoreIter *pIt){
  rocksdb_iter_prev(pIt->pIter);
}
int kalamStoreIterValid(KalamStoreIter *pIt){
  return rocksdb_iter_valid(pIt->pIter);
}
const char *kalamStoreIterKey(KalamStoreIter *pIt, size_t *pn){
  return rocksdb_iter_key(pIt->pIter, pn);
}
const char *kalamStoreIterValue(KalamStoreIter *pIt, size_t *pn){
  return rocksdb_iter_value(pIt->pIter, pn);
}

/* Whether the iteration stopped because of an error (an iterator that is
** no longer valid may just be at the end): SQLITE_IOERR and a message. */
int kalamStoreIterError(KalamStoreIter *pIt, const char *zWhat,
                        char **pzErr){
  char *zErr = 0;
  rocksdb_iter_get_error(pIt->pIter, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ ranges */

/* Deletes every key in [aLo, aHi) with one range tombstone. */
int kalamStoreDeleteRange(KalamStore *p, KalamCf *pCf,
                          const char *aLo, int nLo,
                          const char *aHi, int nHi, int bSync,
                          const char *zWhat, char **pzErr){
  char *zErr = 0;
  rocksdb_delete_range_cf(p->db, bSync ? p->pWoSync : p->pWoNoSync, pCf->h,
                          aLo, (size_t)nLo, aHi, (size_t)nHi, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Asks RocksDB to compact [aLo, aHi) when it gets round to it: a hint, so
** a write never waits for the disk space to come back. A refused hint
** changes nothing. */
void kalamStoreCompactHint(KalamStore *p, KalamCf *pCf,
                           const char *aLo, int nLo,
                           const char *aHi, int nHi){
  char *zErr = 0;
  rocksdb_suggest_compact_range_cf(p->db, pCf->h, aLo, (size_t)nLo,
                                   aHi, (size_t)nHi, &zErr);
  if( zErr ) rocksdb_free(zErr);
}

/* Compacts [aLo, aHi) now, so the space of deleted keys comes back. The C
** API reports no error for it. */
void kalamStoreCompact(KalamStore *p, KalamCf *pCf,
                       const char *aLo, int nLo,
                       const char *aHi, int nHi){
  rocksdb_compact_range_cf(p->db, pCf->h, aLo, (size_t)nLo, aHi,
                           (size_t)nHi);
}

/* Flushes a column family's memtable to a table file and waits for it,
** so that the log files that held its writes can go. */
int kalamStoreFlush(KalamStore *p, KalamCf *pCf, const char *zWhat,
                    char **pzErr){
  rocksdb_flushoptions_t *pFlush = rocksdb_flushoptions_create();
  char *zErr = 0;
  if( pFlush==0 ) return SQLITE_NOMEM;
  rocksdb_flushoptions_set_wait(pFlush, 1);
  rocksdb_flush_cf(p->db, pFlush, pCf->h, &zErr);
  rocksdb_flushoptions_destroy(pFlush);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* RocksDB's estimate of the number of keys in a column family, for the
** planner; 0 when it has none. */
sqlite3_int64 kalamStoreKeyEstimate(KalamStore *p, KalamCf *pCf){
  char *z = rocksdb_property_value_cf(p->db, pCf->h,
                                      "rocksdb.estimate-num-keys");
  sqlite3_int64 n = 0;
  if( z ){
    n = atoll(z);
    rocksdb_free(z);
  }
  return n;
}

/* ------------------------------------------------------------ table files
** A large commit writes its rows, sorted, into one table file beside the
** store and hands it to RocksDB's ingestion (docs/transactions.md,
** "Large transactions"). */

struct KalamFileWriter {
  rocksdb_envoptions_t *pEnvOpts;
  rocksdb_sstfilewriter_t *pWriter;
  char *zFile;             /* the file's name (sqlite3_mprintf) */
  int bOpened;             /* the file may exist */
  char *zErr;              /* RocksDB's first error (rocksdb_free) */
};

/* The name of an ingestion file of this store for pOwner (sqlite3_free),
** or NULL if out of memory. One writer per owner at a time, and one
** process per store, so the name is unique; store.c sweeps what a crash
** leaves. */
char *kalamIngestFileName(KalamStore *p, const void *pOwner){
  return sqlite3_mprintf("%s/" KALAM_INGEST_PREFIX "%d-%p.sst",
                         p->zPath, (int)getpid(), pOwner);
}

/* Removes an ingestion file. ENOENT is the usual outcome after a
** successful ingestion (RocksDB moved the file); any other failure leaves
** a file that the next open sweeps, so there is nothing more to do. */
void kalamIngestFileRemove(const char *zFile){
  (void)unlink(zFile);
}

/* A writer of table file zFile with the store's options, or NULL if out of
** memory. Nothing is written until kalamFileWriterOpen. */
KalamFileWriter *kalamFileWriterNew(KalamStore *p, char *zFile){
  KalamFileWriter *w = sqlite3_malloc(sizeof(*w));
  if( w==0 ) return 0;
  memset(w, 0, sizeof(*w));
  w->pEnvOpts = rocksdb_envoptions_create();
  if( w->pEnvOpts ){
    w->pWriter = rocksdb_sstfilewriter_create(w->pEnvOpts, p->pOpts);
  }
  if( w->pWriter==0 ){
    kalamFileWriterFree(w, 0);
    return 0;
  }
  w->zFile = zFile;
  return w;
}

/* Creates the file. Nonzero on error (kept for kalamFileWriterError).
** RocksDB and libc only: the worker thread calls it. */
int kalamFileWriterOpen(KalamFileWriter *w){
  assert( w->zErr==0 && !w->bOpened );
  rocksdb_sstfilewriter_open(w->pWriter, w->zFile, &w->zErr);
  w->bOpened = 1;
  return w->zErr!=0;
}

/* Appends a put (nv>=0) or a delete (nv<0) of key k, which must sort
** after every key added before. Nonzero on error. Worker-safe. */
int kalamFileWriterAdd(KalamFileWriter *w, const char *k, size_t nk,
                       const char *v, int nv){
  if( w->zErr ) return 1;
  if( nv<0 ){
    rocksdb_sstfilewriter_delete(w->pWriter, k, nk, &w->zErr);
  }else{
    rocksdb_sstfilewriter_put(w->pWriter, k, nk, v, (size_t)nv, &w->zErr);
  }
  return w->zErr!=0;
}

/* Finishes the file: it is whole and synced. Nonzero on error.
** Worker-safe. */
int kalamFileWriterFinish(KalamFileWriter *w){
  if( w->zErr ) return 1;
  rocksdb_sstfilewriter_finish(w->pWriter, &w->zErr);
  return w->zErr!=0;
}

/* The writer's error as SQLITE_IOERR and a message, or SQLITE_OK if it
** had none. */
int kalamFileWriterError(KalamFileWriter *w, const char *zWhat,
                         char **pzErr){
  if( w->zErr==0 ) return SQLITE_OK;
  *pzErr = kalamStoreError(zWhat, w->zErr);
  w->zErr = 0;
  return SQLITE_IOERR;
}

/* The file's name, which the caller takes over (sqlite3_free): the file
** is then no longer the writer's to remove. */
char *kalamFileWriterTakeName(KalamFileWriter *w){
  char *z = w->zFile;
  w->zFile = 0;
  return z;
}

/* Frees the writer; with bRemove, removes its file too. The writer closes
** the file first, so a partial file never outlives its removal. */
void kalamFileWriterFree(KalamFileWriter *w, int bRemove){
  if( w==0 ) return;
  if( w->pWriter ) rocksdb_sstfilewriter_destroy(w->pWriter);
  if( bRemove && w->bOpened && w->zFile ) kalamIngestFileRemove(w->zFile);
  if( w->pEnvOpts ) rocksdb_envoptions_destroy(w->pEnvOpts);
  if( w->zErr ) rocksdb_free(w->zErr);
  sqlite3_free(w->zFile);
  sqlite3_free(w);
}

/* Linux reads a file back into its page cache at most a few MB per
** request: one request per this many bytes. */
#define STORE_WARM_STEP ((off_t)4 << 20)

/* Ingests finished table file zFile into column family pCf atomically (one
** manifest record, newer than every earlier write), then removes the name
** whatever happened. An error means nothing was committed. */
int kalamStoreIngest(KalamStore *p, KalamCf *pCf, const char *zFile,
                     const char *zWhat, char **pzErr){
  rocksdb_ingestexternalfileoptions_t *pIngestOpts = 0;
  char *zErr = 0;
  int fdWarm = -1;
  int rc = SQLITE_OK;

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
  rocksdb_ingest_external_file_cf(p->db, pCf->h, (const char*const*)&zFile,
                                  1, pIngestOpts, &zErr);
  if( zErr==0 ){
#ifdef POSIX_FADV_WILLNEED
    struct stat st;
    if( fdWarm>=0 && fstat(fdWarm, &st)==0 ){
      /* Advice only: nothing to do if the kernel declines. */
      off_t iOff;
      for(iOff=0; iOff<st.st_size; iOff+=STORE_WARM_STEP){
        (void)posix_fadvise(fdWarm, iOff, STORE_WARM_STEP,
                            POSIX_FADV_WILLNEED);
      }
    }
#endif
  }

done:
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
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

/* ------------------------------------------------------------ views
** A view is the store as of one commit: what a reader whose SQLite
** snapshot shows commit T must see of kalam's tables (commit.c explains
** the protocol). Commits are applied in order; iApplied is the newest
** visible. A reader asks for the view of its T: it waits (briefly) while
** T is committed in SQLite but not yet applied, takes the newest view
** when T is the newest commit, and an older view, kept since a newer
** commit superseded it, otherwise. */

/* How long a reader waits for a commit SQLite already made to become
** visible: the writer is between SQLite's commit and kalam's apply. */
#define STORE_WAIT_MS 10000
/* Superseded views nobody holds are kept this long, and at most this
** many, for readers whose SQLite snapshot began before the newer commit
** but who have not read a kalam table yet (docs/transactions.md). */
#define STORE_VIEW_KEEP_MS 10000
#define STORE_VIEW_KEEP_MAX 64

static void storeViewFree(KalamStore *p, KalamView *pView){
  if( pView->pRo ) rocksdb_readoptions_destroy(pView->pRo);
  if( pView->pSnap ) rocksdb_release_snapshot(p->db, pView->pSnap);
  sqlite3_free(pView);
}

/* A view of the store as it is now, which shows commit iTxn; NULL if out
** of memory. Caller holds viewMutex and links it in. */
static KalamView *storeViewNew(KalamStore *p, sqlite3_int64 iTxn){
  KalamView *pView = sqlite3_malloc(sizeof(*pView));
  if( pView==0 ) return 0;
  memset(pView, 0, sizeof(*pView));
  pView->iTxn = iTxn;
  pView->pRo = rocksdb_readoptions_create();
  pView->pSnap = rocksdb_create_snapshot(p->db);
  if( pView->pRo==0 || pView->pSnap==0 ){
    storeViewFree(p, pView);
    return 0;
  }
  rocksdb_readoptions_set_snapshot(pView->pRo, pView->pSnap);
  return pView;
}

/* Releases superseded views nobody holds once they are older than
** STORE_VIEW_KEEP_MS or more than STORE_VIEW_KEEP_MAX of them are kept.
** Caller holds viewMutex. */
static void storeViewsTrim(KalamStore *p){
  sqlite3_int64 now = kalamNowMs();
  KalamView **pp = &p->pView;
  int nKept = 0;
  while( *pp ){
    KalamView *pView = *pp;
    /* A view of the newest commit that writes outside commits made stale
    ** is of use to nobody once let go. */
    int bStale = pView->iTxn==p->iApplied;
    if( pView->nRef==0 && pView->iSuperseded
     && (bStale || now - pView->iSuperseded >= STORE_VIEW_KEEP_MS
         || nKept >= STORE_VIEW_KEEP_MAX) ){
      *pp = pView->pNext;
      p->nView--;
      storeViewFree(p, pView);
    }else{
      if( pView->iSuperseded ) nKept++;
      pp = &pView->pNext;
    }
  }
}

void kalamStoreViewsFree(KalamStore *p){
  while( p->pView ){
    KalamView *pView = p->pView;
    p->pView = pView->pNext;
    storeViewFree(p, pView);
  }
  p->nView = 0;
}

/* The deadline STORE_WAIT_MS from now, for pthread_cond_timedwait. */
static void storeDeadline(struct timespec *pTs){
  if( clock_gettime(CLOCK_REALTIME, pTs) ){
    pTs->tv_sec = 0;         /* no clock: the first wait times out */
    pTs->tv_nsec = 0;
    return;
  }
  pTs->tv_sec += STORE_WAIT_MS/1000;
}

/* Waits on viewCond until the deadline; nonzero once it has passed (or
** the wait failed). Caller holds viewMutex. */
static int storeWait(KalamStore *p, const struct timespec *pDeadline){
  int rc = pthread_cond_timedwait(&p->viewCond, &p->viewMutex, pDeadline);
  return rc!=0;
}

/* The view that shows commit iTxn, held for the caller until
** kalamStoreViewRelease. Waits while iTxn is not yet applied. Fails with
** SQLITE_BUSY_SNAPSHOT when iTxn is older than every view kept. */
int kalamStoreViewGet(KalamStore *p, sqlite3_int64 iTxn, KalamView **pp,
                      char **pzErr){
  struct timespec deadline;
  KalamView *pView = 0;
  int rc = SQLITE_OK;
  *pp = 0;
  storeDeadline(&deadline);
  if( pthread_mutex_lock(&p->viewMutex) ) return SQLITE_ERROR;
  while( p->iApplied < iTxn ){
    if( storeWait(p, &deadline) && p->iApplied < iTxn ){
      *pzErr = sqlite3_mprintf("kalam store %s: commit %lld is in the "
          "database file but its kalam rows are not visible after %d ms",
          p->zPath, iTxn, STORE_WAIT_MS);
      rc = SQLITE_BUSY;
      goto done;
    }
  }
  for(pView=p->pView; pView && pView->iTxn>iTxn; pView=pView->pNext){}
  /* The newest commit's view only while no write outside a commit has
  ** changed rows since it was taken (kalamStoreRowsChanged). */
  if( pView && iTxn==p->iApplied && pView->iSuperseded ) pView = 0;
  if( pView==0 || pView->iTxn!=iTxn ){
    if( iTxn!=p->iApplied ){
      *pzErr = sqlite3_mprintf("kalam store %s: this read transaction "
          "began before later commits, and kalam no longer keeps its view "
          "of commit %lld: end the transaction and retry", p->zPath, iTxn);
      rc = SQLITE_BUSY_SNAPSHOT;
      goto done;
    }
    pView = storeViewNew(p, iTxn);
    if( pView==0 ){ rc = SQLITE_NOMEM; goto done; }
    pView->pNext = p->pView;
    p->pView = pView;
    p->nView++;
  }
  pView->nRef++;
  *pp = pView;
done:
  (void)pthread_mutex_unlock(&p->viewMutex);
  return rc;
}

void kalamStoreViewRelease(KalamStore *p, KalamView *pView){
  if( pView==0 ) return;
  if( pthread_mutex_lock(&p->viewMutex) ) return;
  assert( pView->nRef>0 );
  pView->nRef--;
  storeViewsTrim(p);
  (void)pthread_mutex_unlock(&p->viewMutex);
}

/* Rows changed outside a commit (purge, expiry, erase act at once): the
** newest view no longer shows the newest rows, so later readers get a new
** one; readers holding it keep reading it, as a snapshot should. */
void kalamStoreRowsChanged(KalamStore *p){
  if( pthread_mutex_lock(&p->viewMutex) ) return;
  p->iEpoch++;
  if( p->pView && p->pView->iSuperseded==0 ){
    p->pView->iSuperseded = kalamNowMs();
  }
  storeViewsTrim(p);
  (void)pthread_mutex_unlock(&p->viewMutex);
}

/* The count of kalamStoreRowsChanged calls: a reader's cached view is
** current while it and the commit number are unchanged. */
sqlite3_int64 kalamStoreEpoch(KalamStore *p){
  sqlite3_int64 i;
  if( pthread_mutex_lock(&p->viewMutex) ) return -1;
  i = p->iEpoch;
  (void)pthread_mutex_unlock(&p->viewMutex);
  return i;
}

/* The commit a view shows. */
sqlite3_int64 kalamStoreViewTxn(const KalamView *pView){
  return pView->iTxn;
}

/* The newest commit whose rows are visible. */
sqlite3_int64 kalamStoreApplied(KalamStore *p){
  sqlite3_int64 i;
  if( pthread_mutex_lock(&p->viewMutex) ) return 0;
  i = p->iApplied;
  (void)pthread_mutex_unlock(&p->viewMutex);
  return i;
}

/* Before commit iTxn is applied: waits until iTxn-1 is, so that commits
** become visible in their order, and, when another connection may read
** (bShare), keeps a view of the store as it is for readers whose SQLite
** snapshot does not show iTxn yet. */
int kalamStoreApplyBegin(KalamStore *p, sqlite3_int64 iTxn, int bShare,
                         char **pzErr){
  struct timespec deadline;
  KalamView *pView;
  int rc = SQLITE_OK;
  storeDeadline(&deadline);
  if( pthread_mutex_lock(&p->viewMutex) ) return SQLITE_ERROR;
  while( p->iApplied < iTxn-1 ){
    if( storeWait(p, &deadline) && p->iApplied < iTxn-1 ){
      *pzErr = sqlite3_mprintf("kalam store %s: commit %lld waited %d ms "
          "for commit %lld to become visible", p->zPath, iTxn, STORE_WAIT_MS,
          iTxn-1);
      rc = SQLITE_BUSY;
      goto done;
    }
  }
  if( bShare && (p->pView==0 || p->pView->iTxn!=p->iApplied) ){
    pView = storeViewNew(p, p->iApplied);
    if( pView ){
      pView->pNext = p->pView;
      p->pView = pView;
      p->nView++;
    }
    /* Out of memory here costs only an older reader's retry. */
  }
done:
  (void)pthread_mutex_unlock(&p->viewMutex);
  return rc;
}

/* After commit iTxn's rows were written: it becomes the newest visible
** commit, and readers waiting for it wake up. */
void kalamStoreApplyEnd(KalamStore *p, sqlite3_int64 iTxn){
  KalamView *pView;
  if( pthread_mutex_lock(&p->viewMutex) ) return;
  if( iTxn > p->iApplied ) p->iApplied = iTxn;
  for(pView=p->pView; pView; pView=pView->pNext){
    if( pView->iSuperseded==0 && pView->iTxn<p->iApplied ){
      pView->iSuperseded = kalamNowMs();
    }
  }
  storeViewsTrim(p);
  (void)pthread_cond_broadcast(&p->viewCond);
  (void)pthread_mutex_unlock(&p->viewMutex);
}

/* Settling the prepared transactions a crash left (commit.c) happens
** once per open, before any read. Returns 1 when the caller is to settle
** (and must call kalamStoreSettleEnd), 0 when that is done; waits while
** another connection settles. */
int kalamStoreSettleBegin(KalamStore *p){
  int bMine = 0;
  if( pthread_mutex_lock(&p->viewMutex) ) return 1;
  while( p->eSettle==STORE_SETTLE_BUSY ){
    if( pthread_cond_wait(&p->viewCond, &p->viewMutex) ) break;
  }
  if( p->eSettle==STORE_SETTLE_NONE ){
    p->eSettle = STORE_SETTLE_BUSY;
    bMine = 1;
  }
  (void)pthread_mutex_unlock(&p->viewMutex);
  return bMine;
}

/* Ends settling: with bDone, iApplied is the commit the database file
** shows; without, the next reader settles again. */
void kalamStoreSettleEnd(KalamStore *p, int bDone, sqlite3_int64 iApplied){
  if( pthread_mutex_lock(&p->viewMutex) ) return;
  p->eSettle = bDone ? STORE_SETTLE_DONE : STORE_SETTLE_NONE;
  if( bDone ) p->iApplied = iApplied;
  (void)pthread_cond_broadcast(&p->viewCond);
  (void)pthread_mutex_unlock(&p->viewMutex);
}

/* A commit could not be applied after SQLite made it: the next reader
** settles the store again, which applies it from its prepared record. */
void kalamStoreSettleAgain(KalamStore *p){
  if( pthread_mutex_lock(&p->viewMutex) ) return;
  if( p->eSettle==STORE_SETTLE_DONE ) p->eSettle = STORE_SETTLE_NONE;
  (void)pthread_mutex_unlock(&p->viewMutex);
}

/* Whether table file zFile is already part of column family pCf: a crash
** between an ingestion and the removal of the file's other name leaves it
** looking unused. RocksDB ingests by hard link, so the live file shares
** its inode (and then holds the sequence number it wrote into it, which
** makes a second ingestion fail). */
int kalamStoreFileIngested(KalamStore *p, KalamCf *pCf, const char *zFile){
  const rocksdb_livefiles_t *pLive;
  struct stat st;
  int i, n, bFound = 0;
  if( stat(zFile, &st) ) return 0;
  pLive = rocksdb_livefiles(p->db);
  if( pLive==0 ) return 0;
  n = rocksdb_livefiles_count(pLive);
  for(i=0; i<n && !bFound; i++){
    const char *zCf = rocksdb_livefiles_column_family_name(pLive, i);
    const char *zName = rocksdb_livefiles_name(pLive, i);
    char *zPath;
    struct stat stLive;
    if( zCf==0 || zName==0 || strcmp(zCf, pCf->zName) ) continue;
    zPath = sqlite3_mprintf("%s%s%s", p->zPath, zName[0]=='/' ? "" : "/",
                            zName);
    if( zPath && stat(zPath, &stLive)==0 && stLive.st_ino==st.st_ino
     && stLive.st_dev==st.st_dev ){
      bFound = 1;
    }
    sqlite3_free(zPath);
  }
  rocksdb_livefiles_destroy(pLive);
  return bFound;
}
