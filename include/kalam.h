/*
** kalam.h — the public C interface of kalam, KalamDB's table model for
** SQLite: per-user tables, soft delete and expiring streams as virtual
** tables stored in RocksDB.
**
** Loadable:  sqlite3_load_extension(db, "./kalam", 0, &zErr);
** Static:    link libkalam.a (and -lrocksdb -lcjson -pthread), then
**            sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
**            every connection opened afterwards has kalam.
**
** The functions below act on one connection, exactly as the SQL functions
** of the same names do (docs/users.md).
*/
#ifndef KALAM_H
#define KALAM_H

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KALAM_VERSION "0.1.0"

/* The extension entry point: registers kalam's modules and functions on
** db. Called by sqlite3_load_extension or sqlite3_auto_extension. */
int sqlite3_kalam_init(sqlite3 *db, char **pzErrMsg,
                       const struct sqlite3_api_routines *pApi);

/* Sets the connection's current user (1 to 128 bytes of UTF-8); NULL
** clears it. Returns SQLITE_OK, or an error code with the message in
** sqlite3_errmsg(db) (invalid id, connection locked). */
int kalam_set_user(sqlite3 *db, const char *zUser);

/* Fixes the current user for the rest of the connection: afterwards
** kalam_set_user, kalam_erase_user and kalam DDL are refused. */
int kalam_lock_user(sqlite3 *db);

/* The current user as a new string the caller frees with sqlite3_free,
** or NULL if none is set. */
char *kalam_current_user(sqlite3 *db);

#ifdef __cplusplus
}
#endif

#endif /* KALAM_H */
