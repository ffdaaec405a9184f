/*
** tvf.c — what kalam's eponymous table-valued functions share
** (kalam_changes, kalam_consume, kalam_consumers, kalam_users,
** kalam_segments, kalam_tables, kalam_check): a vtab that knows its
** connection, xBestIndex for arguments given as hidden columns, and the
** cursor of the listings, whose rows are all made at xFilter.
**
** Their arguments are HIDDEN columns after the result columns; SQLite
** passes `f(a, b)` as a = ? AND b = ?. kalamTvfBestIndex hands xFilter the
** arguments present, in column order, and says which in idxNum (bit i:
** argument i is in argv).
*/
#include "kalam_int.h"
#include <string.h>
#include <stdlib.h>

SQLITE_EXTENSION_INIT3

/* Registers pModule as zName on db with pConn as its pAux, holding a
** reference on pConn that SQLite releases when it drops the module (or
** at once, if registering fails). */
int kalamTvfRegister(sqlite3 *db, KalamConn *pConn, const char *zName,
                     const sqlite3_module *pModule){
  kalamConnRef(pConn);
  return sqlite3_create_module_v2(db, zName, pModule, pConn, kalamConnUnref);
}

/* xConnect of a table-valued function declared by zDecl; pAux is its
** KalamConn. */
int kalamTvfConnect(sqlite3 *db, void *pAux, const char *zDecl,
                    sqlite3_vtab **ppVtab){
  KalamTvf *p;
  int rc = sqlite3_declare_vtab(db, zDecl);
  if( rc ) return rc;
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->pConn = (KalamConn*)pAux;
  *ppVtab = &p->base;
  return SQLITE_OK;
}

int kalamTvfDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* xBestIndex: arguments are columns iFirst.. iFirst+nArg-1, the first
** nRequired of them required (zUsage says how to call it when one is
** missing). Rows come in the order of column iOrder, ascending, if it is
** 0 or more. */
int kalamTvfBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo,
                      int iFirst, int nArg, int nRequired,
                      const char *zUsage, int iOrder){
  int aiArg[KALAM_TVF_MAX_ARG];
  int i, n = 0, idxNum = 0;
  assert( nArg<=KALAM_TVF_MAX_ARG );
  for(i=0; i<nArg; i++) aiArg[i] = -1;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    if( p->iColumn<iFirst || p->iColumn>=iFirst + nArg ) continue;
    if( p->op!=SQLITE_INDEX_CONSTRAINT_EQ || !p->usable ){
      return SQLITE_CONSTRAINT;
    }
    aiArg[p->iColumn - iFirst] = i;
  }
  for(i=0; i<nRequired; i++){
    if( aiArg[i]<0 ){
      kalamTvfError(pVtab, sqlite3_mprintf("%s", zUsage));
      return SQLITE_ERROR;
    }
  }
  for(i=0; i<nArg; i++){
    if( aiArg[i]<0 ) continue;
    idxNum |= 1<<i;
    pInfo->aConstraintUsage[aiArg[i]].argvIndex = ++n;
    pInfo->aConstraintUsage[aiArg[i]].omit = 1;
  }
  pInfo->idxNum = idxNum;
  if( iOrder>=0 && pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==iOrder
   && !pInfo->aOrderBy[0].desc ){
    pInfo->orderByConsumed = 1;
  }
  pInfo->estimatedCost = 1000;
  pInfo->estimatedRows = 1000;
  return SQLITE_OK;
}

/* Makes zErr (or nothing, if NULL) the vtab's message, freeing any older
** one; SQLite frees it. */
void kalamTvfError(sqlite3_vtab *pVtab, char *zErr){
  if( zErr==0 ) return;
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zErr;
}

/* ------------------------------------------------------------ listings
** kalam_tables, kalam_segments, kalam_check and kalam_users make all
** their rows at xFilter (from small catalogs, or one seek per user) and
** then hand them out; the cursor below holds them, and the modules share
** its methods. A row is nText text columns, any of them NULL, then nInt
** integer columns, as kalamTvfRowsConnect declares; a column past those
** (a function's argument) reads NULL.
**
** The rows are one array of nAlloc slots of szRow bytes: nText pointers
** at the start of each slot (so kalamTvfRowsSort's comparison finds the
** first column without knowing the shape), then nInt integers at the
** next multiple of 8 bytes. */
typedef struct TvfRows TvfRows;
struct TvfRows {
  sqlite3_vtab_cursor base; /* must be first: SQLite sees only this part */
  int nText;                /* text columns of a row */
  int nInt;                 /* integer columns, after the text ones */
  size_t szRow;             /* bytes of a slot of aRow */
  size_t iIntOff;           /* where a slot's integers start */
  char *aRow;               /* the rows; each text is freed by
                            ** kalamTvfRowsReset, with sqlite3_free */
  int nRow;                 /* rows made, all of them whole */
  int nAlloc;               /* slots of aRow */
  int iRow;                 /* the current row */
};

/* The text columns of row iRow. */
static char **tvfRowText(TvfRows *p, int iRow){
  return (char**)&p->aRow[p->szRow*(size_t)iRow];
}

/* The integer columns of row iRow. */
static sqlite3_int64 *tvfRowInt(TvfRows *p, int iRow){
  return (sqlite3_int64*)&p->aRow[p->szRow*(size_t)iRow + p->iIntOff];
}

/* xConnect of a listing declared by zDecl whose rows are nText text
** columns then nInt integer columns; pAux is its KalamConn. xDb, if not
** NULL, adds the rows of one database for kalamTvfRowsEachDb. A listing
** reads what a database's schema must not reach behind the application's
** back (every table, every user's files or ids): only top-level SQL may
** use it, not a view or a trigger (SQLITE_VTAB_DIRECTONLY). */
int kalamTvfRowsConnect(sqlite3 *db, void *pAux, const char *zDecl,
                        int nText, int nInt,
                        int (*xDb)(sqlite3_vtab_cursor*, KalamDb*, char**),
                        sqlite3_vtab **ppVtab){
  KalamTvf *p;
  int rc = kalamTvfConnect(db, pAux, zDecl, ppVtab);
  if( rc ) return rc;
  assert( nText>0 && nInt>=0 );
  p = (KalamTvf*)*ppVtab;
  p->nRowText = nText;
  p->nRowInt = nInt;
  p->xRowsDb = xDb;
  rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if( rc ){
    kalamTvfDisconnect(*ppVtab);
    *ppVtab = 0;
  }
  return rc;
}

/* xBestIndex of a listing that takes no argument: every row is made, a
** hundred or so. */
int kalamTvfRowsBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  pInfo->estimatedCost = 1000;
  pInfo->estimatedRows = 100;
  return SQLITE_OK;
}

/* xOpen: a cursor of no rows, of the shape kalamTvfRowsConnect gave the
** vtab. */
int kalamTvfRowsOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  KalamTvf *pTab = (KalamTvf*)pVtab;
  TvfRows *p = sqlite3_malloc(sizeof(*p));
  size_t szText;
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->nText = pTab->nRowText;
  p->nInt = pTab->nRowInt;
  assert( p->nText>0 );
  szText = sizeof(char*)*(size_t)p->nText;
  p->iIntOff = (szText + sizeof(sqlite3_int64) - 1)
             & ~(sizeof(sqlite3_int64) - 1);
  p->szRow = p->iIntOff + sizeof(sqlite3_int64)*(size_t)p->nInt;
  *ppCur = &p->base;
  return SQLITE_OK;
}

/* Frees the cursor's rows: xFilter starts with it. */
void kalamTvfRowsReset(sqlite3_vtab_cursor *cur){
  TvfRows *p = (TvfRows*)cur;
  int i, j;
  for(i=0; i<p->nRow; i++){
    char **az = tvfRowText(p, i);
    for(j=0; j<p->nText; j++) sqlite3_free(az[j]);
  }
  sqlite3_free(p->aRow);
  p->aRow = 0;
  p->nRow = 0;
  p->nAlloc = 0;
  p->iRow = 0;
}

int kalamTvfRowsClose(sqlite3_vtab_cursor *cur){
  kalamTvfRowsReset(cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Appends a row: copies of the texts azText[0..nText-1] (a NULL stays
** NULL) and the integers aInt[0..nInt-1] (aInt may be NULL when there
** are none). Only running out of memory fails, and then no row is
** added. */
int kalamTvfRowsAdd(sqlite3_vtab_cursor *cur, const char *const *azText,
                    const sqlite3_int64 *aInt){
  TvfRows *p = (TvfRows*)cur;
  char **az;
  int i;
  if( p->nRow==p->nAlloc ){
    int nAlloc = p->nAlloc ? p->nAlloc*2 : 16;
    char *aNew = sqlite3_realloc64(p->aRow, p->szRow*(size_t)nAlloc);
    if( aNew==0 ) return SQLITE_NOMEM;
    p->aRow = aNew;
    p->nAlloc = nAlloc;
  }
  az = tvfRowText(p, p->nRow);
  memset(az, 0, p->szRow);
  for(i=0; i<p->nText; i++){
    if( azText[i]==0 ) continue;
    az[i] = sqlite3_mprintf("%s", azText[i]);
    if( az[i]==0 ){
      while( i>0 ) sqlite3_free(az[--i]);
      return SQLITE_NOMEM;
    }
  }
  if( p->nInt>0 ){
    memcpy(tvfRowInt(p, p->nRow), aInt, sizeof(sqlite3_int64)*(size_t)p->nInt);
  }
  p->nRow++;
  return SQLITE_OK;
}

/* The rows made so far. */
int kalamTvfRowsCount(sqlite3_vtab_cursor *cur){
  return ((TvfRows*)cur)->nRow;
}

/* qsort comparison of two rows by their first column: bytewise, as
** ORDER BY sorts text. The pointer to it starts each row. */
static int tvfRowsCmp(const void *a, const void *b){
  return strcmp(*(char *const*)a, *(char *const*)b);
}

/* Puts the rows in bytewise order of their first column, which no row
** may have NULL. */
void kalamTvfRowsSort(sqlite3_vtab_cursor *cur){
  TvfRows *p = (TvfRows*)cur;
  if( p->nRow>1 ) qsort(p->aRow, (size_t)p->nRow, p->szRow, tvfRowsCmp);
}

int kalamTvfRowsNext(sqlite3_vtab_cursor *cur){
  ((TvfRows*)cur)->iRow++;
  return SQLITE_OK;
}

int kalamTvfRowsEof(sqlite3_vtab_cursor *cur){
  TvfRows *p = (TvfRows*)cur;
  return p->iRow>=p->nRow;
}

int kalamTvfRowsColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int iCol){
  TvfRows *p = (TvfRows*)cur;
  assert( p->iRow<p->nRow );
  if( iCol<p->nText ){
    const char *z = tvfRowText(p, p->iRow)[iCol];
    if( z ) sqlite3_result_text(ctx, z, -1, SQLITE_TRANSIENT);
  }else if( iCol<p->nText + p->nInt ){
    sqlite3_result_int64(ctx, tvfRowInt(p, p->iRow)[iCol - p->nText]);
  }
  return SQLITE_OK;
}

/* Row ids count the rows from 1, in the order they are handed out. */
int kalamTvfRowsRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid){
  *pRowid = ((TvfRows*)cur)->iRow + 1;
  return SQLITE_OK;
}

/* xFilter of the listings made database by database (kalam_tables,
** kalam_segments): the vtab's xRowsDb adds the rows of each database of
** the connection that has kalam tables, in the order of sqlite3_db_name
** (main, temp, the attached ones), until one fails; the failure's
** message, if any, becomes the vtab's. They take no argument. */
int kalamTvfRowsEachDb(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  KalamTvf *p = (KalamTvf*)cur->pVtab;
  const char *zSchema;
  int rc = SQLITE_OK, i;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  assert( p->xRowsDb!=0 );
  kalamTvfRowsReset(cur);
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(p->db, i))!=0; i++){
    KalamDb *pDb = 0;
    char *zErr = 0;
    rc = kalamConnDb(p->pConn, zSchema, 0, &pDb, &zErr);
    if( rc==SQLITE_OK && pDb ) rc = p->xRowsDb(cur, pDb, &zErr);
    if( rc ){
      kalamTvfError(&p->base, zErr);
    }else{
      sqlite3_free(zErr);
    }
  }
  return rc;
}
