/*
** kalam_vtab.c — the extension entry point.
**
** kalam is KalamDB's table model for SQLite: three virtual-table modules
** (kalam_shared, kalam_user, kalam_stream) that keep rows as JSON objects
** in RocksDB, with per-user isolation, soft delete and expiring streams.
**
**   .load ./kalam                                  (sqlite3 shell)
**   sqlite3_load_extension(db, "./kalam", 0, &e)   (any program)
**   sqlite3_auto_extension(sqlite3_kalam_init)     (linked with libkalam.a)
**
** This file only registers the modules and functions; each concern lives
** in src/ (see docs/architecture.md for the map).
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#include "src/kalam_int.h"
#include "include/kalam.h"

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_kalam_init(sqlite3 *db, char **pzErrMsg,
                       const sqlite3_api_routines *pApi){
  KalamConn *pConn;
  int rc;
  SQLITE_EXTENSION_INIT2(pApi);

  /* sqlite3_vtab_in() and sqlite3_db_name() arrived in SQLite 3.38/3.39. */
  if( sqlite3_libversion_number() < 3039000 ){
    *pzErrMsg = sqlite3_mprintf("kalam needs SQLite 3.39.0 or later; this "
                                "is %s", sqlite3_libversion());
    return SQLITE_ERROR;
  }
  /* Loaded again (.load twice): the registrations in place stay, with
  ** the connection's current user and lock. */
  if( kalamConnLoaded(db) ) return SQLITE_OK;
  pConn = kalamConnNew(db);
  if( pConn==0 ) return SQLITE_NOMEM;
  rc = kalamTableModulesRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamTablesRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamCheckRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamUserFunctionsRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamSqlFunctionsRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamChangesRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamConsumeRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamAlterRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamAdminRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamFlushRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamSegmentsRegister(db, pConn);
  if( rc==SQLITE_OK ) rc = kalamColdStatsRegister(db, pConn);
  /* The registrations hold their own references now. */
  kalamConnUnref(pConn);
  if( rc ){
    *pzErrMsg = sqlite3_mprintf("kalam: cannot register its modules and "
                                "functions: %s", sqlite3_errstr(rc));
  }
  return rc;
}
