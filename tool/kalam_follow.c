/*
** kalam_follow.c — an example of the subscription API (include/kalam.h):
** a chat room whose messages a writer thread posts, edits and deletes,
** while the main thread's subscription prints each committed change.
**
**   make build/kalam_follow && build/kalam_follow chat.db
**
** Callbacks run on the committing thread (here the writer's), inside its
** COMMIT: this one only formats a line, and does not touch the writer's
** connection.
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include "kalam.h"

static const char *azOp[] = {"?", "insert", "update", "delete", "hard delete"};

static void onChange(void *pArg, const kalam_change *p){
  pthread_mutex_t *pMutex = (pthread_mutex_t*)pArg;
  pthread_mutex_lock(pMutex);
  printf("%s %s rowid=%lld new=%s old=%s\n", p->zTable, azOp[p->op],
         (long long)p->rowid, p->zNew ? p->zNew : "-",
         p->zOld ? p->zOld : "-");
  fflush(stdout);
  pthread_mutex_unlock(pMutex);
}

/* The writer: its own connection, as a request handler would have. */
static void *writer(void *pArg){
  sqlite3 *db = 0;
  int rc = sqlite3_open((const char*)pArg, &db);
  if( rc==SQLITE_OK ){
    rc = sqlite3_exec(db,
        "INSERT INTO chat(id, who, msg) VALUES(1, 'alice', 'hi');"
        "INSERT INTO chat(id, who, msg) VALUES(2, 'bob', 'hello');"
        "BEGIN;"
        "UPDATE chat SET msg = 'hi all' WHERE id = 1;"
        "INSERT INTO chat(id, who, msg) VALUES(3, 'bob', 'typo');"
        "COMMIT;"
        "DELETE FROM chat WHERE id = 3;"
        "BEGIN; INSERT INTO chat(id, who, msg) VALUES(4, 'eve', 'never');"
        "ROLLBACK;", 0, 0, 0);
  }
  if( rc ) fprintf(stderr, "writer: %s\n", sqlite3_errmsg(db));
  sqlite3_close(db);
  return 0;
}

int main(int argc, char **argv){
  const char *zPath = argc>1 ? argv[1] : "chat.db";
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  sqlite3 *db = 0;
  sqlite3_int64 iSub = 0;
  pthread_t t;
  int rc;

  sqlite3_auto_extension((void(*)(void))sqlite3_kalam_init);
  rc = sqlite3_open(zPath, &db);
  if( rc==SQLITE_OK ){
    rc = sqlite3_exec(db, "CREATE VIRTUAL TABLE IF NOT EXISTS chat USING "
        "kalam_shared(id INTEGER PRIMARY KEY, who TEXT, msg TEXT)", 0, 0, 0);
  }
  if( rc==SQLITE_OK ) rc = kalam_subscribe(db, "chat", onChange, &mutex, &iSub);
  if( rc ){
    fprintf(stderr, "kalam_follow: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }
  pthread_create(&t, 0, writer, (void*)zPath);
  pthread_join(t, 0);
  kalam_unsubscribe(db, iSub);
  sqlite3_close(db);
  return 0;
}
