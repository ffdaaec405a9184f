/*
** kalam_int.h — the internal interfaces shared by kalam's source files.
**
** Object lifetimes, from the longest lived:
**
**   KalamStore   one open RocksDB directory. Process-wide, kept in a
**                mutex-guarded registry by real path and reference-counted,
**                so every connection of the process that opens the same
**                database file shares one store (RocksDB allows one opener
**                per directory). In-memory stores are never registered.
**   KalamConn    one per sqlite3* connection: the current user, the lock
**                flag and the list of KalamDb. It is the pAux of every kalam
**                module and function, reference-counted by them, and freed
**                when SQLite drops the last one at sqlite3_close().
**   KalamDb      one per (connection, schema) that uses kalam: a reference
**                on the schema's store plus the connection's open
**                transaction on it (txn.c's write buffer, and during a
**                large transaction the thread writing its table file).
**                Every kalam table of that schema in that connection shares
**                it, so a transaction over many tables commits in one
**                write.
**   KalamTable   the sqlite3_vtab of one table; KalamCursor its cursor.
*/
#ifndef KALAM_INT_H
#define KALAM_INT_H

#include <sqlite3ext.h>
#include <rocksdb/c.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define KALAM_VERSION_STRING KALAM_VERSION
#include "../include/kalam.h"

typedef struct KalamBuf KalamBuf;
typedef struct KalamStore KalamStore;
typedef struct KalamCf KalamCf;
typedef struct KalamConn KalamConn;
typedef struct KalamDb KalamDb;
typedef struct KalamColumn KalamColumn;
typedef struct KalamSchema KalamSchema;
typedef struct KalamTable KalamTable;
typedef struct KalamCursor KalamCursor;
typedef struct KalamRow KalamRow;
typedef struct KalamValue KalamValue;
typedef struct KalamTxnEntry KalamTxnEntry;
typedef struct KalamIter KalamIter;
typedef struct TxnArenaRef TxnArenaRef;
typedef struct TxnSpec TxnSpec;

/* ---------------------------------------------------------------- buffer */

/* A growable byte buffer. Memory comes from sqlite3_realloc64; the owner
** frees it with kalamBufFree(). A failed allocation sets oom and later
** appends do nothing, so callers check once at the end. */
struct KalamBuf {
  char *z;
  sqlite3_int64 n;
  sqlite3_int64 nAlloc;
  int oom;
};
void kalamBufInit(KalamBuf *p);
void kalamBufFree(KalamBuf *p);
void kalamBufAppend(KalamBuf *p, const void *z, sqlite3_int64 n);
void kalamBufAppendStr(KalamBuf *p, const char *z);
void kalamBufAppendCharSlow(KalamBuf *p, char c);
/* One byte: inline, because the row codec appends many. */
static inline void kalamBufAppendChar(KalamBuf *p, char c){
  if( p->n + 1 < p->nAlloc ){
    p->z[p->n++] = c;
    p->z[p->n] = 0;
  }else{
    kalamBufAppendCharSlow(p, c);
  }
}
void kalamBufAppendInt(KalamBuf *p, sqlite3_int64 v);
void kalamBufAppendDouble(KalamBuf *p, double v);
void kalamBufAppendJsonString(KalamBuf *p, const char *z, sqlite3_int64 n);

/* ---------------------------------------------------------------- snowflake */

/* Snowflake ids: 41 bits of milliseconds since KALAM_EPOCH_MS, 10 bits of
** node, 12 bits of sequence. Ids from one process only ever grow. */
#define KALAM_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
sqlite3_int64 kalamSnowflakeNext(void);
sqlite3_int64 kalamSnowflakeMin(sqlite3_int64 ms); /* smallest id of ms */
sqlite3_int64 kalamSnowflakeMs(sqlite3_int64 id);  /* Unix ms of an id */
sqlite3_int64 kalamNowMs(void);

/* ---------------------------------------------------------------- values */

/* A value converted to its column's type, ready to be written. Text and
** blob pointers borrow from the sqlite3_value or from zOwned. */
struct KalamValue {
  int eType;           /* SQLITE_NULL, _INTEGER, _FLOAT, _TEXT, _BLOB */
  sqlite3_int64 i;
  double r;
  const char *z;       /* TEXT: UTF-8; BLOB: bytes; JSON: compact text */
  int n;
  int bJson;           /* z is JSON text to be embedded as-is */
  char *zOwned;        /* freed by kalamValueClear (sqlite3_free) */
};
/* ---------------------------------------------------------------- keys */

/* Key layout (see keys.c for the why):
**   row:   <owner prefix> 'r' <8-byte big-endian rowid, sign bit flipped>
**   key:   <owner prefix> 'k' <type byte> <primary key value>
** The owner prefix is empty for shared and stream tables and
** <1 byte length><user id> for kalam_user tables. */
#define KALAM_TAG_ROW 'r'
#define KALAM_TAG_KEY 'k'
#define KALAM_MAX_USER 128
#define KALAM_MAX_PREFIX (1 + KALAM_MAX_USER)
#define KALAM_ROWKEY_MAX (KALAM_MAX_PREFIX + 1 + 8)

int kalamKeyPrefix(char *aOut, const char *zUser); /* returns length */
/* RocksDB's bytewise order of keys: memcmp, then the shorter first. Inline,
** because sorts and merging iterators call it per key. */
static inline int kalamKeyCmp(const char *a, size_t na,
                              const char *b, size_t nb){
  int c = memcmp(a, b, na<nb ? na : nb);
  if( c ) return c;
  return na<nb ? -1 : (na>nb);
}
int kalamKeyRow(char *aOut, const char *aPrefix, int nPrefix,
                sqlite3_int64 iRowid);
int kalamKeyRowDecode(const char *aKey, size_t nKey, int nPrefix,
                      sqlite3_int64 *piRowid);
void kalamKeyIndex(KalamBuf *p, const char *aPrefix, int nPrefix,
                   const KalamValue *pVal);

/* ---------------------------------------------------------------- schema */

/* Column types, as declared (aliases folded in). */
#define KALAM_TYPE_ANY       0
#define KALAM_TYPE_TEXT      1
#define KALAM_TYPE_INTEGER   2
#define KALAM_TYPE_REAL      3
#define KALAM_TYPE_BOOLEAN   4
#define KALAM_TYPE_TIMESTAMP 5
#define KALAM_TYPE_JSON      6
#define KALAM_TYPE_BLOB      7

/* Table kinds. */
#define KALAM_KIND_SHARED 0
#define KALAM_KIND_USER   1
#define KALAM_KIND_STREAM 2

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
};

struct KalamSchema {
  char *zTable;       /* table name */
  int eKind;          /* KALAM_KIND_* */
  int nCol;           /* user columns */
  KalamColumn *aCol;
  int iPk;            /* index of the PRIMARY KEY column, or -1 */
  int bIntPk;         /* the PK is INTEGER: an alias of the row id */
  char *zFlushPolicy; /* 'rows:N' or NULL */
  sqlite3_int64 nFlushRows;
  sqlite3_int64 nRetentionHours; /* deleted_retention_hours, 0 = keep */
  sqlite3_int64 nTtlSeconds;     /* streams only */
  int bUtf8;          /* the database's text is UTF-8 (set at connect): a
                      ** TEXT value for a TEXT column is taken as it is,
                      ** not NUL-terminated first (kalamValueConvert) */
};

const char *kalamKindName(int eKind);
const char *kalamTypeName(int eType);
int kalamSchemaParse(int eKind, const char *zTable, int nArg,
                     const char *const *azArg, KalamSchema **ppOut,
                     char **pzErr);
void kalamSchemaFree(KalamSchema *p);
char *kalamSchemaDeclare(const KalamSchema *p);
char *kalamSchemaColumnsJson(const KalamSchema *p);
char *kalamSchemaOptionsJson(const KalamSchema *p);
int kalamSchemaColumnIndex(const KalamSchema *p, const char *zName, int n);

/* ---------------------------------------------------------------- values */

int kalamValueConvert(const KalamSchema *pSchema, int iCol,
                      sqlite3_value *pIn, KalamValue *pOut, char **pzErr);
int kalamValueConvertFrom(const KalamSchema *pSchema, int iCol,
                          const KalamValue *pIn, KalamValue *pOut,
                          char **pzErr);
int kalamValueDefault(const KalamSchema *pSchema, int iCol, KalamValue *pOut,
                      char **pzErr);
void kalamValueClear(KalamValue *p);
int kalamParseInt(const char *z, int n, sqlite3_int64 *piOut);
int kalamJsonValid(const char *z, int n);
int kalamParseDouble(const char *z, int n, double *prOut);
int kalamParseTimestamp(const char *z, int n, sqlite3_int64 *piOut);
void kalamBase64Encode(KalamBuf *p, const unsigned char *a, int n);
int kalamBase64Decode(const char *z, int n, unsigned char *aOut);

/* ---------------------------------------------------------------- rows */

/* A decoded row: the JSON text and, per column, where its value lies.
** System column values are kept decoded because every read wants them. */
#define KALAM_SYS_SEQ     0
#define KALAM_SYS_UPDATED 1
#define KALAM_SYS_DELETED 2
#define KALAM_SYS_COUNT   3
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
int kalamRowSystem(KalamRow *pRow, const KalamSchema *pSchema, int iSys,
                   sqlite3_int64 *piOut);
void kalamRowFree(KalamRow *pRow);
int kalamRowColumn(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   KalamValue *pOut, char **pzErr);
int kalamRowResult(const KalamRow *pRow, const KalamSchema *pSchema, int iCol,
                   sqlite3_context *ctx);
int kalamRowIsDeleted(const char *z, size_t n);
char *kalamRowCorruptMessage(const KalamSchema *pSchema, sqlite3_int64 iRowid);
void kalamRowEncodeBegin(KalamBuf *p);
void kalamRowEncodeValue(KalamBuf *p, const KalamColumn *pCol,
                         const KalamValue *pVal, int bFirst);
void kalamRowEncodeRaw(KalamBuf *p, const KalamColumn *pCol,
                       const char *z, int n, int bFirst);
void kalamRowEncodeEnd(KalamBuf *p, int eKind, sqlite3_int64 iSeq,
                       sqlite3_int64 iTime, int bDeleted);

/* ---------------------------------------------------------------- store */

struct KalamCf {
  char *zName;                          /* RocksDB column family name */
  rocksdb_column_family_handle_t *h;
  int nRef;                             /* tables using it, +1 while listed */
  int bDropped;
  KalamCf *pNext;
};

struct KalamStore {
  char *zPath;               /* directory, or a label for memory stores */
  int nRef;
  int bMem;
  rocksdb_t *db;
  rocksdb_options_t *pOpts;
  rocksdb_env_t *pEnv;       /* memory env for in-memory stores, else NULL */
  rocksdb_cache_t *pCache;
  rocksdb_block_based_table_options_t *pTableOpts;
  rocksdb_writeoptions_t *pWoSync;
  rocksdb_writeoptions_t *pWoNoSync;
  rocksdb_readoptions_t *pRo;
  rocksdb_column_family_handle_t *hCatalog;
  sqlite3_mutex *mutex;      /* guards pCf and the catalog read-modify-write */
  int bMaybePending;         /* the catalog may hold pending DDL entries */
  KalamCf *pCf;
  KalamStore *pNext;
};

int kalamStoreAcquire(sqlite3 *db, const char *zSchema, KalamStore **pp,
                      char **pzErr);
void kalamStoreRelease(KalamStore *p);
int kalamStoreCfCreate(KalamStore *p, const char *zName, KalamCf **pp,
                       char **pzErr);
KalamCf *kalamStoreCfFind(KalamStore *p, const char *zName);
void kalamStoreCfRelease(KalamStore *p, KalamCf *pCf);
int kalamStoreCfDrop(KalamStore *p, KalamCf *pCf, char **pzErr);
char *kalamStoreError(const char *zWhat, char *zRocksErr);
/* Table files that txn.c writes for ingestion are named with this prefix
** in the store directory; RocksDB ignores names it did not make. */
#define KALAM_INGEST_PREFIX "kalam-ingest-"
void kalamIngestFileRemove(const char *zFile);

/* ---------------------------------------------------------------- catalog */

int kalamCatalogGet(KalamStore *p, const char *zTable, char **pzJson,
                    char **pzErr);
int kalamCatalogPut(KalamStore *p, const char *zTable, const char *zJson,
                    char **pzErr);
int kalamCatalogDelete(KalamStore *p, const char *zTable, char **pzErr);
int kalamCatalogEntryJson(const KalamSchema *pSchema, const char *zCf,
                          sqlite3_int64 iCreated, const char *zPending,
                          char **pzOut);
int kalamCatalogResolvePending(KalamDb *pDb, char **pzErr);
void kalamCatalogMarkPending(KalamStore *p);
typedef struct cJSON cJSON;
int kalamCatalogForEach(KalamStore *p,
                        int (*xEntry)(void *pArg, cJSON *pEntry, char **pzErr),
                        void *pArg, char **pzErr);
int kalamTablesRegister(sqlite3 *db, KalamConn *pConn);

/* ---------------------------------------------------------------- conn, txn */

struct KalamDb {
  KalamConn *pConn;
  char *zSchema;
  KalamStore *pStore;
  /* The open transaction's write buffer (txn.c) */
  int bInTxn;                      /* between xBegin and xCommit/xRollback */
  int bSync;                       /* PRAGMA synchronous >= FULL at xBegin */
  int bFailed;                     /* a write could not be buffered (OOM) */
  KalamTxnEntry **aEntry;          /* every buffered write, oldest first */
  int nEntry;
  int nEntryAlloc;
  sqlite3_int64 nBytes;            /* keys and values of aEntry */
  int nIndexed;                    /* aEntry[0..nIndexed) are in aSlot */
  KalamTxnEntry **aSlot;           /* hash table: newest entry of each key */
  int nSlot;                       /* a power of two, or 0 */
  int nUsed;                       /* slots not empty */
  void *pArena;                    /* where entries live until txn end */
  struct TxnArenaRef *pArenaRef;   /* the arena's share with iterators */
  int nSp;                         /* SQLite savepoints we hold */
  int *aSp;                        /* aSp[i]: nEntry when savepoint i began */
  int nSpAlloc;
  TxnSpec *pSpec;                  /* the commit's table file, being built
                                   ** by a worker thread, or NULL */
  int bSpecOff;                    /* no such build for the rest of this
                                   ** transaction */
  KalamDb *pNext;
};

struct KalamConn {
  int nRef;
  sqlite3 *db;
  const char *zUser;  /* current user (points at aUser), or NULL */
  char aUser[KALAM_MAX_USER + 1];
  int bLocked;
  sqlite3_int64 iToken; /* process-unique id, marks pending DDL */
  sqlite3_int64 nRowsRead; /* stored rows read by cursors: kalam_rows_read() */
  KalamDb *pDb;
};

KalamConn *kalamConnNew(sqlite3 *db);
void kalamConnRef(KalamConn *p);
void kalamConnUnref(void *p);
int kalamConnDb(KalamConn *p, const char *zSchema, int bCreate,
                KalamDb **ppDb, char **pzErr);
int kalamConnSetUser(KalamConn *p, const char *zUser, int nUser,
                     char **pzErr);
int kalamConnIsLive(sqlite3_int64 iToken);
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

int kalamTxnBegin(KalamDb *p);
int kalamTxnSync(KalamDb *p, char **pzErr);
void kalamTxnEnd(KalamDb *p);
int kalamTxnSavepoint(KalamDb *p, int iSavepoint);
int kalamTxnRelease(KalamDb *p, int iSavepoint);
int kalamTxnRollbackTo(KalamDb *p, int iSavepoint, char **pzErr);
void kalamTxnPut(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                 const char *v, size_t nv);
void kalamTxnDelete(KalamDb *p, KalamCf *pCf, const char *k, size_t nk);
int kalamTxnGet(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                char **pzVal, size_t *pnVal, char **pzErr);
int kalamTxnGetPinned(KalamDb *p, KalamCf *pCf, const char *k, size_t nk,
                      const char **pzVal, size_t *pnVal,
                      rocksdb_pinnableslice_t **ppPin, char **pzCopy,
                      char **pzErr);
void kalamTxnFree(KalamDb *p);
KalamIter *kalamTxnIterator(KalamDb *p, KalamCf *pCf,
                            rocksdb_readoptions_t *pRo,
                            const char *aLo, int nLo,
                            const char *aHi, int nHi);
void kalamIterDestroy(KalamIter *pIter);
void kalamIterSeek(KalamIter *p, const char *k, size_t n);
void kalamIterSeekForPrev(KalamIter *p, const char *k, size_t n);
void kalamIterNext(KalamIter *p);
int kalamIterValid(KalamIter *p);
const char *kalamIterKey(KalamIter *p, size_t *pn);
const char *kalamIterValue(KalamIter *p, size_t *pn);
void kalamIterError(KalamIter *p, char **pzErr);

/* ---------------------------------------------------------------- tables */

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
  struct KalamCursor *pSpare; /* a closed cursor kept for the next xOpen */
};

int kalamTableModulesRegister(sqlite3 *db, KalamConn *pConn);
int kalamTableOwnerPrefix(KalamTable *pTab, char *aPrefix, int *pnPrefix);
int kalamMaintenanceRegister(sqlite3 *db, KalamConn *pConn);
int kalamPurgeRange(KalamDb *pDb, KalamCf *pCf, const char *aPrefix,
                    int nPrefix, sqlite3_int64 iBeforeMs, sqlite3_int64 *pn,
                    char **pzErr);
int kalamStreamExpire(KalamDb *pDb, KalamCf *pCf, sqlite3_int64 nTtlSeconds,
                      int bCompact, sqlite3_int64 *pn, char **pzErr);

#endif /* KALAM_INT_H */
