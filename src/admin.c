/*
** admin.c — what migrations, exports and support tools need beyond the
** tables themselves:
**
**   SELECT user FROM kalam_users('t');      the user ids that hold rows
**                                           (live or deleted) in kalam_user
**                                           table t, sorted bytewise;
**                                           unlocked connections only
**   SELECT kalam_restore('t', rowid);       brings a soft-deleted row of t
**                                           back; returns 1, or 0 if t has
**                                           no deleted row of that rowid
**
** kalam_users is an eponymous table-valued function. It reads the table's
** keys as the connection's transaction sees them, one seek per user: the
** first key of the range gives a user, and the next seek starts past the
** end of that user's keys (keys.c: the owner prefix), so it costs one
** read per user, not per row. A migration walks the users with it and
** calls kalam_set_user for each. The walk itself (kalamOwnersEach) also
** gives kalam_alter's backfill (alter_rows.c) every user's rows.
**
** kalam_restore is an INSERT of the deleted row's values under its own
** row id, run as a statement of its own on the caller's connection:
**
**   INSERT INTO t(rowid, c1, ...) SELECT rowid, c1, ... FROM t
**     WHERE rowid = ?1 AND _deleted = 1
**
** so it does exactly what an INSERT does (update.c): the row is the
** current user's, the PRIMARY KEY and every UNIQUE index are checked
** against the live rows (a clash is the usual "UNIQUE constraint failed:
** t.c"), a row held only by a deleted row is replaced by the new one,
** the index entries follow, the row gets a new _seq and _updated, and it
** is part of the caller's transaction. Being an INSERT, it also gives a
** column with a DEFAULT its default where the deleted row held NULL.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ kalam_users */

#define USERS_COLUMN_USER  0
#define USERS_COLUMN_TABLE 1

static int usersConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  /* A row is its user; the table argument, past it, reads NULL. */
  return kalamTvfRowsConnect(db, pAux, "CREATE TABLE x(user TEXT, "
                             "tab HIDDEN)", 1, 0, 0, ppVtab);
}

/* The table argument must be given: kalam_users('t'). */
static int usersBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int i;
  (void)pVtab;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->iColumn==USERS_COLUMN_TABLE ){
      if( !pC->usable || pC->op!=SQLITE_INDEX_CONSTRAINT_EQ ){
        return SQLITE_CONSTRAINT;
      }
      pInfo->aConstraintUsage[i].argvIndex = 1;
      pInfo->aConstraintUsage[i].omit = 1;
      pInfo->idxNum = 1;
      pInfo->estimatedCost = 1000;
      pInfo->orderByConsumed = pInfo->nOrderBy==1
          && pInfo->aOrderBy[0].iColumn==USERS_COLUMN_USER
          && !pInfo->aOrderBy[0].desc;
      return SQLITE_OK;
    }
  }
  pInfo->idxNum = 0;
  pInfo->estimatedCost = 1e12;
  return SQLITE_OK;
}

/* Finds kalam table zName ("t" or "schema.t") of the connection, as the
** other functions do (kalamFuncTableFind): its KalamDb, kind and column
** family (a reference for the caller to release). */
static int adminTableFind(KalamConn *pConn, const char *zName, KalamDb **ppDb,
                          int *peKind, KalamCf **ppCf, char **pzErr){
  KalamFuncTable t;
  int rc = kalamFuncTableFind(pConn, zName, &t, pzErr);
  *ppDb = 0;
  *ppCf = 0;
  if( rc ) return rc;
  *ppDb = t.pDb;
  *peKind = t.pEntry->eKind;
  *ppCf = t.pCf;
  t.pCf = 0;                 /* the caller's reference now */
  kalamFuncTableClear(&t);
  return SQLITE_OK;
}

/* Calls xOwner with the owner prefix of each user that has keys in column
** family pCf of kalam_user table, as pDb's transaction sees them, one
** seek per owner: the first key of the range gives a user, and the next
** seek starts past the end of that user's keys. Stops at the first error
** xOwner returns. kalam_users lists the owners this way, and kalam_alter
** (alter_rows.c) indexes every owner's rows. */
int kalamOwnersEach(KalamDb *pDb, KalamCf *pCf,
                    int (*xOwner)(void*, const char*, int, char**),
                    void *pArg, char **pzErr){
  static const char aHi[1] = { (char)0xff };
  KalamIter *pIter;
  int rc = SQLITE_OK;
  pIter = kalamTxnIterator(pDb->pTxn, pCf, "", 0, aHi, 1, KALAM_ITER_NOCACHE);
  if( pIter==0 ) return SQLITE_NOMEM;
  kalamIterSeek(pIter, "", 0);
  while( rc==SQLITE_OK && kalamIterValid(pIter) ){
    size_t nk;
    const char *k = kalamIterKey(pIter, &nk);
    int nPrefix = kalamKeyOwnerLength(k, nk);
    char aOwner[KALAM_MAX_PREFIX];
    char aLo[KALAM_BOUND_MAX], aEnd[KALAM_BOUND_MAX];
    int nLo, nEnd;
    if( nPrefix<2 ){
      /* Not a key of a user's: damage; step over it. */
      kalamIterNext(pIter);
      continue;
    }
    memcpy(aOwner, k, (size_t)nPrefix);
    rc = xOwner(pArg, aOwner, nPrefix, pzErr);
    kalamKeyOwnerRange(aOwner, nPrefix, aLo, &nLo, aEnd, &nEnd);
    kalamIterSeek(pIter, aEnd, (size_t)nEnd);
  }
  if( rc==SQLITE_OK ) rc = kalamIterError(pIter, pzErr);
  kalamIterDestroy(pIter);
  return rc;
}

/* kalamOwnersEach's callback for kalam_users: one user id into the
** cursor's rows. */
static int usersAdd(void *pArg, const char *aPrefix, int nPrefix,
                    char **pzErr){
  char *zUser = sqlite3_mprintf("%.*s", nPrefix - 1, aPrefix + 1);
  int rc;
  (void)pzErr;
  if( zUser==0 ) return SQLITE_NOMEM;
  rc = kalamTvfRowsAdd((sqlite3_vtab_cursor*)pArg,
                       (const char *const*)&zUser, 0);
  sqlite3_free(zUser);
  return rc;
}

/* Lists the owners of table's keys, one seek per owner, sorted bytewise
** (as ORDER BY user sorts, which xBestIndex says the rows are in). */
static int usersCollect(sqlite3_vtab_cursor *pCur, KalamDb *pDb,
                        KalamCf *pCf, char **pzErr){
  int rc = kalamOwnersEach(pDb, pCf, usersAdd, pCur, pzErr);
  if( rc==SQLITE_OK ) kalamTvfRowsSort(pCur);
  return rc;
}

static int usersFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  KalamTvf *pTab = (KalamTvf*)cur->pVtab;
  const char *zName;
  KalamDb *pDb = 0;
  KalamCf *pCf = 0;
  char *zErr = 0;
  int eKind = -1, rc;
  (void)idxStr;
  kalamTvfRowsReset(cur);
  if( idxNum!=1 || argc<1
   || (zName = (const char*)sqlite3_value_text(argv[0]))==0 ){
    zErr = sqlite3_mprintf("kalam_users needs a table: SELECT user FROM "
                           "kalam_users('t')");
    rc = SQLITE_ERROR;
    goto done;
  }
  if( pTab->pConn->bLocked ){
    zErr = sqlite3_mprintf("kalam_users is refused: this connection is "
                           "locked by kalam_lock_user()");
    rc = SQLITE_AUTH;
    goto done;
  }
  rc = adminTableFind(pTab->pConn, zName, &pDb, &eKind, &pCf, &zErr);
  if( rc ) goto done;
  if( eKind!=KALAM_KIND_USER ){
    zErr = sqlite3_mprintf("kalam_users: table %s is not a kalam_user table "
        "(its rows belong to no user)", zName);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = kalamCommitView(pDb, &zErr);
  if( rc==SQLITE_OK ) rc = usersCollect(cur, pDb, pCf, &zErr);
  if( pDb->nCursor==0 && sqlite3_get_autocommit(pTab->db) ){
    kalamCommitViewRelease(pDb);
  }
done:
  if( pCf ) kalamStoreCfRelease(pDb->pStore, pCf);
  kalamTvfError(&pTab->base, zErr);
  return rc;
}

/* The table argument is required (usersBestIndex); xFilter lists the
** users. */
static sqlite3_module usersModule =
    KALAM_TVF_ROWS_MODULE(usersConnect, usersBestIndex, usersFilter);

/* ------------------------------------------------------------ restore */

/* kalam_restore(t, rowid): see the header comment. */
static void restoreFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  const char *zDot, *zSchema = "main", *zTable;
  char *zSql = 0, *zErr = 0;
  KalamDb *pDb = 0;
  KalamCf *pCf = 0;
  KalamBuf cols;
  sqlite3_stmt *pStmt = 0;
  int eKind = -1, rc;

  (void)argc;
  kalamBufInit(&cols);
  if( zName==0 || sqlite3_value_type(argv[1])!=SQLITE_INTEGER ){
    zErr = sqlite3_mprintf("kalam_restore(table, rowid) takes a table name "
                           "and an integer row id");
    rc = SQLITE_MISMATCH;
    goto done;
  }
  rc = adminTableFind(pConn, zName, &pDb, &eKind, &pCf, &zErr);
  if( rc ) goto done;
  if( eKind==KALAM_KIND_STREAM ){
    zErr = sqlite3_mprintf("kalam_restore: kalam_stream table %s has no "
                           "deleted rows (it is append-only)", zName);
    rc = SQLITE_ERROR;
    goto done;
  }
  zSchema = pDb->zSchema;
  zDot = strchr(zName, '.');
  zTable = zDot ? zDot + 1 : zName;

  /* The user columns, in order. */
  zSql = sqlite3_mprintf("SELECT name FROM pragma_table_info(?1, ?2)");
  rc = zSql ? sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  zSql = 0;
  if( rc ) goto sql_error;
  sqlite3_bind_text(pStmt, 1, zTable, -1, SQLITE_STATIC);
  sqlite3_bind_text(pStmt, 2, zSchema, -1, SQLITE_STATIC);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    char *z = sqlite3_mprintf(", \"%w\"", sqlite3_column_text(pStmt, 0));
    if( z==0 ){ cols.oom = 1; break; }
    kalamBufAppendStr(&cols, z);
    sqlite3_free(z);
  }
  rc = sqlite3_finalize(pStmt);
  pStmt = 0;
  if( rc ) goto sql_error;
  if( cols.oom ){ rc = SQLITE_NOMEM; goto done; }

  zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w\"(rowid%s) SELECT rowid%s "
      "FROM \"%w\".\"%w\" WHERE rowid=?1 AND _deleted=1", zSchema, zTable,
      cols.z ? cols.z : "", cols.z ? cols.z : "", zSchema, zTable);
  rc = zSql ? sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
  if( rc ) goto sql_error;
  sqlite3_bind_value(pStmt, 1, argv[1]);
  rc = sqlite3_step(pStmt);
  if( rc==SQLITE_DONE ){
    sqlite3_int64 n = sqlite3_changes64(db);
    rc = sqlite3_finalize(pStmt);
    pStmt = 0;
    if( rc==SQLITE_OK ) sqlite3_result_int64(ctx, n);
  }else{
    sqlite3_finalize(pStmt);
    pStmt = 0;
  }
  if( rc==SQLITE_OK ) goto done;

sql_error:
  if( rc!=SQLITE_NOMEM && zErr==0 ){
    zErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    rc = sqlite3_extended_errcode(db);
  }
done:
  sqlite3_finalize(pStmt);
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
    zErr = 0;
  }
  if( pCf ) kalamStoreCfRelease(pDb->pStore, pCf);
  kalamBufFree(&cols);
  sqlite3_free(zSql);
  sqlite3_free(zErr);
}

/* Registers kalam_users and kalam_restore (kalam_vtab.c calls it). */
int kalamAdminRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_restore", 2, SQLITE_DIRECTONLY, restoreFunc},
  };
  int rc;
  rc = kalamTvfRegister(db, pConn, "kalam_users", &usersModule);
  if( rc==SQLITE_OK ){
    rc = kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  }
  return rc;
}
