/*
** plan.c — xBestIndex: how a query on a kalam table reads its rows.
**
** SQLite offers the WHERE terms and ORDER BY it could hand over; this file
** picks the cheapest access kalam has for them and encodes it in idxNum
** for xFilter (cursor.c): a row id or PRIMARY KEY lookup (one value or an
** IN list), a row id range, a _ts range on streams, a range of one of the
** table's indexes, or a scan, in either direction. Costs are what SQLite
** compares between plans and between tables of a join:
**
**   lookup by row id   10 per value     lookup by key   20 per value
**   scan               100 + 10 per estimated row (RocksDB's estimate,
**                      at least 1,000), divided by 4 per bound and by 64
**                      for _ts =
**   index range        30 + 25 per row it is expected to return (a row
**                      read each, at random): 1 for a whole UNIQUE key,
**                      else 10 for the first equality, halved for each
**                      further one, divided by 4 per bound
**
** An index plan is chosen when it costs less than the plan without one,
** counting a sort (n log2 n) for whichever of them leaves ORDER BY to
** SQLite. index.c says which constraints an index can serve exactly; the
** others stay SQLite's to test.
**
** THE PLAN ENCODING (xBestIndex writes it, xFilter in cursor.c reads it;
** the bits are KALAM_PLAN_* in kalam_int.h, written PLAN_* here).
**
** idxNum is a bit set:
**
**   PLAN_EQ       0x0001  argv[EQ] is the row id (or the PK value with
**                         PLAN_PK) the row must have (= or, for the row
**                         id, IS)
**   PLAN_PK       0x0002  the EQ argument is a PRIMARY KEY value, looked up
**                         in the table's key index
**   PLAN_IN       0x0004  the EQ argument is an IN list of row ids, read
**                         all at once with sqlite3_vtab_in_first/next
**   PLAN_LO       0x0010  argv[LO] is a lower bound on the row id (with
**                         PLAN_INDEX: on the index column after the
**                         equalities)
**   PLAN_LO_GT    0x0020    ... strict (>), else >=
**   PLAN_HI       0x0040  argv[HI] is an upper bound, likewise
**   PLAN_HI_LT    0x0080    ... strict (<), else <=
**   PLAN_TS_LO    0x0100  argv[TS_LO] is a lower bound on _ts (streams)
**   PLAN_TS_LO_GT 0x0200    ... strict
**   PLAN_TS_HI    0x0400  argv[TS_HI] is an upper bound on _ts
**   PLAN_TS_HI_LT 0x0800    ... strict
**   PLAN_DESC     0x1000  rows are wanted in descending row id order
**                         (with PLAN_INDEX: descending index order)
**   PLAN_TRASH    0x2000  the WHERE constrains _deleted, so soft-deleted
**                         rows are returned too and SQLite filters them
**   PLAN_TS_EQ    0x4000  with PLAN_TS_LO: argv[TS_LO] is a value _ts must
**                         equal, both bounds at once (and no TS_HI)
**   PLAN_INDEX    0x8000  a range of an index: bits 16-23 say which (its
**                         place in the schema's aIndex), bits 24-29 how
**                         many of its leading columns are given equal
**                         (nEq); argv[0..nEq) are their values, then LO,
**                         then HI
**   PLAN_SEQ_*,   0x10000 with a scan plan only: bounds on _seq and on a
**   PLAN_KEY_*    -0x400000 PRIMARY KEY that is not the row id, which
**                         cold files skip row groups by (cold.h, "Interface
**                         to cold_scan.c"); their arguments come last
**   PLAN_BULK     1<<30   a full scan of a large table (more than
**                         KALAM_BULK_ROWS rows estimated) with no owner
**                         prefix: read ahead, without filling the block
**                         cache (docs/performance.md)
**
** argv holds the arguments of the set bits in this order: EQ, LO, HI,
** TS_LO, TS_HI, SEQ_LO, SEQ_HI, KEY_LO, KEY_HI (index plans: the nEq values, LO, HI). Two exceptions to
** "the plan is what it says": a PLAN_PK whose value is a number for a TEXT
** key is scanned instead (see cursorKeyNeedsScan in cursor.c), and an
** index value kalam cannot encode exactly widens the range (index.c);
** plans with PLAN_TRASH are costed near zero so that SQLite cannot prefer
** a plan that never saw the _deleted term. Only an IN list of row ids is
** "omitted" (SQLite does not test it again); every other constraint is
** tested again by SQLite, so bounds only ever need to be loose, never
** exact.
**
** idxStr is what EXPLAIN QUERY PLAN shows after "INDEX <idxNum>:": the
** plan in words ("full scan", "rowid lookup: id = ?", "key lookup: code =
** ?", "rowid range: rowid > ?", "_ts range: _ts >= ?", "index 2 (city,
** age): city = ? AND age > ?", with ", descending" or ", deleted rows
** too", ", bulk read" after it). xFilter never reads it.
*/
#include "kalam_int.h"
#include <math.h>

SQLITE_EXTENSION_INIT3

/* Is column iCol the row id as far as constraints and ORDER BY go? */
static int planIsRowidCol(const KalamSchema *p, int iCol){
  return iCol<0 || (p->bIntPk && iCol==p->iPk);
}

/* The column number SQLite gives system column zName of this table, or
** -2 (no column) if its kind has none. */
static int planSysColumn(const KalamSchema *pSchema, const char *zName){
  int i = kalamSysColumnFind(pSchema->eKind, zName);
  return i<0 ? -2 : pSchema->nCol + i;
}

/* Takes constraint i with operator op as a lower or upper bound, if it is
** one and no bound of that side was taken yet; a strict one sets its flag. */
static void planBound(int op, int i, int *piLo, int *piHi, int *pIdxNum,
                      int fLoStrict, int fHiStrict){
  if( op==SQLITE_INDEX_CONSTRAINT_GT || op==SQLITE_INDEX_CONSTRAINT_GE ){
    if( *piLo<0 ){
      *piLo = i;
      if( op==SQLITE_INDEX_CONSTRAINT_GT ) *pIdxNum |= fLoStrict;
    }
  }else if( op==SQLITE_INDEX_CONSTRAINT_LT || op==SQLITE_INDEX_CONSTRAINT_LE ){
    if( *piHi<0 ){
      *piHi = i;
      if( op==SQLITE_INDEX_CONSTRAINT_LT ) *pIdxNum |= fHiStrict;
    }
  }
}

/* ------------------------------------------------------------ indexes */

/* An index plan being considered. */
typedef struct PlanIndex PlanIndex;
struct PlanIndex {
  int iIndex;          /* place in the schema's aIndex */
  int nEq;             /* leading columns given equal */
  int aiEq[KALAM_MAX_INDEX_COLUMNS];  /* their constraints */
  int iLo, iHi;        /* bound constraints on the next column, or -1 */
  int flags;           /* PLAN_LO_GT, PLAN_HI_LT */
  int bOrder;          /* its order is the ORDER BY's */
  int bDesc;           /* ... read backwards */
  int bUnique;         /* a whole UNIQUE key is given: one row at most */
  double nRow;         /* rows expected */
  double cost;
};

/* The sort SQLite adds for n rows when a plan leaves ORDER BY to it. */
static double planSortCost(double n){
  return n<2 ? 0.0 : n*log2(n + 2.0);
}

/* Can constraint i on index column iCol narrow an index range (use is
** KALAM_INDEX_USE_EQ or _RANGE)? Only with the BINARY collation for text,
** and never with a value known now to be one index.c cannot encode
** exactly. *pbCertain is cleared when the value is not known yet and
** might turn out so: then xFilter may have to widen the range, and its
** order cannot be promised. */
static int planIndexTerm(const KalamSchema *pSchema, sqlite3_index_info *pInfo,
                         int i, int iCol, int use, int *pbCertain){
  sqlite3_value *pVal = 0;
  int eType = pSchema->aCol[iCol].eType;
  int bText = eType==KALAM_TYPE_TEXT || eType==KALAM_TYPE_JSON;
  if( (kalamIndexColumnUse(pSchema, iCol) & use)==0 ) return 0;
  if( bText || eType==KALAM_TYPE_BLOB ){
    const char *zColl = sqlite3_vtab_collation(pInfo, i);
    if( zColl && sqlite3_stricmp(zColl, "BINARY")!=0 ) return 0;
  }
  if( !bText ) return 1;
  if( sqlite3_vtab_rhs_value(pInfo, i, &pVal)==SQLITE_OK && pVal ){
    return kalamIndexValueExact(pSchema, iCol, sqlite3_value_type(pVal));
  }
  *pbCertain = 0;
  return 1;
}

/* Does index plan pPlan return rows in the ORDER BY's order? Index
** columns fixed by an equality may appear anywhere in it; the others must
** follow the index from its first unfixed column on, in one direction,
** and the row id may follow the last column (entries of equal values come
** in row id order). */
static int planIndexOrder(const KalamSchema *pSchema, const KalamIndex *pIdx,
                          const sqlite3_index_info *pInfo, int nEq,
                          int *pbDesc){
  int j = nEq, k, bDesc = -1;
  if( pInfo->nOrderBy==0 ) return 0;
  for(k=0; k<pInfo->nOrderBy; k++){
    int iCol = pInfo->aOrderBy[k].iColumn;
    int e;
    for(e=0; e<nEq && pIdx->aiCol[e]!=iCol; e++){}
    if( e<nEq ) continue;    /* one value only: any order */
    if( j<pIdx->nCol && iCol==pIdx->aiCol[j]
     && (kalamIndexColumnUse(pSchema, iCol) & KALAM_INDEX_USE_ORDER) ){
      j++;
    }else if( j==pIdx->nCol && planIsRowidCol(pSchema, iCol) ){
      j++;
    }else{
      return 0;
    }
    if( bDesc<0 ) bDesc = pInfo->aOrderBy[k].desc;
    else if( bDesc!=pInfo->aOrderBy[k].desc ) return 0;
  }
  *pbDesc = bDesc>0;
  return 1;
}

/* Fills *pPlan with the best range of index iIndex for the usable
** constraints: equalities on its leading columns, then bounds on the next.
** Returns 0 if the index serves neither the WHERE nor the ORDER BY. */
static int planIndex(const KalamSchema *pSchema, sqlite3_index_info *pInfo,
                     int iIndex, double nRowTable, sqlite3_int64 nLimit,
                     PlanIndex *pPlan){
  const KalamIndex *pIdx = &pSchema->aIndex[iIndex];
  int bCertain = 1;
  int i, j;

  memset(pPlan, 0, sizeof(*pPlan));
  pPlan->iIndex = iIndex;
  pPlan->iLo = pPlan->iHi = -1;
  for(j=0; j<pIdx->nCol; j++){
    int iCol = pIdx->aiCol[j];
    for(i=0; i<pInfo->nConstraint; i++){
      const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
      if( pC->usable && pC->iColumn==iCol
       && pC->op==SQLITE_INDEX_CONSTRAINT_EQ
       && planIndexTerm(pSchema, pInfo, i, iCol, KALAM_INDEX_USE_EQ,
                        &bCertain) ){
        break;
      }
    }
    if( i==pInfo->nConstraint ) break;
    pPlan->aiEq[pPlan->nEq++] = i;
  }
  if( pPlan->nEq<pIdx->nCol ){
    int iCol = pIdx->aiCol[pPlan->nEq];
    for(i=0; i<pInfo->nConstraint; i++){
      const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
      int bDummy = 1;
      if( !pC->usable || pC->iColumn!=iCol ) continue;
      if( pC->op!=SQLITE_INDEX_CONSTRAINT_GT && pC->op!=SQLITE_INDEX_CONSTRAINT_GE
       && pC->op!=SQLITE_INDEX_CONSTRAINT_LT && pC->op!=SQLITE_INDEX_CONSTRAINT_LE ){
        continue;
      }
      /* A bound xFilter cannot use is dropped there, which keeps the
      ** order: its certainty does not matter. */
      if( !planIndexTerm(pSchema, pInfo, i, iCol, KALAM_INDEX_USE_RANGE,
                         &bDummy) ){
        continue;
      }
      planBound(pC->op, i, &pPlan->iLo, &pPlan->iHi, &pPlan->flags,
                KALAM_PLAN_LO_GT, KALAM_PLAN_HI_LT);
    }
  }
  pPlan->bOrder = bCertain
               && planIndexOrder(pSchema, pIdx, pInfo, pPlan->nEq, &pPlan->bDesc);
  if( pPlan->nEq==0 && pPlan->iLo<0 && pPlan->iHi<0 && !pPlan->bOrder ){
    return 0;
  }

  if( pIdx->bUnique && pPlan->nEq==pIdx->nCol ){
    /* SQLite takes SCAN_UNIQUE at its word (one-pass UPDATE and DELETE
    ** stop after one row), so only a key xFilter cannot widen says so. */
    pPlan->bUnique = bCertain;
    pPlan->nRow = 1;
  }else{
    double n = pPlan->nEq ? 10.0 : nRowTable;
    for(j=1; j<pPlan->nEq; j++) n /= 2;
    if( pPlan->iLo>=0 ) n /= 4;
    if( pPlan->iHi>=0 ) n /= 4;
    pPlan->nRow = n<1 ? 1 : n;
  }
  /* With LIMIT and the order given, the read stops early. */
  if( pPlan->bOrder && nLimit>0 && (double)nLimit<pPlan->nRow ){
    pPlan->cost = 30.0 + 25.0*(double)nLimit;
  }else{
    pPlan->cost = 30.0 + 25.0*pPlan->nRow;
  }
  return 1;
}

/* The LIMIT (plus OFFSET) of the query if SQLite passes it, else 0. */
static sqlite3_int64 planLimit(sqlite3_index_info *pInfo){
  sqlite3_int64 n = 0;
  int i;
  for(i=0; i<pInfo->nConstraint; i++){
    int op = pInfo->aConstraint[i].op;
    sqlite3_value *pVal = 0;
    if( op!=SQLITE_INDEX_CONSTRAINT_LIMIT && op!=SQLITE_INDEX_CONSTRAINT_OFFSET ){
      continue;
    }
    if( sqlite3_vtab_rhs_value(pInfo, i, &pVal)!=SQLITE_OK || pVal==0
     || sqlite3_value_type(pVal)!=SQLITE_INTEGER ){
      return 0;
    }
    n += sqlite3_value_int64(pVal);
  }
  return n;
}

/* The words EXPLAIN QUERY PLAN shows for plan idxNum (see THE PLAN
** ENCODING): appended to p. aArgCol[k] is the column of argument k, -1
** for the row id, -2 for _ts. */
static void planWords(const KalamSchema *pSchema, int idxNum,
                      const int *aArgCol, KalamBuf *p){
  static const char *const azOp[] = {">=", ">", "<=", "<"};
  int iArg = 0;
  int nTerm = 0;
  int k;
  const char *zRowid = pSchema->bIntPk ? pSchema->aCol[pSchema->iPk].zName
                                       : "rowid";
  if( idxNum & KALAM_PLAN_INDEX ){
    int iIndex = (idxNum >> 16) & 0xff;
    int nEq = (idxNum >> 24) & 0x3f;
    const KalamIndex *pIdx = &pSchema->aIndex[iIndex];
    kalamBufAppendStr(p, pIdx->bUnique ? "unique index " : "index ");
    kalamBufAppendInt(p, pIdx->iNum);
    kalamBufAppendStr(p, " (");
    for(k=0; k<pIdx->nCol; k++){
      if( k ) kalamBufAppendStr(p, ", ");
      kalamBufAppendStr(p, pSchema->aCol[pIdx->aiCol[k]].zName);
    }
    kalamBufAppendStr(p, "): ");
    for(k=0; k<nEq; k++, iArg++){
      if( k ) kalamBufAppendStr(p, " AND ");
      kalamBufAppendStr(p, pSchema->aCol[pIdx->aiCol[k]].zName);
      kalamBufAppendStr(p, " = ?");
    }
    nTerm = nEq;
    if( (idxNum & (KALAM_PLAN_LO|KALAM_PLAN_HI))==0 && nEq==0 ){
      kalamBufAppendStr(p, "every entry, in index order");
    }
  }else if( idxNum & KALAM_PLAN_PK ){
    kalamBufAppendStr(p, "key lookup: ");
    kalamBufAppendStr(p, pSchema->aCol[pSchema->iPk].zName);
    kalamBufAppendStr(p, " = ?");
    iArg++;
  }else if( idxNum & KALAM_PLAN_EQ ){
    kalamBufAppendStr(p, "rowid lookup: ");
    kalamBufAppendStr(p, zRowid);
    kalamBufAppendStr(p, (idxNum & KALAM_PLAN_IN) ? " IN (...)" : " = ?");
    iArg++;
  }else if( idxNum & (KALAM_PLAN_LO|KALAM_PLAN_HI) ){
    kalamBufAppendStr(p, "rowid range: ");
  }else if( idxNum & (KALAM_PLAN_TS_LO|KALAM_PLAN_TS_HI) ){
    kalamBufAppendStr(p, "_ts range: ");
  }else{
    kalamBufAppendStr(p, "full scan");
  }
  /* The bounds, in argument order: LO, HI, TS_LO, TS_HI. */
  for(k=0; k<4; k++){
    static const int aBit[] = {KALAM_PLAN_LO, KALAM_PLAN_HI,
                               KALAM_PLAN_TS_LO, KALAM_PLAN_TS_HI};
    static const int aStrict[] = {KALAM_PLAN_LO_GT, KALAM_PLAN_HI_LT,
                                  KALAM_PLAN_TS_LO_GT, KALAM_PLAN_TS_HI_LT};
    int iCol;
    if( (idxNum & aBit[k])==0 ) continue;
    if( (idxNum & KALAM_PLAN_EQ) && !(idxNum & KALAM_PLAN_INDEX) ) break;
    iCol = aArgCol[iArg++];
    if( nTerm++ ) kalamBufAppendStr(p, " AND ");
    kalamBufAppendStr(p, iCol==-1 ? zRowid : iCol==-2 ? "_ts"
                                 : pSchema->aCol[iCol].zName);
    kalamBufAppendChar(p, ' ');
    if( k==2 && (idxNum & KALAM_PLAN_TS_EQ) ){
      kalamBufAppendStr(p, "=");
    }else{
      kalamBufAppendStr(p, azOp[(k%2)*2 + ((idxNum & aStrict[k])!=0)]);
    }
    kalamBufAppendStr(p, " ?");
  }
  if( idxNum & KALAM_PLAN_DESC ) kalamBufAppendStr(p, ", descending");
  if( idxNum & KALAM_PLAN_TRASH ) kalamBufAppendStr(p, ", deleted rows too");
  if( idxNum & KALAM_PLAN_BULK ) kalamBufAppendStr(p, ", bulk read");
}

/* Replaces the plan in pInfo with index plan pPlan (THE PLAN ENCODING).
** *pIdxNum keeps only PLAN_TRASH of the plan it replaces. */
static void planUseIndex(sqlite3_index_info *pInfo, const PlanIndex *pPlan,
                         int *pIdxNum, int *aArgCol,
                         const KalamSchema *pSchema){
  const KalamIndex *pIdx = &pSchema->aIndex[pPlan->iIndex];
  int idxNum = (*pIdxNum & KALAM_PLAN_TRASH) | KALAM_PLAN_INDEX
             | (pPlan->iIndex << 16) | (pPlan->nEq << 24) | pPlan->flags;
  int nArg = 0, i;
  for(i=0; i<pInfo->nConstraint; i++){
    if( pInfo->aConstraintUsage[i].argvIndex>0 ){
      /* A row id IN list the replaced plan would read all at once. */
      sqlite3_vtab_in(pInfo, i, 0);
    }
    pInfo->aConstraintUsage[i].argvIndex = 0;
    pInfo->aConstraintUsage[i].omit = 0;
  }
  for(i=0; i<pPlan->nEq; i++){
    pInfo->aConstraintUsage[pPlan->aiEq[i]].argvIndex = ++nArg;
    aArgCol[nArg-1] = pIdx->aiCol[i];
  }
  if( pPlan->iLo>=0 ){
    idxNum |= KALAM_PLAN_LO;
    pInfo->aConstraintUsage[pPlan->iLo].argvIndex = ++nArg;
    aArgCol[nArg-1] = pIdx->aiCol[pPlan->nEq];
  }else{
    idxNum &= ~KALAM_PLAN_LO_GT;
  }
  if( pPlan->iHi>=0 ){
    idxNum |= KALAM_PLAN_HI;
    pInfo->aConstraintUsage[pPlan->iHi].argvIndex = ++nArg;
    aArgCol[nArg-1] = pIdx->aiCol[pPlan->nEq];
  }else{
    idxNum &= ~KALAM_PLAN_HI_LT;
  }
  pInfo->orderByConsumed = pPlan->bOrder;
  if( pPlan->bOrder && pPlan->bDesc ) idxNum |= KALAM_PLAN_DESC;
  pInfo->idxFlags &= ~SQLITE_INDEX_SCAN_UNIQUE;
  if( pPlan->bUnique ) pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  pInfo->estimatedRows = (sqlite3_int64)pPlan->nRow;
  pInfo->estimatedCost = pPlan->cost;
  *pIdxNum = idxNum;
}

/* Is PRIMARY KEY equality constraint i sure to find one row at most? For
** a TEXT or JSON key only when its value is known now and is text or a
** blob (index.c's rule, kalamIndexValueExact). */
static int planKeyCertain(const KalamSchema *pSchema, sqlite3_index_info *pInfo,
                          int i){
  sqlite3_value *pVal = 0;
  int eType = pSchema->aCol[pSchema->iPk].eType;
  if( eType!=KALAM_TYPE_TEXT && eType!=KALAM_TYPE_JSON ) return 1;
  if( sqlite3_vtab_rhs_value(pInfo, i, &pVal)!=SQLITE_OK || pVal==0 ) return 0;
  return kalamIndexValueExact(pSchema, pSchema->iPk, sqlite3_value_type(pVal));
}

/* ------------------------------------------------------------ cold files */

/* Takes constraint i as a bound for skipping cold row groups, if it is
** one: on _seq (column iSeq), or on a PRIMARY KEY that is not the row id
** (with the BINARY collation for text). aCold[] holds the constraints
** chosen: SEQ_LO, SEQ_HI, KEY_LO, KEY_HI; an equality on _seq takes
** SEQ_LO with KALAM_PLAN_SEQ_EQ, and strict _seq bounds set their flags
** in *pFlags. The first of each kind is kept. */
static void planColdTerm(const KalamSchema *pSchema,
                         sqlite3_index_info *pInfo, int i, int iSeq,
                         int *aCold, int *pFlags){
  const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
  int op = pC->op, iDummy = 0;
  if( pC->iColumn==iSeq ){
    if( op==SQLITE_INDEX_CONSTRAINT_EQ ){
      if( !(*pFlags & KALAM_PLAN_SEQ_EQ) ){
        aCold[0] = i;
        aCold[1] = -1;
        *pFlags = KALAM_PLAN_SEQ_EQ;
      }
    }else if( !(*pFlags & KALAM_PLAN_SEQ_EQ) ){
      planBound(op, i, &aCold[0], &aCold[1], pFlags, KALAM_PLAN_SEQ_LO_GT,
                KALAM_PLAN_SEQ_HI_LT);
    }
  }else if( pC->iColumn>=0 && pC->iColumn==pSchema->iPk && !pSchema->bIntPk ){
    int eType = pSchema->aCol[pSchema->iPk].eType;
    if( eType==KALAM_TYPE_TEXT ){
      const char *zColl = sqlite3_vtab_collation(pInfo, i);
      if( zColl && sqlite3_stricmp(zColl, "BINARY")!=0 ) return;
    }
    planBound(op, i, &aCold[2], &aCold[3], &iDummy, 0, 0);
  }
}

/* ------------------------------------------------------------ xBestIndex */

/* xBestIndex (see THE PLAN ENCODING above). */
int kalamPlanBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  KalamTable *pTab = (KalamTable*)pVtab;
  const KalamSchema *pSchema = pTab->pSchema;
  int iDeleted = planSysColumn(pSchema, "_deleted");
  int iTs = planSysColumn(pSchema, "_ts");
  int iSeq = planSysColumn(pSchema, "_seq");
  int iEq = -1, iLo = -1, iHi = -1, iTsLo = -1, iTsHi = -1;
  int aCold[4] = {-1, -1, -1, -1};   /* SEQ_LO, SEQ_HI, KEY_LO, KEY_HI */
  int coldFlags = 0;                 /* KALAM_PLAN_SEQ_EQ, _LO_GT, _HI_LT */
  int bPkEq = 0;
  int idxNum = 0, nArg = 0, i;
  double nRow;
  double cost, total;
  int aArgCol[KALAM_MAX_INDEX_COLUMNS + 8];  /* for planWords */
  KalamBuf words;

  /* The estimate is RocksDB's, taken again at each plan: a table that was
  ** empty when this connection met it may hold a million rows by now
  ** (filled by this connection's last COMMIT, or another's). The store
  ** counts keys: each row has one per index besides its own. */
  if( pTab->pCf ){
    pTab->nRowEst = kalamStoreKeyEstimate(pTab->pDb->pStore, pTab->pCf);
  }
  nRow = (double)pTab->nRowEst / (1 + pSchema->nIndex);
  if( nRow<1000 ) nRow = 1000.0;

  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    int op = pC->op;
    if( pC->iColumn==iDeleted ) idxNum |= KALAM_PLAN_TRASH;
    if( !pC->usable ) continue;
    if( planIsRowidCol(pSchema, pC->iColumn) ){
      if( op==SQLITE_INDEX_CONSTRAINT_EQ || op==SQLITE_INDEX_CONSTRAINT_IS ){
        if( iEq<0 || bPkEq ){ iEq = i; bPkEq = 0; }
      }else{
        planBound(op, i, &iLo, &iHi, &idxNum, KALAM_PLAN_LO_GT, KALAM_PLAN_HI_LT);
      }
    }else if( pC->iColumn==pSchema->iPk && pSchema->iPk>=0
           && op==SQLITE_INDEX_CONSTRAINT_EQ ){
      /* Not IS: "k IS NULL" must find the rows with no key, which the key
      ** index does not hold. */
      if( iEq<0 ){ iEq = i; bPkEq = 1; }
    }else if( pC->iColumn==iTs ){
      if( op==SQLITE_INDEX_CONSTRAINT_EQ ){
        if( !(idxNum & KALAM_PLAN_TS_EQ) ){
          iTsLo = i;
          iTsHi = -1;
          idxNum = (idxNum & ~(KALAM_PLAN_TS_LO_GT|KALAM_PLAN_TS_HI_LT)) | KALAM_PLAN_TS_EQ;
        }
      }else if( !(idxNum & KALAM_PLAN_TS_EQ) ){  /* an equality pins _ts already */
        planBound(op, i, &iTsLo, &iTsHi, &idxNum, KALAM_PLAN_TS_LO_GT, KALAM_PLAN_TS_HI_LT);
      }
    }else{
      planColdTerm(pSchema, pInfo, i, iSeq, aCold, &coldFlags);
    }
  }

  if( iEq>=0 ){
    int nIn = 1;
    idxNum &= KALAM_PLAN_TRASH;
    idxNum |= KALAM_PLAN_EQ | (bPkEq ? KALAM_PLAN_PK : 0);
    pInfo->aConstraintUsage[iEq].argvIndex = ++nArg;
    aArgCol[0] = bPkEq ? pSchema->iPk : -1;
    /* An IN list on the row id is read all at once and not tested again:
    ** row ids compare as SQLite compares them. A key's IN list is left to
    ** SQLite one value at a time, and tested again, because the key index
    ** matches by kalam's conversion rules, which are wider than SQLite's
    ** comparison (a TIMESTAMP key takes ISO text). */
    if( !bPkEq && sqlite3_vtab_in(pInfo, iEq, -1) ){
      sqlite3_vtab_in(pInfo, iEq, 1);
      pInfo->aConstraintUsage[iEq].omit = 1;
      idxNum |= KALAM_PLAN_IN;
      nIn = 10;
    }
    cost = (bPkEq ? 20.0 : 10.0) * nIn;
    pInfo->estimatedRows = nIn;
    /* One row at most, which SQLite takes at its word (a one-pass UPDATE
    ** or DELETE stops after it): not for a TEXT key whose value may turn
    ** out a number, which xFilter answers by a scan (cursorKeyNeedsScan)
    ** that can find '7', '07' and '7.0' alike. */
    if( !(idxNum & KALAM_PLAN_IN)
     && (!bPkEq || planKeyCertain(pSchema, pInfo, iEq)) ){
      pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
    }
  }else{
    double nScan = nRow;
    if( iLo>=0 ){
      idxNum |= KALAM_PLAN_LO;
      pInfo->aConstraintUsage[iLo].argvIndex = ++nArg;
      aArgCol[nArg-1] = -1;
      nScan /= 4;
    }
    if( iHi>=0 ){
      idxNum |= KALAM_PLAN_HI;
      pInfo->aConstraintUsage[iHi].argvIndex = ++nArg;
      aArgCol[nArg-1] = -1;
      nScan /= 4;
    }
    if( iTsLo>=0 ){
      idxNum |= KALAM_PLAN_TS_LO;
      pInfo->aConstraintUsage[iTsLo].argvIndex = ++nArg;
      aArgCol[nArg-1] = -2;
      nScan /= 4;
    }
    if( iTsHi>=0 ){
      idxNum |= KALAM_PLAN_TS_HI;
      pInfo->aConstraintUsage[iTsHi].argvIndex = ++nArg;
      aArgCol[nArg-1] = -2;
      nScan /= 4;
    }
    idxNum &= ~(iLo<0 ? KALAM_PLAN_LO_GT : 0) & ~(iHi<0 ? KALAM_PLAN_HI_LT : 0)
            & ~(iTsLo<0 ? KALAM_PLAN_TS_LO_GT : 0) & ~(iTsHi<0 ? KALAM_PLAN_TS_HI_LT : 0);
    if( idxNum & KALAM_PLAN_TS_EQ ) nScan /= 64;
    if( nArg==0 && !kalamSchemaOwned(pSchema) && nRow>KALAM_BULK_ROWS ){
      idxNum |= KALAM_PLAN_BULK;
    }
    for(i=0; i<4; i++){
      /* Bounds for the cold files' statistics: the cost stays, since hot
      ** rows are read all the same. */
      static const int aBit[] = {KALAM_PLAN_SEQ_LO, KALAM_PLAN_SEQ_HI,
                                 KALAM_PLAN_KEY_LO, KALAM_PLAN_KEY_HI};
      static const int aStrict[] = {KALAM_PLAN_SEQ_LO_GT|KALAM_PLAN_SEQ_EQ,
                                    KALAM_PLAN_SEQ_HI_LT, 0, 0};
      if( aCold[i]<0 ) continue;
      idxNum |= aBit[i] | (coldFlags & aStrict[i]);
      pInfo->aConstraintUsage[aCold[i]].argvIndex = ++nArg;
      aArgCol[nArg-1] = i<2 ? -3 : pSchema->iPk;
    }
    cost = nScan * 10.0 + 100.0;
    pInfo->estimatedRows = (sqlite3_int64)(nScan<1 ? 1 : nScan);
  }

  /* Rows come in row id order (time order for streams); a PK lookup of an
  ** IN list comes in key order instead, so that one cannot promise it. */
  if( pInfo->nOrderBy==1
   && (planIsRowidCol(pSchema, pInfo->aOrderBy[0].iColumn)
       || pInfo->aOrderBy[0].iColumn==iTs)
   && !((idxNum & KALAM_PLAN_PK) && (idxNum & KALAM_PLAN_IN)) ){
    if( pInfo->aOrderBy[0].desc ) idxNum |= KALAM_PLAN_DESC;
    pInfo->orderByConsumed = 1;
  }

  pInfo->estimatedCost = cost;

  /* An index range, if one costs less, the sorts counted. */
  total = cost;
  if( pInfo->nOrderBy && !pInfo->orderByConsumed ){
    total += planSortCost((double)pInfo->estimatedRows);
  }
  if( pSchema->nIndex ){
    sqlite3_int64 nLimit = planLimit(pInfo);
    PlanIndex best, plan;
    double bestTotal = total;
    int bFound = 0;
    for(i=0; i<pSchema->nIndex; i++){
      double t;
      if( !planIndex(pSchema, pInfo, i, nRow, nLimit, &plan) ) continue;
      t = plan.cost;
      if( pInfo->nOrderBy && !plan.bOrder ) t += planSortCost(plan.nRow);
      if( t<bestTotal ){
        best = plan;
        bestTotal = t;
        bFound = 1;
      }
    }
    if( bFound ){
      planUseIndex(pInfo, &best, &idxNum, aArgCol, pSchema);
      nArg = best.nEq + (best.iLo>=0) + (best.iHi>=0);
    }
  }

  /* A plan that sees the _deleted term must win over any plan that does
  ** not: SQLite plans an OR of row id terms as a union of single-term
  ** plans, and those calls never show kalam the _deleted term beside the
  ** OR, so they would hide the trash the query asks for. */
  if( idxNum & KALAM_PLAN_TRASH ) pInfo->estimatedCost /= 1e9;

  /* Each argument comes from one constraint, in THE PLAN ENCODING's
  ** order. */
  assert( nArg<=pInfo->nConstraint );
  pInfo->idxNum = idxNum;

  /* The plan in words, for EXPLAIN QUERY PLAN. Without memory for them
  ** the plan stands without words. */
  kalamBufInit(&words);
  planWords(pSchema, idxNum, aArgCol, &words);
  if( !words.oom && words.z ){
    pInfo->idxStr = words.z;
    pInfo->needToFreeIdxStr = 1;
  }else{
    kalamBufFree(&words);
  }
  return SQLITE_OK;
}
