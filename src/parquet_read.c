/*
** parquet_read.c — opening a Parquet file kalam wrote: its footer read
** and checked whole against the file's size, its columns, row groups and
** their statistics. parquet_chunk.c decodes the column chunks.
**
** The reader trusts nothing in the file. At open it checks the magic
** bytes, that the footer length fits the file, every Thrift read against
** the end of the footer, and every column chunk's byte range against the
** region between the leading magic and the footer; so a later read of a
** chunk never goes past the file, and a corrupt or truncated file gives
** SQLITE_CORRUPT with a message naming the file and what is wrong.
**
** It reads what parquet_write.c writes and no more: a flat schema of
** BOOLEAN, INT64, DOUBLE and BYTE_ARRAY columns (with the annotations of
** docs/cold.md), data pages with PLAIN values and RLE levels, zstd or no
** compression. Anything else (a nested schema, INT32, dictionary pages, a
** codec other than zstd) is refused with a message that names it, so a
** foreign file in a table's folder is reported rather than misread.
*/
#include "parquet_int.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

SQLITE_EXTENSION_INIT3

/* The largest footer kalam reads: far above what its writer makes (a few
** hundred bytes per row group), low enough to bound the allocation. */
#define PQ_MAX_FOOTER (256<<20)

/* Sets *pzErr to zOuter (a format with two %s: the file's name, then the
** detail zFmt makes) and returns SQLITE_CORRUPT. */
static int pqReport(const KalamParquetFile *p, char **pzErr,
                    const char *zOuter, const char *zFmt, va_list ap){
  char *zDetail = sqlite3_vmprintf(zFmt, ap);
  sqlite3_free(*pzErr);
  *pzErr = sqlite3_mprintf(zOuter, p->zName,
                           zDetail ? zDetail : "out of memory");
  sqlite3_free(zDetail);
  return SQLITE_CORRUPT;
}

/* A message for a file that is not what kalam wrote: "corrupt Parquet
** file NAME: DETAIL". Returns SQLITE_CORRUPT. */
static int pqCorrupt(const KalamParquetFile *p, char **pzErr,
                     const char *zFmt, ...){
  va_list ap;
  int rc;
  va_start(ap, zFmt);
  rc = pqReport(p, pzErr, "corrupt Parquet file %s: %s", zFmt, ap);
  va_end(ap);
  return rc;
}

/* A message for a well-formed file that uses what kalam's writer does not
** (a foreign file in a table's folder): "Parquet file NAME is not as kalam
** writes it: DETAIL". Also SQLITE_CORRUPT: kalam cannot read the rows. */
static int pqForeign(const KalamParquetFile *p, char **pzErr,
                     const char *zFmt, ...){
  va_list ap;
  int rc;
  va_start(ap, zFmt);
  rc = pqReport(p, pzErr, "Parquet file %s is not as kalam writes it: %s",
                zFmt, ap);
  va_end(ap);
  return rc;
}

/* Names of the Parquet enums kalam's messages mention. */
static const char *pqPhysicalName(int e){
  static const char *const az[] = {
    "BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
    "FIXED_LEN_BYTE_ARRAY"
  };
  return (e>=0 && e<8) ? az[e] : "an unknown type";
}
static const char *pqLogicalName(int e){
  static const char *const az[] = {
    "none", "STRING", "MAP", "LIST", "ENUM", "DECIMAL", "DATE", "TIME",
    "TIMESTAMP", "INTERVAL", "INTEGER", "UNKNOWN", "JSON", "BSON", "UUID",
    "FLOAT16", "VARIANT", "GEOMETRY", "GEOGRAPHY"
  };
  return (e>=0 && e<19) ? az[e] : "an unknown one";
}
static const char *pqCodecName(int e){
  static const char *const az[] = {
    "UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"
  };
  return (e>=0 && e<8) ? az[e] : "an unknown codec";
}

/* Reads n bytes at iOff of the file into aOut. The caller has checked the
** range against what the footer allows; this checks it against the file
** once more, so that no read can go past the end whatever the caller did. */
int kalamParquetReadAt(KalamParquetFile *p, sqlite3_int64 iOff,
                       sqlite3_int64 n, unsigned char *aOut, char **pzErr){
  sqlite3_int64 i = 0;
  if( iOff<0 || n<0 || iOff>p->nSize || n>p->nSize - iOff ){
    return pqCorrupt(p, pzErr, "%lld bytes at offset %lld run past the end "
                     "of the file (%lld bytes)", n, iOff, p->nSize);
  }
  if( p->aMem ){
    if( n ) memcpy(aOut, p->aMem + iOff, (size_t)n);
    return SQLITE_OK;
  }
  while( i<n ){
    ssize_t k = pread(p->fd, aOut + i, (size_t)(n - i), (off_t)(iOff + i));
    if( k<0 ){
      if( errno==EINTR ) continue;
      sqlite3_free(*pzErr);
      *pzErr = sqlite3_mprintf("cannot read Parquet file %s: %s", p->zName,
                               strerror(errno));
      return SQLITE_IOERR;
    }
    if( k==0 ){
      return pqCorrupt(p, pzErr, "the file ends at %lld bytes, shorter than "
                       "when it was opened", iOff + i);
    }
    i += k;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ schema */

/* One SchemaElement, as read. */
typedef struct PqElement PqElement;
struct PqElement {
  int bType;               /* type was given */
  int eType;
  int eRep;                /* repetition_type, -1 if absent */
  const unsigned char *aName;
  sqlite3_int64 nName;
  sqlite3_int64 nChildren; /* -1 if absent */
  int eConverted;          /* -1 if absent */
  int bFieldId;
  sqlite3_int64 iFieldId;
  int eLogical;            /* field of the LogicalType union, 0 if absent */
  int eUnit;               /* TIMESTAMP: field of its TimeUnit, 0 if none */
  int nIntBits;            /* INTEGER: its bitWidth and isSigned */
  int bIntSigned;
};

/* The IntType struct{bitWidth, isSigned}: another writer's annotation of a
** plain INT64 as INTEGER(64, signed), which kalam reads as INTEGER. */
static void pqReadIntType(KalamThriftIn *in, PqElement *pEl){
  int iField, eType;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    if( iField==1 ) pEl->nIntBits = (int)kalamThriftReadInt(in, eType);
    else if( iField==2 ) pEl->bIntSigned = kalamThriftReadBool(in, eType);
    else kalamThriftSkip(in, eType);
  }
}

/* The TimestampType struct: only its unit matters to kalam. */
static void pqReadTimestampType(KalamThriftIn *in, PqElement *pEl){
  int iField, eType;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    if( iField==2 && kalamThriftReadStruct(in, eType) ){
      while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
        pEl->eUnit = iField;
        kalamThriftSkip(in, eType);
      }
    }else{
      kalamThriftSkip(in, eType);
    }
  }
}

static void pqReadElement(KalamThriftIn *in, PqElement *pEl){
  int iField, eType;
  memset(pEl, 0, sizeof(*pEl));
  pEl->eRep = -1;
  pEl->nChildren = -1;
  pEl->eConverted = -1;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    switch( iField ){
      case 1:
        pEl->bType = 1;
        pEl->eType = (int)kalamThriftReadInt(in, eType);
        break;
      case 3: pEl->eRep = (int)kalamThriftReadInt(in, eType); break;
      case 4:
        kalamThriftReadBinary(in, eType, &pEl->aName, &pEl->nName);
        break;
      case 5: pEl->nChildren = kalamThriftReadInt(in, eType); break;
      case 6: pEl->eConverted = (int)kalamThriftReadInt(in, eType); break;
      case 9:
        pEl->bFieldId = 1;
        pEl->iFieldId = kalamThriftReadInt(in, eType);
        break;
      case 10: {
        /* A union: one field, the annotation, whose struct is empty but
        ** for TIMESTAMP's. */
        int iKind, eKind;
        if( !kalamThriftReadStruct(in, eType) ) break;
        while( (eKind = kalamThriftField(in, &iKind))!=KALAM_THRIFT_STOP ){
          pEl->eLogical = iKind;
          if( iKind==PQ_LOGICAL_TIMESTAMP
           && kalamThriftReadStruct(in, eKind) ){
            pqReadTimestampType(in, pEl);
          }else if( iKind==PQ_LOGICAL_INTEGER
                 && kalamThriftReadStruct(in, eKind) ){
            pqReadIntType(in, pEl);
          }else{
            kalamThriftSkip(in, eKind);
          }
        }
        break;
      }
      default: kalamThriftSkip(in, eType); break;
    }
  }
}

/* The kalam type of leaf element pEl, or -1 if kalam does not read it. */
static int pqKalamType(const PqElement *pEl){
  switch( pEl->eType ){
    case PQ_BOOLEAN:
      return pEl->eLogical==0 ? KALAM_TYPE_BOOLEAN : -1;
    case PQ_DOUBLE:
      return pEl->eLogical==0 ? KALAM_TYPE_REAL : -1;
    case PQ_INT64:
      if( pEl->eLogical==PQ_LOGICAL_TIMESTAMP ){
        return pEl->eUnit==PQ_UNIT_MILLIS ? KALAM_TYPE_TIMESTAMP : -1;
      }
      if( pEl->eLogical==0 && pEl->eConverted==PQ_CONVERTED_TIMESTAMP_MILLIS ){
        return KALAM_TYPE_TIMESTAMP;
      }
      if( pEl->eLogical==PQ_LOGICAL_INTEGER ){
        return (pEl->nIntBits==64 && pEl->bIntSigned) ? KALAM_TYPE_INTEGER : -1;
      }
      if( pEl->eLogical==0 && pEl->eConverted==PQ_CONVERTED_INT_64 ){
        return KALAM_TYPE_INTEGER;
      }
      return (pEl->eLogical==0 && pEl->eConverted<0) ? KALAM_TYPE_INTEGER : -1;
    case PQ_BYTE_ARRAY:
      if( pEl->eLogical==PQ_LOGICAL_STRING ) return KALAM_TYPE_TEXT;
      if( pEl->eLogical==PQ_LOGICAL_JSON ) return KALAM_TYPE_JSON;
      if( pEl->eLogical ) return -1;
      if( pEl->eConverted==PQ_CONVERTED_UTF8 ) return KALAM_TYPE_TEXT;
      if( pEl->eConverted==PQ_CONVERTED_JSON ) return KALAM_TYPE_JSON;
      return pEl->eConverted<0 ? KALAM_TYPE_BLOB : -1;
    default:
      return -1;
  }
}

/* Turns the schema elements into the file's columns. */
static int pqSchema(KalamParquetFile *p, const PqElement *aEl, int nEl,
                    char **pzErr){
  int i;
  if( nEl<2 ) return pqCorrupt(p, pzErr, "the schema has no column");
  if( aEl[0].bType || aEl[0].nChildren!=nEl-1 ){
    return pqForeign(p, pzErr, "its schema is not a flat list of %d columns",
                     nEl-1);
  }
  p->aCol = sqlite3_malloc64(sizeof(KalamParquetColumn) * (size_t)(nEl-1));
  p->aPhys = sqlite3_malloc64(sizeof(int) * (size_t)(nEl-1));
  if( p->aCol==0 || p->aPhys==0 ) return SQLITE_NOMEM;
  memset(p->aCol, 0, sizeof(KalamParquetColumn) * (size_t)(nEl-1));
  for(i=1; i<nEl; i++){
    const PqElement *pEl = &aEl[i];
    KalamParquetColumn *pCol = &p->aCol[i-1];
    char *zName;
    if( pEl->aName==0 || pEl->nName==0
     || memchr(pEl->aName, 0, (size_t)pEl->nName) ){
      return pqCorrupt(p, pzErr, "column %d has no name", i-1);
    }
    zName = sqlite3_mprintf("%.*s", (int)pEl->nName, pEl->aName);
    if( zName==0 ) return SQLITE_NOMEM;
    pCol->zName = zName;
    p->nCol = i;
    if( !pEl->bType || (pEl->nChildren>0) ){
      return pqForeign(p, pzErr, "column %s is a group (a nested schema)",
                       zName);
    }
    if( pEl->eRep!=PQ_REQUIRED && pEl->eRep!=PQ_OPTIONAL ){
      return pqForeign(p, pzErr, "column %s is neither REQUIRED nor OPTIONAL",
                       zName);
    }
    pCol->eType = pqKalamType(pEl);
    if( pCol->eType<0 ){
      return pqForeign(p, pzErr, "column %s is %s with logical type %s and "
                       "converted type %d", zName, pqPhysicalName(pEl->eType),
                       pqLogicalName(pEl->eLogical), pEl->eConverted);
    }
    if( !pEl->bFieldId || pEl->iFieldId<INT32_MIN || pEl->iFieldId>INT32_MAX ){
      return pqForeign(p, pzErr, "column %s has no field_id", zName);
    }
    pCol->iFieldId = (int)pEl->iFieldId;
    pCol->bNotNull = pEl->eRep==PQ_REQUIRED;
    p->aPhys[i-1] = pEl->eType;
  }
  return SQLITE_OK;
}

/* Applies the kalam.column_types metadata: it names ANY where the schema
** says JSON, and must agree with the schema everywhere else. */
static int pqColumnTypes(KalamParquetFile *p, char **pzErr){
  const char *z = kalamParquetMetaValue(p, PQ_META_TYPES);
  int i;
  if( z==0 ) return SQLITE_OK;     /* another writer's file: the schema's */
  for(i=0; i<p->nCol; i++){
    const char *zEnd = strchr(z, ',');
    int n = zEnd ? (int)(zEnd - z) : (int)strlen(z), e;
    for(e=0; e<8; e++){
      const char *zType = kalamTypeName(e);
      if( (int)strlen(zType)==n && memcmp(zType, z, (size_t)n)==0 ) break;
    }
    if( e==KALAM_TYPE_ANY && p->aCol[i].eType==KALAM_TYPE_JSON ){
      p->aCol[i].eType = KALAM_TYPE_ANY;
    }else if( e!=p->aCol[i].eType ){
      return pqCorrupt(p, pzErr, "%s says column %s is %.*s, the schema "
                       "says %s", PQ_META_TYPES, p->aCol[i].zName, n, z,
                       kalamTypeName(p->aCol[i].eType));
    }
    if( (zEnd==0)!=(i==p->nCol-1) ){
      return pqCorrupt(p, pzErr, "%s does not list %d types", PQ_META_TYPES,
                       p->nCol);
    }
    z = zEnd ? zEnd + 1 : z;
  }
  return SQLITE_OK;
}

/* -------------------------------------------------------- row groups */

/* Statistics{null_count, max_value, min_value}; the rest is skipped. */
static void pqReadStats(KalamThriftIn *in, PqChunkInfo *pInfo){
  int iField, eType;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    const unsigned char *a;
    sqlite3_int64 n;
    switch( iField ){
      case 3:
        pInfo->bNullCount = 1;
        pInfo->nNull = kalamThriftReadInt(in, eType);
        break;
      case 5:
      case 6:
        if( kalamThriftReadBinary(in, eType, &a, &n) ){
          if( iField==5 ){ pInfo->aMax = a; pInfo->nMax = (int)n; }
          else{ pInfo->aMin = a; pInfo->nMin = (int)n; }
        }
        break;
      default: kalamThriftSkip(in, eType); break;
    }
  }
}

/* What a ColumnMetaData says, before it is checked. */
typedef struct PqChunkMeta PqChunkMeta;
struct PqChunkMeta {
  int eType;
  sqlite3_int64 nValues, nCompressed, iDataPage;
  int bDictionary;
  const unsigned char *aPath;  /* path_in_schema, if one element */
  sqlite3_int64 nPath;
  int nPathElem;
};

static void pqReadColumnMeta(KalamThriftIn *in, PqChunkMeta *pMeta,
                             PqChunkInfo *pInfo){
  int iField, eType;
  memset(pMeta, 0, sizeof(*pMeta));
  pMeta->eType = -1;
  pMeta->iDataPage = -1;
  pInfo->eCodec = -1;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    switch( iField ){
      case 1: pMeta->eType = (int)kalamThriftReadInt(in, eType); break;
      case 3: {
        int eElem;
        sqlite3_int64 n, i;
        if( !kalamThriftReadList(in, eType, &eElem, &n) ) break;
        pMeta->nPathElem = (int)n;
        for(i=0; i<n; i++){
          kalamThriftReadBinary(in, eElem, &pMeta->aPath, &pMeta->nPath);
        }
        break;
      }
      case 4: pInfo->eCodec = (int)kalamThriftReadInt(in, eType); break;
      case 5: pMeta->nValues = kalamThriftReadInt(in, eType); break;
      case 7: pMeta->nCompressed = kalamThriftReadInt(in, eType); break;
      case 9: pMeta->iDataPage = kalamThriftReadInt(in, eType); break;
      case 11:
        pMeta->bDictionary = 1;
        kalamThriftSkip(in, eType);
        break;
      case 12:
        if( kalamThriftReadStruct(in, eType) ) pqReadStats(in, pInfo);
        break;
      default: kalamThriftSkip(in, eType); break;
    }
  }
}

/* Checks one column chunk's metadata against the schema and the file. */
static int pqCheckChunk(KalamParquetFile *p, int iGroup, int iCol,
                        const PqChunkMeta *pMeta, PqChunkInfo *pInfo,
                        sqlite3_int64 nRows, char **pzErr){
  const char *zCol = p->aCol[iCol].zName;
  int ePhys = p->aPhys[iCol];
  if( pMeta->eType!=ePhys ){
    return pqCorrupt(p, pzErr, "column %s of row group %d has physical type "
                     "%d, the schema says %d", zCol, iGroup, pMeta->eType,
                     ePhys);
  }
  if( pMeta->nPathElem!=1 || pMeta->nPath!=(sqlite3_int64)strlen(zCol)
   || memcmp(pMeta->aPath, zCol, (size_t)pMeta->nPath)!=0 ){
    return pqCorrupt(p, pzErr, "column chunk %d of row group %d is not "
                     "column %s", iCol, iGroup, zCol);
  }
  if( pInfo->eCodec!=PQ_CODEC_ZSTD && pInfo->eCodec!=PQ_CODEC_UNCOMPRESSED ){
    return pqForeign(p, pzErr, "column %s of row group %d is compressed with "
                     "%s (kalam reads ZSTD and UNCOMPRESSED)", zCol, iGroup,
                     pqCodecName(pInfo->eCodec));
  }
  if( pMeta->bDictionary ){
    return pqForeign(p, pzErr, "column %s of row group %d has a dictionary "
                     "page (kalam reads PLAIN values only)", zCol, iGroup);
  }
  if( pMeta->nValues!=nRows ){
    return pqCorrupt(p, pzErr, "column %s of row group %d has %lld values "
                     "in %lld rows", zCol, iGroup, pMeta->nValues, nRows);
  }
  if( pMeta->iDataPage<4 || pMeta->nCompressed<=0
   || pMeta->iDataPage>p->iFooter
   || pMeta->nCompressed>p->iFooter - pMeta->iDataPage ){
    return pqCorrupt(p, pzErr, "column %s of row group %d: %lld bytes at "
                     "offset %lld are not between the header and the footer "
                     "(at %lld)", zCol, iGroup, pMeta->nCompressed,
                     pMeta->iDataPage, p->iFooter);
  }
  if( pInfo->bNullCount && (pInfo->nNull<0 || pInfo->nNull>nRows
       || (p->aCol[iCol].bNotNull && pInfo->nNull>0)) ){
    return pqCorrupt(p, pzErr, "column %s of row group %d counts %lld NULLs "
                     "in %lld rows", zCol, iGroup, pInfo->nNull, nRows);
  }
  if( (pInfo->aMin==0)!=(pInfo->aMax==0) ){
    pInfo->aMin = pInfo->aMax = 0;  /* half a range bounds nothing */
  }
  if( pInfo->aMin ){
    int nWant = ePhys==PQ_BOOLEAN ? 1 : ePhys==PQ_BYTE_ARRAY ? -1 : 8;
    if( nWant>0 && (pInfo->nMin!=nWant || pInfo->nMax!=nWant) ){
      return pqCorrupt(p, pzErr, "column %s of row group %d has min/max "
                       "statistics of %d and %d bytes", zCol, iGroup,
                       pInfo->nMin, pInfo->nMax);
    }
    if( ePhys==PQ_BOOLEAN && (pInfo->aMin[0]>1 || pInfo->aMax[0]>1) ){
      return pqCorrupt(p, pzErr, "column %s of row group %d has min/max "
                       "statistics that are not booleans", zCol, iGroup);
    }
  }
  pInfo->iOffset = pMeta->iDataPage;
  pInfo->nBytes = pMeta->nCompressed;
  return SQLITE_OK;
}

/* Reads RowGroup number iGroup (its struct already opened). */
static int pqReadGroup(KalamParquetFile *p, KalamThriftIn *in, int iGroup,
                       char **pzErr){
  PqGroupInfo *pGroup = &p->aGroup[iGroup];
  PqChunkMeta *aMeta = 0;
  int iField, eType, nChunk = -1, i, rc = SQLITE_OK;
  int bRows = 0;

  aMeta = sqlite3_malloc64(sizeof(PqChunkMeta) * (size_t)p->nCol);
  if( aMeta==0 ) return SQLITE_NOMEM;
  while( (eType = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
    if( iField==1 ){
      int eElem;
      sqlite3_int64 n, j;
      if( !kalamThriftReadList(in, eType, &eElem, &n) ) break;
      if( n!=p->nCol ){
        rc = pqCorrupt(p, pzErr, "row group %d has %lld columns, the schema "
                       "%d", iGroup, n, p->nCol);
        goto done;
      }
      for(j=0; j<n && in->zErr==0; j++){
        int iF, eT, bMeta = 0;
        PqChunkInfo *pInfo = &pGroup->aChunk[j];
        if( !kalamThriftReadStruct(in, eElem) ) break;
        while( (eT = kalamThriftField(in, &iF))!=KALAM_THRIFT_STOP ){
          if( iF==1 || iF==9 ){
            rc = pqForeign(p, pzErr, "column %s of row group %d is in another "
                           "file or encrypted", p->aCol[j].zName, iGroup);
            goto done;
          }else if( iF==3 && kalamThriftReadStruct(in, eT) ){
            bMeta = 1;
            pqReadColumnMeta(in, &aMeta[j], pInfo);
          }else{
            kalamThriftSkip(in, eT);
          }
        }
        if( !bMeta && in->zErr==0 ){
          rc = pqCorrupt(p, pzErr, "column %s of row group %d has no "
                         "metadata", p->aCol[j].zName, iGroup);
          goto done;
        }
      }
      nChunk = (int)n;
    }else if( iField==3 ){
      pGroup->nRows = kalamThriftReadInt(in, eType);
      bRows = 1;
    }else{
      kalamThriftSkip(in, eType);
    }
  }
  if( in->zErr ) goto done;   /* reported by the caller */
  if( nChunk<0 || !bRows ){
    rc = pqCorrupt(p, pzErr, "row group %d has no %s", iGroup,
                   nChunk<0 ? "columns" : "row count");
    goto done;
  }
  if( pGroup->nRows<0 || pGroup->nRows>KALAM_PARQUET_MAX_GROUP_ROWS ){
    rc = pqForeign(p, pzErr, "row group %d has %lld rows (kalam reads at most "
                   "%d)", iGroup, pGroup->nRows, KALAM_PARQUET_MAX_GROUP_ROWS);
    goto done;
  }
  for(i=0; i<p->nCol && rc==SQLITE_OK; i++){
    rc = pqCheckChunk(p, iGroup, i, &aMeta[i], &pGroup->aChunk[i],
                      pGroup->nRows, pzErr);
  }
done:
  sqlite3_free(aMeta);
  return rc;
}

/* Reads the row_groups list, whose header starts at byte iList of the
** footer (read after the schema, wherever the list stands). */
static int pqReadGroups(KalamParquetFile *p, size_t iList, char **pzErr){
  KalamThriftIn in;
  int eElem, i, rc = SQLITE_OK;
  sqlite3_int64 n, nTotal = 0;
  PqChunkInfo *aChunk;

  kalamThriftInInit(&in, p->aFooter, (size_t)p->nFooter);
  in.i = iList;
  if( !kalamThriftReadList(&in, KALAM_THRIFT_LIST, &eElem, &n) ) goto thrift;
  /* Each column chunk takes bytes of the footer: a count that could not
  ** fit is damage, and checking it bounds the allocation below. */
  if( n*p->nCol > p->nFooter ){
    return pqCorrupt(p, pzErr, "%lld row groups of %d columns cannot fit "
                     "in a footer of %lld bytes", n, p->nCol, p->nFooter);
  }
  aChunk = sqlite3_malloc64(sizeof(PqChunkInfo) * (size_t)(n*p->nCol + 1));
  if( aChunk==0 ) return SQLITE_NOMEM;
  p->aGroup = sqlite3_malloc64(sizeof(PqGroupInfo) * (size_t)(n ? n : 1));
  if( p->aGroup==0 ){
    sqlite3_free(aChunk);
    return SQLITE_NOMEM;
  }
  memset(aChunk, 0, sizeof(PqChunkInfo) * (size_t)(n*p->nCol + 1));
  p->aGroup[0].aChunk = aChunk;   /* freed through the first group */
  p->nGroup = (int)n;
  for(i=0; i<n && rc==SQLITE_OK; i++){
    p->aGroup[i].aChunk = aChunk + (sqlite3_int64)i*p->nCol;
    p->aGroup[i].nRows = 0;
    if( !kalamThriftReadStruct(&in, eElem) ) goto thrift;
    rc = pqReadGroup(p, &in, i, pzErr);
    if( rc==SQLITE_OK && in.zErr ) goto thrift;
    nTotal += p->aGroup[i].nRows;
  }
  if( rc ) return rc;
  if( nTotal!=p->nRows ){
    return pqCorrupt(p, pzErr, "its row groups hold %lld rows, its footer "
                     "says %lld", nTotal, p->nRows);
  }
  return SQLITE_OK;
thrift:
  return pqCorrupt(p, pzErr, "footer: %s (at byte %lld of %lld)",
                   in.zErr ? in.zErr : "row groups expected",
                   (sqlite3_int64)in.i, p->nFooter);
}

/* ------------------------------------------------------------- footer */

/* KeyValue{key, value}: kept as NUL-terminated copies. */
static int pqReadMeta(KalamParquetFile *p, KalamThriftIn *in, int eType){
  int eElem;
  sqlite3_int64 n, i;
  if( !kalamThriftReadList(in, eType, &eElem, &n) ) return SQLITE_OK;
  p->azMeta = sqlite3_malloc64(sizeof(char*) * (size_t)(2*n + 1));
  if( p->azMeta==0 ) return SQLITE_NOMEM;
  for(i=0; i<n && in->zErr==0; i++){
    const unsigned char *aKey = 0, *aVal = 0;
    sqlite3_int64 nKey = 0, nVal = 0;
    int iField, eT;
    if( !kalamThriftReadStruct(in, eElem) ) break;
    while( (eT = kalamThriftField(in, &iField))!=KALAM_THRIFT_STOP ){
      if( iField==1 ) kalamThriftReadBinary(in, eT, &aKey, &nKey);
      else if( iField==2 ) kalamThriftReadBinary(in, eT, &aVal, &nVal);
      else kalamThriftSkip(in, eT);
    }
    if( in->zErr ) break;
    p->azMeta[2*p->nMeta] = sqlite3_mprintf("%.*s", (int)nKey,
                                            aKey ? (const char*)aKey : "");
    p->azMeta[2*p->nMeta+1] = sqlite3_mprintf("%.*s", (int)nVal,
                                              aVal ? (const char*)aVal : "");
    p->nMeta++;
    if( p->azMeta[2*p->nMeta-2]==0 || p->azMeta[2*p->nMeta-1]==0 ){
      return SQLITE_NOMEM;
    }
  }
  return SQLITE_OK;
}

/* Reads FileMetaData: the schema first, then the row groups. */
static int pqReadFooter(KalamParquetFile *p, char **pzErr){
  KalamThriftIn in;
  PqElement *aEl = 0;
  int nEl = -1, iField, eType, rc = SQLITE_OK, bRows = 0;
  size_t iGroups = 0;

  kalamThriftInInit(&in, p->aFooter, (size_t)p->nFooter);
  while( (eType = kalamThriftField(&in, &iField))!=KALAM_THRIFT_STOP ){
    switch( iField ){
      case 2: {
        int eElem;
        sqlite3_int64 n, i;
        if( nEl>=0 ){
          kalamThriftSkip(&in, eType);   /* a second schema: the first wins */
          break;
        }
        if( !kalamThriftReadList(&in, eType, &eElem, &n) ) break;
        if( n>32768 ){
          rc = pqCorrupt(p, pzErr, "the schema has %lld elements", n);
          goto done;
        }
        aEl = sqlite3_malloc64(sizeof(PqElement) * (size_t)(n ? n : 1));
        if( aEl==0 ){ rc = SQLITE_NOMEM; goto done; }
        for(i=0; i<n && in.zErr==0; i++){
          if( kalamThriftReadStruct(&in, eElem) ) pqReadElement(&in, &aEl[i]);
        }
        nEl = (int)n;
        break;
      }
      case 3:
        p->nRows = kalamThriftReadInt(&in, eType);
        bRows = 1;
        break;
      case 4:
        /* Where the list header is (never 0: a field header precedes
        ** it); read once the schema is known. */
        iGroups = in.i;
        kalamThriftSkip(&in, eType);
        if( eType!=KALAM_THRIFT_LIST ) iGroups = 0;
        break;
      case 5:
        if( p->azMeta==0 ){
          rc = pqReadMeta(p, &in, eType);
          if( rc ) goto done;
        }else{
          kalamThriftSkip(&in, eType);
        }
        break;
      default:
        kalamThriftSkip(&in, eType);
        break;
    }
  }
  if( in.zErr ){
    rc = pqCorrupt(p, pzErr, "footer: %s (at byte %lld of %lld)", in.zErr,
                   (sqlite3_int64)in.i, p->nFooter);
    goto done;
  }
  if( nEl<0 || !bRows || iGroups==0 ){
    rc = pqCorrupt(p, pzErr, "the footer has no %s", nEl<0 ? "schema"
                   : !bRows ? "row count" : "row groups");
    goto done;
  }
  if( p->nRows<0 ){
    rc = pqCorrupt(p, pzErr, "the footer says %lld rows", p->nRows);
    goto done;
  }
  rc = pqSchema(p, aEl, nEl, pzErr);
  if( rc==SQLITE_OK ) rc = pqColumnTypes(p, pzErr);
  if( rc==SQLITE_OK ) rc = pqReadGroups(p, iGroups, pzErr);
done:
  sqlite3_free(aEl);
  return rc;
}

/* Opens the file held by p (fd or aMem, nSize and zName set). */
static int pqOpen(KalamParquetFile *p, char **pzErr){
  unsigned char aHead[4], aTail[8];
  sqlite3_int64 nFooter;
  int rc;

  if( p->nSize<12 ){
    return pqCorrupt(p, pzErr, "%lld bytes is too small for a Parquet file",
                     p->nSize);
  }
  rc = kalamParquetReadAt(p, 0, 4, aHead, pzErr);
  if( rc==SQLITE_OK ) rc = kalamParquetReadAt(p, p->nSize-8, 8, aTail, pzErr);
  if( rc ) return rc;
  if( memcmp(aHead, PQ_MAGIC, 4)!=0 || memcmp(aTail+4, PQ_MAGIC, 4)!=0 ){
    return pqCorrupt(p, pzErr, "it does not begin and end with \"PAR1\"");
  }
  nFooter = (sqlite3_int64)pqGet32(aTail);
  if( nFooter>p->nSize-12 || nFooter>PQ_MAX_FOOTER || nFooter<1 ){
    return pqCorrupt(p, pzErr, "a footer of %lld bytes does not fit in "
                     "%lld bytes", nFooter, p->nSize);
  }
  p->nFooter = nFooter;
  p->iFooter = p->nSize - 8 - nFooter;
  p->aFooter = sqlite3_malloc64((size_t)nFooter);
  if( p->aFooter==0 ) return SQLITE_NOMEM;
  rc = kalamParquetReadAt(p, p->iFooter, nFooter, p->aFooter, pzErr);
  if( rc ) return rc;
  return pqReadFooter(p, pzErr);
}

static KalamParquetFile *pqNew(const char *zName){
  KalamParquetFile *p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return 0;
  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->zName = sqlite3_mprintf("%s", zName);
  if( p->zName==0 ){
    sqlite3_free(p);
    return 0;
  }
  return p;
}

int kalamParquetOpen(const char *zPath, KalamParquetFile **pp,
                     char **pzErr){
  KalamParquetFile *p;
  struct stat st;
  int rc;

  *pp = 0;
  p = pqNew(zPath);
  if( p==0 ) return SQLITE_NOMEM;
  p->fd = open(zPath, O_RDONLY|O_CLOEXEC);
  if( p->fd<0 ){
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("cannot open Parquet file %s: %s", zPath,
                             strerror(errno));
    rc = SQLITE_CANTOPEN;
    goto done;
  }
  if( fstat(p->fd, &st)!=0 ){
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("cannot read Parquet file %s: %s", zPath,
                             strerror(errno));
    rc = SQLITE_IOERR;
    goto done;
  }
  p->nSize = (sqlite3_int64)st.st_size;
  rc = pqOpen(p, pzErr);
done:
  if( rc ){
    if( rc==SQLITE_NOMEM && *pzErr==0 ) *pzErr = sqlite3_mprintf("out of memory");
    kalamParquetClose(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

int kalamParquetOpenMemory(const char *zName, const void *a, size_t n,
                           KalamParquetFile **pp, char **pzErr){
  KalamParquetFile *p;
  int rc;
  *pp = 0;
  p = pqNew(zName);
  if( p==0 ) return SQLITE_NOMEM;
  p->aMem = (const unsigned char*)a;
  p->nSize = (sqlite3_int64)n;
  rc = pqOpen(p, pzErr);
  if( rc ){
    kalamParquetClose(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

void kalamParquetClose(KalamParquetFile *p){
  int i;
  if( p==0 ) return;
  /* A file opened for reading loses nothing if its close fails. */
  if( p->fd>=0 ) (void)close(p->fd);
  for(i=0; i<p->nCol; i++) sqlite3_free((char*)p->aCol[i].zName);
  for(i=0; i<2*p->nMeta; i++) sqlite3_free(p->azMeta[i]);
  if( p->aGroup ) sqlite3_free(p->aGroup[0].aChunk);
  sqlite3_free(p->aGroup);
  sqlite3_free(p->azMeta);
  sqlite3_free(p->aCol);
  sqlite3_free(p->aPhys);
  sqlite3_free(p->aFooter);
  sqlite3_free(p->zName);
  sqlite3_free(p);
}

/* ---------------------------------------------------------- accessors */

sqlite3_int64 kalamParquetRowCount(const KalamParquetFile *p){
  return p->nRows;
}
int kalamParquetColumnCount(const KalamParquetFile *p){ return p->nCol; }
const KalamParquetColumn *kalamParquetColumnInfo(const KalamParquetFile *p,
                                                 int iCol){
  assert( iCol>=0 && iCol<p->nCol );
  return &p->aCol[iCol];
}

/* The column whose field_id is iFieldId, or -1: how a reader finds a
** table column in a file written before the column was renamed. */
int kalamParquetColumnByFieldId(const KalamParquetFile *p, int iFieldId){
  int i;
  for(i=0; i<p->nCol; i++){
    if( p->aCol[i].iFieldId==iFieldId ) return i;
  }
  return -1;
}

/* The value of key zKey of the file's key/value metadata, or NULL. */
const char *kalamParquetMetaValue(const KalamParquetFile *p,
                                  const char *zKey){
  int i;
  for(i=0; i<p->nMeta; i++){
    if( strcmp(p->azMeta[2*i], zKey)==0 ) return p->azMeta[2*i+1];
  }
  return 0;
}

int kalamParquetGroupCount(const KalamParquetFile *p){ return p->nGroup; }
sqlite3_int64 kalamParquetGroupRows(const KalamParquetFile *p, int iGroup){
  assert( iGroup>=0 && iGroup<p->nGroup );
  return p->aGroup[iGroup].nRows;
}

/* Decodes a PLAIN min or max of column iCol into pOut (bytes borrowed). */
static void pqStatValue(const KalamParquetFile *p, int iCol,
                        const unsigned char *a, int n, KalamValue *pOut){
  sqlite3_uint64 u;
  memset(pOut, 0, sizeof(*pOut));
  switch( p->aPhys[iCol] ){
    case PQ_INT64:
      pOut->eType = SQLITE_INTEGER;
      pOut->i = (sqlite3_int64)pqGet64(a);
      break;
    case PQ_BOOLEAN:
      pOut->eType = SQLITE_INTEGER;
      pOut->i = a[0];
      break;
    case PQ_DOUBLE:
      u = pqGet64(a);
      pOut->eType = SQLITE_FLOAT;
      memcpy(&pOut->r, &u, 8);
      break;
    default:
      pOut->eType = p->aCol[iCol].eType==KALAM_TYPE_BLOB ? SQLITE_BLOB
                                                         : SQLITE_TEXT;
      pOut->bJson = p->aCol[iCol].eType==KALAM_TYPE_JSON;
      pOut->z = (const char*)a;
      pOut->n = n;
      break;
  }
}

/* The statistics of column iCol in row group iGroup. min and max are
** bounds: every non-NULL value v of the chunk has min <= v <= max in
** SQLite's order for the column's type. */
void kalamParquetGroupStats(const KalamParquetFile *p, int iGroup, int iCol,
                            KalamParquetStats *pOut){
  const PqChunkInfo *pInfo;
  assert( iGroup>=0 && iGroup<p->nGroup && iCol>=0 && iCol<p->nCol );
  pInfo = &p->aGroup[iGroup].aChunk[iCol];
  memset(pOut, 0, sizeof(*pOut));
  pOut->bNullCount = pInfo->bNullCount;
  pOut->nNull = pInfo->nNull;
  if( pInfo->aMin && p->aCol[iCol].eType!=KALAM_TYPE_ANY ){
    pOut->bMinMax = 1;
    pqStatValue(p, iCol, pInfo->aMin, pInfo->nMin, &pOut->min);
    pqStatValue(p, iCol, pInfo->aMax, pInfo->nMax, &pOut->max);
  }
}
