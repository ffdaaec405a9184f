/*
** keys.c — the RocksDB key layout of a table's column family.
**
**   row:  <owner prefix> 'r' <rowid: 8 bytes big-endian, sign bit flipped>
**   key:  <owner prefix> 'k' <type byte> <primary key value bytes>
**
** Flipping the sign bit makes the byte order of keys the numeric order of
** row ids, negatives first, so rowid ranges and ORDER BY rowid are plain
** iterator ranges. For snowflake ids the row id starts with its time, so a
** stream's keys are in time order.
**
** The owner prefix is empty for kalam_shared and kalam_stream tables. For
** kalam_user tables it is one byte of length then the user id (1..128
** bytes): no user's prefix is a prefix of another's, so one user's rows and
** key index are one contiguous range that a prefix-bounded iterator or a
** single range delete covers exactly.
**
** The key index maps a PRIMARY KEY value to the row id (8 bytes, the same
** encoding). Values reach it already converted to the column's type, so
** equal values always have equal bytes; a REAL that is a whole number is
** keyed as that INTEGER, because SQLite compares 1.0 equal to 1.
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

static void keyPutRowid(unsigned char *a, sqlite3_int64 iRowid){
  sqlite3_uint64 u = (sqlite3_uint64)iRowid ^ ((sqlite3_uint64)1 << 63);
  int i;
  for(i=7; i>=0; i--){
    a[i] = (unsigned char)(u & 0xff);
    u >>= 8;
  }
}

/* The row key of iRowid under the owner prefix into aOut
** (KALAM_ROWKEY_MAX bytes); returns its length. */
int kalamKeyRow(char *aOut, const char *aPrefix, int nPrefix,
                sqlite3_int64 iRowid){
  assert( nPrefix>=0 && nPrefix<=KALAM_MAX_PREFIX );
  if( nPrefix ) memcpy(aOut, aPrefix, (size_t)nPrefix);
  aOut[nPrefix] = KALAM_TAG_ROW;
  keyPutRowid((unsigned char*)aOut + nPrefix + 1, iRowid);
  return nPrefix + 9;
}

/* Decodes the row id of a row key. Returns 0 if the key is not a row key
** of that prefix length (a corrupt or foreign key). */
int kalamKeyRowDecode(const char *aKey, size_t nKey, int nPrefix,
                      sqlite3_int64 *piRowid){
  const unsigned char *a = (const unsigned char*)aKey + nPrefix + 1;
  sqlite3_uint64 u = 0;
  int i;
  if( nKey != (size_t)nPrefix + 9 || aKey[nPrefix]!=KALAM_TAG_ROW ) return 0;
  for(i=0; i<8; i++) u = (u<<8) | a[i];
  *piRowid = (sqlite3_int64)(u ^ ((sqlite3_uint64)1 << 63));
  return 1;
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
** row keys, or all its key-index keys). Both bounds take at most
** KALAM_BOUND_MAX bytes. */
void kalamKeyTagRange(const char *aPrefix, int nPrefix, char cTag,
                      char *aLo, int *pnLo, char *aHi, int *pnHi){
  assert( nPrefix>=0 && nPrefix<=KALAM_MAX_PREFIX );
  memcpy(aLo, aPrefix, (size_t)nPrefix);
  memcpy(aHi, aPrefix, (size_t)nPrefix);
  aLo[nPrefix] = cTag;
  aHi[nPrefix] = (char)(cTag + 1);
  *pnLo = *pnHi = nPrefix + 1;
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
