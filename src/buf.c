/*
** buf.c — a growable byte buffer and the number/string formatting the row
** codec needs.
**
** Rows are written as JSON text straight into a KalamBuf, with no cJSON tree
** on the write path: integers are formatted by hand (all 64 bits, never
** through a double) and doubles with the shortest "%.Ng" that reads back to
** the same bits, always with a '.' or an exponent so that a reader can tell
** 1.0 (REAL) from 1 (INTEGER).
*/
#include "kalam_int.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

SQLITE_EXTENSION_INIT3

void kalamBufInit(KalamBuf *p){
  memset(p, 0, sizeof(*p));
}

void kalamBufFree(KalamBuf *p){
  sqlite3_free(p->z);
  memset(p, 0, sizeof(*p));
}

/* Make room for n more bytes plus a NUL terminator. */
static int bufReserve(KalamBuf *p, sqlite3_int64 n){
  sqlite3_int64 nNeed;
  char *zNew;
  if( p->oom ) return 0;
  nNeed = p->n + n + 1;
  if( nNeed <= p->nAlloc ) return 1;
  if( nNeed < 128 ) nNeed = 128;
  if( nNeed < p->nAlloc*2 ) nNeed = p->nAlloc*2;
  zNew = sqlite3_realloc64(p->z, (sqlite3_uint64)nNeed);
  if( zNew==0 ){
    p->oom = 1;
    return 0;
  }
  p->z = zNew;
  p->nAlloc = nNeed;
  return 1;
}

/* The rest of kalamBufAppend (buf.h): long appends, and those that must
** grow the buffer first. */
void kalamBufAppendSlow(KalamBuf *p, const void *z, sqlite3_int64 n){
  if( n<=0 || !bufReserve(p, n) ) return;
  memcpy(p->z + p->n, z, (size_t)n);
  p->n += n;
  p->z[p->n] = 0;
}

void kalamBufAppendStr(KalamBuf *p, const char *z){
  kalamBufAppend(p, z, (sqlite3_int64)strlen(z));
}

/* The slow half of kalamBufAppendChar (kalam_int.h): grow, then append. */
void kalamBufAppendCharSlow(KalamBuf *p, char c){
  if( !bufReserve(p, 1) ) return;
  p->z[p->n++] = c;
  p->z[p->n] = 0;
}

/* Two digits a step: every row carries a 19-digit _seq and a 13-digit
** time, so integers are formatted several times per row written. */
static const char bufPair[] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Writes v (below 10^8) as exactly 8 digits ending just before a. */
static void bufDigits8(char *a, unsigned int v){
  int k;
  for(k=0; k<4; k++){
    unsigned int d = (v % 100) * 2;
    v /= 100;
    *--a = bufPair[d + 1];
    *--a = bufPair[d];
  }
}

void kalamBufAppendInt(KalamBuf *p, sqlite3_int64 v){
  char a[24];
  int i = (int)sizeof(a);
  sqlite3_uint64 u;
  unsigned int w;
  /* Negate in unsigned arithmetic so that INT64_MIN needs no special case. */
  u = v<0 ? (sqlite3_uint64)0 - (sqlite3_uint64)v : (sqlite3_uint64)v;
  /* Eight digits at a time in 32-bit arithmetic, which divides by a
  ** constant in fewer instructions than 64-bit. */
  while( u>=100000000 ){
    bufDigits8(a + i, (unsigned int)(u % 100000000));
    u /= 100000000;
    i -= 8;
  }
  w = (unsigned int)u;
  while( w>=100 ){
    unsigned int d = (w % 100) * 2;
    w /= 100;
    a[--i] = bufPair[d + 1];
    a[--i] = bufPair[d];
  }
  if( w>=10 ){
    a[--i] = bufPair[w*2 + 1];
    a[--i] = bufPair[w*2];
  }else{
    a[--i] = (char)('0' + w);
  }
  if( v<0 ) a[--i] = '-';
  kalamBufAppend(p, a + i, (sqlite3_int64)sizeof(a) - i);
}

void kalamBufAppendDouble(KalamBuf *p, double v){
  char a[40];
  int prec;
  if( isnan(v) ){
    /* SQLite itself turns NaN into NULL; JSON has no NaN either. */
    kalamBufAppendStr(p, "null");
    return;
  }
  if( isinf(v) ){
    /* Out of range on purpose: any JSON reader turns it back into inf. */
    kalamBufAppendStr(p, v<0 ? "-1e999" : "1e999");
    return;
  }
  /* Whole numbers (most REALs in practice) need no printf: every integer
  ** below 2^53 is exact in a double. */
  if( v>-9007199254740992.0 && v<9007199254740992.0
   && v==(double)(sqlite3_int64)v && (v!=0.0 || !signbit(v)) ){
    kalamBufAppendInt(p, (sqlite3_int64)v);
    kalamBufAppend(p, ".0", 2);
    return;
  }
  if( v==0.0 ){
    kalamBufAppendStr(p, signbit(v) ? "-0.0" : "0.0");
    return;
  }
  /* Decimals with few fraction digits (prices, measures): v is r / 10^k
  ** for a whole r below 2^53. Division is correctly rounded, and so is
  ** reading the decimal r * 10^-k back, so that text reads back as v:
  ** exact, short, and no printf. */
  {
    static const double aPow10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
    int k;
    for(k=0; k<6; k++){
      double s = v * aPow10[k];
      double r = nearbyint(s);
      if( r==s && fabs(r)<9007199254740992.0 && r/aPow10[k]==v ){
        char a2[32];
        sqlite3_int64 i = (sqlite3_int64)r;
        sqlite3_uint64 u = i<0 ? (sqlite3_uint64)0-(sqlite3_uint64)i
                               : (sqlite3_uint64)i;
        int n = 0, nFrac = k + 1, j;
        char aDig[24];
        do{ aDig[n++] = (char)('0' + u%10); u /= 10; }while( u );
        while( n<=nFrac ) aDig[n++] = '0';   /* 0.05 needs its zeros */
        j = 0;
        if( i<0 ) a2[j++] = '-';
        while( n>nFrac ) a2[j++] = aDig[--n];
        a2[j++] = '.';
        while( n>0 ) a2[j++] = aDig[--n];
        kalamBufAppend(p, a2, j);
        return;
      }
    }
  }
  for(prec=15; prec<=17; prec++){
    double r = 0.0;
    char *zComma;
    snprintf(a, sizeof(a), "%.*g", prec, v);
    /* A host locale may print a decimal comma; JSON wants a point. */
    if( (zComma = strchr(a, ','))!=0 ) *zComma = '.';
    if( kalamParseDouble(a, (int)strlen(a), &r) && r==v ) break;
  }
  kalamBufAppendStr(p, a);
  if( strpbrk(a, ".eEn")==0 ) kalamBufAppend(p, ".0", 2);
}

/* Is no byte of the 8 in x one that a JSON string must escape (below
** 0x20, '"' or a backslash)? The classic test for a zero byte, applied to
** x xor each of the two characters, and its variant for a byte below
** 0x20: it may flag a word that needs nothing (the caller then looks at
** its bytes one by one), but never passes one that does. */
static int bufJsonPlainWord(sqlite3_uint64 x){
  const sqlite3_uint64 ones = 0x0101010101010101ULL;
  const sqlite3_uint64 highs = 0x8080808080808080ULL;
  sqlite3_uint64 q = x ^ (ones * '"');
  sqlite3_uint64 b = x ^ (ones * '\\');
  return (((x - ones*0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b))
         & highs ? 0 : 1;
}

/* Appends z[0..n) as a JSON string, quotes included. Bytes that JSON
** requires escaped are escaped; everything else (UTF-8 included) is copied
** as it is. Text is read 8 bytes a step, since most text needs no escape
** at all: a quarter of a bulk insert's instructions were this loop. */
void kalamBufAppendJsonString(KalamBuf *p, const char *z, sqlite3_int64 n){
  static const char hex[] = "0123456789abcdef";
  sqlite3_int64 i, iStart = 0;
  kalamBufAppendChar(p, '"');
  for(i=0; i<n; i++){
    unsigned char c;
    while( i+8<=n ){
      sqlite3_uint64 x;
      memcpy(&x, z + i, 8);
      if( !bufJsonPlainWord(x) ) break;
      i += 8;
    }
    if( i>=n ) break;
    c = (unsigned char)z[i];
    if( c>=0x20 && c!='"' && c!='\\' ) continue;
    kalamBufAppend(p, z + iStart, i - iStart);
    iStart = i + 1;
    switch( c ){
      case '"':  kalamBufAppend(p, "\\\"", 2); break;
      case '\\': kalamBufAppend(p, "\\\\", 2); break;
      case '\n': kalamBufAppend(p, "\\n", 2); break;
      case '\r': kalamBufAppend(p, "\\r", 2); break;
      case '\t': kalamBufAppend(p, "\\t", 2); break;
      default: {
        char a[6] = {'\\', 'u', '0', '0', hex[c>>4], hex[c&0xf]};
        kalamBufAppend(p, a, 6);
        break;
      }
    }
  }
  kalamBufAppend(p, z + iStart, n - iStart);
  kalamBufAppendChar(p, '"');
}
