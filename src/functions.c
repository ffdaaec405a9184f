/*
** functions.c — the SQL functions that are not about users (conn.c has
** kalam_set_user and its kin):
**
**   kalam_version()          the extension's version
**   snowflake_id()           a new snowflake id
**   kalam_purge(t [, ms])    hard-deletes t's soft-deleted rows (deleted
**                            before ms); on a kalam_user table only the
**                            current user's. Returns how many.
**   kalam_expire(t)          removes a stream's expired rows now. Returns
**                            how many.
**   kalam_erase_user(u)      hard-deletes every row of user u in every
**                            kalam_user table and per-user stream of the
**                            connection's stores.
**                            Returns how many.
**   kalam_backup(dest)       registered here, made in backup.c
**
** Each checks its arguments, finds the table through the catalog and calls
** housekeeping.c, which does the work on committed rows at once, whatever
** transaction the connection has open.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3


void kalamFuncTableClear(KalamFuncTable *p){
  if( p->pCf ) kalamStoreCfRelease(p->pDb->pStore, p->pCf);
  kalamCatalogEntryFree(p->pEntry);
  memset(p, 0, sizeof(*p));
}

/* Takes catalog entry pEntry of table zName (in p->pDb's store) into p
** and finds its data. */
static int funcTableOpen(KalamFuncTable *p, const char *zName,
                         KalamCatalogEntry *pEntry, char **pzErr){
  p->pEntry = pEntry;
  if( pEntry->zCf==0 || pEntry->eKind<0 ){
    *pzErr = sqlite3_mprintf("the kalam catalog entry of table %s is damaged",
                             zName);
    return SQLITE_CORRUPT;
  }
  p->pCf = kalamStoreCfFind(p->pDb->pStore, pEntry->zCf);
  if( p->pCf==0 ){
    *pzErr = sqlite3_mprintf("the data of kalam table %s is missing from "
                             "its store", zName);
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

/* Finds kalam table zName ("t" or "schema.t") among the connection's
** databases. On success the caller clears *p with kalamFuncTableClear. */
int kalamFuncTableFind(KalamConn *pConn, const char *zName, KalamFuncTable *p,
                       char **pzErr){
  const char *zDot = strchr(zName, '.');
  const char *zSchema;
  int i, rc = SQLITE_OK;
  memset(p, 0, sizeof(*p));
  for(i=0; (zSchema = sqlite3_db_name(pConn->db, i))!=0; i++){
    KalamDb *pDb = 0;
    KalamCatalogEntry *pEntry = 0;
    const char *zTable = zName;
    if( zDot ){
      if( (int)strlen(zSchema)!=(int)(zDot - zName)
       || sqlite3_strnicmp(zSchema, zName, (int)(zDot - zName))!=0 ) continue;
      zTable = zDot + 1;
    }
    rc = kalamConnDb(pConn, zSchema, 0, &pDb, pzErr);
    if( rc ) return rc;
    if( pDb==0 ) continue;
    rc = kalamCatalogResolvePending(pDb, pzErr);
    if( rc==SQLITE_OK ) rc = kalamCatalogRead(pDb->pStore, zTable, &pEntry,
                                              pzErr);
    if( rc ) return rc;
    if( pEntry ){
      p->pDb = pDb;
      rc = funcTableOpen(p, zTable, pEntry, pzErr);
      if( rc ) kalamFuncTableClear(p);
      return rc;
    }
  }
  *pzErr = sqlite3_mprintf("no such kalam table: %s", zName);
  return SQLITE_ERROR;
}

/* The result of a function that removes rows: how many, or the error. */
static void funcCount(sqlite3_context *ctx, int rc, char *zErr,
                      sqlite3_int64 n){
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
  }else{
    sqlite3_free(zErr);
    sqlite3_result_int64(ctx, n);
  }
}

/* The connected table zName, through which kalamPurge and kalamEraseUser
** read the cold rows they remove for the subscriptions on it
** (housekeeping.c), or NULL: then subscriptions are told of cold purged
** rows with no columns, and of an erased user's hot rows only. */
static KalamTable *funcSubTable(KalamConn *pConn, const char *zName){
  KalamTable *pTab = 0;
  char *zIgnore = 0;
  (void)kalamChangesTableFind(pConn->db, pConn, zName, &pTab, &zIgnore);
  sqlite3_free(zIgnore);
  return pTab;
}

/* kalam_purge(t [, ms]) */
static void funcPurge(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  KalamFuncTable t;
  KalamTable *pTab = 0;
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  sqlite3_int64 iBefore = INT64_MAX, n = 0;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix = 0;
  char *zErr = 0;
  int rc;

  memset(&t, 0, sizeof(t));
  if( zName==0 ){
    kalamFuncError(ctx, SQLITE_MISUSE,
              sqlite3_mprintf("kalam_purge: the table name must be TEXT"));
    return;
  }
  if( argc==2 ){
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER ){
      kalamFuncError(ctx, SQLITE_MISMATCH, sqlite3_mprintf("kalam_purge: the "
          "second argument must be a time in milliseconds (INTEGER)"));
      return;
    }
    iBefore = sqlite3_value_int64(argv[1]);
  }
  rc = kalamFuncTableFind(pConn, zName, &t, &zErr);
  if( rc==SQLITE_OK ) rc = kalamStoreWriteRefused(t.pDb->pStore, &zErr);
  if( rc==SQLITE_OK && t.pEntry->eKind==KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_purge: %s is a kalam_stream table, whose "
        "rows are never soft-deleted (see kalam_expire)", zName);
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK && t.pEntry->eKind==KALAM_KIND_USER ){
    if( pConn->zUser==0 ){
      zErr = sqlite3_mprintf("kalam_purge: %s is a kalam_user table and there "
          "is no current user: call kalam_set_user('<user id>') first", zName);
      rc = SQLITE_AUTH;
    }else{
      nPrefix = kalamKeyPrefix(aPrefix, pConn->zUser);
    }
  }
  if( rc==SQLITE_OK && kalamSubscribeWanted(t.pDb->pStore, t.pCf) ){
    pTab = funcSubTable(pConn, zName);
  }
  if( rc==SQLITE_OK ){
    rc = kalamPurge(t.pDb->pStore, t.pCf, pTab, aPrefix, nPrefix, iBefore,
                    &n, &zErr);
  }
  kalamFuncTableClear(&t);
  funcCount(ctx, rc, zErr, n);
}

/* kalam_expire(t) */
static void funcExpire(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  KalamFuncTable t;
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  sqlite3_int64 n = 0;
  char *zErr = 0;
  int rc;
  (void)argc;
  if( zName==0 ){
    kalamFuncError(ctx, SQLITE_MISUSE,
              sqlite3_mprintf("kalam_expire: the table name must be TEXT"));
    return;
  }
  rc = kalamFuncTableFind(pConn, zName, &t, &zErr);
  if( rc==SQLITE_OK ) rc = kalamStoreWriteRefused(t.pDb->pStore, &zErr);
  if( rc==SQLITE_OK && t.pEntry->eKind!=KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_expire: %s is not a kalam_stream table",
                           zName);
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ){
    rc = kalamExpire(t.pDb->pStore, t.pCf, t.pEntry->nTtlSeconds,
                     t.pEntry->bPerUser, 1, &n,
                     &zErr);
  }
  kalamFuncTableClear(&t);
  funcCount(ctx, rc, zErr, n);
}

/* What funcEraseEntry needs for each catalog entry. */
typedef struct FuncErase FuncErase;
struct FuncErase {
  KalamConn *pConn;
  const char *zSchema;   /* the database of pStore */
  KalamStore *pStore;
  const char *zUser;
  sqlite3_int64 n;       /* rows removed so far */
};

/* Erases the user from one catalog entry's table, if it is a kalam_user
** table whose data is there. */
static int funcEraseEntry(void *pArg, const KalamCatalogEntry *pEntry,
                          char **pzErr){
  FuncErase *p = (FuncErase*)pArg;
  KalamCf *pCf;
  KalamTable *pTab = 0;
  sqlite3_int64 n = 0, nCold = 0;
  int rc;
  if( (pEntry->eKind!=KALAM_KIND_USER && !pEntry->bPerUser)
   || pEntry->zCf==0 ){
    return SQLITE_OK;
  }
  pCf = kalamStoreCfFind(p->pStore, pEntry->zCf);
  if( pCf==0 ) return SQLITE_OK;
  if( pEntry->eKind==KALAM_KIND_USER
   && kalamSubscribeWanted(p->pStore, pCf) ){
    char *zName = sqlite3_mprintf("%s.%s", p->zSchema, pEntry->zName);
    if( zName ) pTab = funcSubTable(p->pConn, zName);
    sqlite3_free(zName);
  }
  rc = kalamColdUserRows(p->pStore, pCf, p->zUser, &nCold, pzErr);
  if( rc==SQLITE_OK ){
    rc = kalamEraseUser(p->pStore, pCf, pTab, p->zUser, pEntry->bPerUser, &n,
                        pzErr);
  }
  if( rc==SQLITE_OK ){
    /* The range delete took the user's segment records: now its files
    ** (one left behind is named by no record, and the sweep takes it). */
    (void)kalamColdRemoveFolder(p->pStore, pEntry->zName, p->zUser);
    p->n += n + nCold;
  }
  kalamStoreCfRelease(p->pStore, pCf);
  return rc;
}

/* kalam_erase_user(u) */
static void funcEraseUser(sqlite3_context *ctx, int argc,
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
    kalamFuncError(ctx, SQLITE_AUTH, sqlite3_mprintf("kalam_erase_user: this "
        "connection is locked by kalam_lock_user()"));
    return;
  }
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT || zUser==0 || nUser<1
   || nUser>KALAM_MAX_USER || (int)strlen(zUser)!=nUser ){
    kalamFuncError(ctx, SQLITE_MISMATCH, sqlite3_mprintf("kalam_erase_user: "
        "invalid user id: a user id is 1 to %d bytes of UTF-8 with no NUL",
        KALAM_MAX_USER));
    return;
  }
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pConn->db, i))!=0; i++){
    KalamDb *pDb = 0;
    rc = kalamConnDb(pConn, zSchema, 0, &pDb, &zErr);
    if( rc==SQLITE_OK && pDb ) rc = kalamStoreWriteRefused(pDb->pStore, &zErr);
    if( rc==SQLITE_OK && pDb ){
      FuncErase erase;
      erase.pConn = pConn;
      erase.zSchema = zSchema;
      erase.pStore = pDb->pStore;
      erase.zUser = zUser;
      erase.n = 0;
      rc = kalamCatalogForEach(pDb->pStore, funcEraseEntry, &erase, &zErr);
      n += erase.n;
    }
  }
  funcCount(ctx, rc, zErr, n);
}

/* kalam_version() */
static void funcVersion(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_text(ctx, KALAM_VERSION_STRING, -1, SQLITE_STATIC);
}

/* snowflake_id() */
static void funcSnowflake(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_int64(ctx, kalamSnowflakeNext());
}

/* Registers the functions above on db, each holding a reference on pConn.
** DIRECTONLY for those that change data: a view or trigger written by
** someone else must not run them for whoever reads it. */
int kalamSqlFunctionsRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_version", 0, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
     funcVersion},
    {"snowflake_id", 0, SQLITE_INNOCUOUS, funcSnowflake},
    {"kalam_purge", 1, SQLITE_DIRECTONLY, funcPurge},
    {"kalam_purge", 2, SQLITE_DIRECTONLY, funcPurge},
    {"kalam_expire", 1, SQLITE_DIRECTONLY, funcExpire},
    {"kalam_erase_user", 1, SQLITE_DIRECTONLY, funcEraseUser},
    {"kalam_backup", 1, SQLITE_DIRECTONLY, kalamBackupFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
