/*
** store_path.c — which store a database has, and the registry of the
** stores the process has open.
**
** A database file F has the store directory F-kalam, named by F's real
** path so that two spellings of one file share one store
** (kalamStoreDirOf). A database without a file has no directory: its
** store is in memory, named by what the connections that share the
** database share (kalamStoreMemoryKey). The registry, a list guarded by
** a static mutex, holds every open store by that name with a reference
** count: every connection of the process that opens a database shares
** its one store (kalamStoreAcquire), and the last to let go closes it
** (kalamStoreRelease). A process never shares a store its parent opened
** before fork().
**
** In a store directory kalam keeps OWNER (the pid of the process that
** writes it) and, for a moment, table files written for ingestion;
** kalamStoreDirRemove removes a directory kalam made.
**
** Part of the storage layer (store.c opens the stores), but it calls no
** RocksDB function.
*/
#include "store_int.h"
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <dirent.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>

SQLITE_EXTENSION_INIT3

/* The open stores of the process: every connection that opens a database
** gets the one store of that database from here (kalamStoreAcquire). */
static KalamStore *storeRegistry = 0;  /* guarded by SQLITE_MUTEX_STATIC_APP2 */

static sqlite3_mutex *storeRegistryMutex(void){
  return sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP2);
}

/* The store of database file F is the directory F-kalam. */
#define KALAM_STORE_SUFFIX "-kalam"

/* The store directory of database file zFile (sqlite3_free), by its real
** path when it has one; NULL if out of memory. */
char *kalamStoreDirOf(const char *zFile){
  char zReal[PATH_MAX];
  if( realpath(zFile, zReal) ){
    return sqlite3_mprintf("%s" KALAM_STORE_SUFFIX, zReal);
  }
  return sqlite3_mprintf("%s" KALAM_STORE_SUFFIX, zFile);
}

/* Does the store directory of database file zFile exist, as a store
** (RocksDB's CURRENT is in it)? */
int kalamStoreDirExists(const char *zFile){
  char *zCurrent = sqlite3_mprintf("%s" KALAM_STORE_SUFFIX "/CURRENT", zFile);
  int bExists = zCurrent && access(zCurrent, F_OK)==0;
  sqlite3_free(zCurrent);
  return bExists;
}

/* Removes ingestion files that a crash between writing and ingesting left
** in the store directory. Called once the store is open, i.e. once this
** process holds RocksDB's lock, so no other process is writing them. They
** were never part of a commit. */
void kalamStoreSweepIngestFiles(const char *zPath){
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
void kalamStoreOwnerWrite(const char *zPath){
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
long kalamStoreOwnerRead(const char *zPath){
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

/* Has process iPid, the owner a reader found, closed the store since?
** Only a process that is gone for sure counts: one that still runs may
** still own it. */
int kalamStoreOwnerGone(long iPid){
  return iPid>0 && kill((pid_t)iPid, 0)!=0 && errno==ESRCH;
}

/* The refusal of a write to a store opened for reading only:
** SQLITE_READONLY and a message naming the store and, when another
** process owns it, that process (or that it has closed the store since
** this process opened it: kalamStoreRefresh makes this process the owner
** when only one connection of it holds the store). SQLITE_OK for a store
** this process may write. */
int kalamStoreWriteRefused(KalamStore *p, char **pzErr){
  if( !p->bSecondary ) return SQLITE_OK;
  if( p->iOwner>0 && kalamStoreOwnerGone(p->iOwner) ){
    *pzErr = sqlite3_mprintf("kalam store %s was owned by process %ld when "
        "this process opened it, and that process has closed it since: this "
        "process writes once only one of its connections has the store open "
        "(close the others)", p->zPath, p->iOwner);
  }else if( p->iOwner>0 ){
    *pzErr = sqlite3_mprintf("kalam store %s is owned by process %ld: this "
        "process may read its tables, not write them", p->zPath, p->iOwner);
  }else{
    *pzErr = sqlite3_mprintf("attempt to write a readonly database: kalam "
        "store %s is open for reading only", p->zPath);
  }
  return SQLITE_READONLY;
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
int kalamStoreMemoryKey(sqlite3 *db, const char *zSchema,
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

/* Does schema zSchema of db have a database file (and so a store
** directory beside it)? Not a database in memory of any kind. */
int kalamStoreHasFile(sqlite3 *db, const char *zSchema){
  char *zKey = 0;
  int bMem = 0;
  int rc = kalamStoreMemoryKey(db, zSchema, sqlite3_db_filename(db, zSchema),
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
  if( kalamStoreMemoryKey(db, zSchema, zFile, &bMem, &zKey)!=SQLITE_OK ){
    return 1;                     /* out of memory: keep what works */
  }
  if( p->bMem!=bMem ){
    bSame = 0;
  }else if( bMem ){
    bSame = zKey && strcmp(zKey, p->zPath)==0;
  }else if( zFile && realpath(zFile, zReal) ){
    char *zDir = kalamStoreDirOf(zFile);
    bSame = zDir==0 || strcmp(zDir, p->zPath)==0;
    sqlite3_free(zDir);
  }
  sqlite3_free(zKey);
  return bSame;
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
    return kalamStoreOpen("(in-memory database)", 1, 0, pp, pzErr);
  }
  sqlite3_mutex_enter(storeRegistryMutex());
  p = storeRegistryFind(zKey);
  if( p==0 && bCreate ){
    rc = kalamStoreOpen(zKey, 1, 0, &p, pzErr);
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
    rc = kalamStoreOpen(zPath, 0, bReadOnly, &p, pzErr);
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
  if( bFree ) kalamStoreClose(p);
}
