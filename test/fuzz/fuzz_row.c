/*
** fuzz_row.c — libFuzzer target: arbitrary bytes as a stored row value.
**
** A row value in a table's column family is whatever RocksDB hands back,
** so a damaged store can give the row decoder any bytes. This target runs
** the read path of a cursor over them, for a fixed schema with a column of
** every type (and one long column name, so that a key compared past its
** end would run off the name's allocation):
**
**   kalamRowIsDeleted   the tail check scans use to skip the trash
**   kalamRowParse       one pass noting where each column's value lies
**   kalamRowColumn      each column converted to its type
**
** and checks, beyond "no crash, no sanitizer report":
**
**   - a failure is SQLITE_CORRUPT (or NOMEM) and sets a message;
**   - round trip: every column that decodes is encoded again the way
**     update.c writes it, the new row parses, and the column decodes to
**     the same type and value. A value the decoder accepts but the encoder
**     cannot reproduce would change on the first UPDATE of its row.
**
** Build and run with `make fuzz` (docs/hardening.md).
*/
#include "kalam_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static const char *const fuzzRowArgs[] = {
  "id INTEGER PRIMARY KEY",
  "a TEXT",
  "b INTEGER",
  "c REAL",
  "d BOOLEAN",
  "e TIMESTAMP",
  "f JSON",
  "g BLOB",
  "h ANY",
  "column_with_a_rather_long_name_to_catch_overreads TEXT NOT NULL",
};
#define FUZZ_ROW_NARG ((int)(sizeof(fuzzRowArgs)/sizeof(fuzzRowArgs[0])))

static KalamSchema *fuzzRowSchema(void){
  static KalamSchema *pSchema = 0;
  if( pSchema==0 ){
    char *zErr = 0;
    if( kalamSchemaParse(KALAM_KIND_SHARED, "t", FUZZ_ROW_NARG, fuzzRowArgs,
                         &pSchema, &zErr) ){
      fprintf(stderr, "fuzz_row: schema refused: %s\n", zErr ? zErr : "?");
      abort();
    }
  }
  return pSchema;
}

/* Aborts, saying why: libFuzzer keeps the input that got here. */
static void fuzzRowFail(const char *zWhy, int iCol){
  fprintf(stderr, "fuzz_row: %s (column %d)\n", zWhy, iCol);
  abort();
}

/* Are two decoded values the same SQL value? */
static int fuzzRowSame(const KalamValue *a, const KalamValue *b){
  if( a->eType!=b->eType ) return 0;
  switch( a->eType ){
    case SQLITE_INTEGER: return a->i==b->i;
    case SQLITE_FLOAT:
      return (isnan(a->r) && isnan(b->r)) || a->r==b->r;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return a->n==b->n && (a->n==0 || memcmp(a->z, b->z, (size_t)a->n)==0);
    default: return 1;
  }
}

/* Writes column iCol's value v into a row of its own, reads it back and
** checks that it is the same value. */
static void fuzzRowRoundTrip(const KalamSchema *pSchema, int iCol,
                             const KalamValue *v){
  const KalamColumn *pCol = &pSchema->aCol[iCol];
  KalamBuf b;
  KalamRow row;
  KalamValue v2;
  char *zErr = 0;
  int rc;

  /* JSON text is embedded as stored, so it round-trips by construction;
  ** a REAL NaN is written as null, which SQLite would have made NULL. */
  if( pCol->eType==KALAM_TYPE_JSON ) return;
  if( v->eType==SQLITE_FLOAT && isnan(v->r) ) return;

  kalamBufInit(&b);
  memset(&row, 0, sizeof(row));
  kalamRowEncodeBegin(&b);
  kalamRowEncodeValue(&b, pCol, v, 1);
  kalamRowEncodeEnd(&b, pSchema->eKind, 1, 2, 0);
  if( b.oom ){
    kalamBufFree(&b);
    return;
  }
  rc = kalamRowParse(&row, pSchema, b.z, (size_t)b.n);
  if( rc ) fuzzRowFail("a row kalam wrote does not parse", iCol);
  rc = kalamRowColumn(&row, pSchema, iCol, &v2, &zErr);
  if( rc==SQLITE_OK ){
    if( !fuzzRowSame(v, &v2) ){
      fprintf(stderr, "fuzz_row: re-encoded as %.*s\n", (int)b.n, b.z);
      fuzzRowFail("value changed in a write/read round trip", iCol);
    }
  }else if( rc!=SQLITE_NOMEM ){
    fprintf(stderr, "fuzz_row: re-encoded as %.*s: %s\n", (int)b.n, b.z,
            zErr ? zErr : "");
    fuzzRowFail("a value kalam wrote does not read back", iCol);
  }
  sqlite3_free(zErr);
  kalamValueClear(&v2);
  kalamRowFree(&row);
  kalamBufFree(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  KalamSchema *pSchema = fuzzRowSchema();
  KalamRow row;
  int rc, i;

  (void)kalamRowIsDeleted((const char*)aData, nData);
  memset(&row, 0, sizeof(row));
  rc = kalamRowParse(&row, pSchema, (const char*)aData, nData);
  if( rc!=SQLITE_OK ){
    if( rc!=SQLITE_CORRUPT && rc!=SQLITE_NOMEM ){
      fuzzRowFail("kalamRowParse failed with an unexpected code", -1);
    }
    kalamRowFree(&row);
    return 0;
  }
  for(i=0; i<pSchema->nCol; i++){
    KalamValue v;
    char *zErr = 0;
    rc = kalamRowColumn(&row, pSchema, i, &v, &zErr);
    if( rc==SQLITE_OK ){
      fuzzRowRoundTrip(pSchema, i, &v);
    }else if( rc==SQLITE_CORRUPT ){
      if( zErr==0 ) fuzzRowFail("SQLITE_CORRUPT with no message", i);
      if( strstr(zErr, pSchema->zTable)==0 ){
        fuzzRowFail("the error does not name the table", i);
      }
    }else if( rc!=SQLITE_NOMEM ){
      fuzzRowFail("kalamRowColumn failed with an unexpected code", i);
    }
    sqlite3_free(zErr);
    kalamValueClear(&v);
  }
  kalamRowFree(&row);
  return 0;
}
