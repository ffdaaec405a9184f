/*
** update.c — xUpdate: INSERT, UPDATE and DELETE on kalam tables.
**
** Every write goes into the connection's transaction (txn.c), under
** the owner prefix of the table (the current user's for kalam_user), so a
** write can only ever land in the writer's own rows.
**
**   INSERT  the row id is the one given (rowid or INTEGER PRIMARY KEY) or a
**           new snowflake id; values are converted to their column types
**           (value.c); the row, its key-index entry and its index entries
**           (index.c) are written.
**   UPDATE  columns SQLite reports unchanged (sqlite3_value_nochange) keep
**           their stored JSON text as it is; system columns are read-only.
**   DELETE  soft: the row is rewritten with _deleted 1 and new _seq and
**           _updated, all its values kept. Streams refuse UPDATE and DELETE.
**
** Uniqueness. A row id, a PRIMARY KEY value and a UNIQUE key without NULLs
** each belong to at most one stored row, deleted or not. A clash with a
** soft-deleted row is no clash: that row is removed for good and the new
** one takes its place. A clash with a live row follows the statement's
** conflict clause, read with sqlite3_vtab_on_conflict: REPLACE removes the
** old rows; any other clause returns SQLITE_CONSTRAINT with SQLite's
** message, and SQLite does the rest (IGNORE skips the row, FAIL keeps
** earlier rows, ABORT and ROLLBACK roll back). All clashes are found
** before anything is written (the rows to remove are gathered as
** "holders"), and a row is checked in SQLite's order: NOT NULL, the row
** id, the column types, then the unique keys, the newest declared first
** (updateCheckNotNull and updateCheckKeys say why the order matters).
**
** Index entries are computed from the row as encoded for the store
** (index.c says why), so a write encodes its row first, checks, and only
** then puts the row and its entries.
*/
#include "kalam_int.h"
#include <string.h>
#include <stddef.h>

SQLITE_EXTENSION_INIT3

/* What holds a row id or a key. */
#define HOLDER_NONE    0
#define HOLDER_DELETED 1
#define HOLDER_LIVE    2

/* A stored row that the write displaces: a deleted row that holds its
** row id or one of its unique keys, or with OR REPLACE a live one. */
typedef struct UpdateHolder UpdateHolder;
struct UpdateHolder {
  sqlite3_int64 iRowid;
  char *zVal;           /* the stored row (kalamStoreFree) */
  size_t nVal;
};

typedef struct UpdateCtx UpdateCtx;
struct UpdateCtx {
  KalamTable *pTab;
  const KalamSchema *pSchema;
  KalamTxn *pTxn;       /* the connection's transaction on the store */
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  char *zErr;           /* message for pTab->base.zErrMsg */
  sqlite3_int64 iSeq;   /* the _seq of the row updateEncode made */
  int nHolder;          /* the row id, the key, and each UNIQUE index */
  UpdateHolder aHolder[KALAM_MAX_INDEX + 2];  /* must stay last */
};

/* Reads the stored row of iRowid. *pzVal is NULL if there is none; else the
** caller frees it with kalamStoreFree. */
static int updateRead(UpdateCtx *p, sqlite3_int64 iRowid, char **pzVal,
                      size_t *pnVal){
  /* Hot or cold (cold_read.c): a flushed row is read like a hot one. */
  return kalamRowReadCopy(p->pTab, p->aPrefix, p->nPrefix, iRowid, pzVal,
                          pnVal, &p->zErr);
}

/* The key-index key of a converted PK value. */
static int updateIndexKey(UpdateCtx *p, const KalamValue *pVal, KalamBuf *pKey){
  kalamBufInit(pKey);
  kalamKeyIndex(pKey, p->aPrefix, p->nPrefix, pVal);
  return pKey->oom ? SQLITE_NOMEM : SQLITE_OK;
}

/* Removes the entry zKey of a key index or UNIQUE index if it points at
** row iRowid (a row removed for good no longer holds it). */
static int updateUnindexOwned(UpdateCtx *p, const char *zKey, size_t nKey,
                              sqlite3_int64 iRowid){
  char *zGot = 0;
  size_t nGot = 0;
  sqlite3_int64 iOwner;
  int rc = kalamTxnGet(p->pTxn, p->pTab->pCf, zKey, nKey, &zGot, &nGot,
                       &p->zErr);
  if( rc==SQLITE_OK && zGot && kalamKeyRowDecode(zGot, nGot, 0, &iOwner)
   && iOwner==iRowid ){
    kalamTxnDelete(p->pTxn, p->pTab->pCf, zKey, nKey);
  }
  if( zGot ) kalamStoreFree(zGot);
  return rc;
}

/* Removes the change entry of row iRowid whose _seq was iSeq, if it may
** have one (feed.c). Streams have none. A row whose _seq is its row id
** has none while it is hot, but the flush that moves it to a cold file
** gives it one (its row key goes, and the feed must still find it):
** where a table can have cold files, that entry is deleted too, whether
** or not the row was flushed, since telling would cost a read. */
static void updateFeedDelete(UpdateCtx *p, sqlite3_int64 iSeq,
                             sqlite3_int64 iRowid){
  if( p->pSchema->eKind==KALAM_KIND_STREAM ) return;
  if( iSeq==iRowid && !kalamColdHasTier(p->pTab) ) return;
  kalamFeedDelete(p->pTxn, p->pTab->pCf, p->aPrefix, p->nPrefix, iSeq);
}

/* A row left the feed without a soft delete (feed.c): records horizon
** iSeq, or for 0 (a live row removed) the _seq of the write removing it,
** which is newer than anything a reader of the feed has seen. */
static void updateHorizon(UpdateCtx *p, sqlite3_int64 iSeq){
  if( p->pSchema->eKind==KALAM_KIND_STREAM ) return;
  if( iSeq==0 ) iSeq = p->iSeq;
  kalamFeedHorizonAdd(p->pTxn, 0, p->pTab->pCf, p->aPrefix, p->nPrefix, iSeq);
}

/* Removes row iRowid for good, with its key-index entry and its UNIQUE
** entries where they point at it, and its other index entries. zVal is the
** stored row. */
static int updateHardDelete(UpdateCtx *p, sqlite3_int64 iRowid,
                            const char *zVal, size_t nVal){
  const KalamSchema *pSchema = p->pSchema;
  int bHasPk = pSchema->iPk>=0 && !pSchema->bIntPk;
  KalamRow row;
  int rc = SQLITE_OK;

  memset(&row, 0, sizeof(row));
  /* The hot key, and any cold copy (cold_read.c). */
  rc = kalamRowGone(p->pTab, p->aPrefix, p->nPrefix, iRowid, &p->zErr);
  if( rc ) return rc;
  rc = kalamRowParse(&row, pSchema, zVal, nVal);
  if( rc==SQLITE_CORRUPT ){
    /* Nothing readable to unindex; the feed cannot tell what went. */
    updateHorizon(p, 0);
    rc = SQLITE_OK;
    goto done;
  }
  if( rc==SQLITE_OK ){
    updateFeedDelete(p, row.aSys[KALAM_SYS_SEQ], iRowid);
    updateHorizon(p, row.aSys[KALAM_SYS_DELETED] ? row.aSys[KALAM_SYS_SEQ] : 0);
  }
  if( rc==SQLITE_OK && bHasPk ){
    KalamValue v;
    rc = kalamRowColumn(&row, pSchema, pSchema->iPk, &v, &p->zErr);
    if( rc==SQLITE_OK ){
      KalamBuf key;
      rc = updateIndexKey(p, &v, &key);
      if( rc==SQLITE_OK ){
        rc = updateUnindexOwned(p, key.z, (size_t)key.n, iRowid);
      }
      kalamBufFree(&key);
      kalamValueClear(&v);
    }
  }
  if( rc==SQLITE_OK && pSchema->nIndex ){
    KalamIndexKeys keys;
    int i;
    kalamIndexKeysInit(&keys);
    rc = kalamIndexKeys(pSchema, p->aPrefix, p->nPrefix, &row, iRowid, &keys,
                        &p->zErr);
    for(i=0; rc==SQLITE_OK && i<keys.nKey; i++){
      int n;
      const char *z = kalamIndexKey(&keys, i, &n);
      if( keys.abSingle[i] ){
        rc = updateUnindexOwned(p, z, (size_t)n, iRowid);
      }else{
        kalamTxnDelete(p->pTxn, p->pTab->pCf, z, (size_t)n);
      }
    }
    kalamIndexKeysFree(&keys);
  }
done:
  kalamRowFree(&row);
  return rc;
}

/* Takes holder iRowid (and its stored row zVal, which the context then
** frees) into the list of rows the write removes, once. */
static void updateAddHolder(UpdateCtx *p, sqlite3_int64 iRowid, char *zVal,
                            size_t nVal){
  int i;
  for(i=0; i<p->nHolder; i++){
    if( p->aHolder[i].iRowid==iRowid ){
      kalamStoreFree(zVal);
      return;
    }
  }
  assert( p->nHolder < (int)(sizeof(p->aHolder)/sizeof(p->aHolder[0])) );
  p->aHolder[p->nHolder].iRowid = iRowid;
  p->aHolder[p->nHolder].zVal = zVal;
  p->aHolder[p->nHolder].nVal = nVal;
  p->nHolder++;
}

/* Removes every holder for good: the last step before the write. */
static int updateRemoveHolders(UpdateCtx *p){
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<p->nHolder; i++){
    rc = updateHardDelete(p, p->aHolder[i].iRowid, p->aHolder[i].zVal,
                          p->aHolder[i].nVal);
  }
  return rc;
}

static void updateHoldersFree(UpdateCtx *p){
  int i;
  for(i=0; i<p->nHolder; i++) kalamStoreFree(p->aHolder[i].zVal);
  p->nHolder = 0;
}

/* Finds who holds row id iRowid: none, a deleted row or a live one. */
static int updateRowidHolder(UpdateCtx *p, sqlite3_int64 iRowid, int *peHolder,
                             char **pzVal, size_t *pnVal){
  int rc = updateRead(p, iRowid, pzVal, pnVal);
  *peHolder = HOLDER_NONE;
  if( rc==SQLITE_OK && *pzVal ){
    *peHolder = kalamRowIsDeleted(*pzVal, *pnVal) ? HOLDER_DELETED
                                                  : HOLDER_LIVE;
  }
  return rc;
}

/* Finds who holds unique key zKey (of the key index or a UNIQUE index),
** other than row iSelf. */
static int updateKeyHolder(UpdateCtx *p, const char *zKey, size_t nKey,
                           sqlite3_int64 iSelf, int *peHolder,
                           sqlite3_int64 *piRowid, char **pzVal,
                           size_t *pnVal){
  char *zGot = 0;
  size_t nGot = 0;
  int rc;
  *peHolder = HOLDER_NONE;
  *pzVal = 0;
  rc = kalamTxnGet(p->pTxn, p->pTab->pCf, zKey, nKey, &zGot, &nGot,
                   &p->zErr);
  if( rc || zGot==0 ) return rc;
  if( !kalamKeyRowDecode(zGot, nGot, 0, piRowid) ){
    kalamStoreFree(zGot);
    p->zErr = sqlite3_mprintf("corrupt key index entry in kalam table %s",
                              p->pSchema->zTable);
    return SQLITE_CORRUPT;
  }
  kalamStoreFree(zGot);
  if( *piRowid==iSelf ) return SQLITE_OK;
  return updateRowidHolder(p, *piRowid, peHolder, pzVal, pnVal);
}

/* The error for a clash with a live row, unless the clause is REPLACE. */
static int updateClash(UpdateCtx *p, const char *zColumn){
  if( sqlite3_vtab_on_conflict(p->pTab->db)==SQLITE_REPLACE ) return SQLITE_OK;
  p->zErr = sqlite3_mprintf("UNIQUE constraint failed: %s.%s",
                            p->pSchema->zTable, zColumn);
  return SQLITE_CONSTRAINT;
}

/* The error for a clash on UNIQUE index i, unless the clause is
** REPLACE: SQLite names every column, "t.a, t.b". */
static int updateClashIndex(UpdateCtx *p, int i){
  char *zList;
  if( sqlite3_vtab_on_conflict(p->pTab->db)==SQLITE_REPLACE ) return SQLITE_OK;
  zList = kalamIndexColumnList(p->pSchema, i);
  if( zList==0 ) return SQLITE_NOMEM;
  p->zErr = sqlite3_mprintf("UNIQUE constraint failed: %s", zList);
  sqlite3_free(zList);
  return SQLITE_CONSTRAINT;
}

/* Checks one unique key, zKey, of the key index (iIndex<0) or of UNIQUE
** index iIndex, for row iSelf about to become row iNew: a live holder is a
** clash (updateClash), and any holder is taken into the list of rows the
** write removes. A holder that is row iNew itself holds the row id too,
** and was judged by the row id check already. */
static int updateCheckKey(UpdateCtx *p, const char *zKey, size_t nKey,
                          int iIndex, sqlite3_int64 iSelf,
                          sqlite3_int64 iNew){
  const KalamSchema *pSchema = p->pSchema;
  int eHolder = HOLDER_NONE;
  sqlite3_int64 iHolder = 0;
  char *zVal = 0;
  size_t nVal = 0;
  int rc = updateKeyHolder(p, zKey, nKey, iSelf, &eHolder, &iHolder, &zVal,
                           &nVal);
  if( rc==SQLITE_OK && eHolder!=HOLDER_NONE && iHolder==iNew ){
    eHolder = HOLDER_NONE;
  }
  if( rc==SQLITE_OK && eHolder==HOLDER_LIVE ){
    rc = iIndex<0 ? updateClash(p, pSchema->aCol[pSchema->iPk].zName)
                  : updateClashIndex(p, iIndex);
  }
  if( rc==SQLITE_OK && eHolder!=HOLDER_NONE ){
    updateAddHolder(p, iHolder, zVal, nVal);
    zVal = 0;
  }
  if( zVal ) kalamStoreFree(zVal);
  return rc;
}

/* Checks the unique keys of a row being written as iNew (formerly iSelf):
** the PRIMARY KEY's, pPkKey (NULL if it needs no check), and the UNIQUE
** keys without NULLs of pNew, except those equal to pOld's (an UPDATE's
** unchanged keys, still its own). SQLite checks a table's unique keys
** newest declared first, the PRIMARY KEY in its place among them; the
** first clash decides the message, so kalam checks in the same order. */
static int updateCheckKeys(UpdateCtx *p, const KalamBuf *pPkKey,
                           const KalamIndexKeys *pNew,
                           const KalamIndexKeys *pOld, sqlite3_int64 iSelf,
                           sqlite3_int64 iNew){
  const KalamSchema *pSchema = p->pSchema;
  int i, rc = SQLITE_OK;
  if( pPkKey && pSchema->nIndexBeforePk==pSchema->nIndex ){
    rc = updateCheckKey(p, pPkKey->z, (size_t)pPkKey->n, -1, iSelf, iNew);
  }
  for(i=pSchema->nIndex-1; rc==SQLITE_OK && i>=0; i--){
    if( pNew->abSingle[i] && !(pOld && kalamIndexKeySame(pOld, pNew, i)) ){
      int n;
      const char *z = kalamIndexKey(pNew, i, &n);
      rc = updateCheckKey(p, z, (size_t)n, i, iSelf, iNew);
    }
    if( rc==SQLITE_OK && pPkKey && i==pSchema->nIndexBeforePk ){
      rc = updateCheckKey(p, pPkKey->z, (size_t)pPkKey->n, -1, iSelf, iNew);
    }
  }
  return rc;
}

/* Finds who holds row id iRowid (updateRowidHolder) and, if a live row
** does, applies the conflict clause to the clash (updateClash). */
static int updateRowidClash(UpdateCtx *p, sqlite3_int64 iRowid, int *peHolder,
                            char **pzVal, size_t *pnVal){
  const KalamSchema *pSchema = p->pSchema;
  int rc = updateRowidHolder(p, iRowid, peHolder, pzVal, pnVal);
  if( rc==SQLITE_OK && *peHolder==HOLDER_LIVE ){
    rc = updateClash(p, pSchema->bIntPk ? pSchema->aCol[pSchema->iPk].zName
                                        : "rowid");
  }
  return rc;
}

/* Encodes the row into the table's row buffer: pVals[i] for changed
** columns, the old row's JSON text for the others (abKeep[i]), the row id
** for an INTEGER PRIMARY KEY. iSeq is the write's _seq, or 0 to draw a new
** snowflake id. updatePutRow writes it. */
static int updateEncode(UpdateCtx *p, sqlite3_int64 iRowid,
                        const KalamValue *aVal, const unsigned char *abKeep,
                        const KalamRow *pOld, int bDeleted,
                        sqlite3_int64 iSeq){
  const KalamSchema *pSchema = p->pSchema;
  KalamBuf *pB = &p->pTab->rowBuf;   /* reused row after row */
  int i;
  if( iSeq==0 ) iSeq = kalamSnowflakeNext();
  p->iSeq = iSeq;
  kalamRowEncodeBegin(pB);
  for(i=0; i<pSchema->nCol; i++){
    const KalamColumn *pCol = &pSchema->aCol[i];
    if( pSchema->bIntPk && i==pSchema->iPk ){
      KalamValue v;
      memset(&v, 0, sizeof(v));
      v.eType = SQLITE_INTEGER;
      v.i = iRowid;
      kalamRowEncodeValue(pB, pCol, &v, i==0);
    }else if( abKeep && abKeep[i] ){
      int bHas = pOld && pOld->aOff[i]>=0;
      kalamRowEncodeRaw(pB, pCol, bHas ? pOld->z + pOld->aOff[i] : 0,
                        bHas ? pOld->aLen[i] : 0, i==0);
    }else{
      kalamRowEncodeValue(pB, pCol, &aVal[i], i==0);
    }
  }
  /* _updated is the time inside the write's _seq: the same millisecond
  ** as reading the clock again, one clock read fewer per row, and never
  ** behind an earlier write's _updated if the clock steps back. */
  kalamRowEncodeEnd(pB, pSchema->eKind, iSeq,
      kalamSnowflakeMs(pSchema->eKind==KALAM_KIND_STREAM ? iRowid : iSeq),
      bDeleted);
  if( pB->oom ){
    kalamBufFree(pB);   /* and start afresh next time */
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

/* Puts the row updateEncode made as row iRowid, and its change entry. */
static void updatePutRow(UpdateCtx *p, sqlite3_int64 iRowid){
  KalamBuf *pB = &p->pTab->rowBuf;
  char aKey[KALAM_EXPIRYKEY_MAX];
  int nKey = kalamKeyRow(aKey, p->aPrefix, p->nPrefix, iRowid);
  kalamTxnPut(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey, pB->z, (size_t)pB->n);
  if( p->pSchema->eKind!=KALAM_KIND_STREAM ){
    /* A new row whose snowflake id is its _seq too needs no entry: the
    ** feed finds it by its row key (feed.c). */
    if( p->iSeq!=iRowid ){
      kalamFeedPut(p->pTxn, p->pTab->pCf, p->aPrefix, p->nPrefix, p->iSeq,
                   iRowid);
    }
  }else if( p->pSchema->bPerUser ){
    /* Each user's rows are in time order under the user; expiry needs
    ** all users' in one order (keys.c, kalamKeyExpiry). */
    nKey = kalamKeyExpiry(aKey, iRowid, p->aPrefix, p->nPrefix);
    kalamTxnPut(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey, "", 0);
  }
}

/* The index entry keys of the row updateEncode made, as row iRowid, into
** pKeys. pRow is the caller's, opened here on the row buffer. */
static int updateNewKeys(UpdateCtx *p, sqlite3_int64 iRowid, KalamRow *pRow,
                         KalamIndexKeys *pKeys){
  KalamBuf *pB = &p->pTab->rowBuf;
  int rc = kalamRowOpen(pRow, p->pSchema, pB->z, (size_t)pB->n);
  if( rc==SQLITE_OK ){
    pRow->iRowid = iRowid;
    rc = kalamIndexKeys(p->pSchema, p->aPrefix, p->nPrefix, pRow, iRowid,
                        pKeys, &p->zErr);
  }
  return rc;
}

/* Points key-index or index entry zKey at iRowid. */
static void updateIndexPut(UpdateCtx *p, const char *zKey, size_t nKey,
                           sqlite3_int64 iRowid){
  char aVal[KALAM_ROWKEY_MAX];
  int nVal = kalamKeyRow(aVal, 0, 0, iRowid);
  kalamTxnPut(p->pTxn, p->pTab->pCf, zKey, nKey, aVal, (size_t)nVal);
}

/* Converts the row id given to an INSERT or UPDATE. */
static int updateRowidArg(UpdateCtx *p, sqlite3_value *pVal,
                          sqlite3_int64 *piRowid){
  if( sqlite3_value_type(pVal)==SQLITE_INTEGER ){
    *piRowid = sqlite3_value_int64(pVal);
    return SQLITE_OK;
  }
  p->zErr = sqlite3_mprintf("the rowid of kalam table %s must be an integer",
                            p->pSchema->zTable);
  return SQLITE_MISMATCH;
}

/* Refuses a write to a system column. For an INSERT any value other than
** NULL is a write. For an UPDATE, SQLite hands every column the statement
** does not assign as "unchanged" (xColumn honours sqlite3_vtab_nochange),
** so any other value was assigned, even one equal to the stored value. */
static int updateCheckSystem(UpdateCtx *p, int argc, sqlite3_value **argv,
                             int bInsert){
  const KalamSchema *pSchema = p->pSchema;
  const KalamSysColumn *aSys;
  int nSys = kalamSysColumns(pSchema->eKind, &aSys);
  int i;
  for(i=0; i<nSys && 2+pSchema->nCol+i<argc; i++){
    sqlite3_value *pVal = argv[2 + pSchema->nCol + i];
    if( sqlite3_value_nochange(pVal) ) continue;
    if( bInsert && sqlite3_value_type(pVal)==SQLITE_NULL ) continue;
    p->zErr = sqlite3_mprintf("cannot write system column %s of kalam "
        "table %s: it is read-only", aSys[i].zName, pSchema->zTable);
    return SQLITE_READONLY;
  }
  return SQLITE_OK;
}

/* Refuses a NULL for a NOT NULL column. SQLite checks a row in this
** order: NOT NULL, then the row id, then the column types, then UNIQUE
** keys; the first failure decides the message and whether OR IGNORE skips
** the row (it skips NOT NULL and key clashes, not type errors), so kalam
** checks in the same order. Columns an UPDATE leaves unchanged are not
** checked; in an INSERT a NULL takes the column's DEFAULT, which CREATE
** has already checked against NOT NULL. */
static int updateCheckNotNull(UpdateCtx *p, sqlite3_value **argv,
                              int bInsert){
  const KalamSchema *pSchema = p->pSchema;
  int i;
  for(i=0; i<pSchema->nCol; i++){
    const KalamColumn *pCol = &pSchema->aCol[i];
    sqlite3_value *pVal = argv[2 + i];
    if( !pCol->bNotNull || (pSchema->bIntPk && i==pSchema->iPk) ) continue;
    if( sqlite3_value_nochange(pVal) ) continue;
    if( sqlite3_value_type(pVal)!=SQLITE_NULL ) continue;
    if( bInsert && pCol->zDefault ) continue;
    p->zErr = sqlite3_mprintf("NOT NULL constraint failed: %s.%s",
                              pSchema->zTable, pCol->zName);
    return SQLITE_CONSTRAINT;
  }
  return SQLITE_OK;
}

/* Up to this many columns, an INSERT converts its values on the stack. */
#define UPDATE_STACK_COLS 16

static int updateInsert(UpdateCtx *p, sqlite3_value **argv, int argc,
                        sqlite3_int64 *pRowid){
  const KalamSchema *pSchema = p->pSchema;
  KalamValue aValStack[UPDATE_STACK_COLS];
  KalamValue *aVal;
  KalamBuf key;
  KalamRow row;             /* the new row, for its index keys */
  KalamIndexKeys keys;
  char *zRowHolder = 0;
  size_t nRowHolder = 0;
  int eRowHolder = HOLDER_NONE;
  sqlite3_int64 iRowid = 0;
  int bGivenRowid = 0, bPkKey = 0;
  int rc, i;

  kalamBufInit(&key);
  memset(&row, 0, sizeof(row));
  kalamIndexKeysInit(&keys);
  /* Most tables are narrow: no allocation per inserted row for them. */
  if( pSchema->nCol <= UPDATE_STACK_COLS ){
    aVal = aValStack;
  }else{
    aVal = sqlite3_malloc64(sizeof(KalamValue) * pSchema->nCol);
    if( aVal==0 ) return SQLITE_NOMEM;
  }
  memset(aVal, 0, sizeof(KalamValue) * pSchema->nCol);

  rc = updateCheckSystem(p, argc, argv, 1);
  if( rc ) goto done;

  /* The row id: rowid, or the INTEGER PRIMARY KEY column, or a new one. */
  if( sqlite3_value_type(argv[1])!=SQLITE_NULL ){
    rc = updateRowidArg(p, argv[1], &iRowid);
    if( rc ) goto done;
    bGivenRowid = 1;
  }
  if( pSchema->bIntPk
   && sqlite3_value_type(argv[2 + pSchema->iPk])!=SQLITE_NULL ){
    KalamValue v;
    rc = kalamValueConvert(pSchema, pSchema->iPk, argv[2 + pSchema->iPk], &v,
                           &p->zErr);
    if( rc ) goto done;
    iRowid = v.i;
    kalamValueClear(&v);
    bGivenRowid = 1;
  }
  if( bGivenRowid && pSchema->eKind==KALAM_KIND_STREAM ){
    p->zErr = sqlite3_mprintf("kalam_stream table %s assigns its own row ids "
        "(they carry the time of the insert)", pSchema->zTable);
    rc = SQLITE_MISMATCH;
    goto done;
  }
  if( !bGivenRowid ) iRowid = kalamSnowflakeNext();

  /* Every check before anything is written, in SQLite's order (see
  ** updateCheckNotNull). A new snowflake id clashes with nothing, so only
  ** a given row id is looked up. */
  rc = updateCheckNotNull(p, argv, 1);
  if( rc ) goto done;
  if( bGivenRowid ){
    rc = updateRowidClash(p, iRowid, &eRowHolder, &zRowHolder, &nRowHolder);
    if( rc ) goto done;
    if( eRowHolder!=HOLDER_NONE ){
      updateAddHolder(p, iRowid, zRowHolder, nRowHolder);
      zRowHolder = 0;
    }
  }
  for(i=0; i<pSchema->nCol; i++){
    if( pSchema->bIntPk && i==pSchema->iPk ) continue;
    if( sqlite3_value_type(argv[2 + i])==SQLITE_NULL
     && pSchema->aCol[i].zDefault ){
      rc = kalamValueDefault(pSchema, i, &aVal[i], &p->zErr);
    }else{
      rc = kalamValueConvert(pSchema, i, argv[2 + i], &aVal[i], &p->zErr);
    }
    if( rc ) goto done;
  }
  /* A row id drawn for this insert is a snowflake id newer than any
  ** write before it: it serves as the row's _seq too. */
  rc = updateEncode(p, iRowid, aVal, 0, 0, 0, bGivenRowid ? 0 : iRowid);
  if( rc ) goto done;
  if( pSchema->iPk>=0 && !pSchema->bIntPk ){
    rc = updateIndexKey(p, &aVal[pSchema->iPk], &key);
    if( rc ) goto done;
    bPkKey = aVal[pSchema->iPk].eType!=SQLITE_NULL;
  }
  if( pSchema->nIndex ){
    rc = updateNewKeys(p, iRowid, &row, &keys);
    if( rc ) goto done;
  }
  if( bPkKey || pSchema->nIndex ){
    rc = updateCheckKeys(p, bPkKey ? &key : 0, &keys, 0, iRowid, iRowid);
    if( rc ) goto done;
  }

  rc = updateRemoveHolders(p);
  if( rc ) goto done;
  updatePutRow(p, iRowid);
  if( bPkKey ) updateIndexPut(p, key.z, (size_t)key.n, iRowid);
  for(i=0; i<keys.nKey; i++){
    int n;
    const char *z = kalamIndexKey(&keys, i, &n);
    updateIndexPut(p, z, (size_t)n, iRowid);
  }
  *pRowid = iRowid;

done:
  for(i=0; i<pSchema->nCol; i++) kalamValueClear(&aVal[i]);
  if( aVal!=aValStack ) sqlite3_free(aVal);
  kalamBufFree(&key);
  kalamRowFree(&row);
  kalamIndexKeysFree(&keys);
  if( zRowHolder ) kalamStoreFree(zRowHolder);
  return rc;
}

/* Writes the index entries of an UPDATE that moves a row from iOld (keys
** pOld) to iNew (keys pNew): an entry whose key or row id changed moves. */
static void updateIndexMove(UpdateCtx *p, const KalamIndexKeys *pOld,
                            const KalamIndexKeys *pNew, sqlite3_int64 iOld,
                            sqlite3_int64 iNew){
  int i;
  for(i=0; i<pNew->nKey; i++){
    int nOld, nNew;
    const char *zOld = kalamIndexKey(pOld, i, &nOld);
    const char *zNew = kalamIndexKey(pNew, i, &nNew);
    int bSame = kalamIndexKeySame(pOld, pNew, i);
    if( bSame && iOld==iNew ) continue;
    if( !bSame ) kalamTxnDelete(p->pTxn, p->pTab->pCf, zOld, (size_t)nOld);
    updateIndexPut(p, zNew, (size_t)nNew, iNew);
  }
}

static int updateUpdate(UpdateCtx *p, sqlite3_value **argv, int argc){
  const KalamSchema *pSchema = p->pSchema;
  KalamValue *aVal = 0;
  unsigned char *abKeep = 0;
  KalamRow old, row;
  KalamBuf oldKey, newKey;
  KalamIndexKeys oldKeys, newKeys;
  char *zOld = 0, *zRowHolder = 0;
  size_t nOld = 0, nRowHolder = 0;
  int eRowHolder = HOLDER_NONE;
  sqlite3_int64 iOld, iNew;
  int bPkChanged = 0, bHasPk = pSchema->iPk>=0 && !pSchema->bIntPk;
  int rc, i;

  memset(&old, 0, sizeof(old));
  memset(&row, 0, sizeof(row));
  kalamBufInit(&oldKey);
  kalamBufInit(&newKey);
  kalamIndexKeysInit(&oldKeys);
  kalamIndexKeysInit(&newKeys);
  rc = updateRowidArg(p, argv[0], &iOld);
  if( rc ) goto done;
  rc = updateRowidArg(p, argv[1], &iNew);
  if( rc ) goto done;
  rc = updateRead(p, iOld, &zOld, &nOld);
  if( rc || zOld==0 ) goto done;
  rc = kalamRowParse(&old, pSchema, zOld, nOld);
  if( rc ){
    p->zErr = kalamRowCorruptMessage(pSchema, iOld);
    goto done;
  }
  rc = updateCheckSystem(p, argc, argv, 0);
  if( rc ) goto done;

  /* SET id = ... on an INTEGER PRIMARY KEY moves the row like SET rowid. */
  if( pSchema->bIntPk ){
    sqlite3_value *pPk = argv[2 + pSchema->iPk];
    if( !sqlite3_value_nochange(pPk) && sqlite3_value_type(pPk)==SQLITE_NULL ){
      /* SQLite refuses this too ("datatype mismatch"); a row id is never
      ** NULL. */
      p->zErr = sqlite3_mprintf("datatype mismatch: the INTEGER PRIMARY KEY "
          "%s.%s cannot be set to NULL", pSchema->zTable,
          pSchema->aCol[pSchema->iPk].zName);
      rc = SQLITE_MISMATCH;
      goto done;
    }
    if( !sqlite3_value_nochange(pPk) ){
      KalamValue v;
      rc = kalamValueConvert(pSchema, pSchema->iPk, pPk, &v, &p->zErr);
      if( rc ) goto done;
      if( v.i!=iOld ) iNew = v.i;
      kalamValueClear(&v);
    }
  }

  /* NOT NULL, then the row id, then the types, then the keys: SQLite's
  ** order (see updateCheckNotNull). */
  rc = updateCheckNotNull(p, argv, 0);
  if( rc ) goto done;
  if( iNew!=iOld ){
    rc = updateRowidClash(p, iNew, &eRowHolder, &zRowHolder, &nRowHolder);
    if( rc ) goto done;
    if( eRowHolder!=HOLDER_NONE ){
      updateAddHolder(p, iNew, zRowHolder, nRowHolder);
      zRowHolder = 0;
    }
  }

  aVal = sqlite3_malloc64((sizeof(KalamValue) + 1) * pSchema->nCol);
  if( aVal==0 ){ rc = SQLITE_NOMEM; goto done; }
  memset(aVal, 0, (sizeof(KalamValue) + 1) * pSchema->nCol);
  abKeep = (unsigned char*)&aVal[pSchema->nCol];
  for(i=0; i<pSchema->nCol; i++){
    if( pSchema->bIntPk && i==pSchema->iPk ) continue;
    if( sqlite3_value_nochange(argv[2 + i]) ){
      abKeep[i] = 1;
      continue;
    }
    rc = kalamValueConvert(pSchema, i, argv[2 + i], &aVal[i], &p->zErr);
    if( rc ) goto done;
  }
  rc = updateEncode(p, iNew, aVal, abKeep, &old,
                    (int)old.aSys[KALAM_SYS_DELETED], 0);
  if( rc ) goto done;

  if( bHasPk ){
    KalamValue v;
    rc = kalamRowColumn(&old, pSchema, pSchema->iPk, &v, &p->zErr);
    if( rc ) goto done;
    if( v.eType!=SQLITE_NULL ) rc = updateIndexKey(p, &v, &oldKey);
    kalamValueClear(&v);
    if( rc ) goto done;
    if( !abKeep[pSchema->iPk] ){
      if( aVal[pSchema->iPk].eType!=SQLITE_NULL ){
        rc = updateIndexKey(p, &aVal[pSchema->iPk], &newKey);
        if( rc ) goto done;
      }
      bPkChanged = oldKey.n!=newKey.n
                || (oldKey.n && memcmp(oldKey.z, newKey.z, (size_t)oldKey.n));
    }else if( oldKey.n ){
      kalamBufAppend(&newKey, oldKey.z, oldKey.n);
      if( newKey.oom ){ rc = SQLITE_NOMEM; goto done; }
    }
  }
  if( pSchema->nIndex ){
    rc = kalamIndexKeys(pSchema, p->aPrefix, p->nPrefix, &old, iOld,
                        &oldKeys, &p->zErr);
    if( rc==SQLITE_OK ) rc = updateNewKeys(p, iNew, &row, &newKeys);
    if( rc ) goto done;
  }
  if( (bPkChanged && newKey.n) || pSchema->nIndex ){
    rc = updateCheckKeys(p, (bPkChanged && newKey.n) ? &newKey : 0,
                         &newKeys, &oldKeys, iOld, iNew);
    if( rc ) goto done;
  }

  rc = updateRemoveHolders(p);
  if( rc ) goto done;
  updateFeedDelete(p, old.aSys[KALAM_SYS_SEQ], iOld);
  if( iNew!=iOld ){
    /* The old row id goes, hot and cold (cold_read.c). */
    rc = kalamRowGone(p->pTab, p->aPrefix, p->nPrefix, iOld, &p->zErr);
    if( rc ) goto done;
    /* Row iOld is gone from the feed, which keys rows by row id. */
    updateHorizon(p, old.aSys[KALAM_SYS_DELETED] ? old.aSys[KALAM_SYS_SEQ]:0);
  }
  updatePutRow(p, iNew);
  if( bHasPk ){
    if( bPkChanged && oldKey.n ){
      kalamTxnDelete(p->pTxn, p->pTab->pCf, oldKey.z, (size_t)oldKey.n);
    }
    if( newKey.n && (bPkChanged || iNew!=iOld) ){
      updateIndexPut(p, newKey.z, (size_t)newKey.n, iNew);
    }
  }
  if( pSchema->nIndex ) updateIndexMove(p, &oldKeys, &newKeys, iOld, iNew);

done:
  if( aVal ){
    for(i=0; i<pSchema->nCol; i++) kalamValueClear(&aVal[i]);
    sqlite3_free(aVal);
  }
  kalamRowFree(&old);
  kalamRowFree(&row);
  kalamBufFree(&oldKey);
  kalamBufFree(&newKey);
  kalamIndexKeysFree(&oldKeys);
  kalamIndexKeysFree(&newKeys);
  if( zOld ) kalamStoreFree(zOld);
  if( zRowHolder ) kalamStoreFree(zRowHolder);
  return rc;
}

/* DELETE: the row stays, marked deleted, with its values. */
static int updateDelete(UpdateCtx *p, sqlite3_value *pRowid){
  KalamRow old;
  char *zOld = 0;
  size_t nOld = 0;
  unsigned char *abKeep = 0;
  sqlite3_int64 iRowid;
  int rc;

  memset(&old, 0, sizeof(old));
  rc = updateRowidArg(p, pRowid, &iRowid);
  if( rc ) return rc;
  rc = updateRead(p, iRowid, &zOld, &nOld);
  if( rc || zOld==0 ) goto done;
  rc = kalamRowParse(&old, p->pSchema, zOld, nOld);
  if( rc ){
    p->zErr = kalamRowCorruptMessage(p->pSchema, iRowid);
    goto done;
  }
  abKeep = sqlite3_malloc(p->pSchema->nCol);
  if( abKeep==0 ){ rc = SQLITE_NOMEM; goto done; }
  memset(abKeep, 1, (size_t)p->pSchema->nCol);
  /* The index entries stay: their keys do not depend on _deleted, and a
  ** deleted row holds its values until another row takes one. */
  rc = updateEncode(p, iRowid, 0, abKeep, &old, 1, 0);
  if( rc==SQLITE_OK ){
    updateFeedDelete(p, old.aSys[KALAM_SYS_SEQ], iRowid);
    updatePutRow(p, iRowid);
  }

done:
  sqlite3_free(abKeep);
  kalamRowFree(&old);
  if( zOld ) kalamStoreFree(zOld);
  return rc;
}

int kalamTableUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                     sqlite3_int64 *pRowid){
  KalamTable *pTab = (KalamTable*)pVtab;
  UpdateCtx ctx;
  int rc;

  /* Not the holder slots: nHolder says how many are in use. */
  memset(&ctx, 0, offsetof(UpdateCtx, aHolder));
  ctx.pTab = pTab;
  ctx.pSchema = pTab->pSchema;

  if( pTab->zBroken ){
    kalamTableError(pTab, sqlite3_mprintf("%s", pTab->zBroken));
    return SQLITE_CORRUPT;
  }
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM
   && (argc==1 || sqlite3_value_type(argv[0])!=SQLITE_NULL) ){
    kalamTableError(pTab, sqlite3_mprintf("kalam_stream table %s is "
        "append-only: %s is refused", pTab->pSchema->zTable,
        argc==1 ? "DELETE" : "UPDATE"));
    return SQLITE_READONLY;
  }
  rc = kalamTableOwnerPrefix(pTab, ctx.aPrefix, &ctx.nPrefix);
  if( rc ) return rc;
  ctx.pTxn = pTab->pDb->pTxn;
  rc = kalamStoreWriteRefused(pTab->pDb->pStore, &ctx.zErr);
  if( rc ) goto done;
  if( !kalamTxnIsOpen(pTab->pDb->pTxn) ){
    rc = kalamTxnBegin(pTab->pDb->pTxn);
    if( rc ) return rc;
  }
  rc = kalamHousekeep(pTab, KALAM_HOUSEKEEP_WRITE, &ctx.zErr);
  if( rc ) goto done;

  if( argc==1 ){
    rc = updateDelete(&ctx, argv[0]);
  }else if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    rc = updateInsert(&ctx, argv, argc, pRowid);
  }else{
    rc = updateUpdate(&ctx, argv, argc);
  }

done:
  updateHoldersFree(&ctx);
  if( ctx.zErr ) kalamTableError(pTab, ctx.zErr);
  return rc;
}
