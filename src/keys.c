/*
** keys.c — the RocksDB key layout of a table's column family.
**
**   row:    <owner prefix> 'r' <rowid: 8 bytes big-endian, sign bit flipped>
**   key:    <owner prefix> 'k' <type byte> <primary key value bytes>
**   index:  <owner prefix> 'x' <index number: 2 bytes big-endian>
**           <value>... [<rowid: 8 bytes, as in a row key>]
**   change: <owner prefix> 's' <_seq: 8 bytes, as a row id>  ->  row id
**   horizon:<owner prefix> 'h' <_seq: 8 bytes, as a row id>  (no value)
**
** The change entries (the `_seq` index of kalam_changes, src/changes.c)
** hold one entry per row of shared and user tables, keyed by the row's
** newest _seq, so "what changed after S" is a range read. A horizon key
** records the newest _seq that a hard delete removed unseen by the feed;
** the largest one under an owner is its horizon (several may stand for a
** moment, since writers add a key rather than rewrite one).
**
** Flipping the sign bit makes the byte order of keys the numeric order of
** row ids, negatives first, so rowid ranges and ORDER BY rowid are plain
** iterator ranges. For snowflake ids the row id starts with its time, so a
** stream's keys are in time order.
**
** The owner prefix is empty for kalam_shared and kalam_stream tables. For
** kalam_user tables it is one byte of length then the user id (1..128
** bytes): no user's prefix is a prefix of another's, so one user's rows and
** indexes are one contiguous range that a prefix-bounded iterator or a
** single range delete covers exactly.
**
** The key index maps a PRIMARY KEY value to the row id (8 bytes, the same
** encoding). Values reach it already converted to the column's type, so
** equal values always have equal bytes; a REAL that is a whole number is
** keyed as that INTEGER, because SQLite compares 1.0 equal to 1.
**
** Index entries (UNIQUE and INDEX, src/index.c) hold the row id as their
** value too, and their keys sort as SQLite sorts the values, so that
** equality, ranges and ORDER BY on an index's leading columns are key
** ranges. Each value is one self-delimiting piece:
**
**   NULL     0x05
**   number   0x10 <the value as a double: 8 bytes, order-preserving>
**                 <2 bytes: the integer's distance from that double, + 0x8000>
**   text     0x20 <bytes, 0x00 written 0x00 0xff> 0x00 0x01
**   blob     0x30 <bytes, likewise> 0x00 0x01
**
** The type bytes give SQLite's order of storage classes (NULL, numbers,
** text, blobs); text compares by its bytes, which is SQLite's BINARY
** collation in a UTF-8 database. An INTEGER and a REAL share one number
** encoding so that 1 and 1.0 are one value and 2 < 2.5 < 3 hold in a column
** of any type: the double comes first, and the few integers beyond 2^53
** that round to the same double are told apart by the two bytes after it
** (never more than 512 away, since doubles near 2^63 are 1,024 apart); a
** REAL's distance is 0. -0.0 is written as 0.0, which SQLite finds equal.
** The escape keeps a shorter text below every longer one that starts
** with it, so values can follow one another in one key.
**
** A UNIQUE index entry without a NULL in it ends after its values: one
** entry per value, found by a point read. Any other entry (INDEX, or a
** UNIQUE key with a NULL, which clashes with nothing) ends with the row id,
** so entries of equal values come in row id order.
*/
#include "kalam_int.h"
#include <string.h>
#include <assert.h>

SQLITE_EXTENSION_INIT3

/* The owner prefix of zUser's keys into aOut (KALAM_MAX_PREFIX bytes);
** returns its length, 0 for no user (shared and stream tables). */
int kalamKeyPrefix(char *aOut, const char *zUser){
  int n;
  if( zUser==0 ) return 0;
  n = (int)strlen(zUser);
  assert( n>=1 && n<=KALAM_MAX_USER );
  aOut[0] = (char)n;
  memcpy(aOut + 1, zUser, (size_t)n);
  return n + 1;
}

/* Numbers in keys are 8 bytes big-endian with the sign bit flipped, so
** that they sort as bytes. */
static void keyPutRowid(unsigned char *a, sqlite3_int64 iRowid){
  kalamPut64(a, (sqlite3_uint64)iRowid ^ ((sqlite3_uint64)1 << 63));
}

static sqlite3_int64 keyGetRowid(const unsigned char *a){
  return (sqlite3_int64)(kalamGet64(a) ^ ((sqlite3_uint64)1 << 63));
}

/* A key of tag cTag numbered by i (a row id, a _seq) under the owner
** prefix into aOut (KALAM_ROWKEY_MAX bytes); returns its length. */
int kalamKeyNumbered(char *aOut, const char *aPrefix, int nPrefix, char cTag,
                     sqlite3_int64 i){
  assert( nPrefix>=0 && nPrefix<=KALAM_MAX_PREFIX );
  if( nPrefix ) memcpy(aOut, aPrefix, (size_t)nPrefix);
  aOut[nPrefix] = cTag;
  keyPutRowid((unsigned char*)aOut + nPrefix + 1, i);
  return nPrefix + 9;
}

/* Decodes the number of a key of tag cTag. Returns 0 if the key is not
** one of that prefix length (a corrupt or foreign key). */
int kalamKeyNumberedDecode(const char *aKey, size_t nKey, int nPrefix,
                           char cTag, sqlite3_int64 *pi){
  if( nKey != (size_t)nPrefix + 9 || aKey[nPrefix]!=cTag ) return 0;
  *pi = keyGetRowid((const unsigned char*)aKey + nPrefix + 1);
  return 1;
}

/* The expiry entry of row iRowid of a per-user stream, under the table's
** own owner (KALAM_TABLE_PREFIX), into aOut (KALAM_EXPIRYKEY_MAX bytes):
** 't', the row id, then the row's owner prefix. The entries of all users
** are one range in time order, so expiry reads only what expired, however
** many users there are. Returns its length. */
int kalamKeyExpiry(char *aOut, sqlite3_int64 iRowid, const char *aPrefix,
                   int nPrefix){
  int n = kalamKeyNumbered(aOut, KALAM_TABLE_PREFIX, 1, KALAM_TAG_EXPIRY,
                           iRowid);
  memcpy(aOut + n, aPrefix, (size_t)nPrefix);
  return n + nPrefix;
}

/* Decodes an expiry entry: its row id, and where its owner prefix lies
** in it. Returns 0 if it is not one. */
int kalamKeyExpiryDecode(const char *aKey, size_t nKey, sqlite3_int64 *piRowid,
                         const char **paPrefix, int *pnPrefix){
  int nOwner;
  if( nKey < 11 || aKey[0]!=KALAM_TABLE_PREFIX[0] ) return 0;
  if( !kalamKeyNumberedDecode(aKey, 10, 1, KALAM_TAG_EXPIRY, piRowid) ){
    return 0;
  }
  nOwner = 1 + (unsigned char)aKey[10];
  if( aKey[10]==0 || nOwner!=(int)(nKey - 10) ) return 0;
  *paPrefix = aKey + 10;
  *pnPrefix = nOwner;
  return 1;
}

/* The row key of iRowid under the owner prefix into aOut
** (KALAM_ROWKEY_MAX bytes); returns its length. */
int kalamKeyRow(char *aOut, const char *aPrefix, int nPrefix,
                sqlite3_int64 iRowid){
  return kalamKeyNumbered(aOut, aPrefix, nPrefix, KALAM_TAG_ROW, iRowid);
}

/* The first key past row iHi under the owner prefix into aOut
** (KALAM_ROWKEY_MAX bytes): the row key of iHi + 1, or, for the largest
** row id, the end of the owner's row keys. Returns its length. */
int kalamKeyRowEnd(char *aOut, const char *aPrefix, int nPrefix,
                   sqlite3_int64 iHi){
  int n;
  if( iHi<INT64_MAX ) return kalamKeyRow(aOut, aPrefix, nPrefix, iHi + 1);
  kalamKeyTagRange(aPrefix, nPrefix, KALAM_TAG_ROW, 0, 0, aOut, &n);
  return n;
}

/* Decodes the row id of a row key. Returns 0 if the key is not a row key
** of that prefix length (a corrupt or foreign key). */
int kalamKeyRowDecode(const char *aKey, size_t nKey, int nPrefix,
                      sqlite3_int64 *piRowid){
  return kalamKeyNumberedDecode(aKey, nKey, nPrefix, KALAM_TAG_ROW, piRowid);
}

/* Appends the key-index key of pVal (already converted to the column type)
** to p. The type byte keeps an INTEGER 1 apart from a TEXT '1' in an ANY
** column. */
void kalamKeyIndex(KalamBuf *p, const char *aPrefix, int nPrefix,
                   const KalamValue *pVal){
  unsigned char a[9];
  kalamBufAppend(p, aPrefix, nPrefix);
  kalamBufAppendChar(p, KALAM_TAG_KEY);
  switch( pVal->eType ){
    case SQLITE_INTEGER:
      a[0] = 'i';
      keyPutRowid(a + 1, pVal->i);
      kalamBufAppend(p, a, 9);
      break;
    case SQLITE_FLOAT: {
      double r = pVal->r;
      sqlite3_int64 i;
      if( r >= -9223372036854775808.0 && r < 9223372036854775808.0
       && (double)(sqlite3_int64)r==r ){
        /* SQLite finds 1 = 1.0 (and -0.0 = 0), so in an ANY column the
        ** REAL 1.0 and the INTEGER 1 must be one key. */
        a[0] = 'i';
        keyPutRowid(a + 1, (sqlite3_int64)r);
      }else{
        memcpy(&i, &r, 8);
        a[0] = 'f';
        keyPutRowid(a + 1, i);
      }
      kalamBufAppend(p, a, 9);
      break;
    }
    default:
      kalamBufAppendChar(p, pVal->eType==SQLITE_BLOB ? 'b' : 't');
      kalamBufAppend(p, pVal->z, pVal->n);
      break;
  }
}

/* The owner prefix length of a stored key of a kalam_user table, read from
** its length byte: 1 + the user id's length. -1 when the key is too short
** to hold that prefix and a tag (a corrupt or foreign key). */
int kalamKeyOwnerLength(const char *aKey, size_t nKey){
  int nPrefix;
  if( nKey==0 ) return -1;
  nPrefix = 1 + (unsigned char)aKey[0];
  if( nPrefix > KALAM_MAX_PREFIX ) return -1;
  return (size_t)nPrefix < nKey ? nPrefix : -1;
}

/* The range [aLo, aHi) of one owner's keys that carry tag cTag (all its
** row keys, all its key-index keys, or all its index entries). Both bounds
** take at most KALAM_BOUND_MAX bytes; aLo may be NULL when only the end
** is wanted. */
void kalamKeyTagRange(const char *aPrefix, int nPrefix, char cTag,
                      char *aLo, int *pnLo, char *aHi, int *pnHi){
  assert( nPrefix>=0 && nPrefix<=KALAM_MAX_PREFIX );
  if( aLo ){
    memcpy(aLo, aPrefix, (size_t)nPrefix);
    aLo[nPrefix] = cTag;
    *pnLo = nPrefix + 1;
  }
  memcpy(aHi, aPrefix, (size_t)nPrefix);
  aHi[nPrefix] = (char)(cTag + 1);
  *pnHi = nPrefix + 1;
}

/* The range [aLo, aHi) of every key of one owner, whatever its tag: the
** prefix itself up to the prefix and 0xff, which no tag reaches. */
void kalamKeyOwnerRange(const char *aPrefix, int nPrefix,
                        char *aLo, int *pnLo, char *aHi, int *pnHi){
  assert( nPrefix>0 && nPrefix<=KALAM_MAX_PREFIX );
  memcpy(aLo, aPrefix, (size_t)nPrefix);
  memcpy(aHi, aPrefix, (size_t)nPrefix);
  aHi[nPrefix] = (char)0xff;
  *pnLo = nPrefix;
  *pnHi = nPrefix + 1;
}

/* Appends the start of an entry of index number iNum (1..65535) under the
** owner prefix: the common prefix of all its entries. */
void kalamKeyIndexBegin(KalamBuf *p, const char *aPrefix, int nPrefix,
                        int iNum){
  char a[3];
  assert( iNum>0 && iNum<=0xffff );
  a[0] = KALAM_TAG_INDEX;
  a[1] = (char)(iNum >> 8);
  a[2] = (char)(iNum & 0xff);
  kalamBufAppend(p, aPrefix, nPrefix);
  kalamBufAppend(p, a, 3);
}

/* Appends n bytes with each 0x00 escaped, then the terminator (see the
** header). */
static void keyPutEscaped(KalamBuf *p, const char *z, int n){
  static const char aEsc[2] = {0x00, (char)0xff};
  static const char aEnd[2] = {0x00, 0x01};
  int i, iStart = 0;
  for(i=0; i<n; i++){
    if( z[i]==0 ){
      kalamBufAppend(p, z + iStart, i - iStart);
      kalamBufAppend(p, aEsc, 2);
      iStart = i + 1;
    }
  }
  kalamBufAppend(p, z + iStart, n - iStart);
  kalamBufAppend(p, aEnd, 2);
}

/* The order-preserving 8 bytes of a double: positive numbers with the
** sign bit set, negative ones with every bit flipped. */
static void keyPutDouble(unsigned char *a, double r){
  sqlite3_uint64 u;
  if( r==0.0 ) r = 0.0;    /* -0.0 is 0.0 */
  memcpy(&u, &r, 8);
  if( u & ((sqlite3_uint64)1 << 63) ){
    u = ~u;
  }else{
    u |= (sqlite3_uint64)1 << 63;
  }
  kalamPut64(a, u);
}

/* Appends one value of an index entry, encoded as the header says. A
** JSON value is its compact text, as SQLite reads it. */
void kalamKeyValue(KalamBuf *p, const KalamValue *pVal){
  unsigned char a[11];
  switch( pVal->eType ){
    case SQLITE_NULL:
      kalamBufAppendChar(p, 0x05);
      break;
    case SQLITE_INTEGER: {
      double r = (double)pVal->i;
      sqlite3_int64 iDiff;
      if( r>=9223372036854775808.0 ){
        /* Rounded up to 2^63, which no int64 holds: the distance, in two
        ** steps that cannot overflow. */
        iDiff = (pVal->i - INT64_MAX) - 1;
      }else{
        iDiff = pVal->i - (sqlite3_int64)r;
      }
      assert( iDiff>=-512 && iDiff<=512 );
      a[0] = 0x10;
      keyPutDouble(a + 1, r);
      a[9] = (unsigned char)((iDiff + 0x8000) >> 8);
      a[10] = (unsigned char)((iDiff + 0x8000) & 0xff);
      kalamBufAppend(p, a, 11);
      break;
    }
    case SQLITE_FLOAT:
      a[0] = 0x10;
      keyPutDouble(a + 1, pVal->r);
      a[9] = 0x80;
      a[10] = 0x00;
      kalamBufAppend(p, a, 11);
      break;
    case SQLITE_TEXT:
      kalamBufAppendChar(p, 0x20);
      keyPutEscaped(p, pVal->z, pVal->n);
      break;
    default:
      kalamBufAppendChar(p, 0x30);
      keyPutEscaped(p, pVal->z, pVal->n);
      break;
  }
}

/* Appends a row id, 8 bytes as in a row key. */
void kalamKeyAppendRowid(KalamBuf *p, sqlite3_int64 iRowid){
  unsigned char a[8];
  keyPutRowid(a, iRowid);
  kalamBufAppend(p, a, 8);
}

/* The length of the encoded value at the start of a[0..n), or -1 if it is
** not one (a damaged key). */
int kalamKeyValueLength(const char *a, size_t n){
  size_t i;
  if( n==0 ) return -1;
  switch( (unsigned char)a[0] ){
    case 0x05: return 1;
    case 0x10: return n>=11 ? 11 : -1;
    case 0x20:
    case 0x30:
      for(i=1; i+1<n; i++){
        if( a[i]!=0 ) continue;
        if( a[i+1]==0x01 ) return (int)(i + 2);
        if( (unsigned char)a[i+1]!=0xff ) return -1;
        i++;
      }
      return -1;
    default:
      return -1;
  }
}

/* Turns the key in p into the least key above every key that starts with
** it: the exclusive end of their range. Trailing 0xff bytes go, and the
** last other byte grows by one. Returns 0 if there is no such key (p is
** empty or all 0xff, which kalam's keys never are). */
int kalamKeySuccessor(KalamBuf *p){
  while( p->n>0 && (unsigned char)p->z[p->n-1]==0xff ) p->n--;
  if( p->n==0 ) return 0;
  p->z[p->n-1] = (char)((unsigned char)p->z[p->n-1] + 1);
  return 1;
}
