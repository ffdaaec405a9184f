/*
** parquet_write.c — kalam's Parquet writer: rows in, one file out, readable
** by any Parquet reader (DuckDB, Spark, Trino, pyarrow) and by
** parquet_read.c. docs/cold.md describes the format for users.
**
** A file, as the Parquet specification lays it out:
**
**   "PAR1" <row group>... <footer: FileMetaData, Thrift compact>
**   <footer length: 4 bytes little-endian> "PAR1"
**
** Each row group holds one column chunk per column, one after the other;
** each chunk is a run of data pages (version 1), each a PageHeader and
** its body, compressed with zstd as a whole (one frame with its size and
** a checksum):
**
**   OPTIONAL column:  <4-byte length><definition levels><values>
**   REQUIRED column:  <values>
**
** Definition levels (1 = a value, 0 = NULL) use the RLE/bit-packed hybrid
** with bit width 1: one RLE run when the page is all values or all NULLs,
** else one bit-packed run. Values are PLAIN: INT64 and DOUBLE 8 bytes
** little-endian, BOOLEAN one bit each from the low bit up, BYTE_ARRAY a
** 4-byte length and the bytes. NULLs have no value.
**
** Rows are buffered column by column until the row group is full (rows or
** bytes, KalamParquetOptions), then the group is written and its metadata
** (offsets, sizes, statistics) kept, Thrift-encoded, for the footer. So
** the memory a writer holds is one row group's values plus the footer.
**
** Statistics per column chunk: null_count always; min_value and max_value
** in each type's Parquet order (signed for INT64 and DOUBLE, unsigned
** bytes for BYTE_ARRAY, false<true), which are SQLite's orders for those
** values; nan_count for DOUBLE. Not written: min/max of ANY columns (JSON
** text order is not SQL order), and of a chunk whose min or max is longer
** than KALAM_PARQUET_STAT_MAX bytes (the footer stays small).
**
** Durability: the file is written as "<name>.tmp", synced, renamed to its
** name, and the directory synced, so that after Finish the file is whole
** under its name or not there at all. Publishing it (the catalog) is the
** caller's business.
*/
#include "parquet_int.h"
#include <zstd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

SQLITE_EXTENSION_INIT3

/* Latches an error: the first one wins, and every later call returns it. */
static int pqFail(KalamParquetWriter *p, int rc, const char *zFmt, ...){
  if( p->rc==SQLITE_OK ){
    va_list ap;
    va_start(ap, zFmt);
    p->rc = rc;
    p->zErr = sqlite3_vmprintf(zFmt, ap);
    va_end(ap);
  }
  return p->rc;
}

/* Hands the latched error to the caller (a copy it frees). */
static int pqError(KalamParquetWriter *p, char **pzErr){
  if( pzErr && p->rc ){
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("%s", p->zErr ? p->zErr : "out of memory");
  }
  return p->rc;
}

static int pqIoError(KalamParquetWriter *p, const char *zWhat){
  return pqFail(p, SQLITE_IOERR, "cannot %s Parquet file %s: %s", zWhat,
                p->zTmp, strerror(errno));
}

/* Writes out the buffered bytes. */
static int pqFlushOut(KalamParquetWriter *p){
  sqlite3_int64 i = 0;
  if( p->out.oom ) return pqFail(p, SQLITE_NOMEM, "out of memory");
  while( i<p->out.n ){
    ssize_t n = write(p->fd, p->out.z + i, (size_t)(p->out.n - i));
    if( n<0 ){
      if( errno==EINTR ) continue;
      return pqIoError(p, "write");
    }
    i += n;
  }
  p->out.n = 0;
  return SQLITE_OK;
}

static void pqEmit(KalamParquetWriter *p, const void *a, sqlite3_int64 n){
  kalamBufAppend(&p->out, a, n);
  p->iOff += n;
}

/* ------------------------------------------------------------ staging */

/* Why value v cannot go into column pCol, or NULL if it can. */
static const char *pqMismatch(const KalamParquetColumn *pCol,
                              const KalamValue *v){
  switch( pCol->eType ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
      return v->eType==SQLITE_INTEGER ? 0 : "an integer";
    case KALAM_TYPE_BOOLEAN:
      return (v->eType==SQLITE_INTEGER && (v->i==0 || v->i==1)) ? 0
             : "0 or 1";
    case KALAM_TYPE_REAL:
      return v->eType==SQLITE_FLOAT ? 0 : "a REAL";
    case KALAM_TYPE_TEXT:
    case KALAM_TYPE_JSON:
      return v->eType==SQLITE_TEXT ? 0 : "TEXT";
    case KALAM_TYPE_BLOB:
      return v->eType==SQLITE_BLOB ? 0 : "a BLOB";
    default:
      return 0;
  }
}

/* Keeps the smaller (bMax 0) or larger byte string of *pBuf and a[0..n). */
static void pqStatBytes(KalamBuf *pBuf, int bFirst, const char *a,
                        sqlite3_int64 n, int bMax){
  int c;
  if( !bFirst ){
    sqlite3_int64 nMin = n<pBuf->n ? n : pBuf->n;
    c = nMin ? memcmp(a, pBuf->z, (size_t)nMin) : 0;
    if( c==0 ) c = (n>pBuf->n) - (n<pBuf->n);
    if( bMax ? c<=0 : c>=0 ) return;
  }
  pBuf->n = 0;
  kalamBufAppend(pBuf, a, n);
}

/* Adds a BYTE_ARRAY value to the column's buffer and statistics. */
static void pqStageBytes(PqColumn *pCol, const char *a, sqlite3_int64 n){
  unsigned char aLen[4];
  pqPut32(aLen, (sqlite3_uint64)n);
  kalamBufAppend(&pCol->vals, aLen, 4);
  kalamBufAppend(&pCol->vals, a, n);
  if( pCol->def.eType==KALAM_TYPE_ANY || pCol->bStatLong ) return;
  if( n>KALAM_PARQUET_STAT_MAX ){
    pCol->bStatLong = 1;
    return;
  }
  pqStatBytes(&pCol->minv, !pCol->bMinMax, a, n, 0);
  pqStatBytes(&pCol->maxv, !pCol->bMinMax, a, n, 1);
  pCol->bMinMax = 1;
}

/* Adds value v (of the right type, not NULL) to column pCol. */
static void pqStage(KalamParquetWriter *p, PqColumn *pCol,
                    const KalamValue *v){
  unsigned char a[8];
  sqlite3_int64 n0 = pCol->vals.n;
  switch( pCol->ePhys ){
    case PQ_INT64:
      pqPut64(a, (sqlite3_uint64)v->i);
      kalamBufAppend(&pCol->vals, a, 8);
      if( !pCol->bMinMax || v->i<pCol->iMin ) pCol->iMin = v->i;
      if( !pCol->bMinMax || v->i>pCol->iMax ) pCol->iMax = v->i;
      pCol->bMinMax = 1;
      break;
    case PQ_BOOLEAN:
      kalamBufAppendChar(&pCol->vals, (char)v->i);
      if( !pCol->bMinMax || v->i<pCol->iMin ) pCol->iMin = v->i;
      if( !pCol->bMinMax || v->i>pCol->iMax ) pCol->iMax = v->i;
      pCol->bMinMax = 1;
      break;
    case PQ_DOUBLE: {
      sqlite3_uint64 u;
      memcpy(&u, &v->r, 8);
      pqPut64(a, u);
      kalamBufAppend(&pCol->vals, a, 8);
      if( isnan(v->r) ){
        pCol->nNan++;   /* NaN is in no order: it never becomes min/max */
      }else{
        if( !pCol->bMinMax || v->r<pCol->rMin ) pCol->rMin = v->r;
        if( !pCol->bMinMax || v->r>pCol->rMax ) pCol->rMax = v->r;
        pCol->bMinMax = 1;
      }
      break;
    }
    default:
      if( pCol->def.eType==KALAM_TYPE_ANY ){
        /* The JSON text the row codec writes (row.c). */
        p->hdr.n = 0;
        kalamRowValueText(&p->hdr, KALAM_TYPE_ANY, v);
        pqStageBytes(pCol, p->hdr.z, p->hdr.n);
        if( p->hdr.oom ) pCol->vals.oom = 1;
      }else{
        pqStageBytes(pCol, v->z, v->n);
      }
      break;
  }
  p->nGroupBytes += pCol->vals.n - n0;
}

/* ------------------------------------------------------------ writing */

/* The RLE/bit-packed hybrid of definition levels d[0..n), into pOut. */
static void pqLevels(KalamBuf *pOut, const unsigned char *d, int n){
  int i, nSet = 0;
  unsigned char a[10];
  int k = 0;
  sqlite3_uint64 u;
  for(i=0; i<n; i++) nSet += d[i];
  pOut->n = 0;
  if( nSet==0 || nSet==n ){
    u = (sqlite3_uint64)n << 1;            /* one RLE run */
  }else{
    u = ((sqlite3_uint64)(n+7)/8 << 1) | 1; /* one bit-packed run */
  }
  while( u>=0x80 ){ a[k++] = (unsigned char)(0x80 | (u & 0x7f)); u >>= 7; }
  a[k++] = (unsigned char)u;
  kalamBufAppend(pOut, a, k);
  if( nSet==0 || nSet==n ){
    kalamBufAppendChar(pOut, (char)(nSet ? 1 : 0));
  }else{
    for(i=0; i<n; i+=8){
      int j;
      unsigned char c = 0;
      for(j=0; j<8 && i+j<n; j++) c |= (unsigned char)(d[i+j] << j);
      kalamBufAppendChar(pOut, (char)c);
    }
  }
}

/* The size of the staged value at offset iv of pCol->vals. */
static sqlite3_int64 pqValueSize(const PqColumn *pCol, sqlite3_int64 iv){
  switch( pCol->ePhys ){
    case PQ_BOOLEAN:    return 1;
    case PQ_BYTE_ARRAY:
      return 4 + (sqlite3_int64)pqGet32((const unsigned char*)pCol->vals.z+iv);
    default:            return 8;
  }
}

/* Writes one data page of rows [r0, r1) of column pCol, whose values
** start at offset *piv of its buffer. Adds the bytes written to
** *pnComp and *pnUncomp. */
static int pqWritePage(KalamParquetWriter *p, PqColumn *pCol,
                       sqlite3_int64 r0, sqlite3_int64 r1,
                       sqlite3_int64 *piv, sqlite3_int64 *pnComp,
                       sqlite3_int64 *pnUncomp){
  sqlite3_int64 iv0 = *piv, iv = *piv, r, nPresent = 0;
  const unsigned char *d = (const unsigned char*)pCol->defs.z;
  const char *aBody;
  sqlite3_int64 nBody;
  KalamThriftOut o;

  for(r=r0; r<r1; r++){
    if( pCol->def.bNotNull || d[r] ){
      iv += pqValueSize(pCol, iv);
      nPresent++;
    }
  }
  p->page.n = 0;
  if( !pCol->def.bNotNull ){
    unsigned char aLen[4];
    pqLevels(&p->lev, d + r0, (int)(r1 - r0));
    pqPut32(aLen, (sqlite3_uint64)p->lev.n);
    kalamBufAppend(&p->page, aLen, 4);
    kalamBufAppend(&p->page, p->lev.z, p->lev.n);
  }
  if( pCol->ePhys==PQ_BOOLEAN ){
    sqlite3_int64 i;
    for(i=0; i<nPresent; i+=8){
      int j;
      unsigned char c = 0;
      for(j=0; j<8 && i+j<nPresent; j++){
        c |= (unsigned char)((pCol->vals.z[iv0 + i + j] & 1) << j);
      }
      kalamBufAppendChar(&p->page, (char)c);
    }
  }else{
    kalamBufAppend(&p->page, pCol->vals.z + iv0, iv - iv0);
  }
  *piv = iv;
  if( p->page.oom || p->lev.oom ) return pqFail(p, SQLITE_NOMEM, "out of memory");
  if( p->page.n > INT32_MAX ){
    return pqFail(p, SQLITE_TOOBIG, "a page of column %s of Parquet file %s "
                  "is over 2 GiB", pCol->zName, p->zTmp);
  }

  aBody = p->page.z;
  nBody = p->page.n;
  if( p->pZ ){
    size_t nBound = ZSTD_compressBound((size_t)p->page.n), nOut;
    if( p->zbuf.nAlloc < (sqlite3_int64)nBound + 1 ){
      char *z = sqlite3_realloc64(p->zbuf.z, nBound + 1);
      if( z==0 ) return pqFail(p, SQLITE_NOMEM, "out of memory");
      p->zbuf.z = z;
      p->zbuf.nAlloc = (sqlite3_int64)nBound + 1;
    }
    nOut = ZSTD_compress2(p->pZ, p->zbuf.z, nBound, p->page.z,
                          (size_t)p->page.n);
    if( ZSTD_isError(nOut) ){
      return pqFail(p, SQLITE_ERROR, "cannot compress a page of Parquet file "
                    "%s: %s", p->zTmp, ZSTD_getErrorName(nOut));
    }
    aBody = p->zbuf.z;
    nBody = (sqlite3_int64)nOut;
  }

  /* PageHeader{type, uncompressed size, compressed size,
  ** data_page_header{num_values, encoding, def. and rep. level encoding}} */
  p->hdr.n = 0;
  kalamThriftOutInit(&o, &p->hdr);
  kalamThriftI32(&o, 1, PQ_PAGE_DATA);
  kalamThriftI32(&o, 2, p->page.n);
  kalamThriftI32(&o, 3, nBody);
  kalamThriftStructBegin(&o, 5);
  kalamThriftI32(&o, 1, r1 - r0);
  kalamThriftI32(&o, 2, PQ_ENCODING_PLAIN);
  kalamThriftI32(&o, 3, PQ_ENCODING_RLE);
  kalamThriftI32(&o, 4, PQ_ENCODING_RLE);
  kalamThriftStructEnd(&o);
  kalamThriftStructEnd(&o);
  if( p->hdr.oom ) return pqFail(p, SQLITE_NOMEM, "out of memory");
  pqEmit(p, p->hdr.z, p->hdr.n);
  pqEmit(p, aBody, nBody);
  *pnComp += p->hdr.n + nBody;
  *pnUncomp += p->hdr.n + p->page.n;
  if( p->out.n >= (1<<20) ) return pqFlushOut(p);
  return p->out.oom ? pqFail(p, SQLITE_NOMEM, "out of memory") : SQLITE_OK;
}

/* Writes column pCol's chunk of the buffered group and its ColumnChunk
** element to the footer's RowGroup list (o). Adds its sizes to *pnComp
** and *pnUncomp. */
static int pqWriteChunk(KalamParquetWriter *p, PqColumn *pCol,
                        KalamThriftOut *o, sqlite3_int64 *pnComp,
                        sqlite3_int64 *pnUncomp){
  sqlite3_int64 iStart = p->iOff, nComp = 0, nUncomp = 0, r0 = 0, iv = 0;
  int rc = SQLITE_OK;
  const unsigned char *d = (const unsigned char*)pCol->defs.z;

  while( r0<p->nGroupRows && rc==SQLITE_OK ){
    /* A page ends at nPageRows rows or once nPageBytes of values are in,
    ** whichever comes first; it has at least one row. */
    sqlite3_int64 r1 = r0, nBytes = 0, ivScan = iv;
    while( r1<p->nGroupRows && r1-r0<p->opt.nPageRows
        && (r1==r0 || nBytes<p->opt.nPageBytes) ){
      if( pCol->def.bNotNull || d[r1] ){
        sqlite3_int64 n = pqValueSize(pCol, ivScan);
        ivScan += n;
        nBytes += n;
      }
      r1++;
    }
    rc = pqWritePage(p, pCol, r0, r1, &iv, &nComp, &nUncomp);
    r0 = r1;
  }
  if( rc ) return rc;

  kalamParquetEncodeChunk(o, pCol, iStart, p->nGroupRows, nUncomp, nComp,
                          p->pZ!=0);
  *pnComp += nComp;
  *pnUncomp += nUncomp;
  return SQLITE_OK;
}

/* Writes the buffered rows as a row group, and starts the next. */
static int pqWriteGroup(KalamParquetWriter *p){
  sqlite3_int64 iStart = p->iOff, nComp = 0, nUncomp = 0;
  KalamThriftOut o;
  int i, rc = SQLITE_OK;

  if( p->nGroupRows==0 ) return SQLITE_OK;
  kalamThriftOutInit(&o, &p->groups);     /* a RowGroup */
  kalamThriftListBegin(&o, 1, KALAM_THRIFT_STRUCT, p->nCol);
  for(i=0; i<p->nCol && rc==SQLITE_OK; i++){
    rc = pqWriteChunk(p, &p->aCol[i], &o, &nComp, &nUncomp);
  }
  if( rc ) return rc;
  kalamThriftI64(&o, 2, nUncomp);         /* total_byte_size */
  kalamThriftI64(&o, 3, p->nGroupRows);
  kalamThriftI64(&o, 5, iStart);          /* file_offset */
  kalamThriftI64(&o, 6, nComp);           /* total_compressed_size */
  kalamThriftI16(&o, 7, p->nGroup);       /* ordinal */
  kalamThriftStructEnd(&o);
  if( p->groups.oom ) return pqFail(p, SQLITE_NOMEM, "out of memory");

  p->nRows += p->nGroupRows;
  p->nGroup++;
  p->nGroupRows = 0;
  p->nGroupBytes = 0;
  for(i=0; i<p->nCol; i++){
    PqColumn *pCol = &p->aCol[i];
    pCol->vals.n = 0;
    pCol->defs.n = 0;
    pCol->nNull = pCol->nNan = 0;
    pCol->bMinMax = pCol->bStatLong = 0;
  }
  return SQLITE_OK;
}

/* --------------------------------------------------------------- API */

int kalamParquetWriterOpen(const char *zPath, const KalamParquetColumn *aCol,
                           int nCol, const KalamParquetOptions *pOpt,
                           KalamParquetWriter **pp, char **pzErr){
  KalamParquetWriter *p;
  int i, rc;

  *pp = 0;
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->fd = -1;
  if( pOpt ) p->opt = *pOpt;
  if( p->opt.nGroupRows<=0 || p->opt.nGroupRows>KALAM_PARQUET_MAX_GROUP_ROWS ){
    p->opt.nGroupRows = KALAM_PARQUET_GROUP_ROWS;
  }
  if( p->opt.nGroupBytes<=0 ) p->opt.nGroupBytes = KALAM_PARQUET_GROUP_BYTES;
  if( p->opt.nPageRows<=0 ) p->opt.nPageRows = KALAM_PARQUET_PAGE_ROWS;
  if( p->opt.nPageBytes<=0 ) p->opt.nPageBytes = KALAM_PARQUET_PAGE_BYTES;
  if( p->opt.iZstdLevel==0 ) p->opt.iZstdLevel = ZSTD_CLEVEL_DEFAULT;
  p->zPath = sqlite3_mprintf("%s", zPath);
  p->zTmp = sqlite3_mprintf("%s.tmp", zPath);
  p->aCol = sqlite3_malloc64(sizeof(PqColumn) * (nCol>0 ? nCol : 1));
  if( p->zPath==0 || p->zTmp==0 || p->aCol==0 ){
    rc = pqFail(p, SQLITE_NOMEM, "out of memory");
    goto done;
  }
  memset(p->aCol, 0, sizeof(PqColumn) * (nCol>0 ? nCol : 1));
  p->nCol = nCol;
  if( nCol<1 || nCol>32767 ){
    rc = pqFail(p, SQLITE_MISUSE, "Parquet file %s: %d columns", zPath, nCol);
    goto done;
  }
  for(i=0; i<nCol; i++){
    PqColumn *pCol = &p->aCol[i];
    pCol->def = aCol[i];
    pCol->zName = sqlite3_mprintf("%s", aCol[i].zName);
    if( pCol->zName==0 ){
      rc = pqFail(p, SQLITE_NOMEM, "out of memory");
      goto done;
    }
    pCol->def.zName = pCol->zName;
    pCol->ePhys = pqPhysicalType(aCol[i].eType);
  }
  if( !p->opt.bUncompressed ){
    size_t zrc;
    p->pZ = ZSTD_createCCtx();
    if( p->pZ==0 ){
      rc = pqFail(p, SQLITE_NOMEM, "out of memory");
      goto done;
    }
    /* A checksum in every frame: a damaged page fails to decompress
    ** rather than read as other values (Parquet itself has none). The
    ** frame also records its decompressed size, which the reader checks
    ** before it allocates. */
    zrc = ZSTD_CCtx_setParameter(p->pZ, ZSTD_c_compressionLevel,
                                 p->opt.iZstdLevel);
    if( !ZSTD_isError(zrc) ){
      zrc = ZSTD_CCtx_setParameter(p->pZ, ZSTD_c_checksumFlag, 1);
    }
    if( !ZSTD_isError(zrc) ){
      zrc = ZSTD_CCtx_setParameter(p->pZ, ZSTD_c_contentSizeFlag, 1);
    }
    if( ZSTD_isError(zrc) ){
      rc = pqFail(p, SQLITE_MISUSE, "zstd refuses level %d for Parquet file "
                  "%s: %s", p->opt.iZstdLevel, zPath, ZSTD_getErrorName(zrc));
      goto done;
    }
  }
  p->fd = open(p->zTmp, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644);
  if( p->fd<0 ){
    rc = pqFail(p, SQLITE_CANTOPEN, "cannot create Parquet file %s: %s",
                p->zTmp, strerror(errno));
    goto done;
  }
  p->bCreated = 1;
  pqEmit(p, PQ_MAGIC, 4);
  rc = SQLITE_OK;
done:
  if( rc ){
    pqError(p, pzErr);
    kalamParquetWriterFree(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

/* Adds a key/value pair to the file's metadata (written by Finish). */
int kalamParquetWriterMeta(KalamParquetWriter *p, const char *zKey,
                           const char *zValue){
  if( p->rc ) return p->rc;
  kalamBufAppend(&p->meta, zKey, (sqlite3_int64)strlen(zKey) + 1);
  kalamBufAppend(&p->meta, zValue, (sqlite3_int64)strlen(zValue) + 1);
  if( p->meta.oom ) return pqFail(p, SQLITE_NOMEM, "out of memory");
  p->nMeta++;
  return SQLITE_OK;
}

int kalamParquetWriterAdd(KalamParquetWriter *p, const KalamValue *aVal,
                          char **pzErr){
  int i;
  if( p->bFinished ){
    pqFail(p, SQLITE_MISUSE, "Parquet file %s is finished: no row can be "
           "added", p->zPath);
  }
  if( p->rc ) return pqError(p, pzErr);
  /* Every value is checked before any is buffered: a refused row leaves
  ** the group as it was. */
  for(i=0; i<p->nCol; i++){
    const PqColumn *pCol = &p->aCol[i];
    const char *zWant;
    int bNull = aVal[i].eType==SQLITE_NULL
             || (aVal[i].eType==SQLITE_FLOAT && isnan(aVal[i].r)
                 && pCol->def.eType==KALAM_TYPE_ANY);
    if( bNull ){
      if( pCol->def.bNotNull ){
        pqFail(p, SQLITE_CONSTRAINT, "NULL in column %s of Parquet file %s, "
               "which is REQUIRED", pCol->zName, p->zPath);
        return pqError(p, pzErr);
      }
    }else if( (zWant = pqMismatch(&pCol->def, &aVal[i]))!=0 ){
      pqFail(p, SQLITE_MISMATCH, "column %s of Parquet file %s is %s: "
             "it takes %s, not this value", pCol->zName, p->zPath,
             kalamTypeName(pCol->def.eType), zWant);
      return pqError(p, pzErr);
    }
  }
  for(i=0; i<p->nCol; i++){
    PqColumn *pCol = &p->aCol[i];
    /* An ANY NaN is written as NULL, as the row codec writes it. */
    int bNull = aVal[i].eType==SQLITE_NULL
             || (aVal[i].eType==SQLITE_FLOAT && isnan(aVal[i].r)
                 && pCol->def.eType==KALAM_TYPE_ANY);
    if( !pCol->def.bNotNull ) kalamBufAppendChar(&pCol->defs, bNull ? 0 : 1);
    if( bNull ){
      pCol->nNull++;
    }else{
      pqStage(p, pCol, &aVal[i]);
    }
    if( pCol->vals.oom || pCol->defs.oom || pCol->minv.oom || pCol->maxv.oom ){
      pqFail(p, SQLITE_NOMEM, "out of memory");
      return pqError(p, pzErr);
    }
  }
  p->nGroupRows++;
  if( p->nGroupRows>=p->opt.nGroupRows || p->nGroupBytes>=p->opt.nGroupBytes ){
    if( pqWriteGroup(p) ) return pqError(p, pzErr);
  }
  return SQLITE_OK;
}

/* Syncs the directory of zPath, so that a rename in it is durable. */
static int pqSyncDir(KalamParquetWriter *p){
  const char *zSlash = strrchr(p->zPath, '/');
  char *zDir;
  int fd, rc = SQLITE_OK;
  if( zSlash==0 ) zDir = sqlite3_mprintf(".");
  else if( zSlash==p->zPath ) zDir = sqlite3_mprintf("/");
  else zDir = sqlite3_mprintf("%.*s", (int)(zSlash - p->zPath), p->zPath);
  if( zDir==0 ) return pqFail(p, SQLITE_NOMEM, "out of memory");
  fd = open(zDir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
  if( fd<0 || fsync(fd)!=0 ){
    rc = pqFail(p, SQLITE_IOERR, "cannot sync directory %s of Parquet file "
                "%s: %s", zDir, p->zPath, strerror(errno));
  }
  if( fd>=0 && close(fd)!=0 && rc==SQLITE_OK ){
    rc = pqFail(p, SQLITE_IOERR, "cannot close directory %s: %s", zDir,
                strerror(errno));
  }
  sqlite3_free(zDir);
  return rc;
}

int kalamParquetWriterFinish(KalamParquetWriter *p, sqlite3_int64 *pnBytes,
                             char **pzErr){
  KalamBuf f;
  unsigned char aLen[4];
  int rc;

  if( p->bFinished ){
    pqFail(p, SQLITE_MISUSE, "Parquet file %s is already finished", p->zPath);
  }
  if( p->rc ) return pqError(p, pzErr);
  kalamBufInit(&f);
  rc = pqWriteGroup(p);
  if( rc ) goto done;
  kalamParquetEncodeFooter(p, &f);
  if( f.oom ){
    rc = pqFail(p, SQLITE_NOMEM, "out of memory");
    goto done;
  }
  if( f.n > INT32_MAX ){
    rc = pqFail(p, SQLITE_TOOBIG, "the footer of Parquet file %s is over "
                "2 GiB", p->zTmp);
    goto done;
  }
  pqEmit(p, f.z, f.n);
  pqPut32(aLen, (sqlite3_uint64)f.n);
  pqEmit(p, aLen, 4);
  pqEmit(p, PQ_MAGIC, 4);
  rc = pqFlushOut(p);
  if( rc ) goto done;
  if( fsync(p->fd)!=0 ){
    rc = pqIoError(p, "sync");
    goto done;
  }
  rc = close(p->fd);
  p->fd = -1;
  if( rc!=0 ){
    rc = pqIoError(p, "close");
    goto done;
  }
  if( rename(p->zTmp, p->zPath)!=0 ){
    rc = pqFail(p, SQLITE_IOERR, "cannot rename Parquet file %s to %s: %s",
                p->zTmp, p->zPath, strerror(errno));
    goto done;
  }
  rc = pqSyncDir(p);
  if( rc ){
    /* Not durable under its name: the caller sees no file at all. */
    (void)unlink(p->zPath);
    p->bCreated = 0;
    goto done;
  }
  p->bFinished = 1;
  if( pnBytes ) *pnBytes = p->iOff;
done:
  kalamBufFree(&f);
  return rc ? pqError(p, pzErr) : SQLITE_OK;
}

void kalamParquetWriterFree(KalamParquetWriter *p){
  int i;
  if( p==0 ) return;
  if( p->fd>=0 ){
    /* Only an unfinished file is open here, and it is being discarded:
    ** a failed close loses nothing. */
    (void)close(p->fd);
  }
  if( p->bCreated && !p->bFinished ){
    /* Nothing to do if it is already gone. */
    (void)unlink(p->zTmp);
  }
  for(i=0; i<p->nCol && p->aCol; i++){
    PqColumn *pCol = &p->aCol[i];
    sqlite3_free(pCol->zName);
    kalamBufFree(&pCol->vals);
    kalamBufFree(&pCol->defs);
    kalamBufFree(&pCol->minv);
    kalamBufFree(&pCol->maxv);
  }
  sqlite3_free(p->aCol);
  kalamBufFree(&p->out);
  kalamBufFree(&p->groups);
  kalamBufFree(&p->meta);
  kalamBufFree(&p->page);
  kalamBufFree(&p->lev);
  kalamBufFree(&p->hdr);
  kalamBufFree(&p->zbuf);
  /* Accepts NULL; its only error is a context still in use by a worker
  ** pool, which kalam does not make. */
  (void)ZSTD_freeCCtx(p->pZ);
  sqlite3_free(p->zErr);
  sqlite3_free(p->zPath);
  sqlite3_free(p->zTmp);
  sqlite3_free(p);
}
