/*
** index.c — UNIQUE constraints and secondary indexes: their entries, and
** the key ranges that WHERE constraints on them read.
**
**   CREATE VIRTUAL TABLE people USING kalam_shared(
**     id INTEGER PRIMARY KEY, email TEXT UNIQUE, city TEXT, age INTEGER,
**     INDEX(city, age));
**
** Each index (KalamIndex, parsed by schema.c) keeps one entry per row in
** the table's own column family, in the key layout of keys.c:
**
**   <owner> 'x' <index number> <value of each column> [<row id>]  ->  row id
**
** Entries are written in the same transaction buffer write as their row
** (update.c), so a commit, a rollback or a crash keeps rows and entries
** together. Their keys sort as SQLite sorts the values, so "=", ranges and
** ORDER BY on an index's leading columns are one key range (cursor.c reads
** it, plan.c chooses it).
**
** Entry keys are always computed from a row as it is stored (a KalamRow
** over the row's JSON), never from the values an INSERT was given: the
** row is what a later UPDATE, DELETE or purge reads to find the entries
** again, so the two can never disagree (a JSON column given the number 12
** stores 12 and reads back the text '12'; a JSON null reads back NULL).
**
** UNIQUE. A key of a UNIQUE index with no NULL in it has no row id: at
** most one row holds it, and a point read finds that row. A soft-deleted
** row holds its values until another row takes one (then update.c removes
** the deleted row for good, as it does for the PRIMARY KEY), so every row
** in the trash can still be found through every index. A key with a NULL
** clashes with nothing (NULLs are distinct, as in SQLite) and carries the
** row id like an INDEX entry.
**
** Constraint values. SQLite compares a column with a value after applying
** the column's affinity to the value; a range is exact only if kalam
** encodes the value SQLite will compare. kalamIndexValue decides, per
** column type, whether it can:
**
**   INTEGER, REAL, BOOLEAN, TIMESTAMP (numeric affinity): always. Text is
**     first given numeric affinity, exactly as SQLite does
**     (sqlite3_value_numeric_type on a copy); text that stays text, and
**     blobs, sort above every number, as SQLite compares them.
**   BLOB: always (no affinity is applied to either side).
**   TEXT, JSON: text and blobs, compared bytewise (the BINARY collation;
**     plan.c uses no constraint of another collation). A number cannot be
**     used: SQLite compares it as text, or the column as a number, by the
**     affinity of the other side, which a virtual table is not told.
**   ANY: never: a column with no affinity takes the affinity of the other
**     side, so text '7' may equal 7. An ANY index still serves UNIQUE and
**     ORDER BY.
**
** A value that cannot be used makes its bound no bound (the range only
** widens; SQLite tests every constraint again), and an equality that
** cannot be used ends the run of equalities there.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* An empty set of entry keys, for kalamIndexKeys to fill. */
void kalamIndexKeysInit(KalamIndexKeys *p){
  memset(p, 0, sizeof(*p));
  kalamBufInit(&p->buf);
}

/* Frees what kalamIndexKeys filled in (the struct itself is the
** caller's). */
void kalamIndexKeysFree(KalamIndexKeys *p){
  kalamBufFree(&p->buf);
  p->nKey = 0;
}

/* Key i of p: *pn gets its length. */
const char *kalamIndexKey(const KalamIndexKeys *p, int i, int *pn){
  int iStart = i ? p->aEnd[i-1] : 0;
  assert( i>=0 && i<p->nKey );
  *pn = p->aEnd[i] - iStart;
  return p->buf.z + iStart;
}

/* Are key i of a and of b the same bytes? */
int kalamIndexKeySame(const KalamIndexKeys *a, const KalamIndexKeys *b,
                      int i){
  int na, nb;
  const char *za = kalamIndexKey(a, i, &na);
  const char *zb = kalamIndexKey(b, i, &nb);
  return na==nb && memcmp(za, zb, (size_t)na)==0;
}

/* The entry keys of row iRowid, whose stored JSON pRow holds (opened with
** kalamRowOpen or kalamRowParse), under the owner prefix: one per index of
** the schema, in order, into p (emptied first). A damaged row is
** SQLITE_CORRUPT with *pzErr set. */
int kalamIndexKeys(const KalamSchema *pSchema, const char *aPrefix,
                   int nPrefix, const KalamRow *pRow, sqlite3_int64 iRowid,
                   KalamIndexKeys *p, char **pzErr){
  int i, j;
  p->buf.n = 0;
  p->nKey = 0;
  for(i=0; i<pSchema->nIndex; i++){
    const KalamIndex *pIdx = &pSchema->aIndex[i];
    int bNull = 0;
    kalamKeyIndexBegin(&p->buf, aPrefix, nPrefix, pIdx->iNum);
    for(j=0; j<pIdx->nCol; j++){
      KalamValue v;
      int rc = kalamRowColumn(pRow, pSchema, pIdx->aiCol[j], &v, pzErr);
      if( rc ) return rc;
      if( v.eType==SQLITE_NULL ) bNull = 1;
      kalamKeyValue(&p->buf, &v);
      kalamValueClear(&v);
    }
    p->abSingle[i] = (unsigned char)(pIdx->bUnique && !bNull);
    if( !p->abSingle[i] ) kalamKeyAppendRowid(&p->buf, iRowid);
    if( p->buf.oom ) return SQLITE_NOMEM;
    p->aEnd[i] = (int)p->buf.n;
    p->nKey++;
  }
  return SQLITE_OK;
}

/* The columns of index i as "t.a, t.b": SQLite's way of naming a UNIQUE
** constraint in its message. The caller frees it with sqlite3_free. */
char *kalamIndexColumnList(const KalamSchema *pSchema, int i){
  const KalamIndex *pIdx = &pSchema->aIndex[i];
  KalamBuf b;
  int j;
  kalamBufInit(&b);
  for(j=0; j<pIdx->nCol; j++){
    if( j ) kalamBufAppendStr(&b, ", ");
    kalamBufAppendStr(&b, pSchema->zTable);
    kalamBufAppendChar(&b, '.');
    kalamBufAppendStr(&b, pSchema->aCol[pIdx->aiCol[j]].zName);
  }
  if( b.oom || b.z==0 ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}

/* What an index can do with column iCol, as KALAM_INDEX_USE_* bits:
** equality constraints need the column's values to compare as kalam
** encodes them (not ANY, see the header); range constraints and ORDER BY
** also need text to sort bytewise, which holds in UTF-8 databases only (in
** UTF-16 ones SQLite's BINARY collation compares UTF-16 bytes). An ANY
** column sorts as its values' classes and bytes do, so it serves ORDER BY
** in UTF-8 databases. */
int kalamIndexColumnUse(const KalamSchema *pSchema, int iCol){
  switch( pSchema->aCol[iCol].eType ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_REAL:
    case KALAM_TYPE_BOOLEAN:
    case KALAM_TYPE_TIMESTAMP:
    case KALAM_TYPE_BLOB:
      return KALAM_INDEX_USE_EQ|KALAM_INDEX_USE_RANGE|KALAM_INDEX_USE_ORDER;
    case KALAM_TYPE_ANY:
      return pSchema->bUtf8 ? KALAM_INDEX_USE_ORDER : 0;
    default:   /* TEXT, JSON */
      return KALAM_INDEX_USE_EQ | (pSchema->bUtf8 ?
             KALAM_INDEX_USE_RANGE|KALAM_INDEX_USE_ORDER : 0);
  }
}

/* Does column iCol compare a value of SQLite type eValue exactly as kalam
** encodes it, whatever the affinity of the other side? (See the header.) */
int kalamIndexValueExact(const KalamSchema *pSchema, int iCol, int eValue){
  switch( pSchema->aCol[iCol].eType ){
    case KALAM_TYPE_TEXT:
    case KALAM_TYPE_JSON:
      return eValue==SQLITE_TEXT || eValue==SQLITE_BLOB;
    case KALAM_TYPE_ANY:
      return 0;
    default:
      return eValue!=SQLITE_NULL;
  }
}

/* Appends the encoding of constraint value pVal on column iCol to p, as
** SQLite will compare it with the column's values. Returns
** KALAM_INDEX_VALUE_OK, _NULL (the value is NULL: no comparison with it is
** true) or _INEXACT (kalam cannot encode what SQLite will compare: the
** caller widens its range instead). */
int kalamIndexValue(const KalamSchema *pSchema, int iCol,
                    sqlite3_value *pVal, KalamBuf *p){
  int eVal = sqlite3_value_type(pVal);
  int eCol = pSchema->aCol[iCol].eType;
  KalamValue v;
  sqlite3_value *pDup = 0;
  int rc = KALAM_INDEX_VALUE_OK;

  memset(&v, 0, sizeof(v));
  if( eVal==SQLITE_NULL ) return KALAM_INDEX_VALUE_NULL;
  if( !kalamIndexValueExact(pSchema, iCol, eVal) ){
    return KALAM_INDEX_VALUE_INEXACT;
  }
  if( eVal==SQLITE_TEXT && eCol!=KALAM_TYPE_TEXT && eCol!=KALAM_TYPE_JSON
   && eCol!=KALAM_TYPE_BLOB ){
    /* A numeric column: SQLite gives the text numeric affinity first. On
    ** a copy, because argv's values are SQLite's own registers. */
    pDup = sqlite3_value_dup(pVal);
    if( pDup==0 ){ rc = KALAM_INDEX_VALUE_NOMEM; goto done; }
    eVal = sqlite3_value_numeric_type(pDup);
    pVal = pDup;
  }
  v.eType = eVal;
  switch( eVal ){
    case SQLITE_INTEGER: v.i = sqlite3_value_int64(pVal); break;
    case SQLITE_FLOAT:   v.r = sqlite3_value_double(pVal); break;
    case SQLITE_TEXT:
      v.z = (const char*)sqlite3_value_text(pVal);
      v.n = sqlite3_value_bytes(pVal);
      if( v.z==0 ){ rc = KALAM_INDEX_VALUE_NOMEM; goto done; }
      break;
    default:
      v.eType = SQLITE_BLOB;
      v.z = (const char*)sqlite3_value_blob(pVal);
      v.n = sqlite3_value_bytes(pVal);
      if( v.z==0 ){
        if( v.n>0 ){ rc = KALAM_INDEX_VALUE_NOMEM; goto done; }
        v.z = "";
      }
      break;
  }
  kalamKeyValue(p, &v);
  if( p->oom ) rc = KALAM_INDEX_VALUE_NOMEM;
done:
  sqlite3_value_free(pDup);
  return rc;
}

/* The key range [pLo, pHi) that an index plan reads: index iIndex's
** entries under the owner prefix whose first nEq values equal argv[0..nEq)
** and whose next value lies within the bounds that follow in argv, as
** flags (KALAM_INDEX_LO, ...) say. *pbEmpty is set when no row can match
** (a NULL value). A value kalamIndexValue cannot encode widens the range
** (see the header). *pbWhole is set when pLo is a whole key of a UNIQUE
** index: the one entry of the range, if any, which a point read finds. */
int kalamIndexRange(const KalamSchema *pSchema, int iIndex,
                    const char *aPrefix, int nPrefix, int nEq, int flags,
                    sqlite3_value **argv, KalamBuf *pLo, KalamBuf *pHi,
                    int *pbEmpty, int *pbWhole){
  const KalamIndex *pIdx = &pSchema->aIndex[iIndex];
  int iArg = 0, i, e;
  sqlite3_int64 nBase;

  assert( nEq<=pIdx->nCol );
  *pbEmpty = 0;
  *pbWhole = 0;
  pLo->n = 0;
  kalamKeyIndexBegin(pLo, aPrefix, nPrefix, pIdx->iNum);
  for(i=0; i<nEq; i++){
    sqlite3_int64 nBefore = pLo->n;
    e = kalamIndexValue(pSchema, pIdx->aiCol[i], argv[iArg++], pLo);
    if( e==KALAM_INDEX_VALUE_NOMEM ) return SQLITE_NOMEM;
    if( e==KALAM_INDEX_VALUE_NULL ){
      *pbEmpty = 1;
      return SQLITE_OK;
    }
    if( e==KALAM_INDEX_VALUE_INEXACT ){
      /* The equalities stop here, and the bounds no longer apply. */
      pLo->n = nBefore;
      flags = 0;
      break;
    }
  }
  iArg = nEq;  /* the bounds follow every equality's argument */
  *pbWhole = pIdx->bUnique && i==pIdx->nCol && flags==0;
  nBase = pLo->n;
  pHi->n = 0;
  kalamBufAppend(pHi, pLo->z, pLo->n);
  if( pHi->oom || pLo->oom ) return SQLITE_NOMEM;

  if( flags & KALAM_INDEX_LO ){
    e = kalamIndexValue(pSchema, pIdx->aiCol[i], argv[iArg++], pLo);
    if( e==KALAM_INDEX_VALUE_NOMEM ) return SQLITE_NOMEM;
    if( e==KALAM_INDEX_VALUE_NULL ){ *pbEmpty = 1; return SQLITE_OK; }
    if( e==KALAM_INDEX_VALUE_INEXACT ){
      pLo->n = nBase;
    }else{
      /* NULLs sort first and equal nothing: start past them. A value
      ** above NULL starts the range anyway. > v starts past every entry
      ** that begins with v. */
      if( (flags & KALAM_INDEX_LO_GT) && !kalamKeySuccessor(pLo) ){
        return SQLITE_CORRUPT;
      }
    }
  }
  if( pLo->n==nBase && (flags & (KALAM_INDEX_LO|KALAM_INDEX_HI)) ){
    /* A range on the column (even a bound dropped above) never includes
    ** NULL: start above the NULL entries. */
    kalamBufAppendChar(pLo, 0x06);
  }
  if( flags & KALAM_INDEX_HI ){
    e = kalamIndexValue(pSchema, pIdx->aiCol[i], argv[iArg++], pHi);
    if( e==KALAM_INDEX_VALUE_NOMEM ) return SQLITE_NOMEM;
    if( e==KALAM_INDEX_VALUE_NULL ){ *pbEmpty = 1; return SQLITE_OK; }
    if( e==KALAM_INDEX_VALUE_INEXACT ){
      pHi->n = nBase;
      if( !kalamKeySuccessor(pHi) ) return SQLITE_CORRUPT;
    }else if( !(flags & KALAM_INDEX_HI_LT) && !kalamKeySuccessor(pHi) ){
      return SQLITE_CORRUPT;   /* <= v ends past every entry of v */
    }
  }else if( !kalamKeySuccessor(pHi) ){
    return SQLITE_CORRUPT;
  }
  if( pLo->oom || pHi->oom ) return SQLITE_NOMEM;
  if( kalamKeyCmp(pLo->z, (size_t)pLo->n, pHi->z, (size_t)pHi->n)>=0 ){
    *pbEmpty = 1;
  }
  return SQLITE_OK;
}
