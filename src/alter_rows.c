/*
** alter_rows.c — the stored rows and index entries of a schema change
** (kalam_alter, alter.c): one pass over every key of the table, every
** user's, in the caller's transaction.
**
**   ADD COLUMN with a DEFAULT   each row gets the default under the new key
**   DROP COLUMN, RENAME COLUMN  each row is written again with the new
**                               schema's keys (a value moves with its
**                               column's id, which RENAME keeps)
**   ADD INDEX, ADD UNIQUE       each row's entry is written; a UNIQUE key
**                               that another row (live or deleted) holds
**                               already fails naming both rows
**   DROP INDEX, DROP UNIQUE     the index's entries are deleted
**
** A row keeps its _seq, _updated and _deleted: the change is no write of
** the row. Row values are copied as their JSON text, never converted.
** The iterator (txn_iter.c) reads the transaction's own writes as of its
** creation, so the rows written during the pass are not read again.
**
** Rows in cold files (cold_read.c) are never rewritten: their columns
** are found by id, so they follow the column changes as they are. But
** the entries of a new index stay hot and must name them too, so ADD
** INDEX reads every row as the table's readers see it, hot and cold
** merged (kalamRowIter), owner by owner (admin.c's kalamOwnersEach finds
** the owners of a kalam_user table: one with cold rows has keys still, its
** segment records). Its entries go into the transaction like the other
** changes' writes, so they commit, or not, with the new schema.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3


/* What the pass over the stored keys needs. */
typedef struct AlterPass AlterPass;
struct AlterPass {
  int eOp;                /* KALAM_ALTER_* */
  KalamSchema *pOld, *pNew;
  KalamTable *pTab;       /* the table, connected with schema pOld */
  KalamTxn *pTxn;
  KalamCf *pCf;
  int iNum;               /* ADD or DROP INDEX: its number */
  int iNewIndex;          /* ADD INDEX: its place in pNew->aIndex */
  int bRewrite;           /* rows are written again */
  int *aiOld;             /* per new column: the old column, or -1 */
  KalamBuf row;
  KalamRow parsed;
  KalamIndexKeys keys;
};

/* Writes row (key k, JSON z) again in the new schema's columns. */
static int alterRewriteRow(AlterPass *p, const char *k, size_t nk,
                           const char *z, size_t n, sqlite3_int64 iRowid,
                           char **pzErr){
  KalamSchema *pNew = p->pNew;
  KalamRow *pRow = &p->parsed;
  int i, nOut = 0, rc;
  pRow->iRowid = iRowid;
  rc = kalamRowParse(pRow, p->pOld, z, n);
  if( rc ){
    if( rc==SQLITE_CORRUPT ) *pzErr = kalamRowCorruptMessage(p->pOld, iRowid);
    return rc;
  }
  kalamRowEncodeBegin(&p->row);
  for(i=0; i<pNew->nCol; i++){
    const KalamColumn *pCol = &pNew->aCol[i];
    int iOld = p->aiOld[i];
    if( iOld>=0 ){
      if( pRow->aOff[iOld]<0 ) continue;    /* never written: stays NULL */
      kalamRowEncodeRaw(&p->row, pCol, pRow->z + pRow->aOff[iOld],
                        pRow->aLen[iOld], nOut++==0);
    }else if( pCol->zDefault && pCol->dflt.eType!=SQLITE_NULL ){
      KalamValue v;
      memset(&v, 0, sizeof(v));
      rc = kalamValueDefault(pNew, i, &v, pzErr);
      if( rc==SQLITE_OK ) kalamRowEncodeValue(&p->row, pCol, &v, nOut++==0);
      kalamValueClear(&v);
      if( rc ) return rc;
    }
  }
  kalamRowEncodeEnd(&p->row, pNew->eKind, pRow->aSys[KALAM_SYS_SEQ],
                    pRow->aSys[KALAM_SYS_UPDATED],
                    (int)pRow->aSys[KALAM_SYS_DELETED]);
  if( p->row.oom ) return SQLITE_NOMEM;
  kalamTxnPut(p->pTxn, p->pCf, k, nk, p->row.z, (size_t)p->row.n);
  return SQLITE_OK;
}

/* Writes the new index's entry for one row; a UNIQUE key another row
** holds already fails, naming both rows. */
static int alterIndexRow(AlterPass *p, const char *aPrefix, int nPrefix,
                         const char *z, size_t n, sqlite3_int64 iRowid,
                         char **pzErr){
  KalamSchema *pNew = p->pNew;
  char aVal[KALAM_ROWKEY_MAX];
  const char *zKey;
  int nKey, nVal, rc;
  p->parsed.iRowid = iRowid;
  rc = kalamRowParse(&p->parsed, pNew, z, n);
  if( rc ){
    if( rc==SQLITE_CORRUPT ) *pzErr = kalamRowCorruptMessage(pNew, iRowid);
    return rc;
  }
  rc = kalamIndexKeys(pNew, aPrefix, nPrefix, &p->parsed, iRowid, &p->keys,
                      pzErr);
  if( rc ) return rc;
  zKey = kalamIndexKey(&p->keys, p->iNewIndex, &nKey);
  if( p->keys.abSingle[p->iNewIndex] ){
    char *zHave = 0;
    size_t nHave = 0;
    rc = kalamTxnGet(p->pTxn, p->pCf, zKey, (size_t)nKey, &zHave, &nHave,
                     pzErr);
    if( rc ) return rc;
    if( zHave ){
      sqlite3_int64 iOther = 0;
      const KalamIndex *pIdx = &pNew->aIndex[p->iNewIndex];
      char *zIdx = kalamAlterIndexName(pNew, pIdx);
      KalamBuf cols;
      int j;
      kalamBufInit(&cols);
      for(j=0; j<pIdx->nCol; j++){
        if( j ) kalamBufAppendStr(&cols, ", ");
        kalamBufAppendStr(&cols, pNew->zTable);
        kalamBufAppendChar(&cols, '.');
        kalamBufAppendStr(&cols, pNew->aCol[pIdx->aiCol[j]].zName);
      }
      kalamKeyRowDecode(zHave, nHave, 0, &iOther);
      kalamStoreFree(zHave);
      *pzErr = sqlite3_mprintf("UNIQUE constraint failed: %s: cannot add %s "
          "to table %s: rows %lld and %lld%s%.*s hold the same value (rows "
          "in the trash count too: kalam_purge removes them)",
          cols.oom ? "?" : cols.z, zIdx ? zIdx : "UNIQUE", pNew->zTable,
          iOther, iRowid, nPrefix ? " of user " : "",
          nPrefix ? nPrefix - 1 : 0, aPrefix + 1);
      sqlite3_free(zIdx);
      kalamBufFree(&cols);
      return SQLITE_CONSTRAINT;
    }
  }
  nVal = kalamKeyRow(aVal, 0, 0, iRowid);
  kalamTxnPut(p->pTxn, p->pCf, zKey, (size_t)nKey, aVal, (size_t)nVal);
  return SQLITE_OK;
}

/* ADD INDEX for one owner (also kalamOwnersEach's callback): every row,
** hot and cold merged, live and deleted, gets its entry. */
static int alterIndexOwner(void *pArg, const char *aPrefix, int nPrefix,
                           char **pzErr){
  AlterPass *p = (AlterPass*)pArg;
  KalamRowIter *pRows;
  int rc = SQLITE_OK;
  pRows = kalamRowIterNew(p->pTab, aPrefix, nPrefix, INT64_MIN, INT64_MAX, 0,
                          KALAM_ITER_BULK, &rc, pzErr);
  if( pRows==0 ) return rc ? rc : SQLITE_NOMEM;
  for(; rc==SQLITE_OK && kalamRowIterValid(pRows); kalamRowIterNext(pRows)){
    size_t nk, nv;
    const char *k = kalamRowIterKey(pRows, &nk);
    const char *v = kalamRowIterValue(pRows, &nv);
    sqlite3_int64 iRowid;
    if( !kalamKeyRowDecode(k, nk, nPrefix, &iRowid) ) continue;
    rc = alterIndexRow(p, aPrefix, nPrefix, v, nv, iRowid, pzErr);
  }
  if( rc==SQLITE_OK ) rc = kalamRowIterError(pRows, pzErr);
  kalamRowIterFree(pRows);
  return rc;
}

/* One pass over every hot key of the table, every user's: rows are
** written again, or a dropped index's entries deleted. */
static int alterPassRun(AlterPass *p, char **pzErr){
  static const char aHi[1] = { (char)0xff };
  KalamIter *pIter;
  int rc = SQLITE_OK;
  pIter = kalamTxnIterator(p->pTxn, p->pCf, "", 0, aHi, 1, KALAM_ITER_BULK);
  if( pIter==0 ) return SQLITE_NOMEM;
  for(kalamIterSeek(pIter, "", 0); rc==SQLITE_OK && kalamIterValid(pIter);
      kalamIterNext(pIter)){
    size_t nk, nv;
    const char *k = kalamIterKey(pIter, &nk);
    const char *v;
    int nPrefix = 0;
    sqlite3_int64 iRowid;
    if( p->pNew->eKind==KALAM_KIND_USER ){
      nPrefix = kalamKeyOwnerLength(k, nk);
      if( nPrefix<0 ) continue;   /* not a key of a user's */
    }
    if( p->eOp==KALAM_ALTER_DROP_INDEX ){
      if( nk>=(size_t)nPrefix + 3 && k[nPrefix]==KALAM_TAG_INDEX
       && (unsigned char)k[nPrefix+1]==(p->iNum>>8)
       && (unsigned char)k[nPrefix+2]==(p->iNum & 0xff) ){
        kalamTxnDelete(p->pTxn, p->pCf, k, nk);
      }
      continue;
    }
    if( !kalamKeyRowDecode(k, nk, nPrefix, &iRowid) ) continue;
    v = kalamIterValue(pIter, &nv);
    if( p->bRewrite ){
      rc = alterRewriteRow(p, k, nk, v, nv, iRowid, pzErr);
    }
  }
  if( rc==SQLITE_OK ) rc = kalamIterError(pIter, pzErr);
  kalamIterDestroy(pIter);
  return rc;
}

/* Changes the stored rows and entries of table pTab (connected with
** schema pOld) to schema pNew, in its connection's transaction: eOp is
** the change (KALAM_ALTER_*), iNum the number of the index it adds or
** drops. */
int kalamAlterRows(KalamTable *pTab, int eOp, KalamSchema *pOld,
                   KalamSchema *pNew, int iNum, char **pzErr){
  AlterPass pass;
  int i, j, rc;
  memset(&pass, 0, sizeof(pass));
  pass.eOp = eOp;
  pass.pOld = pOld;
  pass.pNew = pNew;
  pass.pTab = pTab;
  pass.pTxn = pTab->pDb->pTxn;
  pass.pCf = pTab->pCf;
  pass.iNum = iNum;
  kalamBufInit(&pass.row);
  kalamIndexKeysInit(&pass.keys);
  switch( eOp ){
    case KALAM_ALTER_ADD_COLUMN: {
      const KalamColumn *pAdded = &pNew->aCol[pNew->nCol-1];
      pass.bRewrite = pAdded->zDefault && pAdded->dflt.eType!=SQLITE_NULL;
      break;
    }
    case KALAM_ALTER_DROP_COLUMN:
    case KALAM_ALTER_RENAME_COLUMN:
      pass.bRewrite = 1;
      break;
    case KALAM_ALTER_ADD_INDEX:
      for(i=0; i<pNew->nIndex && pNew->aIndex[i].iNum!=iNum; i++){}
      assert( i<pNew->nIndex );
      pass.iNewIndex = i;
      break;
  }
  if( pass.bRewrite ){
    pass.aiOld = sqlite3_malloc64(sizeof(int)*(size_t)pNew->nCol);
    if( pass.aiOld==0 ) return SQLITE_NOMEM;
    for(i=0; i<pNew->nCol; i++){
      pass.aiOld[i] = -1;
      for(j=0; j<pOld->nCol; j++){
        if( pOld->aCol[j].iId==pNew->aCol[i].iId ) pass.aiOld[i] = j;
      }
    }
  }
  rc = SQLITE_OK;
  if( pass.bRewrite || eOp==KALAM_ALTER_DROP_INDEX ){
    rc = alterPassRun(&pass, pzErr);
  }else if( eOp==KALAM_ALTER_ADD_INDEX && pNew->eKind==KALAM_KIND_USER ){
    rc = kalamOwnersEach(pTab->pDb, pTab->pCf, alterIndexOwner, &pass, pzErr);
  }else if( eOp==KALAM_ALTER_ADD_INDEX ){
    rc = alterIndexOwner(&pass, "", 0, pzErr);
  }
  sqlite3_free(pass.aiOld);
  kalamBufFree(&pass.row);
  kalamRowFree(&pass.parsed);
  kalamIndexKeysFree(&pass.keys);
  return rc;
}
