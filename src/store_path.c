/*
** store_path.c — where a database's store is, and the files kalam keeps
** beside RocksDB's in a store directory.
**
** A database file F has the store directory F-kalam, named by F's real
** path so that two spellings of one file share one store
** (kalamStoreDirOf). A database without a file has no directory: its
** store is in memory, named by what the connections that share the
** database share (kalamStoreMemoryKey). In a store directory kalam keeps
** OWNER (the pid of the process that writes it) and, for a moment,
** table files written for ingestion; kalamStoreDirRemove removes a
** directory kalam made.
**
** Part of the storage layer (store.c opens what this names), but it calls
** no RocksDB function.
*/
#include "store_int.h"
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <dirent.h>
#include <unistd.h>
#include <fcntl.h>

SQLITE_EXTENSION_INIT3

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
