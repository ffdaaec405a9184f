/*
** store_int.h — what store.c and store_io.c share, and nothing else sees.
**
** These two files are kalam's storage layer: the only code that calls
** RocksDB's C API. Everything above them (transactions, cursors, the
** catalog, housekeeping) talks to the functions declared in kalam_int.h
** ("Interface to store.c and store_io.c") and holds KalamStore, KalamCf
** and the other storage handles as opaque pointers. A second backend (cold
** files) goes behind the same functions.
*/
#ifndef KALAM_STORE_INT_H
#define KALAM_STORE_INT_H

#include "kalam_int.h"
#include <rocksdb/c.h>
#include <pthread.h>
#include <sys/types.h>

/* One column family: a table's rows, or the catalog. Listed on its store
** and reference-counted (see store.c): a table dropped by one connection
** may still be open in another until that one sees the schema change. */
struct KalamCf {
  char *zName;                          /* RocksDB column family name */
  rocksdb_column_family_handle_t *h;
  int nRef;                             /* holders, +1 while listed */
  int bDropped;
  KalamCf *pNext;
};

/* The store as of one commit (kalam_int.h, "views"): a RocksDB snapshot
** and the read options that read at it. Listed on the store, newest
** first, and reference-counted by the readers using it. */
struct KalamView {
  sqlite3_int64 iTxn;              /* the commit it shows */
  const rocksdb_snapshot_t *pSnap;
  rocksdb_readoptions_t *pRo;      /* reads at pSnap */
  int nRef;                        /* readers holding it */
  sqlite3_int64 iSuperseded;       /* ms when a newer commit was applied,
                                   ** 0 while it is the newest */
  KalamView *pNext;
};

typedef struct KalamRetired KalamRetired;

/* One open RocksDB directory (or memory store). */
struct KalamStore {
  char *zPath;               /* directory, or a label for memory stores */
  int nRef;                  /* guarded by the registry mutex */
  pid_t pid;                 /* the process that opened it */
  int bSecondary;            /* opened for reading only (store.c) */
  long iOwner;               /* ...because process iOwner owns it, or 0 */
  char *zSecondary;          /* a secondary's private directory */
  int bMem;
  rocksdb_t *db;
  rocksdb_options_t *pOpts;
  rocksdb_env_t *pEnv;       /* memory env for in-memory stores, else NULL */
  rocksdb_cache_t *pCache;
  rocksdb_block_based_table_options_t *pTableOpts;
  rocksdb_writeoptions_t *pWoSync;
  rocksdb_writeoptions_t *pWoNoSync;
  rocksdb_readoptions_t *pRo;
  KalamCf catalog;           /* the catalog's column family; never listed,
                             ** never dropped, lives as long as the store */
  KalamCf prepared;          /* prepared transactions (commit.c), likewise */
  /* Commits and views (store_io.c), guarded by viewMutex; viewCond is
  ** signalled when iApplied moves or settling ends. */
  pthread_mutex_t viewMutex;
  pthread_cond_t viewCond;
  int bViewSync;             /* viewMutex and viewCond are initialized */
  sqlite3_int64 iApplied;    /* the newest commit whose rows are visible */
  int eSettle;               /* STORE_SETTLE_*: prepared transactions
                             ** found at open, settled yet? */
  KalamView *pView;          /* views, newest first */
  int nView;
  sqlite3_int64 iEpoch;      /* bumped by writes outside commits
                             ** (housekeeping): views taken before show
                             ** the rows as they were */
  sqlite3_mutex *mutex;      /* guards pCf and bMaybePending */
  int bMaybePending;         /* the catalog may hold pending DDL entries */
  KalamCf *pCf;
  KalamStore *pNext;         /* the registry's list */
  int bCreated;              /* this open made the directory (store.c):
                             ** removed at close if no table came of it */
  KalamRetired *pRetired;    /* a reader's earlier instances (store.c) */
};

/* An instance of a store that a reader opened again (kalamStoreRefresh)
** while iterators or pinned values of the old one may be alive: closed,
** and its private directory removed, once nothing reads it. */
struct KalamRetired {
  rocksdb_t *db;
  char *zDir;                /* its private directory, or NULL */
  KalamRetired *pNext;
};

#define STORE_SETTLE_NONE  0  /* nobody has settled the store yet */
#define STORE_SETTLE_BUSY  1  /* a connection is settling it */
#define STORE_SETTLE_DONE  2

/* store_path.c: where stores are, and kalam's files in a store directory.
** "Interface to store_path.c" (kalam_int.h has the functions others
** call). */
char *kalamStoreDirOf(const char *zFile);
int kalamStoreDirExists(const char *zFile);
int kalamStoreMemoryKey(sqlite3 *db, const char *zSchema, const char *zFile,
                        int *pbMem, char **pzKey);
void kalamStoreOwnerWrite(const char *zPath);
long kalamStoreOwnerRead(const char *zPath);
int kalamStoreOwnerGone(long iPid);
void kalamStoreSweepIngestFiles(const char *zPath);

/* store.c: opens a store (a directory, or a memory store labelled zPath)
** with one reference, and closes one nobody holds any more. store_path.c
** keeps them in the registry. */
int kalamStoreOpen(const char *zPath, int bMem, int bReadOnly,
                   KalamStore **pp, char **pzErr);
void kalamStoreClose(KalamStore *p);

/* store_io.c: frees every view (the store is closing). */
void kalamStoreViewsFree(KalamStore *p);

/* store.c: an error message from RocksDB's (which is freed). */
char *kalamStoreError(const char *zWhat, char *zRocksErr);

/* Table files written for ingestion (store_io.c) are named with this
** prefix in the store directory; RocksDB ignores names it did not make,
** and store.c sweeps what a crash left at the next open. */
#define KALAM_INGEST_PREFIX "kalam-ingest-"

#endif /* KALAM_STORE_INT_H */
