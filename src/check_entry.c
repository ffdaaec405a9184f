/*
** check_entry.c — kalam_check()'s checks of the entries of one table's
** column family, one function per kind of entry (check.c has the whole
** check and what each kind must satisfy):
**
**   'r' row          checkRow, with checkRowDerived for the entries its
**                    values make (its key entry, one per index, its change
**                    or expiry entry)
**   'k' key entry    checkKeyEntry
**   'x' index entry  checkIndexEntry
**   's' change entry checkChangeEntry
**   'h' horizon      checkHorizon
**   't' expiry entry checkExpiryEntry
**   'c' consumer     checkConsumerPosition
**   'f' cold segment checkSegment (its file is there)
**   'g' gone marker  checkGoneMarker
**
** A new kind adds one row to checkKinds; an entry every row must have
** adds one step to checkRowDerived.
*/
#include "check_int.h"
#include <string.h>
#include <unistd.h>

SQLITE_EXTENSION_INIT3

/* A key shown in a message: its first bytes in hex. */
#define CHECK_KEY_SHOWN 48

/* A key as a message shows it: hex, its start only if it is long.
** Caller frees with sqlite3_free; NULL if out of memory. */
static char *checkKeyText(const char *aKey, size_t nKey){
  static const char aHex[] = "0123456789abcdef";
  size_t n = nKey<CHECK_KEY_SHOWN ? nKey : CHECK_KEY_SHOWN, i;
  char *z = sqlite3_malloc64(n*2 + 4);
  if( z==0 ) return 0;
  for(i=0; i<n; i++){
    z[i*2] = aHex[((unsigned char)aKey[i]) >> 4];
    z[i*2+1] = aHex[((unsigned char)aKey[i]) & 0x0f];
  }
  if( n<nKey ){
    memcpy(&z[n*2], "...", 4);
  }else{
    z[n*2] = 0;
  }
  return z;
}

/* ------------------------------------------------------------ one entry
** The checks of one entry of a table's column family, one per kind. Each
** gets the whole key, the owner prefix's length and the value. */

/* The owner of a key, for messages: "user alice: ", or "" for tables that
** have no owners. Caller frees with sqlite3_free. */
static char *checkOwnerText(const KalamCheck *p, const char *aKey, int nPrefix){
  if( !kalamSchemaOwned(p->pSchema) || nPrefix<2 ){
    return sqlite3_mprintf("");
  }
  return sqlite3_mprintf("user %.*s: ", nPrefix - 1, aKey + 1);
}

/* Reads row iRowid of the owner aKey[0..nPrefix) and parses it into pRow
** (which the caller frees with kalamRowFree, and *pzVal with
** kalamStoreFree). *pzVal is NULL when there is no such row; *pbDamaged
** is set for a row that does not parse (its own check reports it). */
static int checkReadRow(KalamCheck *p, const char *aKey, int nPrefix,
                        sqlite3_int64 iRowid, KalamRow *pRow, char **pzVal,
                        int *pbDamaged){
  char aRowKey[KALAM_ROWKEY_MAX];
  int nRowKey = kalamKeyRow(aRowKey, aKey, nPrefix, iRowid);
  size_t nVal = 0;
  char *zErr = 0;
  int rc;
  *pbDamaged = 0;
  rc = kalamStoreGet(p->pStore, p->pView, p->pCf, aRowKey, (size_t)nRowKey,
                     pzVal, &nVal, "kalam_check: cannot read a row", &zErr);
  if( rc==SQLITE_OK && *pzVal==0 && p->pTab
   && kalamSchemaOwned(p->pSchema)==kalamSchemaOwned(p->pTab->pSchema) ){
    /* Not hot: it may be cold (the entries of flushed rows stay hot). */
    rc = kalamRowReadCopy(p->pTab, aKey, nPrefix, iRowid, pzVal, &nVal,
                          &zErr);
  }
  if( rc ){
    int rc2 = kalamCheckProblem(p, "%s", zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
    return rc2;
  }
  if( *pzVal && kalamRowParse(pRow, p->pSchema, *pzVal, nVal)!=SQLITE_OK ){
    *pbDamaged = 1;
  }
  pRow->iRowid = iRowid;
  return SQLITE_OK;
}

/* Checks that derived entry aEntry (a key, index, change or expiry entry)
** of row iRowid exists and, unless it holds nothing (bEmpty), points at
** the row; zWhat names it. */
static int checkDerived(KalamCheck *p, const char *zOwner, sqlite3_int64 iRowid,
                        const char *aEntry, size_t nEntry, const char *zWhat,
                        int bEmpty){
  char *zVal = 0, *zErr = 0;
  size_t nVal = 0;
  sqlite3_int64 iTo = 0;
  int rc = kalamStoreGet(p->pStore, p->pView, p->pCf, aEntry, nEntry, &zVal,
                         &nVal, "kalam_check: cannot read an entry", &zErr);
  if( rc ){
    rc = kalamCheckProblem(p, "%s", zErr ? zErr : sqlite3_errstr(rc));
  }else if( zVal==0 ){
    rc = kalamCheckProblem(p, "%srow %lld has no %s", zOwner, iRowid, zWhat);
  }else if( bEmpty ){
    /* Its key says it all. */
  }else if( !kalamKeyRowDecode(zVal, nVal, 0, &iTo) ){
    rc = kalamCheckProblem(p, "%srow %lld: its %s holds no row id", zOwner,
                           iRowid, zWhat);
  }else if( iTo!=iRowid ){
    rc = kalamCheckProblem(p, "%srow %lld: its %s points at row %lld", zOwner,
                           iRowid, zWhat, iTo);
  }
  if( zVal ) kalamStoreFree(zVal);
  sqlite3_free(zErr);
  return rc;
}

/* The entries of the change feed and of expiry every row must have: a
** shared or user table's change entry of the row's _seq unless that is
** its row id (feed.c), a per-user stream's expiry entry (keys.c). */
static int checkRowFeed(KalamCheck *p, const char *aPrefix, int nPrefix,
                        const char *zOwner, KalamRow *pRow){
  char aKey[KALAM_ROWKEY_MAX + KALAM_MAX_PREFIX];
  sqlite3_int64 iSeq = 0;
  int nKey, rc = SQLITE_OK;
  if( p->pSchema->eKind!=KALAM_KIND_STREAM ){
    char *zWhat;
    if( kalamRowSystem(pRow, p->pSchema, KALAM_SYS_SEQ, &iSeq) ){
      return SQLITE_OK;                       /* reported by checkRow */
    }
    /* A row whose _seq is its row id (an insert's) is its own entry: the
    ** feed reads row keys and change entries together. */
    if( iSeq==pRow->iRowid ) return SQLITE_OK;
    nKey = kalamKeyNumbered(aKey, aPrefix, nPrefix, KALAM_TAG_SEQ, iSeq);
    zWhat = sqlite3_mprintf("change entry (_seq %lld)", iSeq);
    if( zWhat==0 ) return SQLITE_NOMEM;
    rc = checkDerived(p, zOwner, pRow->iRowid, aKey, (size_t)nKey, zWhat, 0);
    sqlite3_free(zWhat);
  }else if( p->pSchema->bPerUser ){
    nKey = kalamKeyExpiry(aKey, pRow->iRowid, aPrefix, nPrefix);
    rc = checkDerived(p, zOwner, pRow->iRowid, aKey, (size_t)nKey,
                      "expiry entry", 1);
  }
  return rc;
}

/* The entries every row must have, derived from its values: the key
** entry of its PRIMARY KEY (a key that is not the row id), and one entry
** per index. pRow is parsed. */
static int checkRowDerived(KalamCheck *p, const char *aPrefix, int nPrefix,
                           const char *zOwner, KalamRow *pRow){
  const KalamSchema *pSchema = p->pSchema;
  sqlite3_int64 iRowid = pRow->iRowid;
  char *zErr = 0;
  int rc = SQLITE_OK, i;
  if( pSchema->iPk>=0 && !pSchema->bIntPk ){
    KalamValue v;
    rc = kalamRowColumn(pRow, pSchema, pSchema->iPk, &v, &zErr);
    if( rc==SQLITE_OK && v.eType!=SQLITE_NULL ){
      KalamBuf key;
      char *zWhat = sqlite3_mprintf("key entry for its PRIMARY KEY (%s)",
                                    pSchema->aCol[pSchema->iPk].zName);
      kalamBufInit(&key);
      kalamKeyIndex(&key, aPrefix, nPrefix, &v);
      if( key.oom || zWhat==0 ){
        rc = SQLITE_NOMEM;
      }else{
        rc = checkDerived(p, zOwner, iRowid, key.z, (size_t)key.n, zWhat, 0);
      }
      kalamBufFree(&key);
      sqlite3_free(zWhat);
    }
    kalamValueClear(&v);
    if( rc==SQLITE_CORRUPT ) rc = SQLITE_OK;  /* reported by checkRow */
    sqlite3_free(zErr);
    zErr = 0;
    if( rc ) return rc;
  }
  if( pSchema->nIndex ){
    KalamIndexKeys keys;
    kalamIndexKeysInit(&keys);
    rc = kalamIndexKeys(pSchema, aPrefix, nPrefix, pRow, iRowid, &keys, &zErr);
    if( rc==SQLITE_CORRUPT ) rc = SQLITE_OK;  /* reported by checkRow */
    else for(i=0; rc==SQLITE_OK && i<keys.nKey; i++){
      int n;
      const char *z = kalamIndexKey(&keys, i, &n);
      char *zCols = kalamIndexColumnList(pSchema, i);
      char *zWhat = zCols ? sqlite3_mprintf("entry in index %d (%s)",
                                            pSchema->aIndex[i].iNum, zCols)
                          : 0;
      rc = zWhat ? checkDerived(p, zOwner, iRowid, z, (size_t)n, zWhat, 0)
                 : SQLITE_NOMEM;
      sqlite3_free(zWhat);
      sqlite3_free(zCols);
    }
    kalamIndexKeysFree(&keys);
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ) rc = checkRowFeed(p, aPrefix, nPrefix, zOwner, pRow);
  return rc;
}

/* 'r': a row. */
static int checkRow(KalamCheck *p, const char *aKey, size_t nKey, int nPrefix,
                    const char *aVal, size_t nVal){
  const KalamSchema *pSchema = p->pSchema;
  sqlite3_int64 iRowid = 0;
  char *zOwner = checkOwnerText(p, aKey, nPrefix);
  KalamRow row;
  int rc = SQLITE_OK, iCol;

  memset(&row, 0, sizeof(row));
  if( zOwner==0 ) return SQLITE_NOMEM;
  if( !kalamKeyRowDecode(aKey, nKey, nPrefix, &iRowid) ){
    char *zKey = checkKeyText(aKey, nKey);
    rc = zKey ? kalamCheckProblem(p, "%skey %s is not a row key (its length "
                                  "is %lld)", zOwner, zKey,
                                  (sqlite3_int64)nKey)
              : SQLITE_NOMEM;
    sqlite3_free(zKey);
    goto done;
  }
  row.iRowid = iRowid;
  if( kalamRowParse(&row, pSchema, aVal, nVal)!=SQLITE_OK ){
    rc = kalamCheckProblem(p, "%srow %lld is not the JSON object kalam wrote",
                           zOwner, iRowid);
    goto done;
  }
  for(iCol=0; rc==SQLITE_OK && iCol<pSchema->nCol; iCol++){
    const KalamColumn *pCol = &pSchema->aCol[iCol];
    KalamValue v;
    char *zErr = 0;
    int rcCol = kalamRowColumn(&row, pSchema, iCol, &v, &zErr);
    if( rcCol==SQLITE_NOMEM ){
      rc = SQLITE_NOMEM;
    }else if( rcCol ){
      rc = kalamCheckProblem(p, "%srow %lld: column %s holds no value of "
                             "its type %s", zOwner, iRowid, pCol->zName,
                             kalamTypeName(pCol->eType));
    }else if( v.eType==SQLITE_NULL && pCol->bNotNull
           && !(pSchema->bIntPk && iCol==pSchema->iPk) ){
      rc = kalamCheckProblem(p, "%srow %lld: column %s is NULL, but it is "
                             "declared NOT NULL", zOwner, iRowid, pCol->zName);
    }
    kalamValueClear(&v);
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ) rc = checkRowDerived(p, aKey, nPrefix, zOwner, &row);

done:
  kalamRowFree(&row);
  sqlite3_free(zOwner);
  return rc;
}

/* Reads the row that a key, index or change entry points at (its value
** is the row id) into *pRow and *pzRow, as checkReadRow does, and sets
** *pbGo when there is one to check the entry against. Otherwise the
** entry's problem is reported here (no row id, or no such row); a row
** that does not parse is its own check's to report. zWhat and zAlso name
** the entry in messages: "<owner><zWhat> <key><zAlso> points at ...". */
static int checkEntryRow(KalamCheck *p, const char *zOwner,
                         const char *zWhat, const char *zKey,
                         const char *zAlso, const char *aKey, int nPrefix,
                         const char *aVal, size_t nVal,
                         sqlite3_int64 *piRowid, KalamRow *pRow,
                         char **pzRow, int *pbGo){
  int rc, bDamaged = 0;
  *pbGo = 0;
  if( !kalamKeyRowDecode(aVal, nVal, 0, piRowid) ){
    return kalamCheckProblem(p, "%s%s %s holds no row id", zOwner, zWhat,
                             zKey);
  }
  rc = checkReadRow(p, aKey, nPrefix, *piRowid, pRow, pzRow, &bDamaged);
  if( rc || bDamaged ) return rc;
  if( *pzRow==0 ){
    return kalamCheckProblem(p, "%s%s %s%s points at row %lld, which does "
                             "not exist", zOwner, zWhat, zKey, zAlso,
                             *piRowid);
  }
  *pbGo = 1;
  return SQLITE_OK;
}

/* 'k': the key entry of a PRIMARY KEY that is not the row id. */
static int checkKeyEntry(KalamCheck *p, const char *aKey, size_t nKey,
                         int nPrefix, const char *aVal, size_t nVal){
  const KalamSchema *pSchema = p->pSchema;
  char *zOwner = checkOwnerText(p, aKey, nPrefix);
  char *zKey = checkKeyText(aKey, nKey);
  char *zRow = 0, *zErr = 0;
  sqlite3_int64 iRowid = 0;
  KalamRow row;
  KalamValue v;
  KalamBuf key;
  int rc = SQLITE_NOMEM, bGo = 0;

  memset(&row, 0, sizeof(row));
  memset(&v, 0, sizeof(v));
  kalamBufInit(&key);
  if( zOwner==0 || zKey==0 ) goto done;
  if( pSchema->iPk<0 || pSchema->bIntPk ){
    rc = kalamCheckProblem(p, "%skey entry %s in a table whose rows have no "
                           "key but their row id", zOwner, zKey);
    goto done;
  }
  rc = checkEntryRow(p, zOwner, "key entry", zKey, "", aKey, nPrefix, aVal,
                     nVal, &iRowid, &row, &zRow, &bGo);
  if( rc || !bGo ) goto done;
  rc = kalamRowColumn(&row, pSchema, pSchema->iPk, &v, &zErr);
  if( rc==SQLITE_OK ){
    if( v.eType!=SQLITE_NULL ) kalamKeyIndex(&key, aKey, nPrefix, &v);
    if( key.oom ){
      rc = SQLITE_NOMEM;
    }else if( key.n!=(sqlite3_int64)nKey || memcmp(key.z, aKey, nKey) ){
      rc = kalamCheckProblem(p, "%skey entry %s points at row %lld, whose "
                             "PRIMARY KEY (%s) is another value", zOwner,
                             zKey, iRowid, pSchema->aCol[pSchema->iPk].zName);
    }
  }
  if( rc==SQLITE_CORRUPT ) rc = SQLITE_OK;  /* the row's own problem */

done:
  kalamValueClear(&v);
  kalamBufFree(&key);
  sqlite3_free(zErr);
  kalamRowFree(&row);
  if( zRow ) kalamStoreFree(zRow);
  sqlite3_free(zOwner);
  sqlite3_free(zKey);
  return rc;
}

/* 'x': an entry of a UNIQUE constraint or an index. */
static int checkIndexEntry(KalamCheck *p, const char *aKey, size_t nKey,
                           int nPrefix, const char *aVal, size_t nVal){
  const KalamSchema *pSchema = p->pSchema;
  char *zOwner = checkOwnerText(p, aKey, nPrefix);
  char *zKey = checkKeyText(aKey, nKey);
  char *zRow = 0, *zErr = 0;
  sqlite3_int64 iRowid = 0;
  KalamRow row;
  KalamIndexKeys keys;
  int rc = SQLITE_NOMEM, bGo = 0, iNum = -1, i, iIdx = -1;

  memset(&row, 0, sizeof(row));
  kalamIndexKeysInit(&keys);
  if( zOwner==0 || zKey==0 ) goto done;
  if( nKey >= (size_t)nPrefix + 3 ){
    const unsigned char *a = (const unsigned char*)aKey + nPrefix + 1;
    iNum = (a[0]<<8) | a[1];
  }
  for(i=0; i<pSchema->nIndex; i++){
    if( pSchema->aIndex[i].iNum==iNum ) iIdx = i;
  }
  if( iIdx<0 ){
    rc = kalamCheckProblem(p, "%sindex entry %s is of no index of the table",
                           zOwner, zKey);
    goto done;
  }
  rc = checkEntryRow(p, zOwner, "index entry", zKey, "", aKey, nPrefix,
                     aVal, nVal, &iRowid, &row, &zRow, &bGo);
  if( rc || !bGo ) goto done;
  rc = kalamIndexKeys(pSchema, aKey, nPrefix, &row, iRowid, &keys, &zErr);
  if( rc==SQLITE_OK ){
    int n;
    const char *z = kalamIndexKey(&keys, iIdx, &n);
    if( (size_t)n!=nKey || memcmp(z, aKey, nKey) ){
      char *zCols = kalamIndexColumnList(pSchema, iIdx);
      rc = zCols ? kalamCheckProblem(p, "%sindex entry %s points at row "
                                     "%lld, whose values in index %d (%s) "
                                     "make another entry", zOwner, zKey,
                                     iRowid, iNum, zCols)
                 : SQLITE_NOMEM;
      sqlite3_free(zCols);
    }
  }else if( rc==SQLITE_CORRUPT ){
    rc = SQLITE_OK;                           /* the row's own problem */
  }

done:
  kalamIndexKeysFree(&keys);
  kalamRowFree(&row);
  if( zRow ) kalamStoreFree(zRow);
  sqlite3_free(zErr);
  sqlite3_free(zOwner);
  sqlite3_free(zKey);
  return rc;
}

/* 's': the change entry of a _seq, pointing at the row that has it. */
static int checkChangeEntry(KalamCheck *p, const char *aKey, size_t nKey,
                            int nPrefix, const char *aVal, size_t nVal){
  char *zOwner = checkOwnerText(p, aKey, nPrefix);
  char *zKey = checkKeyText(aKey, nKey);
  char *zRow = 0;
  sqlite3_int64 iSeq = 0, iRowid = 0, iRowSeq = 0;
  KalamRow row;
  char zSeq[40];
  int rc = SQLITE_NOMEM, bGo = 0;

  memset(&row, 0, sizeof(row));
  if( zOwner==0 || zKey==0 ) goto done;
  if( p->pSchema->eKind==KALAM_KIND_STREAM
   || !kalamKeyNumberedDecode(aKey, nKey, nPrefix, KALAM_TAG_SEQ, &iSeq) ){
    rc = kalamCheckProblem(p, "%schange entry %s is not one kalam writes in "
                           "a %s table", zOwner, zKey,
                           kalamKindName(p->pSchema->eKind));
    goto done;
  }
  sqlite3_snprintf(sizeof(zSeq), zSeq, " (_seq %lld)", iSeq);
  rc = checkEntryRow(p, zOwner, "change entry", zKey, zSeq, aKey, nPrefix,
                     aVal, nVal, &iRowid, &row, &zRow, &bGo);
  if( rc || !bGo ) goto done;
  if( kalamRowSystem(&row, p->pSchema, KALAM_SYS_SEQ, &iRowSeq)==0
   && iRowSeq!=iSeq ){
    rc = kalamCheckProblem(p, "%schange entry %s%s points at row %lld, whose "
                           "_seq is %lld", zOwner, zKey, zSeq, iRowid,
                           iRowSeq);
  }

done:
  kalamRowFree(&row);
  if( zRow ) kalamStoreFree(zRow);
  sqlite3_free(zOwner);
  sqlite3_free(zKey);
  return rc;
}

/* 'h': a horizon of the change feed, a _seq in its key and nothing else. */
static int checkHorizon(KalamCheck *p, const char *aKey, size_t nKey,
                        int nPrefix, const char *aVal, size_t nVal){
  sqlite3_int64 iSeq;
  char *zKey, *zOwner;
  int rc;
  (void)aVal;
  if( kalamKeyNumberedDecode(aKey, nKey, nPrefix, KALAM_TAG_HORIZON, &iSeq)
   && nVal==0 ){
    return SQLITE_OK;
  }
  zKey = checkKeyText(aKey, nKey);
  zOwner = checkOwnerText(p, aKey, nPrefix);
  rc = zKey && zOwner ? kalamCheckProblem(p, "%shorizon %s is damaged",
                                          zOwner, zKey)
                      : SQLITE_NOMEM;
  sqlite3_free(zKey);
  sqlite3_free(zOwner);
  return rc;
}

/* 't': the expiry entry of a per-user stream's row, under the table's own
** prefix, naming the row's owner: the row must exist. */
static int checkExpiryEntry(KalamCheck *p, const char *aKey, size_t nKey,
                            int nPrefix, const char *aVal, size_t nVal){
  const char *aOwner = 0;
  char *zKey = checkKeyText(aKey, nKey);
  char *zOwner = 0, *zRow = 0;
  sqlite3_int64 iRowid = 0;
  KalamRow row;
  int rc = SQLITE_NOMEM, nOwner = 0, bDamaged = 0;
  (void)nPrefix; (void)aVal; (void)nVal;

  memset(&row, 0, sizeof(row));
  if( zKey==0 ) goto done;
  if( !p->pSchema->bPerUser
   || !kalamKeyExpiryDecode(aKey, nKey, &iRowid, &aOwner, &nOwner) ){
    rc = kalamCheckProblem(p, "expiry entry %s is not one kalam writes in "
                           "this table", zKey);
    goto done;
  }
  zOwner = checkOwnerText(p, aOwner, nOwner);
  if( zOwner==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = checkReadRow(p, aOwner, nOwner, iRowid, &row, &zRow, &bDamaged);
  if( rc==SQLITE_OK && !bDamaged && zRow==0 ){
    rc = kalamCheckProblem(p, "%sexpiry entry %s points at row %lld, which "
                           "does not exist", zOwner, zKey, iRowid);
  }

done:
  kalamRowFree(&row);
  if( zRow ) kalamStoreFree(zRow);
  sqlite3_free(zOwner);
  sqlite3_free(zKey);
  return rc;
}

/* 'c': a consumer group's position in a stream, under the table's own
** prefix: [<the user's prefix>] <1-byte length> <group>, holding a row id
** (a row that may have expired since, so only its form is checked). */
static int checkConsumerPosition(KalamCheck *p, const char *aKey,
                                 size_t nKey, int nPrefix, const char *aVal,
                                 size_t nVal){
  size_t i = (size_t)nPrefix + 1;
  sqlite3_int64 iPos;
  int bOk = p->pSchema->eKind==KALAM_KIND_STREAM;
  char *zKey;
  int rc;
  if( bOk && p->pSchema->bPerUser ){
    if( i>=nKey || aKey[i]==0 ) bOk = 0;
    else i += 1 + (unsigned char)aKey[i];
  }
  if( bOk ){
    bOk = i<nKey && aKey[i]!=0 && i + 1 + (unsigned char)aKey[i]==nKey
       && kalamKeyRowDecode(aVal, nVal, 0, &iPos);
  }
  if( bOk ) return SQLITE_OK;
  zKey = checkKeyText(aKey, nKey);
  rc = zKey ? kalamCheckProblem(p, "consumer position %s is damaged", zKey)
            : SQLITE_NOMEM;
  sqlite3_free(zKey);
  return rc;
}

/* A segment record (cold.h): it decodes, and its file is there. */
static int checkSegment(KalamCheck *p, const char *aKey, size_t nKey,
                        int nPrefix, const char *aVal, size_t nVal){
  KalamSegment seg;
  int rc = SQLITE_OK;
  memset(&seg, 0, sizeof(seg));
  if( kalamSegmentDecode(aKey, nKey, nPrefix, aVal, nVal,
                         kalamStorePath(p->pStore), &seg)!=SQLITE_OK ){
    char *zKey = checkKeyText(aKey, nKey);
    rc = zKey ? kalamCheckProblem(p, "cold segment record %s is damaged",
                                  zKey) : SQLITE_NOMEM;
    sqlite3_free(zKey);
  }else if( seg.zPath && access(seg.zPath, R_OK)!=0 ){
    rc = kalamCheckProblem(p, "cold file %s is missing", seg.zRel);
  }
  kalamSegmentClear(&seg);
  return rc;
}

/* A gone marker (cold.h): <owner> 'g' <row id>, empty. */
static int checkGoneMarker(KalamCheck *p, const char *aKey, size_t nKey,
                           int nPrefix, const char *aVal, size_t nVal){
  sqlite3_int64 iRowid;
  char *zKey;
  int rc;
  if( kalamKeyNumberedDecode(aKey, nKey, nPrefix, KALAM_TAG_GONE, &iRowid)
   && nVal==0 ){
    (void)aVal;
    return SQLITE_OK;
  }
  zKey = checkKeyText(aKey, nKey);
  rc = zKey ? kalamCheckProblem(p, "gone marker %s is damaged", zKey)
            : SQLITE_NOMEM;
  sqlite3_free(zKey);
  return rc;
}

/* The kinds of entry in a table's column family, by tag. */
typedef struct CheckKind CheckKind;
struct CheckKind {
  char cTag;
  int (*xCheck)(KalamCheck*, const char *aKey, size_t nKey, int nPrefix,
                const char *aVal, size_t nVal);
};
static const CheckKind checkKinds[] = {
  { KALAM_TAG_ROW,      checkRow },
  { KALAM_TAG_KEY,      checkKeyEntry },
  { KALAM_TAG_INDEX,    checkIndexEntry },
  { KALAM_TAG_SEQ,      checkChangeEntry },
  { KALAM_TAG_HORIZON,  checkHorizon },
  { KALAM_TAG_EXPIRY,   checkExpiryEntry },
  { KALAM_TAG_CONSUMER, checkConsumerPosition },
  { KALAM_TAG_COLD,     checkSegment },
  { KALAM_TAG_GONE,     checkGoneMarker },
};

/* ------------------------------------------------------------ one table */

/* Every entry of the table's column family, each by its kind's check. */
int kalamCheckEntries(KalamCheck *p){
  KalamStoreIter *pIt = kalamStoreIterNew(p->pStore, p->pView, p->pCf,
                                          0, 0, 0, 0, KALAM_ITER_BULK);
  char *zErr = 0;
  int rc = SQLITE_OK;
  if( pIt==0 ) return SQLITE_NOMEM;
  for(kalamStoreIterFirst(pIt); rc==SQLITE_OK && kalamStoreIterValid(pIt);
      kalamStoreIterNext(pIt)){
    size_t nKey = 0, nVal = 0;
    const char *aKey = kalamStoreIterKey(pIt, &nKey);
    const char *aVal = kalamStoreIterValue(pIt, &nVal);
    int nPrefix = 0, i;
    const CheckKind *pKind = 0;
    if( nKey>1 && aKey[0]==KALAM_TABLE_PREFIX[0] ){
      nPrefix = 1;                  /* the table's own keys, in any table */
    }else if( kalamSchemaOwned(p->pSchema) ){
      nPrefix = kalamKeyOwnerLength(aKey, nKey);
    }else if( nKey==0 ){
      nPrefix = -1;
    }
    if( nPrefix>=0 ){
      for(i=0; i<(int)(sizeof(checkKinds)/sizeof(checkKinds[0])); i++){
        if( checkKinds[i].cTag==aKey[nPrefix] ) pKind = &checkKinds[i];
      }
    }
    if( pKind ){
      rc = pKind->xCheck(p, aKey, nKey, nPrefix, aVal, nVal);
    }else{
      char *zKey = checkKeyText(aKey, nKey);
      rc = zKey ? kalamCheckProblem(p, "key %s is of no kind of entry kalam "
                                    "writes", zKey) : SQLITE_NOMEM;
      sqlite3_free(zKey);
    }
  }
  if( rc==SQLITE_OK ){
    rc = kalamStoreIterError(pIt, "kalam_check: cannot read the table",
                             &zErr);
    if( rc ) rc = kalamCheckProblem(p, "%s", zErr ? zErr : sqlite3_errstr(rc));
  }
  kalamStoreIterFree(pIt);
  sqlite3_free(zErr);
  return rc;
}

