/*
** buf.h — the interface of buf.c, a growable byte buffer, with its inline
** appends and the byte order of 8-byte integers; included by kalam_int.h.
** The row codec appends a dozen small pieces per row written, so the
** common case of each append is inline.
*/
#ifndef KALAM_BUF_H
#define KALAM_BUF_H

/************************************************************************
** Interface to buf.c: a growable byte buffer and number formatting.
*/

/* Memory comes from sqlite3_realloc64; the owner frees it with
** kalamBufFree(). A failed allocation sets oom and later appends do
** nothing, so callers check once at the end. */
struct KalamBuf {
  char *z;
  sqlite3_int64 n;
  sqlite3_int64 nAlloc;
  int oom;
};
void kalamBufInit(KalamBuf *p);
void kalamBufFree(KalamBuf *p);
void kalamBufAppendSlow(KalamBuf *p, const void *z, sqlite3_int64 n);
void kalamBufAppendStr(KalamBuf *p, const char *z);
void kalamBufAppendCharSlow(KalamBuf *p, char c);
/* One byte: inline, because the row codec appends many. */
static inline void kalamBufAppendChar(KalamBuf *p, char c){
  if( p->n + 1 < p->nAlloc ){
    p->z[p->n++] = c;
    p->z[p->n] = 0;
  }else{
    kalamBufAppendCharSlow(p, c);
  }
}
/* Bytes: inline while they fit, for the same reason. Short appends (a
** key, a number, punctuation) copy with at most two fixed-size moves
** instead of calling memcpy. */
static inline void kalamBufAppend(KalamBuf *p, const void *z,
                                  sqlite3_int64 n){
  const char *zIn = (const char*)z;
  char *zOut;
  if( n<=0 || n>16 || p->n + n >= p->nAlloc ){
    kalamBufAppendSlow(p, z, n);   /* also an empty buffer: z may be NULL */
    return;
  }
  zOut = p->z + p->n;
  if( n>=8 ){
    uint64_t x0, x1;
    memcpy(&x0, zIn, 8);
    memcpy(&x1, zIn + n - 8, 8);
    memcpy(zOut, &x0, 8);
    memcpy(zOut + n - 8, &x1, 8);
  }else if( n>=4 ){
    uint32_t x0, x1;
    memcpy(&x0, zIn, 4);
    memcpy(&x1, zIn + n - 4, 4);
    memcpy(zOut, &x0, 4);
    memcpy(zOut + n - 4, &x1, 4);
  }else{
    zOut[0] = zIn[0];
    zOut[n/2] = zIn[n/2];
    zOut[n-1] = zIn[n-1];
  }
  p->n += n;
  p->z[p->n] = 0;
}
void kalamBufAppendInt(KalamBuf *p, sqlite3_int64 v);
void kalamBufAppendDouble(KalamBuf *p, double v);
void kalamBufAppendJsonString(KalamBuf *p, const char *z, sqlite3_int64 n);

/* 8-byte big-endian integers, as keys, prepared records and segment
** headers hold them: byte order is then numeric order. One byte swap
** where the compiler has one, since every scanned row decodes its key. */
static inline void kalamPut64(unsigned char *a, sqlite3_uint64 u){
#if defined(__GNUC__) && defined(__BYTE_ORDER__) \
    && __BYTE_ORDER__==__ORDER_LITTLE_ENDIAN__
  u = __builtin_bswap64(u);
  memcpy(a, &u, 8);
#else
  int i;
  for(i=7; i>=0; i--){
    a[i] = (unsigned char)(u & 0xff);
    u >>= 8;
  }
#endif
}
static inline sqlite3_uint64 kalamGet64(const unsigned char *a){
  sqlite3_uint64 u;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) \
    && __BYTE_ORDER__==__ORDER_LITTLE_ENDIAN__
  memcpy(&u, a, 8);
  u = __builtin_bswap64(u);
#else
  int i;
  u = 0;
  for(i=0; i<8; i++) u = (u<<8) | a[i];
#endif
  return u;
}

#endif /* KALAM_BUF_H */
