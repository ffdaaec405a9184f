/*
** store.c — opening RocksDB stores and keeping their column families.
**
** A SQLite database file F keeps its kalam tables in the RocksDB directory
** F-kalam (as F-wal and F-journal sit beside F). RocksDB lets one opener
** per directory, so the process keeps a registry of open stores by real
** path, guarded by a static mutex and reference-counted: every connection
** of the process that opens F shares one rocksdb_t. Another process that
** opens it as a reader (storeOpenSecondary). Databases without a file
** (in-memory, temp, memdb, deserialized) get a store in a RocksDB memory
** env, registered under a key that names the database itself
** (kalamStoreMemoryKey, store_path.c), so that exactly the connections sharing it share the
** store; it goes when the last of them closes.
**
** Column families: "default" (unused), "kalam_catalog" (catalog.c) and one
** per table, named when the table is created. Handles are listed on the
** store and reference-counted, because a table dropped by one connection
** may still be open in another until that one notices the schema change:
** the handle must outlive the drop.
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

static KalamStore *storeRegistry = 0;  /* guarded by SQLITE_MUTEX_STATIC_APP2 */

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

/* Frees everything a store holds; the store must be unreferenced. */
static void storeFree(KalamStore *p){
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
    sqlite3_free(pCf->zName);
    sqlite3_free(pCf);
  }
  kalamStoreViewsFree(p);
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
  rocksdb_options_set_compression(p->pOpts, rocksdb_lz4_compression);
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
  return SQLITE_OK;
}

/* Opens p->zPath as a RocksDB secondary instance: the reader of a store
** another process owns, or of one this process may only read (a read-only
** database file). It needs no write access to the store: what RocksDB
** writes of its own (an info log) goes to a private directory under
** TMPDIR, removed at close. Secondary instances keep every table file
** they use open (max_open_files -1), so the owner's compactions cannot
** take files from under them. kalamStoreCatchUp moves it to the owner's
** newest commit. */
static int storeOpenSecondary(KalamStore *p, int nCf, const char **azName,
                              const rocksdb_options_t **aCfOpts,
                              rocksdb_column_family_handle_t **aHandle,
                              char **pzErr){
  const char *zTmp = getenv("TMPDIR");
  char *zErr = 0;
  int i;
  if( zTmp==0 || zTmp[0]==0 ) zTmp = "/tmp";
  p->zSecondary = sqlite3_mprintf("%s/kalam-reader-XXXXXX", zTmp);
  if( p->zSecondary==0 ) return SQLITE_NOMEM;
  if( mkdtemp(p->zSecondary)==0 ){
    *pzErr = sqlite3_mprintf("cannot open kalam store %s for reading: cannot "
        "make a private directory in %s: %s", p->zPath, zTmp,
        strerror(errno));
    sqlite3_free(p->zSecondary);
    p->zSecondary = 0;
    return SQLITE_CANTOPEN;
  }
  rocksdb_options_set_max_open_files(p->pOpts, -1);
  rocksdb_options_set_create_if_missing(p->pOpts, 0);
  for(i=0; i<nCf; i++) aCfOpts[i] = p->pOpts;
  p->db = rocksdb_open_as_secondary_column_families(p->pOpts, p->zPath,
      p->zSecondary, nCf, azName, aCfOpts, aHandle, &zErr);
  if( zErr ){
    char *zWhat = sqlite3_mprintf("cannot open kalam store %s for reading",
                                  p->zPath);
    *pzErr = kalamStoreError(zWhat ? zWhat : p->zPath, zErr);
    sqlite3_free(zWhat);
    p->db = 0;
    return SQLITE_CANTOPEN;
  }
  p->bSecondary = 1;
  return SQLITE_OK;
}

/* Opens the RocksDB directory zPath with all its column families: for
** writing (bReadOnly 0) unless another process owns it, else as a
** secondary instance (storeOpenSecondary). A memory store (bMem) lives in
** an env of its own, where RocksDB wants an absolute directory name:
** zPath is then only its label for messages and the registry. */
static int storeOpen(const char *zPath, int bMem, int bReadOnly,
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
                            aCfOpts, aHandle, &zErr);
    if( rc ) goto done;
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
      KalamCf *pCf = sqlite3_malloc(sizeof(*pCf));
      char *zName = sqlite3_mprintf("%s", azName[i]);
      if( pCf==0 || zName==0 ){
        sqlite3_free(pCf);
        sqlite3_free(zName);
        rocksdb_column_family_handle_destroy(aHandle[i]);
        rc = SQLITE_NOMEM;
        continue;
      }
      memset(pCf, 0, sizeof(*pCf));
      pCf->zName = zName;
      pCf->h = aHandle[i];
      pCf->nRef = 1;
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
    storeFree(p);
  }else{
    *pp = p;
  }
  return rc;
}

/* The registered store named zPath that this process opened, with a new
** reference, or NULL. Caller holds the registry mutex. */
static KalamStore *storeRegistryFind(const char *zPath){
  KalamStore *p;
  for(p=storeRegistry; p; p=p->pNext){
    /* A store the parent process opened before fork() is the parent's:
    ** a child that wrote through the inherited handle would write into a
    ** copy of RocksDB's memory, lost or worse. The child opens on its own,
    ** as another process would. */
    if( p->pid==getpid() && strcmp(p->zPath, zPath)==0 ){
      p->nRef++;
      return p;
    }
  }
  return 0;
}

/* The store of a database without a file (kalamStoreMemoryKey, store_path.c): the one its
** other connections use, or a new one in a RocksDB memory env, registered
** under zKey. With bCreate 0 only an existing one; *pp may be NULL. */
static int storeAcquireMemory(const char *zKey, int bCreate,
                              KalamStore **pp, char **pzErr){
  KalamStore *p;
  int rc = SQLITE_OK;
  if( zKey==0 ){
    if( !bCreate ) return SQLITE_OK;
    return storeOpen("(in-memory database)", 1, 0, pp, pzErr);
  }
  sqlite3_mutex_enter(storeRegistryMutex());
  p = storeRegistryFind(zKey);
  if( p==0 && bCreate ){
    rc = storeOpen(zKey, 1, 0, &p, pzErr);
    if( rc==SQLITE_OK ){
      p->pNext = storeRegistry;
      storeRegistry = p;
    }
  }
  sqlite3_mutex_leave(storeRegistryMutex());
  *pp = p;
  return rc;
}

/* Gets the store of schema zSchema of db, opening it if need be. The
** caller owns one reference and gives it back with kalamStoreRelease.
** With bCreate 0 only a store that already exists is opened, and *pp is
** NULL when there is none: that is how kalam_tables and the SQL
** functions look at a database without creating empty stores. */
int kalamStoreAcquire(sqlite3 *db, const char *zSchema, int bCreate,
                      KalamStore **pp, char **pzErr){
  const char *zFile = sqlite3_db_filename(db, zSchema);
  char *zPath = 0, *zKey = 0;
  KalamStore *p;
  /* A database the connection may only read (file permissions, a
  ** read-only open) gets a store opened for reading only. */
  int bReadOnly = sqlite3_db_readonly(db, zSchema)==1;
  int bMem = 0;
  int rc;

  *pp = 0;
  rc = kalamStoreMemoryKey(db, zSchema, zFile, &bMem, &zKey);
  if( rc ) return rc;
  if( bMem ){
    rc = storeAcquireMemory(zKey, bCreate, pp, pzErr);
    sqlite3_free(zKey);
    return rc;
  }
  if( !bCreate && !kalamStoreDirExists(zFile) ) return SQLITE_OK;
  zPath = kalamStoreDirOf(zFile);
  if( zPath==0 ) return SQLITE_NOMEM;

  sqlite3_mutex_enter(storeRegistryMutex());
  p = storeRegistryFind(zPath);
  if( p==0 ){
    rc = storeOpen(zPath, 0, bReadOnly, &p, pzErr);
    if( rc==SQLITE_OK ){
      p->pNext = storeRegistry;
      storeRegistry = p;
    }
  }
  sqlite3_mutex_leave(storeRegistryMutex());
  sqlite3_free(zPath);
  *pp = p;
  return rc;
}

/* A connection found that the database it used p for is gone (it holds
** the reference the caller passes, kept for its tables until they are
** disconnected). A memory store nobody else holds is taken out of the
** registry now: no later database may be given it, even one SQLite puts
** at the same place in memory. */
void kalamStoreForget(KalamStore *p){
  KalamStore **pp;
  if( !p->bMem ) return;
  sqlite3_mutex_enter(storeRegistryMutex());
  if( p->nRef==1 ){
    for(pp=&storeRegistry; *pp; pp=&(*pp)->pNext){
      if( *pp==p ){ *pp = p->pNext; break; }
    }
    p->pNext = 0;
  }
  sqlite3_mutex_leave(storeRegistryMutex());
}

/* Gives back a reference from kalamStoreAcquire; the last one closes the
** store. */
void kalamStoreRelease(KalamStore *p){
  int bFree = 0;
  if( p==0 ) return;
  sqlite3_mutex_enter(storeRegistryMutex());
  assert( p->nRef>0 );
  if( --p->nRef==0 ){
    KalamStore **pp;
    for(pp=&storeRegistry; *pp; pp=&(*pp)->pNext){
      if( *pp==p ){ *pp = p->pNext; break; }
    }
    bFree = 1;
  }
  sqlite3_mutex_leave(storeRegistryMutex());
  if( bFree ) storeFree(p);
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

/* Creates column family zName; the caller owns one reference. */
int kalamStoreCfCreate(KalamStore *p, const char *zName, KalamCf **pp,
                       char **pzErr){
  KalamCf *pCf;
  char *zErr = 0;
  *pp = 0;
  pCf = sqlite3_malloc(sizeof(*pCf));
  if( pCf==0 ) return SQLITE_NOMEM;
  memset(pCf, 0, sizeof(*pCf));
  pCf->zName = sqlite3_mprintf("%s", zName);
  if( pCf->zName==0 ){
    sqlite3_free(pCf);
    return SQLITE_NOMEM;
  }
  pCf->h = rocksdb_create_column_family(p->db, p->pOpts, zName, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("cannot create the table's column family", zErr);
    sqlite3_free(pCf->zName);
    sqlite3_free(pCf);
    return SQLITE_ERROR;
  }
  pCf->nRef = 2; /* the list's and the caller's */
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
  sqlite3_free(pCf->zName);
  sqlite3_free(pCf);
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
  if( zErr ){
    *pzErr = kalamStoreError("kalam: cannot read the owner's newest "
                             "commits", zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

/* The refusal of a write to a store opened for reading only: SQLITE_READONLY
** and a message naming the store and, when another process owns it, that
** process. SQLITE_OK for a store this process may write. */
int kalamStoreWriteRefused(KalamStore *p, char **pzErr){
  if( !p->bSecondary ) return SQLITE_OK;
  if( p->iOwner>0 ){
    *pzErr = sqlite3_mprintf("kalam store %s is owned by process %ld: this "
        "process may read its tables, not write them", p->zPath, p->iOwner);
  }else{
    *pzErr = sqlite3_mprintf("attempt to write a readonly database: kalam "
        "store %s is open for reading only", p->zPath);
  }
  return SQLITE_READONLY;
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
