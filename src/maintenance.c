/*
** maintenance.c — the SQL functions that are not about users:
**
**   kalam_version()          the extension's version
**   snowflake_id()           a new snowflake id
**   kalam_purge(t [, ms])    hard-deletes t's soft-deleted rows (deleted
**                            before ms); on a kalam_user table only the
**                            current user's. Returns how many.
**   kalam_expire(t)          removes a stream's expired rows now. Returns
**                            how many.
**   kalam_erase_user(u)      hard-deletes every row of user u in every
**                            kalam_user table of the connection's stores.
**                            Returns how many.
**
** These act on committed rows and take effect at once, whatever
** transaction the calling connection has open: they are housekeeping, not
** data changes, and each is one atomic RocksDB write.
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* A schema with no user columns: enough to read a row's system columns. */
static const KalamSchema maintNoColumns = {0};

/* A table found by name: where it lives and what it is. */
typedef struct MaintTable MaintTable;
struct MaintTable {
  KalamDb *pDb;
  KalamCf *pCf;             /* a reference: release with kalamStoreCfRelease */
  int eKind;
  sqlite3_int64 nTtlSeconds;
  sqlite3_int64 nRetentionHours;
  char *zName;
};

static void maintTableClear(MaintTable *p){
  if( p->pCf ) kalamStoreCfRelease(p->pDb->pStore, p->pCf);
  sqlite3_free(p->zName);
  memset(p, 0, sizeof(*p));
}

/* Reads a catalog entry into p (pDb and zName already set). */
static int maintEntry(MaintTable *p, const char *zJson, char **pzErr){
  cJSON *pEntry = cJSON_Parse(zJson);
  cJSON *pCf, *pKind, *pOpts, *pTtl, *pRet;
  int rc = SQLITE_OK;
  pCf = cJSON_GetObjectItemCaseSensitive(pEntry, "cf");
  pKind = cJSON_GetObjectItemCaseSensitive(pEntry, "kind");
  pOpts = cJSON_GetObjectItemCaseSensitive(pEntry, "options");
  pTtl = cJSON_GetObjectItemCaseSensitive(pOpts, "ttl_seconds");
  pRet = cJSON_GetObjectItemCaseSensitive(pOpts, "deleted_retention_hours");
  if( !cJSON_IsString(pCf) || !cJSON_IsString(pKind) ){
    *pzErr = sqlite3_mprintf("the kalam catalog entry of table %s is damaged",
                             p->zName);
    rc = SQLITE_CORRUPT;
    goto done;
  }
  p->eKind = strcmp(pKind->valuestring, "kalam_user")==0 ? KALAM_KIND_USER
           : strcmp(pKind->valuestring, "kalam_stream")==0 ? KALAM_KIND_STREAM
           : KALAM_KIND_SHARED;
  p->nTtlSeconds = cJSON_IsNumber(pTtl) ? (sqlite3_int64)pTtl->valuedouble : 0;
  p->nRetentionHours = cJSON_IsNumber(pRet)
                     ? (sqlite3_int64)pRet->valuedouble : 0;
  p->pCf = kalamStoreCfFind(p->pDb->pStore, pCf->valuestring);
  if( p->pCf==0 ){
    *pzErr = sqlite3_mprintf("the data of kalam table %s is missing from "
                             "its store", p->zName);
    rc = SQLITE_CORRUPT;
  }
done:
  cJSON_Delete(pEntry);
  return rc;
}

/* Finds kalam table zName ("t" or "schema.t") among the connection's
** databases. */
static int maintFind(KalamConn *pConn, const char *zName, MaintTable *p,
                     char **pzErr){
  const char *zDot = strchr(zName, '.');
  const char *zSchema;
  int i, rc = SQLITE_OK;
  memset(p, 0, sizeof(*p));
  for(i=0; (zSchema = sqlite3_db_name(pConn->db, i))!=0; i++){
    KalamDb *pDb = 0;
    const char *zTable = zName;
    char *zJson = 0;
    if( zDot ){
      if( (int)strlen(zSchema)!=(int)(zDot - zName)
       || sqlite3_strnicmp(zSchema, zName, (int)(zDot - zName))!=0 ) continue;
      zTable = zDot + 1;
    }
    rc = kalamConnDb(pConn, zSchema, 0, &pDb, pzErr);
    if( rc ) return rc;
    if( pDb==0 ) continue;
    rc = kalamCatalogResolvePending(pDb, pzErr);
    if( rc==SQLITE_OK ) rc = kalamCatalogGet(pDb->pStore, zTable, &zJson, pzErr);
    if( rc ) return rc;
    if( zJson ){
      p->pDb = pDb;
      p->zName = sqlite3_mprintf("%s", zTable);
      rc = p->zName ? maintEntry(p, zJson, pzErr) : SQLITE_NOMEM;
      sqlite3_free(zJson);
      if( rc ) maintTableClear(p);
      return rc;
    }
  }
  *pzErr = sqlite3_mprintf("no such kalam table: %s", zName);
  return SQLITE_ERROR;
}

/* Reports an error from a function, freeing zErr. */
static void maintError(sqlite3_context *ctx, int rc, char *zErr){
  if( rc==SQLITE_NOMEM ){
    sqlite3_result_error_nomem(ctx);
  }else{
    sqlite3_result_error(ctx, zErr ? zErr : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(zErr);
}

/* Counts the keys in [aLo, aHi) of a column family, reading keys only. */
static int maintCount(KalamDb *pDb, KalamCf *pCf, const char *aLo, int nLo,
                      const char *aHi, int nHi, sqlite3_int64 *pn,
                      char **pzErr){
  rocksdb_readoptions_t *pRo = rocksdb_readoptions_create();
  rocksdb_iterator_t *pIter;
  char *zErr = 0;
  sqlite3_int64 n = 0;
  if( pRo==0 ) return SQLITE_NOMEM;
  rocksdb_readoptions_set_iterate_upper_bound(pRo, aHi, (size_t)nHi);
  rocksdb_readoptions_set_fill_cache(pRo, 0);
  pIter = rocksdb_create_iterator_cf(pDb->pStore->db, pRo, pCf->h);
  if( pIter==0 ){
    rocksdb_readoptions_destroy(pRo);
    return SQLITE_NOMEM;
  }
  for(rocksdb_iter_seek(pIter, aLo, (size_t)nLo); rocksdb_iter_valid(pIter);
      rocksdb_iter_next(pIter)){
    n++;
  }
  rocksdb_iter_get_error(pIter, &zErr);
  rocksdb_iter_destroy(pIter);
  rocksdb_readoptions_destroy(pRo);
  if( zErr ){
    *pzErr = kalamStoreError("kalam read failed", zErr);
    return SQLITE_IOERR;
  }
  *pn = n;
  return SQLITE_OK;
}

/* The owner prefix length of a stored key: nPrefix, or for nPrefix<0
** (every owner of a kalam_user table) read from the key's length byte.
** Returns -1 for a key too short to be kalam's. */
static int maintKeyPrefix(const char *zKey, size_t nKey, int nPrefix){
  if( nPrefix<0 ) nPrefix = 1 + (unsigned char)zKey[0];
  if( nPrefix > KALAM_MAX_PREFIX ) return -1;
  return (size_t)nPrefix < nKey ? nPrefix : -1;
}

/* Hard-deletes soft-deleted rows deleted before iBeforeMs, with their
** key-index entries, in one write. aPrefix/nPrefix is the owner (empty for
** shared tables, one user for kalam_user); nPrefix<0 means every owner of
** a kalam_user table (deleted_retention_hours). Pass 1 collects the row keys
** to purge, in key order; pass 2 removes the index entries that point at
** one of them. */
int kalamPurgeRange(KalamDb *pDb, KalamCf *pCf, const char *aPrefix,
                    int nPrefix, sqlite3_int64 iBeforeMs, sqlite3_int64 *pn,
                    char **pzErr){
  rocksdb_readoptions_t *pRo = 0;
  rocksdb_iterator_t *pIter = 0;
  rocksdb_writebatch_t *pBatch = 0;
  KalamBuf gone;    /* purged row keys in key order, one slot each: the key,
                    ** zero padded (no row key is a prefix of another, so
                    ** slots compare as the keys do), then its length */
  sqlite3_int64 nGone = 0;
  KalamRow row;
  char aLo[KALAM_MAX_PREFIX + 1], aHi[KALAM_MAX_PREFIX + 1];
  const int nSlot = KALAM_ROWKEY_MAX + 1;
  int bAll = nPrefix<0;
  int pass;
  char *zErr = 0;
  int rc = SQLITE_OK;

  memset(&row, 0, sizeof(row));
  kalamBufInit(&gone);
  *pn = 0;
  pRo = rocksdb_readoptions_create();
  pBatch = rocksdb_writebatch_create();
  if( pRo==0 || pBatch==0 ){ rc = SQLITE_NOMEM; goto done; }
  rocksdb_readoptions_set_fill_cache(pRo, 0);

  for(pass=0; pass<2 && rc==SQLITE_OK; pass++){
    char cTag = pass==0 ? KALAM_TAG_ROW : KALAM_TAG_KEY;
    if( pass==1 && nGone==0 ) break;
    if( !bAll ){
      memcpy(aLo, aPrefix, (size_t)nPrefix);
      memcpy(aHi, aPrefix, (size_t)nPrefix);
      aLo[nPrefix] = cTag;
      aHi[nPrefix] = (char)(cTag + 1);
      rocksdb_readoptions_set_iterate_upper_bound(pRo, aHi,
                                                  (size_t)nPrefix + 1);
    }
    pIter = rocksdb_create_iterator_cf(pDb->pStore->db, pRo, pCf->h);
    if( pIter==0 ){ rc = SQLITE_NOMEM; goto done; }
    if( bAll ) rocksdb_iter_seek_to_first(pIter);
    else rocksdb_iter_seek(pIter, aLo, (size_t)nPrefix + 1);
    for(; rocksdb_iter_valid(pIter); rocksdb_iter_next(pIter)){
      size_t nKey, nVal;
      const char *zKey = rocksdb_iter_key(pIter, &nKey);
      const char *zVal = rocksdb_iter_value(pIter, &nVal);
      int np = maintKeyPrefix(zKey, nKey, nPrefix);
      sqlite3_int64 iRowid;
      char aRow[KALAM_ROWKEY_MAX + 1];
      if( np<0 || zKey[np]!=cTag ) continue;
      if( pass==0 ){
        if( !kalamRowIsDeleted(zVal, nVal) ) continue;
        if( !kalamKeyRowDecode(zKey, nKey, np, &iRowid) ) continue;
        if( iBeforeMs!=INT64_MAX ){
          if( kalamRowParse(&row, &maintNoColumns, zVal, nVal) ) continue;
          if( row.aSys[KALAM_SYS_UPDATED] >= iBeforeMs ) continue;
        }
        if( nKey > KALAM_ROWKEY_MAX ) continue;
        memset(aRow, 0, sizeof(aRow));
        memcpy(aRow, zKey, nKey);
        aRow[nSlot-1] = (char)nKey;
        kalamBufAppend(&gone, aRow, nSlot);
        if( gone.oom ){ rc = SQLITE_NOMEM; break; }
        nGone++;
        rocksdb_writebatch_delete_cf(pBatch, pCf->h, zKey, nKey);
      }else{
        /* Index entry: does it point at a purged row? Rebuild that row's
        ** key and look for it among the purged, which are sorted. */
        sqlite3_int64 lo = 0, hi = nGone - 1;
        if( !kalamKeyRowDecode(zVal, nVal, 0, &iRowid) ) continue;
        memset(aRow, 0, sizeof(aRow));
        aRow[nSlot-1] = (char)kalamKeyRow(aRow, zKey, np, iRowid);
        while( lo<=hi ){
          sqlite3_int64 mid = (lo + hi)/2;
          int c = memcmp(gone.z + mid*nSlot, aRow, (size_t)nSlot);
          if( c==0 ){
            rocksdb_writebatch_delete_cf(pBatch, pCf->h, zKey, nKey);
            break;
          }
          if( c<0 ) lo = mid + 1; else hi = mid - 1;
        }
      }
    }
    rocksdb_iter_get_error(pIter, &zErr);
    rocksdb_iter_destroy(pIter);
    pIter = 0;
    if( zErr ) goto done;
  }
  if( rc==SQLITE_OK && nGone ){
    rocksdb_write(pDb->pStore->db, pDb->pStore->pWoNoSync, pBatch, &zErr);
    if( zErr ) goto done;
  }
  if( rc==SQLITE_OK ) *pn = nGone;

done:
  if( zErr ){
    *pzErr = kalamStoreError("kalam_purge failed", zErr);
    rc = SQLITE_IOERR;
  }
  kalamRowFree(&row);
  kalamBufFree(&gone);
  if( pIter ) rocksdb_iter_destroy(pIter);
  if( pBatch ) rocksdb_writebatch_destroy(pBatch);
  if( pRo ) rocksdb_readoptions_destroy(pRo);
  return rc;
}

/* Removes a stream's rows older than its ttl: one range delete of the keys
** below the cutoff (keys are time ordered, so nothing is read but the
** expired keys, to count them). Then disk space: on the write path only a
** compaction hint for that range, so a write never waits; with bCompact
** (kalam_expire) the range is compacted now, and the catalog flushed, so
** that the log files holding the expired rows can go too. */
int kalamStreamExpire(KalamDb *pDb, KalamCf *pCf, sqlite3_int64 nTtlSeconds,
                      int bCompact, sqlite3_int64 *pn, char **pzErr){
  KalamStore *pStore = pDb->pStore;
  char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_ROWKEY_MAX];
  int nLo, nHi, rc;
  char *zErr = 0;
  sqlite3_int64 iCut = kalamSnowflakeMin(kalamNowMs() - nTtlSeconds*1000);
  nLo = kalamKeyRow(aLo, 0, 0, INT64_MIN);
  nHi = kalamKeyRow(aHi, 0, 0, iCut);
  rc = maintCount(pDb, pCf, aLo, nLo, aHi, nHi, pn, pzErr);
  if( rc || *pn==0 ) return rc;
  rocksdb_delete_range_cf(pStore->db, pStore->pWoNoSync, pCf->h,
                          aLo, (size_t)nLo, aHi, (size_t)nHi, &zErr);
  if( zErr ){
    *pzErr = kalamStoreError("kalam_expire failed", zErr);
    return SQLITE_IOERR;
  }
  if( !bCompact ){
    rocksdb_suggest_compact_range_cf(pStore->db, pCf->h, aLo, (size_t)nLo,
                                     aHi, (size_t)nHi, &zErr);
    if( zErr ) rocksdb_free(zErr); /* only a hint */
    return SQLITE_OK;
  }
  rocksdb_compact_range_cf(pStore->db, pCf->h, aLo, (size_t)nLo, aHi,
                           (size_t)nHi);
  {
    rocksdb_flushoptions_t *pFlush = rocksdb_flushoptions_create();
    if( pFlush==0 ) return SQLITE_NOMEM;
    rocksdb_flushoptions_set_wait(pFlush, 1);
    rocksdb_flush_cf(pStore->db, pFlush, pStore->hCatalog, &zErr);
    rocksdb_flushoptions_destroy(pFlush);
  }
  if( zErr ){
    *pzErr = kalamStoreError("kalam_expire: flush failed", zErr);
    return SQLITE_IOERR;
  }
  return SQLITE_OK;
}

static void maintPurgeFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  MaintTable t;
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  sqlite3_int64 iBefore = INT64_MAX, n = 0;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix = 0;
  char *zErr = 0;
  int rc;

  memset(&t, 0, sizeof(t));
  if( zName==0 ){
    maintError(ctx, SQLITE_MISUSE,
               sqlite3_mprintf("kalam_purge: the table name must be TEXT"));
    return;
  }
  if( argc==2 ){
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER ){
      maintError(ctx, SQLITE_MISMATCH, sqlite3_mprintf("kalam_purge: the "
          "second argument must be a time in milliseconds (INTEGER)"));
      return;
    }
    iBefore = sqlite3_value_int64(argv[1]);
  }
  rc = maintFind(pConn, zName, &t, &zErr);
  if( rc==SQLITE_OK && t.eKind==KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_purge: %s is a kalam_stream table, whose "
        "rows are never soft-deleted (see kalam_expire)", zName);
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK && t.eKind==KALAM_KIND_USER ){
    if( pConn->zUser==0 ){
      zErr = sqlite3_mprintf("kalam_purge: %s is a kalam_user table and there "
          "is no current user: call kalam_set_user('<user id>') first", zName);
      rc = SQLITE_AUTH;
    }else{
      nPrefix = kalamKeyPrefix(aPrefix, pConn->zUser);
    }
  }
  if( rc==SQLITE_OK ){
    rc = kalamPurgeRange(t.pDb, t.pCf, aPrefix, nPrefix, iBefore, &n, &zErr);
  }
  maintTableClear(&t);
  if( rc ){
    maintError(ctx, rc, zErr);
    return;
  }
  sqlite3_result_int64(ctx, n);
}

static void maintExpireFunc(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  MaintTable t;
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  sqlite3_int64 n = 0;
  char *zErr = 0;
  int rc;
  (void)argc;
  if( zName==0 ){
    maintError(ctx, SQLITE_MISUSE,
               sqlite3_mprintf("kalam_expire: the table name must be TEXT"));
    return;
  }
  rc = maintFind(pConn, zName, &t, &zErr);
  if( rc==SQLITE_OK && t.eKind!=KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_expire: %s is not a kalam_stream table",
                           zName);
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ){
    rc = kalamStreamExpire(t.pDb, t.pCf, t.nTtlSeconds, 1, &n, &zErr);
  }
  maintTableClear(&t);
  if( rc ){
    maintError(ctx, rc, zErr);
    return;
  }
  sqlite3_result_int64(ctx, n);
}

/* What maintEraseEntry needs for each catalog entry. */
typedef struct MaintErase MaintErase;
struct MaintErase {
  KalamDb *pDb;
  const char *zUser;
  sqlite3_int64 n;       /* rows removed so far */
};

/* Erases one user from one kalam_user table: count the user's rows (not
** the key-index entries), then remove the user's whole range, rows and
** keys, with one range delete. */
static int maintEraseEntry(void *pArg, cJSON *pEntry, char **pzErr){
  MaintErase *p = (MaintErase*)pArg;
  KalamStore *pStore = p->pDb->pStore;
  cJSON *pKind = cJSON_GetObjectItemCaseSensitive(pEntry, "kind");
  cJSON *pCfName = cJSON_GetObjectItemCaseSensitive(pEntry, "cf");
  char aLo[KALAM_MAX_PREFIX + 1], aHi[KALAM_MAX_PREFIX + 1];
  int nPrefix;
  KalamCf *pCf;
  sqlite3_int64 n = 0;
  char *zErr = 0;
  int rc;

  if( !cJSON_IsString(pKind) || strcmp(pKind->valuestring, "kalam_user")
   || !cJSON_IsString(pCfName) ) return SQLITE_OK;
  pCf = kalamStoreCfFind(pStore, pCfName->valuestring);
  if( pCf==0 ) return SQLITE_OK;
  nPrefix = kalamKeyPrefix(aLo, p->zUser);
  memcpy(aHi, aLo, (size_t)nPrefix);
  aLo[nPrefix] = KALAM_TAG_ROW;
  aHi[nPrefix] = KALAM_TAG_ROW + 1;
  rc = maintCount(p->pDb, pCf, aLo, nPrefix + 1, aHi, nPrefix + 1, &n, pzErr);
  if( rc==SQLITE_OK ){
    aHi[nPrefix] = (char)0xff;
    rocksdb_delete_range_cf(pStore->db, pStore->pWoSync, pCf->h, aLo,
                            (size_t)nPrefix, aHi, (size_t)nPrefix + 1, &zErr);
    if( zErr ){
      *pzErr = kalamStoreError("kalam_erase_user failed", zErr);
      rc = SQLITE_IOERR;
    }else{
      p->n += n;
    }
  }
  kalamStoreCfRelease(pStore, pCf);
  return rc;
}

static void maintEraseUserFunc(sqlite3_context *ctx, int argc,
                               sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  const char *zUser = (const char*)sqlite3_value_text(argv[0]);
  int nUser = sqlite3_value_bytes(argv[0]);
  sqlite3_int64 n = 0;
  const char *zSchema;
  char *zErr = 0;
  int rc = SQLITE_OK, i;
  (void)argc;

  if( pConn->bLocked ){
    maintError(ctx, SQLITE_AUTH, sqlite3_mprintf("kalam_erase_user: this "
        "connection is locked by kalam_lock_user()"));
    return;
  }
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT || zUser==0 || nUser<1
   || nUser>KALAM_MAX_USER || (int)strlen(zUser)!=nUser ){
    maintError(ctx, SQLITE_MISMATCH, sqlite3_mprintf("kalam_erase_user: "
        "invalid user id: a user id is 1 to %d bytes of UTF-8 with no NUL",
        KALAM_MAX_USER));
    return;
  }
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pConn->db, i))!=0; i++){
    MaintErase erase;
    erase.pDb = 0;
    erase.zUser = zUser;
    erase.n = 0;
    rc = kalamConnDb(pConn, zSchema, 0, &erase.pDb, &zErr);
    if( rc==SQLITE_OK && erase.pDb ){
      rc = kalamCatalogForEach(erase.pDb->pStore, maintEraseEntry, &erase,
                               &zErr);
      n += erase.n;
    }
  }
  if( rc ){
    maintError(ctx, rc, zErr);
    return;
  }
  sqlite3_result_int64(ctx, n);
}

static void maintVersionFunc(sqlite3_context *ctx, int argc,
                             sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_text(ctx, KALAM_VERSION_STRING, -1, SQLITE_STATIC);
}

static void maintSnowflakeFunc(sqlite3_context *ctx, int argc,
                               sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_int64(ctx, kalamSnowflakeNext());
}

int kalamMaintenanceRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_version", 0, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
     maintVersionFunc},
    {"snowflake_id", 0, SQLITE_INNOCUOUS, maintSnowflakeFunc},
    {"kalam_purge", 1, SQLITE_DIRECTONLY, maintPurgeFunc},
    {"kalam_purge", 2, SQLITE_DIRECTONLY, maintPurgeFunc},
    {"kalam_expire", 1, SQLITE_DIRECTONLY, maintExpireFunc},
    {"kalam_erase_user", 1, SQLITE_DIRECTONLY, maintEraseUserFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
