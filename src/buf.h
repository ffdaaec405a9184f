/*
** buf.h — the interface of buf.c, a growable byte buffer, with its inline
** appends; included by kalam_int.h. The row codec appends a dozen small
** pieces per row written, so the common case of each append is inline.
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

#endif /* KALAM_BUF_H */
