/*
** parquet_test.c — kalam's Parquet writer and reader on their own
** (src/parquet_*.c), run by test/kalam_parquet.test.
**
**   parquet_test write DIR      writes the test files into DIR, reads each
**                               back with kalam's reader comparing every
**                               value and statistic with what was written,
**                               and leaves beside each F.parquet an
**                               F.expect (its rows) and F.stats (its row
**                               groups' statistics) as DuckDB must see them
**   parquet_test corrupt FILE   every truncation of FILE, and every byte of
**                               it changed: each must open and read, or fail
**                               with SQLITE_CORRUPT and a message naming
**                               the file; never crash (the sanitizer build
**                               checks for over-reads)
**   parquet_test errors DIR     the API's refusals: wrong types, NULL in a
**                               REQUIRED column, unwritable paths, missing
**                               and foreign files, the temporary name
**   parquet_test dump FILE      prints FILE's rows as kalam reads them (a
**                               file DuckDB wrote, say), in the text form
**                               below; or ERROR and why it cannot
**   parquet_test oom DIR        a small file written and read with each
**                               allocation failing in turn: SQLITE_NOMEM,
**                               and nothing leaked (under the sanitizers)
**   parquet_test bench DIR N    N rows of a typical table written and read
**                               back; prints sizes and times
**
** Each prints lines starting "FAIL" for what went wrong and ends with
** "PASSED" when nothing did.
**
** The text form of a value in F.expect and F.stats (and in what
** test/parquet_duckdb.mjs prints): NULL; an integer, BOOLEAN (0/1) or
** TIMESTAMP (ms) in decimal; a REAL as 'r' and its 64 bits in hex; TEXT as
** 't', BLOB as 'b', JSON and ANY as 'j' followed by the bytes in hex (for
** ANY the JSON text the file holds). Columns are separated by tabs.
*/
#include "kalam_int.h"
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

static int nFail = 0;

static void fail(const char *zFmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  printf("FAIL ");
  vprintf(zFmt, ap);
  printf("\n");
  va_end(ap);
  nFail++;
}

/* ------------------------------------------------------------ the data */

/* The table of the main test file: every type, then the system columns. */
static const char *const azTableArgs[] = {
  "i INTEGER", "r REAL", "t TEXT", "b BOOLEAN", "ts TIMESTAMP", "j JSON",
  "bl BLOB", "a ANY", "ttl_seconds=3600"
};
#define N_TABLE_ARGS 8    /* a stream table takes the ttl too */

static sqlite3_uint64 rngState;
static sqlite3_uint64 rng(void){
  rngState ^= rngState << 13;
  rngState ^= rngState >> 7;
  rngState ^= rngState << 17;
  return rngState;
}

/* Scratch space for the text and blob values of one row: they live until
** the next row is made. */
static char aText[8][600];

/* Row k of a table with the columns above (rows differ by seed). */
static void makeRow(int iSeed, sqlite3_int64 k, KalamValue *a){
  static const sqlite3_int64 aInt[] = {
    0, -1, 1, INT64_MIN, INT64_MAX, 4611686018427387904LL, -255, 256
  };
  static const double aReal[] = {
    0.0, -0.0, 1.5, -1e300, 1e-300, DBL_MAX, -DBL_MIN, 4.9e-324,
    0.1, -2.5, 1e15, 123456.789
  };
  static const char *const azText[] = {
    "", "a", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", "quote \" back \\ "
    "tab\t nl\n cr\r", "z", "A", "\x7f", "0"
  };
  static const char *const azJson[] = {
    "{\"a\":1}", "[1,2,3]", "\"str\"", "123", "{\"k\":[true,false,{}]}",
    "-0.5", "{}", "[]"
  };
  int i;
  rngState = 0x9e3779b97f4a7c15ULL ^ (sqlite3_uint64)(k*2654435761LL + iSeed);
  rng();
  memset(a, 0, sizeof(KalamValue)*11);
  for(i=0; i<11; i++) a[i].eType = SQLITE_NULL;

  if( k%7!=3 ){
    a[0].eType = SQLITE_INTEGER;
    a[0].i = k%3==0 ? (sqlite3_int64)rng() : aInt[k%8];
  }
  if( k%5!=2 ){
    a[1].eType = SQLITE_FLOAT;
    if( k%4==0 ){
      sqlite3_uint64 u = rng();
      memcpy(&a[1].r, &u, 8);
      if( isnan(a[1].r) ) a[1].r = 2.0;
    }else{
      a[1].r = aReal[k%12];
    }
    /* Infinities in the first rows only: DuckDB shows no statistics for
    ** a group whose bound is infinite, and the others should be seen. */
    if( k==1 || k==2 ) a[1].r = k==1 ? INFINITY : -INFINITY;
  }
  if( k%3!=1 ){
    a[2].eType = SQLITE_TEXT;
    if( k%11==5 ){
      /* Longer than the statistics keep: that group has no min/max. */
      memset(aText[2], 'x', 300);
      aText[2][0] = (char)('a' + k%26);
      a[2].n = 300;
    }else if( k%2 ){
      a[2].n = snprintf(aText[2], 64, "row %lld \xc3\xa9", (long long)k);
    }else{
      a[2].n = (int)strlen(azText[k%8]);
      memcpy(aText[2], azText[k%8], (size_t)a[2].n);
    }
    a[2].z = aText[2];
  }
  if( k%4!=1 ){
    a[3].eType = SQLITE_INTEGER;
    a[3].i = (k/3)%2;
  }
  if( k%6!=4 ){
    /* Milliseconds from before 1970 to the year 9999. */
    a[4].eType = SQLITE_INTEGER;
    a[4].i = (sqlite3_int64)(rng() % 315537897600000ULL) - 62135596800000LL;
    if( k%9==0 ) a[4].i = 0;
  }
  if( k%8!=7 ){
    a[5].eType = SQLITE_TEXT;
    a[5].bJson = 1;
    a[5].z = azJson[k%8];
    a[5].n = (int)strlen(a[5].z);
  }
  if( k%10!=9 ){
    int n = (int)(k%13), j;
    for(j=0; j<n; j++) aText[6][j] = (char)(rng() & 0xff);
    if( n>1 ) aText[6][1] = 0;
    a[6].eType = SQLITE_BLOB;
    a[6].z = aText[6];
    a[6].n = n;
  }
  switch( k%6 ){
    case 0: a[7].eType = SQLITE_INTEGER; a[7].i = (sqlite3_int64)rng(); break;
    case 1: a[7].eType = SQLITE_FLOAT; a[7].r = aReal[k%12]; break;
    case 2:
      a[7].eType = SQLITE_TEXT;
      a[7].z = azText[k%8];
      a[7].n = (int)strlen(a[7].z);
      break;
    case 3:
      a[7].eType = SQLITE_BLOB;
      a[7].z = "\x00\x01\xff";
      a[7].n = 3;
      break;
    case 4: break;    /* NULL */
    default: a[7].eType = SQLITE_INTEGER; a[7].i = -(k*1000); break;
  }
  /* _rowid, _seq, _deleted */
  a[8].eType = SQLITE_INTEGER;
  a[8].i = k*3 - 1000;
  a[9].eType = SQLITE_INTEGER;
  a[9].i = 900000000000000000LL + k;
  a[10].eType = SQLITE_INTEGER;
  a[10].i = k%10==0;
}

/* Makes file NAME's rows all NULL (or all set) in some groups: row k is
** replaced by NULLs in every OPTIONAL column when k/nGroup is odd. */
static void blankRow(sqlite3_int64 k, sqlite3_int64 nGroup, KalamValue *a){
  int i;
  if( (k/nGroup)%2==0 ) return;
  for(i=0; i<8; i++){
    memset(&a[i], 0, sizeof(a[i]));
    a[i].eType = SQLITE_NULL;
  }
}

/* ------------------------------------------------------- text forms */

static void hex(FILE *f, const char *z, int n){
  int i;
  for(i=0; i<n; i++) fprintf(f, "%02x", (unsigned char)z[i]);
}

/* The text form (header comment) of v, a value of type eType, as DuckDB
** reads it from the file (for ANY, the JSON text the writer makes of it). */
static void printValue(FILE *f, int eType, const KalamValue *v){
  KalamBuf b;
  sqlite3_uint64 u;
  if( v->eType==SQLITE_NULL ){
    fprintf(f, "NULL");
    return;
  }
  switch( eType ){
    case KALAM_TYPE_REAL:
      memcpy(&u, &v->r, 8);
      fprintf(f, "r%016llx", (unsigned long long)u);
      break;
    case KALAM_TYPE_TEXT: fputc('t', f); hex(f, v->z, v->n); break;
    case KALAM_TYPE_BLOB: fputc('b', f); hex(f, v->z, v->n); break;
    case KALAM_TYPE_JSON: fputc('j', f); hex(f, v->z, v->n); break;
    case KALAM_TYPE_ANY:
      /* The JSON text the writer makes, by the row codec's rules. */
      kalamBufInit(&b);
      switch( v->eType ){
        case SQLITE_INTEGER: kalamBufAppendInt(&b, v->i); break;
        case SQLITE_FLOAT: kalamBufAppendDouble(&b, v->r); break;
        case SQLITE_TEXT: kalamBufAppendJsonString(&b, v->z, v->n); break;
        default:
          kalamBufAppendStr(&b, "{\"base64\":\"");
          kalamBase64Encode(&b, (const unsigned char*)v->z, v->n);
          kalamBufAppendStr(&b, "\"}");
          break;
      }
      fputc('j', f);
      hex(f, b.z, (int)b.n);
      kalamBufFree(&b);
      break;
    default:
      fprintf(f, "%lld", (long long)v->i);
      break;
  }
}

/* ------------------------------------------------------- comparisons */

static int sameValue(const KalamValue *a, const KalamValue *b){
  if( a->eType!=b->eType ) return 0;
  switch( a->eType ){
    case SQLITE_INTEGER: return a->i==b->i;
    case SQLITE_FLOAT: return memcmp(&a->r, &b->r, 8)==0;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return a->n==b->n && (a->n==0 || memcmp(a->z, b->z, (size_t)a->n)==0);
    default: return 1;
  }
}

/* SQLite's order of two non-NULL values of one column type. */
static int cmpValue(const KalamValue *a, const KalamValue *b){
  int c, n;
  if( a->eType==SQLITE_INTEGER ) return (a->i>b->i) - (a->i<b->i);
  if( a->eType==SQLITE_FLOAT ) return (a->r>b->r) - (a->r<b->r);
  n = a->n<b->n ? a->n : b->n;
  c = n ? memcmp(a->z, b->z, (size_t)n) : 0;
  return c ? c : (a->n>b->n) - (a->n<b->n);
}

/* What one row group's statistics must be, gathered from the values. */
typedef struct Stat Stat;
struct Stat {
  sqlite3_int64 nNull;
  int bAny;              /* a non-NULL value was seen */
  int bLong;             /* a value too long for min/max was seen */
  KalamValue min, max;   /* TEXT/BLOB point into zMin/zMax */
  char zMin[600], zMax[600];
};

static void statAdd(Stat *s, int eType, const KalamValue *v){
  if( v->eType==SQLITE_NULL ){ s->nNull++; return; }
  if( eType==KALAM_TYPE_ANY ) return;
  if( (v->eType==SQLITE_TEXT || v->eType==SQLITE_BLOB)
   && v->n>KALAM_PARQUET_STAT_MAX ){
    s->bLong = 1;
    return;
  }
  if( !s->bAny || cmpValue(v, &s->min)<0 ){
    s->min = *v;
    if( v->n ) memcpy(s->zMin, v->z, (size_t)v->n);
    s->min.z = s->zMin;
  }
  if( !s->bAny || cmpValue(v, &s->max)>0 ){
    s->max = *v;
    if( v->n ) memcpy(s->zMax, v->z, (size_t)v->n);
    s->max.z = s->zMax;
  }
  s->bAny = 1;
}

/* ----------------------------------------------------------- write */

typedef struct TestFile TestFile;
struct TestFile {
  const char *zName;
  int eKind;                 /* the table kind whose columns it has */
  sqlite3_int64 nRow;
  KalamParquetOptions opt;
  int bBlank;                /* alternate groups of all-NULL columns */
};

/* Row k of test file pT. */
static void fileRow(const TestFile *pT, sqlite3_int64 k,
                    sqlite3_int64 nGroupRows, KalamValue *aVal){
  makeRow(1, k, aVal);
  if( pT->bBlank ) blankRow(k, nGroupRows, aVal);
  if( pT->eKind==KALAM_KIND_STREAM ){
    /* _ts, where the other kinds have _deleted */
    aVal[10].i = 1577836800000LL + k*1000;
  }
}

/* Writes one test file, reads it back and checks it, and writes its
** .expect and .stats files. */
static void testFile(const char *zDir, const TestFile *pT){
  KalamSchema *pSchema = 0;
  KalamParquetColumn *aCol = 0;
  KalamParquetWriter *w = 0;
  KalamParquetFile *pf = 0;
  KalamValue aVal[11];
  char *zErr = 0, *zPath = 0;
  sqlite3_int64 k, nBytes = 0, nGroupRows;
  int nCol = 0, i, g, rc;
  Stat *aStat = 0;
  FILE *fExp = 0, *fStat = 0;

  zPath = sqlite3_mprintf("%s/%s.parquet", zDir, pT->zName);
  rc = kalamSchemaParse(pT->eKind, "t",
                        N_TABLE_ARGS + (pT->eKind==KALAM_KIND_STREAM),
                        azTableArgs, &pSchema, &zErr);
  if( rc==SQLITE_OK ) rc = kalamParquetColumnsFromSchema(pSchema, &aCol, &nCol);
  if( rc ){
    fail("%s: schema: %d %s", pT->zName, rc, zErr ? zErr : "");
    goto done;
  }
  nGroupRows = pT->opt.nGroupRows ? pT->opt.nGroupRows
                                  : KALAM_PARQUET_GROUP_ROWS;
  rc = kalamParquetWriterOpen(zPath, aCol, nCol, &pT->opt, &w, &zErr);
  if( rc==SQLITE_OK ) rc = kalamParquetWriterMeta(w, "kalam.table", "t");
  for(k=0; k<pT->nRow && rc==SQLITE_OK; k++){
    fileRow(pT, k, nGroupRows, aVal);
    rc = kalamParquetWriterAdd(w, aVal, &zErr);
  }
  if( rc==SQLITE_OK ) rc = kalamParquetWriterFinish(w, &nBytes, &zErr);
  kalamParquetWriterFree(w);
  if( rc ){
    fail("%s: write: %d %s", pT->zName, rc, zErr ? zErr : "");
    goto done;
  }

  rc = kalamParquetOpen(zPath, &pf, &zErr);
  if( rc ){
    fail("%s: open: %d %s", pT->zName, rc, zErr ? zErr : "");
    goto done;
  }
  if( kalamParquetRowCount(pf)!=pT->nRow || kalamParquetColumnCount(pf)!=nCol ){
    fail("%s: %lld rows, %s", pT->zName, kalamParquetRowCount(pf),
         "or a wrong column count");
  }
  if( kalamParquetMetaValue(pf, "kalam.table")==0
   || strcmp(kalamParquetMetaValue(pf, "kalam.table"), "t")!=0 ){
    fail("%s: metadata kalam.table lost", pT->zName);
  }
  for(i=0; i<nCol; i++){
    const KalamParquetColumn *pCol = kalamParquetColumnInfo(pf, i);
    if( strcmp(pCol->zName, aCol[i].zName)!=0 || pCol->eType!=aCol[i].eType
     || pCol->iFieldId!=aCol[i].iFieldId || pCol->bNotNull!=aCol[i].bNotNull
     || kalamParquetColumnByFieldId(pf, aCol[i].iFieldId)!=i ){
      fail("%s: column %d (%s) read back differently", pT->zName, i,
           aCol[i].zName);
    }
  }

  /* Every value of every chunk, and every statistic. */
  {
    char *zExp = sqlite3_mprintf("%s/%s.expect", zDir, pT->zName);
    char *zStat = sqlite3_mprintf("%s/%s.stats", zDir, pT->zName);
    if( zExp && zStat ){
      fExp = fopen(zExp, "w");
      fStat = fopen(zStat, "w");
    }
    sqlite3_free(zExp);
    sqlite3_free(zStat);
  }
  aStat = calloc((size_t)nCol, sizeof(Stat));
  if( fExp==0 || fStat==0 || aStat==0 ){
    fail("%s: cannot write .expect/.stats files", pT->zName);
    goto done;
  }
  k = 0;
  for(g=0; g<kalamParquetGroupCount(pf); g++){
    sqlite3_int64 nRows = kalamParquetGroupRows(pf, g), r;
    KalamParquetChunk *aChunk[11];
    memset(aChunk, 0, sizeof(aChunk));
    memset(aStat, 0, sizeof(Stat)*(size_t)nCol);
    for(i=0; i<nCol; i++){
      rc = kalamParquetReadChunk(pf, g, i, &aChunk[i], &zErr);
      if( rc ){
        fail("%s: read chunk: %d %s", pT->zName, rc, zErr ? zErr : "");
        goto done;
      }
    }
    for(r=0; r<nRows; r++, k++){
      fileRow(pT, k, nGroupRows, aVal);
      for(i=0; i<nCol; i++){
        KalamValue v, want = aVal[i];
        rc = kalamParquetChunkValue(aChunk[i], r, &v, &zErr);
        if( want.eType==SQLITE_TEXT ) want.bJson = 0;
        if( rc || !sameValue(&v, &want)
         || v.bJson!=(aCol[i].eType==KALAM_TYPE_JSON && want.eType!=SQLITE_NULL) ){
          fail("%s: row %lld column %s differs", pT->zName, k, aCol[i].zName);
        }
        kalamValueClear(&v);
        statAdd(&aStat[i], aCol[i].eType, &aVal[i]);
        if( i ) fputc('\t', fExp);
        printValue(fExp, aCol[i].eType, &aVal[i]);
      }
      fputc('\n', fExp);
    }
    for(i=0; i<nCol; i++){
      KalamParquetStats st;
      Stat *s = &aStat[i];
      int bMinMax = s->bAny && !s->bLong;
      kalamParquetChunkFree(aChunk[i]);
      kalamParquetGroupStats(pf, g, i, &st);
      if( !st.bNullCount || st.nNull!=s->nNull || st.bMinMax!=bMinMax
       || (bMinMax && (cmpValue(&st.min, &s->min)!=0
                       || cmpValue(&st.max, &s->max)!=0)) ){
        fail("%s: group %d: statistics of %s differ", pT->zName, g,
             aCol[i].zName);
      }
      /* DuckDB shows a zero min as -0.0 and a zero max as 0.0, as the
      ** specification asks the writer to store them. */
      if( bMinMax && aCol[i].eType==KALAM_TYPE_REAL ){
        if( s->min.r==0.0 ) s->min.r = -0.0;
        if( s->max.r==0.0 ) s->max.r = 0.0;
      }
      fprintf(fStat, "%d\t%s\t%lld\t", g, aCol[i].zName, (long long)s->nNull);
      if( bMinMax ){
        printValue(fStat, aCol[i].eType, &s->min);
        fputc('\t', fStat);
        printValue(fStat, aCol[i].eType, &s->max);
      }else{
        fprintf(fStat, "-\t-");
      }
      fputc('\n', fStat);
    }
  }
  if( k!=pT->nRow ) fail("%s: %lld rows read back%s", pT->zName, k, "");
  printf("%s: %lld rows, %d row groups, %lld bytes\n", pT->zName,
         (long long)pT->nRow, kalamParquetGroupCount(pf), (long long)nBytes);
done:
  {
    int bBad = fExp && fclose(fExp)!=0;
    if( fStat && fclose(fStat)!=0 ) bBad = 1;
    if( bBad ) fail("%s: cannot write .expect/.stats files", pT->zName);
  }
  free(aStat);
  kalamParquetClose(pf);
  sqlite3_free(aCol);
  kalamSchemaFree(pSchema);
  sqlite3_free(zErr);
  sqlite3_free(zPath);
}

static void testWrite(const char *zDir){
  static const TestFile aT[] = {
    /* every type, many row groups and pages */
    { "types", KALAM_KIND_SHARED, 5000, {1000, 0, 300, 0, 0, 0}, 0 },
    /* pages cut by bytes rather than rows, and level 19 */
    { "smallpages", KALAM_KIND_SHARED, 700, {0, 0, 0, 512, 19, 0}, 0 },
    /* no compression */
    { "plain", KALAM_KIND_SHARED, 900, {250, 0, 0, 0, 0, 1}, 0 },
    /* groups whose optional columns are all NULL, and all set */
    { "blank", KALAM_KIND_SHARED, 1200, {200, 0, 64, 0, 0, 0}, 1 },
    /* a stream's columns: _ts instead of _deleted; default options */
    { "stream", KALAM_KIND_STREAM, 3000, {0, 0, 0, 0, 0, 0}, 0 },
    /* groups cut by bytes */
    { "groupbytes", KALAM_KIND_SHARED, 800, {0, 4096, 0, 0, 0, 0}, 0 },
    /* small ones for the corruption tests: uncompressed and zstd */
    { "tiny", KALAM_KIND_SHARED, 20, {8, 0, 3, 0, 0, 1}, 0 },
    { "tinyz", KALAM_KIND_SHARED, 20, {8, 0, 3, 0, 0, 0}, 0 },
    /* one row, and none */
    { "one", KALAM_KIND_SHARED, 1, {0, 0, 0, 0, 0, 0}, 0 },
    { "empty", KALAM_KIND_SHARED, 0, {0, 0, 0, 0, 0, 0}, 0 },
  };
  int i;
  for(i=0; i<(int)(sizeof(aT)/sizeof(aT[0])); i++) testFile(zDir, &aT[i]);
}

/* ---------------------------------------------------------- corrupt */

/* Opens and reads all of a[0..n). A failure must be SQLITE_CORRUPT (or
** NOMEM) with a message naming the file. Returns 1 if it read whole. */
static int readAll(const unsigned char *a, size_t n, const char *zWhat){
  KalamParquetFile *pf = 0;
  char *zErr = 0;
  int rc, g, i, bOk = 0;
  rc = kalamParquetOpenMemory("damaged.parquet", a, n, &pf, &zErr);
  for(g=0; rc==SQLITE_OK && g<kalamParquetGroupCount(pf); g++){
    for(i=0; rc==SQLITE_OK && i<kalamParquetColumnCount(pf); i++){
      KalamParquetChunk *c = 0;
      KalamParquetStats st;
      sqlite3_int64 r;
      kalamParquetGroupStats(pf, g, i, &st);
      rc = kalamParquetReadChunk(pf, g, i, &c, &zErr);
      for(r=0; rc==SQLITE_OK && r<kalamParquetChunkRows(c); r++){
        KalamValue v;
        rc = kalamParquetChunkValue(c, r, &v, &zErr);
        kalamValueClear(&v);
      }
      kalamParquetChunkFree(c);
    }
  }
  if( rc==SQLITE_OK ){
    bOk = 1;
  }else if( rc!=SQLITE_CORRUPT && rc!=SQLITE_NOMEM ){
    fail("%s: error code %d (%s)", zWhat, rc, zErr ? zErr : "");
  }else if( rc==SQLITE_CORRUPT
         && (zErr==0 || strstr(zErr, "damaged.parquet")==0) ){
    fail("%s: message does not name the file (%d): %s", zWhat, rc,
         zErr ? zErr : "none");
  }
  sqlite3_free(zErr);
  kalamParquetClose(pf);
  return bOk;
}

static unsigned char *readFile(const char *zFile, size_t *pn){
  FILE *f = fopen(zFile, "rb");
  unsigned char *a = 0;
  long n;
  if( f==0 || fseek(f, 0, SEEK_END)!=0 || (n = ftell(f))<0
   || fseek(f, 0, SEEK_SET)!=0 ){
    /* Only read from: a failed close loses nothing. */
    if( f ) (void)fclose(f);
    return 0;
  }
  a = malloc((size_t)n + 1);
  if( a && fread(a, 1, (size_t)n, f)!=(size_t)n ){ free(a); a = 0; }
  (void)fclose(f);   /* read only: nothing to lose */
  *pn = (size_t)n;
  return a;
}

/* Writes a[0..n) to file zFile. Returns 1 on success. */
static int writeFile(const char *zFile, const unsigned char *a, size_t n){
  FILE *f = fopen(zFile, "wb");
  int bOk;
  if( f==0 ) return 0;
  bOk = fwrite(a, 1, n, f)==n;
  if( fclose(f)!=0 ) bOk = 0;
  return bOk;
}

static void testCorrupt(const char *zFile){
  size_t n, i;
  unsigned char *a = readFile(zFile, &n), *b;
  int nRead = 0, nVariant = 0;
  static const unsigned char aMask[] = {0xff, 0x01, 0x80, 0x10};
  if( a==0 ){
    fail("cannot read %s", zFile);
    return;
  }
  if( !readAll(a, n, "the file itself") ) fail("%s does not read", zFile);
  /* Every truncation: each its own allocation, so that ASan sees a read
  ** past the end. */
  for(i=0; i<n; i++){
    b = malloc(i ? i : 1);
    memcpy(b, a, i);
    nRead += readAll(b, i, "truncated");
    nVariant++;
    free(b);
  }
  /* Every byte, changed four ways. */
  b = malloc(n);
  for(i=0; i<n; i++){
    size_t m;
    for(m=0; m<sizeof(aMask); m++){
      memcpy(b, a, n);
      b[i] ^= aMask[m];
      nRead += readAll(b, n, "changed");
      nVariant++;
    }
  }
  free(b);
  free(a);
  printf("corrupt: %d variants of %zu bytes, %d read whole, %d refused\n",
         nVariant, n, nRead, nVariant - nRead);
}

/* ----------------------------------------------------------- errors */

static void expectRc(const char *zWhat, int rc, int rcWant, char **pzErr,
                     const char *zIn){
  if( rc!=rcWant || (rcWant && (*pzErr==0 || strstr(*pzErr, zIn)==0)) ){
    fail("%s: got %d: %s", zWhat, rc, *pzErr ? *pzErr : "no message");
  }else if( rcWant ){
    printf("%s: %s\n", zWhat, *pzErr);
  }
  sqlite3_free(*pzErr);
  *pzErr = 0;
}

static void testErrors(const char *zDir){
  KalamParquetColumn aCol[3] = {
    {"n", KALAM_TYPE_INTEGER, 1, 1},
    {"s", KALAM_TYPE_TEXT, 2, 0},
    {"f", KALAM_TYPE_BOOLEAN, 3, 0},
  };
  KalamParquetWriter *w = 0;
  KalamParquetFile *pf = 0;
  KalamValue a[3];
  char *zErr = 0;
  char *zPath = sqlite3_mprintf("%s/err.parquet", zDir);
  char *zTmp = sqlite3_mprintf("%s.tmp", zPath);
  char *zNoDir = sqlite3_mprintf("%s/no/such/dir/x.parquet", zDir);
  struct stat st;
  int rc;

  memset(a, 0, sizeof(a));
  rc = kalamParquetWriterOpen(zNoDir, aCol, 3, 0, &w, &zErr);
  expectRc("create in a missing directory", rc, SQLITE_CANTOPEN, &zErr,
           "x.parquet.tmp");

  rc = kalamParquetWriterOpen(zPath, aCol, 3, 0, &w, &zErr);
  expectRc("open", rc, SQLITE_OK, &zErr, "");
  if( rc ) return;
  if( stat(zTmp, &st)!=0 || stat(zPath, &st)==0 ){
    fail("the file is not written under its temporary name");
  }
  a[0].eType = SQLITE_TEXT; a[0].z = "x"; a[0].n = 1;
  a[1].eType = SQLITE_NULL;
  a[2].eType = SQLITE_INTEGER; a[2].i = 1;
  rc = kalamParquetWriterAdd(w, a, &zErr);
  expectRc("TEXT into INTEGER", rc, SQLITE_MISMATCH, &zErr, "column n");
  /* The error is latched: the writer refuses everything after it. */
  a[0].eType = SQLITE_INTEGER; a[0].i = 5;
  rc = kalamParquetWriterAdd(w, a, &zErr);
  expectRc("a row after an error", rc, SQLITE_MISMATCH, &zErr, "column n");
  kalamParquetWriterFree(w);
  if( stat(zTmp, &st)==0 || stat(zPath, &st)==0 ){
    fail("a writer freed unfinished leaves a file");
  }

  rc = kalamParquetWriterOpen(zPath, aCol, 3, 0, &w, &zErr);
  a[0].eType = SQLITE_NULL;
  if( rc==SQLITE_OK ) rc = kalamParquetWriterAdd(w, a, &zErr);
  expectRc("NULL into REQUIRED", rc, SQLITE_CONSTRAINT, &zErr, "REQUIRED");
  kalamParquetWriterFree(w);

  rc = kalamParquetWriterOpen(zPath, aCol, 3, 0, &w, &zErr);
  a[0].eType = SQLITE_INTEGER; a[0].i = 1;
  a[2].i = 2;
  if( rc==SQLITE_OK ) rc = kalamParquetWriterAdd(w, a, &zErr);
  expectRc("2 into BOOLEAN", rc, SQLITE_MISMATCH, &zErr, "0 or 1");
  kalamParquetWriterFree(w);

  /* A finished file: under its name only. */
  rc = kalamParquetWriterOpen(zPath, aCol, 3, 0, &w, &zErr);
  a[2].i = 0;
  if( rc==SQLITE_OK ) rc = kalamParquetWriterAdd(w, a, &zErr);
  if( rc==SQLITE_OK ) rc = kalamParquetWriterFinish(w, 0, &zErr);
  expectRc("finish", rc, SQLITE_OK, &zErr, "");
  rc = kalamParquetWriterAdd(w, a, &zErr);
  if( rc==SQLITE_OK ) fail("a row added after Finish is taken");
  sqlite3_free(zErr);
  zErr = 0;
  kalamParquetWriterFree(w);
  if( stat(zTmp, &st)==0 || stat(zPath, &st)!=0 ){
    fail("a finished file is not under its name alone");
  }

  rc = kalamParquetOpen(zNoDir, &pf, &zErr);
  expectRc("open a missing file", rc, SQLITE_CANTOPEN, &zErr, "x.parquet");
  {
    /* A file that is not Parquet at all, and one truncated on disk. */
    char *zBad = sqlite3_mprintf("%s/bad.parquet", zDir);
    size_t n;
    unsigned char *aFile = readFile(zPath, &n);
    if( !writeFile(zBad, (const unsigned char*)"this is not a Parquet file",
                   26) ){
      fail("cannot write %s", zBad);
    }
    rc = kalamParquetOpen(zBad, &pf, &zErr);
    expectRc("open a text file", rc, SQLITE_CORRUPT, &zErr, "bad.parquet");
    if( aFile==0 || !writeFile(zBad, aFile, n - 5) ){
      fail("cannot write %s", zBad);
    }
    rc = kalamParquetOpen(zBad, &pf, &zErr);
    expectRc("open a truncated file", rc, SQLITE_CORRUPT, &zErr, "PAR1");
    free(aFile);
    sqlite3_free(zBad);
  }
  sqlite3_free(zPath);
  sqlite3_free(zTmp);
  sqlite3_free(zNoDir);
}

/* ------------------------------------------------------------ bench */

static double now(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec/1e9;
}

/* A typical table: an id, a name, an amount, a flag, a time. */
static void testBench(const char *zDir, sqlite3_int64 nRow){
  KalamParquetColumn aCol[8] = {
    {"id", KALAM_TYPE_INTEGER, 1, 0}, {"name", KALAM_TYPE_TEXT, 2, 0},
    {"amount", KALAM_TYPE_REAL, 3, 0}, {"ok", KALAM_TYPE_BOOLEAN, 4, 0},
    {"at", KALAM_TYPE_TIMESTAMP, 5, 0},
    {"_rowid", KALAM_TYPE_INTEGER, KALAM_PARQUET_ID_ROWID, 1},
    {"_seq", KALAM_TYPE_INTEGER, KALAM_PARQUET_ID_SEQ, 1},
    {"_deleted", KALAM_TYPE_BOOLEAN, KALAM_PARQUET_ID_DELETED, 1},
  };
  char *zPath = sqlite3_mprintf("%s/bench.parquet", zDir);
  KalamParquetWriter *w = 0;
  KalamParquetFile *pf = 0;
  KalamValue a[8];
  char zName[32];
  char *zErr = 0;
  sqlite3_int64 k, nBytes = 0, nJson = 0, iSum = 0;
  double t0, tWrite, tRead, tOne, rSum = 0;
  int rc, g;

  static const char *const azArg[] = {
    "id INTEGER", "name TEXT", "amount REAL", "ok BOOLEAN", "at TIMESTAMP"
  };
  KalamSchema *pSchema = 0;
  KalamBuf json;

  kalamBufInit(&json);
  if( kalamSchemaParse(KALAM_KIND_SHARED, "t", 5, azArg, &pSchema, &zErr) ){
    fail("bench schema: %s", zErr ? zErr : "");
  }
  memset(a, 0, sizeof(a));
  t0 = now();
  rc = kalamParquetWriterOpen(zPath, aCol, 8, 0, &w, &zErr);
  for(k=0; k<nRow && rc==SQLITE_OK; k++){
    a[0].eType = SQLITE_INTEGER; a[0].i = k;
    a[1].eType = SQLITE_TEXT; a[1].z = zName;
    a[1].n = snprintf(zName, sizeof(zName), "user %lld", (long long)(k%5000));
    a[2].eType = SQLITE_FLOAT; a[2].r = (double)(k%10000)/100.0;
    a[3].eType = SQLITE_INTEGER; a[3].i = k%2;
    a[4].eType = SQLITE_INTEGER; a[4].i = 1700000000000LL + k*1000;
    a[5].eType = SQLITE_INTEGER; a[5].i = 900000000000000000LL + k;
    a[6].eType = SQLITE_INTEGER; a[6].i = 900000000000000000LL + k*4096;
    a[7].eType = SQLITE_INTEGER; a[7].i = 0;
    /* The same row as the row codec stores it, for the size comparison. */
    if( pSchema ){
      int i;
      kalamRowEncodeBegin(&json);
      for(i=0; i<5; i++) kalamRowEncodeValue(&json, &pSchema->aCol[i], &a[i], i==0);
      kalamRowEncodeEnd(&json, KALAM_KIND_SHARED, a[6].i, 1700000000000LL, 0);
      nJson += json.n;
    }
    rc = kalamParquetWriterAdd(w, a, &zErr);
  }
  if( rc==SQLITE_OK ) rc = kalamParquetWriterFinish(w, &nBytes, &zErr);
  kalamParquetWriterFree(w);
  tWrite = now() - t0;
  if( rc ){
    fail("bench write: %d %s", rc, zErr ? zErr : "");
    goto done;
  }
  /* Read every column of every row, then one column. */
  t0 = now();
  rc = kalamParquetOpen(zPath, &pf, &zErr);
  for(g=0; rc==SQLITE_OK && g<kalamParquetGroupCount(pf); g++){
    int i;
    for(i=0; i<8 && rc==SQLITE_OK; i++){
      KalamParquetChunk *c = 0;
      sqlite3_int64 r;
      rc = kalamParquetReadChunk(pf, g, i, &c, &zErr);
      for(r=0; rc==SQLITE_OK && r<kalamParquetChunkRows(c); r++){
        KalamValue v;
        rc = kalamParquetChunkValue(c, r, &v, &zErr);
        if( v.eType==SQLITE_INTEGER ) iSum += v.i;
      }
      kalamParquetChunkFree(c);
    }
  }
  tRead = now() - t0;
  t0 = now();
  for(g=0; rc==SQLITE_OK && g<kalamParquetGroupCount(pf); g++){
    KalamParquetChunk *c = 0;
    sqlite3_int64 r;
    rc = kalamParquetReadChunk(pf, g, 2, &c, &zErr);
    for(r=0; rc==SQLITE_OK && r<kalamParquetChunkRows(c); r++){
      KalamValue v;
      rc = kalamParquetChunkValue(c, r, &v, &zErr);
      rSum += v.r;
    }
    kalamParquetChunkFree(c);
  }
  tOne = now() - t0;
  if( rc ){
    fail("bench read: %d %s", rc, zErr ? zErr : "");
    goto done;
  }
  printf("bench: %lld rows, 8 columns: %lld bytes (%.1f bytes a row; the "
         "same rows as the row codec's JSON: %lld bytes)\n", (long long)nRow,
         (long long)nBytes, (double)nBytes/(double)nRow, (long long)nJson);
  printf("bench: write %.3f s (%.0f rows/s), read all columns %.3f s "
         "(%.0f rows/s), one REAL column %.3f s (%.0f rows/s) [%lld %.0f]\n",
         tWrite, (double)nRow/tWrite, tRead, (double)nRow/tRead, tOne,
         (double)nRow/tOne, (long long)(iSum & 1), rSum);
done:
  kalamParquetClose(pf);
  kalamSchemaFree(pSchema);
  kalamBufFree(&json);
  sqlite3_free(zErr);
  sqlite3_free(zPath);
}

/* ------------------------------------------------------------- dump */

/* Prints every row of zFile as kalam's reader reads it, in the text form
** of the header comment; or "ERROR rc message" if it cannot. */
static void testDump(const char *zFile){
  KalamParquetFile *pf = 0;
  KalamParquetChunk **aChunk = 0;
  char *zErr = 0;
  int rc, g, i, nCol;
  rc = kalamParquetOpen(zFile, &pf, &zErr);
  nCol = rc ? 0 : kalamParquetColumnCount(pf);
  if( rc==SQLITE_OK ){
    aChunk = calloc((size_t)nCol, sizeof(*aChunk));
    if( aChunk==0 ) rc = SQLITE_NOMEM;
  }
  for(g=0; rc==SQLITE_OK && g<kalamParquetGroupCount(pf); g++){
    sqlite3_int64 r;
    for(i=0; rc==SQLITE_OK && i<nCol; i++){
      rc = kalamParquetReadChunk(pf, g, i, &aChunk[i], &zErr);
    }
    for(r=0; rc==SQLITE_OK && r<kalamParquetGroupRows(pf, g); r++){
      for(i=0; rc==SQLITE_OK && i<nCol; i++){
        KalamValue v;
        rc = kalamParquetChunkValue(aChunk[i], r, &v, &zErr);
        if( rc ) break;
        if( i ) putchar('\t');
        printValue(stdout, kalamParquetColumnInfo(pf, i)->eType, &v);
        kalamValueClear(&v);
      }
      putchar('\n');
    }
    for(i=0; i<nCol; i++){
      kalamParquetChunkFree(aChunk[i]);
      aChunk[i] = 0;
    }
  }
  if( rc ){
    printf("ERROR %d %s\n", rc, zErr ? zErr : "");
    nFail++;
  }
  free(aChunk);
  sqlite3_free(zErr);
  kalamParquetClose(pf);
}

/* -------------------------------------------------------------- oom */

/* SQLite's allocator, wrapped so that allocation number nOomAt fails. */
static sqlite3_mem_methods oomDefault;
static int nOomCount = 0, nOomAt = 0;
static void *oomMalloc(int n){
  if( nOomAt && ++nOomCount==nOomAt ) return 0;
  return oomDefault.xMalloc(n);
}
static void *oomRealloc(void *p, int n){
  if( nOomAt && ++nOomCount==nOomAt ) return 0;
  return oomDefault.xRealloc(p, n);
}

/* Writes and reads a small file with allocation k failing, for k = 1, 2,
** ... until a run needs no more allocations than that: every call must
** succeed or say SQLITE_NOMEM, and (under the sanitizers) free all. */
static void testOom(const char *zDir){
  static const TestFile t = {
    "oom", KALAM_KIND_SHARED, 30, {8, 0, 5, 0, 0, 0}, 0
  };
  char *zPath = 0;
  int k;
  for(k=1; k<100000; k++){
    KalamSchema *pSchema = 0;
    KalamParquetColumn *aCol = 0;
    KalamParquetWriter *w = 0;
    KalamParquetFile *pf = 0;
    KalamValue aVal[11];
    char *zErr = 0;
    sqlite3_int64 r;
    int nCol = 0, rc, g, i;

    nOomCount = 0;
    nOomAt = 0;
    sqlite3_free(zPath);
    zPath = sqlite3_mprintf("%s/oom.parquet", zDir);
    rc = kalamSchemaParse(KALAM_KIND_SHARED, "t", N_TABLE_ARGS, azTableArgs,
                          &pSchema, &zErr);
    if( rc==SQLITE_OK ) rc = kalamParquetColumnsFromSchema(pSchema, &aCol, &nCol);
    if( rc ){
      fail("oom: schema: %d", rc);
      break;
    }
    nOomAt = k;
    rc = kalamParquetWriterOpen(zPath, aCol, nCol, &t.opt, &w, &zErr);
    for(r=0; r<t.nRow && rc==SQLITE_OK; r++){
      fileRow(&t, r, 8, aVal);
      rc = kalamParquetWriterAdd(w, aVal, &zErr);
    }
    if( rc==SQLITE_OK ) rc = kalamParquetWriterFinish(w, 0, &zErr);
    kalamParquetWriterFree(w);
    if( rc==SQLITE_OK ) rc = kalamParquetOpen(zPath, &pf, &zErr);
    for(g=0; rc==SQLITE_OK && g<kalamParquetGroupCount(pf); g++){
      for(i=0; rc==SQLITE_OK && i<nCol; i++){
        KalamParquetChunk *c = 0;
        rc = kalamParquetReadChunk(pf, g, i, &c, &zErr);
        for(r=0; rc==SQLITE_OK && r<kalamParquetChunkRows(c); r++){
          KalamValue v;
          rc = kalamParquetChunkValue(c, r, &v, &zErr);
          kalamValueClear(&v);
        }
        kalamParquetChunkFree(c);
      }
    }
    kalamParquetClose(pf);
    nOomAt = 0;
    sqlite3_free(zErr);
    sqlite3_free(aCol);
    kalamSchemaFree(pSchema);
    if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
      fail("oom: allocation %d failing gives error %d", k, rc);
    }
    if( rc==SQLITE_OK && nOomCount<k ){
      printf("oom: each of the %d allocations failed in turn\n", k - 1);
      break;
    }
  }
  sqlite3_free(zPath);
}

int main(int argc, char **argv){
  if( argc==3 && strcmp(argv[1], "oom")==0 ){
    sqlite3_mem_methods m;
    if( sqlite3_config(SQLITE_CONFIG_GETMALLOC, &oomDefault)!=SQLITE_OK ){
      fail("oom: cannot read SQLite's allocator");
      return 1;
    }
    m = oomDefault;
    m.xMalloc = oomMalloc;
    m.xRealloc = oomRealloc;
    if( sqlite3_config(SQLITE_CONFIG_MALLOC, &m)!=SQLITE_OK ){
      fail("oom: cannot set SQLite's allocator");
      return 1;
    }
    testOom(argv[2]);
    if( nFail==0 ) printf("PASSED\n");
    return nFail ? 1 : 0;
  }
  if( argc==3 && strcmp(argv[1], "write")==0 ){
    testWrite(argv[2]);
  }else if( argc==3 && strcmp(argv[1], "dump")==0 ){
    testDump(argv[2]);
    return nFail ? 1 : 0;      /* no PASSED line in the rows */
  }else if( argc==3 && strcmp(argv[1], "corrupt")==0 ){
    testCorrupt(argv[2]);
  }else if( argc==3 && strcmp(argv[1], "errors")==0 ){
    testErrors(argv[2]);
  }else if( argc==4 && strcmp(argv[1], "bench")==0 ){
    testBench(argv[2], atoll(argv[3]));
  }else{
    fprintf(stderr, "usage: %s write DIR | corrupt FILE | errors DIR | "
            "bench DIR N\n", argv[0]);
    return 2;
  }
  if( nFail==0 ) printf("PASSED\n");
  return nFail ? 1 : 0;
}
