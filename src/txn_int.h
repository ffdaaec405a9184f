/*
** txn_int.h — what the three files of a connection's transaction share,
** and nothing else sees:
**
**   txn.c         the write buffer: entries in an arena, the hash table of
**                 each key's newest entry, savepoints, reads through the
**                 buffer, and COMMIT by one atomic batch
**   txn_ingest.c  large transactions: the commit as an ingested table
**                 file, built by a worker thread while the transaction
**                 goes on
**   txn_iter.c    iterators that merge the buffer with the store
**
** Everyone else holds a KalamTxn as an opaque pointer and calls the
** functions of kalam_int.h's "Interface to txn.c" section.
*/
#ifndef KALAM_TXN_INT_H
#define KALAM_TXN_INT_H

#include "kalam_int.h"

typedef struct KalamTxnEntry KalamTxnEntry;
typedef struct TxnArenaRef TxnArenaRef;
typedef struct TxnSpec TxnSpec;

/* One buffered write. The key, then the value, follow the struct in the
** arena; neither changes once written, which is what lets the ingest
** worker read entries without a lock. */
struct KalamTxnEntry {
  KalamCf *pCf;            /* the column family written */
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
extern KalamTxnEntry kalamTxnGoneEntry;
#define TXN_GONE (&kalamTxnGoneEntry)

/* A connection's transaction on one store (kalam_int.h: KalamDb.pTxn). */
struct KalamTxn {
  KalamStore *pStore;              /* not owned: the KalamDb's reference */
  int bInTxn;                      /* between xBegin and xCommit/xRollback */
  int bSync;                       /* PRAGMA synchronous >= FULL at xBegin */
  int bFailed;                     /* a write could not be buffered (OOM) */
  KalamTxnEntry **aEntry;          /* every buffered write, oldest first */
  int nEntry;
  int nEntryAlloc;
  sqlite3_int64 nBytes;            /* keys and values of aEntry */
  int nIndexed;                    /* aEntry[0..nIndexed) are in aSlot */
  KalamTxnEntry **aSlot;           /* hash table: newest entry of each key */
  int nSlot;                       /* a power of two, or 0 */
  int nUsed;                       /* slots not empty */
  void *pArena;                    /* where entries live until txn end */
  TxnArenaRef *pArenaRef;          /* the arena's share with iterators */
  int nSp;                         /* SQLite savepoints we hold */
  int *aSp;                        /* aSp[i]: nEntry when savepoint i began */
  sqlite3_int64 nSpBytes;          /* nBytes when savepoint 0 began */
  int nSpAlloc;
  TxnSpec *pSpec;                  /* the commit's table file, being built
                                   ** by a worker thread, or NULL */
  int bSpecOff;                    /* no such build for the rest of this
                                   ** transaction */
  sqlite3_int64 iGen;              /* bumped by every change of aEntry */
  /* The prepared transaction (kalamTxnPrepare), until applied or ended */
  int bPrepared;
  sqlite3_int64 iPrepared;         /* its number; 0 in a memory store */
  sqlite3_int64 iPrepGen;          /* iGen when it was prepared */
  KalamBatch *pPrepBatch;          /* the batch to apply, or NULL */
  char *zPrepFile;                 /* the table file to ingest, or NULL */
  KalamCf *pPrepCf;                /* ...into this column family */
  KalamView *pView;                /* what reads see of the store (commit.c
                                   ** sets it; not owned), NULL: newest */
};

/* txn.c */
int kalamTxnIndex(KalamTxn *p);
int kalamTxnEntryCmp(const void *pA, const void *pB);
TxnArenaRef *kalamTxnArenaShare(KalamTxn *p);
void kalamTxnArenaRelease(TxnArenaRef *pRef);

/* txn_ingest.c: the large-transaction commit and its worker. */
void kalamIngestOnWrite(KalamTxn *p);
void kalamIngestSettled(KalamTxn *p);
void kalamIngestRollback(KalamTxn *p, int nTarget);
void kalamIngestStop(KalamTxn *p);
int kalamIngestPrepare(KalamTxn *p, KalamCf **ppCf, char **pzFile,
                       char **pzErr);

#endif /* KALAM_TXN_INT_H */
