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
**   JSON       text that is valid JSON, kept compact: white space outside
**              strings is dropped, numbers and strings stay exactly as
**              written (so 9007199254740993 keeps its last digit); or a
**              number
**   BLOB       blobs only
**
** Also here: base64 (BLOB columns are base64 strings in the row JSON) and
** the JSON validation of JSON columns. number.c reads the numbers.
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <float.h>
#include <locale.h>
#include <time.h>

SQLITE_EXTENSION_INIT3


static const char *valueTypeName(int eType){
  switch( eType ){
    case SQLITE_INTEGER: return "INT";   /* SQLite's own word here */
    case SQLITE_FLOAT:   return "REAL";
    case SQLITE_TEXT:    return "TEXT";
    case SQLITE_BLOB:    return "BLOB";
    default:             return "NULL";
  }
}


/* A double that is a whole number strictly inside the int64 range. The
** ends are left out as SQLite leaves them out: -9.2233720368547758e18
** into an INTEGER column of a STRICT table is refused there too. */
static int valueRealToInt(double r, sqlite3_int64 *piOut){
  if( r!=r || r <= -9223372036854775808.0 || r >= 9223372036854775808.0 ){
    return 0;
  }
  if( (double)(sqlite3_int64)r != r ) return 0;
  *piOut = (sqlite3_int64)r;
  return 1;
}

/* Is z[0..n) the word zWord, in any case, white space around it allowed? */
static int valueIsWord(const char *z, int n, const char *zWord){
  int nWord = (int)strlen(zWord);
  while( n>0 && isspace((unsigned char)z[0]) ){ z++; n--; }
  while( n>0 && isspace((unsigned char)z[n-1]) ) n--;
  return n==nWord && sqlite3_strnicmp(z, zWord, nWord)==0;
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

/* ------------------------------------------------------------ JSON */

/* JSON nested deeper than this is refused: the validator recurses, and no
** sensible document needs more. */
#define KALAM_JSON_MAX_DEPTH 1000

/* State of one JSON validation: the input, the read position, and the
** compact copy being written. */
typedef struct ValueJson ValueJson;
struct ValueJson {
  const char *z;
  int n;
  int i;
  int bCheckOnly;   /* validate only: write nothing to out */
  KalamBuf out;
};

static void valueJsonOut(ValueJson *p, const char *z, sqlite3_int64 n){
  if( !p->bCheckOnly ) kalamBufAppend(&p->out, z, n);
}
static void valueJsonOutChar(ValueJson *p, char c){
  if( !p->bCheckOnly ) kalamBufAppendChar(&p->out, c);
}

static void valueJsonSpace(ValueJson *p){
  while( p->i<p->n && (p->z[p->i]==' ' || p->z[p->i]=='\t'
                       || p->z[p->i]=='\n' || p->z[p->i]=='\r') ){
    p->i++;
  }
}

/* Copies the string at p->i, checking its escapes. Strings are kept as
** written, escapes included, as SQLite's json() keeps them. */
static int valueJsonString(ValueJson *p){
  int iStart = p->i, k;
  if( p->i>=p->n || p->z[p->i]!='"' ) return 0;
  for(p->i++; p->i<p->n; p->i++){
    unsigned char c = (unsigned char)p->z[p->i];
    if( c=='"' ){
      p->i++;
      valueJsonOut(p, p->z + iStart, p->i - iStart);
      return 1;
    }
    if( c<0x20 ) return 0;
    if( c=='\\' ){
      if( ++p->i>=p->n ) return 0;
      c = (unsigned char)p->z[p->i];
      if( c=='u' ){
        for(k=1; k<=4; k++){
          if( p->i+k>=p->n ) return 0;
          if( !isxdigit((unsigned char)p->z[p->i+k]) ) return 0;
        }
        p->i += 4;
      }else if( strchr("\"\\/bfnrt", c)==0 || c==0 ){
        return 0;
      }
    }
  }
  return 0;
}

/* Copies the number at p->i as written, so that an integer of any size
** keeps every digit (a round trip through a double would not). */
static int valueJsonNumber(ValueJson *p){
  const char *z = p->z;
  int i = p->i, iStart = p->i;
  if( i<p->n && z[i]=='-' ) i++;
  if( i<p->n && z[i]=='0' ){
    i++;
  }else if( i<p->n && z[i]>='1' && z[i]<='9' ){
    while( i<p->n && isdigit((unsigned char)z[i]) ) i++;
  }else{
    return 0;
  }
  if( i<p->n && z[i]=='.' ){
    i++;
    if( i>=p->n || !isdigit((unsigned char)z[i]) ) return 0;
    while( i<p->n && isdigit((unsigned char)z[i]) ) i++;
  }
  if( i<p->n && (z[i]=='e' || z[i]=='E') ){
    i++;
    if( i<p->n && (z[i]=='+' || z[i]=='-') ) i++;
    if( i>=p->n || !isdigit((unsigned char)z[i]) ) return 0;
    while( i<p->n && isdigit((unsigned char)z[i]) ) i++;
  }
  valueJsonOut(p, z + iStart, i - iStart);
  p->i = i;
  return 1;
}

/* Copies the JSON value at p->i (no surrounding white space) without its
** white space. Returns 1 if it is valid JSON (RFC 8259), else 0. */
static int valueJsonValue(ValueJson *p, int nDepth){
  static const char *azWord[] = {"true", "false", "null"};
  char c, cEnd;
  int k;
  if( p->i>=p->n ) return 0;
  c = p->z[p->i];
  if( c=='"' ) return valueJsonString(p);
  if( c=='-' || isdigit((unsigned char)c) ) return valueJsonNumber(p);
  if( c!='{' && c!='[' ){
    for(k=0; k<3; k++){
      int nWord = (int)strlen(azWord[k]);
      if( p->n - p->i>=nWord
       && memcmp(p->z + p->i, azWord[k], (size_t)nWord)==0 ){
        valueJsonOut(p, azWord[k], nWord);
        p->i += nWord;
        return 1;
      }
    }
    return 0;
  }
  if( nDepth>=KALAM_JSON_MAX_DEPTH ) return 0;
  cEnd = c=='{' ? '}' : ']';
  valueJsonOutChar(p, c);
  p->i++;
  valueJsonSpace(p);
  if( p->i<p->n && p->z[p->i]==cEnd ){
    valueJsonOutChar(p, cEnd);
    p->i++;
    return 1;
  }
  for(;;){
    if( c=='{' ){
      if( !valueJsonString(p) ) return 0;
      valueJsonSpace(p);
      if( p->i>=p->n || p->z[p->i]!=':' ) return 0;
      valueJsonOutChar(p, ':');
      p->i++;
      valueJsonSpace(p);
    }
    if( !valueJsonValue(p, nDepth + 1) ) return 0;
    valueJsonSpace(p);
    if( p->i>=p->n ) return 0;
    if( p->z[p->i]==cEnd ){
      valueJsonOutChar(p, cEnd);
      p->i++;
      return 1;
    }
    if( p->z[p->i]!=',' ) return 0;
    valueJsonOutChar(p, ',');
    p->i++;
    valueJsonSpace(p);
  }
}

/* Checks that z[0..n) is one JSON value, white space around it allowed,
** for JSON column iCol, and returns its compact text in *pzOut (sqlite3_free
** it) and its length in *pnOut. Returns SQLITE_OK, SQLITE_MISMATCH with
** *pzErr set if z is not JSON, or SQLITE_NOMEM. */
static int valueJsonCompact(const KalamSchema *pSchema, int iCol,
                            const char *z, int n, char **pzOut, int *pnOut,
                            char **pzErr){
  ValueJson c;
  int ok;
  memset(&c, 0, sizeof(c));
  c.z = z;
  c.n = n;
  kalamBufInit(&c.out);
  valueJsonSpace(&c);
  ok = valueJsonValue(&c, 0);
  valueJsonSpace(&c);
  if( !ok || c.i!=c.n ){
    kalamBufFree(&c.out);
    *pzErr = sqlite3_mprintf("invalid JSON for JSON column %s.%s",
                             pSchema->zTable, pSchema->aCol[iCol].zName);
    return SQLITE_MISMATCH;
  }
  if( c.out.oom ){
    kalamBufFree(&c.out);
    return SQLITE_NOMEM;
  }
  *pzOut = c.out.z;
  *pnOut = (int)c.out.n;
  return SQLITE_OK;
}

/* Is z[0..n) exactly one JSON value, white space around it allowed? Used
** on read, where a JSON column's stored text is returned as it is. */
int kalamJsonValid(const char *z, int n){
  ValueJson c;
  int ok;
  memset(&c, 0, sizeof(c));
  c.z = z;
  c.n = n;
  c.bCheckOnly = 1;
  valueJsonSpace(&c);
  ok = valueJsonValue(&c, 0);
  valueJsonSpace(&c);
  return ok && c.i==c.n;
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
  int eShown = eIn;     /* the type the refusal names */
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
      else if( eIn==SQLITE_FLOAT ) pOut->r = pIn->r;
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
        if( !valueRealToInt(pIn->r, &i) ) goto refuse;
      }else if( eIn==SQLITE_TEXT ){
        const char *z = pIn->z;
        int n = pIn->n;
        if( !kalamParseInt(z, n, &i) ){
          int bNumber = kalamParseDouble(z, n, &r);
          if( bNumber && valueRealToInt(r, &i) ){
            /* '2.0' into INTEGER, as SQLite's affinity does */
          }else if( bNumber ){
            /* SQLite's affinity makes '12.5' a REAL before the type check,
            ** so its message names REAL: so does kalam's. */
            eShown = SQLITE_FLOAT;
            goto refuse;
          }else if( pCol->eType==KALAM_TYPE_TIMESTAMP
                 && kalamParseTimestamp(z, n, &i) ){
            /* ISO-8601 */
          }else if( pCol->eType==KALAM_TYPE_BOOLEAN
                 && valueIsWord(z, n, "true") ){
            i = 1;
          }else if( pCol->eType==KALAM_TYPE_BOOLEAN
                 && valueIsWord(z, n, "false") ){
            i = 0;
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
        pOut->zOwned = sqlite3_mprintf("%!.15g", pIn->r);
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
      int rc;
      if( eIn==SQLITE_INTEGER ){
        pOut->eType = SQLITE_INTEGER;
        pOut->i = pIn->i;
        return SQLITE_OK;
      }
      if( eIn==SQLITE_FLOAT ){
        pOut->eType = SQLITE_FLOAT;
        pOut->r = pIn->r;
        return SQLITE_OK;
      }
      if( eIn!=SQLITE_TEXT ) goto refuse;
      rc = valueJsonCompact(pSchema, iCol, pIn->z, pIn->n, &pOut->zOwned,
                            &pOut->n, pzErr);
      if( rc ) return rc;
      /* JSON null reads back as SQL NULL, so a NOT NULL column refuses it. */
      if( pCol->bNotNull && pOut->n==4 && memcmp(pOut->zOwned, "null", 4)==0 ){
        kalamValueClear(pOut);
        *pzErr = sqlite3_mprintf("NOT NULL constraint failed: %s.%s",
                                 pSchema->zTable, pCol->zName);
        return SQLITE_CONSTRAINT;
      }
      pOut->eType = SQLITE_TEXT;
      pOut->bJson = 1;
      pOut->z = pOut->zOwned;
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
      valueTypeName(eShown), kalamTypeName(pCol->eType), pSchema->zTable,
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
      if( !pSchema->bUtf8 || pSchema->aCol[iCol].eType!=KALAM_TYPE_TEXT ){
        in.z = (const char*)sqlite3_value_text(pVal);
        in.n = sqlite3_value_bytes(pVal);
        if( in.z==0 ) return SQLITE_NOMEM;
        break;
      }
      /* A TEXT column keeps the text as it is, and everything that reads
      ** it goes by length. sqlite3_value_text would first copy a bound
      ** text to add a NUL terminator: 4% of a bulk insert. In a UTF-8
      ** database a TEXT value's bytes are UTF-8: read them as a blob's. */
      /* fall through */
    case SQLITE_BLOB:
      in.z = (const char*)sqlite3_value_blob(pVal);
      in.n = sqlite3_value_bytes(pVal);
      if( in.z==0 ){
        /* NULL for n>0 is a zeroblob that could not be expanded. */
        if( in.n>0 ) return SQLITE_NOMEM;
        in.z = "";
      }
      break;
  }
  return kalamValueConvertFrom(pSchema, iCol, &in, pOut, pzErr);
}

/* Hands v to SQLite as ctx's result, and clears it: text and blobs that
** v owns are handed over, the others copied (xColumn of hot and cold rows
** alike, row.c and cold_scan.c). */
void kalamValueResult(sqlite3_context *ctx, KalamValue *v){
  switch( v->eType ){
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, v->i); break;
    case SQLITE_FLOAT:   sqlite3_result_double(ctx, v->r); break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      if( v->zOwned ){
        if( v->eType==SQLITE_TEXT ){
          sqlite3_result_text(ctx, v->zOwned, v->n, sqlite3_free);
        }else{
          sqlite3_result_blob(ctx, v->zOwned, v->n, sqlite3_free);
        }
        v->zOwned = 0;
      }else if( v->eType==SQLITE_TEXT ){
        sqlite3_result_text(ctx, v->z, v->n, SQLITE_TRANSIENT);
      }else{
        sqlite3_result_blob(ctx, v->z, v->n, SQLITE_TRANSIENT);
      }
      break;
    default:
      sqlite3_result_null(ctx);
      break;
  }
  kalamValueClear(v);
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
    int rc;
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
    rc = kalamValueConvertFrom(pSchema, iCol, &now, pOut, pzErr);
    if( rc==SQLITE_OK && pOut->z==zNow ){
      /* A TEXT or ANY column borrows the text, and zNow dies with this
      ** frame: the value must own a copy. */
      pOut->zOwned = sqlite3_mprintf("%.*s", pOut->n, zNow);
      if( pOut->zOwned==0 ) return SQLITE_NOMEM;
      pOut->z = pOut->zOwned;
    }
    return rc;
  }
  return kalamValueConvertFrom(pSchema, iCol, &pCol->dflt, pOut, pzErr);
}

/* Checks that every DEFAULT fits its column, as an INSERT would check it:
** run once when a table is created or connected, right after its
** arguments are parsed (kalamSchemaParse), so that a bad DEFAULT is
** refused at CREATE rather than at the first INSERT. */
int kalamValueCheckDefaults(const KalamSchema *pSchema, char **pzErr){
  int i;
  for(i=0; i<pSchema->nCol; i++){
    const KalamColumn *pCol = &pSchema->aCol[i];
    KalamValue v;
    char *zErr = 0;
    int rc;
    if( pCol->zDefault==0 ) continue;
    rc = kalamValueDefault(pSchema, i, &v, &zErr);
    kalamValueClear(&v);
    if( rc==SQLITE_NOMEM ){
      sqlite3_free(zErr);
      *pzErr = sqlite3_mprintf("out of memory");
      return rc;
    }
    if( rc ){
      *pzErr = sqlite3_mprintf("DEFAULT %s does not fit column %s.%s: %s",
          pCol->zDefault, pSchema->zTable, pCol->zName, zErr);
      sqlite3_free(zErr);
      return SQLITE_ERROR;
    }
  }
  return SQLITE_OK;
}
