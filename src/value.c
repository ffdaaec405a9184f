/*
** value.c — converting SQL values to a column's declared type.
**
** The rules are those of SQLite STRICT tables: a value is converted to the
** column type when that loses nothing (TEXT '12' into INTEGER, 3 into REAL,
** 2.0 into INTEGER) and refused otherwise with SQLite's own wording,
** "cannot store TEXT value in INTEGER column t.c". kalam's extra types:
**
**   BOOLEAN    0/1 (integer, real or text '0'/'1'/'true'/'false')
**   TIMESTAMP  integer milliseconds since the Unix epoch, or ISO-8601 text
**              (YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:]MM])
**   JSON       text that parses as JSON (kept compact), or a number
**   BLOB       blobs only
**
** Also here: base64 (BLOB columns are base64 strings in the row JSON) and the
** C-locale number parsing the codec relies on.
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <locale.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

void kalamValueClear(KalamValue *p){
  sqlite3_free(p->zOwned);
  memset(p, 0, sizeof(*p));
}

static const char *valueTypeName(int eType){
  switch( eType ){
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT:   return "REAL";
    case SQLITE_TEXT:    return "TEXT";
    case SQLITE_BLOB:    return "BLOB";
    default:             return "NULL";
  }
}

/* Parses z[0..n) as a whole decimal integer (surrounding spaces allowed).
** Returns 1 on success. */
int kalamParseInt(const char *z, int n, sqlite3_int64 *piOut){
  char a[32];
  char *zEnd;
  long long v;
  while( n>0 && isspace((unsigned char)z[0]) ){ z++; n--; }
  while( n>0 && isspace((unsigned char)z[n-1]) ) n--;
  if( n<=0 || n>=(int)sizeof(a) ) return 0;
  memcpy(a, z, (size_t)n);
  a[n] = 0;
  if( !isdigit((unsigned char)a[0]) && !((a[0]=='-' || a[0]=='+')
        && isdigit((unsigned char)a[1])) ) return 0;
  errno = 0;
  v = strtoll(a, &zEnd, 10);
  if( errno || *zEnd ) return 0;
  *piOut = v;
  return 1;
}

/* Parses z[0..n) as a whole number in the C locale, whatever locale the
** host process set. Returns 1 on success. */
int kalamParseDouble(const char *z, int n, double *prOut){
  static locale_t cloc = (locale_t)0;
  char a[64];
  char *zBig = 0, *zNum, *zEnd;
  int ok;
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

/* A double that is a whole number within the int64 range. */
static int valueRealToInt(double r, sqlite3_int64 *piOut){
  if( r!=r || r < -9223372036854775808.0 || r >= 9223372036854775808.0 ){
    return 0;
  }
  if( (double)(sqlite3_int64)r != r ) return 0;
  *piOut = (sqlite3_int64)r;
  return 1;
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static sqlite3_int64 valueDaysFromCivil(sqlite3_int64 y, int m, int d){
  sqlite3_int64 era, yoe, doy, doe;
  y -= m<=2;
  era = (y>=0 ? y : y - 399) / 400;
  yoe = y - era*400;
  doy = (153*(m + (m>2 ? -3 : 9)) + 2)/5 + d - 1;
  doe = yoe*365 + yoe/4 - yoe/100 + doy;
  return era*146097 + doe - 719468;
}

/* Reads exactly nDigit digits. */
static int valueDigits(const char **pz, int nDigit, int *pOut){
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
  if( !valueDigits(&z, 4, &Y) || *z++!='-' || !valueDigits(&z, 2, &M)
   || *z++!='-' || !valueDigits(&z, 2, &D) ) return 0;
  if( M<1 || M>12 || D<1 || D>31 ) return 0;
  if( *z=='T' || *z=='t' || *z==' ' ){
    z++;
    if( !valueDigits(&z, 2, &h) || *z++!=':' || !valueDigits(&z, 2, &mi) ){
      return 0;
    }
    if( *z==':' ){
      z++;
      if( !valueDigits(&z, 2, &s) ) return 0;
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
    if( h>23 || mi>59 || s>60 ) return 0;
    if( *z=='Z' || *z=='z' ){
      z++;
    }else if( *z=='+' || *z=='-' ){
      int sign = *z=='-' ? -1 : 1, oh, om = 0;
      z++;
      if( !valueDigits(&z, 2, &oh) ) return 0;
      if( *z==':' ) z++;
      if( isdigit((unsigned char)*z) && !valueDigits(&z, 2, &om) ) return 0;
      off = sign*(oh*60 + om);
    }
  }
  while( isspace((unsigned char)*z) ) z++;
  if( *z ) return 0;
  *piOut = ((valueDaysFromCivil(Y, M, D)*86400 + h*3600 + mi*60 + s)
            - (sqlite3_int64)off*60) * 1000 + ms;
  return 1;
}

static const char b64Chars[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends the base64 text of a[0..n) to p (no quotes). */
void kalamBase64Encode(KalamBuf *p, const unsigned char *a, int n){
  int i;
  for(i=0; i+2<n; i+=3){
    char o[4] = {b64Chars[a[i]>>2], b64Chars[((a[i]&3)<<4) | (a[i+1]>>4)],
                 b64Chars[((a[i+1]&15)<<2) | (a[i+2]>>6)], b64Chars[a[i+2]&63]};
    kalamBufAppend(p, o, 4);
  }
  if( n-i==1 ){
    char o[4] = {b64Chars[a[i]>>2], b64Chars[(a[i]&3)<<4], '=', '='};
    kalamBufAppend(p, o, 4);
  }else if( n-i==2 ){
    char o[4] = {b64Chars[a[i]>>2], b64Chars[((a[i]&3)<<4) | (a[i+1]>>4)],
                 b64Chars[(a[i+1]&15)<<2], '='};
    kalamBufAppend(p, o, 4);
  }
}

/* Decodes base64 z[0..n) into aOut (room for n*3/4+3 bytes). Returns the
** number of bytes, or -1 if z is not base64. */
int kalamBase64Decode(const char *z, int n, unsigned char *aOut){
  int i, nOut = 0, nBits = 0;
  unsigned int acc = 0;
  while( n>0 && z[n-1]=='=' ) n--;
  for(i=0; i<n; i++){
    const char *pC = z[i] ? strchr(b64Chars, z[i]) : 0;
    if( pC==0 ) return -1;
    acc = (acc<<6) | (unsigned int)(pC - b64Chars);
    nBits += 6;
    if( nBits>=8 ){
      nBits -= 8;
      aOut[nOut++] = (unsigned char)((acc>>nBits) & 0xff);
    }
  }
  return nOut;
}

/* Converts pIn to the type of column iCol, or refuses it. Text and blobs
** of pOut may borrow from pIn. On success pOut
** holds the value (free with kalamValueClear). On refusal returns
** SQLITE_CONSTRAINT (NOT NULL) or SQLITE_MISMATCH with *pzErr set. */
int kalamValueConvertFrom(const KalamSchema *pSchema, int iCol,
                          const KalamValue *pIn, KalamValue *pOut,
                          char **pzErr){
  const KalamColumn *pCol = &pSchema->aCol[iCol];
  int eIn = pIn->eType;
  sqlite3_int64 i;
  double r;

  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  if( eIn==SQLITE_NULL ){
    if( pCol->bNotNull ){
      *pzErr = sqlite3_mprintf("NOT NULL constraint failed: %s.%s",
                               pSchema->zTable, pCol->zName);
      return SQLITE_CONSTRAINT;
    }
    return SQLITE_OK;
  }

  switch( pCol->eType ){
    case KALAM_TYPE_ANY:
      pOut->eType = eIn;
      if( eIn==SQLITE_INTEGER ) pOut->i = pIn->i;
      else if( eIn==SQLITE_FLOAT ) pOut->r = (eIn==SQLITE_INTEGER ? (double)pIn->i : pIn->r);
      else{
        pOut->z = pIn->z;
        pOut->n = pIn->n;
        pOut->bJson = 0;
      }
      return SQLITE_OK;

    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
    case KALAM_TYPE_BOOLEAN:
      if( eIn==SQLITE_INTEGER ){
        i = pIn->i;
      }else if( eIn==SQLITE_FLOAT ){
        if( !valueRealToInt((eIn==SQLITE_INTEGER ? (double)pIn->i : pIn->r), &i) ) goto refuse;
      }else if( eIn==SQLITE_TEXT ){
        const char *z = pIn->z;
        int n = pIn->n;
        if( !kalamParseInt(z, n, &i) ){
          if( kalamParseDouble(z, n, &r) && valueRealToInt(r, &i) ){
            /* '2.0' into INTEGER, as SQLite's affinity does */
          }else if( pCol->eType==KALAM_TYPE_TIMESTAMP
                 && kalamParseTimestamp(z, n, &i) ){
            /* ISO-8601 */
          }else if( pCol->eType==KALAM_TYPE_BOOLEAN
                 && ((n==4 && sqlite3_strnicmp(z, "true", 4)==0)
                     || (n==5 && sqlite3_strnicmp(z, "false", 5)==0)) ){
            i = n==4;
          }else{
            goto refuse;
          }
        }
      }else{
        goto refuse;
      }
      if( pCol->eType==KALAM_TYPE_BOOLEAN && i!=0 && i!=1 ){
        *pzErr = sqlite3_mprintf("cannot store %lld in BOOLEAN column %s.%s: "
            "a BOOLEAN is 0 or 1", i, pSchema->zTable, pCol->zName);
        return SQLITE_MISMATCH;
      }
      pOut->eType = SQLITE_INTEGER;
      pOut->i = i;
      return SQLITE_OK;

    case KALAM_TYPE_REAL:
      if( eIn==SQLITE_INTEGER || eIn==SQLITE_FLOAT ){
        r = (eIn==SQLITE_INTEGER ? (double)pIn->i : pIn->r);
      }else if( eIn==SQLITE_TEXT ){
        if( !kalamParseDouble(pIn->z, pIn->n, &r) ){
          goto refuse;
        }
      }else{
        goto refuse;
      }
      pOut->eType = SQLITE_FLOAT;
      pOut->r = r;
      return SQLITE_OK;

    case KALAM_TYPE_TEXT:
      if( eIn==SQLITE_BLOB ) goto refuse;
      if( eIn==SQLITE_INTEGER ){
        pOut->zOwned = sqlite3_mprintf("%lld", pIn->i);
      }else if( eIn==SQLITE_FLOAT ){
        /* The text SQLite itself gives a REAL stored in a TEXT column. */
        pOut->zOwned = sqlite3_mprintf("%!.15g", (eIn==SQLITE_INTEGER ? (double)pIn->i : pIn->r));
      }
      if( eIn!=SQLITE_TEXT ){
        if( pOut->zOwned==0 ) return SQLITE_NOMEM;
        pOut->z = pOut->zOwned;
        pOut->n = (int)strlen(pOut->zOwned);
      }else{
        pOut->z = pIn->z;
        pOut->n = pIn->n;
      }
      pOut->eType = SQLITE_TEXT;
      return SQLITE_OK;

    case KALAM_TYPE_JSON: {
      cJSON *pJson;
      char *zCompact;
      const char *z;
      const char *zEnd = 0;
      if( eIn==SQLITE_INTEGER ){
        pOut->eType = SQLITE_INTEGER;
        pOut->i = pIn->i;
        return SQLITE_OK;
      }
      if( eIn==SQLITE_FLOAT ){
        pOut->eType = SQLITE_FLOAT;
        pOut->r = (eIn==SQLITE_INTEGER ? (double)pIn->i : pIn->r);
        return SQLITE_OK;
      }
      if( eIn!=SQLITE_TEXT ) goto refuse;
      z = pIn->z;
      pJson = cJSON_ParseWithLengthOpts(z, (size_t)pIn->n, &zEnd, 0);
      /* Nothing but white space may follow the value. */
      while( pJson && zEnd < z + pIn->n && isspace((unsigned char)*zEnd) ){
        zEnd++;
      }
      if( pJson && zEnd != z + pIn->n ){
        cJSON_Delete(pJson);
        pJson = 0;
      }
      if( pJson==0 ){
        *pzErr = sqlite3_mprintf("invalid JSON for JSON column %s.%s",
                                 pSchema->zTable, pCol->zName);
        return SQLITE_MISMATCH;
      }
      zCompact = cJSON_PrintUnformatted(pJson);
      cJSON_Delete(pJson);
      if( zCompact==0 ) return SQLITE_NOMEM;
      pOut->zOwned = sqlite3_mprintf("%s", zCompact);
      cJSON_free(zCompact);
      if( pOut->zOwned==0 ) return SQLITE_NOMEM;
      pOut->eType = SQLITE_TEXT;
      pOut->bJson = 1;
      pOut->z = pOut->zOwned;
      pOut->n = (int)strlen(pOut->zOwned);
      return SQLITE_OK;
    }

    case KALAM_TYPE_BLOB:
      if( eIn!=SQLITE_BLOB ) goto refuse;
      pOut->eType = SQLITE_BLOB;
      pOut->z = pIn->z;
      pOut->n = pIn->n;
      return SQLITE_OK;
  }

refuse:
  *pzErr = sqlite3_mprintf("cannot store %s value in %s column %s.%s",
      valueTypeName(eIn), kalamTypeName(pCol->eType), pSchema->zTable,
      pCol->zName);
  return SQLITE_MISMATCH;
}

/* Converts a SQL value (see kalamValueConvertFrom). */
int kalamValueConvert(const KalamSchema *pSchema, int iCol,
                      sqlite3_value *pVal, KalamValue *pOut, char **pzErr){
  KalamValue in;
  memset(&in, 0, sizeof(in));
  in.eType = sqlite3_value_type(pVal);
  switch( in.eType ){
    case SQLITE_INTEGER: in.i = sqlite3_value_int64(pVal); break;
    case SQLITE_FLOAT:   in.r = sqlite3_value_double(pVal); break;
    case SQLITE_TEXT:
      in.z = (const char*)sqlite3_value_text(pVal);
      in.n = sqlite3_value_bytes(pVal);
      if( in.z==0 ) return SQLITE_NOMEM;
      break;
    case SQLITE_BLOB:
      in.z = (const char*)sqlite3_value_blob(pVal);
      in.n = sqlite3_value_bytes(pVal);
      if( in.z==0 ) in.z = "";
      break;
  }
  return kalamValueConvertFrom(pSchema, iCol, &in, pOut, pzErr);
}

/* The value of column iCol's DEFAULT, converted to the column type: what
** an INSERT stores when it gives the column no value. A virtual table is
** handed NULL both for a column left out and for an explicit NULL, so
** kalam applies the DEFAULT to both (docs/sql.md). */
int kalamValueDefault(const KalamSchema *pSchema, int iCol, KalamValue *pOut,
                      char **pzErr){
  const KalamColumn *pCol = &pSchema->aCol[iCol];
  if( pCol->bDefaultNow ){
    KalamValue now;
    char zNow[32];
    sqlite3_int64 ms = kalamNowMs();
    memset(&now, 0, sizeof(now));
    if( pCol->eType==KALAM_TYPE_TIMESTAMP ){
      now.eType = SQLITE_INTEGER;
      now.i = ms;
    }else{
      /* As SQLite's CURRENT_TIMESTAMP: UTC, "YYYY-MM-DD HH:MM:SS". */
      time_t t = (time_t)(ms/1000);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(zNow, sizeof(zNow), "%Y-%m-%d %H:%M:%S", &tm);
      now.eType = SQLITE_TEXT;
      now.z = zNow;
      now.n = (int)strlen(zNow);
    }
    return kalamValueConvertFrom(pSchema, iCol, &now, pOut, pzErr);
  }
  return kalamValueConvertFrom(pSchema, iCol, &pCol->dflt, pOut, pzErr);
}
