/*
** kalam_store.c — look at and poke the RocksDB store of a kalam database.
**
**   kalam_store DIR list-cf               column families, one a line
**   kalam_store DIR dump CF               every entry: HEXKEY HEXVALUE
**   kalam_store DIR get CF HEXKEY         the value's raw bytes (exit 1 if
**                                         the key is absent)
**   kalam_store DIR put CF HEXKEY HEXVALUE
**   kalam_store DIR delete CF HEXKEY
**   kalam_store DIR load CF < FILE        writes every "HEXKEY HEXVALUE"
**                                         line of FILE (dump's format) in
**                                         one atomic batch
**   kalam_store DIR create-cf CF
**   kalam_store DIR drop-cf CF
**
** DIR is a store directory (test.db-kalam for test.db). It exists for the
** corrupt-store tests (test/kalam_corrupt.test), which write bytes kalam
** itself would never write and then check that kalam refuses them with a
** clear error instead of crashing, and for a person debugging a store.
** Keys and values are hex on the command line so that any byte, NUL
** included, can be written; an empty value is "" (zero hex digits).
**
** RocksDB lets one process open a directory at a time: close every kalam
** connection on the database first. The tool never creates a store, and
** writes synced, so what it wrote is there when kalam opens the store next.
** Exit status: 0 done, 1 key not found (get), 2 usage or store error.
*/
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything one run holds, so that one cleanup path can free it. */
typedef struct StoreTool StoreTool;
struct StoreTool {
  rocksdb_options_t *pOpts;
  rocksdb_t *db;
  char **azCf;                           /* column family names */
  size_t nCf;
  rocksdb_column_family_handle_t **aCf;  /* handles, parallel to azCf */
  rocksdb_writeoptions_t *pWo;
  rocksdb_readoptions_t *pRo;
};

static void toolUsage(void){
  fprintf(stderr,
    "usage: kalam_store DIR list-cf\n"
    "       kalam_store DIR dump CF\n"
    "       kalam_store DIR get CF HEXKEY\n"
    "       kalam_store DIR put CF HEXKEY HEXVALUE\n"
    "       kalam_store DIR delete CF HEXKEY\n"
    "       kalam_store DIR load CF < FILE\n"
    "       kalam_store DIR create-cf CF\n"
    "       kalam_store DIR drop-cf CF\n");
}

/* The value of one hex digit, or -1. */
static int toolHexDigit(char c){
  if( c>='0' && c<='9' ) return c - '0';
  if( c>='a' && c<='f' ) return c - 'a' + 10;
  if( c>='A' && c<='F' ) return c - 'A' + 10;
  return -1;
}

/* Decodes hex text into a malloc'd buffer; *pn gets its length. Returns
** NULL (and says why) for text that is not an even number of hex digits. */
static unsigned char *toolHexDecode(const char *zHex, size_t *pn){
  size_t n = strlen(zHex), i;
  unsigned char *a;
  if( n%2 ){
    fprintf(stderr, "kalam_store: odd number of hex digits in %s\n", zHex);
    return 0;
  }
  a = malloc(n/2 + 1);  /* +1: malloc(0) may return NULL */
  if( a==0 ){
    fprintf(stderr, "kalam_store: out of memory\n");
    return 0;
  }
  for(i=0; i<n; i+=2){
    int hi = toolHexDigit(zHex[i]), lo = toolHexDigit(zHex[i+1]);
    if( hi<0 || lo<0 ){
      fprintf(stderr, "kalam_store: not hex: %s\n", zHex);
      free(a);
      return 0;
    }
    a[i/2] = (unsigned char)(hi*16 + lo);
  }
  *pn = n/2;
  return a;
}

static void toolHexPrint(const char *a, size_t n){
  size_t i;
  for(i=0; i<n; i++) printf("%02x", (unsigned char)a[i]);
}

/* Reports a RocksDB error (and frees it). Returns 2, the exit status. */
static int toolRocksError(const char *zWhat, char *zErr){
  fprintf(stderr, "kalam_store: %s: %s\n", zWhat, zErr ? zErr : "failed");
  rocksdb_free(zErr);
  return 2;
}

/* Opens DIR with every column family it has. Returns 0 or 2. */
static int toolOpen(StoreTool *p, const char *zDir){
  char *zErr = 0;
  const rocksdb_options_t **aOpts;
  size_t i;
  p->pOpts = rocksdb_options_create();
  p->pWo = rocksdb_writeoptions_create();
  p->pRo = rocksdb_readoptions_create();
  if( p->pOpts==0 || p->pWo==0 || p->pRo==0 ){
    fprintf(stderr, "kalam_store: out of memory\n");
    return 2;
  }
  rocksdb_options_set_create_if_missing(p->pOpts, 0);
  rocksdb_writeoptions_set_sync(p->pWo, 1);
  p->azCf = rocksdb_list_column_families(p->pOpts, zDir, &p->nCf, &zErr);
  if( zErr ){
    /* The array is allocated even when listing fails. */
    rocksdb_list_column_families_destroy(p->azCf, p->nCf);
    p->azCf = 0;
    p->nCf = 0;
    return toolRocksError("cannot list the column families of the store",
                          zErr);
  }
  p->aCf = calloc(p->nCf + 1, sizeof(*p->aCf));
  aOpts = calloc(p->nCf + 1, sizeof(*aOpts));
  if( p->aCf==0 || aOpts==0 ){
    free(aOpts);
    fprintf(stderr, "kalam_store: out of memory\n");
    return 2;
  }
  for(i=0; i<p->nCf; i++) aOpts[i] = p->pOpts;
  p->db = rocksdb_open_column_families(p->pOpts, zDir, (int)p->nCf,
      (const char*const*)p->azCf, aOpts, p->aCf, &zErr);
  free(aOpts);
  if( zErr ){
    p->db = 0;
    return toolRocksError("cannot open the store (is a kalam connection "
                          "still open on it?)", zErr);
  }
  return 0;
}

/* The handle of column family zName, or NULL after saying it is absent. */
static rocksdb_column_family_handle_t *toolCf(StoreTool *p, const char *zName){
  size_t i;
  for(i=0; i<p->nCf; i++){
    if( p->aCf[i] && strcmp(p->azCf[i], zName)==0 ) return p->aCf[i];
  }
  fprintf(stderr, "kalam_store: no column family %s in the store\n", zName);
  return 0;
}

static void toolClose(StoreTool *p){
  size_t i;
  if( p->aCf ){
    for(i=0; i<p->nCf; i++){
      if( p->aCf[i] ) rocksdb_column_family_handle_destroy(p->aCf[i]);
    }
  }
  if( p->db ) rocksdb_close(p->db);
  if( p->azCf ) rocksdb_list_column_families_destroy(p->azCf, p->nCf);
  free(p->aCf);
  if( p->pWo ) rocksdb_writeoptions_destroy(p->pWo);
  if( p->pRo ) rocksdb_readoptions_destroy(p->pRo);
  if( p->pOpts ) rocksdb_options_destroy(p->pOpts);
}

static int toolDump(StoreTool *p, rocksdb_column_family_handle_t *h){
  rocksdb_iterator_t *pIter = rocksdb_create_iterator_cf(p->db, p->pRo, h);
  char *zErr = 0;
  if( pIter==0 ){
    fprintf(stderr, "kalam_store: cannot create an iterator\n");
    return 2;
  }
  for(rocksdb_iter_seek_to_first(pIter); rocksdb_iter_valid(pIter);
      rocksdb_iter_next(pIter)){
    size_t nKey, nVal;
    const char *aKey = rocksdb_iter_key(pIter, &nKey);
    const char *aVal = rocksdb_iter_value(pIter, &nVal);
    toolHexPrint(aKey, nKey);
    putchar(' ');
    toolHexPrint(aVal, nVal);
    putchar('\n');
  }
  /* A scan that stopped on an error is not the whole table. */
  rocksdb_iter_get_error(pIter, &zErr);
  rocksdb_iter_destroy(pIter);
  if( zErr ) return toolRocksError("scan failed", zErr);
  return 0;
}

/* Reads "HEXKEY HEXVALUE" lines from stdin into one write batch, so that
** a test can plant hundreds of entries with one open of the store. */
static int toolLoad(StoreTool *p, rocksdb_column_family_handle_t *h){
  rocksdb_writebatch_t *pBatch = rocksdb_writebatch_create();
  char *zLine = 0, *zErr = 0;
  size_t nLine = 0;
  long iLine = 0;
  int rc = 0;
  if( pBatch==0 ){
    fprintf(stderr, "kalam_store: out of memory\n");
    return 2;
  }
  while( rc==0 && getline(&zLine, &nLine, stdin)>=0 ){
    char *zKey = zLine, *zVal, *zEnd;
    unsigned char *aKey = 0, *aVal = 0;
    size_t nKey = 0, nVal = 0;
    iLine++;
    zEnd = zLine + strlen(zLine);
    while( zEnd>zLine && (zEnd[-1]=='\n' || zEnd[-1]=='\r') ) *--zEnd = 0;
    if( zLine[0]==0 ) continue;
    zVal = strchr(zLine, ' ');
    if( zVal ) *zVal++ = 0; else zVal = zEnd;
    aKey = toolHexDecode(zKey, &nKey);
    aVal = aKey ? toolHexDecode(zVal, &nVal) : 0;
    if( aVal==0 ){
      fprintf(stderr, "kalam_store: bad line %ld of the input\n", iLine);
      rc = 2;
    }else{
      rocksdb_writebatch_put_cf(pBatch, h, (const char*)aKey, nKey,
                                (const char*)aVal, nVal);
    }
    free(aKey);
    free(aVal);
  }
  free(zLine);
  if( rc==0 && ferror(stdin) ){
    fprintf(stderr, "kalam_store: cannot read the input\n");
    rc = 2;
  }
  if( rc==0 ){
    rocksdb_write(p->db, p->pWo, pBatch, &zErr);
    if( zErr ) rc = toolRocksError("cannot write", zErr);
  }
  rocksdb_writebatch_destroy(pBatch);
  return rc;
}

/* Runs the command of argv[2..]; returns the exit status. */
static int toolRun(StoreTool *p, int argc, char **argv){
  const char *zCmd = argv[2];
  rocksdb_column_family_handle_t *h = 0;
  unsigned char *aKey = 0, *aVal = 0;
  size_t nKey = 0, nVal = 0, i;
  char *zErr = 0;
  int rc = 0;

  if( strcmp(zCmd, "list-cf")==0 && argc==3 ){
    for(i=0; i<p->nCf; i++) printf("%s\n", p->azCf[i]);
    return 0;
  }
  if( strcmp(zCmd, "create-cf")==0 && argc==4 ){
    rocksdb_column_family_handle_t *hNew;
    hNew = rocksdb_create_column_family(p->db, p->pOpts, argv[3], &zErr);
    if( zErr ) return toolRocksError("cannot create the column family", zErr);
    rocksdb_column_family_handle_destroy(hNew);
    return 0;
  }
  if( argc<4 ){ toolUsage(); return 2; }
  h = toolCf(p, argv[3]);
  if( h==0 ) return 2;

  if( strcmp(zCmd, "dump")==0 && argc==4 ){
    return toolDump(p, h);
  }else if( strcmp(zCmd, "load")==0 && argc==4 ){
    return toolLoad(p, h);
  }else if( strcmp(zCmd, "drop-cf")==0 && argc==4 ){
    rocksdb_drop_column_family(p->db, h, &zErr);
    if( zErr ) return toolRocksError("cannot drop the column family", zErr);
    return 0;
  }else if( strcmp(zCmd, "get")==0 && argc==5 ){
    char *zVal;
    size_t nGot = 0;
    if( (aKey = toolHexDecode(argv[4], &nKey))==0 ) return 2;
    zVal = rocksdb_get_cf(p->db, p->pRo, h, (const char*)aKey, nKey, &nGot,
                          &zErr);
    if( zErr ){
      rc = toolRocksError("cannot read", zErr);
    }else if( zVal==0 ){
      rc = 1;
    }else{
      if( fwrite(zVal, 1, nGot, stdout)!=nGot ){
        fprintf(stderr, "kalam_store: cannot write to stdout\n");
        rc = 2;
      }
      rocksdb_free(zVal);
    }
  }else if( strcmp(zCmd, "put")==0 && argc==6 ){
    if( (aKey = toolHexDecode(argv[4], &nKey))==0
     || (aVal = toolHexDecode(argv[5], &nVal))==0 ){
      rc = 2;
    }else{
      rocksdb_put_cf(p->db, p->pWo, h, (const char*)aKey, nKey,
                     (const char*)aVal, nVal, &zErr);
      if( zErr ) rc = toolRocksError("cannot write", zErr);
    }
  }else if( strcmp(zCmd, "delete")==0 && argc==5 ){
    if( (aKey = toolHexDecode(argv[4], &nKey))==0 ){
      rc = 2;
    }else{
      rocksdb_delete_cf(p->db, p->pWo, h, (const char*)aKey, nKey, &zErr);
      if( zErr ) rc = toolRocksError("cannot delete", zErr);
    }
  }else{
    toolUsage();
    rc = 2;
  }
  free(aKey);
  free(aVal);
  return rc;
}

int main(int argc, char **argv){
  StoreTool t;
  int rc;
  if( argc<3 ){
    toolUsage();
    return 2;
  }
  memset(&t, 0, sizeof(t));
  rc = toolOpen(&t, argv[1]);
  if( rc==0 ) rc = toolRun(&t, argc, argv);
  toolClose(&t);
  if( fflush(stdout)!=0 ){
    fprintf(stderr, "kalam_store: cannot write to stdout\n");
    if( rc==0 ) rc = 2;
  }
  return rc;
}
