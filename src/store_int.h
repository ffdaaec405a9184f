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

/* One open RocksDB directory (or memory store). */
struct KalamStore {
  char *zPath;               /* directory, or a label for memory stores */
  int nRef;                  /* guarded by the registry mutex */
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
  sqlite3_mutex *mutex;      /* guards pCf and bMaybePending */
  int bMaybePending;         /* the catalog may hold pending DDL entries */
  KalamCf *pCf;
  KalamStore *pNext;         /* the registry's list */
};

/* store.c: an error message from RocksDB's (which is freed). */
char *kalamStoreError(const char *zWhat, char *zRocksErr);

/* Table files written for ingestion (store_io.c) are named with this
** prefix in the store directory; RocksDB ignores names it did not make,
** and store.c sweeps what a crash left at the next open. */
#define KALAM_INGEST_PREFIX "kalam-ingest-"

#endif /* KALAM_STORE_INT_H */
