/*
** subscribe.c — subscriptions: C callbacks told of every committed change
** of a table, from any connection of the process (include/kalam.h,
** kalam_subscribe; docs/changes.md).
**
** A subscription names a store (the database file's), a column family
** (the table) and, on a kalam_user table, the owner prefix of the user
** that subscribed. The process keeps them in one list under one recursive
** mutex, held while changes are delivered: an unsubscribe returns only
** once no callback of its subscription runs, and a callback may itself
** subscribe or unsubscribe (a removal then waits for the delivery to end).
**
** What a commit changed is read from the committing connection's buffer
** (kalamTxnEachWrite) just before it is applied: each row key written,
** with its old state read from the store, which the connection's write
** lock keeps still. The changes are delivered after the apply succeeds,
** so a rolled-back or failed commit never reaches a callback. Hard deletes
** outside transactions (purge, erase, expiry) are delivered by
** housekeeping.c through kalamSubscribeHardDelete.
*/
#include "kalam_int.h"
#include <pthread.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

typedef struct Subscription Subscription;
struct Subscription {
  sqlite3_int64 iId;
  sqlite3 *db;                 /* the subscribing connection */
  KalamStore *pStore;          /* compared, never used */
  char *zCf;                   /* the table's column family */
  char *zTable;                /* the table's name, as created */
  int eKind;
  int bOwned;                  /* rows belong to users (kalamSchemaOwned) */
  char aPrefix[KALAM_MAX_PREFIX];  /* then: the subscriber's user */
  int nPrefix;
  kalam_change_fn xChange;
  void *pArg;
  int bDead;                   /* unsubscribed during a delivery */
  Subscription *pNext;
};

static pthread_mutex_t subMutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static Subscription *subList = 0;
static sqlite3_int64 subNextId = 0;
static int subDepth = 0;           /* deliveries under way (this thread) */
static int subCount = 0;           /* live subscriptions: a cheap test */

static void subFree(Subscription *p){
  sqlite3_free(p->zCf);
  sqlite3_free(p->zTable);
  sqlite3_free(p);
}

/* Removes the dead subscriptions, once no delivery runs. */
static void subSweep(void){
  Subscription **pp = &subList;
  if( subDepth>0 ) return;
  while( *pp ){
    Subscription *p = *pp;
    if( p->bDead ){
      *pp = p->pNext;
      subFree(p);
    }else{
      pp = &p->pNext;
    }
  }
}

/* Whether any subscription is live: commits skip collecting changes
** when none is. */
int kalamSubscribeAny(void){
  int n;
  pthread_mutex_lock(&subMutex);
  n = subCount;
  pthread_mutex_unlock(&subMutex);
  return n>0;
}

int kalamSubscribe(sqlite3 *db, KalamConn *pConn, KalamTable *pTab,
                   kalam_change_fn xChange, void *pArg, sqlite3_int64 *piId,
                   char **pzErr){
  Subscription *p;
  (void)pConn;
  if( kalamSchemaOwned(pTab->pSchema) && pTab->pConn->zUser==0 ){
    *pzErr = sqlite3_mprintf("kalam_subscribe: %s table %s%s has no "
        "current user: call kalam_set_user('<user id>') first",
        kalamKindName(pTab->pSchema->eKind), pTab->pSchema->zTable,
        pTab->pSchema->bPerUser ? " (per_user=1)" : "");
    return SQLITE_AUTH;
  }
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->pStore = pTab->pDb->pStore;
  p->zCf = sqlite3_mprintf("%s", kalamStoreCfName(pTab->pCf));
  p->zTable = sqlite3_mprintf("%s", pTab->pSchema->zTable);
  if( p->zCf==0 || p->zTable==0 ){
    subFree(p);
    return SQLITE_NOMEM;
  }
  p->eKind = pTab->pSchema->eKind;
  p->bOwned = kalamSchemaOwned(pTab->pSchema);
  if( p->bOwned ){
    p->nPrefix = kalamKeyPrefix(p->aPrefix, pTab->pConn->zUser);
  }
  p->xChange = xChange;
  p->pArg = pArg;
  pthread_mutex_lock(&subMutex);
  p->iId = ++subNextId;
  p->pNext = subList;
  subList = p;
  subCount++;
  pthread_mutex_unlock(&subMutex);
  *piId = p->iId;
  return SQLITE_OK;
}

/* Ends subscription iId of connection db (every one of db's for iId 0).
** Returns how many ended. */
int kalamUnsubscribe(sqlite3 *db, sqlite3_int64 iId){
  Subscription *p;
  int n = 0;
  pthread_mutex_lock(&subMutex);
  for(p=subList; p; p=p->pNext){
    if( p->bDead || p->db!=db || (iId && p->iId!=iId) ) continue;
    p->bDead = 1;
    subCount--;
    n++;
  }
  subSweep();
  pthread_mutex_unlock(&subMutex);
  return n;
}

/* One change to deliver. */
typedef struct SubChange SubChange;
struct SubChange {
  KalamCf *pCf;
  int nPrefix;                 /* of aKey: the owner */
  char aKey[KALAM_ROWKEY_MAX]; /* the row key */
  kalam_change c;
  char *zNew, *zOld;           /* sqlite3_free */
  SubChange *pNext;
};

/* What a commit is about to change, for the subscriptions. */
struct KalamSubBatch {
  KalamDb *pDb;
  SubChange *pFirst, **ppLast;
  int rc;
};

/* The user columns of stored row z as a JSON object (sqlite3_free), or
** NULL if out of memory. With the table's schema at hand, read through
** it (the same JSON kalam_changes gives); otherwise the stored text up to
** its system columns, which kalam writes last. */
static char *subRowJson(const KalamSchema *pSchema, const char *z, size_t n){
  KalamBuf b;
  char *zOut = 0;
  if( pSchema ){
    KalamRow row;
    char *zErr = 0;
    int nOut = 0, rc;
    memset(&row, 0, sizeof(row));
    rc = kalamRowParse(&row, pSchema, z, n);
    if( rc==SQLITE_OK ) rc = kalamRowUserJson(pSchema, &row, &zOut, &nOut, &zErr);
    sqlite3_free(zErr);
    kalamRowFree(&row);
    if( rc==SQLITE_OK || rc==SQLITE_NOMEM ) return zOut;
  }
  kalamBufInit(&b);
  {
    /* A quote inside a JSON string is escaped, so the last ,"_seq": (or
    ** {"_seq": for a row of no user columns) is where they begin. */
    size_t i = n;
    while( i>=8 && !((z[i-8]==',' || z[i-8]=='{')
                     && memcmp(z + i - 7, "\"_seq\":", 7)==0) ){
      i--;
    }
    if( i>=8 && z[i-8]==',' ) kalamBufAppend(&b, z, (int)(i - 8));
    else kalamBufAppendChar(&b, '{');
    kalamBufAppendChar(&b, '}');
  }
  if( !b.oom ){
    zOut = sqlite3_malloc64((sqlite3_uint64)b.n + 1);
    if( zOut ){
      memcpy(zOut, b.z, (size_t)b.n);
      zOut[b.n] = 0;
    }
  }
  kalamBufFree(&b);
  return zOut;
}

/* Whether any live subscription is on column family pCf of pStore. */
int kalamSubscribeWanted(KalamStore *pStore, KalamCf *pCf){
  Subscription *p;
  const char *zCf = kalamStoreCfName(pCf);
  int bWanted = 0;
  pthread_mutex_lock(&subMutex);
  for(p=subList; p && !bWanted; p=p->pNext){
    bWanted = !p->bDead && p->pStore==pStore && strcmp(p->zCf, zCf)==0;
  }
  pthread_mutex_unlock(&subMutex);
  return bWanted;
}

/* The connected table of pDb on column family pCf, or NULL. */
static KalamTable *subTable(KalamDb *pDb, KalamCf *pCf){
  KalamTable *pTab;
  for(pTab=pDb ? pDb->pTables : 0; pTab; pTab=pTab->pNextInDb){
    if( pTab->pCf==pCf ) return pTab;
  }
  return 0;
}

/* Adds one change to the batch. zOld/zNew are stored rows (NULL: none). */
static int subAdd(KalamSubBatch *pB, KalamCf *pCf, const KalamSchema *pSchema,
                  const char *zKey, size_t nKey, int nPrefix,
                  sqlite3_int64 iRowid, const char *zOld, size_t nOld,
                  const char *zNew, size_t nNew){
  SubChange *pC;
  if( zOld==0 && zNew==0 ) return SQLITE_OK;
  pC = sqlite3_malloc(sizeof(*pC));
  if( pC==0 ) return SQLITE_NOMEM;
  memset(pC, 0, sizeof(*pC));
  pC->pCf = pCf;
  pC->nPrefix = nPrefix;
  memcpy(pC->aKey, zKey, nKey);
  pC->c.rowid = iRowid;
  if( zNew ){
    sqlite3_int64 iSeq = kalamRowSeq(zNew, nNew);
    pC->c.seq = iSeq>0 ? iSeq : 0;
    if( zOld==0 ){
      pC->c.op = KALAM_CHANGE_INSERT;
    }else if( kalamRowIsDeleted(zNew, nNew) && !kalamRowIsDeleted(zOld, nOld) ){
      pC->c.op = KALAM_CHANGE_DELETE;
    }else{
      pC->c.op = KALAM_CHANGE_UPDATE;
    }
  }else{
    pC->c.op = KALAM_CHANGE_HARD_DELETE;
  }
  if( zNew ) pC->zNew = subRowJson(pSchema, zNew, nNew);
  if( zOld ) pC->zOld = subRowJson(pSchema, zOld, nOld);
  pC->c.zNew = pC->zNew;
  pC->c.zOld = pC->zOld;
  *pB->ppLast = pC;
  pB->ppLast = &pC->pNext;
  if( (zNew && !pC->zNew) || (zOld && !pC->zOld) ) return SQLITE_NOMEM;
  return SQLITE_OK;
}

/* kalamTxnEachWrite's callback: a row key written is a change. */
static int subCollect(void *pArg, KalamCf *pCf, const char *zKey, size_t nKey,
                      const char *zVal, int nVal){
  KalamSubBatch *pB = (KalamSubBatch*)pArg;
  KalamStore *pStore = pB->pDb->pStore;
  KalamTable *pTab;
  sqlite3_int64 iRowid;
  int nPrefix = 0, rc;
  char *zOld = 0, *zErr = 0;
  size_t nOld = 0;
  if( !kalamSubscribeWanted(pStore, pCf) ) return SQLITE_OK;
  pTab = subTable(pB->pDb, pCf);
  if( pTab==0 ) return SQLITE_OK;
  if( kalamSchemaOwned(pTab->pSchema) ){
    nPrefix = kalamKeyOwnerLength(zKey, nKey);
    if( nPrefix<0 ) return SQLITE_OK;
  }
  if( !kalamKeyRowDecode(zKey, nKey, nPrefix, &iRowid) ) return SQLITE_OK;
  rc = kalamStoreGet(pStore, 0, pCf, zKey, nKey, &zOld, &nOld,
                     "kalam subscription: read failed", &zErr);
  sqlite3_free(zErr);
  if( rc ) return rc;
  rc = subAdd(pB, pCf, pTab->pSchema, zKey, nKey, nPrefix, iRowid, zOld, nOld,
              zVal, zVal ? (size_t)nVal : 0);
  if( zOld ) kalamStoreFree(zOld);
  return rc;
}

/* Before a commit is applied: what it changes, if anyone listens. NULL
** when nobody does (or, changes being lost, out of memory). */
KalamSubBatch *kalamSubscribeCollect(KalamDb *pDb){
  KalamSubBatch *pB;
  if( !kalamSubscribeAny() ) return 0;
  pB = sqlite3_malloc(sizeof(*pB));
  if( pB==0 ) return 0;
  memset(pB, 0, sizeof(*pB));
  pB->pDb = pDb;
  pB->ppLast = &pB->pFirst;
  pB->rc = kalamTxnEachWrite(pDb->pTxn, subCollect, pB);
  return pB;
}

/* A hard delete outside a transaction (housekeeping.c): row zKey (owner
** prefix nPrefix bytes) with stored state zOld is gone. Collected into
** *ppB, made on first use; pSchema may be NULL. */
int kalamSubscribeHardDelete(KalamSubBatch **ppB, KalamStore *pStore,
                             KalamCf *pCf, const KalamSchema *pSchema,
                             const char *zKey, size_t nKey, int nPrefix,
                             const char *zOld, size_t nOld){
  sqlite3_int64 iRowid;
  if( !kalamSubscribeWanted(pStore, pCf) ) return SQLITE_OK;
  if( !kalamKeyRowDecode(zKey, nKey, nPrefix, &iRowid) ) return SQLITE_OK;
  if( *ppB==0 ){
    *ppB = sqlite3_malloc(sizeof(**ppB));
    if( *ppB==0 ) return SQLITE_NOMEM;
    memset(*ppB, 0, sizeof(**ppB));
    (*ppB)->ppLast = &(*ppB)->pFirst;
  }
  return subAdd(*ppB, pCf, pSchema, zKey, nKey, nPrefix, iRowid, zOld, nOld,
                0, 0);
}

/* After the commit (bApplied) or instead of it: delivers the changes to
** every subscription on their table (and user), then frees the batch. */
void kalamSubscribeDeliver(KalamSubBatch *pB, KalamStore *pStore,
                           int bApplied){
  SubChange *pC, *pNext;
  if( pB==0 ) return;
  if( bApplied && pB->rc==SQLITE_OK ){
    pthread_mutex_lock(&subMutex);
    subDepth++;
    for(pC=pB->pFirst; pC; pC=pC->pNext){
      const char *zCf = kalamStoreCfName(pC->pCf);
      Subscription *p;
      for(p=subList; p; p=p->pNext){
        if( p->bDead || p->pStore!=pStore || strcmp(p->zCf, zCf)!=0 ) continue;
        if( p->bOwned
         && (p->nPrefix!=pC->nPrefix
             || memcmp(p->aPrefix, pC->aKey, (size_t)p->nPrefix)!=0) ){
          continue;
        }
        pC->c.zTable = p->zTable;
        p->xChange(p->pArg, &pC->c);
      }
    }
    subDepth--;
    subSweep();
    pthread_mutex_unlock(&subMutex);
  }
  for(pC=pB->pFirst; pC; pC=pNext){
    pNext = pC->pNext;
    sqlite3_free(pC->zNew);
    sqlite3_free(pC->zOld);
    sqlite3_free(pC);
  }
  sqlite3_free(pB);
}
