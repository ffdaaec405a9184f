/*
** store.c — opening RocksDB stores and keeping their column families.
**
** A SQLite database file F keeps its kalam tables in the RocksDB directory
** F-kalam (as F-wal and F-journal sit beside F); a database without a file
** keeps them in a RocksDB memory env. store_path.c says which store a
** database has and keeps the process-wide registry that shares one open
** store among the connections of the process; this file opens and closes
** them (kalamStoreOpen, kalamStoreClose).
**
** RocksDB lets one process open a directory for writing. The first owns
** the store; another process opens it as a secondary instance and reads
** (storeOpenSecondary, kalamStoreCatchUp). A reader opens the store again
** when its owner has gone or has made tables since (kalamStoreRefresh).
**
** Column families: "default" (unused), "kalam_catalog" (catalog.c),
** "kalam_prepared" (commit.c) and one per table, named when the table is
** created. Handles are listed on the store and reference-counted,
** because a table dropped by one connection may still be open in another
** until that one notices the schema change: the handle must outlive the
** drop.
**
** This file and store_io.c (reads, writes, iterators, table files) are the
** only ones that call RocksDB; store_int.h holds what they share.
*/
#include "store_int.h"
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <dirent.h>
#include <unistd.h>
#include <assert.h>
#include <pthread.h>
#include <fcntl.h>
#include <errno.h>

SQLITE_EXTENSION_INIT3

#define KALAM_CATALOG_CF "kalam_catalog"
/* Prepared transactions (commit.c): written at xSync, removed once the
** transaction is applied or discarded. */
#define KALAM_PREPARED_CF "kalam_prepared"
/* Where a memory store lives inside its own RocksDB memory env. */
#define STORE_MEMORY_DIR "/kalam-memory"

/* Reopening is wanted even with no new table: the old instance cannot
** follow the owner any more (kalamStoreCatchUp). */
#define STORE_REFRESH_FORCE 0x100

static sqlite3_mutex *storeRegistryMutex(void){
  return sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP2);
}

/* Builds an error message from RocksDB's and frees RocksDB's. */
char *kalamStoreError(const char *zWhat, char *zRocksErr){
  char *z = sqlite3_mprintf("%s: %s", zWhat,
                            zRocksErr ? zRocksErr : "unknown error");
  rocksdb_free(zRocksErr);
  return z;
}


/* A column family's entry named zName, with no handle yet and not
** listed; NULL if out of memory. Freed with storeCfFree. */
static KalamCf *storeCfNew(const char *zName, int nRef){
  KalamCf *pCf = sqlite3_malloc(sizeof(*pCf));
  if( pCf==0 ) return 0;
  memset(pCf, 0, sizeof(*pCf));
  pCf->nRef = nRef;
  pCf->zName = sqlite3_mprintf("%s", zName);
  if( pCf->zName==0 ){
    sqlite3_free(pCf);
    return 0;
  }
  return pCf;
}
static void storeCfFree(KalamCf *pCf){
  sqlite3_free(pCf->zName);
  sqlite3_free(pCf);
}

/* Does column family pCf hold no key at all? */
static int storeCfIsEmpty(KalamStore *p, KalamCf *pCf){
  rocksdb_iterator_t *pIt = rocksdb_create_iterator_cf(p->db, p->pRo, pCf->h);
  int bEmpty;
  if( pIt==0 ) return 0;
  rocksdb_iter_seek_to_first(pIt);
  bEmpty = !rocksdb_iter_valid(pIt);
  rocksdb_iter_destroy(pIt);
  return bEmpty;
}

/* Is the store a directory this open made that never got a table: no
** table's column family, nothing in the catalog, nothing prepared? Such
** a store is what a first CREATE that failed leaves (the directory is
** made when the table's store is opened, before the CREATE can fail);
** it goes at close, as if the statement had never run. */
static int storeUnused(KalamStore *p){
  KalamCf *pCf;
  if( !p->bCreated || p->bMem || p->bSecondary || p->db==0 ) return 0;
  if( p->catalog.h==0 || p->prepared.h==0 ) return 0;
  for(pCf=p->pCf; pCf; pCf=pCf->pNext){
    if( !pCf->bDropped ) return 0;
  }
  return storeCfIsEmpty(p, &p->catalog) && storeCfIsEmpty(p, &p->prepared);
}

/* Closes the instances kalamStoreRefresh replaced: nothing reads them. */
static void storeRetiredClose(KalamStore *p){
  while( p->pRetired ){
    KalamRetired *pNext = p->pRetired->pNext;
    rocksdb_close(p->pRetired->db);
    if( p->pRetired->zDir ) kalamStoreDirRemove(p->pRetired->zDir);
    sqlite3_free(p->pRetired->zDir);
    sqlite3_free(p->pRetired);
    p->pRetired = pNext;
  }
}

/* Frees everything a store holds; the store must be unreferenced. */
void kalamStoreClose(KalamStore *p){
  KalamCf *pCf, *pNext;
  int bRemove;
  if( p==0 ) return;
  bRemove = storeUnused(p);
  if( p->db && !p->bMem && !p->bSecondary ){
    /* Flush at close, so that the next open has no log to replay. A
    ** failure only means a slower next open: the log still holds it all. */
    rocksdb_flushoptions_t *pFlush = rocksdb_flushoptions_create();
    if( pFlush ){
      char *zErr = 0;
      rocksdb_flushoptions_set_wait(pFlush, 1);
      for(pCf=p->pCf; pCf; pCf=pCf->pNext){
        if( pCf->bDropped ) continue;
        rocksdb_flush_cf(p->db, pFlush, pCf->h, &zErr);
        if( zErr ){ rocksdb_free(zErr); zErr = 0; }
      }
      if( p->catalog.h ){
        rocksdb_flush_cf(p->db, pFlush, p->catalog.h, &zErr);
        if( zErr ){ rocksdb_free(zErr); zErr = 0; }
      }
      if( p->prepared.h ){
        rocksdb_flush_cf(p->db, pFlush, p->prepared.h, &zErr);
        if( zErr ) rocksdb_free(zErr);
      }
      rocksdb_flushoptions_destroy(pFlush);
    }
  }
  for(pCf=p->pCf; pCf; pCf=pNext){
    pNext = pCf->pNext;
    rocksdb_column_family_handle_destroy(pCf->h);
    storeCfFree(pCf);
  }
  kalamStoreViewsFree(p);
  storeRetiredClose(p);
  if( p->catalog.h ) rocksdb_column_family_handle_destroy(p->catalog.h);
  if( p->prepared.h ) rocksdb_column_family_handle_destroy(p->prepared.h);
  if( p->db ) rocksdb_close(p->db);
  if( p->pWoSync ) rocksdb_writeoptions_destroy(p->pWoSync);
  if( p->pWoNoSync ) rocksdb_writeoptions_destroy(p->pWoNoSync);
  if( p->pRo ) rocksdb_readoptions_destroy(p->pRo);
  if( p->pOpts ) rocksdb_options_destroy(p->pOpts);
  if( p->pTableOpts ) rocksdb_block_based_options_destroy(p->pTableOpts);
  if( p->pCache ) rocksdb_cache_destroy(p->pCache);
  if( p->pEnv ) rocksdb_env_destroy(p->pEnv);
  if( p->zSecondary ){
    kalamStoreDirRemove(p->zSecondary);
    sqlite3_free(p->zSecondary);
  }
  if( bRemove ) kalamStoreDirRemove(p->zPath);
  sqlite3_mutex_free(p->mutex);
  if( p->bViewSync ){
    (void)pthread_cond_destroy(&p->viewCond);
    (void)pthread_mutex_destroy(&p->viewMutex);
  }
  sqlite3_free(p->zPath);
  sqlite3_free(p);
}

/* The RocksDB options kalam uses; docs/performance.md says why each. */
static int storeOptions(KalamStore *p){
  p->pOpts = rocksdb_options_create();
  p->pTableOpts = rocksdb_block_based_options_create();
  p->pCache = rocksdb_cache_create_lru(32 << 20);
  p->pWoSync = rocksdb_writeoptions_create();
  p->pWoNoSync = rocksdb_writeoptions_create();
  p->pRo = rocksdb_readoptions_create();
  if( !p->pOpts || !p->pTableOpts || !p->pCache || !p->pWoSync
   || !p->pWoNoSync || !p->pRo ) return SQLITE_NOMEM;
  rocksdb_block_based_options_set_block_cache(p->pTableOpts, p->pCache);
  rocksdb_block_based_options_set_filter_policy(p->pTableOpts,
      rocksdb_filterpolicy_create_bloom_full(10));
  /* Index and filter blocks stay in the table readers, not the block
  ** cache: there, data blocks of a large table push them out and every
  ** point lookup reads them again (1M-row lookups ran 77x native). */
  rocksdb_block_based_options_set_cache_index_and_filter_blocks(
      p->pTableOpts, 0);
  /* A point lookup's binary search in a data block ends at a restart
  ** point and then steps key by key: every 4th key rather than every
  ** 16th took 6% off a lookup's instructions, for a slightly larger
  ** file (keys are short). */
  rocksdb_block_based_options_set_block_restart_interval(p->pTableOpts, 4);
  rocksdb_options_set_block_based_table_factory(p->pOpts, p->pTableOpts);
  rocksdb_options_set_create_if_missing(p->pOpts, 1);
  rocksdb_options_set_create_missing_column_families(p->pOpts, 1);
  /* FATAL only: after a write fails with ENOSPC, RocksDB's background
  ** recovery logs to its info LOG, whose writer has failed too, and
  ** Debian's build (assertions on) then aborts the process. */
  rocksdb_options_set_info_log_level(p->pOpts, 4 /* FATAL */);
  rocksdb_options_set_keep_log_file_num(p->pOpts, 2);
  rocksdb_options_set_max_background_jobs(p->pOpts, 2);
  /* Table files are read through memory maps and stored uncompressed:
  ** a point read then finds its block in the mapped file, with no system
  ** call, no copy, no decompression and no block cache insert. Together
  ** (neither alone) they halved the time of random lookups; compression
  ** is the cold tier's business (docs/performance.md). A store in memory
  ** has no files to map. */
  rocksdb_options_set_compression(p->pOpts, rocksdb_no_compression);
  if( !p->bMem ) rocksdb_options_set_allow_mmap_reads(p->pOpts, 1);
  /* A log that outgrows this makes RocksDB flush the column families that
  ** hold it back, so that opening a store never replays a whole import. */
  rocksdb_options_set_max_total_wal_size(p->pOpts, 64 << 20);
  rocksdb_writeoptions_set_sync(p->pWoSync, 1);
  rocksdb_writeoptions_set_sync(p->pWoNoSync, 0);
  if( p->bMem ){
    p->pEnv = rocksdb_create_mem_env();
    if( p->pEnv==0 ) return SQLITE_NOMEM;
    rocksdb_options_set_env(p->pOpts, p->pEnv);
  }
  {
    /* Opening a store replays its log into the memtables and leaves them
    ** there, to be flushed when they fill or at close: a flush at open
    ** would write the log's rows again, uncompressed, before the store
    ** can be read, and on a full disk no store could open. The C API has
    ** no setter for this option; it is set by name. */
    rocksdb_options_t *pNew = rocksdb_options_create();
    char *zErr = 0;
    if( pNew==0 ) return SQLITE_NOMEM;
    rocksdb_get_options_from_string(p->pOpts,
        "avoid_flush_during_recovery=true", pNew, &zErr);
    if( zErr ){
      rocksdb_free(zErr);
      rocksdb_options_destroy(pNew);
      return SQLITE_INTERNAL;
    }
    rocksdb_options_destroy(p->pOpts);
    p->pOpts = pNew;
  }
  return SQLITE_OK;
}

/* Opens p->zPath as a RocksDB secondary instance, into *pDb: the reader of
** a store another process owns, or of one this process may only read (a
** read-only database file). It needs no write access to the store: what
** RocksDB writes of its own (an info log) goes to a private directory
** under TMPDIR, *pzDir (sqlite3_free), removed at close. Secondary
** instances keep every table file they use open (max_open_files -1), so
** the owner's compactions cannot take files from under them.
** kalamStoreCatchUp moves it to the owner's newest commit. */
static int storeOpenSecondary(KalamStore *p, int nCf, const char **azName,
                              const rocksdb_options_t **aCfOpts,
                              rocksdb_column_family_handle_t **aHandle,
                              rocksdb_t **pDb, char **pzDir, char **pzErr){
  const char *zTmp = getenv("TMPDIR");
  char *zErr = 0, *zDir;
  int i;
  *pDb = 0;
  *pzDir = 0;
  if( zTmp==0 || zTmp[0]==0 ) zTmp = "/tmp";
  zDir = sqlite3_mprintf("%s/kalam-reader-XXXXXX", zTmp);
  if( zDir==0 ) return SQLITE_NOMEM;
  if( mkdtemp(zDir)==0 ){
    *pzErr = sqlite3_mprintf("cannot open kalam store %s for reading: cannot "
        "make a private directory in %s: %s", p->zPath, zTmp,
        strerror(errno));
    sqlite3_free(zDir);
    return SQLITE_CANTOPEN;
  }
  rocksdb_options_set_max_open_files(p->pOpts, -1);
  rocksdb_options_set_create_if_missing(p->pOpts, 0);
  for(i=0; i<nCf; i++) aCfOpts[i] = p->pOpts;
  *pDb = rocksdb_open_as_secondary_column_families(p->pOpts, p->zPath, zDir,
      nCf, azName, aCfOpts, aHandle, &zErr);
  if( zErr ){
    char *zWhat = sqlite3_mprintf("cannot open kalam store %s for reading",
                                  p->zPath);
    *pzErr = kalamStoreError(zWhat ? zWhat : p->zPath, zErr);
    sqlite3_free(zWhat);
    *pDb = 0;
    kalamStoreDirRemove(zDir);
    sqlite3_free(zDir);
    return SQLITE_CANTOPEN;
  }
  *pzDir = zDir;
  return SQLITE_OK;
}

/* Opens the RocksDB directory zPath with all its column families: for
** writing (bReadOnly 0) unless another process owns it, else as a
** secondary instance (storeOpenSecondary). A memory store (bMem) lives in
** an env of its own, where RocksDB wants an absolute directory name:
** zPath is then only its label for messages and the registry. */
int kalamStoreOpen(const char *zPath, int bMem, int bReadOnly,
                   KalamStore **pp, char **pzErr){
  KalamStore *p;
  char *zErr = 0;
  char **azListed = 0;
  size_t nListed = 0;
  const char **azName = 0;
  const rocksdb_options_t **aCfOpts = 0;
  rocksdb_column_family_handle_t **aHandle = 0;
  int nCf = 0, i, bHasCatalog = 0, bHasPrepared = 0;
  int rc = SQLITE_OK;
  const char *zDir = bMem ? STORE_MEMORY_DIR : zPath;

  *pp = 0;
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->bMem = bMem;
  p->nRef = 1;
  p->bMaybePending = 1; /* until a first look says otherwise */
  p->zPath = sqlite3_mprintf("%s", zPath);
  p->catalog.zName = KALAM_CATALOG_CF;
  p->catalog.nRef = 1;
  p->prepared.zName = KALAM_PREPARED_CF;
  p->prepared.nRef = 1;
  p->mutex = sqlite3_mutex_alloc(SQLITE_MUTEX_FAST);
  if( p->zPath==0 || p->mutex==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( pthread_mutex_init(&p->viewMutex, 0) ){ rc = SQLITE_NOMEM; goto done; }
  if( pthread_cond_init(&p->viewCond, 0) ){
    (void)pthread_mutex_destroy(&p->viewMutex);
    rc = SQLITE_NOMEM;
    goto done;
  }
  p->bViewSync = 1;
  rc = storeOptions(p);
  if( rc ) goto done;

  /* A new store has only "default"; listing fails and that is fine. */
  azListed = rocksdb_list_column_families(p->pOpts, zDir, &nListed, &zErr);
  if( zErr ){
    /* RocksDB allocates the (empty) list even when listing fails. */
    if( azListed ) rocksdb_list_column_families_destroy(azListed, nListed);
    rocksdb_free(zErr);
    zErr = 0;
    azListed = 0;
    nListed = 0;
  }
  azName = sqlite3_malloc64(sizeof(char*) * (nListed + 3));
  aCfOpts = sqlite3_malloc64(sizeof(void*) * (nListed + 3));
  aHandle = sqlite3_malloc64(sizeof(void*) * (nListed + 3));
  if( !azName || !aCfOpts || !aHandle ){ rc = SQLITE_NOMEM; goto done; }
  for(i=0; i<(int)nListed; i++){
    azName[nCf++] = azListed[i];
    if( strcmp(azListed[i], KALAM_CATALOG_CF)==0 ) bHasCatalog = 1;
    if( strcmp(azListed[i], KALAM_PREPARED_CF)==0 ) bHasPrepared = 1;
  }
  if( nCf==0 ) azName[nCf++] = "default";
  if( !bHasCatalog ) azName[nCf++] = KALAM_CATALOG_CF;
  if( !bHasPrepared ) azName[nCf++] = KALAM_PREPARED_CF;
  for(i=0; i<nCf; i++) aCfOpts[i] = p->pOpts;

  if( !bReadOnly ){
    if( !bMem ){
      char *zCurrent = sqlite3_mprintf("%s/CURRENT", zPath);
      if( zCurrent==0 ){ rc = SQLITE_NOMEM; goto done; }
      p->bCreated = access(zCurrent, F_OK)!=0;
      sqlite3_free(zCurrent);
    }
    p->db = rocksdb_open_column_families(p->pOpts, zDir, nCf, azName,
                                         aCfOpts, aHandle, &zErr);
    if( zErr && !bMem && (strstr(zErr, "lock") || strstr(zErr, "LOCK"))
     && bHasCatalog ){
      /* Another process owns the store: this one reads it. */
      rocksdb_free(zErr);
      zErr = 0;
      p->db = 0;
      bReadOnly = 1;
      p->iOwner = kalamStoreOwnerRead(zPath);
    }
  }
  if( bReadOnly ){
    rc = storeOpenSecondary(p, (int)nListed, (const char**)azListed,
                            aCfOpts, aHandle, &p->db, &p->zSecondary, pzErr);
    if( rc ) goto done;
    p->bSecondary = 1;
    /* Only the listed column families are open. */
    nCf = (int)nListed;
    for(i=0; i<nCf; i++) azName[i] = azListed[i];
  }
  if( zErr ){
    p->db = 0;
    if( strstr(zErr, "lock") || strstr(zErr, "LOCK") ){
      long iOwner = kalamStoreOwnerRead(zPath);
      char zOwner[40];
      zOwner[0] = 0;
      if( iOwner>0 ){
        sqlite3_snprintf(sizeof(zOwner), zOwner, "pid %ld; ", iOwner);
      }
      *pzErr = sqlite3_mprintf("kalam store %s is locked by another process "
          "(%sRocksDB: %s)", zPath, zOwner, zErr);
      rocksdb_free(zErr);
      rc = SQLITE_BUSY;
    }else{
      char *zWhat = sqlite3_mprintf("cannot open kalam store %s", zPath);
      *pzErr = kalamStoreError(zWhat ? zWhat : zPath, zErr);
      sqlite3_free(zWhat);
      rc = SQLITE_CANTOPEN;
    }
    goto done;
  }

  for(i=0; i<nCf; i++){
    if( strcmp(azName[i], KALAM_CATALOG_CF)==0 ){
      p->catalog.h = aHandle[i];
    }else if( strcmp(azName[i], KALAM_PREPARED_CF)==0 ){
      p->prepared.h = aHandle[i];
    }else if( strcmp(azName[i], "default")==0 ){
      rocksdb_column_family_handle_destroy(aHandle[i]);
    }else{
      KalamCf *pCf = storeCfNew(azName[i], 1);
      if( pCf==0 ){
        rocksdb_column_family_handle_destroy(aHandle[i]);
        rc = SQLITE_NOMEM;
        continue;
      }
      pCf->h = aHandle[i];
      pCf->pNext = p->pCf;
      p->pCf = pCf;
    }
  }
  if( !bMem && !p->bSecondary ){
    kalamStoreSweepIngestFiles(zPath);
    kalamStoreOwnerWrite(zPath);
  }
  p->pid = getpid();

done:
  if( azListed ) rocksdb_list_column_families_destroy(azListed, nListed);
  sqlite3_free(azName);
  sqlite3_free(aCfOpts);
  sqlite3_free(aHandle);
  if( rc ){
    kalamStoreClose(p);
  }else{
    *pp = p;
  }
  return rc;
}

/* Finds a listed column family by name and takes a reference on it. */
KalamCf *kalamStoreCfFind(KalamStore *p, const char *zName){
  KalamCf *pCf;
  assert( zName!=0 );
  sqlite3_mutex_enter(p->mutex);
  for(pCf=p->pCf; pCf; pCf=pCf->pNext){
    if( !pCf->bDropped && strcmp(pCf->zName, zName)==0 ){
      pCf->nRef++;
      break;
    }
  }
  sqlite3_mutex_leave(p->mutex);
  return pCf;
}

/* The names of the store's tables' column families, dropped ones left
** out: *pn of them, in one allocation the caller frees with sqlite3_free
** (NULL when there are none). For kalam_check (check.c). */
int kalamStoreCfNames(KalamStore *p, char ***pazName, int *pn){
  KalamCf *pCf;
  sqlite3_int64 nByte = 0;
  char **az = 0;
  char *z;
  int n = 0;
  *pazName = 0;
  *pn = 0;
  sqlite3_mutex_enter(p->mutex);
  for(pCf=p->pCf; pCf; pCf=pCf->pNext){
    if( pCf->bDropped ) continue;
    n++;
    nByte += (sqlite3_int64)(sizeof(char*) + strlen(pCf->zName) + 1);
  }
  if( n ) az = sqlite3_malloc64((sqlite3_uint64)nByte);
  if( az ){
    z = (char*)&az[n];
    n = 0;
    for(pCf=p->pCf; pCf; pCf=pCf->pNext){
      size_t nName = strlen(pCf->zName) + 1;
      if( pCf->bDropped ) continue;
      memcpy(z, pCf->zName, nName);
      az[n++] = z;
      z += nName;
    }
  }
  sqlite3_mutex_leave(p->mutex);
  if( n && az==0 ) return SQLITE_NOMEM;
  *pazName = az;
  *pn = n;
  return SQLITE_OK;
}

/* Creates column family zName; the caller owns one reference. */
int kalamStoreCfCreate(KalamStore *p, const char *zName, KalamCf **pp,
                       char **pzErr){
  KalamCf *pCf;
  char *zErr = 0;
  *pp = 0;
  pCf = storeCfNew(zName, 2);        /* the list's and the caller's */
  if( pCf==0 ) return SQLITE_NOMEM;
  pCf->h = rocksdb_create_column_family(p->db, p->pOpts, zName, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("cannot create the table's column family", zErr);
    storeCfFree(pCf);
    return SQLITE_ERROR;
  }
  sqlite3_mutex_enter(p->mutex);
  pCf->pNext = p->pCf;
  p->pCf = pCf;
  sqlite3_mutex_leave(p->mutex);
  *pp = pCf;
  return SQLITE_OK;
}

/* Drops the references of a column family that are held by nobody: the
** handle is destroyed and unlinked when its last reference goes. Caller
** holds p->mutex. */
static void storeCfUnref(KalamStore *p, KalamCf *pCf){
  KalamCf **pp;
  assert( pCf->nRef>0 );
  if( --pCf->nRef>0 ) return;
  for(pp=&p->pCf; *pp; pp=&(*pp)->pNext){
    if( *pp==pCf ){ *pp = pCf->pNext; break; }
  }
  rocksdb_column_family_handle_destroy(pCf->h);
  storeCfFree(pCf);
}

/* Gives back a reference from kalamStoreCfFind or kalamStoreCfCreate. */
void kalamStoreCfRelease(KalamStore *p, KalamCf *pCf){
  if( pCf==0 ) return;
  assert( pCf!=&p->catalog );
  sqlite3_mutex_enter(p->mutex);
  storeCfUnref(p, pCf);
  sqlite3_mutex_leave(p->mutex);
}

/* Drops a column family from RocksDB. The handle stays valid for those who
** still hold a reference; the list's own reference is given up. */
int kalamStoreCfDrop(KalamStore *p, KalamCf *pCf, char **pzErr){
  char *zErr = 0;
  int rc = SQLITE_OK;
  assert( pCf!=&p->catalog );
  sqlite3_mutex_enter(p->mutex);
  if( !pCf->bDropped ){
    rocksdb_drop_column_family(p->db, pCf->h, &zErr);
    if( zErr ){
      *pzErr = kalamStoreError("cannot drop the table's column family", zErr);
      rc = SQLITE_ERROR;
    }else{
      pCf->bDropped = 1;
      storeCfUnref(p, pCf);
    }
  }
  sqlite3_mutex_leave(p->mutex);
  return rc;
}

/* The file or directory the store lives in (a label for memory stores),
** for messages. */
const char *kalamStorePath(const KalamStore *p){
  return p->zPath;
}

/* Is this a memory store (a database without a file)? */
int kalamStoreIsMemory(const KalamStore *p){
  return p->bMem;
}

/* The catalog's column family. Not reference-counted: it lives as long as
** the store. */
KalamCf *kalamStoreCatalog(KalamStore *p){
  return &p->catalog;
}

/* The column family of prepared transactions (commit.c), likewise. */
KalamCf *kalamStorePrepared(KalamStore *p){
  return &p->prepared;
}

/* The catalog's "may hold pending DDL" bit (catalog.c says what pending
** means): set by kalamStorePendingMark, read and cleared in one step by
** kalamStorePendingTake, so that two connections never both skip a look. */
void kalamStorePendingMark(KalamStore *p){
  sqlite3_mutex_enter(p->mutex);
  p->bMaybePending = 1;
  sqlite3_mutex_leave(p->mutex);
}
int kalamStorePendingTake(KalamStore *p){
  int b;
  sqlite3_mutex_enter(p->mutex);
  b = p->bMaybePending;
  p->bMaybePending = 0;
  sqlite3_mutex_leave(p->mutex);
  return b;
}

/* Whether another connection of the process may be using the store: then
** a commit keeps a view of the state it replaces (store_io.c). */
int kalamStoreShared(KalamStore *p){
  int n;
  sqlite3_mutex_enter(storeRegistryMutex());
  n = p->nRef;
  sqlite3_mutex_leave(storeRegistryMutex());
  return n>1;
}

/* A column family's name. */
const char *kalamStoreCfName(const KalamCf *pCf){
  return pCf->zName;
}

/* Is the store open for reading only (owned by another process, or
** opened for a read-only database)? *piOwner is the owner's pid when
** known, else 0. */
int kalamStoreReadOnly(KalamStore *p, long *piOwner){
  if( piOwner ) *piOwner = p->iOwner;
  return p->bSecondary;
}

/* Moves a read-only store to its owner's newest state: the commits it
** has written since (whole write batches and whole ingested files only,
** so never part of a transaction). A no-op for a store this process
** owns. */
int kalamStoreCatchUp(KalamStore *p, char **pzErr){
  char *zErr = 0;
  if( !p->bSecondary ) return SQLITE_OK;
  rocksdb_try_catch_up_with_primary(p->db, &zErr);
  if( zErr && strstr(zErr, "column family") ){
    /* The owner made a table since this instance was opened: only a new
    ** instance can follow it. */
    int rc;
    rocksdb_free(zErr);
    zErr = 0;
    rc = kalamStoreRefresh(p, STORE_REFRESH_FORCE, pzErr);
    if( rc ) return rc;
    rocksdb_try_catch_up_with_primary(p->db, &zErr);
    if( zErr && strstr(zErr, "column family") ){
      rocksdb_free(zErr);
      *pzErr = sqlite3_mprintf("kalam store %s: its owner has made tables "
          "since this process opened it for reading, and other connections "
          "of this process to the store keep it from being opened again: "
          "close them", p->zPath);
      return SQLITE_BUSY;
    }
  }
  if( zErr ){
    *pzErr = kalamStoreError("kalam: cannot read the owner's newest "
                             "commits", zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* Is zName one of azName[0..n)? */
static int storeNameListed(const char *zName, char **azName, size_t n){
  size_t i;
  for(i=0; i<n; i++){
    if( strcmp(azName[i], zName)==0 ) return 1;
  }
  return 0;
}

/* Puts the handles aHandle (of azName[0..n), opened on pNew) in place of
** those p has on its old instance, adds the column families p did not
** have and lets go of those the owner dropped (held by nobody but the
** list). The old instance goes to pRetired (given, filled here): reads
** begun on it may go on. Caller holds the registry mutex, and p has no
** other holder: no other thread uses it meanwhile. */
static int storeSwap(KalamStore *p, rocksdb_t *pNew, char **azName,
                     size_t n, rocksdb_column_family_handle_t **aHandle,
                     KalamRetired *pRetired){
  KalamCf *pCf, *pNext, *pAdded = 0;
  size_t i;
  int rc = SQLITE_OK;
  /* Whatever can fail first, so that a failure leaves p as it was. */
  for(i=0; rc==SQLITE_OK && i<n; i++){
    KalamCf *pNewCf;
    if( strcmp(azName[i], "default")==0
     || strcmp(azName[i], KALAM_CATALOG_CF)==0
     || strcmp(azName[i], KALAM_PREPARED_CF)==0 ) continue;
    for(pCf=p->pCf; pCf && strcmp(pCf->zName, azName[i]); pCf=pCf->pNext){}
    if( pCf ) continue;
    pNewCf = storeCfNew(azName[i], 1);
    if( pNewCf==0 ){
      rc = SQLITE_NOMEM;
      break;
    }
    pNewCf->pNext = pAdded;
    pAdded = pNewCf;
  }
  if( rc ){
    while( pAdded ){
      pCf = pAdded->pNext;
      storeCfFree(pAdded);
      pAdded = pCf;
    }
    return rc;
  }
  sqlite3_mutex_enter(p->mutex);
  for(pCf=p->pCf; pCf; pCf=pNext){
    pNext = pCf->pNext;
    if( !storeNameListed(pCf->zName, azName, n) ){
      assert( pCf->nRef==1 );
      storeCfUnref(p, pCf);
    }
  }
  while( pAdded ){
    pCf = pAdded->pNext;
    pAdded->pNext = p->pCf;
    p->pCf = pAdded;
    pAdded = pCf;
  }
  for(i=0; i<n; i++){
    rocksdb_column_family_handle_t **ph = 0;
    if( strcmp(azName[i], KALAM_CATALOG_CF)==0 ){
      ph = &p->catalog.h;
    }else if( strcmp(azName[i], KALAM_PREPARED_CF)==0 ){
      ph = &p->prepared.h;
    }else{
      for(pCf=p->pCf; pCf; pCf=pCf->pNext){
        if( strcmp(pCf->zName, azName[i])==0 ){ ph = &pCf->h; break; }
      }
    }
    if( ph && *ph ) rocksdb_column_family_handle_destroy(*ph);
    if( ph ){
      *ph = aHandle[i];
    }else{
      rocksdb_column_family_handle_destroy(aHandle[i]);   /* "default" */
    }
    aHandle[i] = 0;
  }
  sqlite3_mutex_leave(p->mutex);
  pRetired->db = p->db;
  pRetired->zDir = p->zSecondary;
  pRetired->pNext = p->pRetired;
  p->pRetired = pRetired;
  p->db = pNew;
  return SQLITE_OK;
}

/* A store this process reads (owned by another process) opened again when
** that helps: as its owner, if the owner has closed it since
** (KALAM_REFRESH_OWN: the caller may write), or else as a reader again,
** if the owner has made tables since (RocksDB cannot add a column family
** to an open secondary instance, nor follow a MANIFEST that names one it
** lacks). Only while the caller's connection is the store's only holder
** in the process: then no other thread reads it, and reads of the
** caller's own that are under way go on at the old instance, which is
** closed when the caller says nothing of it reads the store any more
** (KALAM_REFRESH_IDLE). A store whose tables were dropped since, while
** one of them is still open here, is left as it is: that table's handle
** belongs to the old instance. Not being able to reopen is no error: the
** store reads as before. */
int kalamStoreRefresh(KalamStore *p, int flags, char **pzErr){
  char **azListed = 0;
  size_t nListed = 0, i;
  const rocksdb_options_t **aOpts = 0;
  rocksdb_column_family_handle_t **aHandle = 0;
  rocksdb_t *pNew = 0;
  KalamRetired *pRetired = 0;
  char *zErr = 0, *zDir = 0;
  int rc = SQLITE_OK, bOwn, bNew = (flags & STORE_REFRESH_FORCE)!=0;
  KalamCf *pCf;

  sqlite3_mutex_enter(storeRegistryMutex());
  if( p->nRef!=1 ) goto done;
  if( flags & KALAM_REFRESH_IDLE ) storeRetiredClose(p);
  if( !p->bSecondary ) goto done;
  azListed = rocksdb_list_column_families(p->pOpts, p->zPath, &nListed,
                                          &zErr);
  if( zErr ) goto done;
  for(pCf=p->pCf; pCf; pCf=pCf->pNext){
    /* A table the owner dropped that is still open here (its handle held
    ** beyond the list's own reference) keeps the old instance. */
    if( pCf->nRef>1 && !storeNameListed(pCf->zName, azListed, nListed) ){
      goto done;
    }
  }
  for(i=0; i<nListed; i++){
    const char *z = azListed[i];
    if( strcmp(z, "default") && strcmp(z, KALAM_CATALOG_CF)
     && strcmp(z, KALAM_PREPARED_CF) ){
      for(pCf=p->pCf; pCf && strcmp(pCf->zName, z); pCf=pCf->pNext){}
      if( pCf==0 ) bNew = 1;
    }
  }
  bOwn = (flags & KALAM_REFRESH_OWN) && kalamStoreOwnerGone(p->iOwner);
  if( !bOwn && !bNew ) goto done;
  aOpts = sqlite3_malloc64(sizeof(void*) * nListed);
  aHandle = sqlite3_malloc64(sizeof(void*) * nListed);
  pRetired = sqlite3_malloc(sizeof(*pRetired));
  if( aOpts==0 || aHandle==0 || pRetired==0 ){ rc = SQLITE_NOMEM; goto done; }
  for(i=0; i<nListed; i++) aOpts[i] = p->pOpts;
  if( bOwn ){
    pNew = rocksdb_open_column_families(p->pOpts, p->zPath, (int)nListed,
        (const char**)azListed, aOpts, aHandle, &zErr);
    if( zErr ){
      /* Another process was quicker, or the store is not ours to write
      ** (the lock says): read on. */
      rocksdb_free(zErr);
      zErr = 0;
      pNew = 0;
      bOwn = 0;
      if( !bNew ) goto done;
    }
  }
  if( pNew==0 ){
    rc = storeOpenSecondary(p, (int)nListed, (const char**)azListed, aOpts,
                            aHandle, &pNew, &zDir, pzErr);
    if( rc ) goto done;
  }
  rc = storeSwap(p, pNew, azListed, nListed, aHandle, pRetired);
  if( rc==SQLITE_OK ) pRetired = 0;     /* p's now */
  if( rc ){
    for(i=0; i<nListed; i++){
      if( aHandle[i] ) rocksdb_column_family_handle_destroy(aHandle[i]);
    }
    rocksdb_close(pNew);
    if( zDir ) kalamStoreDirRemove(zDir);
    sqlite3_free(zDir);
    goto done;
  }
  p->zSecondary = zDir;               /* the old one went with pRetired */
  if( bOwn ){
    p->bSecondary = 0;
    p->iOwner = 0;
    kalamStoreSweepIngestFiles(p->zPath);
    kalamStoreOwnerWrite(p->zPath);
  }

done:
  sqlite3_mutex_leave(storeRegistryMutex());
  if( zErr ) rocksdb_free(zErr);
  if( azListed ) rocksdb_list_column_families_destroy(azListed, nListed);
  sqlite3_free(aOpts);
  sqlite3_free(aHandle);
  sqlite3_free(pRetired);
  return rc;
}

/* Writes a copy of the store, as it is now, to the new directory zDir
** (RocksDB's checkpoint: table files hard-linked where the file system
** allows, the memtables flushed first). */
int kalamStoreCopy(KalamStore *p, const char *zDir, char **pzErr){
  rocksdb_checkpoint_t *pCp;
  char *zErr = 0;
  if( p->bMem || p->bSecondary ){
    *pzErr = sqlite3_mprintf("kalam store %s cannot be copied by this "
        "process: it %s", p->zPath, p->bMem ? "is in memory"
                                            : "is owned by another process");
    return SQLITE_MISUSE;
  }
  pCp = rocksdb_checkpoint_object_create(p->db, &zErr);
  if( zErr==0 ){
    rocksdb_checkpoint_create(pCp, zDir, 0, &zErr);
  }
  if( pCp ) rocksdb_checkpoint_object_destroy(pCp);
  if( zErr ){
    char *zWhat = sqlite3_mprintf("cannot copy kalam store %s to %s",
                                  p->zPath, zDir);
    *pzErr = kalamStoreError(zWhat ? zWhat : zDir, zErr);
    sqlite3_free(zWhat);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}
