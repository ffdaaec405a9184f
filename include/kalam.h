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

/* Subscriptions (docs/changes.md): a callback told of each committed
** change of one table, made by any connection of this process.
**
** kalam_subscribe registers xChange on table zTable ("t" or "schema.t") of
** connection db; on a kalam_user table it is confined to db's current user
** at the time of the call (rows of other users never reach it). After each
** commit that changed the table, xChange runs once per changed row, in the
** order the transaction wrote them: insert, update, delete (soft: the new
** row has _deleted 1) and hard delete (the row is gone: OR REPLACE,
** kalam_purge, deleted_retention_hours, kalam_erase_user, stream expiry).
** It never runs for a rolled-back or failed commit. *piId receives the
** subscription's id, for kalam_unsubscribe.
**
** Threads: xChange runs on the thread that committed, inside its COMMIT
** (or the statement that committed in autocommit), after the commit is
** durable; deliveries of the process are serialized. xChange must not use
** the connection that committed; it may use other connections, subscribe
** and unsubscribe; it should return quickly (hand work to another
** thread), and must not wait for another thread that writes kalam tables.
** The strings of *pChange live until xChange returns.
**
** Subscriptions end with kalam_unsubscribe or when db closes. */
#define KALAM_CHANGE_INSERT      1
#define KALAM_CHANGE_UPDATE      2
#define KALAM_CHANGE_DELETE      3   /* soft delete: _deleted became 1 */
#define KALAM_CHANGE_HARD_DELETE 4   /* the row is gone for good */

typedef struct kalam_change kalam_change;
struct kalam_change {
  const char *zTable;        /* the table's name */
  int op;                    /* KALAM_CHANGE_* */
  sqlite3_int64 rowid;
  sqlite3_int64 seq;         /* the new state's _seq; 0 for a hard delete */
  const char *zNew;          /* the user columns after, as a JSON object;
                             ** NULL for a hard delete */
  const char *zOld;          /* before; NULL for an insert */
};
typedef void (*kalam_change_fn)(void *pArg, const kalam_change *pChange);

int kalam_subscribe(sqlite3 *db, const char *zTable, kalam_change_fn xChange,
                    void *pArg, sqlite3_int64 *piId);

/* Ends subscription iId of db: after it returns, its callback never runs
** again. SQLITE_NOTFOUND if db has no such subscription. */
int kalam_unsubscribe(sqlite3 *db, sqlite3_int64 iId);

#ifdef __cplusplus
}
#endif

#endif /* KALAM_H */
