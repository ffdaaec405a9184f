/*
** check.c — kalam_check(): every kalam table of the connection's databases
** checked against its store, as PRAGMA integrity_check checks SQLite's.
**
**   SELECT * FROM kalam_check();      -- columns: schema, name, problem
**
** One row whose problem is 'ok' (schema and name NULL) when nothing is
** wrong; else one row per problem: the schema, the table it concerns (NULL
** for an entry of the catalog that belongs to no table it can name) and
** what is wrong, in words (docs/sql.md lists them). At most
** CHECK_MAX_PER_TABLE problems are listed per table, then one row saying
** how many more there are.
**
** What is checked, for each database (main, temp, attached) with kalam
** tables:
**
**   the store     it exists, when the database declares kalam tables
**   the catalog   each declared kalam table has an entry, the entry parses
**                 (kind, column family, columns, options) and says what
**                 the declaration says; its column family is in the store;
**                 every entry names a table the database declares, and
**                 every column family of the store is some entry's
**   the entries   every key of the table's column family, by the kind of
**                 entry its tag (the byte after the owner prefix) says, each
**                 kind by its own function (checkKinds):
**                   'r' row          parses under the table's schema, every
**                                    column reads as its type, NOT NULL
**                                    columns hold a value, and the entries
**                                    derived from it (its PRIMARY KEY's key
**                                    entry, one entry per index) exist and
**                                    point at it
**                   'k' key entry    points at a row that holds that key
**                   'x' index entry  is of one of the table's indexes and
**                                    points at a row whose values make it
**                   's' change entry points at the row whose _seq it is
**                   'h' horizon      is a _seq, and nothing else
**                   't' expiry entry (per-user streams) names a row that is
**                                    there
**                   'c' consumer     (streams) names a group and holds a
**                                    row id
**                 The last two are under the table's own prefix (0x00).
**                 A row of a shared or user table whose _seq is not its
**                 row id has its change entry, and a row of a per-user
**                 stream its expiry entry.
**                 A key of no known kind is a problem.
**
** Growing it: a new kind of entry adds one row to checkKinds (the function
** that checks one entry of the kind) and, when every row must have one,
** one step to checkRowDerived; a new kind of storage of a table (the cold
** tier's files) adds one function to checkTableSteps.
**
** It reads committed rows as of the commit the connection's SQLite
** snapshot shows (commit.c): another connection committing meanwhile
** cannot make it report a row half-written. The connection's own open
** transaction is not looked at.
*/
#include "check_int.h"
#include <string.h>
#include <stdarg.h>

SQLITE_EXTENSION_INIT3

/* Problems listed per table before the rest are only counted. */
#define CHECK_MAX_PER_TABLE 100

/* The columns of kalam_check's rows, all text. */
#define CHECK_TEXT 3        /* schema, name, problem */

/* Records one problem (check_int.h). */
int kalamCheckProblem(KalamCheck *p, const char *zFormat, ...){
  const char *azText[CHECK_TEXT];
  char *zProblem;
  va_list ap;
  int rc;
  if( p->nListed>=CHECK_MAX_PER_TABLE ){
    p->nMore++;
    return SQLITE_OK;
  }
  va_start(ap, zFormat);
  zProblem = sqlite3_vmprintf(zFormat, ap);
  va_end(ap);
  if( zProblem==0 ) return SQLITE_NOMEM;
  azText[0] = p->zSchema ? p->zSchema : "";
  azText[1] = p->zTable;
  azText[2] = zProblem;
  rc = kalamTvfRowsAdd(p->pCur, azText, 0);
  sqlite3_free(zProblem);
  if( rc==SQLITE_OK ) p->nListed++;
  return rc;
}

/* What a table keeps in its store, each checked by one function: the
** cold tier's files are to be one more. */
static int (*const checkTableSteps[])(KalamCheck*) = {
  kalamCheckEntries,
};

/* ------------------------------------------------------------ declarations
** A kalam table's columns are what its CREATE VIRTUAL TABLE says: the
** statement SQLite keeps in sqlite_schema is split into its module
** arguments as SQLite splits them for xConnect (commas outside
** parentheses; each argument from its first token to its last), and
** parsed as xConnect parses them (schema.c). */

/* The end of the token that starts at z[i], and in *piStart where it
** starts once blanks and comments are skipped; at the end of z both are
** the end. */
static int checkToken(const char *z, int i, int *piStart){
  for(;;){
    while( z[i]==' ' || z[i]=='\t' || z[i]=='\n' || z[i]=='\r'
        || z[i]=='\f' ) i++;
    if( z[i]=='-' && z[i+1]=='-' ){
      while( z[i] && z[i]!='\n' ) i++;
    }else if( z[i]=='/' && z[i+1]=='*' ){
      i += 2;
      while( z[i] && !(z[i]=='*' && z[i+1]=='/') ) i++;
      if( z[i] ) i += 2;
    }else{
      break;
    }
  }
  *piStart = i;
  if( z[i]==0 ) return i;
  if( z[i]=='\'' || z[i]=='"' || z[i]=='`' || z[i]=='[' ){
    char cEnd = z[i]=='[' ? ']' : z[i];
    for(i++; z[i]; i++){
      if( z[i]==cEnd ){
        if( cEnd!=']' && z[i+1]==cEnd ){ i++; continue; }
        return i + 1;
      }
    }
    return i;
  }
  if( (z[i]>='a' && z[i]<='z') || (z[i]>='A' && z[i]<='Z') || z[i]=='_'
   || (z[i]>='0' && z[i]<='9') || (z[i] & 0x80) ){
    while( (z[i]>='a' && z[i]<='z') || (z[i]>='A' && z[i]<='Z')
        || z[i]=='_' || z[i]=='$' || (z[i]>='0' && z[i]<='9')
        || (z[i] & 0x80) ) i++;
    return i;
  }
  return i + 1;
}

/* Splits zSql, a CREATE VIRTUAL TABLE statement, into its module's name
** (*pzModule) and arguments (*pazArg, *pnArg). All of it is one
** allocation, *pazArg, which the caller frees with sqlite3_free. A
** statement without USING is SQLITE_CORRUPT. */
static int checkDeclSplit(const char *zSql, const char **pzModule,
                          char ***pazArg, int *pnArg){
  int n = (int)strlen(zSql), nArg = 0, i = 0, iStart = 0, iEnd;
  int iArg = -1, iArgEnd = 0, depth = 0;
  char **azArg;
  char *zOut;
  *pazArg = 0;
  *pnArg = 0;
  *pzModule = 0;
  /* At most one argument per comma, plus one, plus the module's name. */
  for(i=0; i<n; i++) if( zSql[i]==',' ) nArg++;
  azArg = sqlite3_malloc64(sizeof(char*)*(size_t)(nArg + 1) + (size_t)n*2 + 2);
  if( azArg==0 ) return SQLITE_NOMEM;
  zOut = (char*)&azArg[nArg + 1];
  nArg = 0;
  i = 0;
  for(;;){
    iEnd = checkToken(zSql, i, &iStart);
    if( iEnd==iStart ) break;
    i = iEnd;
    if( iEnd - iStart==5 && sqlite3_strnicmp(&zSql[iStart], "USING", 5)==0 ){
      break;
    }
  }
  iEnd = checkToken(zSql, i, &iStart);
  if( iEnd==iStart ){
    sqlite3_free(azArg);
    return SQLITE_CORRUPT;
  }
  memcpy(zOut, &zSql[iStart], (size_t)(iEnd - iStart));
  zOut[iEnd - iStart] = 0;
  *pzModule = zOut;
  zOut += iEnd - iStart + 1;
  i = checkToken(zSql, iEnd, &iStart);
  if( i>iStart && zSql[iStart]=='(' ){
    for(;;){
      int bEnd = 0;
      iEnd = checkToken(zSql, i, &iStart);
      if( iEnd==iStart ) bEnd = 1;
      else if( zSql[iStart]=='(' ) depth++;
      else if( zSql[iStart]==')' && depth==0 ) bEnd = 1;
      else if( zSql[iStart]==')' ) depth--;
      if( bEnd || (zSql[iStart]==',' && depth==0) ){
        if( iArg>=0 ){
          memcpy(zOut, &zSql[iArg], (size_t)(iArgEnd - iArg));
          zOut[iArgEnd - iArg] = 0;
          azArg[nArg++] = zOut;
          zOut += iArgEnd - iArg + 1;
        }
        iArg = -1;
        if( bEnd ) break;
      }else{
        if( iArg<0 ) iArg = iStart;
        iArgEnd = iEnd;
      }
      i = iEnd;
    }
  }
  *pazArg = azArg;
  *pnArg = nArg;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ the catalog */

/* The catalog entry of the table against its declaration; *ppCf is its
** column family when the entries can be read. */
static int checkCatalog(KalamCheck *p, KalamCf **ppCf){
  KalamCatalogEntry *pEntry = 0;
  char *zErr = 0, *zColumns = 0, *zOptions = 0;
  int rc;
  *ppCf = 0;
  rc = kalamCatalogRead(p->pStore, p->zTable, &pEntry, &zErr);
  if( rc ){
    rc = kalamCheckProblem(p, "%s", zErr ? zErr : sqlite3_errstr(rc));
    goto done;
  }
  if( pEntry==0 ){
    rc = kalamCheckProblem(p, "not in the catalog of its store %s",
                           kalamStorePath(p->pStore));
    goto done;
  }
  zColumns = kalamSchemaColumnsJson(p->pSchema);
  zOptions = kalamSchemaOptionsJson(p->pSchema);
  if( zColumns==0 || zOptions==0 ){ rc = SQLITE_NOMEM; goto done; }
  if( pEntry->eKind<0 ){
    rc = kalamCheckProblem(p, "its catalog entry is damaged: it names no "
                           "kind of table");
  }else if( pEntry->eKind!=p->pSchema->eKind ){
    rc = kalamCheckProblem(p, "its catalog entry says %s, its declaration %s",
                           kalamKindName(pEntry->eKind),
                           kalamKindName(p->pSchema->eKind));
  }
  if( rc==SQLITE_OK && pEntry->zColumns==0 ){
    rc = kalamCheckProblem(p, "its catalog entry is damaged: it has no "
                           "columns");
  }else if( rc==SQLITE_OK && strcmp(pEntry->zColumns, zColumns)!=0 ){
    rc = kalamCheckProblem(p, "its catalog entry's columns are not its "
                           "declaration's: %s", pEntry->zColumns);
  }
  if( rc==SQLITE_OK && pEntry->zOptions==0 ){
    rc = kalamCheckProblem(p, "its catalog entry is damaged: it has no "
                           "options");
  }else if( rc==SQLITE_OK && strcmp(pEntry->zOptions, zOptions)!=0 ){
    rc = kalamCheckProblem(p, "its catalog entry's options are not its "
                           "declaration's: %s", pEntry->zOptions);
  }
  if( rc ) goto done;
  if( pEntry->zCf==0 ){
    rc = kalamCheckProblem(p, "its catalog entry is damaged: it names no "
                           "column family, so its rows cannot be found");
  }else{
    *ppCf = kalamStoreCfFind(p->pStore, pEntry->zCf);
    if( *ppCf==0 ){
      rc = kalamCheckProblem(p, "its column family %s is missing from the "
                             "store", pEntry->zCf);
    }
  }

done:
  kalamCatalogEntryFree(pEntry);
  sqlite3_free(zColumns);
  sqlite3_free(zOptions);
  sqlite3_free(zErr);
  return rc;
}

/* Checks one declared table: its catalog entry, then each step of what
** it keeps in the store. */
static int checkTable(KalamCheck *p, const char *zName, const char *zSql){
  const char *zModule = 0;
  char **azArg = 0;
  char *zErr = 0;
  int nArg = 0, rc, i;

  p->zTable = zName;
  p->nListed = 0;
  p->nMore = 0;
  p->pSchema = 0;
  p->pCf = 0;
  rc = checkDeclSplit(zSql, &zModule, &azArg, &nArg);
  if( rc==SQLITE_OK ){
    rc = kalamSchemaParse(kalamKindFromName(zModule), zName, nArg,
                          (const char *const*)azArg, &p->pSchema, &zErr);
  }
  if( rc==SQLITE_NOMEM ) goto done;
  if( rc ){
    rc = kalamCheckProblem(p, "its declaration cannot be read: %s",
                           zErr ? zErr : sqlite3_errstr(rc));
    goto done;
  }
  rc = checkCatalog(p, &p->pCf);
  for(i=0; rc==SQLITE_OK && p->pCf
           && i<(int)(sizeof(checkTableSteps)/sizeof(checkTableSteps[0])); i++){
    rc = checkTableSteps[i](p);
  }
  if( rc==SQLITE_OK && p->nMore ){
    int nMore = p->nMore;
    p->nListed = 0;
    rc = kalamCheckProblem(p, "and %d more problems, not listed", nMore);
  }

done:
  if( p->pCf ) kalamStoreCfRelease(p->pStore, p->pCf);
  p->pCf = 0;
  kalamSchemaFree(p->pSchema);
  p->pSchema = 0;
  p->zTable = 0;
  sqlite3_free(azArg);
  sqlite3_free(zErr);
  return rc;
}

/* The kalam tables a database declares: names and statements, parallel
** arrays in one allocation list (sqlite3_free each, then the arrays). */
typedef struct CheckDecl CheckDecl;
struct CheckDecl {
  char **azName;
  char **azSql;
  int n;
};

static void checkDeclFree(CheckDecl *p){
  int i;
  for(i=0; i<p->n; i++){
    sqlite3_free(p->azName[i]);
    sqlite3_free(p->azSql[i]);
  }
  sqlite3_free(p->azName);
  sqlite3_free(p->azSql);
  memset(p, 0, sizeof(*p));
}

/* Reads the kalam tables schema zSchema of db declares. */
static int checkDeclRead(sqlite3 *db, const char *zSchema, CheckDecl *p){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT name, sql FROM \"%w\".sqlite_schema "
      "WHERE type='table' AND sql LIKE 'CREATE VIRTUAL TABLE%%' "
      "ORDER BY name", zSchema);
  int rc;
  memset(p, 0, sizeof(*p));
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zName = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zStmt = (const char*)sqlite3_column_text(pStmt, 1);
    const char *zModule = 0;
    char **azArg = 0, **azName, **azStmt;
    int nArg = 0;
    if( zName==0 || zStmt==0 ) continue;
    /* Only the tables of kalam's modules. */
    rc = checkDeclSplit(zStmt, &zModule, &azArg, &nArg);
    if( rc==SQLITE_CORRUPT ){ rc = SQLITE_OK; continue; }
    if( rc ) break;
    if( kalamKindFromName(zModule)<0 ){
      sqlite3_free(azArg);
      continue;
    }
    sqlite3_free(azArg);
    azName = sqlite3_realloc64(p->azName, sizeof(char*)*(size_t)(p->n + 1));
    if( azName ) p->azName = azName;
    azStmt = sqlite3_realloc64(p->azSql, sizeof(char*)*(size_t)(p->n + 1));
    if( azStmt ) p->azSql = azStmt;
    if( azName==0 || azStmt==0 ){ rc = SQLITE_NOMEM; break; }
    p->azName[p->n] = sqlite3_mprintf("%s", zName);
    p->azSql[p->n] = sqlite3_mprintf("%s", zStmt);
    p->n++;
    if( p->azName[p->n-1]==0 || p->azSql[p->n-1]==0 ) rc = SQLITE_NOMEM;
  }
  if( pStmt ){
    int rc2 = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

/* What checkOrphan needs: the checks' context and the declared tables;
** it collects the column families the catalog names. */
typedef struct CheckOrphans CheckOrphans;
struct CheckOrphans {
  KalamCheck *pCtx;
  const CheckDecl *pDecl;
  char **azCf;              /* sqlite3_free each, then the array */
  int nCf;
};

/* A catalog entry must name a declared table (pending entries are those
** of a transaction still open: settled when it ends). */
static int checkOrphan(void *pArg, const KalamCatalogEntry *pEntry,
                       char **pzErr){
  CheckOrphans *p = (CheckOrphans*)pArg;
  int i, rc;
  (void)pzErr;
  if( pEntry->zCf ){
    char **azNew = sqlite3_realloc64(p->azCf, sizeof(char*)*(size_t)(p->nCf+1));
    if( azNew==0 ) return SQLITE_NOMEM;
    p->azCf = azNew;
    p->azCf[p->nCf] = sqlite3_mprintf("%s", pEntry->zCf);
    if( p->azCf[p->nCf]==0 ) return SQLITE_NOMEM;
    p->nCf++;
  }
  if( pEntry->iPending ) return SQLITE_OK;
  for(i=0; pEntry->zName && i<p->pDecl->n; i++){
    if( sqlite3_stricmp(pEntry->zName, p->pDecl->azName[i])==0 ){
      return SQLITE_OK;
    }
  }
  p->pCtx->zTable = pEntry->zName;
  p->pCtx->nListed = 0;
  rc = kalamCheckProblem(p->pCtx, pEntry->zName
      ? "its catalog entry (column family %s) belongs to no table of the "
        "database"
      : "a catalog entry (column family %s) names no table",
      pEntry->zCf ? pEntry->zCf : "none");
  p->pCtx->zTable = 0;
  return rc;
}

/* The catalog's entries of no table, and the store's column families of
** no entry (what a failed CREATE or DROP could leave). */
static int checkStoreOrphans(KalamCheck *pCtx, const CheckDecl *pDecl,
                             char **pzErr){
  CheckOrphans orphans;
  char **azCf = 0;
  int nCf = 0, i, j, rc;
  memset(&orphans, 0, sizeof(orphans));
  orphans.pCtx = pCtx;
  orphans.pDecl = pDecl;
  rc = kalamCatalogForEach(pCtx->pStore, checkOrphan, &orphans, pzErr);
  if( rc==SQLITE_OK ) rc = kalamStoreCfNames(pCtx->pStore, &azCf, &nCf);
  for(i=0; rc==SQLITE_OK && i<nCf; i++){
    for(j=0; j<orphans.nCf && strcmp(orphans.azCf[j], azCf[i]); j++){}
    if( j==orphans.nCf ){
      pCtx->nListed = 0;
      rc = kalamCheckProblem(pCtx, "column family %s belongs to no table of "
                             "the catalog", azCf[i]);
    }
  }
  for(j=0; j<orphans.nCf; j++) sqlite3_free(orphans.azCf[j]);
  sqlite3_free(orphans.azCf);
  sqlite3_free(azCf);
  return rc;
}

/* Checks every kalam table of schema zSchema. */
static int checkDatabase(sqlite3_vtab_cursor *pCur, KalamConn *pConn,
                         const char *zSchema, char **pzErr){
  KalamCheck ctx;
  CheckDecl decl;
  KalamDb *pDb = 0;
  int rc, i;

  memset(&ctx, 0, sizeof(ctx));
  ctx.pCur = pCur;
  ctx.zSchema = zSchema;
  rc = checkDeclRead(pConn->db, zSchema, &decl);
  if( rc==SQLITE_OK ) rc = kalamConnDb(pConn, zSchema, 0, &pDb, pzErr);
  if( rc ) goto done;
  if( pDb==0 ){
    /* Tables declared and no store: a copy of the database file alone. */
    const char *zFile = sqlite3_db_filename(pConn->db, zSchema);
    for(i=0; rc==SQLITE_OK && i<decl.n; i++){
      ctx.zTable = decl.azName[i];
      if( kalamStoreHasFile(pConn->db, zSchema) ){
        rc = kalamCheckProblem(&ctx, "its store %s-kalam is missing", zFile);
      }else{
        rc = kalamCheckProblem(&ctx, "its database has no kalam store");
      }
    }
    goto done;
  }
  ctx.pStore = pDb->pStore;
  rc = kalamCatalogResolvePending(pDb, pzErr);
  if( rc==SQLITE_OK ) rc = kalamCommitView(pDb, pzErr);
  if( rc ) goto done;
  ctx.pView = pDb->pView;
  for(i=0; rc==SQLITE_OK && i<decl.n; i++){
    /* Rows in cold files are read through the connected table (the cold
    ** tier's reader, cold_read.c); a table that cannot connect is checked
    ** in its hot part, and its own problem reported. */
    char *zQualified = sqlite3_mprintf("%s.%s", zSchema, decl.azName[i]);
    char *zIgnore = 0;
    if( zQualified==0 ){ rc = SQLITE_NOMEM; break; }
    ctx.pTab = 0;
    if( kalamChangesTableFind(pConn->db, pConn, zQualified, &ctx.pTab,
                              &zIgnore)!=SQLITE_OK ){
      ctx.pTab = 0;
    }
    sqlite3_free(zIgnore);
    sqlite3_free(zQualified);
    rc = checkTable(&ctx, decl.azName[i], decl.azSql[i]);
  }
  if( rc==SQLITE_OK ) rc = checkStoreOrphans(&ctx, &decl, pzErr);
  /* An idle connection pins no snapshot (as cursor.c does). */
  if( pDb->nCursor==0 && sqlite3_get_autocommit(pConn->db) ){
    kalamCommitViewRelease(pDb);
  }

done:
  checkDeclFree(&decl);
  return rc;
}

/* ------------------------------------------------------------ the table */

static int checkConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  (void)argc; (void)argv; (void)pzErr;
  /* It reads every user's rows: not from a view or trigger (the
  ** listings' connect says so). */
  return kalamTvfRowsConnect(db, pAux, "CREATE TABLE x(schema TEXT, "
                             "name TEXT, problem TEXT)", CHECK_TEXT, 0, 0,
                             ppVtab);
}

static int checkBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  /* Every table of every store is read: costly, and done once. */
  pInfo->estimatedCost = 1e9;
  pInfo->estimatedRows = 1;
  return SQLITE_OK;
}

/* Runs the whole check: the rows are the problems found. */
static int checkFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  KalamTvf *pTab = (KalamTvf*)cur->pVtab;
  KalamConn *pConn = pTab->pConn;
  const char *zSchema;
  char *zErr = 0;
  int rc = SQLITE_OK, i;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;

  kalamTvfRowsReset(cur);
  if( pConn->bLocked ){
    zErr = sqlite3_mprintf("kalam_check: this connection is locked by "
                           "kalam_lock_user(): the check reads every "
                           "user's rows");
    rc = SQLITE_AUTH;
  }
  for(i=0; rc==SQLITE_OK && (zSchema = sqlite3_db_name(pConn->db, i))!=0;
      i++){
    rc = checkDatabase(cur, pConn, zSchema, &zErr);
  }
  if( rc==SQLITE_OK && kalamTvfRowsCount(cur)==0 ){
    static const char *const azOk[CHECK_TEXT] = { 0, 0, "ok" };
    rc = kalamTvfRowsAdd(cur, azOk, 0);
  }
  if( rc && rc!=SQLITE_NOMEM ){
    if( zErr==0 ) zErr = sqlite3_mprintf("kalam_check: %s", sqlite3_errstr(rc));
    kalamTvfError(&pTab->base, zErr);
    zErr = 0;
  }
  sqlite3_free(zErr);
  return rc;
}

/* The check runs in xFilter. */
static sqlite3_module checkModule =
    KALAM_TVF_ROWS_MODULE(checkConnect, checkBestIndex, checkFilter);

/* Registers kalam_check on db, holding a reference on pConn. */
int kalamCheckRegister(sqlite3 *db, KalamConn *pConn){
  return kalamTvfRegister(db, pConn, "kalam_check", &checkModule);
}
