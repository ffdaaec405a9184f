/*
** kalam_int.h — the internal interfaces shared by kalam's source files.
**
** One section per file (or pair of files), headed "Interface to X.c", in
** the order of the layers, lowest first: each file calls only the
** sections above its own. docs/architecture.md has the map.
**
** Object lifetimes, from the longest lived:
**
**   KalamStore   one open RocksDB directory (store.c, store_path.c).
**                Process-wide, kept
**                in a mutex-guarded registry by real path and
**                reference-counted, so every connection of the process
**                that opens the same database file shares one store
**                (RocksDB allows one opener per directory). Memory
**                stores (databases without a file) are registered
**                under a key naming their database, shared by exactly
**                the connections that share that database.
**   KalamConn    one per sqlite3* connection (conn.c): the current user,
**                the lock flag and the list of KalamDb. It is the pAux of
**                every kalam module and function, reference-counted by
**                them, and freed when SQLite drops the last one at
**                sqlite3_close().
**   KalamDb      one per (connection, schema) that uses kalam: a reference
**                on the schema's store plus the connection's write buffer
**                on it (KalamTxn, txn.c). Every kalam table of that schema
**                in that connection shares it, so a transaction over many
**                tables commits in one write.
**   KalamTable   the sqlite3_vtab of one table (table.c); KalamCursor its
**                cursor (cursor.c).
**
** Memory: every pointer a function hands out says who frees it and with
** what. Values read from the store are freed with kalamStoreFree; all
** else comes from sqlite3_malloc and is freed with sqlite3_free unless
** the comment says otherwise.
*/
#ifndef KALAM_INT_H
#define KALAM_INT_H

#include <sqlite3ext.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <assert.h>

#include "../include/kalam.h"

/* One source of the version: include/kalam.h (and CHANGELOG.md agrees). */
#define KALAM_VERSION_STRING KALAM_VERSION

typedef struct KalamBuf KalamBuf;
typedef struct KalamValue KalamValue;
typedef struct KalamColumn KalamColumn;
typedef struct KalamSchema KalamSchema;
typedef struct KalamSysColumn KalamSysColumn;
typedef struct KalamRow KalamRow;
typedef struct KalamStore KalamStore;
typedef struct KalamCf KalamCf;
typedef struct KalamPin KalamPin;
typedef struct KalamBatch KalamBatch;
typedef struct KalamStoreIter KalamStoreIter;
typedef struct KalamFileWriter KalamFileWriter;
typedef struct KalamView KalamView;
typedef struct KalamCatalogEntry KalamCatalogEntry;
typedef struct KalamConn KalamConn;
typedef struct KalamDb KalamDb;
typedef struct KalamTxn KalamTxn;
typedef struct KalamIter KalamIter;
typedef struct KalamTable KalamTable;
typedef struct KalamCursor KalamCursor;

#include "buf.h"

/************************************************************************
** Interface to number.c: numbers read from text, exactly.
*/

/* Each returns 1 when all of z[0..n) is such a number (surrounding spaces
** allowed), else 0. */
int kalamParseInt(const char *z, int n, sqlite3_int64 *piOut);
int kalamParseDouble(const char *z, int n, double *prOut);
/* ISO-8601 date/time text to milliseconds since the Unix epoch. */
int kalamParseTimestamp(const char *z, int n, sqlite3_int64 *piOut);

/************************************************************************
** Interface to snowflake.c: 64-bit ids, 41 bits of milliseconds since
** KALAM_EPOCH_MS, 10 bits of node, 12 bits of sequence. Ids from one
** process only ever grow.
*/
#define KALAM_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
sqlite3_int64 kalamSnowflakeNext(void);
sqlite3_int64 kalamSnowflakeMin(sqlite3_int64 ms); /* smallest id of ms */
sqlite3_int64 kalamSnowflakeMs(sqlite3_int64 id);  /* Unix ms of an id */
sqlite3_int64 kalamNowMs(void);

/************************************************************************
** Interface to schema.c and column.c: table kinds, column types, the
** system columns, and the CREATE VIRTUAL TABLE argument list parsed into a
** KalamSchema (column.c reads one column definition).
*/

/* Column types, as declared (aliases folded in). */
#define KALAM_TYPE_ANY       0
#define KALAM_TYPE_TEXT      1
#define KALAM_TYPE_INTEGER   2
#define KALAM_TYPE_REAL      3
#define KALAM_TYPE_BOOLEAN   4
#define KALAM_TYPE_TIMESTAMP 5
#define KALAM_TYPE_JSON      6
#define KALAM_TYPE_BLOB      7

/* Table kinds; the module names are kalamKindName's. */
#define KALAM_KIND_SHARED 0
#define KALAM_KIND_USER   1
#define KALAM_KIND_STREAM 2
const char *kalamKindName(int eKind);
int kalamKindFromName(const char *zName);   /* -1 if not a kind's name */
const char *kalamTypeName(int eType);

/* A value converted to its column's type, ready to be written. Text and
** blob pointers borrow from the sqlite3_value or from zOwned. Cleared
** with kalamValueClear (value.c). */
struct KalamValue {
  int eType;           /* SQLITE_NULL, _INTEGER, _FLOAT, _TEXT, _BLOB */
  sqlite3_int64 i;
  double r;
  const char *z;       /* TEXT: UTF-8; BLOB: bytes; JSON: compact text */
  int n;
  int bJson;           /* z is JSON text to be embedded as-is */
  char *zOwned;        /* freed by kalamValueClear (sqlite3_free) */
};

struct KalamColumn {
  char *zName;        /* as declared, without quotes */
  int nName;          /* strlen(zName) */
  char *zDeclType;    /* the type as written, for kalam_tables */
  int eType;          /* KALAM_TYPE_* */
  int bNotNull;
  int bPk;            /* declared PRIMARY KEY */
  char *zDefault;     /* the DEFAULT clause's SQL literal, or NULL */
  KalamValue dflt;    /* the DEFAULT's value; eType SQLITE_NULL if none */
  char *zJsonKey;     /* "name": as the row codec writes it, escaped once */
  int nJsonKey;
  int bDefaultNow;    /* DEFAULT CURRENT_TIMESTAMP */
  int bUnique;        /* declared UNIQUE (the index is in aIndex) */
  int iId;            /* stable id: kept across RENAME, never reused after
                      ** DROP (kalam_alter); the cold tier's field_id */
};

/* A UNIQUE constraint or an INDEX(...) item: its entries are kept by
** index.c under its number, in the key layout of keys.c. Numbers go 1, 2,
** ... in the order the CREATE arguments declare them (a column's UNIQUE
** where the column is), and are recorded in the catalog, so that a later
** schema change can add one with a number never used before. */
#define KALAM_MAX_INDEX         64   /* indexes per table */
#define KALAM_MAX_INDEX_COLUMNS 32   /* columns per index */
typedef struct KalamIndex KalamIndex;
struct KalamIndex {
  int iNum;           /* its number in keys, 1..65535 */
  int bUnique;        /* no two live rows share a key without NULLs */
  int nCol;
  int aiCol[KALAM_MAX_INDEX_COLUMNS];  /* its columns, by place in aCol */
};


struct KalamSchema {
  char *zTable;       /* table name */
  int eKind;          /* KALAM_KIND_* */
  int nCol;           /* user columns */
  KalamColumn *aCol;
  int iPk;            /* index of the PRIMARY KEY column, or -1 */
  int bIntPk;         /* the PK is INTEGER: an alias of the row id */
  char *zFlushPolicy; /* 'rows:N', 'interval:S', 'rows:N,interval:S', NULL */
  sqlite3_int64 nFlushRows;      /* N, or 0 */
  sqlite3_int64 nFlushInterval;  /* S, or 0 */
  sqlite3_int64 nRetentionHours; /* deleted_retention_hours, 0 = keep */
  sqlite3_int64 nTtlSeconds;     /* streams only */
  int bUtf8;          /* the database's text is UTF-8 (set at connect): a
                      ** TEXT value for a TEXT column is taken as it is,
                      ** not NUL-terminated first (kalamValueConvert), and
                      ** text in an index sorts as SQLite sorts it */
  int nIndex;         /* UNIQUE constraints and INDEX items */
  KalamIndex *aIndex;
  int bPerUser;       /* a stream with per_user=1: its rows belong to users */
  int nIndexBeforePk; /* how many of them the CREATE declares before the
                      ** PRIMARY KEY: SQLite checks unique keys newest
                      ** first, the key in its place among them */
  int iNextColumnId;  /* the id the next added column gets (column_ids=) */
  int iNextIndexId;   /* the number the next added index gets (index_ids=) */
};

/* The system columns. Each kind declares its list after the user columns,
** as HIDDEN columns in this order, and the row codec writes them last in
** each row in the same order. iSlot says where a decoded row keeps the
** value (KalamRow.aSys): a stream's _ts shares _updated's slot, because
** both are "the time of the write". */
#define KALAM_SYS_SEQ     0
#define KALAM_SYS_UPDATED 1
#define KALAM_SYS_DELETED 2
#define KALAM_SYS_COUNT   3
struct KalamSysColumn {
  const char *zName;  /* "_seq", ... */
  int nName;
  const char *zKey;   /* how a row writes it: ,"_seq": */
  int iSlot;          /* KALAM_SYS_* */
};
/* Whether a table's rows belong to users, each under the owner prefix of
** its user (keys.c): kalam_user tables and per_user=1 streams. */
#define kalamSchemaOwned(p) \
  ((p)->eKind==KALAM_KIND_USER || (p)->bPerUser)
int kalamSysColumns(int eKind, const KalamSysColumn **paCol);
int kalamSysColumnFind(int eKind, const char *zName);   /* index, or -1 */
const KalamSysColumn *kalamSysColumnByKey(const char *z, size_t n);

void kalamValueClear(KalamValue *p);
int kalamSchemaParse(int eKind, const char *zTable, int nArg,
                     const char *const *azArg, KalamSchema **ppOut,
                     char **pzErr);
void kalamSchemaFree(KalamSchema *p);
char *kalamSchemaDeclare(const KalamSchema *p);
char *kalamSchemaColumnsJson(const KalamSchema *p);
char *kalamSchemaOptionsJson(const KalamSchema *p);
int kalamSchemaColumnIndex(const KalamSchema *p, const char *zName, int n);
int kalamColumnParse(KalamSchema *p, KalamColumn *pCol, const char *zArg,
                     char **pzErr);
int kalamColumnIsIndexItem(const char *zArg);
int kalamSchemaIsOption(const char *zArg);
int kalamSchemaIsIdOption(const char *zArg);
char *kalamSchemaArguments(const KalamSchema *p, int nOpt,
                           const char *const *azOpt);
void kalamSchemaColumnClear(KalamColumn *pCol);
int kalamColumnIndexItem(const KalamSchema *p, const char *zArg,
                         KalamIndex *pIdx, char **pzErr);

/************************************************************************
** Interface to value.c: SQL values converted to column types (STRICT
** rules), DEFAULTs, JSON validation, base64.
*/
int kalamValueConvert(const KalamSchema *pSchema, int iCol,
                      sqlite3_value *pIn, KalamValue *pOut, char **pzErr);
int kalamValueConvertFrom(const KalamSchema *pSchema, int iCol,
                          const KalamValue *pIn, KalamValue *pOut,
                          char **pzErr);
int kalamValueDefault(const KalamSchema *pSchema, int iCol, KalamValue *pOut,
                      char **pzErr);
int kalamValueCheckDefaults(const KalamSchema *pSchema, char **pzErr);
void kalamValueResult(sqlite3_context *ctx, KalamValue *v);
int kalamJsonValid(const char *z, int n);
void kalamBase64Encode(KalamBuf *p, const unsigned char *a, int n);
int kalamBase64Decode(const char *z, int n, unsigned char *aOut);

/************************************************************************
** Interface to row.c: the row codec. A row is one JSON object, written by
** hand and read lazily.
*/

/* A decoded row: the JSON text and, per column, where its value lies.
** System column values are kept decoded because every read wants them. */
#define KALAM_ROW_SCANNING 0
#define KALAM_ROW_DONE     1
#define KALAM_ROW_CORRUPT  2
struct KalamRow {
  const char *z;        /* the row's JSON text (not owned) */
  size_t n;
  int nCol;
  int *aOff;            /* per user column: offset of its value, or -1 */
  int *aLen;            /* per user column: length of its value text */
  sqlite3_int64 aSys[KALAM_SYS_COUNT]; /* valid once eState is DONE */
  int nAlloc;
  long iScan;           /* where the scan goes on from */
  int iHint;            /* the column the next key most likely is */
  int eState;           /* KALAM_ROW_* */
  sqlite3_int64 iRowid; /* for messages; set by the caller */
};
int kalamRowParse(KalamRow *pRow, const KalamSchema *pSchema,
                  const char *z, size_t n);
int kalamRowOpen(KalamRow *pRow, const KalamSchema *pSchema,
                 const char *z, size_t n);
int kalamRowSystem(KalamRow *pRow, const KalamSchema *pSchema, int iSlot,
                   sqlite3_int64 *piOut);
void kalamRowFree(KalamRow *pRow);
int kalamRowColumn(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   KalamValue *pOut, char **pzErr);
int kalamRowResult(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   sqlite3_context *ctx);
int kalamRowIsDeleted(const char *z, size_t n);
int kalamRowAnyValue(const char *z, int n, KalamValue *pOut);
sqlite3_int64 kalamRowSeq(const char *z, size_t n);
int kalamRowUserJson(const KalamSchema *pSchema, const KalamRow *pRow,
                     char **pz, int *pn, char **pzErr);
/* The subtype SQLite's JSON functions know JSON text by ('J'), so that
** row -> 'x' reads a row column as JSON, not as a string. */
#define KALAM_JSON_SUBTYPE 74
char *kalamRowCorruptMessage(const KalamSchema *pSchema, sqlite3_int64 iRowid);
void kalamRowEncodeBegin(KalamBuf *p);
void kalamRowEncodeValue(KalamBuf *p, const KalamColumn *pCol,
                         const KalamValue *pVal, int bFirst);
void kalamRowValueText(KalamBuf *p, int eType, const KalamValue *pVal);
void kalamRowEncodeRaw(KalamBuf *p, const KalamColumn *pCol,
                       const char *z, int n, int bFirst);
void kalamRowEncodeEnd(KalamBuf *p, int eKind, sqlite3_int64 iSeq,
                       sqlite3_int64 iTime, int bDeleted);

/************************************************************************
** Interface to keys.c: the key layout of a table's column family. Every
** key and key range kalam reads or writes is built here.
**
**   row:   <owner prefix> 'r' <8-byte big-endian rowid, sign bit flipped>
**   key:   <owner prefix> 'k' <type byte> <primary key value>
**   index: <owner prefix> 'x' <2-byte index number> <values> [<rowid>]
**   change: <owner prefix> 's' <8-byte _seq>  ->  rowid (shared, user)
**   horizon: <owner prefix> 'h' <8-byte _seq> (the feed's resync point)
**
** The owner prefix is empty for shared and stream tables and
** <1 byte length><user id> for kalam_user tables. keys.c's header has the
** order-preserving encoding of index values.
*/
#define KALAM_TAG_ROW 'r'
#define KALAM_TAG_KEY 'k'
#define KALAM_TAG_INDEX 'x'
#define KALAM_TAG_SEQ 's'
#define KALAM_TAG_HORIZON 'h'
#define KALAM_TAG_EXPIRY 't'
#define KALAM_TAG_CONSUMER 'c'
/* The owner prefix of keys that belong to the table rather than to one
** user of it: a length byte of 0, which no user's prefix has. */
#define KALAM_TABLE_PREFIX "\x00"
#define KALAM_MAX_USER 128
#define KALAM_MAX_PREFIX (1 + KALAM_MAX_USER)
#define KALAM_ROWKEY_MAX (KALAM_MAX_PREFIX + 1 + 8)
/* A bound of a tag's or an owner's range: a prefix and one byte. */
#define KALAM_BOUND_MAX (KALAM_MAX_PREFIX + 1)

int kalamKeyPrefix(char *aOut, const char *zUser); /* returns length */
int kalamKeyOwnerLength(const char *aKey, size_t nKey);
/* RocksDB's bytewise order of keys: memcmp, then the shorter first. Inline,
** because sorts and merging iterators call it per key. */
static inline int kalamKeyCmp(const char *a, size_t na,
                              const char *b, size_t nb){
  int c = memcmp(a, b, na<nb ? na : nb);
  if( c ) return c;
  return na<nb ? -1 : (na>nb);
}
int kalamKeyNumbered(char *aOut, const char *aPrefix, int nPrefix, char cTag,
                     sqlite3_int64 i);
int kalamKeyNumberedDecode(const char *aKey, size_t nKey, int nPrefix,
                           char cTag, sqlite3_int64 *pi);
int kalamKeyRow(char *aOut, const char *aPrefix, int nPrefix,
                sqlite3_int64 iRowid);
int kalamKeyRowEnd(char *aOut, const char *aPrefix, int nPrefix,
                   sqlite3_int64 iHi);
#define KALAM_EXPIRYKEY_MAX (10 + KALAM_MAX_PREFIX)
int kalamKeyExpiry(char *aOut, sqlite3_int64 iRowid, const char *aPrefix,
                   int nPrefix);
int kalamKeyExpiryDecode(const char *aKey, size_t nKey, sqlite3_int64 *piRowid,
                         const char **paPrefix, int *pnPrefix);
int kalamKeyRowDecode(const char *aKey, size_t nKey, int nPrefix,
                      sqlite3_int64 *piRowid);
void kalamKeyIndex(KalamBuf *p, const char *aPrefix, int nPrefix,
                   const KalamValue *pVal);
void kalamKeyTagRange(const char *aPrefix, int nPrefix, char cTag,
                      char *aLo, int *pnLo, char *aHi, int *pnHi);
void kalamKeyOwnerRange(const char *aPrefix, int nPrefix,
                        char *aLo, int *pnLo, char *aHi, int *pnHi);
/* Index entries: the prefix of index iNum's entries, one value in
** SQLite's order, a row id, the length of one encoded value (-1 if
** damaged), and the exclusive end of the keys starting with p (0 if none). */
void kalamKeyIndexBegin(KalamBuf *p, const char *aPrefix, int nPrefix,
                        int iNum);
void kalamKeyValue(KalamBuf *p, const KalamValue *pVal);
void kalamKeyAppendRowid(KalamBuf *p, sqlite3_int64 iRowid);
int kalamKeyValueLength(const char *a, size_t n);
int kalamKeySuccessor(KalamBuf *p);

/************************************************************************
** Interface to index.c: UNIQUE constraints and secondary indexes, their
** entries and the key ranges constraints on them read.
*/

/* The entry keys of one row, one per index of its schema, back to back.
** Kept on the stack by writers; buf is freed with kalamIndexKeysFree. */
typedef struct KalamIndexKeys KalamIndexKeys;
struct KalamIndexKeys {
  KalamBuf buf;                            /* the keys */
  int nKey;
  int aEnd[KALAM_MAX_INDEX];               /* key i ends at aEnd[i] */
  unsigned char abSingle[KALAM_MAX_INDEX]; /* a UNIQUE key without NULL: no
                                           ** row id in it, one row holds it */
};
void kalamIndexKeysInit(KalamIndexKeys *p);
void kalamIndexKeysFree(KalamIndexKeys *p);
int kalamIndexKeys(const KalamSchema *pSchema, const char *aPrefix,
                   int nPrefix, const KalamRow *pRow, sqlite3_int64 iRowid,
                   KalamIndexKeys *p, char **pzErr);
const char *kalamIndexKey(const KalamIndexKeys *p, int i, int *pn);
int kalamIndexKeySame(const KalamIndexKeys *a, const KalamIndexKeys *b,
                      int i);
char *kalamIndexColumnList(const KalamSchema *pSchema, int i);

/* What constraints and ORDER BY on a column an index can serve. */
#define KALAM_INDEX_USE_EQ    0x01
#define KALAM_INDEX_USE_RANGE 0x02
#define KALAM_INDEX_USE_ORDER 0x04
int kalamIndexColumnUse(const KalamSchema *pSchema, int iCol);
int kalamIndexValueExact(const KalamSchema *pSchema, int iCol, int eValue);

/* A constraint value encoded for an index range. */
#define KALAM_INDEX_VALUE_OK      0
#define KALAM_INDEX_VALUE_NULL    1   /* NULL: no comparison is true */
#define KALAM_INDEX_VALUE_INEXACT 2   /* cannot be used: widen the range */
#define KALAM_INDEX_VALUE_NOMEM   3
int kalamIndexValue(const KalamSchema *pSchema, int iCol,
                    sqlite3_value *pVal, KalamBuf *p);
#define KALAM_INDEX_LO    0x01   /* a lower bound follows the equalities */
#define KALAM_INDEX_LO_GT 0x02   /*   ... strict */
#define KALAM_INDEX_HI    0x04   /* an upper bound follows */
#define KALAM_INDEX_HI_LT 0x08   /*   ... strict */
int kalamIndexRange(const KalamSchema *pSchema, int iIndex,
                    const char *aPrefix, int nPrefix, int nEq, int flags,
                    sqlite3_value **argv, KalamBuf *pLo, KalamBuf *pHi,
                    int *pbEmpty, int *pbWhole);

/************************************************************************
** Interface to store.c, store_path.c and store_io.c: the storage layer,
** the only code that calls RocksDB (store_path.c names stores and calls
** none). Handles are opaque here (store_int.h has the structs).
*/

/* store.c: stores, their registry and column families (store_path.c: which
** store a database has). */
int kalamStoreAcquire(sqlite3 *db, const char *zSchema, int bCreate,
                      KalamStore **pp, char **pzErr);
void kalamStoreRelease(KalamStore *p);
int kalamStoreIsFor(KalamStore *p, sqlite3 *db, const char *zSchema);
void kalamStoreForget(KalamStore *p);
int kalamStoreHasFile(sqlite3 *db, const char *zSchema);
const char *kalamStorePath(const KalamStore *p);
int kalamStoreIsMemory(const KalamStore *p);
int kalamStoreReadOnly(KalamStore *p, long *piOwner);
int kalamStoreCatchUp(KalamStore *p, char **pzErr);
int kalamStoreWriteRefused(KalamStore *p, char **pzErr);
#define KALAM_REFRESH_OWN   0x01  /* may become the owner: it may write */
#define KALAM_REFRESH_IDLE  0x02  /* nothing of the caller reads the store */
int kalamStoreRefresh(KalamStore *p, int flags, char **pzErr);
int kalamStoreCopy(KalamStore *p, const char *zDir, char **pzErr);
void kalamStoreDirRemove(const char *zDir);
KalamCf *kalamStoreCatalog(KalamStore *p);
KalamCf *kalamStorePrepared(KalamStore *p);
int kalamStoreShared(KalamStore *p);
void kalamStorePendingMark(KalamStore *p);
int kalamStorePendingTake(KalamStore *p);
int kalamStoreCfCreate(KalamStore *p, const char *zName, KalamCf **pp,
                       char **pzErr);
KalamCf *kalamStoreCfFind(KalamStore *p, const char *zName);
int kalamStoreCfNames(KalamStore *p, char ***pazName, int *pn);
const char *kalamStoreCfName(const KalamCf *pCf);
void kalamStoreCfRelease(KalamStore *p, KalamCf *pCf);
int kalamStoreCfDrop(KalamStore *p, KalamCf *pCf, char **pzErr);

/* store_io.c: point reads and single writes. A read takes the view
** (below) to read at, or NULL for the newest commit. */
void kalamStoreFree(void *p);
char *kalamStoreDup(const char *z, size_t n);
int kalamStoreGet(KalamStore *p, KalamView *pView, KalamCf *pCf,
                  const char *k, size_t nk, char **pzVal, size_t *pnVal,
                  const char *zWhat, char **pzErr);
int kalamStoreGetPinned(KalamStore *p, KalamView *pView, KalamCf *pCf,
                        const char *k, size_t nk, KalamPin **ppPin,
                        const char **pzVal, size_t *pnVal, char **pzErr);
void kalamStorePinFree(KalamPin *pPin);
int kalamStorePut(KalamStore *p, KalamCf *pCf, const char *k, size_t nk,
                  const char *v, size_t nv, int bSync, const char *zWhat,
                  char **pzErr);

/* store_io.c: atomic batches of puts and deletes. */
KalamBatch *kalamBatchNew(void);
void kalamBatchFree(KalamBatch *pBatch);
void kalamBatchPut(KalamBatch *pBatch, KalamCf *pCf, const char *k,
                   size_t nk, const char *v, size_t nv);
void kalamBatchDelete(KalamBatch *pBatch, KalamCf *pCf, const char *k,
                      size_t nk);
void kalamBatchDeleteRange(KalamBatch *pBatch, KalamCf *pCf,
                           const char *aLo, int nLo,
                           const char *aHi, int nHi);
int kalamBatchWrite(KalamStore *p, KalamBatch *pBatch, int bSync,
                    const char *zWhat, char **pzErr);
const char *kalamBatchData(KalamBatch *pBatch, size_t *pn);
KalamBatch *kalamBatchFromData(const char *z, size_t n);

/* store_io.c: iterators over committed keys. */
#define KALAM_ITER_NOCACHE 0x01  /* a one-off read: leave the cache alone */
#define KALAM_ITER_BULK    0x02  /* a large scan: no cache fill, readahead */
KalamStoreIter *kalamStoreIterNew(KalamStore *p, KalamView *pView,
                                  KalamCf *pCf,
                                  const char *aLo, int nLo,
                                  const char *aHi, int nHi, int flags);
void kalamStoreIterFree(KalamStoreIter *pIt);
void kalamStoreIterSeek(KalamStoreIter *pIt, const char *k, size_t n);
void kalamStoreIterSeekForPrev(KalamStoreIter *pIt, const char *k, size_t n);
void kalamStoreIterFirst(KalamStoreIter *pIt);
void kalamStoreIterNext(KalamStoreIter *pIt);
void kalamStoreIterPrev(KalamStoreIter *pIt);
int kalamStoreIterValid(KalamStoreIter *pIt);
const char *kalamStoreIterKey(KalamStoreIter *pIt, size_t *pn);
const char *kalamStoreIterValue(KalamStoreIter *pIt, size_t *pn);
int kalamStoreIterError(KalamStoreIter *pIt, const char *zWhat,
                        char **pzErr);

/* store_io.c: key ranges, compaction, estimates. */
int kalamStoreDeleteRange(KalamStore *p, KalamCf *pCf,
                          const char *aLo, int nLo,
                          const char *aHi, int nHi, int bSync,
                          const char *zWhat, char **pzErr);
void kalamStoreCompactHint(KalamStore *p, KalamCf *pCf,
                           const char *aLo, int nLo,
                           const char *aHi, int nHi);
void kalamStoreCompact(KalamStore *p, KalamCf *pCf,
                       const char *aLo, int nLo,
                       const char *aHi, int nHi);
int kalamStoreFlush(KalamStore *p, KalamCf *pCf, const char *zWhat,
                    char **pzErr);
sqlite3_int64 kalamStoreKeyEstimate(KalamStore *p, KalamCf *pCf);

/* store_io.c: table files for ingestion. Open, Add and Finish may run on
** a thread that must not call SQLite. */
char *kalamIngestFileName(KalamStore *p, const void *pOwner);
void kalamIngestFileRemove(const char *zFile);
KalamFileWriter *kalamFileWriterNew(KalamStore *p, char *zFile);
int kalamFileWriterOpen(KalamFileWriter *w);
int kalamFileWriterAdd(KalamFileWriter *w, const char *k, size_t nk,
                       const char *v, int nv);
int kalamFileWriterFinish(KalamFileWriter *w);
int kalamFileWriterError(KalamFileWriter *w, const char *zWhat,
                         char **pzErr);
char *kalamFileWriterTakeName(KalamFileWriter *w);
void kalamFileWriterFree(KalamFileWriter *w, int bRemove);
int kalamStoreIngest(KalamStore *p, KalamCf *pCf, const char *zFile,
                     const char *zWhat, char **pzErr);
int kalamStoreFileIngested(KalamStore *p, KalamCf *pCf, const char *zFile);



/* store_io.c: views and the order of commits. A view is the store as of
** one commit (a RocksDB snapshot), found by the commit's number, which
** the SQLite file records (commit.c). */
int kalamStoreViewGet(KalamStore *p, sqlite3_int64 iTxn, KalamView **pp,
                      char **pzErr);
void kalamStoreViewRelease(KalamStore *p, KalamView *pView);
sqlite3_int64 kalamStoreViewTxn(const KalamView *pView);
void kalamStoreRowsChanged(KalamStore *p);
sqlite3_int64 kalamStoreEpoch(KalamStore *p);
sqlite3_int64 kalamStoreApplied(KalamStore *p);
int kalamStoreApplyBegin(KalamStore *p, sqlite3_int64 iTxn, int bShare,
                         char **pzErr);
void kalamStoreApplyEnd(KalamStore *p, sqlite3_int64 iTxn);
int kalamStoreSettleBegin(KalamStore *p);
void kalamStoreSettleEnd(KalamStore *p, int bDone, sqlite3_int64 iApplied);
void kalamStoreSettleAgain(KalamStore *p);

/************************************************************************
** Interface to prepared.c: the table files of prepared large transactions
** (plain files beside the store; commit.c has the protocol).
*/
char *kalamPreparedFileName(KalamStore *p, sqlite3_int64 iTxn);
int kalamPreparedFileKeep(const char *zFrom, const char *zTo, char **pzErr);
void kalamPreparedFilesSweep(KalamStore *p,
                             int (*xKeep)(void*, sqlite3_int64), void *pArg);
int kalamPreparedFileTail(const char *zFile, char **pzTail, int *pnTail,
                          sqlite3_int64 *piOff, char **pzErr);
int kalamPreparedFileRestore(const char *zFile, sqlite3_int64 iOff,
                             const char *zTail, int nTail, char **pzErr);

/************************************************************************
** Interface to txn.c, txn_ingest.c and txn_iter.c: a connection's
** transaction on one store, a write buffer over the committed rows
** (txn_int.h has the structs).
*/
/* The last byte of a prepared record's key: what its value holds. */
#define KALAM_PREPARED_BATCH 'b'   /* the batch's bytes */
#define KALAM_PREPARED_FILE  'f'   /* "<column family>\n<table file>\n"
                                   ** <8-byte offset><the file's end> */
KalamTxn *kalamTxnNew(KalamStore *pStore);
void kalamTxnFree(KalamTxn *p);
int kalamTxnIsOpen(const KalamTxn *p);
void kalamTxnSetSync(KalamTxn *p, int bSync);
int kalamTxnBegin(KalamTxn *p);
int kalamTxnHasWrites(const KalamTxn *p);
int kalamTxnPrepare(KalamTxn *p, sqlite3_int64 iTxn, char **pzErr);
int kalamTxnPreparedCurrent(const KalamTxn *p);
sqlite3_int64 kalamTxnPreparedNumber(const KalamTxn *p);
int kalamTxnApply(KalamTxn *p, char **pzErr);
void kalamTxnSetView(KalamTxn *p, KalamView *pView);
void kalamTxnEnd(KalamTxn *p);
int kalamTxnSavepoint(KalamTxn *p, int iSavepoint);
int kalamTxnRelease(KalamTxn *p, int iSavepoint);
int kalamTxnRollbackTo(KalamTxn *p, int iSavepoint, char **pzErr);
void kalamTxnPut(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                 const char *v, size_t nv);
void kalamTxnDelete(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk);
int kalamTxnGet(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                char **pzVal, size_t *pnVal, char **pzErr);
int kalamTxnEachWrite(KalamTxn *p,
                      int (*xWrite)(void*, KalamCf*, const char*, size_t,
                                    const char*, int),
                      void *pArg);
int kalamTxnGetPinned(KalamTxn *p, KalamCf *pCf, const char *k, size_t nk,
                      const char **pzVal, size_t *pnVal, KalamPin **ppPin,
                      char **pzCopy, char **pzErr);

/* txn_iter.c: the committed rows and the buffer, merged. */
KalamIter *kalamTxnIterator(KalamTxn *p, KalamCf *pCf,
                            const char *aLo, int nLo,
                            const char *aHi, int nHi, int flags);
void kalamIterDestroy(KalamIter *pIter);
void kalamIterSeek(KalamIter *p, const char *k, size_t n);
void kalamIterSeekForPrev(KalamIter *p, const char *k, size_t n);
void kalamIterNext(KalamIter *p);
int kalamIterValid(KalamIter *p);
const char *kalamIterKey(KalamIter *p, size_t *pn);
const char *kalamIterValue(KalamIter *p, size_t *pn);
int kalamIterError(KalamIter *p, char **pzErr);

/************************************************************************
** Interface to conn.c: per-connection state.
*/
struct KalamDb {
  KalamConn *pConn;
  char *zSchema;
  KalamStore *pStore;
  KalamTxn *pTxn;            /* the connection's write buffer (txn.c) */
  /* What its reads see (commit.c): the view of commit iViewTxn, chosen
  ** when SQLite's data version of the file was iDataVersion and the
  ** store's epoch iEpoch; held while cursors are open (nCursor). */
  KalamView *pView;
  int bViewKnown;            /* iViewTxn and iDataVersion are set */
  sqlite3_int64 iViewTxn;
  unsigned int iDataVersion;
  sqlite3_int64 iEpoch;
  int nCursor;               /* open cursors of its tables */
  KalamTable *pTables;       /* its connected tables (KalamTable.pNextInDb) */
  KalamDb *pNext;
  int bRetired;              /* its database is gone (DETACH, deserialize):
                             ** kept for the tables that still point at
                             ** it, found by no lookup (conn.c) */
};

struct KalamConn {
  int nRef;
  sqlite3 *db;
  const char *zUser;  /* current user (points at aUser), or NULL */
  char aUser[KALAM_MAX_USER + 1];
  int bLocked;
  sqlite3_int64 iToken; /* process-unique id, marks pending DDL */
  sqlite3_int64 nRowsRead; /* stored rows read by cursors: kalam_rows_read() */
  sqlite3_int64 nColdChunks, nColdSkipped; /* kalam_cold_stats() */
  KalamDb *pDb;
};

KalamConn *kalamConnNew(sqlite3 *db);
void kalamConnRef(KalamConn *p);
void kalamConnUnref(void *p);
int kalamConnDb(KalamConn *p, const char *zSchema, int bCreate,
                KalamDb **ppDb, char **pzErr);
int kalamConnSetUser(KalamConn *p, const char *zUser, int nUser,
                     char **pzErr);
int kalamConnIdValid(const char *z, int n);
int kalamConnIsLive(sqlite3_int64 iToken);
int kalamConnLoaded(sqlite3 *db);
int kalamConnWriteRefused(KalamDb *pDb, char **pzErr);
int kalamUserFunctionsRegister(sqlite3 *db, KalamConn *pConn);

/* An SQL function of kalam's, registered with the KalamConn as user data. */
typedef struct KalamFunc KalamFunc;
struct KalamFunc {
  const char *zName;
  int nArg;
  int flags;           /* SQLITE_DIRECTONLY, SQLITE_INNOCUOUS, ... */
  void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
};
int kalamFunctionsRegister(sqlite3 *db, KalamConn *pConn,
                           const KalamFunc *aFunc, int nFunc);
int kalamFuncError(sqlite3_context *ctx, int rc, char *zErr);

/************************************************************************
** Interface to commit.c: one commit and one snapshot with SQLite's file
** (the two-phase commit, and the view each read transaction sees).
*/
int kalamCommitTableCreate(sqlite3 *db, const char *zSchema, char **pzErr);
int kalamCommitPrepare(KalamDb *pDb, char **pzErr);
int kalamCommitApply(KalamDb *pDb, char **pzErr);
void kalamCommitRollback(KalamDb *pDb);
int kalamCommitView(KalamDb *pDb, char **pzErr);
void kalamCommitViewRelease(KalamDb *pDb);
void kalamCommitViewForget(KalamDb *pDb);
void kalamCrashPoint(const char *zStep);

/************************************************************************
** Interface to catalog.c: one typed entry per table, kept in the store's
** catalog column family as JSON.
*/
struct KalamCatalogEntry {
  char *zName;               /* the table's name, as created or renamed */
  int eKind;                 /* KALAM_KIND_*, or -1 if missing */
  char *zCf;                 /* its column family, or NULL if missing */
  char *zColumns;            /* JSON array text, or NULL */
  char *zOptions;            /* JSON object text, or NULL */
  sqlite3_int64 nTtlSeconds;      /* from the options; 0 if none */
  sqlite3_int64 nRetentionHours;  /* likewise */
  int bPerUser;              /* a stream's per_user=1 */
  sqlite3_int64 iCreated;    /* ms */
  sqlite3_int64 iPending;    /* token of the connection whose open
                             ** transaction made or dropped it, or 0 */
  /* A kalam_alter not yet settled (catalog.c): the CREATE it wrote into
  ** sqlite_schema, and the columns and options from before it. */
  char *zAlterSql;
  char *zPrevColumns;
  char *zPrevOptions;
};
int kalamCatalogEntryNew(const KalamSchema *pSchema, const char *zCf,
                         sqlite3_int64 iPending, KalamCatalogEntry **pp);
void kalamCatalogEntryFree(KalamCatalogEntry *p);
int kalamCatalogRead(KalamStore *p, const char *zTable,
                     KalamCatalogEntry **pp, char **pzErr);
int kalamCatalogWrite(KalamStore *p, const KalamCatalogEntry *pEntry,
                      char **pzErr);
int kalamCatalogDelete(KalamStore *p, const char *zTable, char **pzErr);
int kalamCatalogForEach(KalamStore *p,
                        int (*xEntry)(void*, const KalamCatalogEntry*, char**),
                        void *pArg, char **pzErr);
int kalamCatalogResolvePending(KalamDb *pDb, char **pzErr);
int kalamCatalogAlter(KalamDb *pDb, const char *zTable,
                      const KalamSchema *pNew, const char *zSql,
                      char **pzErr);

/************************************************************************
** Interface to housekeeping.c: removing rows for good (purge, expiry,
** erase), and when the tables' writers do it.
*/
int kalamPurge(KalamStore *pStore, KalamCf *pCf, KalamTable *pTab,
               const char *aPrefix, int nPrefix, sqlite3_int64 iBeforeMs,
               sqlite3_int64 *pn, char **pzErr);
int kalamExpire(KalamStore *pStore, KalamCf *pCf, sqlite3_int64 nTtlSeconds,
                int bPerUser, int bCompact, sqlite3_int64 *pn, char **pzErr);
int kalamEraseUser(KalamStore *pStore, KalamCf *pCf, KalamTable *pTab,
                   const char *zUser, int bPerUser, sqlite3_int64 *pn,
                   char **pzErr);
#define KALAM_HOUSEKEEP_OPEN  1  /* the table was connected */
#define KALAM_HOUSEKEEP_BEGIN 2  /* a write transaction includes it */
#define KALAM_HOUSEKEEP_WRITE 3  /* a row is about to be written */
int kalamHousekeep(KalamTable *pTab, int eEvent, char **pzErr);

/************************************************************************
** Interface to table.c, plan.c, cursor.c and update.c: the three table
** modules.
*/
struct KalamTable {
  sqlite3_vtab base;        /* must be first: SQLite sees only this part */
  sqlite3 *db;
  KalamConn *pConn;
  KalamDb *pDb;
  KalamCf *pCf;             /* NULL when broken */
  KalamSchema *pSchema;
  char *zBroken;            /* why the table cannot be used, or NULL */
  char *zSchemaName;        /* "main", "temp", or the ATTACH name */
  sqlite3_int64 nRowEst;    /* row estimate for the planner */
  sqlite3_int64 nNextExpire;/* streams: earliest ms of the next expiry run */
  sqlite3_int64 nNextPurge; /* deleted_retention_hours: next purge run, ms */
  KalamBuf rowBuf;          /* xUpdate encodes rows here, reused */
  KalamCursor *pSpare;      /* a closed cursor kept for the next xOpen */
  KalamTable *pNextInDb;    /* the next of KalamDb.pTables */
  struct KalamColdCache *pColdCache; /* cold files lookups keep open
                            ** (cold_read.c), or NULL */
  sqlite3_int64 nNextFlush; /* flush_policy: earliest ms of the next check */
};

/* table.c */
int kalamTableModulesRegister(sqlite3 *db, KalamConn *pConn);
void kalamTableError(KalamTable *pTab, char *zErr);
int kalamTableOwnerPrefix(KalamTable *pTab, char *aPrefix, int *pnPrefix);

/* plan.c: xBestIndex. THE PLAN ENCODING, which xBestIndex writes and
** xFilter (cursor.c) reads, is described at the top of plan.c; these are
** its idxNum bits. */
#define KALAM_PLAN_EQ       0x0001
#define KALAM_PLAN_PK       0x0002
#define KALAM_PLAN_IN       0x0004
#define KALAM_PLAN_LO       0x0010
#define KALAM_PLAN_LO_GT    0x0020
#define KALAM_PLAN_HI       0x0040
#define KALAM_PLAN_HI_LT    0x0080
#define KALAM_PLAN_TS_LO    0x0100
#define KALAM_PLAN_TS_LO_GT 0x0200
#define KALAM_PLAN_TS_HI    0x0400
#define KALAM_PLAN_TS_HI_LT 0x0800
#define KALAM_PLAN_DESC     0x1000
#define KALAM_PLAN_TRASH    0x2000
#define KALAM_PLAN_TS_EQ    0x4000
#define KALAM_PLAN_INDEX    0x8000   /* bits 16-23 the index, 24-29 nEq */
#define KALAM_PLAN_BULK     0x40000000
/* Full scans of tables larger than this many rows are bulk reads for the
** store: no block cache fill, and readahead (kalamStoreIterNew). */
#define KALAM_BULK_ROWS 50000
int kalamPlanBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo);

/* cursor.c: the cursor methods. */
int kalamCursorOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur);
int kalamCursorClose(sqlite3_vtab_cursor *cur);
int kalamCursorFilter(sqlite3_vtab_cursor *cur, int idxNum,
                      const char *idxStr, int argc, sqlite3_value **argv);
int kalamCursorNext(sqlite3_vtab_cursor *cur);
int kalamCursorEof(sqlite3_vtab_cursor *cur);
int kalamCursorColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                      int iCol);
int kalamCursorRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid);
void kalamCursorFree(KalamCursor *pCur);

/* update.c: xUpdate. */
int kalamTableUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                     sqlite3_int64 *pRowid);

/************************************************************************
** Interface to tables.c, functions.c, backup.c and check.c: kalam_tables,
** kalam_check and the SQL functions that are not about users (conn.c has
** those).
*/
int kalamTablesRegister(sqlite3 *db, KalamConn *pConn);

/* check.c: kalam_check(), the integrity check of every kalam table against
** its store (check_int.h has the interface to check.c and check_entry.c
** that the two share). */
int kalamCheckRegister(sqlite3 *db, KalamConn *pConn);

/* backup.c: kalam_backup(dest), registered by functions.c. */
void kalamBackupFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
int kalamSqlFunctionsRegister(sqlite3 *db, KalamConn *pConn);

/* functions.c: a kalam table found by name ("t" or "schema.t") among the
** connection's databases, through the catalog. */
typedef struct KalamFuncTable KalamFuncTable;
struct KalamFuncTable {
  KalamDb *pDb;
  KalamCf *pCf;             /* a reference: kalamFuncTableClear releases it */
  KalamCatalogEntry *pEntry;
};
int kalamFuncTableFind(KalamConn *pConn, const char *zName, KalamFuncTable *p,
                       char **pzErr);
void kalamFuncTableClear(KalamFuncTable *p);

/************************************************************************
** Interface to alter.c and alter_rows.c: kalam_alter(t, change), and the
** pass over a table's rows and entries that a change needs. */
#define KALAM_ALTER_ADD_COLUMN    1
#define KALAM_ALTER_DROP_COLUMN   2
#define KALAM_ALTER_RENAME_COLUMN 3
#define KALAM_ALTER_ADD_INDEX     4
#define KALAM_ALTER_DROP_INDEX    5
int kalamAlterRegister(sqlite3 *db, KalamConn *pConn);
char *kalamAlterIndexName(const KalamSchema *p, const KalamIndex *pIdx);
int kalamAlterRows(KalamTable *pTab, int eOp, KalamSchema *pOld,
                   KalamSchema *pNew, int iNum, char **pzErr);

/************************************************************************
** Interface to admin.c: kalam_users('t'), kalam_restore, users walked. */
int kalamAdminRegister(sqlite3 *db, KalamConn *pConn);
int kalamOwnersEach(KalamDb *pDb, KalamCf *pCf, int (*xOwner)(void*,
                    const char*, int, char**), void *pArg, char **pzErr);

/* The cold tier's interfaces (thrift.c, parquet*.c) are in cold.h, kept
** apart so that each header stays readable in one sitting. */
#include "cold.h"

/* Following changes (feed.c, subscribe.c, changes.c, consume.c) have their
** interfaces in changes.h, for the same reason. */
#include "changes.h"

#endif /* KALAM_INT_H */
