/*
** snowflake.c — 64-bit snowflake ids: row ids, _seq values and
** snowflake_id().
**
** Layout: 41 bits of milliseconds since KALAM_EPOCH_MS (2020-01-01, good
** until 2089), 10 bits of node (0: one process owns a store at a time, so
** ids never need telling apart by node), 12 bits of sequence within the
** millisecond. The generator is process-wide and lock-free; ids it hands
** out strictly increase, even if the clock steps back
** (then the last millisecond is reused and, when its sequence is spent,
** the next one borrowed).
*/
#include "kalam_int.h"
#include <time.h>
#include <sys/time.h>
#include <stdatomic.h>

SQLITE_EXTENSION_INIT3

#define SNOW_SEQ_BITS  12
#define SNOW_NODE_BITS 10
#define SNOW_TIME_SHIFT (SNOW_SEQ_BITS + SNOW_NODE_BITS)

/* The last id handed out, process-wide. */
static _Atomic sqlite3_int64 snowLast = 0;

sqlite3_int64 kalamNowMs(void){
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (sqlite3_int64)ts.tv_sec*1000 + ts.tv_nsec/1000000;
}

/* The next id is the clock's millisecond with sequence 0, or, if that is
** not past the last id (the same millisecond, or a clock that stepped
** back), the last id plus one, its sequence carried into the
** millisecond when spent. One compare-and-swap instead of a lock: every
** inserted row draws an id. */
sqlite3_int64 kalamSnowflakeNext(void){
  const sqlite3_int64 mNode = ((sqlite3_int64)1 << SNOW_NODE_BITS) - 1;
  sqlite3_int64 now = (kalamNowMs() - KALAM_EPOCH_MS) << SNOW_TIME_SHIFT;
  sqlite3_int64 last = atomic_load(&snowLast), id;
  do{
    id = last + 1;
    if( (id >> SNOW_SEQ_BITS) & mNode ){
      id = ((last >> SNOW_TIME_SHIFT) + 1) << SNOW_TIME_SHIFT;
    }
    if( now > id ) id = now;
  }while( !atomic_compare_exchange_weak(&snowLast, &last, id) );
  return id;
}

sqlite3_int64 kalamSnowflakeMin(sqlite3_int64 ms){
  ms -= KALAM_EPOCH_MS;
  if( ms<0 ) ms = 0;
  /* Past the 41 bits of time (2089): past every id. */
  if( ms >= ((sqlite3_int64)1 << (63 - SNOW_TIME_SHIFT)) ) return INT64_MAX;
  return ms << SNOW_TIME_SHIFT;
}

sqlite3_int64 kalamSnowflakeMs(sqlite3_int64 id){
  return (id >> SNOW_TIME_SHIFT) + KALAM_EPOCH_MS;
}
