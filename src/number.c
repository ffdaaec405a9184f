/*
** number.c — numbers read from text, exactly and in the C locale.
**
** The row codec, the value conversions, the schema parser and the buffer's
** number formatting all read numbers from text; they share these, which
** depend on nothing but libc:
**
**   kalamParseInt        a whole decimal integer, all 64 bits, no double
**   kalamParseDouble     a number, correctly rounded, whatever the
**                        process's locale says the decimal point is
**   kalamParseTimestamp  ISO-8601 date/time text to Unix milliseconds
**                        (YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:]MM])
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <float.h>
#include <locale.h>

SQLITE_EXTENSION_INIT3

/* Parses z[0..n) as a whole decimal integer (surrounding spaces allowed).
** Returns 1 on success. */
int kalamParseInt(const char *z, int n, sqlite3_int64 *piOut){
  sqlite3_uint64 u = 0;
  int i = 0, bNeg = 0, nDigit = 0;
  /* By hand, not strtoll: this runs for every integer a scan returns. */
  while( n>0 && isspace((unsigned char)z[0]) ){ z++; n--; }
  while( n>0 && isspace((unsigned char)z[n-1]) ) n--;
  if( n<=0 ) return 0;
  if( z[0]=='-' || z[0]=='+' ){
    bNeg = z[0]=='-';
    i = 1;
  }
  for(; i<n; i++){
    unsigned d = (unsigned char)z[i] - '0';
    if( d>9 ) return 0;
    if( u > (0xffffffffffffffffULL - d)/10 ) return 0;
    u = u*10 + d;
    nDigit++;
  }
  if( nDigit==0 ) return 0;
  if( bNeg ){
    if( u > (sqlite3_uint64)1<<63 ) return 0;
    *piOut = (sqlite3_int64)(0 - u);
  }else{
    if( u > (((sqlite3_uint64)1<<63) - 1) ) return 0;
    *piOut = (sqlite3_int64)u;
  }
  return 1;
}

/* Parses z[0..n) when it is a plain decimal that one IEEE operation
** converts exactly (Clinger's fast path): [+-]digits[.digits][e[+-]digits]
** with at most 19 digits before the exponent, which, read without the
** point, make an integer m <= 2^53, and whose value is m * 10^e with
** |e| <= 22. Both m and 10^e are then exact doubles (5^22 < 2^53), so the
** one multiplication or division rounds the exact value once, in the
** current rounding mode, as strtod does: the result is strtod's, bit for
** bit, -0.0 included. Returns 0 for anything else, and the caller asks
** strtod. That leaves most REALs kalam writes (up to 15 or 16 significant
** digits) to this path, at a tenth of strtod's cost. With excess precision
** (FLT_EVAL_METHOD != 0, x87) the operation could be rounded twice, so
** there every number goes to strtod. */
static int numberParseDoubleExact(const char *z, int n, double *prOut){
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD==0
  static const double aPow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
  };
  sqlite3_uint64 m = 0;
  sqlite3_int64 e10;
  unsigned d;
  int i = 0, iStart, nDigit, nFrac = 0, iExp = 0, bNeg = 0, bExpNeg = 0;
  double r;
  if( n>0 && (z[0]=='-' || z[0]=='+') ){
    bNeg = z[0]=='-';
    i = 1;
  }
  iStart = i;
  for(; i<n && (d = (unsigned)(unsigned char)z[i] - '0')<10; i++){
    m = m*10 + d;
  }
  nDigit = i - iStart;
  if( i<n && z[i]=='.' ){
    int iFrac = ++i;
    for(; i<n && (d = (unsigned)(unsigned char)z[i] - '0')<10; i++){
      m = m*10 + d;
    }
    nFrac = i - iFrac;
    nDigit += nFrac;
  }
  /* 19 digits (leading zeros included) cannot overflow m: 10^19 < 2^64. */
  if( nDigit==0 || nDigit>19 ) return 0;
  if( i<n && (z[i]=='e' || z[i]=='E') ){
    int iExpStart;
    i++;
    if( i<n && (z[i]=='-' || z[i]=='+') ){
      bExpNeg = z[i]=='-';
      i++;
    }
    iExpStart = i;
    for(; i<n && (d = (unsigned)(unsigned char)z[i] - '0')<10; i++){
      if( iExp<100000 ) iExp = iExp*10 + (int)d;
    }
    if( i==iExpStart ) return 0;
  }
  if( i!=n || m>((sqlite3_uint64)1<<53) ) return 0;
  e10 = (bExpNeg ? -(sqlite3_int64)iExp : iExp) - nFrac;
  /* The sign goes on first: rounding towards +-infinity depends on it. */
  r = bNeg ? -(double)m : (double)m;
  if( m!=0 ){
    if( e10<-22 || e10>22 ) return 0;
    r = e10<0 ? r / aPow10[-e10] : r * aPow10[e10];
  }
  *prOut = r;
  return 1;
#else
  (void)z; (void)n; (void)prOut;
  return 0;
#endif
}

/* Parses z[0..n) as a whole number in the C locale, whatever locale the
** host process set. Returns 1 on success. */
int kalamParseDouble(const char *z, int n, double *prOut){
  static locale_t cloc = (locale_t)0;
  char a[64];
  char *zBig = 0, *zNum, *zEnd;
  int ok;
  /* What the fast path takes begins and ends with no white space, so the
  ** trimming below would not change it. */
  if( numberParseDoubleExact(z, n, prOut) ) return 1;
  while( n>0 && isspace((unsigned char)z[0]) ){ z++; n--; }
  while( n>0 && isspace((unsigned char)z[n-1]) ) n--;
  if( n<=0 ) return 0;
  if( cloc==(locale_t)0 ) cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if( n<(int)sizeof(a) ){
    zNum = a;
  }else{
    zNum = zBig = sqlite3_malloc(n + 1);
    if( zBig==0 ) return 0;
  }
  memcpy(zNum, z, (size_t)n);
  zNum[n] = 0;
  /* strtod would accept hex, "inf" and "nan": SQL numbers are decimal. */
  ok = (isdigit((unsigned char)zNum[0]) || zNum[0]=='.'
        || ((zNum[0]=='-' || zNum[0]=='+')
            && (isdigit((unsigned char)zNum[1]) || zNum[1]=='.')))
    && strpbrk(zNum, "xXnN")==0;
  if( ok ){
    *prOut = cloc ? strtod_l(zNum, &zEnd, cloc) : strtod(zNum, &zEnd);
    ok = *zEnd==0;
  }
  sqlite3_free(zBig);
  return ok;
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static sqlite3_int64 numberDaysFromCivil(sqlite3_int64 y, int m, int d){
  sqlite3_int64 era, yoe, doy, doe;
  y -= m<=2;
  era = (y>=0 ? y : y - 399) / 400;
  yoe = y - era*400;
  doy = (153*(m + (m>2 ? -3 : 9)) + 2)/5 + d - 1;
  doe = yoe*365 + yoe/4 - yoe/100 + doy;
  return era*146097 + doe - 719468;
}

/* The number of days of month m (1..12) of year y: 2024-02-30 is no date,
** and kalam refuses it rather than roll it over into March. */
static int numberDaysInMonth(int y, int m){
  static const int aDays[] = {31,28,31,30,31,30,31,31,30,31,30,31};
  if( m==2 && (y%4==0 && (y%100!=0 || y%400==0)) ) return 29;
  return aDays[m-1];
}

/* Reads exactly nDigit digits. */
static int numberDigits(const char **pz, int nDigit, int *pOut){
  int v = 0, i;
  for(i=0; i<nDigit; i++){
    if( !isdigit((unsigned char)(*pz)[i]) ) return 0;
    v = v*10 + ((*pz)[i] - '0');
  }
  *pz += nDigit;
  *pOut = v;
  return 1;
}

/* Parses ISO-8601 text into Unix milliseconds. Returns 1 on success. */
int kalamParseTimestamp(const char *zIn, int n, sqlite3_int64 *piOut){
  char a[64];
  const char *z = a;
  int Y, M, D, h = 0, mi = 0, s = 0, ms = 0, off = 0;
  if( n<=0 || n>=(int)sizeof(a) ) return 0;
  memcpy(a, zIn, (size_t)n);
  a[n] = 0;
  while( isspace((unsigned char)*z) ) z++;
  if( !numberDigits(&z, 4, &Y) || *z++!='-' || !numberDigits(&z, 2, &M)
   || *z++!='-' || !numberDigits(&z, 2, &D) ) return 0;
  if( M<1 || M>12 || D<1 || D>numberDaysInMonth(Y, M) ) return 0;
  if( *z=='T' || *z=='t' || *z==' ' ){
    z++;
    if( !numberDigits(&z, 2, &h) || *z++!=':' || !numberDigits(&z, 2, &mi) ){
      return 0;
    }
    if( *z==':' ){
      z++;
      if( !numberDigits(&z, 2, &s) ) return 0;
      if( *z=='.' ){
        int nFrac = 0;
        z++;
        if( !isdigit((unsigned char)*z) ) return 0;
        while( isdigit((unsigned char)*z) ){
          if( nFrac<3 ){ ms = ms*10 + (*z - '0'); nFrac++; }
          z++;
        }
        while( nFrac<3 ){ ms *= 10; nFrac++; }
      }
    }
    if( h>23 || mi>59 || s>59 ) return 0;
    if( *z=='Z' || *z=='z' ){
      z++;
    }else if( *z=='+' || *z=='-' ){
      int sign = *z=='-' ? -1 : 1, oh, om = 0;
      z++;
      if( !numberDigits(&z, 2, &oh) ) return 0;
      if( *z==':' ) z++;
      if( isdigit((unsigned char)*z) && !numberDigits(&z, 2, &om) ) return 0;
      if( oh>23 || om>59 ) return 0;
      off = sign*(oh*60 + om);
    }
  }
  while( isspace((unsigned char)*z) ) z++;
  if( *z ) return 0;
  *piOut = ((numberDaysFromCivil(Y, M, D)*86400 + h*3600 + mi*60 + s)
            - (sqlite3_int64)off*60) * 1000 + ms;
  return 1;
}
