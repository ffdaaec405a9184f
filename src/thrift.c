/*
** thrift.c — the Thrift compact protocol, the encoding of a Parquet file's
** footer and page headers: an encoder into a KalamBuf and a decoder that
** checks every byte it reads against the end of its input.
**
** The encoding, as the Thrift specification describes it:
**
**   struct   its fields, then a STOP byte (0)
**   field    a header byte: the high nibble is the field id minus the
**            previous field id of the same struct (1..15), the low nibble
**            the type; when the difference does not fit, the high nibble
**            is 0 and the id follows as a zigzag varint. A bool field's
**            value is its type (1 true, 2 false), with no bytes after it.
**   i8       one byte; i16, i32, i64 zigzag varints (LEB128, 7 bits a
**            byte, least significant first); double 8 bytes little-endian
**   binary   a varint length, then the bytes (strings are binary)
**   list     a header byte: size in the high nibble (0..14) and element
**            type in the low one, or 0xF followed by the size as a varint;
**            then the elements, each without a field header (a bool
**            element is one byte)
**
** Parquet uses no set or map in what kalam reads, but the decoder skips
** them like any unknown field, so that a file with more fields than kalam
** knows still reads. Every decode error is latched in KalamThriftIn.zErr
** (static text saying what was wrong); after one, every read returns 0 and
** field loops see STOP, so callers check zErr once at the end.
*/
#include "kalam_int.h"
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ encoder */

void kalamThriftOutInit(KalamThriftOut *p, KalamBuf *pBuf){
  memset(p, 0, sizeof(*p));
  p->pBuf = pBuf;
  p->iDepth = 0;       /* the outermost struct is open from the start */
}

static void thriftVarint(KalamBuf *pBuf, sqlite3_uint64 u){
  char a[10];
  int n = 0;
  while( u>=0x80 ){
    a[n++] = (char)(0x80 | (u & 0x7f));
    u >>= 7;
  }
  a[n++] = (char)u;
  kalamBufAppend(pBuf, a, n);
}

static sqlite3_uint64 thriftZigzag(sqlite3_int64 v){
  /* Shift in unsigned arithmetic: a left shift of a negative is undefined. */
  return ((sqlite3_uint64)v << 1) ^ (sqlite3_uint64)(v>>63);
}

/* A field header for field iField of type eType in the open struct. */
static void thriftFieldHeader(KalamThriftOut *p, int iField, int eType){
  int iLast = p->aLast[p->iDepth];
  int iDelta = iField - iLast;
  assert( iField>0 && iField<32768 );
  if( iDelta>0 && iDelta<=15 ){
    kalamBufAppendChar(p->pBuf, (char)((iDelta<<4) | eType));
  }else{
    kalamBufAppendChar(p->pBuf, (char)eType);
    thriftVarint(p->pBuf, thriftZigzag(iField));
  }
  p->aLast[p->iDepth] = (short)iField;
}

void kalamThriftI32(KalamThriftOut *p, int iField, sqlite3_int64 v){
  thriftFieldHeader(p, iField, KALAM_THRIFT_I32);
  thriftVarint(p->pBuf, thriftZigzag(v));
}

void kalamThriftI64(KalamThriftOut *p, int iField, sqlite3_int64 v){
  thriftFieldHeader(p, iField, KALAM_THRIFT_I64);
  thriftVarint(p->pBuf, thriftZigzag(v));
}

void kalamThriftI16(KalamThriftOut *p, int iField, sqlite3_int64 v){
  thriftFieldHeader(p, iField, KALAM_THRIFT_I16);
  thriftVarint(p->pBuf, thriftZigzag(v));
}

void kalamThriftBool(KalamThriftOut *p, int iField, int b){
  thriftFieldHeader(p, iField, b ? KALAM_THRIFT_TRUE : KALAM_THRIFT_FALSE);
}

void kalamThriftBinary(KalamThriftOut *p, int iField, const void *z,
                       sqlite3_int64 n){
  thriftFieldHeader(p, iField, KALAM_THRIFT_BINARY);
  thriftVarint(p->pBuf, (sqlite3_uint64)n);
  kalamBufAppend(p->pBuf, z, n);
}

/* Opens a struct: field iField of the open struct, or, with iField 0, an
** element of a list (elements have no field header). */
void kalamThriftStructBegin(KalamThriftOut *p, int iField){
  if( iField>0 ) thriftFieldHeader(p, iField, KALAM_THRIFT_STRUCT);
  assert( p->iDepth+1 < KALAM_THRIFT_MAX_DEPTH );
  p->iDepth++;
  p->aLast[p->iDepth] = 0;
}

/* Closes the open struct (the outermost one too) with its STOP byte. */
void kalamThriftStructEnd(KalamThriftOut *p){
  kalamBufAppendChar(p->pBuf, 0);
  if( p->iDepth>0 ) p->iDepth--;
}

void kalamThriftListBegin(KalamThriftOut *p, int iField, int eElem,
                          sqlite3_int64 n){
  thriftFieldHeader(p, iField, KALAM_THRIFT_LIST);
  if( n<15 ){
    kalamBufAppendChar(p->pBuf, (char)((n<<4) | eElem));
  }else{
    kalamBufAppendChar(p->pBuf, (char)(0xf0 | eElem));
    thriftVarint(p->pBuf, (sqlite3_uint64)n);
  }
}

void kalamThriftElemInt(KalamThriftOut *p, sqlite3_int64 v){
  thriftVarint(p->pBuf, thriftZigzag(v));
}

void kalamThriftElemBinary(KalamThriftOut *p, const void *z,
                           sqlite3_int64 n){
  thriftVarint(p->pBuf, (sqlite3_uint64)n);
  kalamBufAppend(p->pBuf, z, n);
}

/* ------------------------------------------------------------ decoder */

void kalamThriftInInit(KalamThriftIn *p, const void *a, size_t n){
  memset(p, 0, sizeof(*p));
  p->a = (const unsigned char*)a;
  p->n = n;
}

static void thriftError(KalamThriftIn *p, const char *zErr){
  if( p->zErr==0 ) p->zErr = zErr;
  p->i = p->n;   /* nothing more is read */
}

static sqlite3_uint64 thriftReadVarint(KalamThriftIn *p){
  sqlite3_uint64 u = 0;
  int shift;
  for(shift=0; shift<64; shift+=7){
    unsigned char c;
    if( p->i>=p->n ){
      thriftError(p, "thrift data ends inside a number");
      return 0;
    }
    c = p->a[p->i++];
    if( shift==63 && (c & 0x7e) ){
      thriftError(p, "thrift number does not fit in 64 bits");
      return 0;
    }
    u |= (sqlite3_uint64)(c & 0x7f) << shift;
    if( (c & 0x80)==0 ) return u;
  }
  thriftError(p, "thrift number is longer than 10 bytes");
  return 0;
}

static sqlite3_int64 thriftUnzigzag(sqlite3_uint64 u){
  return (sqlite3_int64)(u >> 1) ^ -(sqlite3_int64)(u & 1);
}

/* Reads the next field header of the open struct. Returns its type and
** sets *piField, or returns KALAM_THRIFT_STOP at the end of the struct
** (closing it) or after an error. */
int kalamThriftField(KalamThriftIn *p, int *piField){
  unsigned char c;
  int eType, iField;
  *piField = 0;
  if( p->zErr ) return KALAM_THRIFT_STOP;
  if( p->i>=p->n ){
    thriftError(p, "thrift data ends inside a struct");
    return KALAM_THRIFT_STOP;
  }
  c = p->a[p->i++];
  if( c==0 ){
    if( p->iDepth>0 ) p->iDepth--;
    return KALAM_THRIFT_STOP;
  }
  eType = c & 0x0f;
  if( eType>KALAM_THRIFT_STRUCT ){
    thriftError(p, "thrift field of an unknown type");
    return KALAM_THRIFT_STOP;
  }
  if( c>>4 ){
    iField = p->aLast[p->iDepth] + (c>>4);
  }else{
    sqlite3_int64 v = thriftUnzigzag(thriftReadVarint(p));
    if( p->zErr ) return KALAM_THRIFT_STOP;
    if( v<=0 || v>32767 ){
      thriftError(p, "thrift field id out of range");
      return KALAM_THRIFT_STOP;
    }
    iField = (int)v;
  }
  if( iField>32767 ){
    thriftError(p, "thrift field id out of range");
    return KALAM_THRIFT_STOP;
  }
  p->aLast[p->iDepth] = (short)iField;
  *piField = iField;
  return eType;
}

/* The value of an integer field or element of type eType. */
sqlite3_int64 kalamThriftReadInt(KalamThriftIn *p, int eType){
  if( p->zErr ) return 0;
  switch( eType ){
    case KALAM_THRIFT_I8:
      if( p->i>=p->n ){
        thriftError(p, "thrift data ends inside a number");
        return 0;
      }
      return (signed char)p->a[p->i++];
    case KALAM_THRIFT_I16:
    case KALAM_THRIFT_I32:
    case KALAM_THRIFT_I64: {
      sqlite3_int64 v = thriftUnzigzag(thriftReadVarint(p));
      if( (eType==KALAM_THRIFT_I16 && (v<-32768 || v>32767))
       || (eType==KALAM_THRIFT_I32 && (v<INT32_MIN || v>INT32_MAX)) ){
        thriftError(p, "thrift number out of its type's range");
        return 0;
      }
      return v;
    }
    default:
      thriftError(p, "thrift field is not the integer expected");
      return 0;
  }
}

/* The value of a bool field of type eType (the value is the type). */
int kalamThriftReadBool(KalamThriftIn *p, int eType){
  if( p->zErr ) return 0;
  if( eType==KALAM_THRIFT_TRUE ) return 1;
  if( eType==KALAM_THRIFT_FALSE ) return 0;
  thriftError(p, "thrift field is not the bool expected");
  return 0;
}

/* Points *pa at the bytes of a binary field or element of type eType,
** inside the input, and sets *pn to their number. */
int kalamThriftReadBinary(KalamThriftIn *p, int eType,
                          const unsigned char **pa, sqlite3_int64 *pn){
  sqlite3_uint64 n;
  *pa = 0;
  *pn = 0;
  if( p->zErr ) return 0;
  if( eType!=KALAM_THRIFT_BINARY ){
    thriftError(p, "thrift field is not the binary expected");
    return 0;
  }
  n = thriftReadVarint(p);
  if( p->zErr ) return 0;
  if( n > p->n - p->i ){
    thriftError(p, "thrift binary runs past the end of its data");
    return 0;
  }
  *pa = p->a + p->i;
  *pn = (sqlite3_int64)n;
  p->i += (size_t)n;
  return 1;
}

/* Reads the header of a list field of type eType: its element type and
** size. Every element takes at least one byte, so a size larger than the
** bytes left is an error, and callers may allocate by it. */
int kalamThriftReadList(KalamThriftIn *p, int eType, int *peElem,
                        sqlite3_int64 *pnElem){
  unsigned char c;
  sqlite3_uint64 n;
  *peElem = 0;
  *pnElem = 0;
  if( p->zErr ) return 0;
  if( eType!=KALAM_THRIFT_LIST && eType!=KALAM_THRIFT_SET ){
    thriftError(p, "thrift field is not the list expected");
    return 0;
  }
  if( p->i>=p->n ){
    thriftError(p, "thrift data ends inside a list header");
    return 0;
  }
  c = p->a[p->i++];
  n = c>>4;
  if( n==15 ){
    n = thriftReadVarint(p);
    if( p->zErr ) return 0;
  }
  if( (c & 0x0f)==KALAM_THRIFT_STOP || (c & 0x0f)>KALAM_THRIFT_STRUCT ){
    thriftError(p, "thrift list of an unknown element type");
    return 0;
  }
  if( n > p->n - p->i ){
    thriftError(p, "thrift list is longer than its data");
    return 0;
  }
  *peElem = c & 0x0f;
  *pnElem = (sqlite3_int64)n;
  return 1;
}

/* Opens a struct whose field header (or list header) was just read. */
int kalamThriftReadStruct(KalamThriftIn *p, int eType){
  if( p->zErr ) return 0;
  if( eType!=KALAM_THRIFT_STRUCT ){
    thriftError(p, "thrift field is not the struct expected");
    return 0;
  }
  if( p->iDepth+1>=KALAM_THRIFT_MAX_DEPTH ){
    thriftError(p, "thrift structs nested too deeply");
    return 0;
  }
  p->iDepth++;
  p->aLast[p->iDepth] = 0;
  return 1;
}

/* Skips one value of type eType: a field's (bElem 0) or a list element's
** (bElem 1, where a bool takes a byte). iDepth counts the lists and maps
** it is inside, which the struct depth limit does not see: each level
** costs an input byte, so without a limit a long footer could exhaust the
** stack. */
static void thriftSkip(KalamThriftIn *p, int eType, int bElem, int iDepth){
  if( iDepth>=KALAM_THRIFT_MAX_DEPTH ){
    thriftError(p, "thrift lists nested too deeply");
    return;
  }
  switch( eType ){
    case KALAM_THRIFT_TRUE:
    case KALAM_THRIFT_FALSE:
      if( bElem ){
        if( p->i>=p->n ) thriftError(p, "thrift data ends inside a list");
        else p->i++;
      }
      break;
    case KALAM_THRIFT_I8:
    case KALAM_THRIFT_I16:
    case KALAM_THRIFT_I32:
    case KALAM_THRIFT_I64:
      (void)kalamThriftReadInt(p, eType);
      break;
    case KALAM_THRIFT_DOUBLE:
      if( p->n - p->i < 8 ) thriftError(p, "thrift data ends inside a double");
      else p->i += 8;
      break;
    case KALAM_THRIFT_BINARY: {
      const unsigned char *a;
      sqlite3_int64 n;
      (void)kalamThriftReadBinary(p, eType, &a, &n);
      break;
    }
    case KALAM_THRIFT_LIST:
    case KALAM_THRIFT_SET: {
      int eElem;
      sqlite3_int64 n, i;
      if( !kalamThriftReadList(p, eType, &eElem, &n) ) break;
      for(i=0; i<n && p->zErr==0; i++) thriftSkip(p, eElem, 1, iDepth+1);
      break;
    }
    case KALAM_THRIFT_MAP: {
      sqlite3_uint64 n, i;
      int eKey, eVal;
      n = thriftReadVarint(p);
      if( p->zErr || n==0 ) break;
      if( p->i>=p->n || n > p->n - p->i ){
        thriftError(p, "thrift map is longer than its data");
        break;
      }
      eKey = p->a[p->i] >> 4;
      eVal = p->a[p->i] & 0x0f;
      p->i++;
      if( eKey==0 || eKey>KALAM_THRIFT_STRUCT
       || eVal==0 || eVal>KALAM_THRIFT_STRUCT ){
        thriftError(p, "thrift map of an unknown type");
        break;
      }
      for(i=0; i<n && p->zErr==0; i++){
        thriftSkip(p, eKey, 1, iDepth+1);
        thriftSkip(p, eVal, 1, iDepth+1);
      }
      break;
    }
    case KALAM_THRIFT_STRUCT: {
      int iField, eField;
      if( !kalamThriftReadStruct(p, eType) ) break;
      while( (eField = kalamThriftField(p, &iField))!=KALAM_THRIFT_STOP ){
        thriftSkip(p, eField, 0, iDepth+1);
      }
      break;
    }
    default:
      thriftError(p, "thrift value of an unknown type");
      break;
  }
}

/* Skips the value of a field of type eType that the caller does not use. */
void kalamThriftSkip(KalamThriftIn *p, int eType){
  if( p->zErr==0 ) thriftSkip(p, eType, 0, 0);
}

/* Skips one list element of type eElem. */
void kalamThriftSkipElem(KalamThriftIn *p, int eElem){
  if( p->zErr==0 ) thriftSkip(p, eElem, 1, 0);
}
