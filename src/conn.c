/*
** conn.c — per-connection state: the current user, the lock, and the
** connection's handle on each schema's store.
**
** SQL:  kalam_set_user(u)   sets the current user (NULL clears it)
**       kalam_user()        the current user, or NULL
**       kalam_lock_user()   fixes the user for the rest of the connection
** C:    kalam_set_user(db, u), kalam_lock_user(db), kalam_current_user(db)
**       (include/kalam.h) run the SQL functions above, so they reach the
**       same state and need no global table of connections.
**
** The KalamConn is the pAux of every kalam module and function of one
** connection; each registration holds a reference and SQLite's destructor
** calls give them back, so it is freed when the connection closes, after
** every kalam table of it has been disconnected.
*/
#include "kalam_int.h"
#include "../include/kalam.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ live list
** Every live KalamConn is listed with its connection and a process-unique
** token: catalog.c marks DDL done inside a transaction with the token and
** needs to know whether its connection is still open, and loading kalam
** into a connection that has it already must change nothing (the current
** user and the lock stay). Guarded by SQLITE_MUTEX_STATIC_APP3. */
typedef struct ConnLive ConnLive;
struct ConnLive {
  sqlite3_int64 iToken;
  sqlite3 *db;
};
static sqlite3_int64 connNextToken = 0;
static ConnLive *connLive = 0;
static int connNLive = 0;

static sqlite3_mutex *connMutex(void){
  return sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP3);
}

int kalamConnIsLive(sqlite3_int64 iToken){
  int i, bLive = 0;
  sqlite3_mutex_enter(connMutex());
  for(i=0; i<connNLive; i++){
    if( connLive[i].iToken==iToken ){ bLive = 1; break; }
  }
  sqlite3_mutex_leave(connMutex());
  return bLive;
}

/* Has kalam been loaded into db already (by this copy of kalam)? A
** connection's entry goes when SQLite frees its KalamConn at close, so a
** later connection at the same address is not mistaken for it. */
int kalamConnLoaded(sqlite3 *db){
  int i, bLoaded = 0;
  sqlite3_mutex_enter(connMutex());
  for(i=0; i<connNLive; i++){
    if( connLive[i].db==db ){ bLoaded = 1; break; }
  }
  sqlite3_mutex_leave(connMutex());
  return bLoaded;
}

KalamConn *kalamConnNew(sqlite3 *db){
  KalamConn *p = sqlite3_malloc(sizeof(*p));
  ConnLive *aNew;
  if( p==0 ) return 0;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->nRef = 1;
  sqlite3_mutex_enter(connMutex());
  aNew = sqlite3_realloc64(connLive, sizeof(ConnLive)*(connNLive + 1));
  if( aNew ){
    connLive = aNew;
    /* Tokens of earlier processes may be in a store: mix in the time so a
    ** new process does not reuse them. */
    if( connNextToken==0 ) connNextToken = kalamNowMs() * 1000;
    p->iToken = ++connNextToken;
    connLive[connNLive].iToken = p->iToken;
    connLive[connNLive].db = db;
    connNLive++;
  }
  sqlite3_mutex_leave(connMutex());
  if( aNew==0 ){
    sqlite3_free(p);
    return 0;
  }
  return p;
}

void kalamConnRef(KalamConn *p){
  p->nRef++;
}

static void connDbFree(KalamDb *pDb){
  /* The view and the transaction first: they use the store. */
  if( pDb->pTxn ) kalamCommitViewRelease(pDb);
  kalamTxnFree(pDb->pTxn);
  kalamStoreRelease(pDb->pStore);
  sqlite3_free(pDb->zSchema);
  sqlite3_free(pDb);
}

/* The destructor SQLite calls for each module and function registration. */
void kalamConnUnref(void *pArg){
  KalamConn *p = (KalamConn*)pArg;
  KalamDb *pDb, *pNext;
  int i;
  if( p==0 || --p->nRef>0 ) return;
  /* Its subscriptions end with it (include/kalam.h). */
  kalamUnsubscribe(p->db, 0);
  for(pDb=p->pDb; pDb; pDb=pNext){
    pNext = pDb->pNext;
    connDbFree(pDb);
  }
  sqlite3_mutex_enter(connMutex());
  for(i=0; i<connNLive; i++){
    if( connLive[i].iToken==p->iToken ){
      connLive[i] = connLive[--connNLive];
      break;
    }
  }
  sqlite3_mutex_leave(connMutex());
  sqlite3_free(p);
}

/* A store this process reads because another process owned it when it
** was opened is opened again where that helps (kalamStoreRefresh): as the
** owner, once the owner has closed it and this connection may write; or
** as a reader that sees the tables made since. Reads under way go on at
** the old instance, closed once the connection has no cursor on the
** store. A store that became this process's is settled and read afresh
** (commit.c). */
static int connStoreRefresh(KalamDb *pDb, char **pzErr){
  KalamStore *pStore = pDb->pStore;
  int rc = SQLITE_OK;
  if( !kalamStoreReadOnly(pStore, 0) ) return SQLITE_OK;
  rc = kalamStoreRefresh(pStore,
      (sqlite3_db_readonly(pDb->pConn->db, pDb->zSchema)==0
         ? KALAM_REFRESH_OWN : 0)
      | (pDb->nCursor==0 ? KALAM_REFRESH_IDLE : 0), pzErr);
  if( rc==SQLITE_OK && !kalamStoreReadOnly(pStore, 0) ){
    kalamCommitViewForget(pDb);
    return SQLITE_OK;
  }
  /* Still a reader: what the caller reads next (a table's catalog entry,
  ** to connect it) is read as of the owner's newest commit. */
  if( rc==SQLITE_OK ) rc = kalamStoreCatchUp(pStore, pzErr);
  return rc;
}

/* The refusal of a write to pDb's store (kalamStoreWriteRefused), after
** the store was opened again as its owner if its owner has gone. */
int kalamConnWriteRefused(KalamDb *pDb, char **pzErr){
  int rc = connStoreRefresh(pDb, pzErr);
  if( rc ) return rc;
  return kalamStoreWriteRefused(pDb->pStore, pzErr);
}

/* Finds or makes the KalamDb of schema zSchema. With bCreate 0 it only
** opens a store that already exists and *ppDb may be NULL: that is how
** kalam_tables looks without creating empty stores. */
int kalamConnDb(KalamConn *p, const char *zSchema, int bCreate,
                KalamDb **ppDb, char **pzErr){
  KalamDb *pDb;
  KalamStore *pStore = 0;
  int rc;
  *ppDb = 0;
  for(pDb=p->pDb; pDb; pDb=pDb->pNext){
    if( pDb->bRetired || sqlite3_stricmp(pDb->zSchema, zSchema)!=0 ) continue;
    /* A database without a file that was detached, or replaced by
    ** sqlite3_deserialize, leaves its name to another database: that one
    ** has a store of its own. */
    if( !kalamStoreIsFor(pDb->pStore, p->db, zSchema) ){
      pDb->bRetired = 1;
      kalamStoreForget(pDb->pStore);
      continue;
    }
    *ppDb = pDb;
    return connStoreRefresh(pDb, pzErr);
  }
  rc = kalamStoreAcquire(p->db, zSchema, bCreate, &pStore, pzErr);
  if( rc || pStore==0 ) return rc;
  pDb = sqlite3_malloc(sizeof(*pDb));
  if( pDb==0 ){
    kalamStoreRelease(pStore);
    return SQLITE_NOMEM;
  }
  memset(pDb, 0, sizeof(*pDb));
  pDb->pConn = p;
  pDb->pStore = pStore;
  pDb->zSchema = sqlite3_mprintf("%s", zSchema);
  pDb->pTxn = kalamTxnNew(pStore);
  if( pDb->zSchema==0 || pDb->pTxn==0 ){
    connDbFree(pDb);
    return SQLITE_NOMEM;
  }
  pDb->pNext = p->pDb;
  p->pDb = pDb;
  *ppDb = pDb;
  return SQLITE_OK;
}

/* Is z[0..n) valid UTF-8 with no NUL? */
static int connValidUtf8(const unsigned char *z, int n){
  int i = 0;
  while( i<n ){
    unsigned char c = z[i];
    int nExtra, j;
    unsigned int cp;
    if( c==0 ) return 0;
    if( c<0x80 ){ i++; continue; }
    if( (c & 0xe0)==0xc0 ){ nExtra = 1; cp = c & 0x1f; }
    else if( (c & 0xf0)==0xe0 ){ nExtra = 2; cp = c & 0x0f; }
    else if( (c & 0xf8)==0xf0 ){ nExtra = 3; cp = c & 0x07; }
    else return 0;
    for(j=1; j<=nExtra; j++){
      if( i+j>=n || (z[i+j] & 0xc0)!=0x80 ) return 0;
      cp = (cp<<6) | (z[i+j] & 0x3f);
    }
    if( (nExtra==1 && cp<0x80) || (nExtra==2 && cp<0x800)
     || (nExtra==3 && (cp<0x10000 || cp>0x10ffff))
     || (cp>=0xd800 && cp<0xe000) ) return 0;
    i += nExtra + 1;
  }
  return 1;
}

/* Whether z[0..n) is a valid user id (or consumer group name): 1 to
** KALAM_MAX_USER bytes of UTF-8 without NUL. */
int kalamConnIdValid(const char *z, int n){
  return n>=1 && n<=KALAM_MAX_USER
      && connValidUtf8((const unsigned char*)z, n);
}

/* Sets (zUser!=NULL) or clears the current user. */
int kalamConnSetUser(KalamConn *p, const char *zUser, int nUser,
                     char **pzErr){
  if( p->bLocked ){
    *pzErr = sqlite3_mprintf("kalam_set_user: this connection is locked "
        "to its user by kalam_lock_user()");
    return SQLITE_AUTH;
  }
  if( zUser ){
    if( !kalamConnIdValid(zUser, nUser) ){
      *pzErr = sqlite3_mprintf("kalam_set_user: invalid user id: a user id "
          "is 1 to %d bytes of UTF-8 with no NUL", KALAM_MAX_USER);
      return SQLITE_MISMATCH;
    }
    /* A server switches users per request: no allocation for that. */
    memcpy(p->aUser, zUser, (size_t)nUser);
    p->aUser[nUser] = 0;
    p->zUser = p->aUser;
  }else{
    p->zUser = 0;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ SQL */

static void connSetUserFunc(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv){
  KalamConn *p = (KalamConn*)sqlite3_user_data(ctx);
  char *zErr = 0;
  const char *zUser = 0;
  int nUser = 0, rc;
  (void)argc;
  if( sqlite3_value_type(argv[0])!=SQLITE_NULL ){
    if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
      sqlite3_result_error(ctx, "kalam_set_user: the user id must be TEXT",
                           -1);
      return;
    }
    zUser = (const char*)sqlite3_value_text(argv[0]);
    nUser = sqlite3_value_bytes(argv[0]);
    if( zUser==0 ){
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  rc = kalamConnSetUser(p, zUser, nUser, &zErr);
  if( rc ){
    if( rc==SQLITE_NOMEM ){
      sqlite3_result_error_nomem(ctx);
    }else{
      sqlite3_result_error(ctx, zErr, -1);
    }
    sqlite3_free(zErr);
    return;
  }
  if( p->zUser ){
    sqlite3_result_text(ctx, p->zUser, -1, SQLITE_TRANSIENT);
  }else{
    sqlite3_result_null(ctx);
  }
}

static void connUserFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *p = (KalamConn*)sqlite3_user_data(ctx);
  (void)argc; (void)argv;
  if( p->zUser ){
    sqlite3_result_text(ctx, p->zUser, -1, SQLITE_TRANSIENT);
  }else{
    sqlite3_result_null(ctx);
  }
}

/* kalam_rows_read(): how many stored rows this connection's cursors have
** read so far. A diagnostic: it shows whether a query was answered by a
** lookup or by a scan. */
static void connRowsReadFunc(sqlite3_context *ctx, int argc,
                             sqlite3_value **argv){
  KalamConn *p = (KalamConn*)sqlite3_user_data(ctx);
  (void)argc; (void)argv;
  sqlite3_result_int64(ctx, p->nRowsRead);
}

static void connLockUserFunc(sqlite3_context *ctx, int argc,
                             sqlite3_value **argv){
  KalamConn *p = (KalamConn*)sqlite3_user_data(ctx);
  int rc;
  (void)argc; (void)argv;
  if( p->zUser==0 && !p->bLocked ){
    /* A lock with no user would lock nothing useful: every kalam_user
    ** table refuses such a connection already, and it could never get a
    ** user. */
    sqlite3_result_error(ctx, "kalam_lock_user: there is no current user "
        "to lock: call kalam_set_user('<user id>') first", -1);
    sqlite3_result_error_code(ctx, SQLITE_MISUSE);
    return;
  }
  p->bLocked = 1;
  /* SQL that is not the application's could otherwise load anything,
  ** a second copy of kalam included, and get round the lock. An
  ** extension cannot call sqlite3_enable_load_extension(), but turning
  ** off the C interface is enough: load_extension() goes through it. */
  rc = sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
                         (int*)0);
  if( rc ){
    sqlite3_result_error(ctx, "kalam_lock_user: cannot turn extension "
                         "loading off", -1);
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  sqlite3_result_int(ctx, 1);
}

/* Reports error rc as the result of one of kalam's SQL functions or of
** an xColumn: message zErr (or rc's own text), or out of memory. Frees
** zErr; returns rc. */
int kalamFuncError(sqlite3_context *ctx, int rc, char *zErr){
  if( rc==SQLITE_NOMEM ){
    sqlite3_result_error_nomem(ctx);
  }else{
    sqlite3_result_error(ctx, zErr ? zErr : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(zErr);
  return rc;
}

/* Registers aFunc[0..nFunc), each holding a reference on pConn. */

int kalamFunctionsRegister(sqlite3 *db, KalamConn *pConn,
                           const KalamFunc *aFunc, int nFunc){
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<nFunc; i++){
    kalamConnRef(pConn);
    rc = sqlite3_create_function_v2(db, aFunc[i].zName, aFunc[i].nArg,
        SQLITE_UTF8 | aFunc[i].flags, pConn, aFunc[i].xFunc, 0, 0,
        kalamConnUnref);
  }
  return rc;
}

int kalamUserFunctionsRegister(sqlite3 *db, KalamConn *pConn){
  /* DIRECTONLY: a view or trigger written by someone else must not be able
  ** to switch the user of whoever reads it. */
  static const KalamFunc aFunc[] = {
    {"kalam_set_user", 1, SQLITE_DIRECTONLY, connSetUserFunc},
    {"kalam_lock_user", 0, SQLITE_DIRECTONLY, connLockUserFunc},
    {"kalam_user", 0, SQLITE_INNOCUOUS, connUserFunc},
    {"kalam_rows_read", 0, SQLITE_INNOCUOUS, connRowsReadFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}

/* ------------------------------------------------------------ C API */

/* Runs "SELECT fn(arg)" on db, where fn is one of kalam's functions. */
static int connCall(sqlite3 *db, const char *zSql, const char *zArg,
                    char **pzOut){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( pzOut ) *pzOut = 0;
  if( rc ) return rc;
  if( zArg ) rc = sqlite3_bind_text(pStmt, 1, zArg, -1, SQLITE_TRANSIENT);
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      if( pzOut && sqlite3_column_type(pStmt, 0)!=SQLITE_NULL ){
        *pzOut = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
        if( *pzOut==0 ) rc = SQLITE_NOMEM;
        else rc = SQLITE_OK;
      }else{
        rc = SQLITE_OK;
      }
    }
  }
  if( rc!=SQLITE_OK ){
    sqlite3_finalize(pStmt);
    return sqlite3_errcode(db)!=SQLITE_OK ? sqlite3_errcode(db) : rc;
  }
  return sqlite3_finalize(pStmt);
}

int kalam_set_user(sqlite3 *db, const char *zUser){
  return connCall(db, "SELECT kalam_set_user(?1)", zUser, 0);
}

int kalam_lock_user(sqlite3 *db){
  return connCall(db, "SELECT kalam_lock_user()", 0, 0);
}

char *kalam_current_user(sqlite3 *db){
  char *z = 0;
  connCall(db, "SELECT kalam_user()", 0, &z);
  return z;
}
