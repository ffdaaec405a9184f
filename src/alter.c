/*
** alter.c — kalam_alter(t, change): schema changes of a kalam table.
**
**   SELECT kalam_alter('t', 'ADD COLUMN c TYPE [NOT NULL] [DEFAULT v]');
**   SELECT kalam_alter('t', 'DROP COLUMN c');
**   SELECT kalam_alter('t', 'RENAME COLUMN a TO b');
**   SELECT kalam_alter('t', 'ADD INDEX (a, b)');   -- or ADD UNIQUE (a, b)
**   SELECT kalam_alter('t', 'DROP INDEX (a, b)');  -- or DROP UNIQUE (a, b)
**
** ("COLUMN" is optional; t may be "schema.t".) It returns the table's new
** CREATE VIRTUAL TABLE text. SQLite refuses ALTER TABLE ... ADD, DROP and
** RENAME COLUMN on a virtual table, hence a function.
**
** Where a table's schema lives. Every connection builds a kalam table from
** the CREATE VIRTUAL TABLE text in sqlite_schema (xConnect parses its
** arguments, schema.c), so that text is the schema. kalam_alter rewrites
** it: the new argument list is made from the changed KalamSchema
** (kalamSchemaArguments: each column as declared, the index items, the
** CREATE's options as they were, and the column_ids/index_ids options
** that keep ids stable), parsed again as a check, and written with
** PRAGMA writable_schema (sqlite3_db_config(SQLITE_DBCONFIG_WRITABLE_SCHEMA))
** as one UPDATE of the table's row, followed by PRAGMA schema_version =
** old + 1. That PRAGMA sets the in-memory schema cookie one below the one
** on disk, so the next statement of this connection, and of every other
** connection once the transaction commits, finds its schema stale and
** reloads it: each reconnects the table with the new columns. Because
** sqlite_schema is an ordinary table, a ROLLBACK undoes the new text with
** the rest of the transaction, and SQLite then reloads the old schema.
** (docs/sql.md says why this is safe: only the sql column of one row
** changes, to text SQLite has parsed and kalam has checked; name,
** tbl_name, type and rootpage stay as they are.) Defensive mode forbids
** writable_schema: kalam lifts it for its own two statements and sets it
** back.
**
** Rows (alter_rows.c does the pass). Rows are JSON objects keyed by
** column name, so:
**   ADD COLUMN without a DEFAULT  changes no row: a missing key reads NULL.
**   ADD COLUMN with a DEFAULT     writes the default into every row.
**   DROP COLUMN                   removes the key from every row, so that a
**                                 column added later under the same name
**                                 does not find old values.
**   RENAME COLUMN                 renames the key in every row.
**   ADD INDEX / ADD UNIQUE        writes the entries of every row (a
**                                 UNIQUE with two rows holding one key
**                                 fails and changes nothing).
**   DROP INDEX / DROP UNIQUE      removes the index's entries.
** Every user's rows of a kalam_user table are changed, live and deleted
** ones. A row keeps its _seq and _updated: a schema change is not a write
** of the row, and kalam_changes does not list it. All writes go into the
** connection's transaction on the store (txn.c), so a ROLLBACK undoes
** them with the schema, and COMMIT makes both visible at once. Rewrites
** cost one write per row: choose DROP and RENAME with that in mind on
** large tables.
**
** Joining the caller's transaction. A function is not part of SQLite's
** transaction on a virtual table; a statement that writes the table is.
** So kalam_alter runs, on its own connection, SAVEPOINT kalam_alter, then
** DELETE FROM t WHERE 0 (which deletes nothing but makes SQLite call
** xBegin, so that xSync and xCommit or xRollback follow with the rest of
** the transaction), does its work, and RELEASE kalam_alter. In autocommit
** that RELEASE commits; inside BEGIN ... COMMIT it leaves everything to
** the caller's COMMIT or ROLLBACK. A failure rolls back to the savepoint:
** nothing of the change remains.
**
** The catalog entry gets the new columns at once, marked pending until
** the transaction ends, and is settled against sqlite_schema then
** (kalamCatalogAlter, catalog.c).
**
** Ids. Each column has an id that RENAME keeps and DROP retires for good
** (the next ADD gets a new one), recorded in the catalog's columns as
** "id": the cold tier's Parquet files name their columns by it
** (field_id), so files written before a change still read correctly
** after it. Index numbers are kept the same way.
*/
#include "kalam_int.h"
#include <string.h>
#include <ctype.h>

SQLITE_EXTENSION_INIT3

/* The kinds of change: KALAM_ALTER_* (kalam_int.h). */
#define ALTER_ADD_COLUMN    KALAM_ALTER_ADD_COLUMN
#define ALTER_DROP_COLUMN   KALAM_ALTER_DROP_COLUMN
#define ALTER_RENAME_COLUMN KALAM_ALTER_RENAME_COLUMN
#define ALTER_ADD_INDEX     KALAM_ALTER_ADD_INDEX
#define ALTER_DROP_INDEX    KALAM_ALTER_DROP_INDEX

/* A kalam table found in sqlite_schema, and its CREATE text split. */
typedef struct AlterTable AlterTable;
struct AlterTable {
  char *zSchema;     /* "main", "temp" or an ATTACH name */
  char *zName;       /* as sqlite_schema spells it */
  char *zSql;        /* its CREATE VIRTUAL TABLE text */
  char *zModule;     /* kalam_shared, kalam_user or kalam_stream */
  int eKind;
  int nArg;          /* module arguments */
  char **azArg;      /* each a string of its own (sqlite3_free) */
};

static void alterTableClear(AlterTable *p){
  int i;
  sqlite3_free(p->zSchema);
  sqlite3_free(p->zName);
  sqlite3_free(p->zSql);
  sqlite3_free(p->zModule);
  for(i=0; i<p->nArg; i++) sqlite3_free(p->azArg[i]);
  sqlite3_free(p->azArg);
  memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ splitting */

/* The offset just past the quoted text or comment that starts at z[i],
** or just past z[i] if none starts there. */
static int alterSkip(const char *z, int i){
  char c = z[i], cEnd;
  if( c=='-' && z[i+1]=='-' ){
    while( z[i] && z[i]!='\n' ) i++;
    return i;
  }
  if( c=='/' && z[i+1]=='*' ){
    for(i+=2; z[i] && !(z[i]=='*' && z[i+1]=='/'); i++){}
    return z[i] ? i + 2 : i;
  }
  if( c=='\'' || c=='"' || c=='`' ) cEnd = c;
  else if( c=='[' ) cEnd = ']';
  else return i + 1;
  for(i++; z[i]; i++){
    if( z[i]==cEnd ){
      if( cEnd!=']' && z[i+1]==cEnd ){ i++; continue; }
      return i + 1;
    }
  }
  return i;
}

/* Splits "CREATE VIRTUAL TABLE ... USING module(arg, ...)" as SQLite does:
** the arguments are the text between top-level commas, trimmed. */
static int alterSplit(AlterTable *p, char **pzErr){
  const char *z = p->zSql;
  int i = 0, iStart, nDepth = 0, nAlloc = 8;
  /* Find USING, outside quotes, then the module name and '('. */
  for(;;){
    if( z[i]==0 ) goto bad;
    if( isalpha((unsigned char)z[i]) || z[i]=='_' ){
      int j = i;
      while( isalnum((unsigned char)z[j]) || z[j]=='_' ) j++;
      if( j-i==5 && sqlite3_strnicmp(z + i, "USING", 5)==0 ){
        i = j;
        break;
      }
      i = j;
    }else{
      i = alterSkip(z, i);
    }
  }
  while( isspace((unsigned char)z[i]) ) i++;
  iStart = i;
  while( isalnum((unsigned char)z[i]) || z[i]=='_' ) i++;
  p->zModule = sqlite3_mprintf("%.*s", i - iStart, z + iStart);
  if( p->zModule==0 ) return SQLITE_NOMEM;
  p->eKind = kalamKindFromName(p->zModule);
  while( isspace((unsigned char)z[i]) ) i++;
  if( z[i]!='(' ) goto bad;
  p->azArg = sqlite3_malloc64(sizeof(char*) * (size_t)nAlloc);
  if( p->azArg==0 ) return SQLITE_NOMEM;
  iStart = ++i;
  for(;;){
    char c = z[i];
    if( c==0 ) goto bad;
    if( (c==',' || c==')') && nDepth==0 ){
      int a = iStart, b = i;
      while( a<b && isspace((unsigned char)z[a]) ) a++;
      while( b>a && isspace((unsigned char)z[b-1]) ) b--;
      if( b>a ){
        if( p->nArg==nAlloc ){
          char **az;
          nAlloc *= 2;
          az = sqlite3_realloc64(p->azArg, sizeof(char*) * (size_t)nAlloc);
          if( az==0 ) return SQLITE_NOMEM;
          p->azArg = az;
        }
        p->azArg[p->nArg] = sqlite3_mprintf("%.*s", b - a, z + a);
        if( p->azArg[p->nArg]==0 ) return SQLITE_NOMEM;
        p->nArg++;
      }
      if( c==')' ) break;
      iStart = ++i;
      continue;
    }
    if( c=='(' ) nDepth++;
    if( c==')' ) nDepth--;
    i = alterSkip(z, i);
  }
  return SQLITE_OK;
bad:
  *pzErr = sqlite3_mprintf("cannot read the CREATE VIRTUAL TABLE text of "
                           "table %s", p->zName);
  return SQLITE_CORRUPT;
}

/* Finds kalam table zArg ("t" or "schema.t") in sqlite_schema. */
static int alterFind(sqlite3 *db, const char *zArg, AlterTable *p,
                     char **pzErr){
  const char *zDot = strchr(zArg, '.');
  const char *zDb;
  int i, rc = SQLITE_OK;
  memset(p, 0, sizeof(*p));
  for(i=0; rc==SQLITE_OK && p->zSql==0 && (zDb = sqlite3_db_name(db, i))!=0;
      i++){
    const char *zTable = zArg;
    sqlite3_stmt *pStmt = 0;
    char *zSql;
    if( zDot ){
      if( (int)strlen(zDb)!=(int)(zDot - zArg)
       || sqlite3_strnicmp(zDb, zArg, (int)(zDot - zArg))!=0 ) continue;
      zTable = zDot + 1;
    }
    zSql = sqlite3_mprintf("SELECT name, sql FROM \"%w\".sqlite_schema "
        "WHERE type='table' AND name=?1 COLLATE NOCASE "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%%'", zDb);
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    if( rc ) break;
    sqlite3_bind_text(pStmt, 1, zTable, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      p->zSchema = sqlite3_mprintf("%s", zDb);
      p->zName = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
      p->zSql = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 1));
      if( !p->zSchema || !p->zName || !p->zSql ) rc = SQLITE_NOMEM;
    }
    if( sqlite3_finalize(pStmt)!=SQLITE_OK && rc==SQLITE_OK ){
      rc = sqlite3_errcode(db);
    }
  }
  if( rc==SQLITE_OK && p->zSql ) rc = alterSplit(p, pzErr);
  if( rc==SQLITE_OK && (p->zSql==0 || p->eKind<0) ){
    *pzErr = sqlite3_mprintf("no such kalam table: %s", zArg);
    rc = SQLITE_ERROR;
  }
  if( rc && *pzErr==0 && rc!=SQLITE_NOMEM ){
    *pzErr = sqlite3_mprintf("kalam_alter: %s", sqlite3_errmsg(db));
  }
  return rc;
}

/* ------------------------------------------------------------ the change */

/* The next word of the change text at *pz, skipping white space: its
** start and length (0 at the end). */
static int alterWord(const char **pz, const char **pzWord){
  const char *z = *pz;
  int n = 0;
  while( isspace((unsigned char)*z) ) z++;
  *pzWord = z;
  if( *z=='"' || *z=='`' || *z=='[' || *z=='\'' ){
    n = alterSkip(z, 0);
  }else{
    while( isalnum((unsigned char)z[n]) || z[n]=='_'
        || (unsigned char)z[n]>=0x80 ) n++;
    if( n==0 && *z ) n = 1;
  }
  *pz = z + n;
  return n;
}

static int alterIs(const char *z, int n, const char *zWord){
  return n==(int)strlen(zWord) && sqlite3_strnicmp(z, zWord, n)==0;
}

/* An identifier as written (quoted or not) without its quotes. */
static char *alterIdent(const char *z, int n){
  char *zOut, cEnd;
  int i, j = 0;
  if( n<2 || (z[0]!='"' && z[0]!='`' && z[0]!='[' && z[0]!='\'') ){
    return sqlite3_mprintf("%.*s", n, z);
  }
  cEnd = z[0]=='[' ? ']' : z[0];
  zOut = sqlite3_malloc(n);
  if( zOut==0 ) return 0;
  for(i=1; i<n-1; i++){
    zOut[j++] = z[i];
    if( z[i]==cEnd && cEnd!=']' ) i++;
  }
  zOut[j] = 0;
  return zOut;
}

/* What kalam_alter was asked to do, read from the change text. */
typedef struct AlterChange AlterChange;
struct AlterChange {
  int eOp;            /* ALTER_* */
  char *zColumn;      /* ADD: the column definition; else a column name */
  char *zTo;          /* RENAME: the new name */
  char *zItem;        /* ADD/DROP INDEX: "INDEX(...)" or "UNIQUE(...)" */
};

static void alterChangeClear(AlterChange *p){
  sqlite3_free(p->zColumn);
  sqlite3_free(p->zTo);
  sqlite3_free(p->zItem);
}

static int alterParse(const char *zChange, const char *zTable,
                      AlterChange *p, char **pzErr){
  const char *z = zChange, *zW;
  int n = alterWord(&z, &zW);
  memset(p, 0, sizeof(*p));
  if( alterIs(zW, n, "ADD") || alterIs(zW, n, "DROP") ){
    int bAdd = alterIs(zW, n, "ADD");
    const char *zRest = z;
    n = alterWord(&z, &zW);
    if( (alterIs(zW, n, "INDEX") || alterIs(zW, n, "UNIQUE"))
     && kalamColumnIsIndexItem(zW) ){
      p->eOp = bAdd ? ALTER_ADD_INDEX : ALTER_DROP_INDEX;
      p->zItem = sqlite3_mprintf("%s", zW);
      return p->zItem ? SQLITE_OK : SQLITE_NOMEM;
    }
    if( alterIs(zW, n, "COLUMN") ) zRest = z;
    p->eOp = bAdd ? ALTER_ADD_COLUMN : ALTER_DROP_COLUMN;
    if( bAdd ){
      while( isspace((unsigned char)*zRest) ) zRest++;
      p->zColumn = sqlite3_mprintf("%s", zRest);
    }else{
      z = zRest;
      n = alterWord(&z, &zW);
      if( n==0 ) goto bad;
      p->zColumn = alterIdent(zW, n);
      if( p->zColumn==0 ) return SQLITE_NOMEM;
      n = alterWord(&z, &zW);
      if( n ) goto bad;
    }
    if( p->zColumn==0 ) return SQLITE_NOMEM;
    if( p->zColumn[0]==0 ) goto bad;
    return SQLITE_OK;
  }
  if( alterIs(zW, n, "RENAME") ){
    p->eOp = ALTER_RENAME_COLUMN;
    n = alterWord(&z, &zW);
    if( alterIs(zW, n, "COLUMN") ) n = alterWord(&z, &zW);
    if( n==0 ) goto bad;
    p->zColumn = alterIdent(zW, n);
    n = alterWord(&z, &zW);
    if( !alterIs(zW, n, "TO") ) goto bad;
    n = alterWord(&z, &zW);
    if( n==0 ) goto bad;
    p->zTo = alterIdent(zW, n);
    if( p->zColumn==0 || p->zTo==0 ) return SQLITE_NOMEM;
    n = alterWord(&z, &zW);
    if( n ) goto bad;
    return SQLITE_OK;
  }
bad:
  *pzErr = sqlite3_mprintf("cannot parse kalam_alter change \"%s\" for table "
      "%s: expected ADD [COLUMN] name TYPE ..., DROP [COLUMN] name, RENAME "
      "[COLUMN] a TO b, ADD INDEX (a, ...), ADD UNIQUE (a, ...) or DROP "
      "INDEX (a, ...)", zChange, zTable);
  return SQLITE_ERROR;
}

/* "a, b" of an index, for messages (sqlite3_free). */
static char *alterIndexName(const KalamSchema *p, const KalamIndex *pIdx){
  KalamBuf b;
  int j;
  kalamBufInit(&b);
  kalamBufAppendStr(&b, pIdx->bUnique ? "UNIQUE (" : "INDEX (");
  for(j=0; j<pIdx->nCol; j++){
    if( j ) kalamBufAppendStr(&b, ", ");
    kalamBufAppendStr(&b, p->aCol[pIdx->aiCol[j]].zName);
  }
  kalamBufAppendChar(&b, ')');
  if( b.oom ){ kalamBufFree(&b); return 0; }
  return b.z;
}

/* "a, b" of an index, for messages (sqlite3_free). */
char *kalamAlterIndexName(const KalamSchema *p, const KalamIndex *pIdx){
  return alterIndexName(p, pIdx);
}

/* Applies a column change to schema p in place: the schema kalam_alter
** then renders and parses again. */
static int alterColumns(KalamSchema *p, const AlterChange *pCh, char **pzErr){
  int i, j, iCol;
  if( pCh->eOp==ALTER_ADD_COLUMN ){
    KalamColumn col;
    KalamColumn *aCol;
    int rc;
    memset(&col, 0, sizeof(col));
    rc = kalamColumnParse(p, &col, pCh->zColumn, pzErr);
    if( rc==SQLITE_OK ){
      if( kalamSchemaColumnIndex(p, col.zName, col.nName)>=0 ){
        *pzErr = sqlite3_mprintf("duplicate column name: %s in table %s",
                                 col.zName, p->zTable);
      }else if( col.bPk ){
        *pzErr = sqlite3_mprintf("cannot add PRIMARY KEY column %s to table "
            "%s: the rows already have their keys", col.zName, p->zTable);
      }else if( col.bUnique ){
        *pzErr = sqlite3_mprintf("cannot add UNIQUE column %s to table %s in "
            "one step: add the column, then kalam_alter('%s', 'ADD UNIQUE "
            "(%s)')", col.zName, p->zTable, p->zTable, col.zName);
      }else if( col.bDefaultNow ){
        *pzErr = sqlite3_mprintf("cannot add column %s to table %s with "
            "DEFAULT CURRENT_TIMESTAMP: existing rows have no such time "
            "(give a literal DEFAULT)", col.zName, p->zTable);
      }else if( col.bNotNull && (col.zDefault==0
                                 || col.dflt.eType==SQLITE_NULL) ){
        *pzErr = sqlite3_mprintf("cannot add NOT NULL column %s to table %s "
            "without a DEFAULT: existing rows would hold NULL",
            col.zName, p->zTable);
      }
      if( *pzErr ) rc = SQLITE_ERROR;
    }
    if( rc ){
      kalamSchemaColumnClear(&col);
      return rc;
    }
    aCol = sqlite3_realloc64(p->aCol, sizeof(KalamColumn)*(size_t)(p->nCol+1));
    if( aCol==0 ){
      kalamSchemaColumnClear(&col);
      return SQLITE_NOMEM;
    }
    p->aCol = aCol;
    col.iId = p->iNextColumnId++;
    p->aCol[p->nCol++] = col;
    return SQLITE_OK;
  }

  iCol = kalamSchemaColumnIndex(p, pCh->zColumn, (int)strlen(pCh->zColumn));
  if( iCol<0 ){
    *pzErr = sqlite3_mprintf("no such column: %s.%s", p->zTable,
                             pCh->zColumn);
    return SQLITE_ERROR;
  }
  if( pCh->eOp==ALTER_RENAME_COLUMN ){
    char *zNew;
    j = kalamSchemaColumnIndex(p, pCh->zTo, (int)strlen(pCh->zTo));
    if( j>=0 && j!=iCol ){
      *pzErr = sqlite3_mprintf("cannot rename column %s.%s to %s: table %s "
          "already has a column %s", p->zTable, p->aCol[iCol].zName,
          pCh->zTo, p->zTable, p->aCol[j].zName);
      return SQLITE_ERROR;
    }
    if( pCh->zTo[0]==0 || pCh->zTo[0]=='_' ){
      *pzErr = sqlite3_mprintf("cannot rename column %s.%s to \"%s\": names "
          "beginning with _ are kalam's system columns, and a name cannot be "
          "empty", p->zTable, p->aCol[iCol].zName, pCh->zTo);
      return SQLITE_ERROR;
    }
    zNew = sqlite3_mprintf("%s", pCh->zTo);
    if( zNew==0 ) return SQLITE_NOMEM;
    sqlite3_free(p->aCol[iCol].zName);
    p->aCol[iCol].zName = zNew;
    p->aCol[iCol].nName = (int)strlen(zNew);
    return SQLITE_OK;
  }

  /* DROP COLUMN */
  assert( pCh->eOp==ALTER_DROP_COLUMN );
  if( iCol==p->iPk ){
    *pzErr = sqlite3_mprintf("cannot drop PRIMARY KEY column %s.%s",
                             p->zTable, p->aCol[iCol].zName);
    return SQLITE_ERROR;
  }
  if( p->nCol==1 ){
    *pzErr = sqlite3_mprintf("cannot drop column %s.%s: it is the table's "
                             "only column", p->zTable, p->aCol[iCol].zName);
    return SQLITE_ERROR;
  }
  for(i=0; i<p->nIndex; i++){
    for(j=0; j<p->aIndex[i].nCol; j++){
      if( p->aIndex[i].aiCol[j]==iCol ){
        char *zIdx = alterIndexName(p, &p->aIndex[i]);
        *pzErr = sqlite3_mprintf("cannot drop column %s.%s: %s of table %s "
            "uses it (drop that first with kalam_alter('%s', 'DROP %s'))",
            p->zTable, p->aCol[iCol].zName, zIdx ? zIdx : "an index",
            p->zTable, p->zTable, zIdx ? zIdx : "INDEX (...)");
        sqlite3_free(zIdx);
        return SQLITE_ERROR;
      }
    }
  }
  kalamSchemaColumnClear(&p->aCol[iCol]);
  memmove(&p->aCol[iCol], &p->aCol[iCol+1],
          sizeof(KalamColumn)*(size_t)(p->nCol - iCol - 1));
  p->nCol--;
  if( p->iPk>iCol ) p->iPk--;
  for(i=0; i<p->nIndex; i++){
    for(j=0; j<p->aIndex[i].nCol; j++){
      if( p->aIndex[i].aiCol[j]>iCol ) p->aIndex[i].aiCol[j]--;
    }
  }
  return SQLITE_OK;
}

/* Applies ADD or DROP INDEX/UNIQUE to schema p; *piNum is the number of
** the index added or dropped. */
static int alterIndexes(KalamSchema *p, const AlterChange *pCh, int *piNum,
                        char **pzErr){
  KalamIndex idx;
  int i, rc;
  if( p->eKind==KALAM_KIND_STREAM ){
    *pzErr = sqlite3_mprintf("kalam_stream table %s cannot have UNIQUE or "
        "INDEX: stream rows are keyed by time and expire by key range",
        p->zTable);
    return SQLITE_ERROR;
  }
  rc = kalamColumnIndexItem(p, pCh->zItem, &idx, pzErr);
  if( rc ) return rc;
  for(i=0; i<p->nIndex; i++){
    const KalamIndex *pOld = &p->aIndex[i];
    if( pOld->bUnique==idx.bUnique && pOld->nCol==idx.nCol
     && memcmp(pOld->aiCol, idx.aiCol, sizeof(int)*(size_t)idx.nCol)==0 ){
      break;
    }
  }
  if( pCh->eOp==ALTER_ADD_INDEX ){
    KalamIndex *aIndex;
    if( i<p->nIndex ){
      char *zIdx = alterIndexName(p, &idx);
      *pzErr = sqlite3_mprintf("table %s already has %s", p->zTable,
                               zIdx ? zIdx : pCh->zItem);
      sqlite3_free(zIdx);
      return SQLITE_ERROR;
    }
    if( p->nIndex>=KALAM_MAX_INDEX || p->iNextIndexId>0xffff ){
      *pzErr = sqlite3_mprintf("table %s cannot have more UNIQUE constraints "
          "and indexes (at most %d)", p->zTable, KALAM_MAX_INDEX);
      return SQLITE_ERROR;
    }
    aIndex = sqlite3_realloc64(p->aIndex,
                               sizeof(KalamIndex)*(size_t)(p->nIndex + 1));
    if( aIndex==0 ) return SQLITE_NOMEM;
    p->aIndex = aIndex;
    idx.iNum = p->iNextIndexId++;
    p->aIndex[p->nIndex++] = idx;
    *piNum = idx.iNum;
    return SQLITE_OK;
  }
  if( i==p->nIndex ){
    char *zIdx = alterIndexName(p, &idx);
    *pzErr = sqlite3_mprintf("table %s has no %s", p->zTable,
                             zIdx ? zIdx : pCh->zItem);
    sqlite3_free(zIdx);
    return SQLITE_ERROR;
  }
  *piNum = p->aIndex[i].iNum;
  memmove(&p->aIndex[i], &p->aIndex[i+1],
          sizeof(KalamIndex)*(size_t)(p->nIndex - i - 1));
  p->nIndex--;
  if( i<p->nIndexBeforePk ) p->nIndexBeforePk--;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ SQL */

/* Runs zSql on the connection; an error becomes *pzErr. */
static int alterExec(sqlite3 *db, const char *zSql, char **pzErr){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("%s", zErr ? zErr : sqlite3_errmsg(db));
  }
  sqlite3_free(zErr);
  return rc;
}

/* Writes zSql as table zName's CREATE text in sqlite_schema and moves the
** schema cookie on (see the header comment). */
static int alterWriteSchema(sqlite3 *db, const AlterTable *pT,
                            const char *zSql, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  char *zQ = 0;
  int bDefensive = 0, iVersion = 0, rc;
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &bDefensive);
  if( bDefensive ) sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 0, 0);
  sqlite3_db_config(db, SQLITE_DBCONFIG_WRITABLE_SCHEMA, 1, 0);
  zQ = sqlite3_mprintf("UPDATE \"%w\".sqlite_schema SET sql=?1 "
                       "WHERE type='table' AND name=?2", pT->zSchema);
  rc = zQ ? sqlite3_prepare_v2(db, zQ, -1, &pStmt, 0) : SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zSql, -1, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, pT->zName, -1, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK && sqlite3_changes(db)!=1 ) rc = SQLITE_CORRUPT;
  }
  sqlite3_free(zQ);
  zQ = 0;
  if( rc==SQLITE_OK ){
    zQ = sqlite3_mprintf("PRAGMA \"%w\".schema_version", pT->zSchema);
    rc = zQ ? sqlite3_prepare_v2(db, zQ, -1, &pStmt, 0) : SQLITE_NOMEM;
    if( rc==SQLITE_OK ){
      if( sqlite3_step(pStmt)==SQLITE_ROW ){
        iVersion = sqlite3_column_int(pStmt, 0);
      }
      rc = sqlite3_finalize(pStmt);
    }
    sqlite3_free(zQ);
    zQ = 0;
  }
  if( rc==SQLITE_OK ){
    zQ = sqlite3_mprintf("PRAGMA \"%w\".schema_version=%d", pT->zSchema,
                         iVersion + 1);
    rc = zQ ? alterExec(db, zQ, pzErr) : SQLITE_NOMEM;
    sqlite3_free(zQ);
  }
  sqlite3_db_config(db, SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0, 0);
  if( bDefensive ) sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, 0);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("kalam_alter cannot write the schema of table "
        "%s: %s", pT->zName, rc==SQLITE_CORRUPT ? "its sqlite_schema row is "
        "gone" : sqlite3_errmsg(db));
  }
  return rc;
}

/* The table's column family, through its catalog entry (a reference:
** release with kalamStoreCfRelease). */
static int alterCf(KalamDb *pDb, const char *zName, KalamCf **ppCf,
                   char **pzErr){
  KalamCatalogEntry *pEntry = 0;
  int rc = kalamCatalogRead(pDb->pStore, zName, &pEntry, pzErr);
  *ppCf = 0;
  if( rc ) return rc;
  if( pEntry && pEntry->zCf ) *ppCf = kalamStoreCfFind(pDb->pStore, pEntry->zCf);
  kalamCatalogEntryFree(pEntry);
  if( *ppCf==0 ){
    *pzErr = sqlite3_mprintf("the data of kalam table %s is missing from "
                             "its store", zName);
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

/* The table on column family pCf as the connection has it connected
** (the DELETE that joined the transaction connected it), with the
** columns of pOld, ids and JSON keys: the pass reads its cold rows
** through it, which are rebuilt with the connected table's columns (one
** connected before an earlier change of this transaction may linger). */
static int alterTableOf(KalamDb *pDb, KalamCf *pCf, const KalamSchema *pOld,
                        KalamTable **ppTab, char **pzErr){
  KalamTable *pTab;
  for(pTab=pDb->pTables; pTab; pTab=pTab->pNextInDb){
    int i;
    if( pTab->pCf!=pCf || pTab->zBroken
     || pTab->pSchema->nCol!=pOld->nCol ) continue;
    for(i=0; i<pOld->nCol; i++){
      const KalamColumn *a = &pTab->pSchema->aCol[i], *b = &pOld->aCol[i];
      if( a->iId!=b->iId || a->nJsonKey!=b->nJsonKey
       || memcmp(a->zJsonKey, b->zJsonKey, (size_t)a->nJsonKey)!=0 ) break;
    }
    if( i==pOld->nCol ) break;
  }
  *ppTab = pTab;
  if( pTab==0 ){
    *pzErr = sqlite3_mprintf("kalam_alter cannot read the rows of table %s "
                             "as this connection has it", pOld->zTable);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* kalam_alter(t, change). */
static void alterFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  KalamConn *pConn = (KalamConn*)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zArg = (const char*)sqlite3_value_text(argv[0]);
  const char *zChange = (const char*)sqlite3_value_text(argv[1]);
  AlterTable tab;
  AlterChange ch;
  KalamSchema *pOld = 0, *pNew = 0, *pFinal = 0;
  KalamDb *pDb = 0;
  KalamCf *pCf = 0;
  KalamTable *pTab = 0;
  char *zErr = 0, *zArgs = 0, *zSql = 0, *zQ = 0;
  const char **azOpt = 0;
  int nOpt = 0, iNum = 0, i, rc;
  int bAuto = sqlite3_get_autocommit(db), bSavepoint = 0;

  (void)argc;
  memset(&tab, 0, sizeof(tab));
  memset(&ch, 0, sizeof(ch));
  if( pConn->bLocked ){
    zErr = sqlite3_mprintf("kalam_alter is refused: this connection is "
                           "locked by kalam_lock_user()");
    rc = SQLITE_AUTH;
    goto done;
  }
  if( zArg==0 || zChange==0 ){
    zErr = sqlite3_mprintf("kalam_alter(table, change) takes the table's name "
                           "and a change, as text");
    rc = SQLITE_MISUSE;
    goto done;
  }
  rc = alterFind(db, zArg, &tab, &zErr);
  if( rc==SQLITE_OK ) rc = alterParse(zChange, tab.zName, &ch, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamSchemaParse(tab.eKind, tab.zName, tab.nArg,
                          (const char *const*)tab.azArg, &pOld, &zErr);
  }
  if( rc==SQLITE_OK ){
    rc = kalamSchemaParse(tab.eKind, tab.zName, tab.nArg,
                          (const char *const*)tab.azArg, &pNew, &zErr);
  }
  if( rc ) goto done;

  /* The change, on a copy of the schema, rendered and checked again. */
  if( ch.eOp==ALTER_ADD_INDEX || ch.eOp==ALTER_DROP_INDEX ){
    rc = alterIndexes(pNew, &ch, &iNum, &zErr);
  }else{
    rc = alterColumns(pNew, &ch, &zErr);
  }
  if( rc ) goto done;
  azOpt = sqlite3_malloc64(sizeof(char*) * (size_t)(tab.nArg + 1));
  if( azOpt==0 ){ rc = SQLITE_NOMEM; goto done; }
  for(i=0; i<tab.nArg; i++){
    if( kalamSchemaIsOption(tab.azArg[i])
     && !kalamSchemaIsIdOption(tab.azArg[i]) ){
      azOpt[nOpt++] = tab.azArg[i];
    }
  }
  zArgs = kalamSchemaArguments(pNew, nOpt, azOpt);
  if( zArgs==0 ){ rc = SQLITE_NOMEM; goto done; }
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE \"%w\" USING %s(%s)",
                         tab.zName, tab.zModule, zArgs);
  if( zSql==0 ){ rc = SQLITE_NOMEM; goto done; }
  {
    AlterTable again;
    memset(&again, 0, sizeof(again));
    again.zName = tab.zName;
    again.zSql = zSql;
    rc = alterSplit(&again, &zErr);
    if( rc==SQLITE_OK ){
      rc = kalamSchemaParse(tab.eKind, tab.zName, again.nArg,
                            (const char *const*)again.azArg, &pFinal, &zErr);
    }
    if( rc==SQLITE_OK ) rc = kalamValueCheckDefaults(pFinal, &zErr);
    again.zName = 0;
    again.zSql = 0;
    alterTableClear(&again);
    if( rc ) goto done;
  }

  /* Into the caller's transaction (see the header comment). */
  rc = alterExec(db, "SAVEPOINT kalam_alter", &zErr);
  if( rc ){
    char *z = sqlite3_mprintf("kalam_alter cannot change table %s here: %s "
        "(call it in a SELECT of its own)", tab.zName, zErr);
    sqlite3_free(zErr);
    zErr = z;
    goto done;
  }
  bSavepoint = 1;
  zQ = sqlite3_mprintf("DELETE FROM \"%w\".\"%w\" WHERE 0",
                       tab.zSchema, tab.zName);
  rc = zQ ? alterExec(db, zQ, &zErr) : SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = kalamConnDb(pConn, tab.zSchema, 0, &pDb, &zErr);
  if( rc ) goto done;
  if( pDb==0 || !kalamTxnIsOpen(pDb->pTxn) ){
    zErr = sqlite3_mprintf("kalam_alter cannot join the transaction of "
                           "table %s", tab.zName);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = alterCf(pDb, tab.zName, &pCf, &zErr);
  if( rc==SQLITE_OK ) rc = alterTableOf(pDb, pCf, pOld, &pTab, &zErr);
  if( rc==SQLITE_OK ){
    rc = kalamAlterRows(pTab, ch.eOp, pOld, pFinal, iNum, &zErr);
  }
  if( rc==SQLITE_OK ) rc = alterWriteSchema(db, &tab, zSql, &zErr);
  if( rc==SQLITE_OK ) rc = kalamCatalogAlter(pDb, tab.zName, pFinal, zSql,
                                             &zErr);
  if( rc ) goto done;
  rc = alterExec(db, "RELEASE kalam_alter", &zErr);
  if( rc ){
    if( bAuto && !sqlite3_get_autocommit(db) ){
      /* The commit failed (SQLITE_BUSY): nothing of it stays. */
      char *zIgnore = 0;
      alterExec(db, "ROLLBACK", &zIgnore);
      sqlite3_free(zIgnore);
      zIgnore = 0;
      kalamCatalogResolvePending(pDb, &zIgnore);
      sqlite3_free(zIgnore);
      bSavepoint = 0;
    }
    goto done;
  }
  bSavepoint = 0;
  if( bAuto ){
    /* Committed: the catalog entry is settled now. */
    rc = kalamCatalogResolvePending(pDb, &zErr);
  }

done:
  if( bSavepoint ){
    char *zIgnore = 0;
    alterExec(db, "ROLLBACK TO kalam_alter; RELEASE kalam_alter", &zIgnore);
    sqlite3_free(zIgnore);
    if( bAuto && pDb ){
      zIgnore = 0;
      kalamCatalogResolvePending(pDb, &zIgnore);
      sqlite3_free(zIgnore);
    }
  }
  if( rc==SQLITE_OK ){
    sqlite3_result_text(ctx, zSql, -1, sqlite3_free);
    zSql = 0;
  }else{
    kalamFuncError(ctx, rc, zErr);
    zErr = 0;
  }
  if( pCf ) kalamStoreCfRelease(pDb->pStore, pCf);
  kalamSchemaFree(pOld);
  kalamSchemaFree(pNew);
  kalamSchemaFree(pFinal);
  alterTableClear(&tab);
  alterChangeClear(&ch);
  sqlite3_free(azOpt);
  sqlite3_free(zArgs);
  sqlite3_free(zSql);
  sqlite3_free(zQ);
  sqlite3_free(zErr);
}

/* Registers kalam_alter on db (kalam_vtab.c calls it). */
int kalamAlterRegister(sqlite3 *db, KalamConn *pConn){
  static const KalamFunc aFunc[] = {
    {"kalam_alter", 2, SQLITE_DIRECTONLY, alterFunc},
  };
  return kalamFunctionsRegister(db, pConn, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
