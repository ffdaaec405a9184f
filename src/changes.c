/*
** changes.c — following a table's changes from SQL (docs/changes.md):
**
**   SELECT * FROM kalam_changes('t' [, since_seq [, limit]])
**       a table-valued function, columns _seq, rowid, _deleted, row: every
**       row of t whose _seq is past since_seq, in _seq order, once, in its
**       newest state; row is its user columns as a JSON object. A stream's
**       feed is its live rows with rowid > since_seq.
**   SELECT kalam_wait('t', since_seq, timeout_ms)
**       returns once t's newest _seq passes since_seq, or at the timeout;
**       returns that _seq (or since_seq).
**
** The feed reads the change entries of feed.c (a stream's rows), so it
** costs the rows it returns. It fails, naming the table, when hard deletes
** removed rows after since_seq (the horizon, feed.c): the reader must read
** the table again. Both are confined to the current user on kalam_user
** tables, and see the table as the connection's other reads do: its own
** uncommitted writes, and the commit its read transaction shows.
**
** The feed is read in pages of CHANGES_PAGE rows, each materialized, so
** that nothing of a table is held between xNext calls but the connection
** (whose view of the store stays put while the cursor is open, as a
** table cursor's does).
**
** A materialized change (KalamChange) and the cursor on a list of them
** (KalamChangeCursor) serve kalam_consume too (consume.c), which reads a
** stream's feed as kalam_changes does (kalamChangesStream) and shows other
** columns of the same rows.
*/
#include "kalam_int.h"
#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

#define CHANGES_PAGE 256

/* The declared columns, and the hidden arguments after them. */
#define CHANGES_SEQ     0
#define CHANGES_ROWID   1
#define CHANGES_DELETED 2
#define CHANGES_ROW     3
#define CHANGES_TABLE   4
#define CHANGES_SINCE   5
#define CHANGES_LIMIT   6

/* idxNum bits (tvf.c): which arguments xFilter gets, in this order. */
#define CHANGES_HAS_TABLE 0x01
#define CHANGES_HAS_SINCE 0x02
#define CHANGES_HAS_LIMIT 0x04


typedef struct ChangesCursor ChangesCursor;
struct ChangesCursor {
  KalamChangeCursor c;      /* must be first: the current page */
  KalamDb *pDb;             /* the table's database; its nCursor counts us */
  char *zTable;             /* the name as given */
  sqlite3_int64 iAfter;     /* the next page starts after this _seq */
  sqlite3_int64 nLeft;      /* rows the limit still allows, or -1 */
  int bLast;                /* the current page is the last */
  sqlite3_int64 iCount;     /* rows returned: xRowid */
};

/* Finds kalam table zName ("t" or "schema.t") among the connection's
** connected tables, connecting it by preparing a statement on it if need
** be. *ppTab stays valid while the calling statement runs. */
int kalamChangesTableFind(sqlite3 *db, KalamConn *pConn, const char *zName,
                          KalamTable **ppTab, char **pzErr){
  const char *zDot = strchr(zName, '.');
  int bTried = 0;
  *ppTab = 0;
  for(;;){
    const char *zSchema;
    int i, rc;
    sqlite3_stmt *pStmt = 0;
    char *zSql;
    /* In SQLite's order of search: temp (1), main (0), then attached. */
    for(i=0; (zSchema = sqlite3_db_name(db, i<2 ? 1-i : i))!=0; i++){
      KalamDb *pDb = 0;
      KalamTable *pTab;
      const char *zTable = zName;
      if( zDot ){
        if( (int)strlen(zSchema)!=(int)(zDot - zName)
         || sqlite3_strnicmp(zSchema, zName, (int)(zDot - zName))!=0 ){
          continue;
        }
        zTable = zDot + 1;
      }
      rc = kalamConnDb(pConn, zSchema, 0, &pDb, pzErr);
      if( rc ) return rc;
      for(pTab = pDb ? pDb->pTables : 0; pTab; pTab = pTab->pNextInDb){
        if( sqlite3_stricmp(pTab->pSchema->zTable, zTable)==0 ){
          if( pTab->zBroken ){
            *pzErr = sqlite3_mprintf("%s", pTab->zBroken);
            return SQLITE_CORRUPT;
          }
          *ppTab = pTab;
          return SQLITE_OK;
        }
      }
    }
    if( bTried ) break;
    bTried = 1;
    /* Not connected yet in this connection: preparing a statement that
    ** names the table connects it, and SQLite resolves the name exactly as
    ** it would in a query. */
    if( zDot ){
      char *zDb = sqlite3_mprintf("%.*s", (int)(zDot - zName), zName);
      zSql = zDb ? sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w\"", zDb,
                                   zDot + 1) : 0;
      sqlite3_free(zDb);
    }else{
      zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\"", zName);
    }
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    sqlite3_finalize(pStmt);
    if( rc==SQLITE_NOMEM ) return rc;
    if( rc ) break;
  }
  *pzErr = sqlite3_mprintf("no such kalam table: %s", zName);
  return SQLITE_ERROR;
}

/* The owner prefix a reader of pTab sees: the current user's on a
** kalam_user table. */
int kalamChangesOwner(KalamTable *pTab, const char *zFunc, char *aPrefix,
                      int *pnPrefix, char **pzErr){
  *pnPrefix = 0;
  if( !kalamSchemaOwned(pTab->pSchema) ) return SQLITE_OK;
  if( pTab->pConn->zUser==0 ){
    *pzErr = sqlite3_mprintf("%s: %s table %s%s has no current user: "
        "call kalam_set_user('<user id>') first", zFunc,
        kalamKindName(pTab->pSchema->eKind), pTab->pSchema->zTable,
        pTab->pSchema->bPerUser ? " (per_user=1)" : "");
    return SQLITE_AUTH;
  }
  *pnPrefix = kalamKeyPrefix(aPrefix, pTab->pConn->zUser);
  return SQLITE_OK;
}

/* The "resync" refusal: rows were removed for good after iSince. */
static char *changesResyncError(const KalamSchema *pSchema,
                                sqlite3_int64 iSince){
  return sqlite3_mprintf("kalam_changes: rows of table %s were removed for "
      "good (purge, retention, erase, expiry or a replaced row) after _seq "
      "%lld, so the changes since then cannot be listed: resync by reading "
      "%s again from the start (since_seq 0)", pSchema->zTable, iSince,
      pSchema->zTable);
}

/* Fails if a reader at iSince missed a hard delete: its horizon is newer,
** or (streams) live rows it has not seen have expired since. */
static int changesCheckHorizon(KalamTable *pTab, const char *aPrefix,
                               int nPrefix, sqlite3_int64 iSince,
                               char **pzErr){
  KalamDb *pDb = pTab->pDb;
  sqlite3_int64 iHorizon = 0;
  int rc;
  if( iSince<=0 ) return SQLITE_OK;   /* a fresh start always succeeds */
  rc = kalamFeedHorizon(pDb->pTxn, pTab->pCf, aPrefix, nPrefix, &iHorizon,
                        pzErr);
  if( rc ) return rc;
  if( iSince < iHorizon ){
    *pzErr = changesResyncError(pTab->pSchema, iSince);
    return SQLITE_ERROR;
  }
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    /* Rows past iSince but below the ttl's cutoff expired unseen, even if
    ** they are still on disk. */
    sqlite3_int64 iCut = kalamFeedStreamCut(pTab->pSchema->nTtlSeconds);
    if( iSince + 1 < iCut ){
      char aLo[KALAM_ROWKEY_MAX], aHi[KALAM_ROWKEY_MAX];
      int nLo = kalamKeyRow(aLo, aPrefix, nPrefix, iSince + 1);
      int nHi = kalamKeyRow(aHi, aPrefix, nPrefix, iCut);
      KalamIter *pIt = kalamTxnIterator(pDb->pTxn, pTab->pCf, aLo, nLo,
                                        aHi, nHi, 0);
      int bSome;
      if( pIt==0 ) return SQLITE_NOMEM;
      kalamIterSeek(pIt, aLo, (size_t)nLo);
      bSome = kalamIterValid(pIt);
      rc = kalamIterError(pIt, pzErr);
      kalamIterDestroy(pIt);
      if( rc ) return rc;
      if( bSome ){
        *pzErr = changesResyncError(pTab->pSchema, iSince);
        return SQLITE_ERROR;
      }
    }
  }
  return SQLITE_OK;
}

/* Takes the stored row zVal of iRowid into the list, if it is the state
** the change entry of iSeq names (iSeq 0: a stream row, always). */
static int changesTake(KalamChangeList *pList, KalamTable *pTab,
                       sqlite3_int64 iSeq, sqlite3_int64 iRowid,
                       const char *zVal, size_t nVal, char **pzErr){
  const KalamSchema *pSchema = pTab->pSchema;
  KalamChange *pOut;
  KalamRow row;
  int rc;
  memset(&row, 0, sizeof(row));
  rc = kalamRowParse(&row, pSchema, zVal, nVal);
  if( rc ){
    if( rc==SQLITE_CORRUPT ) *pzErr = kalamRowCorruptMessage(pSchema, iRowid);
    goto done;
  }
  row.iRowid = iRowid;
  /* An entry that names another state than the row's is not the row's
  ** change (kalam_check reports it); the row's own entry comes in turn. */
  if( iSeq && row.aSys[KALAM_SYS_SEQ]!=iSeq ) goto done;
  if( pList->nRow>=pList->nAlloc ){
    int nNew = pList->nAlloc ? pList->nAlloc*2 : 64;
    KalamChange *aNew = sqlite3_realloc64(pList->aRow,
                                          sizeof(KalamChange)*(size_t)nNew);
    if( aNew==0 ){ rc = SQLITE_NOMEM; goto done; }
    pList->aRow = aNew;
    pList->nAlloc = nNew;
  }
  pOut = &pList->aRow[pList->nRow];
  memset(pOut, 0, sizeof(*pOut));
  pOut->iSeq = row.aSys[KALAM_SYS_SEQ];
  pOut->iRowid = iRowid;
  pOut->bDeleted = pSchema->eKind!=KALAM_KIND_STREAM
                && row.aSys[KALAM_SYS_DELETED]!=0;
  rc = kalamRowUserJson(pSchema, &row, &pOut->zRow, &pOut->nRow, pzErr);
  if( rc==SQLITE_OK ) pList->nRow++;
done:
  kalamRowFree(&row);
  return rc;
}

/* Frees the changes of a list, keeping its array for the next ones. */
void kalamChangeListClear(KalamChangeList *pList){
  int i;
  for(i=0; i<pList->nRow; i++) sqlite3_free(pList->aRow[i].zRow);
  pList->nRow = 0;
  pList->iRow = 0;
}

/* Opens a cursor of nByte bytes (a KalamChangeCursor, or a struct that
** starts with one) whose columns show aField[0..nField). */
int kalamChangeCursorOpen(size_t nByte, const int *aField, int nField,
                          sqlite3_vtab_cursor **ppCur){
  KalamChangeCursor *pCur;
  assert( nByte>=sizeof(*pCur) );
  pCur = sqlite3_malloc64(nByte);
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, nByte);
  pCur->aField = aField;
  pCur->nField = nField;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

/* xClose: frees the cursor and its changes (a larger cursor frees what
** else it holds first). */
int kalamChangeCursorClose(sqlite3_vtab_cursor *cur){
  KalamChangeCursor *pCur = (KalamChangeCursor*)cur;
  kalamChangeListClear(&pCur->list);
  sqlite3_free(pCur->list.aRow);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* xEof: past the last change read (kalam_changes reads the next page
** before it is). */
int kalamChangeCursorEof(sqlite3_vtab_cursor *cur){
  const KalamChangeList *pList = &((KalamChangeCursor*)cur)->list;
  return pList->iRow>=pList->nRow;
}

/* xColumn: what the cursor's column iCol shows of the change it is on. */
int kalamChangeCursorColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                            int iCol){
  const KalamChangeCursor *pCur = (KalamChangeCursor*)cur;
  const KalamChange *p = &pCur->list.aRow[pCur->list.iRow];
  switch( iCol<pCur->nField ? pCur->aField[iCol] : -1 ){
    case KALAM_CHANGE_SEQ:     sqlite3_result_int64(ctx, p->iSeq); break;
    case KALAM_CHANGE_ROWID:   sqlite3_result_int64(ctx, p->iRowid); break;
    case KALAM_CHANGE_DELETED: sqlite3_result_int(ctx, p->bDeleted); break;
    case KALAM_CHANGE_TS:
      sqlite3_result_int64(ctx, kalamSnowflakeMs(p->iRowid));
      break;
    case KALAM_CHANGE_ROW:
      sqlite3_result_text(ctx, p->zRow, p->nRow, SQLITE_TRANSIENT);
      sqlite3_result_subtype(ctx, KALAM_JSON_SUBTYPE);
      break;
    default:
      break;   /* the hidden arguments read as NULL */
  }
  return SQLITE_OK;
}

/* Adds to the list up to nWant (at most) live rows of a stream's owner
** after row id *piAfter, in row id order, as the transaction pTxn sees
** them (kalamFeedStream). *piAfter moves to the last row read; *pbLast
** says whether the stream had no more. */
int kalamChangesStream(KalamChangeList *pList, KalamTable *pTab,
                       KalamTxn *pTxn, const char *aPrefix, int nPrefix,
                       sqlite3_int64 nWant, sqlite3_int64 *piAfter,
                       int *pbLast, char **pzErr){
  KalamIter *pIt;
  int rc = SQLITE_OK;
  if( nWant==0 ) return SQLITE_OK;
  pIt = kalamFeedStream(pTxn, pTab->pCf, pTab->pSchema->nTtlSeconds, aPrefix,
                        nPrefix, *piAfter);
  if( pIt==0 ) return SQLITE_NOMEM;
  for(; rc==SQLITE_OK && pList->nRow<nWant && kalamIterValid(pIt);
      kalamIterNext(pIt)){
    const char *zVal;
    size_t nVal;
    sqlite3_int64 iRowid;
    if( !kalamFeedRow(pIt, nPrefix, &iRowid, &zVal, &nVal) ) continue;
    *piAfter = iRowid;
    pTab->pConn->nRowsRead++;
    rc = changesTake(pList, pTab, 0, iRowid, zVal, nVal, pzErr);
  }
  if( rc==SQLITE_OK ){
    *pbLast = !kalamIterValid(pIt);
    rc = kalamIterError(pIt, pzErr);
  }
  kalamIterDestroy(pIt);
  return rc;
}

/* A shared or user table's page: the changes after pCur->iAfter, merged
** from its two ranges in _seq order (feed.c): the rows whose _seq is
** their row id, read in row id order, and the change entries of all
** others, each row read by its id. */
static int changesPageRows(ChangesCursor *pCur, KalamTable *pTab,
                           const char *aPrefix, int nPrefix, int nWant,
                           char **pzErr){
  KalamTxn *pTxn = pCur->pDb->pTxn;
  KalamChangeList *pPage = &pCur->c.list;
  int rc = SQLITE_OK;
  KalamIter *pRows, *pSeqs;
  sqlite3_int64 iSeqB = 0, iRowidB = 0, iRowidA = 0;
  char *zB = 0;             /* the row of the entry pSeqs is on */
  size_t nB = 0;
  int bA = 0, bB = 0;       /* each range has a row ready */

  pRows = kalamFeedRows(pTxn, pTab->pCf, aPrefix, nPrefix, pCur->iAfter + 1);
  pSeqs = kalamFeedEntries(pTxn, pTab->pCf, aPrefix, nPrefix,
                           pCur->iAfter + 1);
  if( pRows==0 || pSeqs==0 ){ rc = SQLITE_NOMEM; goto done; }

  while( rc==SQLITE_OK && pPage->nRow<nWant ){
    /* The next row whose _seq is its row id. */
    while( !bA && kalamIterValid(pRows) ){
      const char *zVal;
      size_t nVal;
      if( kalamFeedRow(pRows, nPrefix, &iRowidA, &zVal, &nVal) ){
        pTab->pConn->nRowsRead++;
        if( kalamRowSeq(zVal, nVal)==iRowidA ){ bA = 1; break; }
      }
      kalamIterNext(pRows);
    }
    /* The next change entry whose row is there in that state. */
    while( !bB && rc==SQLITE_OK && kalamIterValid(pSeqs) ){
      if( kalamFeedEntry(pSeqs, nPrefix, &iSeqB, &iRowidB) ){
        /* Hot, or flushed to a cold file (cold_read.c). */
        rc = kalamRowReadCopy(pTab, aPrefix, nPrefix, iRowidB, &zB, &nB,
                              pzErr);
        if( rc==SQLITE_OK && zB ){
          pTab->pConn->nRowsRead++;
          if( kalamRowSeq(zB, nB)==iSeqB ){ bB = 1; break; }
          kalamStoreFree(zB);
          zB = 0;
        }
      }
      kalamIterNext(pSeqs);
    }
    if( rc || (!bA && !bB) ) break;
    if( bA && (!bB || iRowidA < iSeqB) ){
      size_t nVal;
      const char *zVal = kalamIterValue(pRows, &nVal);
      pCur->iAfter = iRowidA;
      rc = changesTake(pPage, pTab, iRowidA, iRowidA, zVal, nVal, pzErr);
      bA = 0;
      kalamIterNext(pRows);
    }else{
      pCur->iAfter = iSeqB;
      rc = changesTake(pPage, pTab, iSeqB, iRowidB, zB, nB, pzErr);
      kalamStoreFree(zB);
      zB = 0;
      bB = 0;
      kalamIterNext(pSeqs);
    }
  }
  if( rc==SQLITE_OK ){
    pCur->bLast = !bA && !bB && !kalamIterValid(pRows)
               && !kalamIterValid(pSeqs);
    rc = kalamIterError(pRows, pzErr);
    if( rc==SQLITE_OK ) rc = kalamIterError(pSeqs, pzErr);
  }

done:
  if( zB ) kalamStoreFree(zB);
  kalamIterDestroy(pRows);
  kalamIterDestroy(pSeqs);
  return rc;
}

/* Reads the next page: up to CHANGES_PAGE changes after pCur->iAfter. */
static int changesPage(ChangesCursor *pCur, char **pzErr){
  KalamTvf *pVtab = (KalamTvf*)pCur->c.base.pVtab;
  KalamTable *pTab = 0;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix, nWant;
  int rc;

  kalamChangeListClear(&pCur->c.list);
  nWant = CHANGES_PAGE;
  if( pCur->nLeft>=0 && pCur->nLeft<nWant ) nWant = (int)pCur->nLeft;
  if( nWant==0 ){ pCur->bLast = 1; return SQLITE_OK; }
  rc = kalamChangesTableFind(pVtab->db, pVtab->pConn, pCur->zTable, &pTab,
                             pzErr);
  if( rc==SQLITE_OK ){
    rc = kalamChangesOwner(pTab, "kalam_changes", aPrefix, &nPrefix, pzErr);
  }
  if( rc ) return rc;
  if( pTab->pSchema->eKind==KALAM_KIND_STREAM ){
    rc = kalamChangesStream(&pCur->c.list, pTab, pCur->pDb->pTxn, aPrefix,
                            nPrefix, nWant, &pCur->iAfter, &pCur->bLast,
                            pzErr);
  }else{
    rc = changesPageRows(pCur, pTab, aPrefix, nPrefix, nWant, pzErr);
  }
  if( pCur->nLeft>=0 ) pCur->nLeft -= pCur->c.list.nRow;
  return rc;
}

static int changesConnect(sqlite3 *db, void *pAux, int argc,
                          const char *const *argv, sqlite3_vtab **ppVtab,
                          char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  return kalamTvfConnect(db, pAux, "CREATE TABLE x(_seq INTEGER, "
      "rowid INTEGER, _deleted INTEGER, row TEXT, \"table\" HIDDEN, "
      "since_seq HIDDEN, \"limit\" HIDDEN)", ppVtab);
}

/* The arguments are equality constraints on the hidden columns; the table
** is required. Rows come in _seq order. */
static int changesBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  return kalamTvfBestIndex(pVtab, pInfo, CHANGES_TABLE, 3, 1,
      "kalam_changes: the table name is required: kalam_changes('t' "
      "[, since_seq [, limit]])", CHANGES_SEQ);
}

static int changesOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  static const int aField[] = {
    [CHANGES_SEQ] = KALAM_CHANGE_SEQ, [CHANGES_ROWID] = KALAM_CHANGE_ROWID,
    [CHANGES_DELETED] = KALAM_CHANGE_DELETED, [CHANGES_ROW] = KALAM_CHANGE_ROW
  };
  (void)pVtab;
  return kalamChangeCursorOpen(sizeof(ChangesCursor), aField,
                               (int)(sizeof(aField)/sizeof(aField[0])), ppCur);
}

/* Lets go of the connection's view as a table cursor does (cursor.c). */
static void changesRelease(ChangesCursor *pCur){
  KalamTvf *pVtab = (KalamTvf*)pCur->c.base.pVtab;
  if( pCur->pDb==0 ) return;
  if( --pCur->pDb->nCursor==0 && sqlite3_get_autocommit(pVtab->db) ){
    kalamCommitViewRelease(pCur->pDb);
  }
  pCur->pDb = 0;
}

static int changesClose(sqlite3_vtab_cursor *cur){
  ChangesCursor *pCur = (ChangesCursor*)cur;
  changesRelease(pCur);
  sqlite3_free(pCur->zTable);
  return kalamChangeCursorClose(cur);
}

/* Reads a non-negative integer argument; NULL gives dflt. */
static int changesIntArg(sqlite3_value *pVal, const char *zWhat,
                         sqlite3_int64 dflt, sqlite3_int64 *pi,
                         char **pzErr){
  int eType = sqlite3_value_numeric_type(pVal);
  if( sqlite3_value_type(pVal)==SQLITE_NULL ){
    *pi = dflt;
    return SQLITE_OK;
  }
  if( eType!=SQLITE_INTEGER || sqlite3_value_int64(pVal)<0 ){
    *pzErr = sqlite3_mprintf("kalam_changes: %s must be an integer of 0 or "
                             "more", zWhat);
    return SQLITE_MISMATCH;
  }
  *pi = sqlite3_value_int64(pVal);
  return SQLITE_OK;
}

static int changesFilter(sqlite3_vtab_cursor *cur, int idxNum,
                         const char *idxStr, int argc, sqlite3_value **argv){
  ChangesCursor *pCur = (ChangesCursor*)cur;
  KalamTvf *pVtab = (KalamTvf*)cur->pVtab;
  KalamTable *pTab = 0;
  const char *zName;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix, i = 0;
  sqlite3_int64 iSince = 0, nLimit = -1;
  char *zErr = 0;
  int rc = SQLITE_OK;
  (void)idxStr; (void)argc;

  kalamChangeListClear(&pCur->c.list);
  changesRelease(pCur);
  sqlite3_free(pCur->zTable);
  pCur->zTable = 0;
  pCur->bLast = 1;
  pCur->iCount = 0;
  zName = (const char*)sqlite3_value_text(argv[i++]);
  if( zName==0 ){
    zErr = sqlite3_mprintf("kalam_changes: the table name must be text");
    rc = SQLITE_MISMATCH;
    goto done;
  }
  if( idxNum & CHANGES_HAS_SINCE ){
    rc = changesIntArg(argv[i++], "since_seq", 0, &iSince, &zErr);
    if( rc ) goto done;
  }
  if( idxNum & CHANGES_HAS_LIMIT ){
    rc = changesIntArg(argv[i++], "limit", -1, &nLimit, &zErr);
    if( rc ) goto done;
  }
  pCur->zTable = sqlite3_mprintf("%s", zName);
  if( pCur->zTable==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = kalamChangesTableFind(pVtab->db, pVtab->pConn, zName, &pTab, &zErr);
  if( rc ) goto done;
  rc = kalamChangesOwner(pTab, "kalam_changes", aPrefix, &nPrefix, &zErr);
  if( rc ) goto done;
  /* Hold the connection's view for as long as the cursor is open. */
  pCur->pDb = pTab->pDb;
  pCur->pDb->nCursor++;
  rc = kalamCommitView(pCur->pDb, &zErr);
  if( rc ) goto done;
  rc = changesCheckHorizon(pTab, aPrefix, nPrefix, iSince, &zErr);
  if( rc ) goto done;
  pCur->iAfter = iSince;
  pCur->nLeft = nLimit;
  pCur->bLast = 0;
  rc = changesPage(pCur, &zErr);

done:
  kalamTvfError(&pVtab->base, zErr);
  return rc;
}

static int changesNext(sqlite3_vtab_cursor *cur){
  ChangesCursor *pCur = (ChangesCursor*)cur;
  KalamTvf *pVtab = (KalamTvf*)cur->pVtab;
  char *zErr = 0;
  int rc = SQLITE_OK;
  pCur->c.list.iRow++;
  pCur->iCount++;
  while( kalamChangeCursorEof(cur) && !pCur->bLast && rc==SQLITE_OK ){
    rc = changesPage(pCur, &zErr);
  }
  kalamTvfError(&pVtab->base, zErr);
  return rc;
}

static int changesRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((ChangesCursor*)cur)->iCount;
  return SQLITE_OK;
}

static sqlite3_module changesModule = {
  0,                       /* iVersion */
  0,                       /* xCreate: none, an eponymous-only table */
  changesConnect,          /* xConnect */
  changesBestIndex,        /* xBestIndex */
  kalamTvfDisconnect,      /* xDisconnect */
  0,                       /* xDestroy */
  changesOpen,             /* xOpen */
  changesClose,            /* xClose */
  changesFilter,           /* xFilter */
  changesNext,             /* xNext */
  kalamChangeCursorEof,    /* xEof */
  kalamChangeCursorColumn, /* xColumn */
  changesRowid,            /* xRowid */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* read-only: no write methods */
  0                        /* xShadowName */
};

/* kalam_wait(t, since_seq, timeout_ms). Reads the table's newest _seq;
** while it has not passed since_seq, sleeps until a commit of the process
** (kalamFeedWait) or the timeout. It holds no lock of SQLite's or the
** store's while it sleeps: only its own connection is busy. */
static void changesWaitFunc(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  KalamTable *pTab = 0;
  char aPrefix[KALAM_MAX_PREFIX];
  int nPrefix;
  sqlite3_int64 iSince, nTimeout;
  struct timespec deadline;
  char *zErr = 0;
  int rc;
  (void)argc;

  if( zName==0 ){
    zErr = sqlite3_mprintf("kalam_wait: the table name must be text");
    rc = SQLITE_MISMATCH;
    goto done;
  }
  if( sqlite3_value_numeric_type(argv[1])!=SQLITE_INTEGER
   || sqlite3_value_numeric_type(argv[2])!=SQLITE_INTEGER
   || sqlite3_value_int64(argv[1])<0 || sqlite3_value_int64(argv[2])<0 ){
    zErr = sqlite3_mprintf("kalam_wait: since_seq and timeout_ms must be "
                           "integers of 0 or more");
    rc = SQLITE_MISMATCH;
    goto done;
  }
  iSince = sqlite3_value_int64(argv[1]);
  nTimeout = sqlite3_value_int64(argv[2]);
  rc = kalamChangesTableFind(db, pConn, zName, &pTab, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamChangesOwner(pTab, "kalam_wait", aPrefix, &nPrefix, &zErr);
  }
  if( rc ) goto done;
  clock_gettime(CLOCK_REALTIME, &deadline);
  if( nTimeout > (sqlite3_int64)86400000*365 ){
    nTimeout = (sqlite3_int64)86400000*365;
  }
  deadline.tv_sec += (time_t)(nTimeout/1000);
  deadline.tv_nsec += (long)(nTimeout%1000)*1000000L;
  if( deadline.tv_nsec>=1000000000L ){
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  for(;;){
    sqlite3_int64 iGen = kalamFeedGeneration();
    sqlite3_int64 iNewest = 0;
    rc = kalamFeedNewest(pTab->pDb->pTxn, pTab->pCf, pTab->pSchema->eKind,
                         aPrefix, nPrefix, &iNewest, &zErr);
    if( rc ) goto done;
    if( iNewest > iSince ){
      sqlite3_result_int64(ctx, iNewest);
      return;
    }
    if( !kalamFeedWait(iGen, &deadline) ) break;
  }
  sqlite3_result_int64(ctx, iSince);
  return;

done:
  kalamFuncError(ctx, rc, zErr);
}

/* What kalam_subscribe passes to its SQL function, as a pointer of type
** CHANGES_SUBSCRIBE (sqlite3_bind_pointer): SQL cannot make one. */
#define CHANGES_SUBSCRIBE "kalam_subscribe"
typedef struct ChangesSubscribe ChangesSubscribe;
struct ChangesSubscribe {
  const char *zTable;
  kalam_change_fn xChange;
  void *pArg;
  sqlite3_int64 iId;
};

/* kalam_subscribe(p), the SQL side of the C function kalam_subscribe. */
static void changesSubscribeFunc(sqlite3_context *ctx, int argc,
                                 sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  ChangesSubscribe *p = sqlite3_value_pointer(argv[0], CHANGES_SUBSCRIBE);
  KalamTable *pTab = 0;
  char *zErr = 0;
  int rc;
  (void)argc;
  if( p==0 ){
    kalamFuncError(ctx, SQLITE_MISUSE, sqlite3_mprintf("kalam_subscribe is "
        "called from C (include/kalam.h); from SQL, follow a table with "
        "kalam_changes and kalam_wait"));
    return;
  }
  rc = kalamChangesTableFind(db, pConn, p->zTable, &pTab, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamSubscribe(db, pConn, pTab, p->xChange, p->pArg, &p->iId, &zErr);
  }
  if( rc ){
    kalamFuncError(ctx, rc, zErr);
    return;
  }
  sqlite3_result_int64(ctx, p->iId);
}

/* kalam_unsubscribe(id): ends one of the connection's subscriptions. */
static void changesUnsubscribeFunc(sqlite3_context *ctx, int argc,
                                   sqlite3_value **argv){
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_int64 iId = sqlite3_value_int64(argv[0]);
  (void)argc;
  sqlite3_result_int(ctx, iId>0 ? kalamUnsubscribe(db, iId) : 0);
}

/* Runs one statement of the C API's, "SELECT f(?1)", with a pointer or an
** integer bound; the error, if any, stays in sqlite3_errmsg(db). */
static int changesCall(sqlite3 *db, const char *zSql, void *pPtr,
                       sqlite3_int64 iVal, sqlite3_int64 *piOut){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc ) return rc;
  if( pPtr ){
    rc = sqlite3_bind_pointer(pStmt, 1, pPtr, CHANGES_SUBSCRIBE, 0);
  }else{
    rc = sqlite3_bind_int64(pStmt, 1, iVal);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      if( piOut ) *piOut = sqlite3_column_int64(pStmt, 0);
      rc = SQLITE_OK;
    }
  }
  if( rc ){
    /* Keep the statement's message: finalize it after reading the code. */
    int rc2 = sqlite3_finalize(pStmt);
    return rc2 ? rc2 : rc;
  }
  return sqlite3_finalize(pStmt);
}

int kalam_subscribe(sqlite3 *db, const char *zTable, kalam_change_fn xChange,
                    void *pArg, sqlite3_int64 *piId){
  ChangesSubscribe sub;
  if( zTable==0 || xChange==0 || piId==0 ) return SQLITE_MISUSE;
  memset(&sub, 0, sizeof(sub));
  sub.zTable = zTable;
  sub.xChange = xChange;
  sub.pArg = pArg;
  *piId = 0;
  return changesCall(db, "SELECT kalam_subscribe(?1)", &sub, 0, piId);
}

int kalam_unsubscribe(sqlite3 *db, sqlite3_int64 iId){
  sqlite3_int64 n = 0;
  int rc = changesCall(db, "SELECT kalam_unsubscribe(?1)", 0, iId, &n);
  if( rc==SQLITE_OK && n==0 ) rc = SQLITE_NOTFOUND;
  return rc;
}

/* Registers kalam_changes and kalam_wait on db, holding references on
** pConn. */
int kalamChangesRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_wait", 3, SQLITE_DIRECTONLY, changesWaitFunc},
    {"kalam_subscribe", 1, SQLITE_DIRECTONLY, changesSubscribeFunc},
    {"kalam_unsubscribe", 1, SQLITE_DIRECTONLY, changesUnsubscribeFunc},
  };
  int rc;
  kalamConnRef(pConn);
  rc = sqlite3_create_module_v2(db, "kalam_changes", &changesModule, pConn,
                                kalamConnUnref);
  if( rc==SQLITE_OK ){
    rc = kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  }
  return rc;
}
