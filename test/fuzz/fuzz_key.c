/*
** fuzz_key.c — libFuzzer target: the RocksDB key layout (src/keys.c).
**
** Keys come back from RocksDB iterators, so a damaged store or a foreign
** entry in a column family can hand kalamKeyRowDecode any bytes. The input
** is used three ways:
**
**   1. as a key: kalamKeyRowDecode with an owner prefix length taken from
**      the first byte (0, or 2..129 as a kalam_user prefix is). A key that
**      decodes must be exactly what kalamKeyRow builds for that prefix and
**      row id, so a decode can never accept two spellings of one row;
**   2. as two row ids (the first 16 bytes): kalamKeyRow must order their
**      keys as the numbers are ordered, since scans and ORDER BY rowid
**      rely on it, and the keys must decode back;
**   3. as a user id (bytes 16.., up to KALAM_MAX_USER, no NUL): the owner
**      prefix must be 1 + its length, and no two users' prefixes may be
**      prefixes of one another (checked against the id cut one byte
**      shorter), or one user's range would cover another's rows;
**   4. as an INTEGER and a REAL (the first 16 bytes): their key-index
**      entries must be equal exactly when SQLite finds the values equal,
**      or a PRIMARY KEY in an ANY column would let 1 and 1.0 both in;
**   5. as four values of any storage class (each a type byte, a length
**      byte and that many bytes), encoded for an index (kalamKeyValue):
**      each encoding must be self-delimiting (kalamKeyValueLength reads
**      back its length, whatever follows it), one value's encodings must
**      compare as SQLite compares the values (asked of SQLite itself),
**      and two-value keys must compare as the pairs do, column by
**      column, or index ranges and ORDER BY would go wrong;
**   6. as a stored index key: kalamKeyValueLength must stay inside it.
**
** Build and run with `make fuzz` (docs/hardening.md).
*/
#include "kalam_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static void fuzzKeyFail(const char *zWhy){
  fprintf(stderr, "fuzz_key: %s\n", zWhy);
  abort();
}

static sqlite3_int64 fuzzKeyInt(const unsigned char *a){
  sqlite3_uint64 u = 0;
  int i;
  for(i=0; i<8; i++) u = (u<<8) | a[i];
  return (sqlite3_int64)u;
}

/* 1: arbitrary bytes as a row key. libFuzzer's buffer is exactly nData
** bytes long, so a read past the key's end is caught. */
static void fuzzKeyDecode(const unsigned char *aData, size_t nData){
  int nPrefix;
  sqlite3_int64 iRowid;
  char aKey[KALAM_ROWKEY_MAX];
  if( nData<1 ) return;
  nPrefix = aData[0] % (KALAM_MAX_PREFIX + 1);
  if( nPrefix==1 ) nPrefix = 0; /* a user prefix is at least 2 bytes */
  if( kalamKeyRowDecode((const char*)aData + 1, nData - 1, nPrefix,
                        &iRowid) ){
    int n = kalamKeyRow(aKey, (const char*)aData + 1, nPrefix, iRowid);
    if( (size_t)n!=nData - 1 || memcmp(aKey, aData + 1, (size_t)n)!=0 ){
      fuzzKeyFail("a decoded key is not the key of its row id");
    }
  }
}

/* 2: two row ids, their keys' order and round trip. */
static void fuzzKeyOrder(const unsigned char *aData, size_t nData){
  sqlite3_int64 a, b, a2 = 0, b2 = 0;
  char aKeyA[KALAM_ROWKEY_MAX], aKeyB[KALAM_ROWKEY_MAX];
  int nA, nB, c;
  if( nData<16 ) return;
  a = fuzzKeyInt(aData);
  b = fuzzKeyInt(aData + 8);
  nA = kalamKeyRow(aKeyA, 0, 0, a);
  nB = kalamKeyRow(aKeyB, 0, 0, b);
  if( nA!=9 || nB!=9 ) fuzzKeyFail("a row key is not 9 bytes");
  c = memcmp(aKeyA, aKeyB, 9);
  if( (a<b && c>=0) || (a>b && c<=0) || (a==b && c!=0) ){
    fuzzKeyFail("row keys are not in row id order");
  }
  if( !kalamKeyRowDecode(aKeyA, 9, 0, &a2) || a2!=a
   || !kalamKeyRowDecode(aKeyB, 9, 0, &b2) || b2!=b ){
    fuzzKeyFail("a row key does not decode to its row id");
  }
}

/* 3: user prefixes. */
static void fuzzKeyPrefix(const unsigned char *aData, size_t nData){
  char zUser[KALAM_MAX_USER + 1];
  char aP1[KALAM_MAX_PREFIX], aP2[KALAM_MAX_PREFIX];
  size_t n = 0;
  int n1, n2;
  while( 16 + n < nData && n < KALAM_MAX_USER && aData[16 + n]!=0 ){
    zUser[n] = (char)aData[16 + n];
    n++;
  }
  if( n<2 ) return;
  zUser[n] = 0;
  n1 = kalamKeyPrefix(aP1, zUser);
  if( n1!=(int)n + 1 ) fuzzKeyFail("a user prefix is not 1 + its length");
  zUser[n - 1] = 0;
  n2 = kalamKeyPrefix(aP2, zUser);
  if( memcmp(aP1, aP2, (size_t)n2)==0 ){
    fuzzKeyFail("one user's prefix is a prefix of another's");
  }
}

/* Does SQLite find INTEGER i equal to REAL r? (exact comparison) */
static int fuzzKeyIntEqReal(sqlite3_int64 i, double r){
  if( isnan(r) ) return 0;
  if( r < -9223372036854775808.0 || r >= 9223372036854775808.0 ) return 0;
  if( (double)(sqlite3_int64)r != r ) return 0;
  return (sqlite3_int64)r == i;
}

/* 4: key-index entries of an INTEGER and a REAL. */
static void fuzzKeyIndex(const unsigned char *aData, size_t nData){
  KalamValue vi, vr;
  KalamBuf bi, br;
  sqlite3_int64 iBits;
  int bSame;
  if( nData<16 ) return;
  memset(&vi, 0, sizeof(vi));
  memset(&vr, 0, sizeof(vr));
  vi.eType = SQLITE_INTEGER;
  vi.i = fuzzKeyInt(aData);
  vr.eType = SQLITE_FLOAT;
  iBits = fuzzKeyInt(aData + 8);
  memcpy(&vr.r, &iBits, 8);
  /* SQLite turns NaN into NULL before a value reaches a table. */
  if( isnan(vr.r) ) return;
  kalamBufInit(&bi);
  kalamBufInit(&br);
  kalamKeyIndex(&bi, 0, 0, &vi);
  kalamKeyIndex(&br, 0, 0, &vr);
  if( !bi.oom && !br.oom ){
    bSame = bi.n==br.n && memcmp(bi.z, br.z, (size_t)bi.n)==0;
    if( bSame != fuzzKeyIntEqReal(vi.i, vr.r) ){
      fprintf(stderr, "fuzz_key: %lld vs %.17g\n", vi.i, vr.r);
      fuzzKeyFail(bSame ? "unequal values share a key-index entry"
                        : "equal values have different key-index entries");
    }
  }
  /* -0.0 and 0.0 are one value. */
  if( vr.r==0.0 ){
    KalamBuf bz;
    KalamValue vz = vr;
    vz.r = -vr.r;
    kalamBufInit(&bz);
    kalamKeyIndex(&bz, 0, 0, &vz);
    if( !bz.oom && !br.oom
     && (bz.n!=br.n || memcmp(bz.z, br.z, (size_t)bz.n)!=0) ){
      fuzzKeyFail("0.0 and -0.0 have different key-index entries");
    }
    kalamBufFree(&bz);
  }
  kalamBufFree(&bi);
  kalamBufFree(&br);
}

/* 5: values of any storage class, read from the input: a type byte
** (NULL, INTEGER, REAL, TEXT, BLOB), then for numbers 8 bytes, for text
** and blobs a length byte (up to 24) and the bytes. NaN is left out, as
** SQLite turns it into NULL. Returns the bytes used, 0 at the end. */
static size_t fuzzKeyReadValue(const unsigned char *a, size_t n,
                               KalamValue *pOut){
  size_t nLen;
  memset(pOut, 0, sizeof(*pOut));
  if( n<1 ) return 0;
  switch( a[0] % 5 ){
    case 0:
      pOut->eType = SQLITE_NULL;
      return 1;
    case 1:
    case 2:
      if( n<9 ) return 0;
      if( a[0] % 5==1 ){
        pOut->eType = SQLITE_INTEGER;
        pOut->i = fuzzKeyInt(a + 1);
        /* Small numbers too, where integers and reals meet most. */
        if( a[0] & 0x80 ) pOut->i %= 1000;
      }else{
        sqlite3_int64 iBits = fuzzKeyInt(a + 1);
        pOut->eType = SQLITE_FLOAT;
        if( a[0] & 0x80 ){
          pOut->r = (double)(iBits % 4000) / 4;
        }else{
          memcpy(&pOut->r, &iBits, 8);
        }
        if( isnan(pOut->r) ) pOut->r = 0.5;
      }
      return 9;
    default:
      if( n<2 ) return 0;
      nLen = a[1] % 25;
      if( n<2 + nLen ) return 0;
      pOut->eType = a[0] % 5==3 ? SQLITE_TEXT : SQLITE_BLOB;
      pOut->z = (const char*)a + 2;
      pOut->n = (int)nLen;
      return 2 + nLen;
  }
}

/* SQLite's answer to x < y and x = y for two values, without affinity:
** -1, 0 or 1 as x sorts before, with or after y (NULLs first, as ORDER
** BY puts them, and equal to each other). */
static int fuzzKeySqliteCmp(const KalamValue *x, const KalamValue *y){
  static sqlite3 *db = 0;
  static sqlite3_stmt *pStmt = 0;
  const KalamValue *ap[2] = {x, y};
  int i, c = 0;
  if( db==0 ){
    if( sqlite3_open(":memory:", &db)!=SQLITE_OK
     || sqlite3_prepare_v2(db, "SELECT CASE WHEN ?1 IS ?2 THEN 0 WHEN ?1 IS "
            "NULL THEN -1 WHEN ?2 IS NULL THEN 1 WHEN ?1 < ?2 THEN -1 "
            "ELSE 1 END", -1, &pStmt, 0)!=SQLITE_OK ){
      fuzzKeyFail("cannot prepare the comparison");
    }
  }
  for(i=0; i<2; i++){
    const KalamValue *v = ap[i];
    int rc;
    switch( v->eType ){
      case SQLITE_NULL:    rc = sqlite3_bind_null(pStmt, i+1); break;
      case SQLITE_INTEGER: rc = sqlite3_bind_int64(pStmt, i+1, v->i); break;
      case SQLITE_FLOAT:   rc = sqlite3_bind_double(pStmt, i+1, v->r); break;
      case SQLITE_TEXT:
        rc = sqlite3_bind_text(pStmt, i+1, v->z, v->n, SQLITE_STATIC);
        break;
      default:
        rc = sqlite3_bind_blob(pStmt, i+1, v->z, v->n, SQLITE_STATIC);
        break;
    }
    if( rc!=SQLITE_OK ) fuzzKeyFail("cannot bind a value");
  }
  if( sqlite3_step(pStmt)!=SQLITE_ROW ) fuzzKeyFail("comparison failed");
  c = sqlite3_column_int(pStmt, 0);
  sqlite3_reset(pStmt);
  return c;
}

/* The sign of a bytewise comparison of two keys, as RocksDB orders them. */
static int fuzzKeyBufCmp(const KalamBuf *a, const KalamBuf *b){
  int c = kalamKeyCmp(a->z, (size_t)a->n, b->z, (size_t)b->n);
  return c<0 ? -1 : c>0;
}

/* 5: index values. */
static void fuzzKeyValues(const unsigned char *aData, size_t nData){
  KalamValue v[4];
  KalamBuf e[4], p1, p2;
  size_t iOff = 0;
  int i, c, c2;
  for(i=0; i<4; i++){
    size_t n = fuzzKeyReadValue(aData + iOff, nData - iOff, &v[i]);
    if( n==0 ) return;
    iOff += n;
  }
  for(i=0; i<4; i++){
    KalamBuf junk;
    kalamBufInit(&e[i]);
    kalamKeyValue(&e[i], &v[i]);
    if( e[i].oom ) fuzzKeyFail("out of memory");
    if( kalamKeyValueLength(e[i].z, (size_t)e[i].n)!=(int)e[i].n ){
      fuzzKeyFail("an encoded value does not read back its own length");
    }
    /* Whatever follows a value does not change where it ends. */
    kalamBufInit(&junk);
    kalamBufAppend(&junk, e[i].z, e[i].n);
    kalamBufAppend(&junk, aData, (sqlite3_int64)(nData<16 ? nData : 16));
    if( !junk.oom
     && kalamKeyValueLength(junk.z, (size_t)junk.n)!=(int)e[i].n ){
      fuzzKeyFail("an encoded value is not self-delimiting");
    }
    kalamBufFree(&junk);
  }
  c = fuzzKeyBufCmp(&e[0], &e[1]);
  if( c!=fuzzKeySqliteCmp(&v[0], &v[1]) ){
    fuzzKeyFail("two values' encodings are not in SQLite's order");
  }
  /* (v0, v2) against (v1, v3): the first column decides unless equal. */
  kalamBufInit(&p1);
  kalamBufInit(&p2);
  kalamBufAppend(&p1, e[0].z, e[0].n);
  kalamBufAppend(&p1, e[2].z, e[2].n);
  kalamBufAppend(&p2, e[1].z, e[1].n);
  kalamBufAppend(&p2, e[3].z, e[3].n);
  c2 = c ? c : fuzzKeySqliteCmp(&v[2], &v[3]);
  if( !p1.oom && !p2.oom && fuzzKeyBufCmp(&p1, &p2)!=c2 ){
    fuzzKeyFail("two-column keys are not in SQLite's order");
  }
  kalamBufFree(&p1);
  kalamBufFree(&p2);
  for(i=0; i<4; i++) kalamBufFree(&e[i]);
}

/* 6: any bytes as the values of a stored key. */
static void fuzzKeyValueLength(const unsigned char *aData, size_t nData){
  int n = kalamKeyValueLength((const char*)aData, nData);
  if( n<-1 || n>(int)nData || n==0 ){
    fuzzKeyFail("kalamKeyValueLength went outside the key");
  }
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  fuzzKeyDecode(aData, nData);
  fuzzKeyOrder(aData, nData);
  fuzzKeyPrefix(aData, nData);
  fuzzKeyIndex(aData, nData);
  fuzzKeyValues(aData, nData);
  fuzzKeyValueLength(aData, nData);
  return 0;
}
