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
** (storeMemoryKey), so that exactly the connections sharing it share the
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
/* The store of database file F is the directory F-kalam. */
#define KALAM_STORE_SUFFIX "-kalam"
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


/* Frees everything a store holds; the store must be unreferenced. */
static void storeFree(KalamStore *p){
  KalamCf *pCf, *pNext;
  if( p==0 ) return;
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

/* Removes ingestion files that a crash between writing and ingesting left
** in the store directory. Called once the store is open, i.e. once this
** process holds RocksDB's lock, so no other process is writing them. They
** were never part of a commit. */
static void storeSweepIngestFiles(const char *zPath){
  DIR *pDir = opendir(zPath);
  struct dirent *pEnt;
  size_t nPrefix = strlen(KALAM_INGEST_PREFIX);
  if( pDir==0 ) return;    /* nothing to sweep is not an error */
  while( (pEnt = readdir(pDir))!=0 ){
    if( strncmp(pEnt->d_name, KALAM_INGEST_PREFIX, nPrefix)==0 ){
      char *zFile = sqlite3_mprintf("%s/%s", zPath, pEnt->d_name);
      if( zFile ) kalamIngestFileRemove(zFile);
      sqlite3_free(zFile);
    }
  }
  closedir(pDir);
}

/* The store's owner, for the message another process gets: the pid of
** the process that opened it for writing, in the file OWNER of the
** store directory. Written after the open, so under RocksDB's lock; a
** failure only costs the pid in that message. */
#define STORE_OWNER_FILE "OWNER"
static void storeOwnerWrite(const char *zPath){
  char *zFile = sqlite3_mprintf("%s/" STORE_OWNER_FILE, zPath);
  char zPid[32];
  int fd;
  if( zFile==0 ) return;
  fd = open(zFile, O_WRONLY|O_CREAT|O_TRUNC, 0644);
  sqlite3_free(zFile);
  if( fd<0 ) return;
  sqlite3_snprintf(sizeof(zPid), zPid, "%ld\n", (long)getpid());
  if( write(fd, zPid, strlen(zPid))<0 ){ /* only a message's detail */ }
  close(fd);
}

/* The pid in the store's OWNER file, or 0. */
static long storeOwnerRead(const char *zPath){
  char *zFile = sqlite3_mprintf("%s/" STORE_OWNER_FILE, zPath);
  char aBuf[32];
  ssize_t n = -1;
  int fd;
  if( zFile==0 ) return 0;
  fd = open(zFile, O_RDONLY);
  sqlite3_free(zFile);
  if( fd>=0 ){
    n = read(fd, aBuf, sizeof(aBuf)-1);
    close(fd);
  }
  if( n<=0 ) return 0;
  aBuf[n] = 0;
  return atol(aBuf);
}

/* Removes directory zDir and the files directly in it: a secondary
** instance's private directory (RocksDB keeps only its info log there),
** or what a failed kalam_backup left (a checkpoint's files lie flat). */
void kalamStoreDirRemove(const char *zDir){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  if( pDir ){
    while( (pEnt = readdir(pDir))!=0 ){
      char *zFile;
      if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ){
        continue;
      }
      zFile = sqlite3_mprintf("%s/%s", zDir, pEnt->d_name);
      if( zFile ) (void)unlink(zFile);
      sqlite3_free(zFile);
    }
    closedir(pDir);
  }
  (void)rmdir(zDir);
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
    p->db = rocksdb_open_column_families(p->pOpts, zDir, nCf, azName,
                                         aCfOpts, aHandle, &zErr);
    if( zErr && !bMem && (strstr(zErr, "lock") || strstr(zErr, "LOCK"))
     && bHasCatalog ){
      /* Another process owns the store: this one reads it. */
      rocksdb_free(zErr);
      zErr = 0;
      p->db = 0;
      bReadOnly = 1;
      p->iOwner = storeOwnerRead(zPath);
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
      long iOwner = storeOwnerRead(zPath);
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
    storeSweepIngestFiles(zPath);
    storeOwnerWrite(zPath);
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

/* Is schema zSchema of db a database without a file of its own, and if
** so, which one? *pzKey names it among the databases of the process
** (sqlite3_free), *pzKey NULL for a database with a file. Connections
** that share one such database must share its store, and no others:
**
**   - ":memory:", "", temp, "file:x?mode=memory" (shared-cache or not):
**     SQLite gives no name, but connections sharing a cache share its
**     pager, so the pager's file object names the database;
**   - the memdb VFS ("file:/x?vfs=memdb", and every sqlite3_deserialize,
**     which SQLite opens as memdb "x"): a name that starts with '/' is
**     shared by every connection of the process that opens it; any other
**     memdb name is private to its connection, named by its file object.
**
** A database whose pager cannot be asked (temp before its first use) is
** reported as a memory database with no key: it gets a store of its own. */
static int storeMemoryKey(sqlite3 *db, const char *zSchema,
                          const char *zFile, int *pbMem, char **pzKey){
  sqlite3_vfs *pVfs = 0;
  sqlite3_file *pFd = 0;
  int bMemdb = 0;
  *pbMem = 0;
  *pzKey = 0;
  if( zFile && zFile[0] ){
    if( sqlite3_file_control(db, zSchema, SQLITE_FCNTL_VFS_POINTER,
                             &pVfs)==SQLITE_OK && pVfs && pVfs->zName ){
      bMemdb = strcmp(pVfs->zName, "memdb")==0;
    }
    if( !bMemdb ) return SQLITE_OK;
    if( zFile[0]=='/' ){
      *pbMem = 1;
      *pzKey = sqlite3_mprintf("(in-memory database %s)", zFile);
      return *pzKey ? SQLITE_OK : SQLITE_NOMEM;
    }
  }
  *pbMem = 1;
  if( sqlite3_file_control(db, zSchema, SQLITE_FCNTL_FILE_POINTER,
                           &pFd)!=SQLITE_OK || pFd==0 ){
    return SQLITE_OK;
  }
  *pzKey = sqlite3_mprintf("(in-memory database %p)", (void*)pFd);
  return *pzKey ? SQLITE_OK : SQLITE_NOMEM;
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

/* The store of a database without a file (storeMemoryKey): the one its
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
  char zReal[PATH_MAX];
  KalamStore *p;
  /* A database the connection may only read (file permissions, a
  ** read-only open) gets a store opened for reading only. */
  int bReadOnly = sqlite3_db_readonly(db, zSchema)==1;
  int bMem = 0;
  int rc;

  *pp = 0;
  rc = storeMemoryKey(db, zSchema, zFile, &bMem, &zKey);
  if( rc ) return rc;
  if( bMem ){
    rc = storeAcquireMemory(zKey, bCreate, pp, pzErr);
    sqlite3_free(zKey);
    return rc;
  }
  if( !bCreate ){
    char *zCurrent = sqlite3_mprintf("%s" KALAM_STORE_SUFFIX "/CURRENT", zFile);
    int bExists;
    if( zCurrent==0 ) return SQLITE_NOMEM;
    bExists = access(zCurrent, F_OK)==0;
    sqlite3_free(zCurrent);
    if( !bExists ) return SQLITE_OK;
  }
  /* Share by real path so that two spellings of one file share a store. */
  if( realpath(zFile, zReal) ){
    zPath = sqlite3_mprintf("%s" KALAM_STORE_SUFFIX, zReal);
  }else{
    zPath = sqlite3_mprintf("%s" KALAM_STORE_SUFFIX, zFile);
  }
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

/* Does schema zSchema of db have a database file (and so a store
** directory beside it)? Not a database in memory of any kind. */
int kalamStoreHasFile(sqlite3 *db, const char *zSchema){
  char *zKey = 0;
  int bMem = 0;
  int rc = storeMemoryKey(db, zSchema, sqlite3_db_filename(db, zSchema),
                          &bMem, &zKey);
  sqlite3_free(zKey);
  return rc==SQLITE_OK && !bMem;
}

/* Is p still the store of schema zSchema of db? Not when the database it
** was acquired for is gone and another took its schema name (DETACH and
** ATTACH, sqlite3_deserialize) with a store elsewhere: then the
** connection acquires the new one's. A file whose real path cannot be
** found now (moved or removed while open) keeps the store it has. */
int kalamStoreIsFor(KalamStore *p, sqlite3 *db, const char *zSchema){
  const char *zFile = sqlite3_db_filename(db, zSchema);
  char *zKey = 0;
  char zReal[PATH_MAX];
  int bMem = 0, bSame = 1;
  if( storeMemoryKey(db, zSchema, zFile, &bMem, &zKey)!=SQLITE_OK ){
    return 1;                     /* out of memory: keep what works */
  }
  if( p->bMem!=bMem ){
    bSame = 0;
  }else if( bMem ){
    bSame = zKey && strcmp(zKey, p->zPath)==0;
  }else if( zFile && realpath(zFile, zReal) ){
    size_t n = strlen(zReal);
    bSame = strncmp(p->zPath, zReal, n)==0
         && strcmp(&p->zPath[n], KALAM_STORE_SUFFIX)==0;
  }
  sqlite3_free(zKey);
  return bSame;
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
