/*
** txn.c — SQLite transactions over RocksDB.
**
** Every write of a connection to a schema's kalam tables goes into one
** RocksDB WriteBatchWithIndex on its KalamDb, opened by xBegin and written
** by xSync in one atomic RocksDB write (synced when the database's
** PRAGMA synchronous is FULL or EXTRA); xCommit and xRollback then empty
** it. Reads inside the transaction merge the batch over the store, so a
** connection sees its own writes and nobody else does until commit.
** SQLite opens a transaction around every writing statement, autocommit
** included, so a statement that fails part-way leaves nothing behind.
**
** Savepoints. SQLite numbers its savepoints (statement journals included)
** 0, 1, 2...; a SAVEPOINT that opened the transaction itself is -1, so
** xRollbackTo(-1) means back to the start, transaction still open; xSavepoint(N) is called when savepoint N opens in a
** transaction the table is part of, and a table that joins late gets
** xSavepoint for the newest level only. aSp[i] records how many batch
** savepoints existed when SQLite savepoint i opened; ROLLBACK TO i unwinds
** the batch to that count and re-opens i (it stays open), RELEASE i just
** forgets i and above. The C API has no "pop savepoint" for this batch
** type, so released levels stay on the batch's own stack until commit;
** unwinding past them is harmless because they mark no writes of their own.
** All tables of the schema share the KalamDb, so each call is made
** idempotent: a second xSavepoint(N) for a level already held is a no-op.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

int kalamTxnBegin(KalamDb *p){
  if( p->bInTxn ) return SQLITE_OK;
  if( p->pBatch==0 ){
    /* overwrite_key=1: a key written twice reads back as its last value */
    p->pBatch = rocksdb_writebatch_wi_create(0, 1);
    if( p->pBatch==0 ) return SQLITE_NOMEM;
  }
  p->bInTxn = 1;
  p->nSp = 0;
  p->nBatchSp = 0;
  return SQLITE_OK;
}

int kalamTxnHasWrites(KalamDb *p){
  return p->pBatch!=0 && rocksdb_writebatch_wi_count(p->pBatch)>0;
}

/* Writes the batch to the store. Called from xSync: an error here still
** makes SQLite roll the transaction back. */
int kalamTxnSync(KalamDb *p, char **pzErr){
  char *zErr = 0;
  if( !kalamTxnHasWrites(p) ) return SQLITE_OK;
  rocksdb_write_writebatch_wi(p->pStore->db,
      p->bSync ? p->pStore->pWoSync : p->pStore->pWoNoSync, p->pBatch, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("kalam commit failed", zErr);
    return SQLITE_IOERR;
  }
  rocksdb_writebatch_wi_clear(p->pBatch);
  p->nSp = 0;
  p->nBatchSp = 0;
  return SQLITE_OK;
}

/* Ends the transaction: after a successful sync the batch is already
** empty; after a rollback this discards it. */
void kalamTxnEnd(KalamDb *p){
  if( p->pBatch ) rocksdb_writebatch_wi_clear(p->pBatch);
  p->bInTxn = 0;
  p->nSp = 0;
  p->nBatchSp = 0;
}

int kalamTxnSavepoint(KalamDb *p, int iSavepoint){
  if( !p->bInTxn || p->pBatch==0 || iSavepoint<0 ) return SQLITE_OK;
  if( iSavepoint >= p->nSpAlloc ){
    int nNew = iSavepoint + 8;
    int *aNew = sqlite3_realloc64(p->aSp, sizeof(int)*nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    p->aSp = aNew;
    p->nSpAlloc = nNew;
  }
  /* Levels opened before this table joined mark the same point: nothing of
  ** kalam's was written between them. */
  while( p->nSp <= iSavepoint ){
    p->aSp[p->nSp++] = p->nBatchSp;
    rocksdb_writebatch_wi_set_save_point(p->pBatch);
    p->nBatchSp++;
  }
  return SQLITE_OK;
}

int kalamTxnRelease(KalamDb *p, int iSavepoint){
  if( iSavepoint < 0 ) iSavepoint = 0;
  if( iSavepoint < p->nSp ) p->nSp = iSavepoint;
  return SQLITE_OK;
}

int kalamTxnRollbackTo(KalamDb *p, int iSavepoint, char **pzErr){
  int nTarget;
  if( !p->bInTxn || p->pBatch==0 || iSavepoint >= p->nSp ) return SQLITE_OK;
  if( iSavepoint<0 ){
    /* ROLLBACK TO the savepoint that opened the transaction: back to
    ** nothing written, the transaction still open. */
    rocksdb_writebatch_wi_clear(p->pBatch);
    p->nSp = 0;
    p->nBatchSp = 0;
    return SQLITE_OK;
  }
  nTarget = p->aSp[iSavepoint];
  while( p->nBatchSp > nTarget ){
    char *zErr = 0;
    rocksdb_writebatch_wi_rollback_to_save_point(p->pBatch, &zErr);
    if( zErr ){
      *pzErr = kalamStoreError("kalam ROLLBACK TO failed", zErr);
      return SQLITE_ERROR;
    }
    p->nBatchSp--;
  }
  /* The savepoint stays open after ROLLBACK TO. */
  rocksdb_writebatch_wi_set_save_point(p->pBatch);
  p->nBatchSp++;
  p->nSp = iSavepoint + 1;
  return SQLITE_OK;
}

void kalamTxnPut(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                 const char *v, size_t nv){
  rocksdb_writebatch_wi_put_cf(p->pBatch, pCf->h, k, nk, v, nv);
}

void kalamTxnDelete(KalamDb *p, KalamCf *pCf, const char *k, size_t nk){
  rocksdb_writebatch_wi_delete_cf(p->pBatch, pCf->h, k, nk);
}

/* Reads one key as this connection sees it: its pending writes over the
** store. *pzVal is NULL when there is no such key; otherwise the caller
** frees it with rocksdb_free. */
int kalamTxnGet(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                char **pzVal, size_t *pnVal, char **pzErr){
  char *zErr = 0;
  if( kalamTxnHasWrites(p) ){
    *pzVal = rocksdb_writebatch_wi_get_from_batch_and_db_cf(p->pBatch,
        p->pStore->db, p->pStore->pRo, pCf->h, k, nk, pnVal, &zErr);
  }else{
    *pzVal = rocksdb_get_cf(p->pStore->db, p->pStore->pRo, pCf->h, k, nk,
                            pnVal, &zErr);
  }
  if( zErr ){
    *pzErr = kalamStoreError("kalam read failed", zErr);
    *pzVal = 0;
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* An iterator over the column family as this connection sees it. The
** caller destroys it with rocksdb_iter_destroy; pRo must outlive it. */
rocksdb_iterator_t *kalamTxnIterator(KalamDb *p, KalamCf *pCf,
                                     rocksdb_readoptions_t *pRo){
  rocksdb_iterator_t *pBase = rocksdb_create_iterator_cf(p->pStore->db, pRo,
                                                         pCf->h);
  if( pBase==0 || !kalamTxnHasWrites(p) ) return pBase;
  /* Takes ownership of pBase. */
  return rocksdb_writebatch_wi_create_iterator_with_base_cf(p->pBatch, pBase,
                                                            pCf->h);
}
