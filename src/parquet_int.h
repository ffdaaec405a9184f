/*
** parquet_int.h — the Parquet files' private header: the numbers of the
** format that kalam's writer and reader share (enum values from the
** format's parquet.thrift), how kalam's column types map to Parquet's,
** and the structs that parquet_write.c shares with parquet_footer.c and
** parquet_read.c with parquet_chunk.c.
**
** Only the parts kalam writes are here. The reader refuses the rest by
** name (a nested schema, a dictionary page, a codec other than zstd) so
** that a message says what a file has that kalam does not read.
*/
#ifndef PARQUET_INT_H
#define PARQUET_INT_H

#include "kalam_int.h"
#include <zstd.h>

#define PQ_MAGIC "PAR1"

/* Physical types (enum Type). */
#define PQ_BOOLEAN    0
#define PQ_INT64      2
#define PQ_DOUBLE     5
#define PQ_BYTE_ARRAY 6

/* FieldRepetitionType. */
#define PQ_REQUIRED 0
#define PQ_OPTIONAL 1

/* ConvertedType, the older annotations, written beside the logical
** types for readers that know only these. */
#define PQ_CONVERTED_UTF8             0
#define PQ_CONVERTED_TIMESTAMP_MILLIS 9
#define PQ_CONVERTED_INT_64          18
#define PQ_CONVERTED_JSON            19

/* Fields of union LogicalType, and of union TimeUnit. */
#define PQ_LOGICAL_STRING     1
#define PQ_LOGICAL_TIMESTAMP  8
#define PQ_LOGICAL_INTEGER   10
#define PQ_LOGICAL_JSON      12
#define PQ_UNIT_MILLIS        1

/* Encoding, CompressionCodec, PageType. */
#define PQ_ENCODING_PLAIN 0
#define PQ_ENCODING_RLE   3
#define PQ_CODEC_UNCOMPRESSED 0
#define PQ_CODEC_ZSTD         6
#define PQ_PAGE_DATA 0

/* The physical type of a kalam column type. BOOLEAN values are 0 or 1;
** TIMESTAMP is milliseconds since the Unix epoch, as kalam stores it; ANY
** is the value's JSON text as the row codec writes it (docs/cold.md). */
static inline int pqPhysicalType(int eType){
  switch( eType ){
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_TIMESTAMP: return PQ_INT64;
    case KALAM_TYPE_REAL:      return PQ_DOUBLE;
    case KALAM_TYPE_BOOLEAN:   return PQ_BOOLEAN;
    default:                   return PQ_BYTE_ARRAY;
  }
}

/* The key of the file's key/value metadata that lists the kalam type of
** each column, comma-separated in column order ("INTEGER,TEXT,ANY,..."):
** the Parquet schema alone cannot tell ANY from JSON. */
#define PQ_META_TYPES "kalam.column_types"

/* Little-endian loads and stores, byte by byte: no alignment needed. */
static inline void pqPut32(unsigned char *a, sqlite3_uint64 v){
  a[0] = (unsigned char)v;
  a[1] = (unsigned char)(v>>8);
  a[2] = (unsigned char)(v>>16);
  a[3] = (unsigned char)(v>>24);
}
static inline void pqPut64(unsigned char *a, sqlite3_uint64 v){
  pqPut32(a, v);
  pqPut32(a + 4, v>>32);
}
static inline sqlite3_uint64 pqGet32(const unsigned char *a){
  return (sqlite3_uint64)a[0] | ((sqlite3_uint64)a[1]<<8)
       | ((sqlite3_uint64)a[2]<<16) | ((sqlite3_uint64)a[3]<<24);
}
static inline sqlite3_uint64 pqGet64(const unsigned char *a){
  return pqGet32(a) | (pqGet32(a + 4)<<32);
}

/* ---------------------------------------------------------------- writer
** The writer's state (parquet_write.c), and the footer's encoding of it
** (parquet_footer.c). */

/* One column of the writer and the row group being buffered for it. */
typedef struct PqColumn PqColumn;
struct PqColumn {
  KalamParquetColumn def;  /* zName points at zName below */
  char *zName;             /* owned copy */
  int ePhys;               /* PQ_* physical type */
  KalamBuf vals;           /* the group's non-NULL values: PLAIN, except
                           ** that a BOOLEAN takes a byte until written */
  KalamBuf defs;           /* OPTIONAL only: per row, 1 value or 0 NULL */
  sqlite3_int64 nNull;     /* statistics of the group so far */
  sqlite3_int64 nNan;
  int bMinMax;             /* a min and max have been seen */
  int bStatLong;           /* a value too long for min/max was seen */
  sqlite3_int64 iMin, iMax;
  double rMin, rMax;
  KalamBuf minv, maxv;     /* BYTE_ARRAY min and max */
};

struct KalamParquetWriter {
  char *zPath;             /* the file's name once finished */
  char *zTmp;              /* the name it is written under */
  int fd;                  /* -1 when closed */
  int nCol;
  PqColumn *aCol;
  KalamParquetOptions opt; /* defaults filled in */
  sqlite3_int64 nGroupRows;   /* rows buffered for the current group */
  sqlite3_int64 nGroupBytes;  /* value bytes buffered */
  sqlite3_int64 nRows;        /* rows in groups already written */
  sqlite3_int64 iOff;         /* file offset of the next byte */
  int nGroup;
  KalamBuf out;            /* bytes not yet written to fd */
  KalamBuf groups;         /* each written group's RowGroup, encoded */
  KalamBuf meta;           /* key/value metadata: "key\0value\0"... */
  int nMeta;
  KalamBuf page, lev, hdr; /* scratch: a page body, its levels, header */
  KalamBuf zbuf;           /* scratch: a compressed page */
  ZSTD_CCtx *pZ;           /* NULL when uncompressed */
  int rc;                  /* the first error, latched */
  char *zErr;              /* its message */
  int bCreated;             /* zTmp was created by this writer */
  int bFinished;             /* zTmp was renamed to zPath, and synced */
};

void kalamParquetEncodeChunk(KalamThriftOut *o, const PqColumn *pCol,
                             sqlite3_int64 iStart, sqlite3_int64 nRows,
                             sqlite3_int64 nUncomp, sqlite3_int64 nComp,
                             int bZstd);
void kalamParquetEncodeFooter(const KalamParquetWriter *p, KalamBuf *pBuf);

/* ---------------------------------------------------------------- reader
** What parquet_read.c learns from a file's footer, and parquet_chunk.c
** uses to decode its column chunks. */

/* One column chunk: where its pages are and its statistics. Offsets are
** checked at open: [iOffset, iOffset+nBytes) lies between the leading
** magic and the footer. */
typedef struct PqChunkInfo PqChunkInfo;
struct PqChunkInfo {
  sqlite3_int64 iOffset;      /* the first page */
  sqlite3_int64 nBytes;       /* all pages, headers included */
  int eCodec;                 /* PQ_CODEC_* */
  int bNullCount;
  sqlite3_int64 nNull;
  const unsigned char *aMin;  /* PLAIN min_value, inside aFooter, or NULL */
  const unsigned char *aMax;
  int nMin, nMax;
};

typedef struct PqGroupInfo PqGroupInfo;
struct PqGroupInfo {
  sqlite3_int64 nRows;
  PqChunkInfo *aChunk;        /* nCol of them, in column order */
};

struct KalamParquetFile {
  char *zName;                /* for messages */
  int fd;                     /* the open file, or -1 when in memory */
  const unsigned char *aMem;  /* the file in memory (not owned), or NULL */
  sqlite3_int64 nSize;        /* the file's size */
  unsigned char *aFooter;     /* FileMetaData bytes (owned) */
  sqlite3_int64 nFooter;
  sqlite3_int64 iFooter;      /* its offset: every chunk ends before it */
  int nCol;
  KalamParquetColumn *aCol;   /* names owned, freed with the file */
  int *aPhys;                 /* PQ_* physical type per column */
  sqlite3_int64 nRows;
  int nGroup;
  PqGroupInfo *aGroup;
  int nMeta;
  char **azMeta;              /* key, value, key, value, ... (owned) */
};

int kalamParquetReadAt(KalamParquetFile *p, sqlite3_int64 iOff,
                       sqlite3_int64 n,
                       unsigned char *aOut, char **pzErr);

#endif /* PARQUET_INT_H */
