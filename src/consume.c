/*
** consume.c — consumers of streams: groups that read a stream at their own
** pace and resume where they stopped (SPEC section 7, docs/streams.md).
**
**   SELECT * FROM kalam_consume('events', 'group' [, n])
**       up to n (default 100) live rows after the group's position, in row
**       id order: columns rowid, _ts and row (the stream's columns as a
**       JSON object; join the stream on rowid for them as columns)
**   SELECT kalam_ack('events', 'group', rowid)
**       moves the group's position to rowid (never backwards); returns
**       the position
**   SELECT * FROM kalam_consumers
**       name, group, user, position, pending (live rows after position)
**
** A position is a key of the stream's column family, under the table's
** own prefix so that one range lists them all:
**
**   <KALAM_TABLE_PREFIX> 'c' <owner prefix> <1-byte length> <group>
**       ->  8-byte row id, as in a row key
**
** The owner prefix is the user's on a per-user stream (positions are per
** user) and empty on a shared one; kalam_erase_user removes a user's.
** kalam_ack writes it in the caller's transaction on the store: it joins
** SQLite's transaction as kalam_alter does (alter.c says how), so that
** "read, write results, ack" in one BEGIN ... COMMIT happens exactly once
** or not at all, across crashes (the one-commit protocol, commit.c).
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

#define CONSUME_DEFAULT_N 100

/* The key of group zGroup's position for the owner (nPrefix 0: shared). */
static int consumeKey(char *aOut, const char *aPrefix, int nPrefix,
                      const char *zGroup, int nGroup){
  aOut[0] = KALAM_TABLE_PREFIX[0];
  aOut[1] = KALAM_TAG_CONSUMER;
  memcpy(aOut + 2, aPrefix, (size_t)nPrefix);
  aOut[2 + nPrefix] = (char)nGroup;
  memcpy(aOut + 3 + nPrefix, zGroup, (size_t)nGroup);
  return 3 + nPrefix + nGroup;
}
#define CONSUME_KEY_MAX (3 + KALAM_MAX_PREFIX + KALAM_MAX_USER)

/* Checks a group name: as a user id (conn.c), 1 to 128 bytes of UTF-8. */
static int consumeGroupCheck(sqlite3_value *pVal, const char *zFunc,
                             const char **pz, int *pn, char **pzErr){
  *pz = (const char*)sqlite3_value_text(pVal);
  *pn = sqlite3_value_bytes(pVal);
  if( sqlite3_value_type(pVal)!=SQLITE_TEXT || *pz==0
   || !kalamConnIdValid(*pz, *pn) ){
    *pzErr = sqlite3_mprintf("%s: invalid group name: a group name is 1 to "
        "%d bytes of UTF-8 with no NUL", zFunc, KALAM_MAX_USER);
    return SQLITE_MISMATCH;
  }
  return SQLITE_OK;
}

/* Finds stream zName and the owner prefix its reader has. */
static int consumeStream(sqlite3 *db, KalamConn *pConn, const char *zFunc,
                         sqlite3_value *pName, KalamTable **ppTab,
                         char *aPrefix, int *pnPrefix, char **pzErr){
  const char *zName = (const char*)sqlite3_value_text(pName);
  int rc;
  if( zName==0 ){
    *pzErr = sqlite3_mprintf("%s: the table name must be text", zFunc);
    return SQLITE_MISMATCH;
  }
  rc = kalamChangesTableFind(db, pConn, zName, ppTab, pzErr);
  if( rc ) return rc;
  if( (*ppTab)->pSchema->eKind!=KALAM_KIND_STREAM ){
    *pzErr = sqlite3_mprintf("%s: %s is a %s table; consumers read "
        "kalam_stream tables", zFunc, zName,
        kalamKindName((*ppTab)->pSchema->eKind));
    return SQLITE_MISUSE;
  }
  return kalamChangesOwner(*ppTab, zFunc, aPrefix, pnPrefix, pzErr);
}

/* The group's position as the connection sees it (0: none yet). */
static int consumePosition(KalamTable *pTab, const char *aKey, int nKey,
                           sqlite3_int64 *piPos, char **pzErr){
  char *zVal = 0;
  size_t nVal = 0;
  int rc = kalamTxnGet(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey,
                       &zVal, &nVal, pzErr);
  *piPos = 0;
  if( rc==SQLITE_OK && zVal && !kalamKeyRowDecode(zVal, nVal, 0, piPos) ){
    *piPos = 0;
  }
  if( zVal ) kalamStoreFree(zVal);
  return rc;
}

/* ------------------------------------------------------ kalam_consume */

#define CONSUME_ROWID 0
#define CONSUME_TS    1
#define CONSUME_ROW   2
#define CONSUME_TABLE 3
#define CONSUME_GROUP 4
#define CONSUME_N     5


static int consumeConnect(sqlite3 *db, void *pAux, int argc,
                          const char *const *argv, sqlite3_vtab **ppVtab,
                          char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  return kalamTvfConnect(db, pAux, "CREATE TABLE x(rowid INTEGER, "
      "_ts INTEGER, row TEXT, \"table\" HIDDEN, \"group\" HIDDEN, n HIDDEN)",
      ppVtab);
}

/* The table and the group are required, n is optional; rows come in row
** id order. */
static int consumeBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int rc = kalamTvfBestIndex(pVtab, pInfo, CONSUME_TABLE, 3, 2,
      "kalam_consume: the table and the group are required: "
      "kalam_consume('t', 'group' [, n])", CONSUME_ROWID);
  pInfo->estimatedCost = 100;
  pInfo->estimatedRows = CONSUME_DEFAULT_N;
  return rc;
}

/* The cursor is a list of changes (changes.c), all read at xFilter. */
static int consumeOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  static const int aField[] = {
    [CONSUME_ROWID] = KALAM_CHANGE_ROWID, [CONSUME_TS] = KALAM_CHANGE_TS,
    [CONSUME_ROW] = KALAM_CHANGE_ROW
  };
  (void)pVtab;
  return kalamChangeCursorOpen(sizeof(KalamChangeCursor), aField,
                               (int)(sizeof(aField)/sizeof(aField[0])), ppCur);
}

static int consumeFilter(sqlite3_vtab_cursor *cur, int idxNum,
                         const char *idxStr, int argc, sqlite3_value **argv){
  KalamChangeCursor *pCur = (KalamChangeCursor*)cur;
  KalamTvf *pVtab = (KalamTvf*)cur->pVtab;
  KalamTable *pTab = 0;
  char aPrefix[KALAM_MAX_PREFIX], aKey[CONSUME_KEY_MAX];
  const char *zGroup;
  int nPrefix = 0, nGroup, nKey;
  sqlite3_int64 nWant = CONSUME_DEFAULT_N, iPos = 0;
  char *zErr = 0;
  int rc;
  (void)idxStr; (void)argc;

  kalamChangeListClear(&pCur->list);
  rc = consumeStream(pVtab->db, pVtab->pConn, "kalam_consume", argv[0], &pTab,
                     aPrefix, &nPrefix, &zErr);
  if( rc==SQLITE_OK ){
    rc = consumeGroupCheck(argv[1], "kalam_consume", &zGroup, &nGroup, &zErr);
  }
  if( rc==SQLITE_OK && (idxNum & 4) ){
    if( sqlite3_value_numeric_type(argv[2])!=SQLITE_INTEGER
     || sqlite3_value_int64(argv[2])<0 ){
      zErr = sqlite3_mprintf("kalam_consume: n must be an integer of 0 or "
                             "more");
      rc = SQLITE_MISMATCH;
    }else{
      nWant = sqlite3_value_int64(argv[2]);
    }
  }
  if( rc==SQLITE_OK ) rc = kalamCommitView(pTab->pDb, &zErr);
  if( rc==SQLITE_OK ){
    nKey = consumeKey(aKey, aPrefix, nPrefix, zGroup, nGroup);
    rc = consumePosition(pTab, aKey, nKey, &iPos, &zErr);
  }
  if( rc==SQLITE_OK ){
    int bLast;
    rc = kalamChangesStream(&pCur->list, pTab, pTab->pDb->pTxn, aPrefix,
                            nPrefix, nWant, &iPos, &bLast, &zErr);
  }
  kalamTvfError(&pVtab->base, zErr);
  return rc;
}

static int consumeNext(sqlite3_vtab_cursor *cur){
  ((KalamChangeCursor*)cur)->list.iRow++;
  return SQLITE_OK;
}

static int consumeRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  const KalamChangeList *pList = &((KalamChangeCursor*)cur)->list;
  *pRowid = pList->aRow[pList->iRow].iRowid;
  return SQLITE_OK;
}

static sqlite3_module consumeModule = {
  0,                       /* iVersion */
  0,                       /* xCreate: none, an eponymous-only table */
  consumeConnect,          /* xConnect */
  consumeBestIndex,        /* xBestIndex */
  kalamTvfDisconnect,      /* xDisconnect */
  0,                       /* xDestroy */
  consumeOpen,             /* xOpen */
  kalamChangeCursorClose,  /* xClose */
  consumeFilter,           /* xFilter */
  consumeNext,             /* xNext */
  kalamChangeCursorEof,    /* xEof */
  kalamChangeCursorColumn, /* xColumn */
  consumeRowid,            /* xRowid */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */
  0                        /* xShadowName */
};

/* ---------------------------------------------------------- kalam_ack */

/* Runs one statement of kalam_ack's on the connection. */
static int consumeExec(sqlite3 *db, const char *zSql, char **pzErr){
  char *zMsg = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zMsg);
  if( rc && rc!=SQLITE_NOMEM ){
    *pzErr = sqlite3_mprintf("kalam_ack: %s", zMsg ? zMsg : sqlite3_errstr(rc));
  }
  sqlite3_free(zMsg);
  return rc;
}

/* kalam_ack(t, group, rowid): joins SQLite's transaction (see the header),
** then moves the position forward in the connection's transaction on the
** store. */
static void consumeAckFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  KalamTable *pTab = 0;
  char aPrefix[KALAM_MAX_PREFIX], aKey[CONSUME_KEY_MAX];
  char aVal[KALAM_ROWKEY_MAX];
  const char *zGroup;
  int nPrefix = 0, nGroup, nKey, nVal, bSavepoint = 0;
  sqlite3_int64 iAck, iPos = 0;
  char *zErr = 0, *zSql = 0;
  int rc;
  (void)argc;

  rc = consumeStream(db, pConn, "kalam_ack", argv[0], &pTab, aPrefix,
                     &nPrefix, &zErr);
  if( rc==SQLITE_OK ){
    rc = consumeGroupCheck(argv[1], "kalam_ack", &zGroup, &nGroup, &zErr);
  }
  if( rc ) goto done;
  if( sqlite3_value_numeric_type(argv[2])!=SQLITE_INTEGER ){
    zErr = sqlite3_mprintf("kalam_ack: the row id must be an integer");
    rc = SQLITE_MISMATCH;
    goto done;
  }
  iAck = sqlite3_value_int64(argv[2]);
  nKey = consumeKey(aKey, aPrefix, nPrefix, zGroup, nGroup);

  rc = consumeExec(db, "SAVEPOINT kalam_ack", &zErr);
  if( rc ) goto done;
  bSavepoint = 1;
  zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w\" WHERE 0",
                         pTab->zSchemaName, pTab->pSchema->zTable);
  rc = zSql ? consumeExec(db, zSql, &zErr) : SQLITE_NOMEM;
  if( rc ) goto done;
  /* That statement may have prepared the schema again: find the table
  ** anew rather than trust the pointer from before it. */
  rc = consumeStream(db, pConn, "kalam_ack", argv[0], &pTab, aPrefix,
                     &nPrefix, &zErr);
  if( rc ) goto done;
  if( !kalamTxnIsOpen(pTab->pDb->pTxn) ){
    zErr = sqlite3_mprintf("kalam_ack cannot join the transaction of "
                           "table %s", pTab->pSchema->zTable);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = consumePosition(pTab, aKey, nKey, &iPos, &zErr);
  if( rc ) goto done;
  if( iAck > iPos ){
    nVal = kalamKeyRow(aVal, 0, 0, iAck);
    kalamTxnPut(pTab->pDb->pTxn, pTab->pCf, aKey, (size_t)nKey, aVal,
                (size_t)nVal);
    iPos = iAck;
  }
  rc = consumeExec(db, "RELEASE kalam_ack", &zErr);
  if( rc ) goto done;
  bSavepoint = 0;

done:
  if( bSavepoint ){
    char *zIgnore = 0;
    consumeExec(db, "ROLLBACK TO kalam_ack; RELEASE kalam_ack", &zIgnore);
    sqlite3_free(zIgnore);
  }
  sqlite3_free(zSql);
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
  }else{
    sqlite3_result_int64(ctx, iPos);
  }
}

/* ------------------------------------------------------ kalam_consumers */

typedef struct ConsumersRow ConsumersRow;
struct ConsumersRow {
  char *zName;              /* sqlite3_free, as are the next two */
  char *zGroup;
  char *zUser;              /* NULL on a shared stream */
  sqlite3_int64 iPos;
  sqlite3_int64 nPending;
};

typedef struct ConsumersCursor ConsumersCursor;
struct ConsumersCursor {
  sqlite3_vtab_cursor base; /* must be first */
  ConsumersRow *aRow;
  int nRow, nAlloc;
  int iRow;
};

/* What kalam_consumers reads one store with. */
typedef struct ConsumersScan ConsumersScan;
struct ConsumersScan {
  ConsumersCursor *pCur;
  KalamDb *pDb;
  KalamConn *pConn;
};

static int consumersConnect(sqlite3 *db, void *pAux, int argc,
                            const char *const *argv, sqlite3_vtab **ppVtab,
                            char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  return kalamTvfConnect(db, pAux, "CREATE TABLE x(name TEXT, "
      "\"group\" TEXT, user TEXT, position INTEGER, pending INTEGER)", ppVtab);
}

static int consumersBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  return kalamTvfBestIndex(pVtab, pInfo, 0, 0, 0, 0, -1);
}

static int consumersOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  ConsumersCursor *pCur = sqlite3_malloc(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void consumersReset(ConsumersCursor *pCur){
  int i;
  for(i=0; i<pCur->nRow; i++){
    sqlite3_free(pCur->aRow[i].zName);
    sqlite3_free(pCur->aRow[i].zGroup);
    sqlite3_free(pCur->aRow[i].zUser);
  }
  sqlite3_free(pCur->aRow);
  pCur->aRow = 0;
  pCur->nRow = pCur->nAlloc = pCur->iRow = 0;
}

static int consumersClose(sqlite3_vtab_cursor *cur){
  consumersReset((ConsumersCursor*)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Counts the live rows of the owner after position iPos. */
static int consumersPending(KalamDb *pDb, KalamCf *pCf,
                            const KalamCatalogEntry *pEntry,
                            const char *aPrefix, int nPrefix,
                            sqlite3_int64 iPos, sqlite3_int64 *pn,
                            char **pzErr){
  KalamIter *pIt = kalamFeedStream(pDb->pTxn, pCf, pEntry->nTtlSeconds,
                                   aPrefix, nPrefix, iPos);
  int rc;
  *pn = 0;
  if( pIt==0 ) return SQLITE_NOMEM;
  for(; kalamIterValid(pIt); kalamIterNext(pIt)) (*pn)++;
  rc = kalamIterError(pIt, pzErr);
  kalamIterDestroy(pIt);
  return rc;
}

/* Adds the groups of one stream (a catalog entry) to the cursor. */
static int consumersEntry(void *pArg, const KalamCatalogEntry *pEntry,
                          char **pzErr){
  ConsumersScan *p = (ConsumersScan*)pArg;
  ConsumersCursor *pCur = p->pCur;
  char aLo[KALAM_BOUND_MAX], aHi[KALAM_BOUND_MAX];
  int nLo, nHi, rc = SQLITE_OK;
  KalamCf *pCf;
  KalamIter *pIt;
  if( pEntry->eKind!=KALAM_KIND_STREAM || pEntry->zCf==0 ) return SQLITE_OK;
  pCf = kalamStoreCfFind(p->pDb->pStore, pEntry->zCf);
  if( pCf==0 ) return SQLITE_OK;
  kalamKeyTagRange(KALAM_TABLE_PREFIX, 1, KALAM_TAG_CONSUMER, aLo, &nLo, aHi,
                   &nHi);
  pIt = kalamTxnIterator(p->pDb->pTxn, pCf, aLo, nLo, aHi, nHi, 0);
  if( pIt==0 ){
    kalamStoreCfRelease(p->pDb->pStore, pCf);
    return SQLITE_NOMEM;
  }
  for(kalamIterSeek(pIt, aLo, (size_t)nLo);
      rc==SQLITE_OK && kalamIterValid(pIt); kalamIterNext(pIt)){
    size_t nKey, nVal;
    const char *zKey = kalamIterKey(pIt, &nKey);
    const char *zVal = kalamIterValue(pIt, &nVal);
    const char *aPrefix = zKey + 2;
    int nPrefix = 0, nGroup;
    ConsumersRow *pRow;
    sqlite3_int64 iPos = 0;
    if( pEntry->bPerUser ){
      nPrefix = kalamKeyOwnerLength(aPrefix, nKey - 2);
      if( nPrefix<0 ) continue;
      /* A locked connection sees its own user's positions only. */
      if( p->pConn->bLocked
       && (p->pConn->zUser==0
           || (int)strlen(p->pConn->zUser)!=nPrefix - 1
           || memcmp(p->pConn->zUser, aPrefix + 1, (size_t)nPrefix - 1)) ){
        continue;
      }
    }
    if( nKey < (size_t)(3 + nPrefix) ) continue;
    nGroup = (unsigned char)zKey[2 + nPrefix];
    if( nKey != (size_t)(3 + nPrefix + nGroup) ) continue;
    kalamKeyRowDecode(zVal, nVal, 0, &iPos);
    if( pCur->nRow>=pCur->nAlloc ){
      int nNew = pCur->nAlloc ? pCur->nAlloc*2 : 16;
      ConsumersRow *aNew = sqlite3_realloc64(pCur->aRow,
                                             sizeof(ConsumersRow)*nNew);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      pCur->aRow = aNew;
      pCur->nAlloc = nNew;
    }
    pRow = &pCur->aRow[pCur->nRow++];
    memset(pRow, 0, sizeof(*pRow));
    pRow->zName = sqlite3_mprintf("%s", pEntry->zName);
    pRow->zGroup = sqlite3_mprintf("%.*s", nGroup, zKey + 3 + nPrefix);
    if( nPrefix ){
      pRow->zUser = sqlite3_mprintf("%.*s", nPrefix - 1, aPrefix + 1);
    }
    pRow->iPos = iPos;
    if( !pRow->zName || !pRow->zGroup || (nPrefix && !pRow->zUser) ){
      rc = SQLITE_NOMEM;
      break;
    }
    rc = consumersPending(p->pDb, pCf, pEntry, aPrefix, nPrefix, iPos,
                          &pRow->nPending, pzErr);
  }
  if( rc==SQLITE_OK ) rc = kalamIterError(pIt, pzErr);
  kalamIterDestroy(pIt);
  kalamStoreCfRelease(p->pDb->pStore, pCf);
  return rc;
}

static int consumersFilter(sqlite3_vtab_cursor *cur, int idxNum,
                           const char *idxStr, int argc, sqlite3_value **argv){
  ConsumersCursor *pCur = (ConsumersCursor*)cur;
  KalamTvf *pVtab = (KalamTvf*)cur->pVtab;
  const char *zSchema;
  char *zErr = 0;
  int i, rc = SQLITE_OK;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  consumersReset(pCur);
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pVtab->db, i))!=0; i++){
    ConsumersScan scan;
    KalamDb *pDb = 0;
    rc = kalamConnDb(pVtab->pConn, zSchema, 0, &pDb, &zErr);
    if( rc || pDb==0 ) continue;
    scan.pCur = pCur;
    scan.pDb = pDb;
    scan.pConn = pVtab->pConn;
    rc = kalamCommitView(pDb, &zErr);
    if( rc==SQLITE_OK ){
      rc = kalamCatalogForEach(pDb->pStore, consumersEntry, &scan, &zErr);
    }
  }
  kalamTvfError(&pVtab->base, zErr);
  return rc;
}

static int consumersNext(sqlite3_vtab_cursor *cur){
  ((ConsumersCursor*)cur)->iRow++;
  return SQLITE_OK;
}

static int consumersEof(sqlite3_vtab_cursor *cur){
  ConsumersCursor *pCur = (ConsumersCursor*)cur;
  return pCur->iRow>=pCur->nRow;
}

static int consumersColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                           int iCol){
  ConsumersCursor *pCur = (ConsumersCursor*)cur;
  const ConsumersRow *p = &pCur->aRow[pCur->iRow];
  switch( iCol ){
    case 0: sqlite3_result_text(ctx, p->zName, -1, SQLITE_TRANSIENT); break;
    case 1: sqlite3_result_text(ctx, p->zGroup, -1, SQLITE_TRANSIENT); break;
    case 2:
      if( p->zUser ) sqlite3_result_text(ctx, p->zUser, -1, SQLITE_TRANSIENT);
      break;
    case 3: sqlite3_result_int64(ctx, p->iPos); break;
    default: sqlite3_result_int64(ctx, p->nPending); break;
  }
  return SQLITE_OK;
}

static int consumersRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((ConsumersCursor*)cur)->iRow;
  return SQLITE_OK;
}

static sqlite3_module consumersModule = {
  0,                  /* iVersion */
  0,                  /* xCreate: none, an eponymous-only table */
  consumersConnect,   /* xConnect */
  consumersBestIndex, /* xBestIndex */
  kalamTvfDisconnect, /* xDisconnect */
  0,                  /* xDestroy */
  consumersOpen,      /* xOpen */
  consumersClose,     /* xClose */
  consumersFilter,    /* xFilter */
  consumersNext,      /* xNext */
  consumersEof,       /* xEof */
  consumersColumn,    /* xColumn */
  consumersRowid,     /* xRowid */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */
  0                   /* xShadowName */
};

/* Registers kalam_consume, kalam_ack and kalam_consumers on db, holding
** references on pConn. */
int kalamConsumeRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    /* DIRECTONLY: an ack is a write, never a side effect of a view. */
    {"kalam_ack", 3, SQLITE_DIRECTONLY, consumeAckFunc},
  };
  int rc;
  kalamConnRef(pConn);
  rc = sqlite3_create_module_v2(db, "kalam_consume", &consumeModule, pConn,
                                kalamConnUnref);
  if( rc==SQLITE_OK ){
    kalamConnRef(pConn);
    rc = sqlite3_create_module_v2(db, "kalam_consumers", &consumersModule,
                                  pConn, kalamConnUnref);
  }
  if( rc==SQLITE_OK ){
    rc = kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  }
  return rc;
}
