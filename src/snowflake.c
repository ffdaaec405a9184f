/*
** snowflake.c — 64-bit snowflake ids: row ids, _seq values and
** snowflake_id().
**
** Layout: 41 bits of milliseconds since KALAM_EPOCH_MS (2020-01-01, good
** until 2089), 10 bits of node (0: one process owns a store at a time, so
** ids never need telling apart by node), 12 bits of sequence within the
** millisecond. The generator is process-wide and guarded by a static
** mutex; ids it hands out strictly increase, even if the clock steps back
** (then the last millisecond is reused and, when its sequence is spent,
** the next one borrowed).
*/
#include "kalam_int.h"
#include <time.h>
#include <sys/time.h>

SQLITE_EXTENSION_INIT3

#define SNOW_SEQ_BITS  12
#define SNOW_NODE_BITS 10
#define SNOW_TIME_SHIFT (SNOW_SEQ_BITS + SNOW_NODE_BITS)

static sqlite3_int64 snowLastMs = 0;
static sqlite3_int64 snowSeq = 0;

sqlite3_int64 kalamNowMs(void){
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (sqlite3_int64)ts.tv_sec*1000 + ts.tv_nsec/1000000;
}

sqlite3_int64 kalamSnowflakeNext(void){
  sqlite3_mutex *m = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  sqlite3_int64 ms, id;
  sqlite3_mutex_enter(m);
  ms = kalamNowMs() - KALAM_EPOCH_MS;
  if( ms<=snowLastMs ){
    ms = snowLastMs;
    snowSeq++;
    if( snowSeq >= (1<<SNOW_SEQ_BITS) ){
      ms++;
      snowSeq = 0;
    }
  }else{
    snowSeq = 0;
  }
  snowLastMs = ms;
  id = (ms << SNOW_TIME_SHIFT) | snowSeq;
  sqlite3_mutex_leave(m);
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
