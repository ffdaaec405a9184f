/*
** prepared.c — the table files of prepared large transactions: their
** names, their durable rename into place, the sweep of those a crash left
** without a record, and the end of each file kept as it was written.
**
** A large transaction's table file waits as kalam-prepared-<number>.sst
** in the store directory between xSync and its ingestion (commit.c has the
** protocol). These are plain files: nothing here calls RocksDB.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>

SQLITE_EXTENSION_INIT3

/* Prepared table files (commit.c): a large transaction's file waits
** under this name, kalam-prepared-<transaction>.sst, between xSync and
** its ingestion. The next open's sweep of ingestion files leaves these
** alone: settling decides their fate. */
#define PREPARED_PREFIX "kalam-prepared-"

char *kalamPreparedFileName(KalamStore *p, sqlite3_int64 iTxn){
  return sqlite3_mprintf("%s/" PREPARED_PREFIX "%lld.sst", kalamStorePath(p),
                         iTxn);
}

/* Gives finished table file zFrom its prepared name zTo, durably: the
** rename, then the directory synced, so that a crash after the prepared
** record is written never loses the file the record names. */
int kalamPreparedFileKeep(const char *zFrom, const char *zTo, char **pzErr){
  char *zDir = sqlite3_mprintf("%s", zTo);
  char *zSlash;
  int fd = -1, rc = SQLITE_OK;
  if( zDir==0 ) return SQLITE_NOMEM;
  if( rename(zFrom, zTo) ){
    *pzErr = sqlite3_mprintf("kalam commit failed: cannot rename %s to %s: "
                             "%s", zFrom, zTo, strerror(errno));
    rc = SQLITE_IOERR;
    goto done;
  }
  zSlash = strrchr(zDir, '/');
  if( zSlash ) *zSlash = 0;
  fd = open(zSlash ? zDir : ".", O_RDONLY);
  if( fd<0 || fsync(fd) ){
    *pzErr = sqlite3_mprintf("kalam commit failed: cannot sync directory "
                             "%s: %s", zDir, strerror(errno));
    rc = SQLITE_IOERR;
  }
done:
  if( fd>=0 ) close(fd);
  sqlite3_free(zDir);
  return rc;
}

/* Removes every prepared table file whose transaction xKeep does not
** claim: files a crash left between their rename and their record. */
void kalamPreparedFilesSweep(KalamStore *p,
                             int (*xKeep)(void*, sqlite3_int64), void *pArg){
  DIR *pDir = opendir(kalamStorePath(p));
  struct dirent *pEnt;
  size_t nPrefix = strlen(PREPARED_PREFIX);
  if( pDir==0 ) return;    /* nothing to sweep is not an error */
  while( (pEnt = readdir(pDir))!=0 ){
    sqlite3_int64 iTxn = 0;
    const char *z = pEnt->d_name;
    char *zEnd = 0;
    if( strncmp(z, PREPARED_PREFIX, nPrefix) ) continue;
    iTxn = strtoll(z + nPrefix, &zEnd, 10);
    if( zEnd && strcmp(zEnd, ".sst")==0 && xKeep(pArg, iTxn) ) continue;
    {
      char *zFile = sqlite3_mprintf("%s/%s", kalamStorePath(p), z);
      if( zFile ) kalamIngestFileRemove(zFile);
      sqlite3_free(zFile);
    }
  }
  closedir(pDir);
}

/* How much of a prepared table file's end is kept in its record: RocksDB
** 7.8 writes the sequence number it gives an ingested file into the
** file's properties block, near the end, before it records the file in
** its manifest, and will not ingest a file so marked. A crash between
** the two would leave the only copy of a committed transaction unusable;
** with the pristine end kept, settling puts it back first. */
#define PREPARED_TAIL_MAX 65536

/* Reads the last bytes of zFile (at most PREPARED_TAIL_MAX) into *pzTail
** (sqlite3_free), with their offset. */
int kalamPreparedFileTail(const char *zFile, char **pzTail, int *pnTail,
                          sqlite3_int64 *piOff, char **pzErr){
  struct stat st;
  char *z = 0;
  int fd = open(zFile, O_RDONLY), n = 0, rc = SQLITE_OK;
  *pzTail = 0;
  *pnTail = 0;
  *piOff = 0;
  if( fd<0 || fstat(fd, &st) ){ rc = SQLITE_IOERR; goto done; }
  n = st.st_size < PREPARED_TAIL_MAX ? (int)st.st_size : PREPARED_TAIL_MAX;
  z = sqlite3_malloc(n ? n : 1);
  if( z==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( pread(fd, z, (size_t)n, st.st_size - n)!=n ){ rc = SQLITE_IOERR; goto done; }
  *pzTail = z;
  *pnTail = n;
  *piOff = (sqlite3_int64)st.st_size - n;
  z = 0;
done:
  if( rc==SQLITE_IOERR ){
    *pzErr = sqlite3_mprintf("kalam commit failed: cannot read %s: %s",
                             zFile, strerror(errno));
  }
  if( fd>=0 ) close(fd);
  sqlite3_free(z);
  return rc;
}

/* Writes the kept end of a prepared table file back over it, synced, so
** that RocksDB ingests it as it was written (see PREPARED_TAIL_MAX). */
int kalamPreparedFileRestore(const char *zFile, sqlite3_int64 iOff,
                             const char *zTail, int nTail, char **pzErr){
  int fd = open(zFile, O_WRONLY), rc = SQLITE_OK;
  if( fd<0 || pwrite(fd, zTail, (size_t)nTail, (off_t)iOff)!=nTail
   || fsync(fd) ){
    *pzErr = sqlite3_mprintf("kalam: cannot restore prepared file %s: %s",
                             zFile, strerror(errno));
    rc = SQLITE_IOERR;
  }
  if( fd>=0 ) close(fd);
  return rc;
}
