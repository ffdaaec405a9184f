/*
** parquet_chunk.c — decoding one column chunk of a Parquet file kalam
** wrote: its data pages, definition levels and PLAIN values, into arrays
** a scan reads by row number.
**
** This is the column-wise read: a query that needs two columns of a row
** group reads and decompresses those two chunks and nothing else. A chunk
** is read with one pread of its byte range (checked against the footer at
** open, parquet_read.c), then each page is taken apart with every length
** checked against the bytes that hold it:
**
**   - the page header (Thrift) must lie inside the chunk, its compressed
**     size inside what follows the header, its value count inside the
**     rows the row group has left;
**   - a zstd page must say its decompressed size in its frame header, and
**     that size must be the page header's, before anything is allocated
**     for it, and must be what decompression gives;
**   - definition levels must cover the page's values, and the values must
**     fit in what is left of the page.
**
** Decoded, a chunk is: per row a NULL flag, and a 64-bit slot holding the
** integer, the double's bits, or for BYTE_ARRAY the offset of the bytes in
** the chunk's data buffer (with a length). ANY values are JSON text in the
** file and are turned back into SQL values when asked for, as the row
** codec (row.c) would read them.
*/
#include "parquet_int.h"
#include <zstd.h>
#include <stdarg.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

struct KalamParquetChunk {
  const KalamParquetFile *pFile;  /* for messages; must outlive the chunk */
  int iCol;
  int eType;                 /* KALAM_TYPE_* */
  int ePhys;                 /* PQ_* */
  sqlite3_int64 nRow;
  unsigned char *aNull;      /* per row, 1 if NULL; NULL when REQUIRED */
  sqlite3_int64 *aVal;       /* per row: see the header comment */
  int *aLen;                 /* BYTE_ARRAY: per row, the value's length */
  KalamBuf data;             /* BYTE_ARRAY: the decompressed pages */
};

/* The message of a chunk that cannot be read: "corrupt Parquet file
** NAME: column C of row group G: DETAIL", or for a well-formed page that
** kalam's writer would not make (bForeign) "Parquet file NAME is not as
** kalam writes it: ...". Returns SQLITE_CORRUPT either way. */
static int pqChunkMessage(const KalamParquetChunk *c, int iGroup,
                          char **pzErr, int bForeign, const char *zFmt,
                          va_list ap){
  char *zDetail = sqlite3_vmprintf(zFmt, ap);
  sqlite3_free(*pzErr);
  *pzErr = sqlite3_mprintf(bForeign
                 ? "Parquet file %s is not as kalam writes it: column %s of "
                   "row group %d: %s"
                 : "corrupt Parquet file %s: column %s of row group %d: %s",
                 c->pFile->zName, c->pFile->aCol[c->iCol].zName, iGroup,
                 zDetail ? zDetail : "out of memory");
  sqlite3_free(zDetail);
  return SQLITE_CORRUPT;
}
static int pqChunkCorrupt(const KalamParquetChunk *c, int iGroup,
                          char **pzErr, const char *zFmt, ...){
  va_list ap;
  int rc;
  va_start(ap, zFmt);
  rc = pqChunkMessage(c, iGroup, pzErr, 0, zFmt, ap);
  va_end(ap);
  return rc;
}
static int pqChunkForeign(const KalamParquetChunk *c, int iGroup,
                          char **pzErr, const char *zFmt, ...){
  va_list ap;
  int rc;
  va_start(ap, zFmt);
  rc = pqChunkMessage(c, iGroup, pzErr, 1, zFmt, ap);
  va_end(ap);
  return rc;
}

/* ------------------------------------------------------------- pages */

/* What a PageHeader says. */
typedef struct PqPage PqPage;
struct PqPage {
  int eType;                 /* PageType, -1 if absent */
  sqlite3_int64 nUncompressed, nCompressed;
  int bData;                 /* a data_page_header was there */
  sqlite3_int64 nValues;
  int eEncoding, eDefEncoding;
};

static void pqReadPageHeader(KalamThriftIn *in, PqPage *pPage){
  int iField, eType;
  memset(pPage, 0, sizeof(*pPage));
  pPage->eType = -1;
  pPage->nUncompressed = pPage->nCompressed = -1;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    switch( iField ){
      case 1: pPage->eType = (int)kalamThriftReadInt(in, eType); break;
      case 2: pPage->nUncompressed = kalamThriftReadInt(in, eType); break;
      case 3: pPage->nCompressed = kalamThriftReadInt(in, eType); break;
      case 5: {
        int iF, eT;
        if( !kalamThriftReadStruct(in, eType) ) break;
        pPage->bData = 1;
        pPage->nValues = -1;
        while( (eT = kalamThriftField(in, &iF))!=KALAM_THRIFT_STOP ){
          switch( iF ){
            case 1: pPage->nValues = kalamThriftReadInt(in, eT); break;
            case 2: pPage->eEncoding = (int)kalamThriftReadInt(in, eT); break;
            case 3: pPage->eDefEncoding = (int)kalamThriftReadInt(in, eT);
                    break;
            default: kalamThriftSkip(in, eT); break;
          }
        }
        break;
      }
      default: kalamThriftSkip(in, eType); break;
    }
  }
}

/* Decodes n definition levels (bit width 1, RLE/bit-packed hybrid) from
** a[0..nA) into c->aNull[iRow...]. Returns the number of values (level 1)
** or -1 if the levels are damaged. */
static sqlite3_int64 pqReadLevels(KalamParquetChunk *c, sqlite3_int64 iRow,
                                  sqlite3_int64 n, const unsigned char *a,
                                  sqlite3_int64 nA){
  sqlite3_int64 i = 0, iA = 0, nPresent = 0;
  while( i<n ){
    sqlite3_uint64 u = 0;
    int shift = 0;
    for(;;){
      if( iA>=nA || shift>56 ) return -1;
      u |= (sqlite3_uint64)(a[iA] & 0x7f) << shift;
      shift += 7;
      if( (a[iA++] & 0x80)==0 ) break;
    }
    if( u & 1 ){
      /* Bit-packed: u>>1 groups of 8 levels, one byte each at width 1. */
      sqlite3_uint64 nGroup = u>>1, k;
      if( nGroup > (sqlite3_uint64)(nA - iA) ) return -1;
      for(k=0; k<nGroup*8 && i<n; k++, i++){
        int bit = (a[iA + (sqlite3_int64)(k>>3)] >> (k & 7)) & 1;
        c->aNull[iRow + i] = (unsigned char)!bit;
        nPresent += bit;
      }
      iA += (sqlite3_int64)nGroup;
    }else{
      /* RLE: u>>1 repeats of the next byte's level. */
      sqlite3_uint64 nRun = u>>1, k;
      int v;
      if( iA>=nA || a[iA]>1 ) return -1;
      v = a[iA++];
      if( nRun > (sqlite3_uint64)(n - i) ) nRun = (sqlite3_uint64)(n - i);
      for(k=0; k<nRun; k++, i++) c->aNull[iRow + i] = (unsigned char)!v;
      if( v ) nPresent += (sqlite3_int64)nRun;
    }
  }
  return nPresent;
}

/* Decodes the body a[0..nA) of a page of n values starting at row iRow.
** For BYTE_ARRAY the body lies in c->data at offset iData. */
static int pqReadPageBody(KalamParquetChunk *c, int iGroup,
                          sqlite3_int64 iRow, sqlite3_int64 n,
                          const unsigned char *a, sqlite3_int64 nA,
                          sqlite3_int64 iData, char **pzErr){
  sqlite3_int64 nPresent = n, iA = 0, r;
  if( c->aNull ){
    sqlite3_int64 nLev;
    if( nA<4 ) return pqChunkCorrupt(c, iGroup, pzErr, "page too short");
    nLev = (sqlite3_int64)pqGet32(a);
    if( nLev>nA-4 ){
      return pqChunkCorrupt(c, iGroup, pzErr, "definition levels of %lld "
                            "bytes in a page of %lld", nLev, nA);
    }
    nPresent = pqReadLevels(c, iRow, n, a + 4, nLev);
    if( nPresent<0 ){
      return pqChunkCorrupt(c, iGroup, pzErr, "damaged definition levels");
    }
    iA = 4 + nLev;
  }
  switch( c->ePhys ){
    case PQ_INT64:
    case PQ_DOUBLE:
      if( nPresent > (nA - iA)/8 ) goto short_values;
      for(r=iRow; r<iRow+n; r++){
        if( c->aNull && c->aNull[r] ) continue;
        c->aVal[r] = (sqlite3_int64)pqGet64(a + iA);
        iA += 8;
      }
      break;
    case PQ_BOOLEAN: {
      sqlite3_int64 k = 0;
      if( (nPresent+7)/8 > nA - iA ) goto short_values;
      for(r=iRow; r<iRow+n; r++){
        if( c->aNull && c->aNull[r] ) continue;
        c->aVal[r] = (a[iA + (k>>3)] >> (k & 7)) & 1;
        k++;
      }
      break;
    }
    default:
      for(r=iRow; r<iRow+n; r++){
        sqlite3_int64 nVal;
        if( c->aNull && c->aNull[r] ) continue;
        if( nA - iA < 4 ) goto short_values;
        nVal = (sqlite3_int64)pqGet32(a + iA);
        iA += 4;
        if( nVal > nA - iA ) goto short_values;
        c->aVal[r] = iData + iA;
        c->aLen[r] = (int)nVal;
        iA += nVal;
      }
      break;
  }
  return SQLITE_OK;
short_values:
  return pqChunkCorrupt(c, iGroup, pzErr, "a page's values run past its end");
}

/* Makes room for n more bytes in pBuf. */
static int pqReserve(KalamBuf *pBuf, sqlite3_int64 n){
  sqlite3_int64 nNeed = pBuf->n + n + 1;
  if( nNeed > pBuf->nAlloc ){
    /* At least doubled, so that many pages cost few copies. */
    sqlite3_int64 nNew = nNeed < 2*pBuf->nAlloc ? 2*pBuf->nAlloc : nNeed;
    char *z = sqlite3_realloc64(pBuf->z, (sqlite3_uint64)nNew);
    if( z==0 ) return SQLITE_NOMEM;
    pBuf->z = z;
    pBuf->nAlloc = nNew;
  }
  return SQLITE_OK;
}

/* Decodes the pages of a[0..nA), the chunk's bytes. */
static int pqReadPages(KalamParquetChunk *c, int iGroup, int eCodec,
                       const unsigned char *a, sqlite3_int64 nA,
                       char **pzErr){
  sqlite3_int64 iA = 0, iRow = 0;
  KalamBuf scratch;
  ZSTD_DCtx *pZ = 0;
  int rc = SQLITE_OK;

  kalamBufInit(&scratch);
  while( iRow<c->nRow ){
    KalamThriftIn in;
    PqPage page;
    const unsigned char *aBody;
    KalamBuf *pOut = c->ePhys==PQ_BYTE_ARRAY ? &c->data : &scratch;
    sqlite3_int64 iData;

    if( iA>=nA ){
      rc = pqChunkCorrupt(c, iGroup, pzErr, "its pages end after %lld of "
                          "%lld values", iRow, c->nRow);
      goto done;
    }
    kalamThriftInInit(&in, a + iA, (size_t)(nA - iA));
    pqReadPageHeader(&in, &page);
    if( in.zErr ){
      rc = pqChunkCorrupt(c, iGroup, pzErr, "page header at byte %lld: %s",
                          iA, in.zErr);
      goto done;
    }
    iA += (sqlite3_int64)in.i;
    if( page.eType!=PQ_PAGE_DATA || !page.bData ){
      rc = pqChunkForeign(c, iGroup, pzErr, "a page of type %d (kalam reads "
                          "version 1 data pages)", page.eType);
      goto done;
    }
    if( page.nCompressed<0 || page.nCompressed>nA - iA
     || page.nUncompressed<0 || page.nUncompressed>KALAM_PARQUET_MAX_PAGE
     || page.nValues<0 || page.nValues>c->nRow - iRow ){
      rc = pqChunkCorrupt(c, iGroup, pzErr, "a page of %lld values and "
                          "%lld (%lld) bytes does not fit its chunk",
                          page.nValues, page.nCompressed, page.nUncompressed);
      goto done;
    }
    if( page.eEncoding!=PQ_ENCODING_PLAIN
     || (c->aNull && page.eDefEncoding!=PQ_ENCODING_RLE) ){
      rc = pqChunkForeign(c, iGroup, pzErr, "a page with encodings %d/%d "
                          "(kalam reads PLAIN values, RLE levels)",
                          page.eEncoding, page.eDefEncoding);
      goto done;
    }

    /* The decompressed size is checked against what the page holds (its
    ** own size, or what its zstd frame says) before room is made for it,
    ** so a lying header cannot make a large allocation. */
    if( eCodec==PQ_CODEC_UNCOMPRESSED ){
      if( page.nUncompressed!=page.nCompressed ){
        rc = pqChunkCorrupt(c, iGroup, pzErr, "an uncompressed page of %lld "
                            "bytes says %lld", page.nCompressed,
                            page.nUncompressed);
        goto done;
      }
    }else{
      unsigned long long nFrame;
      nFrame = ZSTD_getFrameContentSize(a + iA, (size_t)page.nCompressed);
      if( nFrame!=(unsigned long long)page.nUncompressed ){
        rc = pqChunkCorrupt(c, iGroup, pzErr, "a zstd page of %lld bytes "
                            "whose frame does not say so", page.nUncompressed);
        goto done;
      }
    }

    /* The body, decompressed, at the end of pOut. */
    if( pqReserve(pOut, page.nUncompressed) ){ rc = SQLITE_NOMEM; goto done; }
    iData = pOut->n;
    if( eCodec==PQ_CODEC_UNCOMPRESSED ){
      if( page.nCompressed ){
        memcpy(pOut->z + iData, a + iA, (size_t)page.nCompressed);
      }
    }else{
      size_t nGot;
      if( pZ==0 && (pZ = ZSTD_createDCtx())==0 ){
        rc = SQLITE_NOMEM;
        goto done;
      }
      nGot = ZSTD_decompressDCtx(pZ, pOut->z + iData,
                                 (size_t)page.nUncompressed, a + iA,
                                 (size_t)page.nCompressed);
      if( ZSTD_isError(nGot) || nGot!=(size_t)page.nUncompressed ){
        rc = pqChunkCorrupt(c, iGroup, pzErr, "a zstd page does not "
                            "decompress: %s", ZSTD_isError(nGot)
                            ? ZSTD_getErrorName(nGot) : "short");
        goto done;
      }
    }
    pOut->n += page.nUncompressed;
    aBody = (const unsigned char*)pOut->z + iData;
    rc = pqReadPageBody(c, iGroup, iRow, page.nValues, aBody,
                        page.nUncompressed, iData, pzErr);
    if( rc ) goto done;
    if( pOut==&scratch ) scratch.n = 0;   /* values are in aVal now */
    iRow += page.nValues;
    iA += page.nCompressed;
  }
  if( iA!=nA ){
    rc = pqChunkCorrupt(c, iGroup, pzErr, "%lld bytes after its last page",
                        nA - iA);
  }
done:
  (void)ZSTD_freeDCtx(pZ);  /* accepts NULL; fails only for a static one */
  kalamBufFree(&scratch);
  return rc;
}

/* --------------------------------------------------------------- API */

/* Decodes column iCol of row group iGroup. The chunk is freed with
** kalamParquetChunkFree, before the file is closed. */
int kalamParquetReadChunk(KalamParquetFile *p, int iGroup, int iCol,
                          KalamParquetChunk **pp, char **pzErr){
  const PqChunkInfo *pInfo;
  KalamParquetChunk *c;
  unsigned char *aRaw = 0;
  sqlite3_int64 nRow;
  int rc;

  assert( iGroup>=0 && iGroup<p->nGroup && iCol>=0 && iCol<p->nCol );
  *pp = 0;
  pInfo = &p->aGroup[iGroup].aChunk[iCol];
  nRow = p->aGroup[iGroup].nRows;
  c = sqlite3_malloc64(sizeof(*c));
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->pFile = p;
  c->iCol = iCol;
  c->eType = p->aCol[iCol].eType;
  c->ePhys = p->aPhys[iCol];
  c->nRow = nRow;
  /* nRow is at most KALAM_PARQUET_MAX_GROUP_ROWS (checked at open). */
  c->aVal = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)(nRow + 1));
  if( !p->aCol[iCol].bNotNull ) c->aNull = sqlite3_malloc64((size_t)nRow + 1);
  if( c->ePhys==PQ_BYTE_ARRAY ){
    c->aLen = sqlite3_malloc64(sizeof(int) * (size_t)(nRow + 1));
  }
  aRaw = sqlite3_malloc64((size_t)pInfo->nBytes);
  if( c->aVal==0 || aRaw==0 || (c->aNull==0 && !p->aCol[iCol].bNotNull)
   || (c->aLen==0 && c->ePhys==PQ_BYTE_ARRAY) ){
    rc = SQLITE_NOMEM;
    goto done;
  }
  rc = kalamParquetReadAt(p, pInfo->iOffset, pInfo->nBytes, aRaw, pzErr);
  if( rc ) goto done;
  rc = pqReadPages(c, iGroup, pInfo->eCodec, aRaw, pInfo->nBytes, pzErr);
done:
  sqlite3_free(aRaw);
  if( rc ){
    if( rc==SQLITE_NOMEM && *pzErr==0 ) *pzErr = sqlite3_mprintf("out of memory");
    kalamParquetChunkFree(c);
    return rc;
  }
  *pp = c;
  return SQLITE_OK;
}

sqlite3_int64 kalamParquetChunkRows(const KalamParquetChunk *c){
  return c->nRow;
}

/* The slots as decoded (see the header comment), for scans that read a
** number column row after row without a KalamValue for each. */
const sqlite3_int64 *kalamParquetChunkSlots(const KalamParquetChunk *c,
                                            const unsigned char **paNull){
  *paNull = c->aNull;
  return c->aVal;
}

void kalamParquetChunkFree(KalamParquetChunk *c){
  if( c==0 ) return;
  sqlite3_free(c->aNull);
  sqlite3_free(c->aVal);
  sqlite3_free(c->aLen);
  kalamBufFree(&c->data);
  sqlite3_free(c);
}

/* Row iRow's value, into pOut (kalamValueClear frees it). TEXT, JSON and
** BLOB values borrow from the chunk, valid until it is freed. */
int kalamParquetChunkValue(const KalamParquetChunk *c, sqlite3_int64 iRow,
                           KalamValue *pOut, char **pzErr){
  const char *z;
  int n, rc = SQLITE_OK;
  assert( iRow>=0 && iRow<c->nRow );
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  if( c->aNull && c->aNull[iRow] ) return SQLITE_OK;
  switch( c->eType ){
    case KALAM_TYPE_REAL:
      pOut->eType = SQLITE_FLOAT;
      memcpy(&pOut->r, &c->aVal[iRow], 8);
      return SQLITE_OK;
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP:
    case KALAM_TYPE_BOOLEAN:
      pOut->eType = SQLITE_INTEGER;
      pOut->i = c->aVal[iRow];
      return SQLITE_OK;
    default:
      break;
  }
  z = c->data.z + c->aVal[iRow];
  n = c->aLen[iRow];
  switch( c->eType ){
    case KALAM_TYPE_TEXT:
      pOut->eType = SQLITE_TEXT;
      pOut->z = z;
      pOut->n = n;
      break;
    case KALAM_TYPE_BLOB:
      pOut->eType = SQLITE_BLOB;
      pOut->z = z;
      pOut->n = n;
      break;
    case KALAM_TYPE_JSON:
      /* Handed on as JSON text, so it must be JSON. */
      if( !kalamJsonValid(z, n) ){
        rc = SQLITE_CORRUPT;
        break;
      }
      pOut->eType = SQLITE_TEXT;
      pOut->bJson = 1;
      pOut->z = z;
      pOut->n = n;
      break;
    default:
      rc = kalamRowAnyValue(z, n, pOut);
      break;
  }
  if( rc==SQLITE_CORRUPT ){
    memset(pOut, 0, sizeof(*pOut));
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("corrupt Parquet file %s: column %s holds "
                             "%.*s%s, not %s value", c->pFile->zName,
                             c->pFile->aCol[c->iCol].zName,
                             n>40 ? 40 : n, z, n>40 ? "..." : "",
                             c->eType==KALAM_TYPE_JSON ? "a JSON" : "an ANY");
  }else if( rc==SQLITE_NOMEM ){
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("out of memory");
  }
  return rc;
}
