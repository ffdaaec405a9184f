/*
** fuzz_parquet.c — libFuzzer target: arbitrary bytes as a Parquet file.
**
** A cold file is read back from disk, where anything may have happened to
** it, so kalam's reader must take any bytes. This target opens the input
** as a file in memory and reads all of it the way a scan would:
**
**   kalamParquetOpenMemory   the footer, checked against the file's size
**   kalamParquetGroupStats   each column chunk's statistics
**   kalamParquetReadChunk    each column chunk's pages decoded
**   kalamParquetChunkValue   each value converted to its column's type
**   kalamParquetChunkSlots   the decoded slots a scan reads numbers from
**
** and checks, beyond "no crash, no sanitizer report":
**
**   - a failure is SQLITE_CORRUPT (or NOMEM) and its message names the
**     file;
**   - what opens is consistent: row groups add up to the file's rows, a
**     chunk has its group's rows, a REQUIRED column has no NULL, a value
**     has its column's type, and the slots and NULL flags a scan reads
**     numbers from say what ChunkValue says. (Statistics are not checked against the
**     values: the reader takes them as the footer says, and a damaged
**     footer can say anything that is well-formed.)
**
** The seed corpus (test/fuzz/corpus/parquet/) holds small files that
** test/parquet_test.c writes. Build and run with `make fuzz`
** (docs/hardening.md).
*/
#include "kalam_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz.parquet"

static void fuzzFail(const char *zWhy, const char *zErr){
  fprintf(stderr, "fuzz_parquet: %s%s%s\n", zWhy, zErr ? ": " : "",
          zErr ? zErr : "");
  abort();
}

/* A failure must be damage or a lack of memory, and say which file. */
static void fuzzCheckError(int rc, const char *zErr){
  if( rc==SQLITE_NOMEM ) return;
  if( rc!=SQLITE_CORRUPT ) fuzzFail("an unexpected error code", zErr);
  if( zErr==0 || strstr(zErr, FUZZ_NAME)==0 ){
    fuzzFail("the message does not name the file", zErr);
  }
}

/* The SQL storage class each column type's values must have. */
static int fuzzClassOk(int eType, const KalamValue *v){
  if( v->eType==SQLITE_NULL ) return 1;
  switch( eType ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP: return v->eType==SQLITE_INTEGER;
    case KALAM_TYPE_BOOLEAN:
      return v->eType==SQLITE_INTEGER && (v->i==0 || v->i==1);
    case KALAM_TYPE_REAL: return v->eType==SQLITE_FLOAT;
    case KALAM_TYPE_TEXT: return v->eType==SQLITE_TEXT && !v->bJson;
    case KALAM_TYPE_JSON: return v->eType==SQLITE_TEXT && v->bJson;
    case KALAM_TYPE_BLOB: return v->eType==SQLITE_BLOB;
    default: return v->eType!=SQLITE_NULL;
  }
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  KalamParquetFile *pf = 0;
  char *zErr = 0;
  sqlite3_int64 nTotal = 0;
  int rc, g, i;

  rc = kalamParquetOpenMemory(FUZZ_NAME, aData, nData, &pf, &zErr);
  if( rc ){
    fuzzCheckError(rc, zErr);
    sqlite3_free(zErr);
    return 0;
  }
  for(g=0; g<kalamParquetGroupCount(pf); g++){
    nTotal += kalamParquetGroupRows(pf, g);
  }
  if( nTotal!=kalamParquetRowCount(pf) ) fuzzFail("row groups do not add up", 0);

  for(g=0; g<kalamParquetGroupCount(pf); g++){
    for(i=0; i<kalamParquetColumnCount(pf); i++){
      const KalamParquetColumn *pCol = kalamParquetColumnInfo(pf, i);
      KalamParquetChunk *c = 0;
      KalamParquetStats st;
      sqlite3_int64 r;
      kalamParquetGroupStats(pf, g, i, &st);
      rc = kalamParquetReadChunk(pf, g, i, &c, &zErr);
      if( rc ){
        fuzzCheckError(rc, zErr);
        sqlite3_free(zErr);
        zErr = 0;
        continue;
      }
      if( kalamParquetChunkRows(c)!=kalamParquetGroupRows(pf, g) ){
        fuzzFail("a chunk has other rows than its group", 0);
      }
      for(r=0; r<kalamParquetChunkRows(c); r++){
        KalamValue v;
        const unsigned char *aNull = 0;
        const sqlite3_int64 *aSlot = kalamParquetChunkSlots(c, &aNull);
        rc = kalamParquetChunkValue(c, r, &v, &zErr);
        if( rc ){
          fuzzCheckError(rc, zErr);
          sqlite3_free(zErr);
          zErr = 0;
          continue;
        }
        if( !fuzzClassOk(pCol->eType, &v) ) fuzzFail("a value of the wrong type", 0);
        if( v.eType==SQLITE_NULL && pCol->bNotNull ){
          fuzzFail("NULL in a REQUIRED column", 0);
        }
        if( (aNull && aNull[r])!=(v.eType==SQLITE_NULL) ){
          fuzzFail("the NULL flags disagree with the values", 0);
        }
        if( (v.eType==SQLITE_INTEGER && pCol->eType!=KALAM_TYPE_ANY
             && aSlot[r]!=v.i)
         || (v.eType==SQLITE_FLOAT && pCol->eType==KALAM_TYPE_REAL
             && memcmp(&aSlot[r], &v.r, sizeof(v.r))!=0) ){
          fuzzFail("the slots disagree with the values", 0);
        }
        kalamValueClear(&v);
      }
      kalamParquetChunkFree(c);
    }
  }
  kalamParquetClose(pf);
  return 0;
}
