/*
** plan.c — xBestIndex: how a query on a kalam table reads its rows.
**
** SQLite offers the WHERE terms and ORDER BY it could hand over; this file
** picks the cheapest access kalam has for them and encodes it in idxNum
** for xFilter (cursor.c): a row id or PRIMARY KEY lookup (one value or an
** IN list), a row id range, a _ts range on streams, or a scan, in either
** direction. Costs are what SQLite compares between plans and between
** tables of a join:
**
**   lookup by row id   10 per value     lookup by key   20 per value
**   scan               100 + 10 per estimated row (RocksDB's estimate,
**                      at least 1,000), divided by 4 per bound and by 64
**                      for _ts =
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
**   PLAN_LO       0x0010  argv[LO] is a lower bound on the row id
**   PLAN_LO_GT    0x0020    ... strict (>), else >=
**   PLAN_HI       0x0040  argv[HI] is an upper bound on the row id
**   PLAN_HI_LT    0x0080    ... strict (<), else <=
**   PLAN_TS_LO    0x0100  argv[TS_LO] is a lower bound on _ts (streams)
**   PLAN_TS_LO_GT 0x0200    ... strict
**   PLAN_TS_HI    0x0400  argv[TS_HI] is an upper bound on _ts
**   PLAN_TS_HI_LT 0x0800    ... strict
**   PLAN_DESC     0x1000  rows are wanted in descending row id order
**   PLAN_TRASH    0x2000  the WHERE constrains _deleted, so soft-deleted
**                         rows are returned too and SQLite filters them
**   PLAN_TS_EQ    0x4000  with PLAN_TS_LO: argv[TS_LO] is a value _ts must
**                         equal, both bounds at once (and no TS_HI)
**
** argv holds the arguments of the set bits in this order: EQ, LO, HI,
** TS_LO, TS_HI. Two exceptions to "the plan is what it says": a PLAN_PK
** whose value is a number for a TEXT key is scanned instead (see
** cursorKeyNeedsScan in cursor.c), and plans with PLAN_TRASH are costed
** near zero so that SQLite cannot prefer a plan that never saw the
** _deleted term. idxStr is not used. Only an IN list is "omitted" (SQLite
** does not test it again); every other constraint is tested again by
** SQLite, so bounds only ever need to be loose, never exact.
*/
#include "kalam_int.h"

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

/* xBestIndex (see THE PLAN ENCODING above). */
int kalamPlanBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  KalamTable *pTab = (KalamTable*)pVtab;
  const KalamSchema *pSchema = pTab->pSchema;
  int iDeleted = planSysColumn(pSchema, "_deleted");
  int iTs = planSysColumn(pSchema, "_ts");
  int iEq = -1, iLo = -1, iHi = -1, iTsLo = -1, iTsHi = -1;
  int bPkEq = 0;
  int idxNum = 0, nArg = 0, i;
  double nRow = pTab->nRowEst<1000 ? 1000.0 : (double)pTab->nRowEst;
  double cost;

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
    }
  }

  if( iEq>=0 ){
    int nIn = 1;
    idxNum &= KALAM_PLAN_TRASH;
    idxNum |= KALAM_PLAN_EQ | (bPkEq ? KALAM_PLAN_PK : 0);
    pInfo->aConstraintUsage[iEq].argvIndex = ++nArg;
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
    if( !(idxNum & KALAM_PLAN_IN) ) pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  }else{
    double nScan = nRow;
    if( iLo>=0 ){
      idxNum |= KALAM_PLAN_LO;
      pInfo->aConstraintUsage[iLo].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iHi>=0 ){
      idxNum |= KALAM_PLAN_HI;
      pInfo->aConstraintUsage[iHi].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iTsLo>=0 ){
      idxNum |= KALAM_PLAN_TS_LO;
      pInfo->aConstraintUsage[iTsLo].argvIndex = ++nArg;
      nScan /= 4;
    }
    if( iTsHi>=0 ){
      idxNum |= KALAM_PLAN_TS_HI;
      pInfo->aConstraintUsage[iTsHi].argvIndex = ++nArg;
      nScan /= 4;
    }
    idxNum &= ~(iLo<0 ? KALAM_PLAN_LO_GT : 0) & ~(iHi<0 ? KALAM_PLAN_HI_LT : 0)
            & ~(iTsLo<0 ? KALAM_PLAN_TS_LO_GT : 0) & ~(iTsHi<0 ? KALAM_PLAN_TS_HI_LT : 0);
    if( idxNum & KALAM_PLAN_TS_EQ ) nScan /= 64;
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

  /* A plan that sees the _deleted term must win over any plan that does
  ** not: SQLite plans an OR of row id terms as a union of single-term
  ** plans, and those calls never show kalam the _deleted term beside the
  ** OR, so they would hide the trash the query asks for. */
  if( idxNum & KALAM_PLAN_TRASH ) cost /= 1e9;

  /* Each argument comes from one constraint, in THE PLAN ENCODING's
  ** order. */
  assert( nArg<=pInfo->nConstraint );
  pInfo->idxNum = idxNum;
  pInfo->estimatedCost = cost;
  return SQLITE_OK;
}
