/*
** txn_iter.c — iterators over a table as one connection sees it.
**
** A KalamIter is a store iterator merged with a snapshot of the buffered
** writes of one column family in one key range, taken when the iterator is
** made: a cursor sees the table as it was when its scan began. Where both
** hold a key, the buffer's entry wins; a buffered delete hides the key. A
** KalamIter moves in one direction, set by its seek.
**
** The snapshot is the buffer's newest entry of each key in range, sorted;
** the entries stay in the transaction's arena, which the iterator holds a
** share of (kalamTxnArenaShare), so a cursor stepped on after COMMIT still
** reads valid memory.
*/
#include "txn_int.h"
#include <string.h>
#include <stdlib.h>

SQLITE_EXTENSION_INIT3

struct KalamIter {
  KalamStoreIter *pBase;    /* the committed rows */
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
** in [aLo, aHi); flags are kalamStoreIterNew's. The caller destroys it
** with kalamIterDestroy. NULL if out of memory. */
KalamIter *kalamTxnIterator(KalamTxn *p, KalamCf *pCf,
                            const char *aLo, int nLo,
                            const char *aHi, int nHi, int flags){
  KalamIter *pIter;
  int i;
  if( kalamTxnIndex(p) ) return 0;
  pIter = sqlite3_malloc(sizeof(*pIter));
  if( pIter==0 ) return 0;
  memset(pIter, 0, sizeof(*pIter));
  pIter->pBase = kalamStoreIterNew(p->pStore, p->pView, pCf, aLo, nLo, aHi,
                                   nHi, flags);
  if( pIter->pBase==0 ){
    sqlite3_free(pIter);
    return 0;
  }
  if( p->nEntry>0 ){
    pIter->pArenaRef = kalamTxnArenaShare(p);
    if( pIter->pArenaRef==0 ){
      kalamIterDestroy(pIter);
      return 0;
    }
    pIter->aPend = sqlite3_malloc64(sizeof(KalamTxnEntry*)*((size_t)p->nUsed+1));
    if( pIter->aPend==0 ){
      kalamIterDestroy(pIter);
      return 0;
    }
    for(i=0; i<p->nSlot; i++){
      KalamTxnEntry *pE = p->aSlot[i];
      if( pE==0 || pE==TXN_GONE || pE->pCf!=pCf ) continue;
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, aLo, (size_t)nLo)<0 ) continue;
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, aHi, (size_t)nHi)>=0 ) continue;
      pIter->aPend[pIter->nPend++] = pE;
    }
    assert( pIter->nPend<=p->nUsed );
    qsort(pIter->aPend, (size_t)pIter->nPend, sizeof(KalamTxnEntry*),
          kalamTxnEntryCmp);
  }
  return pIter;
}

void kalamIterDestroy(KalamIter *pIter){
  if( pIter==0 ) return;
  kalamStoreIterFree(pIter->pBase);
  kalamTxnArenaRelease(pIter->pArenaRef);
  sqlite3_free(pIter->aPend);
  sqlite3_free(pIter);
}

/* Picks the current entry from the two sources, skipping deletes and store
** keys that the buffer shadows. */
static void iterSettle(KalamIter *p){
  for(;;){
    int bBase = kalamStoreIterValid(p->pBase);
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
      const char *zKey = kalamStoreIterKey(p->pBase, &nKey);
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
      if( p->bDesc ) kalamStoreIterPrev(p->pBase);
      else kalamStoreIterNext(p->pBase);
    }
    p->iPend += p->bDesc ? -1 : 1;
  }
}

void kalamIterSeek(KalamIter *p, const char *k, size_t n){
  int lo = 0, hi = p->nPend;
  kalamStoreIterSeek(p->pBase, k, n);
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
  kalamStoreIterSeekForPrev(p->pBase, k, n);
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
    if( kalamStoreIterValid(p->pBase) ){
      size_t nKey;
      const char *zKey = kalamStoreIterKey(p->pBase, &nKey);
      if( kalamKeyCmp(pE->zKey, (size_t)pE->nKey, zKey, nKey)==0 ){
        if( p->bDesc ) kalamStoreIterPrev(p->pBase);
        else kalamStoreIterNext(p->pBase);
      }
    }
    p->iPend += p->bDesc ? -1 : 1;
  }else if( p->eCur==ITER_BASE ){
    if( p->bDesc ) kalamStoreIterPrev(p->pBase);
    else kalamStoreIterNext(p->pBase);
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
  return kalamStoreIterKey(p->pBase, pn);
}

const char *kalamIterValue(KalamIter *p, size_t *pn){
  if( p->eCur==ITER_PEND ){
    *pn = (size_t)p->aPend[p->iPend]->nVal;
    return p->aPend[p->iPend]->zVal;
  }
  return kalamStoreIterValue(p->pBase, pn);
}

/* SQLITE_IOERR and a message if the store's iteration failed. */
int kalamIterError(KalamIter *p, char **pzErr){
  return kalamStoreIterError(p->pBase, "kalam scan failed", pzErr);
}
