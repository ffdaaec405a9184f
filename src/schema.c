/*
** schema.c — the argument list of CREATE VIRTUAL TABLE ... USING kalam_*(...)
**
** SQLite splits the arguments at top-level commas and hands them over as
** text. Each one is an option, `key=value`, a column definition, or an
** index item:
**
**   name [TYPE [(n[,m])]] [NOT NULL | NULL | DEFAULT literal |
**                          PRIMARY KEY [ASC|DESC] | UNIQUE]...
**   UNIQUE(column [ASC|DESC], ...)     INDEX(column [ASC|DESC], ...)
**
** This file parses them into a KalamSchema, refusing with a message that
** names the table and the column or option concerned, and renders the
** schema back as the CREATE TABLE that is declared to SQLite (user columns,
** then the HIDDEN system columns) and as the JSON kept in the catalog. A
** column definition or index item itself is read by column.c. Index items
** may name columns declared after them, so they are read once every
** column is known.
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <string.h>
#include <ctype.h>
#include <stdlib.h>
#include <errno.h>
#include <assert.h>

SQLITE_EXTENSION_INIT3

/* Frees what a KalamValue owns and empties it. Here, beside the struct's
** declaration, because a column's DEFAULT is one. */
void kalamValueClear(KalamValue *p){
  sqlite3_free(p->zOwned);
  memset(p, 0, sizeof(*p));
}

/* The module name of each kind, by KALAM_KIND_*: SQLite names the module
** in argv[0], and the catalog and kalam_tables show it. */
static const char *const azKindName[] = {
  "kalam_shared", "kalam_user", "kalam_stream"
};

const char *kalamKindName(int eKind){
  assert( eKind>=0 && eKind<3 );
  return azKindName[eKind];
}

int kalamKindFromName(const char *zName){
  int i;
  for(i=0; zName && i<3; i++){
    if( sqlite3_stricmp(zName, azKindName[i])==0 ) return i;
  }
  return -1;
}

/* The system columns of each kind (kalam_int.h says what they are). Every
** list and check of them goes through these tables: the declared schema,
** the read-only check, the planner, and the row codec. */
static const KalamSysColumn aSysShared[] = {
  {"_seq",     4, ",\"_seq\":",     KALAM_SYS_SEQ},
  {"_updated", 8, ",\"_updated\":", KALAM_SYS_UPDATED},
  {"_deleted", 8, ",\"_deleted\":", KALAM_SYS_DELETED},
};
static const KalamSysColumn aSysStream[] = {
  {"_seq",     4, ",\"_seq\":",     KALAM_SYS_SEQ},
  {"_ts",      3, ",\"_ts\":",      KALAM_SYS_UPDATED},
};

/* The system columns of kind eKind, in declared order; returns how many. */
int kalamSysColumns(int eKind, const KalamSysColumn **paCol){
  if( eKind==KALAM_KIND_STREAM ){
    *paCol = aSysStream;
    return (int)(sizeof(aSysStream)/sizeof(aSysStream[0]));
  }
  *paCol = aSysShared;
  return (int)(sizeof(aSysShared)/sizeof(aSysShared[0]));
}

/* The place of system column zName among kind eKind's, or -1. */
int kalamSysColumnFind(int eKind, const char *zName){
  const KalamSysColumn *aCol;
  int n = kalamSysColumns(eKind, &aCol), i;
  for(i=0; i<n; i++){
    if( strcmp(aCol[i].zName, zName)==0 ) return i;
  }
  return -1;
}

/* The system column a row's JSON key z[0..n) names, of any kind, or NULL:
** the codec reads rows without asking which kind wrote them. */
const KalamSysColumn *kalamSysColumnByKey(const char *z, size_t n){
  static const KalamSysColumn *const aAll[] = {
    &aSysShared[0], &aSysShared[1], &aSysShared[2], &aSysStream[1]
  };
  int i;
  for(i=0; i<4; i++){
    if( (size_t)aAll[i]->nName==n && memcmp(aAll[i]->zName, z, n)==0 ){
      return aAll[i];
    }
  }
  return 0;
}

const char *kalamTypeName(int eType){
  static const char *az[] = {
    "ANY", "TEXT", "INTEGER", "REAL", "BOOLEAN", "TIMESTAMP", "JSON", "BLOB"
  };
  return (eType>=0 && eType<8) ? az[eType] : "ANY";
}

/* The SQLite type each kalam type is declared with, which gives the column
** the affinity SQLite applies in comparisons. */
static const char *schemaAffinity(int eType){
  switch( eType ){
    case KALAM_TYPE_TEXT:
    case KALAM_TYPE_JSON:      return "TEXT";
    case KALAM_TYPE_INTEGER:
    case KALAM_TYPE_BOOLEAN:
    case KALAM_TYPE_TIMESTAMP: return "INTEGER";
    case KALAM_TYPE_REAL:      return "REAL";
    case KALAM_TYPE_BLOB:      return "BLOB";
    default:                   return "";
  }
}


/* ------------------------------------------------------------ options */

/* Parses a non-negative integer option value (bare or quoted). */
static int schemaOptionInt(const char *zVal, sqlite3_int64 *piOut){
  char *zEnd = 0;
  long long v;
  int n = (int)strlen(zVal);
  char a[32];
  if( n>=2 && (zVal[0]=='\'' || zVal[0]=='"') && zVal[n-1]==zVal[0] ){
    zVal++;
    n -= 2;
  }
  if( n<=0 || n>=(int)sizeof(a) ) return 0;
  memcpy(a, zVal, (size_t)n);
  a[n] = 0;
  if( !isdigit((unsigned char)a[0]) ) return 0;
  errno = 0;
  v = strtoll(a, &zEnd, 10);
  if( errno || *zEnd ) return 0;
  *piOut = v;
  return 1;
}

/* Handles one `key=value` argument. */
static int schemaOption(KalamSchema *p, const char *zArg, char **pzErr){
  const char *zEq = strchr(zArg, '=');
  int nKey = (int)(zEq - zArg);
  char *zKey = 0, *zVal = 0;
  int rc = SQLITE_ERROR;
  const char *zKind = kalamKindName(p->eKind);
  while( nKey>0 && isspace((unsigned char)zArg[nKey-1]) ) nKey--;
  zKey = sqlite3_mprintf("%.*s", nKey, zArg);
  zVal = sqlite3_mprintf("%s", zEq + 1);
  if( zKey==0 || zVal==0 ){ rc = SQLITE_NOMEM; goto done; }
  /* Trim the value. */
  {
    char *z = zVal;
    int n;
    while( isspace((unsigned char)*z) ) z++;
    memmove(zVal, z, strlen(z) + 1);
    n = (int)strlen(zVal);
    while( n>0 && isspace((unsigned char)zVal[n-1]) ) zVal[--n] = 0;
  }

  if( sqlite3_stricmp(zKey, "ttl_seconds")==0 ){
    if( p->eKind!=KALAM_KIND_STREAM ) goto wrong_kind;
    if( p->nTtlSeconds ) goto twice;
    if( !schemaOptionInt(zVal, &p->nTtlSeconds) || p->nTtlSeconds<=0 ){
      *pzErr = sqlite3_mprintf("ttl_seconds of kalam_stream table %s must be a "
          "positive whole number of seconds, not %s", p->zTable, zVal);
      goto done;
    }
  }else if( sqlite3_stricmp(zKey, "per_user")==0 ){
    sqlite3_int64 v;
    if( p->eKind!=KALAM_KIND_STREAM ) goto wrong_kind;
    if( !schemaOptionInt(zVal, &v) || (v!=0 && v!=1) ){
      *pzErr = sqlite3_mprintf("per_user of kalam_stream table %s must be 0 "
          "or 1, not %s", p->zTable, zVal);
      goto done;
    }
    p->bPerUser = (int)v;
  }else if( sqlite3_stricmp(zKey, "flush_policy")==0 ){
    int n = (int)strlen(zVal);
    char *zPolicy;
    if( p->eKind==KALAM_KIND_STREAM ) goto wrong_kind;
    if( p->zFlushPolicy ) goto twice;
    zPolicy = sqlite3_mprintf("%s", zVal);
    if( zPolicy==0 ){ rc = SQLITE_NOMEM; goto done; }
    if( n>=2 && (zVal[0]=='\'' || zVal[0]=='"') && zVal[n-1]==zVal[0] ){
      memmove(zPolicy, zVal + 1, (size_t)n - 2);
      zPolicy[n-2] = 0;
    }
    p->zFlushPolicy = zPolicy;
    if( !kalamFlushPolicyParse(zPolicy, &p->nFlushRows, &p->nFlushInterval) ){
      *pzErr = sqlite3_mprintf("flush_policy of %s table %s must be "
          "'rows:N', 'interval:S' or 'rows:N,interval:S' with N and S "
          "positive whole numbers, not %s", zKind, p->zTable, zVal);
      goto done;
    }
    /* Kept as kalam writes it (flush.c reads it back the same). */
    sqlite3_free(p->zFlushPolicy);
    p->zFlushPolicy = p->nFlushRows && p->nFlushInterval
      ? sqlite3_mprintf("rows:%lld,interval:%lld", p->nFlushRows,
                        p->nFlushInterval)
      : p->nFlushRows ? sqlite3_mprintf("rows:%lld", p->nFlushRows)
                      : sqlite3_mprintf("interval:%lld", p->nFlushInterval);
    if( p->zFlushPolicy==0 ){ rc = SQLITE_NOMEM; goto done; }
  }else if( sqlite3_stricmp(zKey, "deleted_retention_hours")==0 ){
    sqlite3_int64 v;
    if( p->eKind==KALAM_KIND_STREAM ) goto wrong_kind;
    if( p->nRetentionHours>=0 ) goto twice;
    if( !schemaOptionInt(zVal, &v) ){
      *pzErr = sqlite3_mprintf("deleted_retention_hours of %s table %s must "
          "be a whole number of hours (0 = keep), not %s",
          zKind, p->zTable, zVal);
      goto done;
    }
    p->nRetentionHours = v;
  }else{
    *pzErr = sqlite3_mprintf("unknown option %s for %s table %s",
                             zKey, zKind, p->zTable);
    goto done;
  }
  rc = SQLITE_OK;
  goto done;

wrong_kind:
  *pzErr = sqlite3_mprintf("option %s does not apply to %s table %s",
                           zKey, zKind, p->zTable);
  goto done;
twice:
  *pzErr = sqlite3_mprintf("option %s is given twice for table %s",
                           zKey, p->zTable);
done:
  sqlite3_free(zKey);
  sqlite3_free(zVal);
  return rc;
}

/* ------------------------------------------------------------ columns */

/* Is the argument an option? `identifier =` at its start. */
int kalamSchemaIsOption(const char *z){
  while( isspace((unsigned char)*z) ) z++;
  if( !isalpha((unsigned char)*z) && *z!='_' ) return 0;
  while( isalnum((unsigned char)*z) || *z=='_' ) z++;
  while( isspace((unsigned char)*z) ) z++;
  return *z=='=';
}

/* ------------------------------------------------------------ indexes */

/* Adds index *pIdx to the schema with the next number, unless an index
** with the same columns and the same uniqueness is there already (SQLite
** too keeps one of two identical UNIQUE constraints). */
static int schemaAddIndex(KalamSchema *p, const KalamIndex *pIdx,
                          char **pzErr){
  int i;
  for(i=0; i<p->nIndex; i++){
    const KalamIndex *pOld = &p->aIndex[i];
    if( pOld->bUnique==pIdx->bUnique && pOld->nCol==pIdx->nCol
     && memcmp(pOld->aiCol, pIdx->aiCol, sizeof(int)*pIdx->nCol)==0 ){
      return SQLITE_OK;
    }
  }
  if( p->nIndex==KALAM_MAX_INDEX ){
    *pzErr = sqlite3_mprintf("table %s has more than %d UNIQUE constraints "
                             "and indexes", p->zTable, KALAM_MAX_INDEX);
    return SQLITE_ERROR;
  }
  p->aIndex[p->nIndex] = *pIdx;
  p->aIndex[p->nIndex].iNum = p->nIndex + 1;
  p->nIndex++;
  return SQLITE_OK;
}

/* Builds the schema's indexes from the UNIQUE columns and index items,
** in declaration order. azItem[i] is an item's text, or NULL where
** aiCol[i] is a column declared UNIQUE. The PRIMARY KEY came after the
** first nBeforePk items. */
static int schemaIndexes(KalamSchema *p, int nItem, const char **azItem,
                         const int *aiCol, int nBeforePk, char **pzErr){
  int i, rc = SQLITE_OK;
  if( nItem==0 ) return SQLITE_OK;
  if( p->eKind==KALAM_KIND_STREAM ){
    *pzErr = sqlite3_mprintf("kalam_stream table %s cannot have UNIQUE or "
        "INDEX (%s): stream rows are keyed by time and expire by key range",
        p->zTable, azItem[0] ? azItem[0] : p->aCol[aiCol[0]].zName);
    return SQLITE_ERROR;
  }
  p->aIndex = sqlite3_malloc64(sizeof(KalamIndex) *
                               (nItem<KALAM_MAX_INDEX ? nItem : KALAM_MAX_INDEX));
  if( p->aIndex==0 ) return SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<nItem; i++){
    KalamIndex idx;
    if( i==nBeforePk ) p->nIndexBeforePk = p->nIndex;
    if( azItem[i] ){
      rc = kalamColumnIndexItem(p, azItem[i], &idx, pzErr);
    }else{
      memset(&idx, 0, sizeof(idx));
      idx.bUnique = 1;
      idx.nCol = 1;
      idx.aiCol[0] = aiCol[i];
    }
    if( rc==SQLITE_OK ) rc = schemaAddIndex(p, &idx, pzErr);
  }
  if( nBeforePk>=nItem ) p->nIndexBeforePk = p->nIndex;
  return rc;
}

/* ------------------------------------------------------------ ids
** Each column has an id and each index a number that never change once
** given: a RENAME keeps them, and a DROP retires them for good. They
** default to the places in the CREATE (1, 2, ...); once kalam_alter has
** changed a table, its CREATE carries them as two options it writes
** itself, column_ids='1,2,4;5' and index_ids='1,3;4': the ids in the
** order of the columns (of the index items), then after ';' the id the
** next added one gets. Index entries are kept under the index's number
** (keys.c), and the cold tier's Parquet files name columns by id
** (field_id), so neither is ever rewritten by a RENAME. */

/* Is the argument one of the id options above? */
int kalamSchemaIsIdOption(const char *z){
  size_t n;
  z += strspn(z, " \t\n\r");
  if( sqlite3_strnicmp(z, "column_ids", 10)==0 ) n = 10;
  else if( sqlite3_strnicmp(z, "index_ids", 9)==0 ) n = 9;
  else return 0;
  z += n;
  z += strspn(z, " \t\n\r");
  return *z=='=';
}

/* Reads the value of an id option, '<id>,<id>,...;<next>', into
** aOut[0..nWant) and *piNext. Returns 0 if it is not that, or if an id
** repeats or is not below next or above iMax. */
static int schemaIdList(const char *zArg, int nWant, int iMax, int *aOut,
                        int *piNext){
  const char *z = strchr(zArg, '=') + 1;
  int n = 0, i, j;
  z += strspn(z, " \t\n\r");
  if( *z=='\'' ) z++;
  for(;;){
    long v = 0;
    if( *z==';' ){
      z++;
      if( !isdigit((unsigned char)*z) ) return 0;
      while( isdigit((unsigned char)*z) && v<=iMax ) v = v*10 + (*z++ - '0');
      if( v<1 || v>iMax + 1 ) return 0;
      *piNext = (int)v;
      break;
    }
    if( !isdigit((unsigned char)*z) || n>=nWant ) return 0;
    while( isdigit((unsigned char)*z) && v<=iMax ) v = v*10 + (*z++ - '0');
    if( v<1 || v>iMax ) return 0;
    aOut[n++] = (int)v;
    if( *z==',' ) z++;
    else if( *z!=';' ) return 0;
  }
  if( *z=='\'' ) z++;
  z += strspn(z, " \t\n\r");
  if( *z || n!=nWant ) return 0;
  for(i=0; i<n; i++){
    if( aOut[i]>=*piNext ) return 0;
    for(j=0; j<i; j++) if( aOut[j]==aOut[i] ) return 0;
  }
  return 1;
}

/* Gives the columns their ids and the indexes their numbers: from the id
** options if the CREATE has them, else by place. */
static int schemaApplyIds(KalamSchema *p, const char *zColumnIds,
                          const char *zIndexIds, char **pzErr){
  int i, rc = SQLITE_OK;
  int *a = sqlite3_malloc64(sizeof(int) * (size_t)(p->nCol + p->nIndex + 1));
  if( a==0 ) return SQLITE_NOMEM;
  p->iNextColumnId = p->nCol + 1;
  p->iNextIndexId = p->nIndex + 1;
  for(i=0; i<p->nCol; i++) p->aCol[i].iId = i + 1;
  if( zColumnIds ){
    if( !schemaIdList(zColumnIds, p->nCol, 0x3fffffff, a, &p->iNextColumnId) ){
      *pzErr = sqlite3_mprintf("bad %s for table %s: kalam_alter writes it "
          "with one id per column", zColumnIds, p->zTable);
      rc = SQLITE_ERROR;
      goto done;
    }
    for(i=0; i<p->nCol; i++) p->aCol[i].iId = a[i];
  }
  if( zIndexIds ){
    if( !schemaIdList(zIndexIds, p->nIndex, 0xffff, a, &p->iNextIndexId) ){
      *pzErr = sqlite3_mprintf("bad %s for table %s: kalam_alter writes it "
          "with one number per UNIQUE or INDEX item", zIndexIds, p->zTable);
      rc = SQLITE_ERROR;
      goto done;
    }
    for(i=0; i<p->nIndex; i++) p->aIndex[i].iNum = a[i];
  }
done:
  sqlite3_free(a);
  return rc;
}

/* Frees what one column owns. */
void kalamSchemaColumnClear(KalamColumn *pCol){
  sqlite3_free(pCol->zName);
  sqlite3_free(pCol->zDeclType);
  sqlite3_free(pCol->zDefault);
  kalamValueClear(&pCol->dflt);
  sqlite3_free(pCol->zJsonKey);
  memset(pCol, 0, sizeof(*pCol));
}

void kalamSchemaFree(KalamSchema *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<p->nCol; i++) kalamSchemaColumnClear(&p->aCol[i]);
  sqlite3_free(p->aCol);
  sqlite3_free(p->aIndex);
  sqlite3_free(p->zTable);
  sqlite3_free(p->zFlushPolicy);
  sqlite3_free(p);
}

int kalamSchemaColumnIndex(const KalamSchema *p, const char *zName, int n){
  int i;
  /* zName comes from stored bytes and may hold a NUL: lengths first. */
  if( memchr(zName, 0, (size_t)n) ) return -1;
  for(i=0; i<p->nCol; i++){
    if( p->aCol[i].nName==n && sqlite3_strnicmp(p->aCol[i].zName, zName, n)==0 ){
      return i;
    }
  }
  return -1;
}

/* Parses the module arguments azArg[0..nArg) into *ppOut. On error *ppOut
** is NULL and *pzErr holds a message (sqlite3_mprintf; caller frees). */
int kalamSchemaParse(int eKind, const char *zTable, int nArg,
                     const char *const *azArg, KalamSchema **ppOut,
                     char **pzErr){
  KalamSchema *p;
  const char **azItem = 0;  /* index items, and NULL for UNIQUE columns */
  int *aiItemCol = 0;       /* ... whose column is here */
  int nItem = 0;
  int nItemBeforePk = 0;    /* items declared before the PRIMARY KEY */
  const char *zColumnIds = 0; /* the id options, if given */
  const char *zIndexIds = 0;
  int rc = SQLITE_OK;
  int i, j;

  *ppOut = 0;
  p = sqlite3_malloc(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->eKind = eKind;
  p->iPk = -1;
  p->nRetentionHours = -1;
  p->zTable = sqlite3_mprintf("%s", zTable);
  p->aCol = sqlite3_malloc64(sizeof(KalamColumn) * (nArg ? nArg : 1));
  azItem = sqlite3_malloc64(sizeof(char*) * (nArg ? nArg : 1));
  aiItemCol = sqlite3_malloc64(sizeof(int) * (nArg ? nArg : 1));
  if( p->zTable==0 || p->aCol==0 || azItem==0 || aiItemCol==0 ){
    rc = SQLITE_NOMEM;
    goto done;
  }

  for(i=0; i<nArg; i++){
    const char *zArg = azArg[i];
    if( kalamSchemaIsIdOption(zArg) ){
      if( sqlite3_strnicmp(zArg + strspn(zArg, " \t\n\r"), "column", 6)==0 ){
        zColumnIds = zArg;
      }else{
        zIndexIds = zArg;
      }
    }else if( kalamSchemaIsOption(zArg) ){
      rc = schemaOption(p, zArg, pzErr);
    }else if( kalamColumnIsIndexItem(zArg) ){
      azItem[nItem++] = zArg;    /* read once every column is known */
    }else{
      KalamColumn *pCol = &p->aCol[p->nCol++];
      memset(pCol, 0, sizeof(*pCol));
      rc = kalamColumnParse(p, pCol, zArg, pzErr);
      if( rc==SQLITE_OK ){
        for(j=0; j<p->nCol-1; j++){
          if( sqlite3_stricmp(p->aCol[j].zName, pCol->zName)==0 ){
            *pzErr = sqlite3_mprintf("duplicate column name: %s in table %s",
                                     pCol->zName, p->zTable);
            rc = SQLITE_ERROR;
          }
        }
      }
      if( rc==SQLITE_OK && pCol->bPk ){
        if( p->iPk>=0 ){
          *pzErr = sqlite3_mprintf("table %s has more than one primary key "
              "(%s and %s)", p->zTable, p->aCol[p->iPk].zName, pCol->zName);
          rc = SQLITE_ERROR;
        }
        p->iPk = p->nCol - 1;
        nItemBeforePk = nItem;
      }
      if( rc==SQLITE_OK && pCol->bUnique ){
        azItem[nItem] = 0;
        aiItemCol[nItem++] = p->nCol - 1;
      }
    }
    if( rc ) goto done;
  }

  if( p->nCol==0 ){
    *pzErr = sqlite3_mprintf("%s table %s has no columns",
                             kalamKindName(eKind), p->zTable);
    rc = SQLITE_ERROR;
    goto done;
  }
  if( p->iPk>=0 ){
    /* As in SQLite, only a column declared exactly INTEGER aliases rowid. */
    p->bIntPk = sqlite3_stricmp(p->aCol[p->iPk].zDeclType, "INTEGER")==0;
    /* As in a STRICT table, any other PRIMARY KEY is NOT NULL. */
    if( !p->bIntPk ) p->aCol[p->iPk].bNotNull = 1;
    if( eKind==KALAM_KIND_STREAM ){
      *pzErr = sqlite3_mprintf("kalam_stream table %s cannot have a PRIMARY "
          "KEY (%s): stream rows are keyed by time", p->zTable,
          p->aCol[p->iPk].zName);
      rc = SQLITE_ERROR;
      goto done;
    }
  }
  rc = schemaIndexes(p, nItem, azItem, aiItemCol,
                     p->iPk>=0 ? nItemBeforePk : nItem, pzErr);
  if( rc ) goto done;
  rc = schemaApplyIds(p, zColumnIds, zIndexIds, pzErr);
  if( rc ) goto done;
  if( eKind==KALAM_KIND_STREAM && p->nTtlSeconds<=0 ){
    *pzErr = sqlite3_mprintf("kalam_stream table %s needs ttl_seconds=N "
        "(a positive number of seconds)", p->zTable);
    rc = SQLITE_ERROR;
    goto done;
  }
  if( p->nRetentionHours<0 ) p->nRetentionHours = 0;

  /* Each column's JSON key, escaped once here rather than on every row. */
  for(i=0; i<p->nCol; i++){
    KalamBuf b;
    kalamBufInit(&b);
    kalamBufAppendJsonString(&b, p->aCol[i].zName,
                             (sqlite3_int64)strlen(p->aCol[i].zName));
    kalamBufAppendChar(&b, ':');
    if( b.oom ){ rc = SQLITE_NOMEM; goto done; }
    p->aCol[i].zJsonKey = b.z;
    p->aCol[i].nJsonKey = (int)b.n;
  }

done:
  sqlite3_free(azItem);
  sqlite3_free(aiItemCol);
  if( rc ){
    kalamSchemaFree(p);
    if( rc==SQLITE_NOMEM ){
      sqlite3_free(*pzErr);
      *pzErr = sqlite3_mprintf("out of memory");
    }
  }else{
    *ppOut = p;
  }
  return rc;
}

/* SQLite's comparison class of a declared type name, by the rules of
** its affinity (section 3.1 of datatype3.html): 'T' text, 'B' blob or
** none, 'N' numeric (INTEGER, REAL and NUMERIC compare alike). */
static char schemaAffinityClass(const char *z){
  char cAff = 'N';
  unsigned int h = 0;
  if( z==0 || z[0]==0 ) return 'B';
  for(; *z; z++){
    h = (h<<8) + (unsigned int)tolower((unsigned char)*z);
    if( h==(('c'<<24)+('h'<<16)+('a'<<8)+'r')
     || h==(('c'<<24)+('l'<<16)+('o'<<8)+'b')
     || h==(('t'<<24)+('e'<<16)+('x'<<8)+'t') ){
      cAff = 'T';
    }else if( h==(('b'<<24)+('l'<<16)+('o'<<8)+'b') && cAff=='N' ){
      cAff = 'B';
    }else if( (h&0x00ffffff)==(('i'<<16)+('n'<<8)+'t') ){
      return 'N';
    }
  }
  return cAff;
}

/* The type a column is declared to SQLite with: as written in the CREATE
** when SQLite reads that name with the affinity of the kalam type (what
** PRAGMA table_info then shows), else the affinity's own name: JSON,
** STRING and BYTES would be NUMERIC to SQLite, and comparisons with them
** would go wrong. */
static const char *schemaDeclaredType(const KalamColumn *pCol){
  const char *zAff = schemaAffinity(pCol->eType);
  if( pCol->zDeclType && pCol->zDeclType[0]
   && schemaAffinityClass(pCol->zDeclType)==schemaAffinityClass(zAff) ){
    return pCol->zDeclType;
  }
  return zAff;
}

/* Appends one column's definition: `"name" TYPE [NOT NULL] [DEFAULT v]
** [PRIMARY KEY]`, with the type as declared (bAsWritten, for a CREATE
** argument) or as schemaDeclaredType says (for sqlite3_declare_vtab).
** To SQLite, only an INTEGER PRIMARY KEY is declared PRIMARY KEY: for any
** other, sqlite3_declare_vtab keeps the automatic index SQLite makes for
** it on the virtual table, an index with no b-tree behind it, which
** PRAGMA integrity_check then reports as an invalid page. */
static void schemaColumnSql(KalamBuf *pB, const KalamColumn *pCol,
                            int bAsWritten){
  char *z = sqlite3_mprintf("\"%w\"", pCol->zName);
  const char *zType = bAsWritten ? pCol->zDeclType : schemaDeclaredType(pCol);
  if( z==0 ){ pB->oom = 1; return; }
  kalamBufAppendStr(pB, z);
  sqlite3_free(z);
  if( zType && zType[0] ){
    kalamBufAppendChar(pB, ' ');
    kalamBufAppendStr(pB, zType);
  }
  if( pCol->bNotNull ) kalamBufAppendStr(pB, " NOT NULL");
  if( pCol->zDefault ){
    kalamBufAppendStr(pB, " DEFAULT ");
    kalamBufAppendStr(pB, pCol->zDefault);
  }
  if( pCol->bPk && (bAsWritten || sqlite3_stricmp(zType, "INTEGER")==0) ){
    kalamBufAppendStr(pB, " PRIMARY KEY");
  }
}

/* The CREATE TABLE declared to SQLite: the user columns with their type,
** NOT NULL, DEFAULT and an INTEGER PRIMARY KEY, so that PRAGMA
** table_info and the tools that read it see them; then the HIDDEN system
** columns. SQLite
** enforces none of these on a virtual table (kalam does), and since 3.37
** it keeps no DEFAULT of a virtual table's column: table_info shows none,
** and an INSERT passes NULL for a column it leaves out, which update.c
** replaces with the default (docs/sql.md). */
char *kalamSchemaDeclare(const KalamSchema *p){
  KalamBuf b;
  int i;
  kalamBufInit(&b);
  kalamBufAppendStr(&b, "CREATE TABLE x(");
  for(i=0; i<p->nCol; i++){
    if( i ) kalamBufAppendStr(&b, ", ");
    schemaColumnSql(&b, &p->aCol[i], 0);
  }
  {
    const KalamSysColumn *aSys;
    int nSys = kalamSysColumns(p->eKind, &aSys);
    for(i=0; i<nSys; i++){
      kalamBufAppendStr(&b, ", ");
      kalamBufAppendStr(&b, aSys[i].zName);
      kalamBufAppendStr(&b, " INTEGER HIDDEN");
    }
    kalamBufAppendChar(&b, ')');
  }
  if( b.oom ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}

/* Appends index i as an argument item: UNIQUE("a", "b") or INDEX("a"). */
static void schemaIndexSql(KalamBuf *pB, const KalamSchema *p, int i){
  const KalamIndex *pIdx = &p->aIndex[i];
  int j;
  kalamBufAppendStr(pB, pIdx->bUnique ? "UNIQUE(" : "INDEX(");
  for(j=0; j<pIdx->nCol; j++){
    char *z = sqlite3_mprintf("%s\"%w\"", j ? ", " : "",
                              p->aCol[pIdx->aiCol[j]].zName);
    if( z==0 ){ pB->oom = 1; return; }
    kalamBufAppendStr(pB, z);
    sqlite3_free(z);
  }
  kalamBufAppendChar(pB, ')');
}

/* Appends an id option (see "ids" above). */
static void schemaIdOptionSql(KalamBuf *pB, const char *zName, int n,
                              const int *aId, int nStride, int iNext){
  int i;
  kalamBufAppendStr(pB, ", ");
  kalamBufAppendStr(pB, zName);
  kalamBufAppendStr(pB, "='");
  for(i=0; i<n; i++){
    if( i ) kalamBufAppendChar(pB, ',');
    kalamBufAppendInt(pB, *(const int*)((const char*)aId + (size_t)i*nStride));
  }
  kalamBufAppendChar(pB, ';');
  kalamBufAppendInt(pB, iNext);
  kalamBufAppendChar(pB, '\'');
}

/* The CREATE VIRTUAL TABLE argument list that makes schema p again, as
** kalam_alter writes it into sqlite_schema: the columns in order (each as
** declared, a column's UNIQUE as an item), the index items (those the
** PRIMARY KEY came after just before it, the others last, so that
** nIndexBeforePk and the numbering come back the same), the options
** azOpt[0..nOpt) as the CREATE had them, and the id options. */
char *kalamSchemaArguments(const KalamSchema *p, int nOpt,
                           const char *const *azOpt){
  KalamBuf b;
  int i, nItem = 0;
  int nBefore = p->iPk>=0 ? p->nIndexBeforePk : 0;
  kalamBufInit(&b);
  for(i=0; i<p->nCol; i++){
    if( i==p->iPk ){
      for(; nItem<nBefore; nItem++){
        if( b.n ) kalamBufAppendStr(&b, ", ");
        schemaIndexSql(&b, p, nItem);
      }
    }
    if( b.n ) kalamBufAppendStr(&b, ", ");
    schemaColumnSql(&b, &p->aCol[i], 1);
  }
  for(; nItem<p->nIndex; nItem++){
    kalamBufAppendStr(&b, ", ");
    schemaIndexSql(&b, p, nItem);
  }
  for(i=0; i<nOpt; i++){
    kalamBufAppendStr(&b, ", ");
    kalamBufAppendStr(&b, azOpt[i]);
  }
  if( p->nCol>0 ){
    schemaIdOptionSql(&b, "column_ids", p->nCol, &p->aCol[0].iId,
                      (int)sizeof(KalamColumn), p->iNextColumnId);
  }
  if( p->nIndex>0 || p->iNextIndexId>1 ){
    schemaIdOptionSql(&b, "index_ids", p->nIndex,
                      p->nIndex ? &p->aIndex[0].iNum : 0,
                      (int)sizeof(KalamIndex), p->iNextIndexId);
  }
  if( b.oom ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}

/* The columns as a JSON array for the catalog and kalam_tables. */
char *kalamSchemaColumnsJson(const KalamSchema *p){
  cJSON *pArr = cJSON_CreateArray();
  char *zOut = 0, *zJson;
  int i;
  if( pArr==0 ) return 0;
  for(i=0; i<p->nCol; i++){
    const KalamColumn *pCol = &p->aCol[i];
    cJSON *pObj = cJSON_CreateObject();
    if( pObj==0 || !cJSON_AddItemToArray(pArr, pObj) ){
      cJSON_Delete(pObj);
      goto done;
    }
    if( !cJSON_AddNumberToObject(pObj, "id", pCol->iId)
     || !cJSON_AddStringToObject(pObj, "name", pCol->zName)
     || !cJSON_AddStringToObject(pObj, "type", kalamTypeName(pCol->eType))
     || !cJSON_AddStringToObject(pObj, "declared", pCol->zDeclType)
     || !cJSON_AddBoolToObject(pObj, "not_null", pCol->bNotNull)
     || !cJSON_AddBoolToObject(pObj, "primary_key", pCol->bPk)
     || (pCol->zDefault
         && !cJSON_AddStringToObject(pObj, "default", pCol->zDefault)) ){
      goto done;
    }
  }
  zJson = cJSON_PrintUnformatted(pArr);
  if( zJson ){
    zOut = sqlite3_mprintf("%s", zJson);
    cJSON_free(zJson);
  }
done:
  cJSON_Delete(pArr);
  return zOut;
}

/* The indexes as a JSON array, for the options: [{"id":1,"unique":true,
** "columns":["a","b"]}, ...]. */
static void schemaIndexesJson(KalamBuf *pB, const KalamSchema *p){
  int i, j;
  kalamBufAppendStr(pB, ",\"indexes\":[");
  for(i=0; i<p->nIndex; i++){
    const KalamIndex *pIdx = &p->aIndex[i];
    kalamBufAppendStr(pB, i ? ",{\"id\":" : "{\"id\":");
    kalamBufAppendInt(pB, pIdx->iNum);
    kalamBufAppendStr(pB, pIdx->bUnique ? ",\"unique\":true,\"columns\":["
                                        : ",\"unique\":false,\"columns\":[");
    for(j=0; j<pIdx->nCol; j++){
      const char *zName = p->aCol[pIdx->aiCol[j]].zName;
      if( j ) kalamBufAppendChar(pB, ',');
      kalamBufAppendJsonString(pB, zName, (sqlite3_int64)strlen(zName));
    }
    kalamBufAppendStr(pB, "]}");
  }
  kalamBufAppendChar(pB, ']');
}

/* The options as a JSON object: only those that apply to the kind, and
** the indexes when there are any. */
char *kalamSchemaOptionsJson(const KalamSchema *p){
  KalamBuf b;
  kalamBufInit(&b);
  if( p->eKind==KALAM_KIND_STREAM ){
    kalamBufAppendStr(&b, "{\"ttl_seconds\":");
    kalamBufAppendInt(&b, p->nTtlSeconds);
    if( p->bPerUser ) kalamBufAppendStr(&b, ",\"per_user\":1");
  }else{
    if( p->zFlushPolicy ){
      kalamBufAppendStr(&b, "{\"flush_policy\":");
      kalamBufAppendJsonString(&b, p->zFlushPolicy,
                               (sqlite3_int64)strlen(p->zFlushPolicy));
      kalamBufAppendStr(&b, ",\"deleted_retention_hours\":");
    }else{
      kalamBufAppendStr(&b, "{\"deleted_retention_hours\":");
    }
    kalamBufAppendInt(&b, p->nRetentionHours);
  }
  if( p->nIndex ) schemaIndexesJson(&b, p);
  kalamBufAppendChar(&b, '}');
  if( b.oom ){
    kalamBufFree(&b);
    return 0;
  }
  return b.z;
}
