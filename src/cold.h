/*
** cold.h — the interfaces of the cold tier's files, a continuation of
** kalam_int.h (which includes it at its end, so every file sees both):
** the Thrift compact protocol and kalam's own Parquet writer and reader.
** Sections as in kalam_int.h, "Interface to X.c".
*/
#ifndef KALAM_COLD_H
#define KALAM_COLD_H

/************************************************************************
** Interface to thrift.c: the Thrift compact protocol, in which a Parquet
** file's footer and page headers are written. The encoder appends to a
** KalamBuf (whose oom flag reports a failed allocation); the decoder reads
** a byte range, latching the first error in zErr.
*/
#define KALAM_THRIFT_STOP    0
#define KALAM_THRIFT_TRUE    1
#define KALAM_THRIFT_FALSE   2
#define KALAM_THRIFT_I8      3
#define KALAM_THRIFT_I16     4
#define KALAM_THRIFT_I32     5
#define KALAM_THRIFT_I64     6
#define KALAM_THRIFT_DOUBLE  7
#define KALAM_THRIFT_BINARY  8
#define KALAM_THRIFT_LIST    9
#define KALAM_THRIFT_SET    10
#define KALAM_THRIFT_MAP    11
#define KALAM_THRIFT_STRUCT 12
#define KALAM_THRIFT_MAX_DEPTH 16  /* structs (or lists) inside each other */

typedef struct KalamThriftOut KalamThriftOut;
struct KalamThriftOut {
  KalamBuf *pBuf;            /* appended to; not owned */
  int iDepth;                /* open structs below the outermost one */
  short aLast[KALAM_THRIFT_MAX_DEPTH]; /* last field id of each open struct */
};
void kalamThriftOutInit(KalamThriftOut *p, KalamBuf *pBuf);
void kalamThriftI16(KalamThriftOut *p, int iField, sqlite3_int64 v);
void kalamThriftI32(KalamThriftOut *p, int iField, sqlite3_int64 v);
void kalamThriftI64(KalamThriftOut *p, int iField, sqlite3_int64 v);
void kalamThriftBool(KalamThriftOut *p, int iField, int b);
void kalamThriftBinary(KalamThriftOut *p, int iField, const void *z,
                       sqlite3_int64 n);
void kalamThriftStructBegin(KalamThriftOut *p, int iField); /* 0: element */
void kalamThriftStructEnd(KalamThriftOut *p);  /* also ends the outermost */
void kalamThriftListBegin(KalamThriftOut *p, int iField, int eElem,
                          sqlite3_int64 n);
void kalamThriftElemInt(KalamThriftOut *p, sqlite3_int64 v);
void kalamThriftElemBinary(KalamThriftOut *p, const void *z,
                           sqlite3_int64 n);

typedef struct KalamThriftIn KalamThriftIn;
struct KalamThriftIn {
  const unsigned char *a;    /* the input; not owned */
  size_t n;                  /* its size */
  size_t i;                  /* bytes read so far */
  int iDepth;
  short aLast[KALAM_THRIFT_MAX_DEPTH];
  const char *zErr;          /* static text: the first error, or NULL */
};
void kalamThriftInInit(KalamThriftIn *p, const void *a, size_t n);
int kalamThriftField(KalamThriftIn *p, int *piField); /* type; STOP at end */
sqlite3_int64 kalamThriftReadInt(KalamThriftIn *p, int eType);
int kalamThriftReadBool(KalamThriftIn *p, int eType);
int kalamThriftReadBinary(KalamThriftIn *p, int eType,
                          const unsigned char **pa, sqlite3_int64 *pn);
int kalamThriftReadList(KalamThriftIn *p, int eType, int *peElem,
                        sqlite3_int64 *pnElem);
int kalamThriftReadStruct(KalamThriftIn *p, int eType);
void kalamThriftSkip(KalamThriftIn *p, int eType);
void kalamThriftSkipElem(KalamThriftIn *p, int eElem);

/************************************************************************
** Interface to parquet_write.c and parquet_footer.c: kalam's own
** Parquet files, written (docs/cold.md has the format). Flat schemas
** only: one leaf column per table column and per system column, PLAIN
** values, RLE definition levels, zstd pages, min/max and null-count
** statistics per column chunk.
*/

/* A column of a Parquet file. The writer is given an array of these; the
** reader describes a file's columns with them (its strings then belong
** to the KalamParquetFile). */
typedef struct KalamParquetColumn KalamParquetColumn;
struct KalamParquetColumn {
  const char *zName;   /* UTF-8, as the schema element names it */
  int eType;           /* KALAM_TYPE_*: INTEGER, REAL, TEXT, ... ANY */
  int iFieldId;        /* the column's stable id, Parquet's field_id */
  int bNotNull;        /* REQUIRED: no NULL, no definition levels */
};

/* Field ids of the system columns: out of the way of table columns,
** which are numbered from 1. */
#define KALAM_PARQUET_ID_ROWID   2147483001
#define KALAM_PARQUET_ID_SEQ     2147483002
#define KALAM_PARQUET_ID_DELETED 2147483003
#define KALAM_PARQUET_ID_TS      2147483004

/* Limits the reader enforces, and the writer's defaults. */
#define KALAM_PARQUET_GROUP_ROWS     65536     /* default rows per group */
#define KALAM_PARQUET_GROUP_BYTES    (64<<20)  /* default staged bytes */
#define KALAM_PARQUET_MAX_GROUP_ROWS (1<<20)   /* the reader's limit */
#define KALAM_PARQUET_PAGE_ROWS      20000     /* default values per page */
#define KALAM_PARQUET_PAGE_BYTES     (1<<20)   /* default bytes per page */
#define KALAM_PARQUET_MAX_PAGE       ((1<<30) + (1<<20)) /* decompressed */
#define KALAM_PARQUET_STAT_MAX       256  /* longest min/max kept, bytes */

/* Writer options; a zeroed struct (or NULL) means the defaults. */
typedef struct KalamParquetOptions KalamParquetOptions;
struct KalamParquetOptions {
  sqlite3_int64 nGroupRows;  /* rows per row group at most */
  sqlite3_int64 nGroupBytes; /* staged value bytes per row group at most */
  int nPageRows;             /* values per data page at most */
  int nPageBytes;            /* value bytes per data page, roughly */
  int iZstdLevel;            /* 0: zstd's default level */
  int bUncompressed;         /* write pages without compression */
};

/* parquet_write.c: rows in, one file out. Open creates "<zPath>.tmp";
** Add buffers a row (nCol values, in column order, each of its column's
** type or NULL) and writes a row group when one is full; Finish writes
** the last group and the footer, syncs, renames the file to zPath and
** syncs its directory. Free closes and, unless Finish succeeded, removes
** the temporary file. Errors come as an SQLite code and a message in
** *pzErr (sqlite3_free it); after one, every call returns it again. */
typedef struct KalamParquetWriter KalamParquetWriter;
int kalamParquetWriterOpen(const char *zPath, const KalamParquetColumn *aCol,
                           int nCol, const KalamParquetOptions *pOpt,
                           KalamParquetWriter **pp, char **pzErr);
int kalamParquetWriterMeta(KalamParquetWriter *p, const char *zKey,
                           const char *zValue);
int kalamParquetWriterAdd(KalamParquetWriter *p, const KalamValue *aVal,
                          char **pzErr);
int kalamParquetWriterFinish(KalamParquetWriter *p, sqlite3_int64 *pnBytes,
                             char **pzErr);
void kalamParquetWriterFree(KalamParquetWriter *p);

/* parquet_footer.c: the columns of a table's files. */
int kalamParquetColumnsFromSchema(const KalamSchema *pSchema,
                                  KalamParquetColumn **paCol, int *pnCol);

/************************************************************************
** Interface to parquet_read.c and parquet_chunk.c: kalam's Parquet files
** read back. A function that can fail returns an SQLite code and sets
** *pzErr to a message naming the file (sqlite3_free it): SQLITE_CORRUPT
** for a damaged file or one kalam's writer would not make, SQLITE_IOERR,
** SQLITE_CANTOPEN, SQLITE_NOMEM.
*/

/* parquet_read.c: a file's footer, checked whole at open against the
** file's size; its columns, row groups and statistics. Open keeps the
** file open (OpenMemory borrows a[], which must outlive the handle);
** Close frees everything the handle owns. */
typedef struct KalamParquetFile KalamParquetFile;
typedef struct KalamParquetChunk KalamParquetChunk;
typedef struct KalamParquetStats KalamParquetStats;
struct KalamParquetStats {
  int bNullCount;            /* nNull is known */
  sqlite3_int64 nNull;
  int bMinMax;               /* min and max are known (never for ANY) */
  KalamValue min, max;       /* borrowed from the file: valid until Close */
};
int kalamParquetOpen(const char *zPath, KalamParquetFile **pp, char **pzErr);
int kalamParquetOpenMemory(const char *zName, const void *a, size_t n,
                           KalamParquetFile **pp, char **pzErr);
void kalamParquetClose(KalamParquetFile *p);
sqlite3_int64 kalamParquetRowCount(const KalamParquetFile *p);
int kalamParquetColumnCount(const KalamParquetFile *p);
const KalamParquetColumn *kalamParquetColumnInfo(const KalamParquetFile *p,
                                                 int iCol);
int kalamParquetColumnByFieldId(const KalamParquetFile *p, int iFieldId);
const char *kalamParquetMetaValue(const KalamParquetFile *p,
                                  const char *zKey);
int kalamParquetGroupCount(const KalamParquetFile *p);
sqlite3_int64 kalamParquetGroupRows(const KalamParquetFile *p, int iGroup);
void kalamParquetGroupStats(const KalamParquetFile *p, int iGroup, int iCol,
                            KalamParquetStats *pOut);

/* parquet_chunk.c: one column of one row group decoded at a time (only
** the columns a scan asks for are read). A chunk is freed with ChunkFree
** before its file is closed; ChunkValue's TEXT and BLOB values borrow
** from the chunk, and an ANY value may own memory (kalamValueClear). */
int kalamParquetReadChunk(KalamParquetFile *p, int iGroup, int iCol,
                          KalamParquetChunk **pp, char **pzErr);
sqlite3_int64 kalamParquetChunkRows(const KalamParquetChunk *p);
int kalamParquetChunkValue(const KalamParquetChunk *p, sqlite3_int64 iRow,
                           KalamValue *pOut, char **pzErr);
void kalamParquetChunkFree(KalamParquetChunk *p);
/* The decoded slots, for scans that read numbers row after row: per row
** the integer (INTEGER, TIMESTAMP, BOOLEAN) or the double's bits (REAL);
** *paNull gets the per-row NULL flags, or NULL for a REQUIRED column.
** Both belong to the chunk. */
const sqlite3_int64 *kalamParquetChunkSlots(const KalamParquetChunk *p,
                                            const unsigned char **paNull);

/************************************************************************
** Interface to segment.c: the records of a table's cold files (segments)
** in its column family, and the folder names of the cold tier
** (docs/cold.md, "The cold tier in a store").
*/
#define KALAM_TAG_COLD 'f'   /* <owner> 'f' <file number>: a segment */
#define KALAM_TAG_GONE 'g'   /* <owner> 'g' <row id>: removed, cold too */
typedef struct KalamSegment KalamSegment;
struct KalamSegment {
  sqlite3_int64 iNum;        /* file number: a snowflake id of its flush */
  sqlite3_int64 nRows;
  sqlite3_int64 iMinSeq, iMaxSeq;
  sqlite3_int64 nBytes;
  sqlite3_int64 iMinRowid, iMaxRowid;
  char *zRel;                /* path relative to the store directory */
  char *zPath;               /* absolute path (both sqlite3_free) */
};
void kalamColdNameEncode(KalamBuf *p, const char *zName, int n, int bLower);
int kalamSegmentKey(char *aOut, const char *aPrefix, int nPrefix,
                    sqlite3_int64 iNum);
void kalamSegmentEncode(KalamBuf *p, const KalamSegment *pSeg);
int kalamSegmentDecode(const char *zKey, size_t nKey, int nPrefix,
                       const char *zVal, size_t nVal, const char *zDir,
                       KalamSegment *pSeg);
void kalamSegmentClear(KalamSegment *pSeg);
void kalamSegmentListFree(KalamSegment *aSeg, int nSeg);
int kalamSegmentList(KalamView *pView, KalamStore *pStore, KalamCf *pCf,
                     const char *aPrefix, int nPrefix, const char *zTable,
                     KalamSegment **paSeg, int *pnSeg, char **pzErr);
int kalamColdOwners(KalamStore *pStore, KalamCf *pCf, const char *zTable,
                    int (*xOwner)(void*, const char*, int, char**),
                    void *pArg, char **pzErr);
int kalamColdAny(KalamStore *pStore, KalamCf *pCf, int eKind,
                 const char *zTable, int *pbAny, char **pzErr);
int kalamColdUserRows(KalamStore *pStore, KalamCf *pCf, const char *zUser,
                      sqlite3_int64 *pn, char **pzErr);

/************************************************************************
** Interface to flush.c: moving a table's rows to Parquet files
** (kalam_flush, flush_policy), and removing the files a crash left
** unpublished.
*/
int kalamFlushTable(KalamTable *pTab, const char *aPrefix, int nPrefix,
                    sqlite3_int64 nMax, sqlite3_int64 *pnMoved,
                    char **pzErr);
#define KALAM_FLUSH_STEP 65536  /* rows a policy's flush moves at most */
int kalamFlushPolicyParse(const char *z, sqlite3_int64 *pnRows,
                          sqlite3_int64 *pnInterval);
int kalamFlushPolicy(KalamTable *pTab, char **pzErr);
int kalamColdSweep(KalamTable *pTab, char **pzErr);
int kalamColdRemoveFolder(KalamStore *pStore, const char *zTable,
                          const char *zUser);
int kalamColdCopy(KalamStore *pStore, const char *zDestStore, char **pzErr);
int kalamFlushRegister(sqlite3 *db, KalamConn *pConn);

/************************************************************************
** Interface to cold_read.c: a table's rows as one connection sees them,
** hot and cold merged. A row key with no hot row is looked for in the
** owner's segments (newest file first); scans (cold_scan.c) merge the hot
** rows with every segment's rows in row id order, a hot row winning over
** a cold one and a newer file over an older one.
*/

/* One open cold file, its columns mapped to the table's by field id, with
** the column chunks of one row group decoded as they are asked for
** (kalamColdChunk): a scan that needs two columns decodes two. */
typedef struct KalamColdFile KalamColdFile;
struct KalamColdFile {
  KalamParquetFile *pFile;
  int nCol;            /* table columns when opened (aiCol's size) */
  int *aiCol;          /* per table column: the file's column, or -1 */
  int iRowid, iSeq, iDel;
  KalamParquetChunk **apChunk;  /* the current group: one per file column,
                                ** NULL until decoded */
  const sqlite3_int64 **apSlot;  /* per file column: its chunk's slots
                                 ** (kalamParquetChunkSlots), or NULL */
  const unsigned char **apNull;  /* ... and its NULL flags */
  unsigned char *aType;          /* per file column: its KALAM_TYPE_* */
  int nChunk;
  int iGroup;          /* the group apChunk holds, or -1 */
  sqlite3_int64 nRow;  /* its rows */
  const sqlite3_int64 *aRowid;  /* its _rowid column, once decoded */
  sqlite3_int64 *pnChunks;      /* counts chunks decoded, or NULL */
};
int kalamColdFileOpen(const KalamSchema *pSchema, const KalamSegment *pSeg,
                      KalamColdFile *f, char **pzErr);
void kalamColdFileClose(KalamColdFile *f);
int kalamColdGroupRead(KalamColdFile *f, int iGroup, int bAll, char **pzErr);
int kalamColdChunk(KalamColdFile *f, int iFileCol, char **pzErr);
sqlite3_int64 kalamColdInt(KalamColdFile *f, int iFileCol, sqlite3_int64 iRow);
int kalamColdGroupOverlaps(KalamColdFile *f, int iGroup, sqlite3_int64 iLo,
                           sqlite3_int64 iHi);
sqlite3_int64 kalamColdSearch(KalamColdFile *f, sqlite3_int64 iRowid,
                              int bAfter);
int kalamColdEncode(const KalamSchema *pSchema, KalamColdFile *f,
                    sqlite3_int64 iRow, KalamBuf *p, char **pzErr);
int kalamColdHasTier(KalamTable *pTab);
int kalamColdIsGone(KalamTable *pTab, const char *aPrefix, int nPrefix,
                    sqlite3_int64 iRowid, int *pbGone, char **pzErr);
int kalamColdGoneKey(char *aOut, const char *aPrefix, int nPrefix,
                     sqlite3_int64 iRowid);
int kalamRowGone(KalamTable *pTab, const char *aPrefix, int nPrefix,
                 sqlite3_int64 iRowid, char **pzErr);
int kalamColdPurge(KalamStore *pStore, KalamCf *pCf, const char *aPrefix,
                   int nPrefix, sqlite3_int64 iBeforeMs, KalamBatch *pBatch,
                   int (*xGone)(void*, const char*, int, int, sqlite3_int64),
                   void *pArg, char **pzErr);
int kalamColdMask(KalamStore *pStore, KalamCf *pCf, const char *zKey,
                  size_t nKey, int nPrefix, KalamBatch *pBatch, char **pzErr);
int kalamRowRead(KalamTable *pTab, const char *aPrefix, int nPrefix,
                 sqlite3_int64 iRowid, const char **pzVal, size_t *pnVal,
                 KalamPin **ppPin, char **pzCopy, char **pzErr);
int kalamRowReadCopy(KalamTable *pTab, const char *aPrefix, int nPrefix,
                     sqlite3_int64 iRowid, char **pzVal, size_t *pnVal,
                     char **pzErr);
typedef struct KalamColdCache KalamColdCache;
void kalamColdCacheFree(KalamColdCache *p);

/************************************************************************
** Interface to cold_scan.c: scans of a table's rows in row id order, hot
** and cold merged. kalamRowIterScan (the cursor's) reads a cold row column
** by column from the decoded chunks (kalamRowIterCold, _Column);
** kalamRowIterNew hands every row as the row codec's JSON
** (kalamRowIterValue). Row groups are skipped by their statistics: _rowid
** always, and _seq, the PRIMARY KEY and _deleted by a KalamColdFilter.
*/

/* What a scan can tell the cold files in advance: bounds its rows must
** meet, loose (a row outside them may still be returned, SQLite tests
** every constraint again), used only to pass over row groups whose
** statistics show that no row of theirs can meet them. */
typedef struct KalamColdFilter KalamColdFilter;
struct KalamColdFilter {
  sqlite3_int64 iSeqLo, iSeqHi;  /* _seq bounds, both included */
  int bKeyLo, bKeyHi;            /* PRIMARY KEY bounds (not a row id key) */
  KalamValue keyLo, keyHi;       /* borrowed from the caller */
  int bLive;                     /* soft-deleted rows are not wanted */
};
void kalamColdFilterInit(KalamColdFilter *p);

/* The bits of THE PLAN ENCODING (plan.c) that only cold scans use: with a
** scan plan (no PLAN_EQ, no PLAN_INDEX), bits 16-22 pass bounds on _seq
** and on a PRIMARY KEY that is not the row id (key bounds are taken as
** inclusive: loose is enough). Their arguments follow
** TS_HI's in argv, in this order: SEQ_LO, SEQ_HI, KEY_LO, KEY_HI. */
#define KALAM_PLAN_SEQ_LO 0x010000  /* _seq > or >= argv[SEQ_LO] */
#define KALAM_PLAN_SEQ_HI 0x020000  /* _seq < or <= argv[SEQ_HI] */
#define KALAM_PLAN_SEQ_EQ 0x040000  /* with SEQ_LO: _seq = argv[SEQ_LO] */
#define KALAM_PLAN_KEY_LO 0x080000  /* key > or >= argv[KEY_LO] */
#define KALAM_PLAN_KEY_HI 0x100000  /* key < or <= argv[KEY_HI] */
#define KALAM_PLAN_SEQ_LO_GT 0x200000  /* SEQ_LO is strict (>) */
#define KALAM_PLAN_SEQ_HI_LT 0x400000  /* SEQ_HI is strict (<) */

typedef struct KalamRowIter KalamRowIter;
KalamRowIter *kalamRowIterNew(KalamTable *pTab, const char *aPrefix,
                              int nPrefix, sqlite3_int64 iLo,
                              sqlite3_int64 iHi, int bDesc, int flags,
                              int *pRc, char **pzErr);
KalamRowIter *kalamRowIterScan(KalamTable *pTab, const char *aPrefix,
                               int nPrefix, sqlite3_int64 iLo,
                               sqlite3_int64 iHi, int bDesc, int flags,
                               const KalamColdFilter *pFilter,
                               int *pRc, char **pzErr);
void kalamRowIterFree(KalamRowIter *p);
int kalamRowIterValid(KalamRowIter *p);
void kalamRowIterNext(KalamRowIter *p);
const char *kalamRowIterKey(KalamRowIter *p, size_t *pn);
const char *kalamRowIterValue(KalamRowIter *p, size_t *pn);
sqlite3_int64 kalamRowIterRowid(KalamRowIter *p);
int kalamRowIterError(KalamRowIter *p, char **pzErr);
int kalamRowIterCold(KalamRowIter *p, sqlite3_int64 *piRowid,
                     int *pbDeleted);
int kalamRowIterColumn(KalamRowIter *p, int iCol, sqlite3_context *ctx);
int kalamColdStatsRegister(sqlite3 *db, KalamConn *pConn);

/************************************************************************
** Interface to segments.c: the kalam_segments table.
*/
int kalamSegmentsRegister(sqlite3 *db, KalamConn *pConn);

#endif /* KALAM_COLD_H */
