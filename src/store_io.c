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
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <assert.h>

SQLITE_EXTENSION_INIT3

/* Frees a value returned by kalamStoreGet: RocksDB allocates it. */
void kalamStoreFree(void *p){
  rocksdb_free(p);
}

/* ------------------------------------------------------------ point reads */

/* Reads one key. *pzVal is NULL when there is no such key; otherwise the
** caller frees it with kalamStoreFree. */
int kalamStoreGet(KalamStore *p, KalamCf *pCf, const char *k, size_t nk,
                  char **pzVal, size_t *pnVal, const char *zWhat,
                  char **pzErr){
  char *zErr = 0;
  *pzVal = rocksdb_get_cf(p->db, p->pRo, pCf->h, k, nk, pnVal, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError(zWhat, zErr);
    if( *pzVal ) rocksdb_free(*pzVal);
    *pzVal = 0;
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Reads one key without copying its value: the value stays pinned in the
** store's cache until the caller frees *ppPin (kalamStorePinFree). *pzVal
** is NULL, and *ppPin may be, when there is no such key. */
int kalamStoreGetPinned(KalamStore *p, KalamCf *pCf, const char *k,
                        size_t nk, KalamPin **ppPin, const char **pzVal,
                        size_t *pnVal, char **pzErr){
  rocksdb_pinnableslice_t *pPin;
  char *zErr = 0;
  *pzVal = 0;
  *ppPin = 0;
  pPin = rocksdb_get_pinned_cf(p->db, p->pRo, pCf->h, k, nk, &zErr);
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

/* Writes or (v NULL) deletes one key, synced: for the catalog, whose
** writes are rare and must not be lost, and go around transactions. */
int kalamStorePutSync(KalamStore *p, KalamCf *pCf, const char *k, size_t nk,
                      const char *v, size_t nv, const char *zWhat,
                      char **pzErr){
  char *zErr = 0;
  if( v ){
    rocksdb_put_cf(p->db, p->pWoSync, pCf->h, k, nk, v, nv, &zErr);
  }else{
    rocksdb_delete_cf(p->db, p->pWoSync, pCf->h, k, nk, &zErr);
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

/* Writes the batch in one atomic write; with bSync the log is synced
** before this returns (PRAGMA synchronous FULL or EXTRA). */
int kalamBatchWrite(KalamStore *p, KalamBatch *pBatch, int bSync,
                    const char *zWhat, char **pzErr){
  char *zErr = 0;
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
};

/* Large full scans read their table files ahead by this much, where
** RocksDB's own readahead starts at 8 kB (docs/performance.md). */
#define STORE_SCAN_READAHEAD (1024*1024)

/* An iterator over keys in [aLo, aHi) of a column family; a NULL bound is
** no bound. KALAM_ITER_BULK marks a scan of much of a large table: it does
** not fill the block cache (it would only push out what point lookups
** need) and reads ahead. Returns NULL if out of memory; the caller frees
** it with kalamStoreIterFree. */
KalamStoreIter *kalamStoreIterNew(KalamStore *p, KalamCf *pCf,
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
