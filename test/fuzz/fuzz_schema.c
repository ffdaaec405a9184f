/*
** fuzz_schema.c — libFuzzer target: the argument list of CREATE VIRTUAL
** TABLE ... USING kalam_*(...).
**
** SQLite hands kalamSchemaParse each top-level argument as a string, and a
** user can type anything there. The input is split into arguments at NUL
** bytes (SQLite's arguments cannot hold a NUL); its first byte picks the
** kind (shared, user, stream). A parse that succeeds is rendered the three
** ways kalam renders a schema: the CREATE TABLE declared to SQLite, the
** catalog's columns JSON and options JSON. Checks, beyond "no crash":
**
**   - success gives a schema and no message; failure a message and none;
**   - the schema is sane: 1+ columns, names non-empty and not starting
**     with _, at most one PRIMARY KEY and iPk pointing at it, streams have
**     a TTL and no key; column ids are distinct and below the next id;
**     indexes (UNIQUE, INDEX(...)) have distinct numbers 1..65535 below
**     the next number (1, 2, ... in order unless index_ids= gives them),
**     each has 1 to KALAM_MAX_INDEX_COLUMNS distinct
**     columns of the table, no two are the same, streams have none, and
**     the key's place among them is within their count;
**   - the declared CREATE TABLE is SQL that SQLite accepts (a prepare of
**     it on an in-memory database), since xCreate would otherwise fail;
**   - the catalog JSON parses as JSON (cJSON), since reopens read it.
**
** Build and run with `make fuzz` (docs/hardening.md).
*/
#include "kalam_int.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SCHEMA_MAXARG 64

static void fuzzSchemaFail(const char *zWhy, const char *zDetail){
  fprintf(stderr, "fuzz_schema: %s%s%s\n", zWhy, zDetail ? ": " : "",
          zDetail ? zDetail : "");
  abort();
}

static sqlite3 *fuzzSchemaDb(void){
  static sqlite3 *db = 0;
  if( db==0 && sqlite3_open(":memory:", &db)!=SQLITE_OK ){
    fuzzSchemaFail("cannot open an in-memory database", 0);
  }
  return db;
}

/* Checks the invariants of a schema kalamSchemaParse accepted. */
static void fuzzSchemaCheck(const KalamSchema *p){
  int i, nPk = 0;
  if( p->nCol<1 ) fuzzSchemaFail("a schema with no columns", 0);
  for(i=0; i<p->nCol; i++){
    const KalamColumn *pCol = &p->aCol[i];
    if( pCol->zName==0 || pCol->zName[0]==0 ){
      fuzzSchemaFail("an empty column name", 0);
    }
    if( pCol->zName[0]=='_' ) fuzzSchemaFail("a reserved name", pCol->zName);
    if( pCol->zDeclType==0 ) fuzzSchemaFail("no declared type", pCol->zName);
    if( pCol->iId<1 || pCol->iId>=p->iNextColumnId ){
      fuzzSchemaFail("a column id out of range", pCol->zName);
    }
    {
      int k;
      for(k=0; k<i; k++){
        if( p->aCol[k].iId==pCol->iId ) fuzzSchemaFail("two column ids", 0);
      }
    }
    if( pCol->bPk ){
      nPk++;
      if( p->iPk!=i ) fuzzSchemaFail("iPk is not the key column", 0);
    }
  }
  if( nPk>1 ) fuzzSchemaFail("more than one PRIMARY KEY", 0);
  if( nPk==0 && p->iPk>=0 ) fuzzSchemaFail("iPk set with no key", 0);
  if( p->eKind==KALAM_KIND_STREAM && (p->nTtlSeconds<=0 || p->iPk>=0) ){
    fuzzSchemaFail("a stream without ttl_seconds, or with a key", 0);
  }
  if( p->nIndex<0 || p->nIndex>KALAM_MAX_INDEX
   || (p->nIndex>0 && p->eKind==KALAM_KIND_STREAM)
   || p->nIndexBeforePk<0 || p->nIndexBeforePk>p->nIndex ){
    fuzzSchemaFail("a bad number of indexes", 0);
  }
  for(i=0; i<p->nIndex; i++){
    const KalamIndex *pIdx = &p->aIndex[i];
    int j, k;
    if( pIdx->iNum<1 || pIdx->iNum>0xffff || pIdx->iNum>=p->iNextIndexId ){
      fuzzSchemaFail("an index number out of range", 0);
    }
    for(k=0; k<i; k++){
      if( p->aIndex[k].iNum==pIdx->iNum ) fuzzSchemaFail("two index numbers", 0);
    }
    if( pIdx->nCol<1 || pIdx->nCol>KALAM_MAX_INDEX_COLUMNS ){
      fuzzSchemaFail("an index with a bad number of columns", 0);
    }
    for(j=0; j<pIdx->nCol; j++){
      if( pIdx->aiCol[j]<0 || pIdx->aiCol[j]>=p->nCol ){
        fuzzSchemaFail("an index names no column", 0);
      }
      for(k=0; k<j; k++){
        if( pIdx->aiCol[k]==pIdx->aiCol[j] ){
          fuzzSchemaFail("an index names a column twice", 0);
        }
      }
    }
    for(k=0; k<i; k++){
      const KalamIndex *pOld = &p->aIndex[k];
      if( pOld->bUnique==pIdx->bUnique && pOld->nCol==pIdx->nCol
       && memcmp(pOld->aiCol, pIdx->aiCol, sizeof(int)*pIdx->nCol)==0 ){
        fuzzSchemaFail("two identical indexes", 0);
      }
    }
  }
}

/* The declared CREATE TABLE must be one statement SQLite can prepare. */
static void fuzzSchemaDeclared(const KalamSchema *p){
  char *zDeclare = kalamSchemaDeclare(p);
  sqlite3_stmt *pStmt = 0;
  const char *zTail = 0;
  int rc;
  if( zDeclare==0 ) return; /* out of memory */
  rc = sqlite3_prepare_v2(fuzzSchemaDb(), zDeclare, -1, &pStmt, &zTail);
  if( rc!=SQLITE_OK ){
    fprintf(stderr, "fuzz_schema: %s\n", sqlite3_errmsg(fuzzSchemaDb()));
    fuzzSchemaFail("the declared CREATE TABLE does not prepare", zDeclare);
  }
  if( zTail && zTail[strspn(zTail, " \t\n\r;")]!=0 ){
    fuzzSchemaFail("the declared CREATE TABLE has text after it", zDeclare);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zDeclare);
}

/* The catalog's JSON must be JSON. */
static void fuzzSchemaJson(const char *zJson){
  cJSON *p;
  if( zJson==0 ) return; /* out of memory */
  p = cJSON_Parse(zJson);
  if( p==0 ) fuzzSchemaFail("catalog JSON does not parse", zJson);
  cJSON_Delete(p);
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  static const int aKind[3] = {
    KALAM_KIND_SHARED, KALAM_KIND_USER, KALAM_KIND_STREAM
  };
  char *zCopy;
  const char *azArg[FUZZ_SCHEMA_MAXARG];
  int nArg = 0, eKind;
  size_t i;
  KalamSchema *pSchema = 0;
  char *zErr = 0;
  int rc;

  if( nData<1 ) return 0;
  eKind = aKind[aData[0] % 3];
  /* A NUL-terminated copy whose NULs split the arguments. */
  zCopy = malloc(nData);
  if( zCopy==0 ) return 0;
  memcpy(zCopy, aData + 1, nData - 1);
  zCopy[nData - 1] = 0;
  azArg[nArg++] = zCopy;
  for(i=0; i+1<nData && nArg<FUZZ_SCHEMA_MAXARG; i++){
    if( zCopy[i]==0 && i+2<nData ) azArg[nArg++] = &zCopy[i+1];
  }

  rc = kalamSchemaParse(eKind, "t", nArg, azArg, &pSchema, &zErr);
  /* CREATE checks the DEFAULTs right after the parse (table.c). */
  if( rc==SQLITE_OK ){
    rc = kalamValueCheckDefaults(pSchema, &zErr);
    if( rc ){
      kalamSchemaFree(pSchema);
      pSchema = 0;
    }
  }
  if( rc==SQLITE_OK ){
    char *zCols, *zOpts;
    if( pSchema==0 ) fuzzSchemaFail("success without a schema", 0);
    if( zErr ) fuzzSchemaFail("success with a message", zErr);
    fuzzSchemaCheck(pSchema);
    fuzzSchemaDeclared(pSchema);
    zCols = kalamSchemaColumnsJson(pSchema);
    zOpts = kalamSchemaOptionsJson(pSchema);
    fuzzSchemaJson(zCols);
    fuzzSchemaJson(zOpts);
    sqlite3_free(zCols);
    sqlite3_free(zOpts);
    kalamSchemaFree(pSchema);
  }else{
    if( pSchema ) fuzzSchemaFail("failure with a schema", 0);
    if( zErr==0 ) fuzzSchemaFail("failure without a message", 0);
  }
  sqlite3_free(zErr);
  free(zCopy);
  return 0;
}
