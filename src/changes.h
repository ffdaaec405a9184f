/*
** changes.h — the interfaces of following changes: the change entries and
** horizons (feed.c), subscriptions (subscribe.c), kalam_changes and
** kalam_wait (changes.c), stream consumers (consume.c), and what their
** table-valued functions share with the listings (kalam_tables,
** kalam_segments, kalam_check, kalam_users) in tvf.c. Included at the end
** of kalam_int.h; docs/changes.md and docs/streams.md describe what they
** do.
*/
#ifndef KALAM_CHANGES_H
#define KALAM_CHANGES_H

/************************************************************************
** Interface to feed.c: the change entries (the _seq index) and horizons
** that kalam_changes reads, written beside the rows, and the ranges of
** rows and entries its readers iterate over.
*/
void kalamFeedPut(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                  int nPrefix, sqlite3_int64 iSeq, sqlite3_int64 iRowid);
void kalamFeedDelete(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                     int nPrefix, sqlite3_int64 iSeq);
void kalamFeedHorizonAdd(KalamTxn *pTxn, KalamBatch *pBatch, KalamCf *pCf,
                         const char *aPrefix, int nPrefix,
                         sqlite3_int64 iSeq);
int kalamFeedHorizon(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                     int nPrefix, sqlite3_int64 *piHorizon, char **pzErr);
int kalamFeedNewest(KalamTxn *pTxn, KalamCf *pCf, int eKind,
                    const char *aPrefix, int nPrefix,
                    sqlite3_int64 *piNewest, char **pzErr);
KalamIter *kalamFeedRows(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                         int nPrefix, sqlite3_int64 iFrom);
KalamIter *kalamFeedEntries(KalamTxn *pTxn, KalamCf *pCf, const char *aPrefix,
                            int nPrefix, sqlite3_int64 iFrom);
sqlite3_int64 kalamFeedStreamCut(sqlite3_int64 nTtlSeconds);
KalamIter *kalamFeedStream(KalamTxn *pTxn, KalamCf *pCf,
                           sqlite3_int64 nTtlSeconds, const char *aPrefix,
                           int nPrefix, sqlite3_int64 iAfter);
int kalamFeedRow(KalamIter *pIt, int nPrefix, sqlite3_int64 *piRowid,
                 const char **pzVal, size_t *pnVal);
int kalamFeedEntry(KalamIter *pIt, int nPrefix, sqlite3_int64 *piSeq,
                   sqlite3_int64 *piRowid);
struct timespec;
void kalamFeedNotify(void);
sqlite3_int64 kalamFeedGeneration(void);
int kalamFeedWait(sqlite3_int64 iGen, const struct timespec *pDeadline);

/************************************************************************
** Interface to subscribe.c: the subscriptions of the C API, and the
** changes delivered to them after each commit.
*/
typedef struct KalamSubBatch KalamSubBatch;
int kalamSubscribe(sqlite3 *db, KalamConn *pConn, KalamTable *pTab,
                   kalam_change_fn xChange, void *pArg, sqlite3_int64 *piId,
                   char **pzErr);
int kalamUnsubscribe(sqlite3 *db, sqlite3_int64 iId);
int kalamSubscribeAny(void);
int kalamSubscribeWanted(KalamStore *pStore, KalamCf *pCf);
KalamSubBatch *kalamSubscribeCollect(KalamDb *pDb);
int kalamSubscribeHardDelete(KalamSubBatch **ppB, KalamStore *pStore,
                             KalamCf *pCf, const KalamSchema *pSchema,
                             const char *zKey, size_t nKey, int nPrefix,
                             const char *zOld, size_t nOld);
void kalamSubscribeDeliver(KalamSubBatch *pB, KalamStore *pStore,
                           int bApplied);

/************************************************************************
** Interface to changes.c: kalam_changes and kalam_wait, and the change
** rows that kalam_changes and kalam_consume (consume.c) both return.
*/
typedef struct KalamChange KalamChange;
struct KalamChange {
  sqlite3_int64 iSeq;
  sqlite3_int64 iRowid;
  int bDeleted;
  char *zRow;               /* JSON object of the user columns (sqlite3_free) */
  int nRow;
};
typedef struct KalamChangeList KalamChangeList;
struct KalamChangeList {
  KalamChange *aRow;        /* nAlloc slots, nRow of them filled */
  int nRow, nAlloc;
  int iRow;                 /* the change a cursor is on */
};
/* What a column of a change shows (KalamChangeCursor). */
#define KALAM_CHANGE_SEQ     0
#define KALAM_CHANGE_ROWID   1
#define KALAM_CHANGE_DELETED 2
#define KALAM_CHANGE_ROW     3
#define KALAM_CHANGE_TS      4   /* the time of the row id, a snowflake */
/* A cursor on a list of changes (kalam_consume's; kalam_changes's starts
** with one): column i shows aField[i], and the columns past nField (a
** table-valued function's hidden arguments) read as NULL. */
typedef struct KalamChangeCursor KalamChangeCursor;
struct KalamChangeCursor {
  sqlite3_vtab_cursor base; /* must be first */
  KalamChangeList list;
  const int *aField;        /* KALAM_CHANGE_*, a static array */
  int nField;
};
void kalamChangeListClear(KalamChangeList *pList);
int kalamChangeCursorOpen(size_t nByte, const int *aField, int nField,
                          sqlite3_vtab_cursor **ppCur);
int kalamChangeCursorClose(sqlite3_vtab_cursor *cur);
int kalamChangeCursorEof(sqlite3_vtab_cursor *cur);
int kalamChangeCursorColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                            int iCol);
int kalamChangesStream(KalamChangeList *pList, KalamTable *pTab,
                       KalamTxn *pTxn, const char *aPrefix, int nPrefix,
                       sqlite3_int64 nWant, sqlite3_int64 *piAfter,
                       int *pbLast, char **pzErr);
int kalamChangesRegister(sqlite3 *db, KalamConn *pConn);
int kalamChangesTableFind(sqlite3 *db, KalamConn *pConn, const char *zName,
                          KalamTable **ppTab, char **pzErr);
int kalamChangesOwner(KalamTable *pTab, const char *zFunc, char *aPrefix,
                      int *pnPrefix, char **pzErr);

/************************************************************************
** Interface to consume.c: kalam_consume, kalam_ack and kalam_consumers.
*/
int kalamConsumeRegister(sqlite3 *db, KalamConn *pConn);

/************************************************************************
** Interface to tvf.c: what the table-valued functions share.
*/
typedef struct KalamTvf KalamTvf;
struct KalamTvf {
  sqlite3_vtab base;        /* must be first: SQLite sees only this part */
  sqlite3 *db;
  KalamConn *pConn;
  int nRowText;             /* listings (kalamTvfRows*): a row's text
                            ** columns, first */
  int nRowInt;              /* ...and its integer columns, after them */
  int (*xRowsDb)(sqlite3_vtab_cursor*, KalamDb*, char**);
                            /* kalamTvfRowsEachDb: one database's rows */
};
#define KALAM_TVF_MAX_ARG 8
int kalamTvfRegister(sqlite3 *db, KalamConn *pConn, const char *zName,
                     const sqlite3_module *pModule);
int kalamTvfConnect(sqlite3 *db, void *pAux, const char *zDecl,
                    sqlite3_vtab **ppVtab);
int kalamTvfDisconnect(sqlite3_vtab *pVtab);
int kalamTvfBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo,
                      int iFirst, int nArg, int nRequired,
                      const char *zUsage, int iOrder);
void kalamTvfError(sqlite3_vtab *pVtab, char *zErr);

/* The listings (kalam_tables, kalam_segments, kalam_check, kalam_users):
** every row made at xFilter, then handed out by a cursor whose methods
** they share. Rows are nText text columns, then nInt integer columns. */
int kalamTvfRowsConnect(sqlite3 *db, void *pAux, const char *zDecl,
                        int nText, int nInt,
                        int (*xDb)(sqlite3_vtab_cursor*, KalamDb*, char**),
                        sqlite3_vtab **ppVtab);
int kalamTvfRowsBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo);
int kalamTvfRowsOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur);
int kalamTvfRowsClose(sqlite3_vtab_cursor *cur);
void kalamTvfRowsReset(sqlite3_vtab_cursor *cur);
int kalamTvfRowsAdd(sqlite3_vtab_cursor *cur, const char *const *azText,
                    const sqlite3_int64 *aInt);
int kalamTvfRowsCount(sqlite3_vtab_cursor *cur);
void kalamTvfRowsSort(sqlite3_vtab_cursor *cur);
int kalamTvfRowsNext(sqlite3_vtab_cursor *cur);
int kalamTvfRowsEof(sqlite3_vtab_cursor *cur);
int kalamTvfRowsColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int iCol);
int kalamTvfRowsRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid);
int kalamTvfRowsEachDb(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv);

/* The sqlite3_module of a listing: its own xConnect (which calls
** kalamTvfRowsConnect), xBestIndex and xFilter, and the cursor's methods
** above. Eponymous (no xCreate), read-only (no write methods). */
#define KALAM_TVF_ROWS_MODULE(xConnect, xBestIndex, xFilter) {          \
  0,                    /* iVersion */                                  \
  0,                    /* xCreate: eponymous only */                   \
  xConnect,             /* xConnect */                                  \
  xBestIndex,           /* xBestIndex */                                \
  kalamTvfDisconnect,   /* xDisconnect */                               \
  0,                    /* xDestroy */                                  \
  kalamTvfRowsOpen,     /* xOpen */                                     \
  kalamTvfRowsClose,    /* xClose */                                    \
  xFilter,              /* xFilter: makes every row */                  \
  kalamTvfRowsNext,     /* xNext */                                     \
  kalamTvfRowsEof,      /* xEof */                                      \
  kalamTvfRowsColumn,   /* xColumn */                                   \
  kalamTvfRowsRowid,    /* xRowid */                                    \
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */       \
  0                     /* xShadowName */                               \
}

#endif /* KALAM_CHANGES_H */
