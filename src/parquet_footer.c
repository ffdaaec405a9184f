/*
** parquet_footer.c — the Thrift structures of a Parquet file that kalam
** writes about its data: each column chunk's ColumnMetaData with its
** statistics, and the footer (FileMetaData: the schema with its field ids
** and annotations, the row groups, the key/value metadata). Also the
** columns of a kalam table's files (kalamParquetColumnsFromSchema).
**
** The schema kalam writes, per column (docs/cold.md has the table):
**
**   INTEGER    INT64
**   REAL       DOUBLE
**   TEXT       BYTE_ARRAY, STRING (converted type UTF8)
**   BOOLEAN    BOOLEAN
**   TIMESTAMP  INT64, TIMESTAMP(MILLIS, isAdjustedToUTC=true)
**              (converted type TIMESTAMP_MILLIS)
**   JSON       BYTE_ARRAY, JSON (converted type JSON)
**   BLOB       BYTE_ARRAY, no annotation
**   ANY        BYTE_ARRAY, JSON: the value's JSON text as the row codec
**              writes it, so any reader sees a JSON value
**
** under a root group named "schema"; each column carries its field_id.
** The key "kalam.column_types" lists the kalam types, since ANY and JSON
** look alike to Parquet. Every column has the TYPE_ORDER column order, so
** readers may trust min_value and max_value.
*/
#include "parquet_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* The Statistics struct of column pCol's chunk, as field 12 of its
** ColumnMetaData. */
static void pqStatistics(KalamThriftOut *o, const PqColumn *pCol){
  unsigned char aMin[8], aMax[8];
  kalamThriftStructBegin(o, 12);
  kalamThriftI64(o, 3, pCol->nNull);
  if( pCol->bMinMax && !pCol->bStatLong ){
    switch( pCol->ePhys ){
      case PQ_INT64:
        pqPut64(aMin, (sqlite3_uint64)pCol->iMin);
        pqPut64(aMax, (sqlite3_uint64)pCol->iMax);
        kalamThriftBinary(o, 5, aMax, 8);
        kalamThriftBinary(o, 6, aMin, 8);
        break;
      case PQ_BOOLEAN:
        aMin[0] = (unsigned char)pCol->iMin;
        aMax[0] = (unsigned char)pCol->iMax;
        kalamThriftBinary(o, 5, aMax, 1);
        kalamThriftBinary(o, 6, aMin, 1);
        break;
      case PQ_DOUBLE: {
        /* The specification asks for -0.0 as a zero min and +0.0 as a
        ** zero max, so that either zero is inside the bounds. */
        double rMin = pCol->rMin==0.0 ? -0.0 : pCol->rMin;
        double rMax = pCol->rMax==0.0 ? 0.0 : pCol->rMax;
        sqlite3_uint64 u;
        memcpy(&u, &rMin, 8);
        pqPut64(aMin, u);
        memcpy(&u, &rMax, 8);
        pqPut64(aMax, u);
        kalamThriftBinary(o, 5, aMax, 8);
        kalamThriftBinary(o, 6, aMin, 8);
        break;
      }
      default:
        kalamThriftBinary(o, 5, pCol->maxv.z, pCol->maxv.n);
        kalamThriftBinary(o, 6, pCol->minv.z, pCol->minv.n);
        break;
    }
    kalamThriftBool(o, 7, 1);   /* is_max_value_exact */
    kalamThriftBool(o, 8, 1);   /* is_min_value_exact */
  }
  if( pCol->ePhys==PQ_DOUBLE ) kalamThriftI64(o, 9, pCol->nNan);
  kalamThriftStructEnd(o);
}

/* Column pCol's ColumnChunk element of a RowGroup's columns list: its
** pages start at iStart and take nComp bytes (nUncomp decompressed). */
void kalamParquetEncodeChunk(KalamThriftOut *o, const PqColumn *pCol,
                             sqlite3_int64 iStart, sqlite3_int64 nRows,
                             sqlite3_int64 nUncomp, sqlite3_int64 nComp,
                             int bZstd){
  kalamThriftStructBegin(o, 0);           /* ColumnChunk */
  kalamThriftI64(o, 2, iStart);           /* file_offset */
  kalamThriftStructBegin(o, 3);           /* meta_data: ColumnMetaData */
  kalamThriftI32(o, 1, pCol->ePhys);
  kalamThriftListBegin(o, 2, KALAM_THRIFT_I32, 2);
  kalamThriftElemInt(o, PQ_ENCODING_PLAIN);
  kalamThriftElemInt(o, PQ_ENCODING_RLE);
  kalamThriftListBegin(o, 3, KALAM_THRIFT_BINARY, 1);
  kalamThriftElemBinary(o, pCol->zName, (sqlite3_int64)strlen(pCol->zName));
  kalamThriftI32(o, 4, bZstd ? PQ_CODEC_ZSTD : PQ_CODEC_UNCOMPRESSED);
  kalamThriftI64(o, 5, nRows);          /* num_values, NULLs included */
  kalamThriftI64(o, 6, nUncomp);
  kalamThriftI64(o, 7, nComp);
  kalamThriftI64(o, 9, iStart);           /* data_page_offset */
  pqStatistics(o, pCol);
  kalamThriftStructEnd(o);
  kalamThriftStructEnd(o);
}

/* The footer: FileMetaData{version, schema, num_rows, row_groups,
** key_value_metadata, created_by, column_orders}. */
void kalamParquetEncodeFooter(const KalamParquetWriter *p, KalamBuf *pBuf){
  KalamThriftOut o;
  const char *z;
  int i;
  KalamBuf types;

  kalamBufInit(&types);
  kalamThriftOutInit(&o, pBuf);
  kalamThriftI32(&o, 1, 1);
  kalamThriftListBegin(&o, 2, KALAM_THRIFT_STRUCT, p->nCol + 1);
  kalamThriftStructBegin(&o, 0);          /* the root: a group of all */
  kalamThriftBinary(&o, 4, "schema", 6);
  kalamThriftI32(&o, 5, p->nCol);
  kalamThriftStructEnd(&o);
  for(i=0; i<p->nCol; i++){
    const PqColumn *pCol = &p->aCol[i];
    int eType = pCol->def.eType;
    kalamThriftStructBegin(&o, 0);
    kalamThriftI32(&o, 1, pCol->ePhys);
    kalamThriftI32(&o, 3, pCol->def.bNotNull ? PQ_REQUIRED : PQ_OPTIONAL);
    kalamThriftBinary(&o, 4, pCol->zName, (sqlite3_int64)strlen(pCol->zName));
    if( eType==KALAM_TYPE_TEXT ){
      kalamThriftI32(&o, 6, PQ_CONVERTED_UTF8);
    }else if( eType==KALAM_TYPE_JSON || eType==KALAM_TYPE_ANY ){
      kalamThriftI32(&o, 6, PQ_CONVERTED_JSON);
    }else if( eType==KALAM_TYPE_TIMESTAMP ){
      kalamThriftI32(&o, 6, PQ_CONVERTED_TIMESTAMP_MILLIS);
    }
    kalamThriftI32(&o, 9, pCol->def.iFieldId);
    if( eType==KALAM_TYPE_TEXT || eType==KALAM_TYPE_JSON
     || eType==KALAM_TYPE_ANY || eType==KALAM_TYPE_TIMESTAMP ){
      kalamThriftStructBegin(&o, 10);     /* logicalType */
      if( eType==KALAM_TYPE_TEXT ){
        kalamThriftStructBegin(&o, PQ_LOGICAL_STRING);
      }else if( eType==KALAM_TYPE_TIMESTAMP ){
        kalamThriftStructBegin(&o, PQ_LOGICAL_TIMESTAMP);
        kalamThriftBool(&o, 1, 1);        /* isAdjustedToUTC */
        kalamThriftStructBegin(&o, 2);    /* unit */
        kalamThriftStructBegin(&o, PQ_UNIT_MILLIS);
        kalamThriftStructEnd(&o);
        kalamThriftStructEnd(&o);
      }else{
        kalamThriftStructBegin(&o, PQ_LOGICAL_JSON);
      }
      kalamThriftStructEnd(&o);
      kalamThriftStructEnd(&o);
    }
    kalamThriftStructEnd(&o);
    if( i ) kalamBufAppendChar(&types, ',');
    kalamBufAppendStr(&types, kalamTypeName(eType));
  }
  kalamThriftI64(&o, 3, p->nRows);
  kalamThriftListBegin(&o, 4, KALAM_THRIFT_STRUCT, p->nGroup);
  kalamBufAppend(pBuf, p->groups.z, p->groups.n);
  kalamThriftListBegin(&o, 5, KALAM_THRIFT_STRUCT, p->nMeta + 1);
  kalamThriftStructBegin(&o, 0);
  kalamThriftBinary(&o, 1, PQ_META_TYPES, (sqlite3_int64)strlen(PQ_META_TYPES));
  kalamThriftBinary(&o, 2, types.z ? types.z : "", types.n);
  kalamThriftStructEnd(&o);
  for(i=0, z=p->meta.z; i<p->nMeta; i++){
    size_t nKey = strlen(z), nVal = strlen(z + nKey + 1);
    kalamThriftStructBegin(&o, 0);
    kalamThriftBinary(&o, 1, z, (sqlite3_int64)nKey);
    kalamThriftBinary(&o, 2, z + nKey + 1, (sqlite3_int64)nVal);
    kalamThriftStructEnd(&o);
    z += nKey + nVal + 2;
  }
  z = "kalam version " KALAM_VERSION;
  kalamThriftBinary(&o, 6, z, (sqlite3_int64)strlen(z));
  kalamThriftListBegin(&o, 7, KALAM_THRIFT_STRUCT, p->nCol);
  for(i=0; i<p->nCol; i++){
    kalamThriftStructBegin(&o, 0);        /* ColumnOrder */
    kalamThriftStructBegin(&o, 1);        /* TYPE_ORDER */
    kalamThriftStructEnd(&o);
    kalamThriftStructEnd(&o);
  }
  kalamThriftStructEnd(&o);
  if( types.oom ) pBuf->oom = 1;
  kalamBufFree(&types);
}

/* The columns of a table's files: its own columns (field ids 1, 2, ...,
** in declared order; they become stable ids when columns can be renamed),
** then _rowid, _seq, and _deleted (shared and user tables) or _ts
** (streams). Table columns are OPTIONAL, system columns REQUIRED. The
** array is freed with sqlite3_free; its names borrow from pSchema. */
int kalamParquetColumnsFromSchema(const KalamSchema *pSchema,
                                  KalamParquetColumn **paCol, int *pnCol){
  const KalamSysColumn *aSys;
  int nSys = kalamSysColumns(pSchema->eKind, &aSys), i, n = 0;
  KalamParquetColumn *a;
  a = sqlite3_malloc64(sizeof(*a) * (size_t)(pSchema->nCol + nSys + 1));
  *paCol = a;
  *pnCol = 0;
  if( a==0 ) return SQLITE_NOMEM;
  for(i=0; i<pSchema->nCol; i++, n++){
    a[n].zName = pSchema->aCol[i].zName;
    a[n].eType = pSchema->aCol[i].eType;
    a[n].iFieldId = pSchema->aCol[i].iId;
    a[n].bNotNull = 0;
  }
  a[n].zName = "_rowid";
  a[n].eType = KALAM_TYPE_INTEGER;
  a[n].iFieldId = KALAM_PARQUET_ID_ROWID;
  a[n++].bNotNull = 1;
  for(i=0; i<nSys; i++){
    switch( aSys[i].iSlot ){
      case KALAM_SYS_SEQ:
        a[n].eType = KALAM_TYPE_INTEGER;
        a[n].iFieldId = KALAM_PARQUET_ID_SEQ;
        break;
      case KALAM_SYS_DELETED:
        a[n].eType = KALAM_TYPE_BOOLEAN;
        a[n].iFieldId = KALAM_PARQUET_ID_DELETED;
        break;
      default:
        /* _updated is (_seq >> 22) + epoch: not stored. A stream's _ts,
        ** the same of the row id, is, so that readers filter on time. */
        if( pSchema->eKind!=KALAM_KIND_STREAM ) continue;
        a[n].eType = KALAM_TYPE_TIMESTAMP;
        a[n].iFieldId = KALAM_PARQUET_ID_TS;
        break;
    }
    a[n].zName = aSys[i].zName;
    a[n++].bNotNull = 1;
  }
  *pnCol = n;
  return SQLITE_OK;
}
