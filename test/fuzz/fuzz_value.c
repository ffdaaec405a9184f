/*
** fuzz_value.c — libFuzzer target: the text parsers of value.c.
**
** Values typed by users reach these parsers on INSERT (TEXT into INTEGER,
** REAL, BOOLEAN, TIMESTAMP, JSON columns) and stored text reaches them on
** every read, so they must take any bytes. The first input byte picks a
** column type; the rest is the text, passed with its exact length (no NUL
** terminator behind it, so a parser that reads one byte too far is caught).
**
**   kalamParseInt / kalamParseDouble / kalamParseTimestamp
**   kalamBase64Decode into a buffer of exactly n*3/4+3 bytes (the size its
**     contract promises is enough), and encode/decode round trip
**   kalamValueConvertFrom: the text converted to each column type, and a
**     converted INTEGER/REAL formatted and parsed back unchanged
**
** Build and run with `make fuzz` (docs/hardening.md).
*/
#include "kalam_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static void fuzzValueFail(const char *zWhy){
  fprintf(stderr, "fuzz_value: %s\n", zWhy);
  abort();
}

static const char *const fuzzValueArgs[] = {
  "t TEXT", "i INTEGER", "r REAL", "b BOOLEAN", "ts TIMESTAMP", "j JSON",
  "bl BLOB", "a ANY", "nn INTEGER NOT NULL"
};
#define FUZZ_VALUE_NARG ((int)(sizeof(fuzzValueArgs)/sizeof(fuzzValueArgs[0])))

static KalamSchema *fuzzValueSchema(void){
  static KalamSchema *pSchema = 0;
  if( pSchema==0 ){
    char *zErr = 0;
    if( kalamSchemaParse(KALAM_KIND_SHARED, "v", FUZZ_VALUE_NARG,
                         fuzzValueArgs, &pSchema, &zErr) ){
      fprintf(stderr, "fuzz_value: schema refused: %s\n", zErr ? zErr : "?");
      abort();
    }
  }
  return pSchema;
}

/* base64: decode into the promised room, then encode/decode round trip. */
static void fuzzValueBase64(const char *z, int n){
  unsigned char *aOut = malloc((size_t)n*3/4 + 3);
  KalamBuf b;
  int nOut;
  if( aOut==0 ) return;
  nOut = kalamBase64Decode(z, n, aOut);
  if( nOut > n*3/4 + 3 ) fuzzValueFail("base64 decoded past its room");
  kalamBufInit(&b);
  if( nOut>=0 ){
    kalamBase64Encode(&b, aOut, nOut);
  }else{
    /* Not base64: encode the raw bytes instead, which must round-trip. */
    nOut = n;
    free(aOut);
    aOut = malloc((size_t)n + 1);
    if( aOut==0 ){ kalamBufFree(&b); return; }
    memcpy(aOut, z, (size_t)n);
    kalamBase64Encode(&b, aOut, nOut);
  }
  if( !b.oom ){
    unsigned char *aBack = malloc((size_t)b.n*3/4 + 3);
    int nBack;
    if( aBack ){
      nBack = kalamBase64Decode(b.z ? b.z : "", (int)b.n, aBack);
      if( nBack!=nOut || (nOut>0 && memcmp(aBack, aOut, (size_t)nOut)!=0) ){
        fuzzValueFail("base64 does not round-trip");
      }
      free(aBack);
    }
  }
  kalamBufFree(&b);
  free(aOut);
}

/* A converted number, written as the row codec writes it, reads back. */
static void fuzzValueNumber(const KalamValue *v){
  KalamBuf b;
  kalamBufInit(&b);
  if( v->eType==SQLITE_INTEGER ){
    sqlite3_int64 i2 = 0;
    kalamBufAppendInt(&b, v->i);
    if( !b.oom && (!kalamParseInt(b.z, (int)b.n, &i2) || i2!=v->i) ){
      fuzzValueFail("an INTEGER does not survive formatting");
    }
  }else if( v->eType==SQLITE_FLOAT && isfinite(v->r) ){
    double r2 = 0;
    kalamBufAppendDouble(&b, v->r);
    if( !b.oom && (!kalamParseDouble(b.z, (int)b.n, &r2) || r2!=v->r) ){
      fprintf(stderr, "fuzz_value: %.17g written as %s\n", v->r, b.z);
      fuzzValueFail("a REAL does not survive formatting");
    }
  }
  kalamBufFree(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  KalamSchema *pSchema = fuzzValueSchema();
  const char *z;
  int n, iCol;
  sqlite3_int64 i;
  double r;
  KalamValue in, out;
  char *zErr = 0;
  int rc;

  if( nData<1 || nData>100000 ) return 0;
  iCol = aData[0] % pSchema->nCol;
  z = (const char*)aData + 1;
  n = (int)nData - 1;

  (void)kalamParseInt(z, n, &i);
  (void)kalamParseDouble(z, n, &r);
  (void)kalamParseTimestamp(z, n, &i);
  fuzzValueBase64(z, n);

  memset(&in, 0, sizeof(in));
  in.eType = SQLITE_TEXT;
  in.z = z;
  in.n = n;
  rc = kalamValueConvertFrom(pSchema, iCol, &in, &out, &zErr);
  if( rc==SQLITE_OK ){
    if( zErr ) fuzzValueFail("success with a message");
    fuzzValueNumber(&out);
  }else if( rc==SQLITE_MISMATCH || rc==SQLITE_CONSTRAINT ){
    if( zErr==0 ) fuzzValueFail("a refusal without a message");
  }else if( rc!=SQLITE_NOMEM && rc!=SQLITE_TOOBIG ){
    fuzzValueFail("an unexpected result code");
  }
  sqlite3_free(zErr);
  kalamValueClear(&out);
  return 0;
}
