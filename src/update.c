/*
** update.c — xUpdate: INSERT, UPDATE and DELETE on kalam tables.
**
** Every write goes into the connection's transaction (txn.c), under
** the owner prefix of the table (the current user's for kalam_user), so a
** write can only ever land in the writer's own rows.
**
**   INSERT  the row id is the one given (rowid or INTEGER PRIMARY KEY) or a
**           new snowflake id; values are converted to their column types
**           (value.c); the row and its key-index entry are written.
**   UPDATE  columns SQLite reports unchanged (sqlite3_value_nochange) keep
**           their stored JSON text as it is; system columns are read-only.
**   DELETE  soft: the row is rewritten with _deleted 1 and new _seq and
**           _updated, all its values kept. Streams refuse UPDATE and DELETE.
**
** Uniqueness. A row id and a PRIMARY KEY value each belong to at most one
** stored row, deleted or not. A clash with a soft-deleted row is no clash:
** that row is removed for good and the new one takes its place. A clash
** with a live row follows the statement's conflict clause, read with
** sqlite3_vtab_on_conflict: REPLACE removes the old row; any other clause
** returns SQLITE_CONSTRAINT with SQLite's message, and SQLite does the rest
** (IGNORE skips the row, FAIL keeps earlier rows, ABORT and ROLLBACK roll
** back). All clashes are found before anything is written, and a row is
** checked in SQLite's order: NOT NULL, the row id, the column types, the
** key (updateCheckNotNull says why the order matters).
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* What holds a row id or a key. */
#define HOLDER_NONE    0
#define HOLDER_DELETED 1
#define HOLDER_LIVE    2

typedef struct UpdateCtx UpdateCtx;
struct UpdateCtx {
  KalamTable *pTab;
  const KalamSchema *pSchema;
  KalamTxn *pTxn;       /* the connection's transaction on the store */
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  char *zErr;           /* message for pTab->base.zErrMsg */
};

/* Reads the stored row of iRowid. *pzVal is NULL if there is none; else the
** caller frees it with kalamStoreFree. */
static int updateRead(UpdateCtx *p, sqlite3_int64 iRowid, char **pzVal,
                      size_t *pnVal){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyRow(aKey, p->aPrefix, p->nPrefix, iRowid);
  return kalamTxnGet(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey, pzVal, pnVal,
                     &p->zErr);
}

/* The key-index key of a converted PK value. */
static int updateIndexKey(UpdateCtx *p, const KalamValue *pVal, KalamBuf *pKey){
  kalamBufInit(pKey);
  kalamKeyIndex(pKey, p->aPrefix, p->nPrefix, pVal);
  return pKey->oom ? SQLITE_NOMEM : SQLITE_OK;
}

/* Removes row iRowid for good, with its key-index entry if that entry
** points at it. zVal is the stored row. */
static int updateHardDelete(UpdateCtx *p, sqlite3_int64 iRowid,
                            const char *zVal, size_t nVal){
  char aKey[KALAM_ROWKEY_MAX];
  int nKey = kalamKeyRow(aKey, p->aPrefix, p->nPrefix, iRowid);
  int rc = SQLITE_OK;
  kalamTxnDelete(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey);
  if( p->pSchema->iPk>=0 && !p->pSchema->bIntPk ){
    KalamRow row;
    KalamValue v;
    memset(&row, 0, sizeof(row));
    rc = kalamRowParse(&row, p->pSchema, zVal, nVal);
    if( rc==SQLITE_OK ){
      rc = kalamRowColumn(&row, p->pSchema, p->pSchema->iPk, &v, &p->zErr);
      if( rc==SQLITE_OK ){
        KalamBuf key;
        char *zGot = 0;
        size_t nGot = 0;
        sqlite3_int64 iOwner;
        rc = updateIndexKey(p, &v, &key);
        if( rc==SQLITE_OK ){
          rc = kalamTxnGet(p->pTxn, p->pTab->pCf, key.z, (size_t)key.n, &zGot,
                           &nGot, &p->zErr);
        }
        if( rc==SQLITE_OK && zGot && kalamKeyRowDecode(zGot, nGot, 0, &iOwner)
         && iOwner==iRowid ){
          kalamTxnDelete(p->pTxn, p->pTab->pCf, key.z, (size_t)key.n);
        }
        if( zGot ) kalamStoreFree(zGot);
        kalamBufFree(&key);
        kalamValueClear(&v);
      }
    }else if( rc==SQLITE_CORRUPT ){
      rc = SQLITE_OK; /* nothing readable to unindex */
    }
    kalamRowFree(&row);
  }
  return rc;
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

/* Finds who holds PK key pKey, other than row iSelf. */
static int updateKeyHolder(UpdateCtx *p, const KalamBuf *pKey,
                           sqlite3_int64 iSelf, int *peHolder,
                           sqlite3_int64 *piRowid, char **pzVal,
                           size_t *pnVal){
  char *zGot = 0;
  size_t nGot = 0;
  int rc;
  *peHolder = HOLDER_NONE;
  *pzVal = 0;
  rc = kalamTxnGet(p->pTxn, p->pTab->pCf, pKey->z, (size_t)pKey->n, &zGot,
                   &nGot, &p->zErr);
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

/* Writes the row: pVals[i] for changed columns, the old row's JSON text
** for the others (abKeep[i]), the row id for an INTEGER PRIMARY KEY.
** iSeq is the write's _seq, or 0 to draw a new snowflake id. */
static int updateWrite(UpdateCtx *p, sqlite3_int64 iRowid,
                       const KalamValue *aVal, const unsigned char *abKeep,
                       const KalamRow *pOld, int bDeleted,
                       sqlite3_int64 iSeq){
  const KalamSchema *pSchema = p->pSchema;
  KalamBuf *pB = &p->pTab->rowBuf;   /* reused row after row */
  char aKey[KALAM_ROWKEY_MAX];
  int nKey, i;
  if( iSeq==0 ) iSeq = kalamSnowflakeNext();
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
  nKey = kalamKeyRow(aKey, p->aPrefix, p->nPrefix, iRowid);
  kalamTxnPut(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey, pB->z, (size_t)pB->n);
  return SQLITE_OK;
}

/* Points key-index entry pKey at iRowid. */
static void updateIndexPut(UpdateCtx *p, const KalamBuf *pKey,
                           sqlite3_int64 iRowid){
  char aVal[KALAM_ROWKEY_MAX];
  int nVal = kalamKeyRow(aVal, 0, 0, iRowid);
  kalamTxnPut(p->pTxn, p->pTab->pCf, pKey->z, (size_t)pKey->n, aVal,
              (size_t)nVal);
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
  char *zRowHolder = 0, *zKeyHolder = 0;
  size_t nRowHolder = 0, nKeyHolder = 0;
  int eRowHolder = HOLDER_NONE, eKeyHolder = HOLDER_NONE;
  sqlite3_int64 iRowid = 0, iKeyRowid = 0;
  int bGivenRowid = 0;
  int rc, i;

  kalamBufInit(&key);
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
  if( pSchema->iPk>=0 && !pSchema->bIntPk ){
    rc = updateIndexKey(p, &aVal[pSchema->iPk], &key);
    if( rc ) goto done;
    if( aVal[pSchema->iPk].eType!=SQLITE_NULL ){
      rc = updateKeyHolder(p, &key, iRowid, &eKeyHolder, &iKeyRowid,
                           &zKeyHolder, &nKeyHolder);
      if( rc ) goto done;
      if( eKeyHolder==HOLDER_LIVE ){
        rc = updateClash(p, pSchema->aCol[pSchema->iPk].zName);
        if( rc ) goto done;
      }
    }
  }

  if( eRowHolder!=HOLDER_NONE ){
    rc = updateHardDelete(p, iRowid, zRowHolder, nRowHolder);
    if( rc ) goto done;
  }
  if( eKeyHolder!=HOLDER_NONE ){
    rc = updateHardDelete(p, iKeyRowid, zKeyHolder, nKeyHolder);
    if( rc ) goto done;
  }
  /* A row id drawn for this insert is a snowflake id newer than any
  ** write before it: it serves as the row's _seq too. */
  rc = updateWrite(p, iRowid, aVal, 0, 0, 0, bGivenRowid ? 0 : iRowid);
  if( rc ) goto done;
  if( key.n && aVal[pSchema->iPk].eType!=SQLITE_NULL ){
    updateIndexPut(p, &key, iRowid);
  }
  *pRowid = iRowid;

done:
  for(i=0; i<pSchema->nCol; i++) kalamValueClear(&aVal[i]);
  if( aVal!=aValStack ) sqlite3_free(aVal);
  kalamBufFree(&key);
  if( zRowHolder ) kalamStoreFree(zRowHolder);
  if( zKeyHolder ) kalamStoreFree(zKeyHolder);
  return rc;
}

static int updateUpdate(UpdateCtx *p, sqlite3_value **argv, int argc){
  const KalamSchema *pSchema = p->pSchema;
  KalamValue *aVal = 0;
  unsigned char *abKeep = 0;
  KalamRow old;
  KalamBuf oldKey, newKey;
  char *zOld = 0, *zRowHolder = 0, *zKeyHolder = 0;
  size_t nOld = 0, nRowHolder = 0, nKeyHolder = 0;
  int eRowHolder = HOLDER_NONE, eKeyHolder = HOLDER_NONE;
  sqlite3_int64 iOld, iNew, iKeyRowid = 0;
  int bPkChanged = 0, bHasPk = pSchema->iPk>=0 && !pSchema->bIntPk;
  int rc, i;

  memset(&old, 0, sizeof(old));
  kalamBufInit(&oldKey);
  kalamBufInit(&newKey);
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

  /* NOT NULL, then the row id, then the types, then the key: SQLite's
  ** order (see updateCheckNotNull). */
  rc = updateCheckNotNull(p, argv, 0);
  if( rc ) goto done;
  if( iNew!=iOld ){
    rc = updateRowidClash(p, iNew, &eRowHolder, &zRowHolder, &nRowHolder);
    if( rc ) goto done;
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

  if( bPkChanged && newKey.n ){
    rc = updateKeyHolder(p, &newKey, iOld, &eKeyHolder, &iKeyRowid,
                         &zKeyHolder, &nKeyHolder);
    if( rc ) goto done;
    if( eKeyHolder!=HOLDER_NONE && iKeyRowid==iNew ){
      eKeyHolder = HOLDER_NONE; /* the same row as the row id clash */
    }
    if( eKeyHolder==HOLDER_LIVE ){
      rc = updateClash(p, pSchema->aCol[pSchema->iPk].zName);
      if( rc ) goto done;
    }
  }

  if( eRowHolder!=HOLDER_NONE ){
    rc = updateHardDelete(p, iNew, zRowHolder, nRowHolder);
    if( rc ) goto done;
  }
  if( eKeyHolder!=HOLDER_NONE ){
    rc = updateHardDelete(p, iKeyRowid, zKeyHolder, nKeyHolder);
    if( rc ) goto done;
  }
  if( iNew!=iOld ){
    char aKey[KALAM_ROWKEY_MAX];
    int nKey = kalamKeyRow(aKey, p->aPrefix, p->nPrefix, iOld);
    kalamTxnDelete(p->pTxn, p->pTab->pCf, aKey, (size_t)nKey);
  }
  rc = updateWrite(p, iNew, aVal, abKeep, &old,
                   (int)old.aSys[KALAM_SYS_DELETED], 0);
  if( rc ) goto done;
  if( bHasPk ){
    if( bPkChanged && oldKey.n ){
      kalamTxnDelete(p->pTxn, p->pTab->pCf, oldKey.z, (size_t)oldKey.n);
    }
    if( newKey.n && (bPkChanged || iNew!=iOld) ){
      updateIndexPut(p, &newKey, iNew);
    }
  }

done:
  if( aVal ){
    for(i=0; i<pSchema->nCol; i++) kalamValueClear(&aVal[i]);
    sqlite3_free(aVal);
  }
  kalamRowFree(&old);
  kalamBufFree(&oldKey);
  kalamBufFree(&newKey);
  if( zOld ) kalamStoreFree(zOld);
  if( zRowHolder ) kalamStoreFree(zRowHolder);
  if( zKeyHolder ) kalamStoreFree(zKeyHolder);
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
  rc = updateWrite(p, iRowid, 0, abKeep, &old, 1, 0);

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

  memset(&ctx, 0, sizeof(ctx));
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
  if( ctx.zErr ) kalamTableError(pTab, ctx.zErr);
  return rc;
}
