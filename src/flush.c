/*
** flush.c — moving a table's rows from the hot store to Parquet files:
** kalam_flush('t'), flush_policy (from housekeeping.c), and the sweep of
** files a crash left unpublished.
**
**   SELECT kalam_flush('t');   -- rows moved
**
** A flush of one owner (the table, or one user of a kalam_user table):
**
**   1. reads the owner's committed rows (row keys only: key-index and
**      index entries stay hot and keep naming the row ids; cold_read.c
**      finds a row id with no hot row in the cold files), in row id order,
**      and writes them to "<name>.parquet.tmp" (parquet_write.c);
**   2. syncs it, renames it to "<name>.parquet", syncs the folder;
**   3. publishes it: one synced RocksDB write puts its segment record
**      (segment.c) and deletes the rows' keys, and their gone markers
**      (cold_read.c) if the owner has any.
**
** A crash before 3 leaves the rows hot and a file no record names: the
** sweep (kalamColdSweep, when a table is opened) removes it, and every
** ".tmp". A crash after 3 leaves them cold. Each row is hot or cold,
** exactly once. Crash points for tests (KALAM_CRASH_AT, commit.c):
** flush-file (after 2) and flush-publish (after 3).
**
** Soft-deleted rows are flushed like any other, so that a tombstone in a
** newer file hides the live row an older file holds.
**
** Concurrency. The write in 3 is not part of any transaction: like
** kalam_purge it acts on committed rows at once. So that no other
** connection's commit falls between reading a row and deleting its key,
** kalam_flush first takes SQLite's write lock on the database file (a
** no-op write to kalam_txn, kept until the calling statement's
** transaction ends): no other connection of any process can commit to
** the file until then, and every commit it shows is applied before the
** rows are read. A connection whose own transaction has kalam writes
** pending may not flush (its later COMMIT could remove a row key the
** flush made cold). Flushes and sweeps of this process take one mutex, so
** that a sweep never removes a file a flush is about to publish.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

SQLITE_EXTENSION_INIT3

static pthread_mutex_t flushMutex = PTHREAD_MUTEX_INITIALIZER;

/* Rows per row group of a flushed file: a lookup of a cold row decodes
** one group's columns, so smaller than the writer's default (scans lose
** little: a group still fills several pages per column). */
#define FLUSH_GROUP_ROWS 16384

/* ------------------------------------------------------------ folders */

/* Syncs directory zDir, so that entries made in it survive a crash. */
static int flushSyncDir(const char *zDir){
  int fd = open(zDir, O_RDONLY | O_DIRECTORY);
  int rc = 0;
  if( fd<0 ) return -1;
  if( fsync(fd) ) rc = -1;
  close(fd);
  return rc;
}

/* Makes folder zDir if it is missing and syncs the folder that holds it. */
static int flushMkdir(const char *zDir, char **pzErr){
  char *zParent;
  char *zSlash;
  if( mkdir(zDir, 0755)==0 ){
    zParent = sqlite3_mprintf("%s", zDir);
    if( zParent==0 ) return SQLITE_NOMEM;
    zSlash = strrchr(zParent, '/');
    if( zSlash ) *zSlash = 0;
    if( zSlash && flushSyncDir(zParent) ){
      *pzErr = sqlite3_mprintf("kalam_flush: cannot sync folder %s: %s",
                               zParent, strerror(errno));
      sqlite3_free(zParent);
      return SQLITE_IOERR;
    }
    sqlite3_free(zParent);
    return SQLITE_OK;
  }
  if( errno==EEXIST ) return SQLITE_OK;
  *pzErr = sqlite3_mprintf("kalam_flush: cannot make folder %s: %s", zDir,
                           strerror(errno));
  return SQLITE_CANTOPEN;
}

/* The folder of a table's (or one user's) files, relative to the store:
** "cold/<table>" or "cold/<table>/<user>". sqlite3_free it. */
static char *flushFolder(const char *zTable, const char *zUser, int nUser){
  KalamBuf b;
  kalamBufInit(&b);
  kalamBufAppendStr(&b, "cold/");
  kalamColdNameEncode(&b, zTable, (int)strlen(zTable), 1);
  if( zUser ){
    kalamBufAppendChar(&b, '/');
    kalamColdNameEncode(&b, zUser, nUser, 0);
  }
  if( b.oom ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}

/* Makes the folders of relative path zFolder under store directory zDir:
** "cold", "cold/<table>", and the user's. */
static int flushFolders(const char *zDir, char *zFolder, char **pzErr){
  char *z = zFolder, *zAbs;
  int rc = SQLITE_OK;
  while( rc==SQLITE_OK && (z = strchr(z, '/'))!=0 ){
    *z = 0;
    zAbs = sqlite3_mprintf("%s/%s", zDir, zFolder);
    *z++ = '/';
    if( zAbs==0 ) return SQLITE_NOMEM;
    rc = flushMkdir(zAbs, pzErr);
    sqlite3_free(zAbs);
  }
  if( rc ) return rc;
  zAbs = sqlite3_mprintf("%s/%s", zDir, zFolder);
  if( zAbs==0 ) return SQLITE_NOMEM;
  rc = flushMkdir(zAbs, pzErr);
  sqlite3_free(zAbs);
  return rc;
}

/* Removes every file of folder zDir, its folders one level down, and the
** folder itself. Returns 0, or -1 if something could not be removed. */
static int flushRemoveTree(const char *zDir, int nDepth){
  DIR *d = opendir(zDir);
  struct dirent *e;
  int rc = 0;
  if( d==0 ) return errno==ENOENT ? 0 : -1;
  while( (e = readdir(d))!=0 ){
    char *zPath;
    struct stat st;
    if( strcmp(e->d_name, ".")==0 || strcmp(e->d_name, "..")==0 ) continue;
    zPath = sqlite3_mprintf("%s/%s", zDir, e->d_name);
    if( zPath==0 ){ rc = -1; break; }
    if( lstat(zPath, &st)==0 && S_ISDIR(st.st_mode) ){
      if( nDepth<=0 || flushRemoveTree(zPath, nDepth-1) ) rc = -1;
    }else if( unlink(zPath) ){
      rc = -1;
    }
    sqlite3_free(zPath);
  }
  closedir(d);
  if( rc==0 && rmdir(zDir) ) rc = -1;
  return rc;
}

/* Removes the cold folder of table zTable (zUser NULL) or of one of its
** users: after the records that named its files are gone (DROP TABLE,
** kalam_erase_user). Returns 0, or -1 if a file could not be removed (a
** later sweep finds it unpublished). */
int kalamColdRemoveFolder(KalamStore *pStore, const char *zTable,
                          const char *zUser){
  char *zRel, *zDir;
  int rc;
  if( kalamStoreIsMemory(pStore) ) return 0;
  zRel = flushFolder(zTable, zUser, zUser ? (int)strlen(zUser) : 0);
  if( zRel==0 ) return -1;
  zDir = sqlite3_mprintf("%s/%s", kalamStorePath(pStore), zRel);
  sqlite3_free(zRel);
  if( zDir==0 ) return -1;
  pthread_mutex_lock(&flushMutex);
  rc = flushRemoveTree(zDir, zUser ? 0 : 1);
  pthread_mutex_unlock(&flushMutex);
  sqlite3_free(zDir);
  return rc;
}

/* Copies file zFrom to zTo (new), synced: a hard link where the file
** system allows (published files never change), else the bytes. */
static int flushCopyFile(const char *zFrom, const char *zTo){
  char a[65536];
  int fdIn, fdOut, rc = 0;
  ssize_t n;
  if( link(zFrom, zTo)==0 ) return 0;
  fdIn = open(zFrom, O_RDONLY);
  if( fdIn<0 ) return -1;
  fdOut = open(zTo, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if( fdOut<0 ){
    close(fdIn);
    return -1;
  }
  while( (n = read(fdIn, a, sizeof(a)))>0 ){
    if( write(fdOut, a, (size_t)n)!=n ){ rc = -1; break; }
  }
  if( n<0 || fsync(fdOut) ) rc = -1;
  close(fdIn);
  if( close(fdOut) ) rc = -1;
  return rc;
}

/* Copies the published files of folder zFrom (and its folders, nDepth
** levels down) into zTo, which is made. */
static int flushCopyTree(const char *zFrom, const char *zTo, int nDepth,
                         char **pzErr){
  DIR *d;
  struct dirent *e;
  int rc = SQLITE_OK;
  d = opendir(zFrom);
  if( d==0 ) return errno==ENOENT ? SQLITE_OK : SQLITE_IOERR;
  rc = flushMkdir(zTo, pzErr);
  while( rc==SQLITE_OK && (e = readdir(d))!=0 ){
    size_t nName = strlen(e->d_name);
    char *zA, *zB;
    struct stat st;
    if( e->d_name[0]=='.' ) continue;
    zA = sqlite3_mprintf("%s/%s", zFrom, e->d_name);
    zB = sqlite3_mprintf("%s/%s", zTo, e->d_name);
    if( zA==0 || zB==0 ){
      rc = SQLITE_NOMEM;
    }else if( lstat(zA, &st)==0 && S_ISDIR(st.st_mode) ){
      if( nDepth>0 ) rc = flushCopyTree(zA, zB, nDepth - 1, pzErr);
    }else if( nName>8 && strcmp(e->d_name + nName - 8, ".parquet")==0 ){
      if( flushCopyFile(zA, zB) ){
        *pzErr = sqlite3_mprintf("kalam_backup: cannot copy cold file %s to "
                                 "%s: %s", zA, zB, strerror(errno));
        rc = SQLITE_IOERR;
      }
    }
    sqlite3_free(zA);
    sqlite3_free(zB);
  }
  closedir(d);
  if( rc==SQLITE_OK && flushSyncDir(zTo) ){
    *pzErr = sqlite3_mprintf("kalam_backup: cannot sync folder %s", zTo);
    rc = SQLITE_IOERR;
  }
  return rc;
}

/* kalam_backup: copies the store's cold folder into the copy's store
** zDestStore, after its records were copied (a file no record names is
** the copy's sweep's to remove). */
int kalamColdCopy(KalamStore *pStore, const char *zDestStore, char **pzErr){
  char *zFrom, *zTo;
  int rc;
  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  zFrom = sqlite3_mprintf("%s/cold", kalamStorePath(pStore));
  zTo = sqlite3_mprintf("%s/cold", zDestStore);
  if( zFrom==0 || zTo==0 ){
    rc = SQLITE_NOMEM;
  }else{
    pthread_mutex_lock(&flushMutex);
    rc = flushCopyTree(zFrom, zTo, 2, pzErr);
    pthread_mutex_unlock(&flushMutex);
  }
  sqlite3_free(zFrom);
  sqlite3_free(zTo);
  return rc;
}

/* ------------------------------------------------------------ flushing */

/* One owner's flush in the making. */
typedef struct FlushOwner FlushOwner;
struct FlushOwner {
  KalamTable *pTab;
  KalamParquetColumn *aCol;  /* the file's columns (parquet_footer.c) */
  int nCol;
  KalamValue *aVal;          /* one row's values, nCol of them */
  KalamBatch *pBatch;        /* the publishing write */
  KalamSegment seg;          /* its record, filled as rows come */
  sqlite3_int64 nMax;        /* flushUser: rows per user at most */
  sqlite3_int64 nMoved;      /* flushUser: rows moved so far */
};

/* Adds the row zVal (key zKey) to the file: the table's columns as the
** row codec reads them, then _rowid, _seq and _deleted. */
static int flushRow(FlushOwner *p, KalamParquetWriter *pW, KalamRow *pRow,
                    sqlite3_int64 iRowid, const char *zVal, size_t nVal,
                    char **pzErr){
  const KalamSchema *pSchema = p->pTab->pSchema;
  int i, rc;
  pRow->iRowid = iRowid;
  rc = kalamRowParse(pRow, pSchema, zVal, nVal);
  if( rc ){
    if( rc==SQLITE_CORRUPT ) *pzErr = kalamRowCorruptMessage(pSchema, iRowid);
    return rc;
  }
  for(i=0; i<pSchema->nCol && rc==SQLITE_OK; i++){
    rc = kalamRowColumn(pRow, pSchema, i, &p->aVal[i], pzErr);
  }
  if( rc==SQLITE_OK ){
    KalamValue *aSys = &p->aVal[pSchema->nCol];
    sqlite3_int64 iSeq = pRow->aSys[KALAM_SYS_SEQ];
    memset(aSys, 0, sizeof(KalamValue)*3);
    aSys[0].eType = aSys[1].eType = aSys[2].eType = SQLITE_INTEGER;
    aSys[0].i = iRowid;
    aSys[1].i = iSeq;
    aSys[2].i = pRow->aSys[KALAM_SYS_DELETED]!=0;
    rc = kalamParquetWriterAdd(pW, p->aVal, pzErr);
    if( p->seg.nRows==0 ){
      p->seg.iMinSeq = p->seg.iMaxSeq = iSeq;
      p->seg.iMinRowid = iRowid;
    }
    if( iSeq < p->seg.iMinSeq ) p->seg.iMinSeq = iSeq;
    if( iSeq > p->seg.iMaxSeq ) p->seg.iMaxSeq = iSeq;
    p->seg.iMaxRowid = iRowid;
    p->seg.nRows++;
  }
  for(i=0; i<pSchema->nCol; i++) kalamValueClear(&p->aVal[i]);
  return rc;
}

/* Flushes the committed rows of one owner (aPrefix, nPrefix; zUser is
** that user or NULL), at most nMax of them, the lowest row ids first,
** into one new file. *pnMoved gets the rows moved (0: no file). Called
** with flushMutex held. */
static int flushOwner(FlushOwner *p, const char *aPrefix, int nPrefix,
                      const char *zUser, sqlite3_int64 nMax,
                      sqlite3_int64 *pnMoved, char **pzErr){
  KalamTable *pTab = p->pTab;
  KalamStore *pStore = pTab->pDb->pStore;
  const char *zDir = kalamStorePath(pStore);
  KalamParquetWriter *pW = 0;
  KalamStoreIter *pIt = 0;
  KalamRow row;
  KalamBuf rec;
  char *zFolder = 0, *zFile = 0;
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  char aKey[KALAM_ROWKEY_MAX];
  int nLo, nHi, nKey, bGone, rc = SQLITE_OK;
  char aRun[KALAM_ROWKEY_MAX]; /* the first key of a run of moved rows */
  int nRun = 0;                /* its size; 0: no run is open */

  memset(&row, 0, sizeof(row));
  kalamBufInit(&rec);
  memset(&p->seg, 0, sizeof(p->seg));
  *pnMoved = 0;
  p->pBatch = kalamBatchNew();
  if( p->pBatch==0 ){ rc = SQLITE_NOMEM; goto done; }

  zFolder = flushFolder(pTab->pSchema->zTable, zUser,
                        zUser ? (int)strlen(zUser) : 0);
  if( zFolder==0 ){ rc = SQLITE_NOMEM; goto done; }
  p->seg.iNum = kalamSnowflakeNext();
  p->seg.zRel = sqlite3_mprintf("%s/%s-%lld.parquet", zFolder,
                                kalamStoreCfName(pTab->pCf), p->seg.iNum);
  if( p->seg.zRel==0 ){ rc = SQLITE_NOMEM; goto done; }
  zFile = sqlite3_mprintf("%s/%s", zDir, p->seg.zRel);
  if( zFile==0 ){ rc = SQLITE_NOMEM; goto done; }

  /* Gone markers (cold_read.c) of the rows moved go in the same write:
  ** each row's newest state is now in the newest file. */
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_GONE, aLo, &nLo, aHi, &nHi);
  pIt = kalamStoreIterNew(pStore, 0, pTab->pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ){ rc = SQLITE_NOMEM; goto done; }
  kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
  bGone = kalamStoreIterValid(pIt);
  rc = kalamStoreIterError(pIt, "kalam_flush: cannot read the rows", pzErr);
  kalamStoreIterFree(pIt);
  pIt = 0;
  if( rc ) goto done;

  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, aLo, &nLo, aHi, &nHi);
  pIt = kalamStoreIterNew(pStore, 0, pTab->pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ){ rc = SQLITE_NOMEM; goto done; }
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
      kalamStoreIterValid(pIt) && p->seg.nRows<nMax;
      kalamStoreIterNext(pIt)){
    size_t nK, nVal;
    const char *zKey = kalamStoreIterKey(pIt, &nK);
    const char *zVal = kalamStoreIterValue(pIt, &nVal);
    sqlite3_int64 iRowid;
    if( !kalamKeyRowDecode(zKey, nK, nPrefix, &iRowid) ){
      /* Not a row key: not moved, so the run of moved keys ends here. */
      if( nRun ){
        kalamBatchDeleteRange(p->pBatch, pTab->pCf, aRun, nRun, zKey,
                              (int)nK);
        nRun = 0;
      }
      continue;
    }
    if( pW==0 ){
      rc = flushFolders(zDir, zFolder, pzErr);
      if( rc ) goto done;
      /* Groups of FLUSH_GROUP_ROWS: a lookup decodes one group. */
      KalamParquetOptions opt;
      memset(&opt, 0, sizeof(opt));
      opt.nGroupRows = FLUSH_GROUP_ROWS;
      rc = kalamParquetWriterOpen(zFile, p->aCol, p->nCol, &opt, &pW, pzErr);
      if( rc==SQLITE_OK ){
        rc = kalamParquetWriterMeta(pW, "kalam.table", pTab->pSchema->zTable);
      }
      if( rc ) goto done;
    }
    rc = flushRow(p, pW, &row, iRowid, zVal, nVal, pzErr);
    if( rc ) goto done;
    if( nRun==0 ){
      memcpy(aRun, zKey, nK);   /* a row key: at most KALAM_ROWKEY_MAX */
      nRun = (int)nK;
    }
    if( row.aSys[KALAM_SYS_SEQ]==iRowid ){
      /* The feed (feed.c) finds a row whose _seq is its row id by its
      ** row key, which goes: it gets a change entry instead. */
      char aId[KALAM_ROWKEY_MAX];
      int nId = kalamKeyRow(aId, 0, 0, iRowid);
      nKey = kalamKeyNumbered(aKey, aPrefix, nPrefix, KALAM_TAG_SEQ, iRowid);
      kalamBatchPut(p->pBatch, pTab->pCf, aKey, (size_t)nKey, aId,
                    (size_t)nId);
    }
    if( bGone ){
      nKey = kalamColdGoneKey(aKey, aPrefix, nPrefix, iRowid);
      kalamBatchDelete(p->pBatch, pTab->pCf, aKey, (size_t)nKey);
    }
  }
  rc = kalamStoreIterError(pIt, "kalam_flush: cannot read the rows", pzErr);
  if( rc || pW==0 ) goto done;
  if( nRun ){
    /* The moved rows' keys go as range deletes, one per run of them (all
    ** of them as one, unless a key that is no row key lies among them):
    ** a scan's iterator then seeks past them, where point deletes would
    ** leave it two keys to step over per flushed row (a scan of a million
    ** flushed rows spent most of its time doing that). */
    char aEnd[KALAM_ROWKEY_MAX];
    int nEnd = kalamKeyRowEnd(aEnd, aPrefix, nPrefix, p->seg.iMaxRowid);
    kalamBatchDeleteRange(p->pBatch, pTab->pCf, aRun, nRun, aEnd, nEnd);
  }

  rc = kalamParquetWriterFinish(pW, &p->seg.nBytes, pzErr);
  if( rc ) goto done;
  kalamCrashPoint("flush-file");
  kalamSegmentEncode(&rec, &p->seg);
  if( rec.oom ){ rc = SQLITE_NOMEM; goto done; }
  nKey = kalamSegmentKey(aKey, aPrefix, nPrefix, p->seg.iNum);
  kalamBatchPut(p->pBatch, pTab->pCf, aKey, (size_t)nKey, rec.z,
                (size_t)rec.n);
  rc = kalamBatchWrite(pStore, p->pBatch, 1, "kalam_flush: cannot publish "
                       "the flushed file", pzErr);
  if( rc ){
    unlink(zFile);  /* not published: garbage (else the sweep's) */
    goto done;
  }
  kalamCrashPoint("flush-publish");
  kalamStoreRowsChanged(pStore);
  *pnMoved = p->seg.nRows;

done:
  kalamParquetWriterFree(pW);
  kalamStoreIterFree(pIt);
  kalamBatchFree(p->pBatch);
  p->pBatch = 0;
  kalamRowFree(&row);
  kalamBufFree(&rec);
  kalamSegmentClear(&p->seg);
  sqlite3_free(zFolder);
  sqlite3_free(zFile);
  return rc;
}

/* kalamColdOwners' callback: flushes one user's rows. */
static int flushUser(void *pArg, const char *aPrefix, int nPrefix,
                     char **pzErr){
  FlushOwner *p = (FlushOwner*)pArg;
  char zUser[KALAM_MAX_USER + 1];
  sqlite3_int64 n = 0;
  int rc;
  memcpy(zUser, aPrefix + 1, (size_t)nPrefix - 1);
  zUser[nPrefix - 1] = 0;
  rc = flushOwner(p, aPrefix, nPrefix, zUser, p->nMax, &n, pzErr);
  p->nMoved += n;
  return rc;
}

/* Flushes pTab's committed rows: of the owner aPrefix/nPrefix, or with
** nPrefix<0 of every user of a kalam_user table (one file each), at most
** nMax rows per owner. *pnMoved is the number of rows moved. The caller
** has checked that the table may be flushed (kalam_flush, or the
** housekeeping of flush_policy). */
int kalamFlushTable(KalamTable *pTab, const char *aPrefix, int nPrefix,
                    sqlite3_int64 nMax, sqlite3_int64 *pnMoved,
                    char **pzErr){
  KalamStore *pStore = pTab->pDb->pStore;
  FlushOwner fo;
  sqlite3_int64 n = 0;
  int rc;

  *pnMoved = 0;
  memset(&fo, 0, sizeof(fo));
  fo.pTab = pTab;
  rc = kalamParquetColumnsFromSchema(pTab->pSchema, &fo.aCol, &fo.nCol);
  if( rc ) goto done;
  fo.aVal = sqlite3_malloc64(sizeof(KalamValue)*(size_t)fo.nCol);
  if( fo.aVal==0 ){ rc = SQLITE_NOMEM; goto done; }
  memset(fo.aVal, 0, sizeof(KalamValue)*(size_t)fo.nCol);

  pthread_mutex_lock(&flushMutex);
  if( nPrefix>=0 ){
    char zUser[KALAM_MAX_USER + 1];
    if( nPrefix>0 ){
      memcpy(zUser, aPrefix + 1, (size_t)nPrefix - 1);
      zUser[nPrefix - 1] = 0;
    }
    rc = flushOwner(&fo, aPrefix, nPrefix, nPrefix>0 ? zUser : 0, nMax, &n,
                    pzErr);
    *pnMoved = n;
  }else{
    fo.nMax = nMax;
    rc = kalamColdOwners(pStore, pTab->pCf, pTab->pSchema->zTable,
                         flushUser, &fo, pzErr);
    *pnMoved = fo.nMoved;
  }
  pthread_mutex_unlock(&flushMutex);

done:
  sqlite3_free(fo.aVal);
  sqlite3_free(fo.aCol);
  return rc;
}

/* ------------------------------------------------------------ the sweep */

/* Decodes folder name z (kalamColdNameEncode's) into aOut (at least
** KALAM_MAX_USER+1 bytes). Returns its length, or -1 if it is not one. */
static int flushNameDecode(const char *z, char *aOut){
  int n = 0;
  while( *z ){
    int c = (unsigned char)*z++;
    if( c=='%' ){
      int h, i, v = 0;
      for(i=0; i<2; i++){
        h = (unsigned char)*z++;
        if( h>='0' && h<='9' ) v = v*16 + h - '0';
        else if( h>='A' && h<='F' ) v = v*16 + h - 'A' + 10;
        else return -1;
      }
      c = v;
    }
    if( c==0 || n>=KALAM_MAX_USER ) return -1;
    aOut[n++] = (char)c;
  }
  aOut[n] = 0;
  return n;
}

/* Sweeps one folder of pTab's files (zUser: the user whose folder it is,
** or NULL): removes every ".tmp", and every file of this table's column
** family that no segment record names. */
static int flushSweepDir(KalamTable *pTab, const char *zDir,
                         const char *zUser, char **pzErr){
  KalamStore *pStore = pTab->pDb->pStore;
  const char *zCf = kalamStoreCfName(pTab->pCf);
  size_t nCf = strlen(zCf);
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix = kalamKeyPrefix(aPrefix, zUser);
  DIR *d = opendir(zDir);
  struct dirent *e;
  int rc = SQLITE_OK;
  if( d==0 ) return SQLITE_OK;
  while( rc==SQLITE_OK && (e = readdir(d))!=0 ){
    const char *zName = e->d_name;
    size_t nName = strlen(zName);
    char *zPath;
    struct stat st;
    if( zName[0]=='.' ) continue;
    zPath = sqlite3_mprintf("%s/%s", zDir, zName);
    if( zPath==0 ){ rc = SQLITE_NOMEM; break; }
    if( lstat(zPath, &st)==0 && S_ISDIR(st.st_mode) ){
      char zSub[KALAM_MAX_USER + 1];
      if( zUser==0 && pTab->pSchema->eKind==KALAM_KIND_USER
       && flushNameDecode(zName, zSub)>0 ){
        rc = flushSweepDir(pTab, zPath, zSub, pzErr);
      }
    }else if( nName>4 && strcmp(zName + nName - 4, ".tmp")==0 ){
      unlink(zPath);
    }else if( nName>nCf + 9 && memcmp(zName, zCf, nCf)==0
           && zName[nCf]=='-' && strcmp(zName + nName - 8, ".parquet")==0 ){
      sqlite3_int64 iNum = 0;
      char aKey[KALAM_ROWKEY_MAX];
      char *zGot = 0;
      size_t nGot = 0;
      int nKey;
      if( kalamParseInt(zName + nCf + 1, (int)(nName - nCf - 9), &iNum) ){
        nKey = kalamSegmentKey(aKey, aPrefix, nPrefix, iNum);
        rc = kalamStoreGet(pStore, 0, pTab->pCf, aKey, (size_t)nKey, &zGot,
                           &nGot, "kalam: cannot read a cold segment record",
                           pzErr);
        if( rc==SQLITE_OK && zGot==0 ) unlink(zPath);
        if( zGot ) kalamStoreFree(zGot);
      }
    }
    sqlite3_free(zPath);
  }
  closedir(d);
  return rc;
}

/* Removes the files of pTab a crash left behind unpublished (see the
** header). Run when the table is opened by the store's owner. */
int kalamColdSweep(KalamTable *pTab, char **pzErr){
  KalamStore *pStore = pTab->pDb->pStore;
  char *zRel, *zDir;
  int rc;
  if( kalamStoreIsMemory(pStore) ) return SQLITE_OK;
  zRel = flushFolder(pTab->pSchema->zTable, 0, 0);
  if( zRel==0 ) return SQLITE_NOMEM;
  zDir = sqlite3_mprintf("%s/%s", kalamStorePath(pStore), zRel);
  sqlite3_free(zRel);
  if( zDir==0 ) return SQLITE_NOMEM;
  pthread_mutex_lock(&flushMutex);
  rc = flushSweepDir(pTab, zDir, 0, pzErr);
  pthread_mutex_unlock(&flushMutex);
  sqlite3_free(zDir);
  return rc;
}

/* ------------------------------------------------------------ policies */

/* Parses a flush_policy value: 'rows:N', 'interval:S' or both, comma
** separated, N and S positive whole numbers. Returns 1 and sets *pnRows
** and *pnInterval (0 where not given) if z is one, else 0. */
int kalamFlushPolicyParse(const char *z, sqlite3_int64 *pnRows,
                          sqlite3_int64 *pnInterval){
  *pnRows = *pnInterval = 0;
  while( *z ){
    const char *zEnd = strchr(z, ',');
    int n = zEnd ? (int)(zEnd - z) : (int)strlen(z);
    sqlite3_int64 *pv = 0, v = 0;
    int nKey = 0;
    if( n>5 && sqlite3_strnicmp(z, "rows:", 5)==0 ){
      pv = pnRows;
      nKey = 5;
    }else if( n>9 && sqlite3_strnicmp(z, "interval:", 9)==0 ){
      pv = pnInterval;
      nKey = 9;
    }
    if( pv==0 || *pv || z[nKey]<'0' || z[nKey]>'9'
     || !kalamParseInt(z + nKey, n - nKey, &v) || v<=0 ){
      return 0;
    }
    *pv = v;
    if( zEnd==0 ) break;
    z = zEnd + 1;
    if( *z==0 ) return 0;
  }
  return *pnRows>0 || *pnInterval>0;
}

/* Takes SQLite's write lock on pTab's database file and makes the
** connection see the commit it shows (see the header). */
static int flushLock(KalamTable *pTab, char **pzErr){
  int rc = kalamCommitTableCreate(pTab->db, pTab->pDb->zSchema, pzErr);
  if( (rc & 0xff)==SQLITE_BUSY || (rc & 0xff)==SQLITE_LOCKED ){
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("kalam_flush: database is locked: another "
        "connection is writing the database of table %s; flush it when that "
        "transaction has ended", pTab->pSchema->zTable);
  }
  if( rc==SQLITE_OK ) rc = kalamCommitView(pTab->pDb, pzErr);
  return rc;
}

/* Does the owner have more than nRows hot rows (nRows 0: any)? Reads at
** most nRows + 1 keys. */
static int flushHotMore(KalamTable *pTab, const char *aPrefix, int nPrefix,
                        sqlite3_int64 nRows, int *pbMore, char **pzErr){
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  KalamStoreIter *pIt;
  sqlite3_int64 n = 0;
  int nLo, nHi, rc;
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, aLo, &nLo, aHi, &nHi);
  pIt = kalamStoreIterNew(pTab->pDb->pStore, 0, pTab->pCf, aLo, nLo, aHi, nHi,
                          KALAM_ITER_NOCACHE);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterSeek(pIt, aLo, (size_t)nLo);
      kalamStoreIterValid(pIt) && n<=nRows; kalamStoreIterNext(pIt)){
    n++;
  }
  rc = kalamStoreIterError(pIt, "kalam: cannot count a table's rows", pzErr);
  kalamStoreIterFree(pIt);
  *pbMore = n>nRows;
  return rc;
}

/* flush_policy, from housekeeping.c when a write transaction takes in
** pTab (xBegin, so that the connection has no write of pTab's pending):
** when the writer's hot rows (its own, on a kalam_user table) number
** more than N, or S seconds have passed since the table was opened or
** last flushed and it has hot rows, at most KALAM_FLUSH_STEP of them,
** the lowest row ids first, are flushed. Checked at most once a second
** (rows) or every S seconds (interval). If another connection holds the
** database file's write lock, the flush waits for the next check. */
int kalamFlushPolicy(KalamTable *pTab, char **pzErr){
  const KalamSchema *pSchema = pTab->pSchema;
  KalamStore *pStore = pTab->pDb->pStore;
  char aPrefix[KALAM_MAX_PREFIX];
  sqlite3_int64 now, n = 0;
  int nPrefix = 0, bDue = 0, rc;
  if( pSchema->zFlushPolicy==0 || kalamStoreIsMemory(pStore) ) return 0;
  now = kalamNowMs();
  if( pTab->nNextFlush==0 ){
    pTab->nNextFlush = now + (pSchema->nFlushInterval
                              ? pSchema->nFlushInterval*1000 : 0);
  }
  /* SQLite calls xBegin once a transaction, before its first write of the
  ** table: no write of pTab is pending (other tables' may be). */
  if( now < pTab->nNextFlush ) return SQLITE_OK;
  if( pSchema->eKind==KALAM_KIND_USER ){
    if( pTab->pConn->zUser==0 ) return SQLITE_OK;  /* the write is refused */
    nPrefix = kalamKeyPrefix(aPrefix, pTab->pConn->zUser);
  }
  if( pSchema->nFlushRows ){
    rc = flushHotMore(pTab, aPrefix, nPrefix, pSchema->nFlushRows, &bDue,
                      pzErr);
    if( rc ) return rc;
  }
  if( !bDue && pSchema->nFlushInterval ){
    rc = flushHotMore(pTab, aPrefix, nPrefix, 0, &bDue, pzErr);
    if( rc ) return rc;
  }
  pTab->nNextFlush = now + (pSchema->nFlushInterval && !pSchema->nFlushRows
                            ? pSchema->nFlushInterval*1000 : 1000);
  if( !bDue ) return SQLITE_OK;
  rc = flushLock(pTab, pzErr);
  if( (rc & 0xff)==SQLITE_BUSY || (rc & 0xff)==SQLITE_LOCKED ){
    sqlite3_free(*pzErr);
    *pzErr = 0;
    return SQLITE_OK;   /* another writer: the next check flushes */
  }
  if( rc==SQLITE_OK ){
    rc = kalamFlushTable(pTab, aPrefix, nPrefix, KALAM_FLUSH_STEP, &n, pzErr);
  }
  if( rc==SQLITE_OK && pSchema->nFlushInterval ){
    pTab->nNextFlush = now + pSchema->nFlushInterval*1000;
  }
  return rc;
}

/* ------------------------------------------------------------ kalam_flush */

/* kalam_flush(t) */
static void flushFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  KalamTable *pTab;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix = 0;
  sqlite3_int64 n = 0;
  char *zErr = 0;
  int rc = SQLITE_OK;
  (void)argc;

  if( zName==0 || sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    kalamFuncError(ctx, SQLITE_MISUSE,
               sqlite3_mprintf("kalam_flush: the table name must be TEXT"));
    return;
  }
  rc = kalamChangesTableFind(pConn->db, pConn, zName, &pTab, &zErr);
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
    return;
  }
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_flush: %s is a kalam_stream table, whose "
                           "rows expire instead (see kalam_expire)", zName);
    rc = SQLITE_MISUSE;
  }else if( kalamStoreIsMemory(pTab->pDb->pStore) ){
    zErr = sqlite3_mprintf("kalam_flush: %s is in a database without a file, "
                           "which has no cold storage", zName);
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ) rc = kalamStoreWriteRefused(pTab->pDb->pStore, &zErr);
  if( rc==SQLITE_OK && kalamTxnHasWrites(pTab->pDb->pTxn) ){
    zErr = sqlite3_mprintf("kalam_flush: this connection's transaction has "
        "uncommitted writes to kalam tables: COMMIT or ROLLBACK first");
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK && pTab->pSchema->eKind==KALAM_KIND_USER ){
    if( pConn->bLocked ){
      nPrefix = kalamKeyPrefix(aPrefix, pConn->zUser);
    }else{
      nPrefix = -1;
    }
  }
  /* SQLite's write lock on the file: no commit can come in between. */
  if( rc==SQLITE_OK ) rc = flushLock(pTab, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamFlushTable(pTab, aPrefix, nPrefix, INT64_MAX, &n, &zErr);
  }
  if( pTab->pDb->nCursor==0 && sqlite3_get_autocommit(pConn->db) ){
    kalamCommitViewRelease(pTab->pDb);
  }
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
    return;
  }
  sqlite3_free(zErr);
  sqlite3_result_int64(ctx, n);
}

/* Registers kalam_flush on db, holding a reference on pConn. */
int kalamFlushRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_flush", 1, SQLITE_DIRECTONLY, flushFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc, 1);
}
