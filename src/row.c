/*
** row.c — the row codec: one JSON object per row, written and read without
** building a cJSON tree.
**
** Stored form (plain JSON, readable by any JSON tool):
**
**   shared, user: {"c1":v1,...,"cN":vN,"_seq":S,"_updated":U,"_deleted":0|1}
**   stream:       {"c1":v1,...,"cN":vN,"_seq":S,"_ts":T}
**
** Values by column type: TEXT a string; INTEGER and TIMESTAMP an integer
** (all 64 bits, written and read without a double); REAL a number that
** always has a '.' or an exponent; BOOLEAN true/false; JSON the value itself;
** BLOB a base64 string; ANY whatever the value is, a blob as
** {"base64":"..."}. SQL NULL is null.
**
** The system columns come last and are written by kalam only, so whether a
** row is deleted is one memcmp on its tail (kalamRowIsDeleted) and scans
** that skip the trash never parse the rows they skip.
**
** Reading is lazy: kalamRowOpen only checks that the row opens and ends as
** kalam writes rows; kalamRowColumn scans on just as far as the column it
** is asked for, noting where each value it passes lies, and converts that
** one value. A scan that wants one column of five never reads the rest, nor
** the system columns at the end. Bytes that are not what kalam wrote (a damaged
** store, a hand edit) give SQLITE_CORRUPT and a message, never a crash.
** Rows as kalam writes them take a fast path (rowFastPair) that reads what
** the general walk would read, only cheaper; anything else takes the walk.
*/
#include "kalam_int.h"
#include <string.h>
#include <ctype.h>
#include <assert.h>

SQLITE_EXTENSION_INIT3

static const char rowDeletedTail[] = "\"_deleted\":1}";
static const char rowLiveTail[] = "\"_deleted\":0}";

/* memcmp(a, b, n)==0 for n>=4 (a key is at least "x": long), without a
** library call for the short keys of most tables: two overlapping loads
** cover 4 to 16 bytes. */
static int rowSameBytes(const char *a, const char *b, int n){
  assert( n>=4 );
  if( n<=8 ){
    unsigned int x0, x1, y0, y1;
    memcpy(&x0, a, 4); memcpy(&y0, b, 4);
    memcpy(&x1, a + n - 4, 4); memcpy(&y1, b + n - 4, 4);
    return x0==y0 && x1==y1;
  }
  if( n<=16 ){
    sqlite3_uint64 x0, x1, y0, y1;
    memcpy(&x0, a, 8); memcpy(&y0, b, 8);
    memcpy(&x1, a + n - 8, 8); memcpy(&y1, b + n - 8, 8);
    return x0==y0 && x1==y1;
  }
  return memcmp(a, b, (size_t)n)==0;
}

int kalamRowIsDeleted(const char *z, size_t n){
  size_t nTail = sizeof(rowDeletedTail) - 1;
  if( n>=nTail && rowSameBytes(z + n - nTail, rowDeletedTail, (int)nTail) ){
    return 1;
  }
  return 0;
}

/* The message for a row that is not the JSON object kalam wrote (the
** caller frees it with sqlite3_free; NULL if out of memory). */
char *kalamRowCorruptMessage(const KalamSchema *pSchema, sqlite3_int64 iRowid){
  return sqlite3_mprintf("corrupt row in kalam table %s (rowid %lld): not "
                         "the JSON object kalam wrote", pSchema->zTable, iRowid);
}

/* ------------------------------------------------------------ scanning */

/* Returns the offset just past the JSON string that starts at z[i] (a
** quote), or -1 if it does not end inside z[0..n). memchr finds each
** candidate quote faster than a loop over every byte; a quote ends the
** string unless an odd run of backslashes escapes it. The byte before such
** a run is the opening quote or a byte that no backslash escapes, so the
** run's backslashes pair up from its start. */
static long rowSkipString(const char *z, long n, long i){
  long iOpen = i;
  if( i>=n ) return -1;   /* memchr below must not get a negative length */
  for(;;){
    const char *p = memchr(z + i + 1, '"', (size_t)(n - i - 1));
    long j, k;
    if( p==0 ) return -1;
    j = (long)(p - z);
    for(k=j-1; k>iOpen && z[k]=='\\'; k--){}
    if( ((j - 1 - k) & 1)==0 ) return j + 1;
    i = j;
  }
}

/* Returns the offset just past the JSON value that starts at z[i], or -1. */
static long rowSkipValue(const char *z, long n, long i){
  if( i>=n ) return -1;
  if( z[i]=='"' ) return rowSkipString(z, n, i);
  if( z[i]=='{' || z[i]=='[' ){
    long depth = 0;
    while( i<n ){
      char c = z[i];
      if( c=='"' ){
        i = rowSkipString(z, n, i);
        if( i<0 ) return -1;
        continue;
      }
      if( c=='{' || c=='[' ) depth++;
      else if( c=='}' || c==']' ){
        depth--;
        if( depth==0 ) return i + 1;
      }
      i++;
    }
    return -1;
  }else{
    long iStart = i;
    while( i<n && z[i]!=',' && z[i]!='}' && z[i]!=']'
        && !isspace((unsigned char)z[i]) ) i++;
    return i>iStart ? i : -1;
  }
}

static long rowSkipSpace(const char *z, long n, long i){
  while( i<n && isspace((unsigned char)z[i]) ) i++;
  return i;
}

/* ---------------------------------------------------------- fast path
** Rows kalam wrote have no white space and their keys in column order, so
** the next pair is most often exactly the bytes <zJsonKey of the hinted
** column><value><, or }>. rowFastPair checks for that with one memcmp and
** skips the value without isspace(); on any other bytes it gives up and
** the general walk in rowScan reads the pair. It takes only pairs that the
** general walk would read to the same column and the same value bytes, so
** the two paths agree on every row, hand-made and damaged ones included. */

/* Can column pCol's key be matched by its zJsonKey bytes? Only if those
** are the name unescaped ("name": is nName + 3 bytes), because the general
** walk compares a stored key's bytes as they are, escapes and all; and not
** for a name beginning with _, which the general walk reads as a system
** column (the schema refuses such names anyway). */
static int rowKeyIsPlain(const KalamColumn *pCol){
  return pCol->nJsonKey==pCol->nName + 3 && pCol->zName[0]!='_';
}

/* Bytes of the numbers and words (true, false, null) kalam writes. None
** is white space, ',', '}' or ']', where the general walk ends a bare
** value. */
static int rowIsBareChar(char c){
  return (c>='0' && c<='9') || (c>='a' && c<='z') || (c>='A' && c<='Z')
      || c=='.' || c=='-' || c=='+';
}

/* Returns the offset just past the value at z[i] if it is directly
** followed by ',' or '}' (the offset of that byte), else -1. */
static long rowSkipValueFast(const char *z, long n, long i){
  long iStart = i;
  if( i>=n ) return -1;
  if( z[i]=='"' ) return rowSkipString(z, n, i);
  if( z[i]=='{' || z[i]=='[' ) return rowSkipValue(z, n, i);
  for(; i<n; i++){
    if( (unsigned char)(z[i] - '0')<10 ) continue;  /* most bytes: digits */
    if( z[i]==',' || z[i]=='}' ) return i>iStart ? i : -1;
    if( !rowIsBareChar(z[i]) ) return -1;
  }
  return -1;
}

/* If the pair at z[i] (a quote) is the hinted column's key, with nothing
** between it and its value, returns that column and sets *piVal and
** *piValEnd to where its value lies. Else returns -1. */
static int rowFastPair(const KalamRow *pRow, const KalamSchema *pSchema,
                       long i, long *piVal, long *piValEnd){
  const KalamColumn *pCol;
  long iVal, iValEnd;
  if( pRow->iHint>=pSchema->nCol ) return -1;
  pCol = &pSchema->aCol[pRow->iHint];
  if( !rowKeyIsPlain(pCol) || (long)pRow->n - i <= pCol->nJsonKey
   || !rowSameBytes(pRow->z + i, pCol->zJsonKey, pCol->nJsonKey) ){
    return -1;
  }
  iVal = i + pCol->nJsonKey;
  iValEnd = rowSkipValueFast(pRow->z, (long)pRow->n, iVal);
  if( iValEnd<0 ) return -1;
  *piVal = iVal;
  *piValEnd = iValEnd;
  return pRow->iHint;
}

/* Records system column zKey's integer value. */
static int rowSystem(KalamRow *pRow, const char *zKey, long nKey,
                     const char *zVal, long nVal){
  const KalamSysColumn *pSys = kalamSysColumnByKey(zKey, (size_t)nKey);
  sqlite3_int64 v;
  if( pSys==0 ) return SQLITE_OK; /* unknown keys are ignored, like missing */
  if( nVal==4 && memcmp(zVal, "true", 4)==0 ) v = 1;
  else if( nVal==5 && memcmp(zVal, "false", 5)==0 ) v = 0;
  else if( !kalamParseInt(zVal, (int)nVal, &v) ) return SQLITE_CORRUPT;
  pRow->aSys[pSys->iSlot] = v;
  return SQLITE_OK;
}

static int rowString(const char *z, int n, KalamValue *pOut);

/* Scans on from pRow->iScan until column iStop has been found, or to the
** end of the object when iStop<0. Each key/value pair is visited once
** however the scan is split up. */
static int rowScan(KalamRow *pRow, const KalamSchema *pSchema, int iStop){
  const char *z = pRow->z;
  long n = (long)pRow->n;
  long i = pRow->iScan;
  int iCol;

  if( pRow->eState==KALAM_ROW_DONE ) return SQLITE_OK;
  if( pRow->eState==KALAM_ROW_CORRUPT ) return SQLITE_CORRUPT;
  for(;;){
    long iKey, iKeyEnd, iVal, iValEnd;
    const char *zKey;
    long nKey;
    /* After a pair of a row kalam wrote, i is at a quote or the '}': no
    ** white space to skip, and no isspace() call to find that out. */
    if( i>=n || (z[i]!='"' && z[i]!='}') ) i = rowSkipSpace(z, n, i);
    if( i<n && z[i]=='}' ) break;
    if( i>=n || z[i]!='"' ) goto corrupt;
    iCol = rowFastPair(pRow, pSchema, i, &iVal, &iValEnd);
    if( iCol<0 ){
      iKey = i;
      iKeyEnd = rowSkipString(z, n, i);
      if( iKeyEnd<0 ) goto corrupt;
      i = rowSkipSpace(z, n, iKeyEnd);
      if( i>=n || z[i]!=':' ) goto corrupt;
      iVal = rowSkipSpace(z, n, i + 1);
      iValEnd = rowSkipValue(z, n, iVal);
      if( iValEnd<0 ) goto corrupt;

      zKey = z + iKey + 1;
      nKey = iKeyEnd - iKey - 2;
      if( nKey>0 && zKey[0]=='_' ){
        if( rowSystem(pRow, zKey, nKey, z + iVal, iValEnd - iVal) ){
          goto corrupt;
        }
      }else{
        /* Keys are written in column order, so the next column is the
        ** first guess; a hand-made row may have them in any order or case.*/
        if( pRow->iHint<pSchema->nCol ){
          const KalamColumn *pHint = &pSchema->aCol[pRow->iHint];
          /* Lengths first: a stored key may hold NUL bytes. */
          if( pHint->nName==nKey
           && memcmp(pHint->zName, zKey, (size_t)nKey)==0 ){
            iCol = pRow->iHint;
          }
        }
        if( iCol<0 && memchr(zKey, '\\', (size_t)nKey)!=0 ){
          /* An escaped key ("q\"x", or "\u0061" by another JSON tool)
          ** names the column its decoded text spells. */
          KalamValue key;
          memset(&key, 0, sizeof(key));
          if( rowString(z + iKey, (int)(iKeyEnd - iKey), &key) ){
            kalamValueClear(&key);
            goto corrupt;
          }
          iCol = kalamSchemaColumnIndex(pSchema, key.z, key.n);
          kalamValueClear(&key);
        }else if( iCol<0 ){
          iCol = kalamSchemaColumnIndex(pSchema, zKey, (int)nKey);
        }
      }
    }
    if( iCol>=0 ){
      pRow->aOff[iCol] = (int)iVal;
      pRow->aLen[iCol] = (int)(iValEnd - iVal);
      pRow->iHint = iCol + 1;
    }

    i = iValEnd;
    if( i+1<n && z[i]==',' && z[i+1]=='"' ){
      i++;   /* as kalam writes rows */
    }else if( i<n && z[i]=='}' ){
      /* the last pair, as kalam writes rows */
    }else{
      i = rowSkipSpace(z, n, i);
      if( i>=n ) goto corrupt;
      if( z[i]==',' ){
        /* A comma must be followed by another key: {"a":1,} is not JSON. */
        i = rowSkipSpace(z, n, i + 1);
        if( i>=n || z[i]!='"' ) goto corrupt;
      }else if( z[i]!='}' ){
        goto corrupt;
      }
    }
    if( iStop>=0 && iCol==iStop ){
      pRow->iScan = i;
      return SQLITE_OK;
    }
  }
  pRow->eState = KALAM_ROW_DONE;
  return SQLITE_OK;
corrupt:
  pRow->eState = KALAM_ROW_CORRUPT;
  return SQLITE_CORRUPT;
}

/* Starts reading a row: notes where it is and checks that it opens as a
** JSON object. Nothing else is read yet (see rowScan). */
static int rowStart(KalamRow *pRow, const KalamSchema *pSchema,
                    const char *z, size_t nIn){
  long i;
  int iCol;
  if( pRow->nAlloc < pSchema->nCol ){
    int *a = sqlite3_realloc64(pRow->aOff, sizeof(int)*2*pSchema->nCol);
    if( a==0 ) return SQLITE_NOMEM;
    pRow->aOff = a;
    pRow->aLen = a + pSchema->nCol;
    pRow->nAlloc = pSchema->nCol;
  }
  pRow->z = z;
  pRow->n = nIn;
  pRow->nCol = pSchema->nCol;
  pRow->iHint = 0;
  for(iCol=0; iCol<pSchema->nCol; iCol++) pRow->aOff[iCol] = -1;
  memset(pRow->aSys, 0, sizeof(pRow->aSys));
  pRow->eState = KALAM_ROW_CORRUPT;
  if( nIn > 0x7fffffff ) return SQLITE_CORRUPT;
  i = (nIn>0 && z[0]=='{') ? 0 : rowSkipSpace(z, (long)nIn, 0);
  if( i>=(long)nIn || z[i]!='{' ) return SQLITE_CORRUPT;
  pRow->iScan = i + 1;
  pRow->eState = KALAM_ROW_SCANNING;
  return SQLITE_OK;
}

/* Reads the whole row now: every column and the system columns. */
int kalamRowParse(KalamRow *pRow, const KalamSchema *pSchema,
                  const char *z, size_t nIn){
  int rc = rowStart(pRow, pSchema, z, nIn);
  if( rc==SQLITE_OK ) rc = rowScan(pRow, pSchema, -1);
  return rc;
}

/* Starts reading a row lazily: kalamRowColumn and kalamRowSystem read only
** as far as they need. A row that does not end as kalam writes rows (a
** truncated or hand-edited one) is read whole at once instead, so that
** damage anywhere is reported whatever column is asked for. */
int kalamRowOpen(KalamRow *pRow, const KalamSchema *pSchema,
                 const char *z, size_t nIn){
  int rc = rowStart(pRow, pSchema, z, nIn);
  int bTail;
  if( rc ) return rc;
  if( pSchema->eKind==KALAM_KIND_STREAM ){
    bTail = nIn>0 && z[nIn-1]=='}';
  }else{
    size_t nTail = sizeof(rowLiveTail) - 1;
    bTail = nIn>nTail
         && (rowSameBytes(z + nIn - nTail, rowLiveTail, (int)nTail)
             || rowSameBytes(z + nIn - nTail, rowDeletedTail, (int)nTail));
  }
  return bTail ? SQLITE_OK : rowScan(pRow, pSchema, -1);
}

/* The value of system column iSys (KALAM_SYS_*) of an opened row. */
int kalamRowSystem(KalamRow *pRow, const KalamSchema *pSchema, int iSys,
                   sqlite3_int64 *piOut){
  int rc = rowScan(pRow, pSchema, -1);
  *piOut = rc ? 0 : pRow->aSys[iSys];
  return rc;
}

void kalamRowFree(KalamRow *pRow){
  sqlite3_free(pRow->aOff);
  memset(pRow, 0, sizeof(*pRow));
}

/* ------------------------------------------------------------ reading */

static int rowHex(const char *z, unsigned int *pOut){
  unsigned int v = 0;
  int i;
  for(i=0; i<4; i++){
    char c = z[i];
    v <<= 4;
    if( c>='0' && c<='9' ) v |= (unsigned)(c - '0');
    else if( c>='a' && c<='f' ) v |= (unsigned)(c - 'a' + 10);
    else if( c>='A' && c<='F' ) v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *pOut = v;
  return 1;
}

/* Decodes the JSON string z[0..n) (quotes included) into pOut as TEXT. If
** it has no escapes the text is borrowed from z, else decoded into zOwned.*/
static int rowString(const char *z, int n, KalamValue *pOut){
  int i, j;
  char *zOut;
  if( n<2 || z[0]!='"' || z[n-1]!='"' ) return SQLITE_CORRUPT;
  pOut->eType = SQLITE_TEXT;
  if( memchr(z + 1, '\\', (size_t)n - 2)==0 ){
    pOut->z = z + 1;
    pOut->n = n - 2;
    return SQLITE_OK;
  }
  zOut = sqlite3_malloc(n);
  if( zOut==0 ) return SQLITE_NOMEM;
  for(i=1, j=0; i<n-1; i++){
    char c = z[i];
    if( c!='\\' ){ zOut[j++] = c; continue; }
    if( ++i >= n-1 ) goto corrupt;
    switch( z[i] ){
      case '"': zOut[j++] = '"'; break;
      case '\\': zOut[j++] = '\\'; break;
      case '/': zOut[j++] = '/'; break;
      case 'b': zOut[j++] = '\b'; break;
      case 'f': zOut[j++] = '\f'; break;
      case 'n': zOut[j++] = '\n'; break;
      case 'r': zOut[j++] = '\r'; break;
      case 't': zOut[j++] = '\t'; break;
      case 'u': {
        unsigned int u, u2;
        if( i+4 >= n-1 || !rowHex(z + i + 1, &u) ) goto corrupt;
        i += 4;
        if( u>=0xd800 && u<0xdc00 && i+6<n-1 && z[i+1]=='\\' && z[i+2]=='u'
         && rowHex(z + i + 3, &u2) && u2>=0xdc00 && u2<0xe000 ){
          u = 0x10000 + ((u - 0xd800)<<10) + (u2 - 0xdc00);
          i += 6;
        }
        /* \uXXXX takes 6 bytes of input and at most 4 of output. */
        if( u<0x80 ){
          zOut[j++] = (char)u;
        }else if( u<0x800 ){
          zOut[j++] = (char)(0xc0 | (u>>6));
          zOut[j++] = (char)(0x80 | (u & 0x3f));
        }else if( u<0x10000 ){
          zOut[j++] = (char)(0xe0 | (u>>12));
          zOut[j++] = (char)(0x80 | ((u>>6) & 0x3f));
          zOut[j++] = (char)(0x80 | (u & 0x3f));
        }else{
          zOut[j++] = (char)(0xf0 | (u>>18));
          zOut[j++] = (char)(0x80 | ((u>>12) & 0x3f));
          zOut[j++] = (char)(0x80 | ((u>>6) & 0x3f));
          zOut[j++] = (char)(0x80 | (u & 0x3f));
        }
        break;
      }
      default: goto corrupt;
    }
  }
  zOut[j] = 0;
  pOut->zOwned = zOut;
  pOut->z = zOut;
  pOut->n = j;
  return SQLITE_OK;
corrupt:
  sqlite3_free(zOut);
  return SQLITE_CORRUPT;
}

/* Decodes base64 string z[0..n) (quotes included) into pOut as a BLOB. */
static int rowBlob(const char *z, int n, KalamValue *pOut){
  unsigned char *a;
  int nOut;
  if( n<2 || z[0]!='"' || z[n-1]!='"' ) return SQLITE_CORRUPT;
  a = sqlite3_malloc(n);
  if( a==0 ) return SQLITE_NOMEM;
  nOut = kalamBase64Decode(z + 1, n - 2, a);
  if( nOut<0 ){
    sqlite3_free(a);
    return SQLITE_CORRUPT;
  }
  pOut->eType = SQLITE_BLOB;
  pOut->zOwned = (char*)a;
  pOut->z = (const char*)a;
  pOut->n = nOut;
  return SQLITE_OK;
}

/* A JSON number or true/false as INTEGER, or REAL if it has a fraction. */
static int rowNumber(const char *z, int n, int bPreferReal, KalamValue *pOut){
  if( n==4 && memcmp(z, "true", 4)==0 ){
    pOut->eType = SQLITE_INTEGER; pOut->i = 1;
    return SQLITE_OK;
  }
  if( n==5 && memcmp(z, "false", 5)==0 ){
    pOut->eType = SQLITE_INTEGER; pOut->i = 0;
    return SQLITE_OK;
  }
  if( !bPreferReal && kalamParseInt(z, n, &pOut->i) ){
    pOut->eType = SQLITE_INTEGER;
    return SQLITE_OK;
  }
  if( kalamParseDouble(z, n, &pOut->r) ){
    pOut->eType = SQLITE_FLOAT;
    return SQLITE_OK;
  }
  return SQLITE_CORRUPT;
}

/* An ANY column's stored JSON text z[0..n) as its SQL value: a string is
** TEXT, {"base64":"..."} a BLOB, a number with a '.' or an exponent REAL,
** another number INTEGER. The cold tier's files hold ANY values in the same
** text (parquet_chunk.c), so both tiers read them here. */
int kalamRowAnyValue(const char *z, int n, KalamValue *pOut){
  if( n<=0 ) return SQLITE_CORRUPT;
  if( z[0]=='"' ) return rowString(z, n, pOut);
  if( z[0]=='{' ){
    /* {"base64":"..."} is a blob; any other object is corrupt. */
    static const char zPre[] = "{\"base64\":";
    int nPre = (int)sizeof(zPre) - 1;
    if( n>nPre+1 && memcmp(z, zPre, (size_t)nPre)==0 && z[n-1]=='}' ){
      return rowBlob(z + nPre, n - nPre - 1, pOut);
    }
    return SQLITE_CORRUPT;
  }
  return rowNumber(z, n, memchr(z, '.', (size_t)n) || memchr(z, 'e', (size_t)n)
                         || memchr(z, 'E', (size_t)n), pOut);
}

/* Converts column iCol of a parsed row into pOut (kalamValueClear frees
** it). A missing column reads as NULL. */
int kalamRowColumn(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   KalamValue *pOut, char **pzErr){
  const KalamColumn *pCol = &pSchema->aCol[iCol];
  const char *z;
  int n, rc;

  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  if( pRow->aOff[iCol]<0 ){
    if( rowScan((KalamRow*)pRow, pSchema, iCol) ){
      *pzErr = kalamRowCorruptMessage(pSchema, pRow->iRowid);
      return SQLITE_CORRUPT;
    }
    if( pRow->aOff[iCol]<0 ) return SQLITE_OK;
  }
  z = pRow->z + pRow->aOff[iCol];
  n = pRow->aLen[iCol];
  if( n==4 && memcmp(z, "null", 4)==0 ) return SQLITE_OK;

  switch( pCol->eType ){
    case KALAM_TYPE_TEXT:
      rc = z[0]=='"' ? rowString(z, n, pOut) : SQLITE_CORRUPT;
      break;
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
      /* kalam writes only integers here: anything else is damage. */
      rc = SQLITE_CORRUPT;
      if( kalamParseInt(z, n, &pOut->i) ){
        pOut->eType = SQLITE_INTEGER;
        rc = SQLITE_OK;
      }
      break;
    case KALAM_TYPE_BOOLEAN:
      rc = SQLITE_CORRUPT;
      if( (n==4 && memcmp(z, "true", 4)==0) || (n==1 && z[0]=='1') ){
        pOut->eType = SQLITE_INTEGER;
        pOut->i = 1;
        rc = SQLITE_OK;
      }else if( (n==5 && memcmp(z, "false", 5)==0) || (n==1 && z[0]=='0') ){
        pOut->eType = SQLITE_INTEGER;
        pOut->i = 0;
        rc = SQLITE_OK;
      }
      break;
    case KALAM_TYPE_REAL:
      /* kalam writes a REAL as a number: not a string, not true/false. */
      rc = (z[0]=='-' || (z[0]>='0' && z[0]<='9')) ? rowNumber(z, n, 1, pOut)
                                                   : SQLITE_CORRUPT;
      break;
    case KALAM_TYPE_JSON:
      /* Returned as stored, so it is checked as JSON first. */
      rc = SQLITE_CORRUPT;
      if( kalamJsonValid(z, n) ){
        pOut->eType = SQLITE_TEXT;
        pOut->bJson = 1;
        pOut->z = z;
        pOut->n = n;
        rc = SQLITE_OK;
      }
      break;
    case KALAM_TYPE_BLOB:
      rc = rowBlob(z, n, pOut);
      break;
    default: /* ANY */
      rc = kalamRowAnyValue(z, n, pOut);
      break;
  }
  if( rc==SQLITE_CORRUPT ){
    *pzErr = sqlite3_mprintf("corrupt row in kalam table %s: column %s holds "
        "%.*s%s, not %s %s value", pSchema->zTable, pCol->zName,
        n>40 ? 40 : n, z, n>40 ? "..." : "",
        (pCol->eType==KALAM_TYPE_INTEGER || pCol->eType==KALAM_TYPE_ANY)
        ? "an" : "a", kalamTypeName(pCol->eType));
  }
  return rc;
}

/* The _seq of stored row z[0..n), read without the user columns, or -1
** if the row cannot be read. */
sqlite3_int64 kalamRowSeq(const char *z, size_t n){
  static const KalamSchema noColumns = {0};
  KalamRow row;
  sqlite3_int64 iSeq = -1;
  memset(&row, 0, sizeof(row));
  if( kalamRowParse(&row, &noColumns, z, n)==SQLITE_OK ){
    iSeq = row.aSys[KALAM_SYS_SEQ];
  }
  kalamRowFree(&row);
  return iSeq;
}

/* The user columns of parsed row pRow as one JSON object, the form
** kalam_changes, kalam_consume and subscriptions give a row in: *pz is
** new (sqlite3_free), *pn its length. */
int kalamRowUserJson(const KalamSchema *pSchema, const KalamRow *pRow,
                     char **pz, int *pn, char **pzErr){
  KalamBuf b;
  int i, rc = SQLITE_OK;
  *pz = 0;
  *pn = 0;
  kalamBufInit(&b);
  kalamBufAppendChar(&b, '{');
  for(i=0; rc==SQLITE_OK && i<pSchema->nCol; i++){
    KalamValue v;
    rc = kalamRowColumn(pRow, pSchema, i, &v, pzErr);
    if( rc==SQLITE_OK ){
      kalamRowEncodeValue(&b, &pSchema->aCol[i], &v, i==0);
      kalamValueClear(&v);
    }
  }
  kalamBufAppendChar(&b, '}');
  if( rc==SQLITE_OK && b.oom ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    *pz = sqlite3_malloc64((sqlite3_uint64)b.n + 1);
    if( *pz==0 ){
      rc = SQLITE_NOMEM;
    }else{
      memcpy(*pz, b.z, (size_t)b.n);
      (*pz)[b.n] = 0;
      *pn = (int)b.n;
    }
  }
  kalamBufFree(&b);
  return rc;
}

/* Sets the result of ctx to column iCol. */
int kalamRowResult(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   sqlite3_context *ctx){
  KalamValue v;
  char *zErr = 0;
  int rc = kalamRowColumn(pRow, pSchema, iCol, &v, &zErr);
  if( rc ) return kalamFuncError(ctx, rc, zErr);
  kalamValueResult(ctx, &v);
  return SQLITE_OK;
}

/* ------------------------------------------------------------ writing */

void kalamRowEncodeBegin(KalamBuf *p){
  p->n = 0;
  kalamBufAppendChar(p, '{');
}

static void rowKey(KalamBuf *p, const KalamColumn *pCol, int bFirst){
  if( !bFirst ) kalamBufAppendChar(p, ',');
  kalamBufAppend(p, pCol->zJsonKey, pCol->nJsonKey);
}

void kalamRowEncodeValue(KalamBuf *p, const KalamColumn *pCol,
                         const KalamValue *pVal, int bFirst){
  rowKey(p, pCol, bFirst);
  kalamRowValueText(p, pCol->eType, pVal);
}

/* Appends the JSON text of pVal as a column of type eType (KALAM_TYPE_*)
** holds it. The cold tier's files keep ANY values in this same text
** (parquet_write.c), which kalamRowAnyValue reads back for both tiers. */
void kalamRowValueText(KalamBuf *p, int eType, const KalamValue *pVal){
  switch( pVal->eType ){
    case SQLITE_INTEGER:
      if( eType==KALAM_TYPE_BOOLEAN ){
        kalamBufAppendStr(p, pVal->i ? "true" : "false");
      }else{
        kalamBufAppendInt(p, pVal->i);
      }
      break;
    case SQLITE_FLOAT:
      kalamBufAppendDouble(p, pVal->r);
      break;
    case SQLITE_TEXT:
      if( pVal->bJson ){
        kalamBufAppend(p, pVal->z, pVal->n);
      }else{
        kalamBufAppendJsonString(p, pVal->z, pVal->n);
      }
      break;
    case SQLITE_BLOB:
      if( eType!=KALAM_TYPE_BLOB ) kalamBufAppendStr(p, "{\"base64\":");
      kalamBufAppendChar(p, '"');
      kalamBase64Encode(p, (const unsigned char*)pVal->z, pVal->n);
      kalamBufAppendChar(p, '"');
      if( eType!=KALAM_TYPE_BLOB ) kalamBufAppendChar(p, '}');
      break;
    default:
      kalamBufAppendStr(p, "null");
      break;
  }
}

/* Copies a value's JSON text unchanged from an older version of the row. */
void kalamRowEncodeRaw(KalamBuf *p, const KalamColumn *pCol,
                       const char *z, int n, int bFirst){
  rowKey(p, pCol, bFirst);
  if( z ) kalamBufAppend(p, z, n);
  else kalamBufAppendStr(p, "null");
}

/* Closes the object with the kind's system columns, in their declared
** order (schema.c): iSeq for _seq, iTime for _updated or _ts, bDeleted for
** _deleted. The shared and user kinds end with _deleted, which is what
** makes rowLiveTail and rowDeletedTail the last bytes of their rows. */
void kalamRowEncodeEnd(KalamBuf *p, int eKind, sqlite3_int64 iSeq,
                       sqlite3_int64 iTime, int bDeleted){
  const KalamSysColumn *aSys;
  int nSys = kalamSysColumns(eKind, &aSys), i;
  for(i=0; i<nSys; i++){
    kalamBufAppendStr(p, aSys[i].zKey);
    switch( aSys[i].iSlot ){
      case KALAM_SYS_SEQ:     kalamBufAppendInt(p, iSeq); break;
      case KALAM_SYS_UPDATED: kalamBufAppendInt(p, iTime); break;
      default:
        assert( aSys[i].iSlot==KALAM_SYS_DELETED && i==nSys-1 );
        kalamBufAppendChar(p, bDeleted ? '1' : '0');
        break;
    }
  }
  kalamBufAppendChar(p, '}');
}
