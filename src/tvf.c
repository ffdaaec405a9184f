/*
** tvf.c — what kalam's eponymous table-valued functions share
** (kalam_changes, kalam_consume, kalam_consumers, kalam_users,
** kalam_segments): a vtab that knows its connection, and xBestIndex for
** arguments given as hidden columns.
**
** Their arguments are HIDDEN columns after the result columns; SQLite
** passes `f(a, b)` as a = ? AND b = ?. kalamTvfBestIndex hands xFilter the
** arguments present, in column order, and says which in idxNum (bit i:
** argument i is in argv).
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

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
