/*
** column.c — one column definition of a CREATE VIRTUAL TABLE argument
** list, or one index item, and the tokenizer that reads them:
**
**   name [TYPE [(n[,m])]] [NOT NULL | NULL | DEFAULT literal |
**                          PRIMARY KEY [ASC|DESC] | UNIQUE]...
**   UNIQUE(column [ASC|DESC], ...)     INDEX(column [ASC|DESC], ...)
**
** kalamColumnParse fills one KalamColumn: its name (quotes removed), its
** type (aliases folded in, the size kept as written), its constraints,
** and its DEFAULT literal read as SQLite would read it.
** kalamColumnIndexItem reads an index item into a KalamIndex; ASC and DESC
** are accepted and change nothing, because kalam reads an index in both
** directions. schema.c drives the whole argument list and checks what
** concerns more than one definition.
*/
#include "kalam_int.h"
#include <string.h>
#include <ctype.h>
#include <stdlib.h>

SQLITE_EXTENSION_INIT3

/* Declared type names and aliases (upper case, words single-spaced).
** DECIMAL and NUMERIC become REAL: kalam has no decimal type and REAL is the
** nearest that keeps fractions. */
static const struct { const char *zName; int eType; } aTypeName[] = {
  {"TEXT", KALAM_TYPE_TEXT}, {"VARCHAR", KALAM_TYPE_TEXT},
  {"STRING", KALAM_TYPE_TEXT}, {"CHAR", KALAM_TYPE_TEXT},
  {"CHARACTER", KALAM_TYPE_TEXT}, {"NVARCHAR", KALAM_TYPE_TEXT},
  {"NCHAR", KALAM_TYPE_TEXT}, {"CLOB", KALAM_TYPE_TEXT},
  {"VARYING CHARACTER", KALAM_TYPE_TEXT},
  {"NATIVE CHARACTER", KALAM_TYPE_TEXT},
  {"INTEGER", KALAM_TYPE_INTEGER}, {"INT", KALAM_TYPE_INTEGER},
  {"BIGINT", KALAM_TYPE_INTEGER}, {"SMALLINT", KALAM_TYPE_INTEGER},
  {"TINYINT", KALAM_TYPE_INTEGER}, {"MEDIUMINT", KALAM_TYPE_INTEGER},
  {"INT2", KALAM_TYPE_INTEGER}, {"INT4", KALAM_TYPE_INTEGER},
  {"INT8", KALAM_TYPE_INTEGER}, {"INT32", KALAM_TYPE_INTEGER},
  {"INT64", KALAM_TYPE_INTEGER}, {"UNSIGNED BIG INT", KALAM_TYPE_INTEGER},
  {"REAL", KALAM_TYPE_REAL}, {"DOUBLE", KALAM_TYPE_REAL},
  {"DOUBLE PRECISION", KALAM_TYPE_REAL}, {"FLOAT", KALAM_TYPE_REAL},
  {"FLOAT64", KALAM_TYPE_REAL}, {"DECIMAL", KALAM_TYPE_REAL},
  {"NUMERIC", KALAM_TYPE_REAL},
  {"BOOLEAN", KALAM_TYPE_BOOLEAN}, {"BOOL", KALAM_TYPE_BOOLEAN},
  {"TIMESTAMP", KALAM_TYPE_TIMESTAMP}, {"DATETIME", KALAM_TYPE_TIMESTAMP},
  {"JSON", KALAM_TYPE_JSON},
  {"BLOB", KALAM_TYPE_BLOB}, {"BYTES", KALAM_TYPE_BLOB},
  {"ANY", KALAM_TYPE_ANY},
};

/* ------------------------------------------------------------ tokenizer */

#define TK_END    0
#define TK_WORD   1   /* bare identifier or keyword */
#define TK_QUOTED 2   /* "x", [x] or `x`: an identifier */
#define TK_STRING 3   /* 'x' */
#define TK_NUMBER 4
#define TK_PUNCT  5   /* one character: ( ) , + - = and anything else */

typedef struct SchemaToken SchemaToken;
struct SchemaToken {
  int eType;
  const char *z;   /* start in the input */
  int n;           /* length in the input, quotes included */
};

typedef struct SchemaLexer SchemaLexer;
struct SchemaLexer {
  const char *z;
  int i;
};

/* Reads the next token. A quote with no closing quote makes a TK_PUNCT of
** the rest of the input, which every caller refuses. */
static SchemaToken schemaNext(SchemaLexer *p){
  SchemaToken t;
  const char *z = p->z;
  int i = p->i;
  while( z[i] && isspace((unsigned char)z[i]) ) i++;
  t.z = z + i;
  t.n = 0;
  if( z[i]==0 ){
    t.eType = TK_END;
  }else if( isalpha((unsigned char)z[i]) || z[i]=='_'
         || (unsigned char)z[i]>=0x80 ){
    int j = i;
    while( isalnum((unsigned char)z[j]) || z[j]=='_' || z[j]=='$'
        || (unsigned char)z[j]>=0x80 ) j++;
    t.eType = TK_WORD;
    t.n = j - i;
  }else if( isdigit((unsigned char)z[i])
         || (z[i]=='.' && isdigit((unsigned char)z[i+1])) ){
    int j = i;
    while( isalnum((unsigned char)z[j]) || z[j]=='.'
        || ((z[j]=='+' || z[j]=='-') && (z[j-1]=='e' || z[j-1]=='E')) ) j++;
    t.eType = TK_NUMBER;
    t.n = j - i;
  }else if( z[i]=='\'' || z[i]=='"' || z[i]=='`' || z[i]=='[' ){
    char cEnd = z[i]=='[' ? ']' : z[i];
    int j = i + 1;
    for(;;){
      if( z[j]==0 ){ j = -1; break; }
      if( z[j]==cEnd ){
        if( cEnd!=']' && z[j+1]==cEnd ){ j += 2; continue; }
        break;
      }
      j++;
    }
    if( j<0 ){
      t.eType = TK_PUNCT;
      t.n = (int)strlen(z + i);
    }else{
      t.eType = z[i]=='\'' ? TK_STRING : TK_QUOTED;
      t.n = j + 1 - i;
    }
  }else{
    t.eType = TK_PUNCT;
    t.n = 1;
  }
  p->i = (int)(t.z - z) + t.n;
  return t;
}

static int tokIs(SchemaToken t, const char *zWord){
  return t.eType==TK_WORD && (int)strlen(zWord)==t.n
      && sqlite3_strnicmp(t.z, zWord, t.n)==0;
}

/* The identifier a token names, quotes removed and doubled quotes undone.
** The caller frees it with sqlite3_free. */
static char *tokIdent(SchemaToken t){
  char *zOut;
  int i, j = 0;
  if( t.eType==TK_WORD ) return sqlite3_mprintf("%.*s", t.n, t.z);
  zOut = sqlite3_malloc(t.n);
  if( zOut==0 ) return 0;
  for(i=1; i<t.n-1; i++){
    zOut[j++] = t.z[i];
    if( t.z[i]==t.z[0] && t.z[0]!='[' ) i++;
  }
  zOut[j] = 0;
  return zOut;
}

/* Parses the digits of a hex literal (0x...) as SQLite does: up to 16 hex
** digits, read as the 64 bits of a two's complement integer. */
static int schemaHexInt(const char *z, int n, sqlite3_int64 *piOut){
  sqlite3_uint64 u = 0;
  int i;
  if( n<3 || n>18 || z[0]!='0' || (z[1]!='x' && z[1]!='X') ) return 0;
  for(i=2; i<n; i++){
    int c = (unsigned char)z[i];
    if( !isxdigit(c) ) return 0;
    u = (u<<4) | (sqlite3_uint64)(isdigit(c) ? c - '0' : (c|0x20) - 'a' + 10);
  }
  *piOut = (sqlite3_int64)u;
  return 1;
}

/* Decodes the blob literal x'...' of column pCol (token t is the quoted
** part) into pOut. Refuses text that is not an even number of hex digits
** (SQLite's tokenizer already does, so this is a safeguard). */
static int schemaBlobLiteral(KalamSchema *p, KalamColumn *pCol, SchemaToken t,
                             KalamValue *pOut, char **pzErr){
  int nHex = t.n - 2, i;
  unsigned char *a;
  for(i=0; i<nHex; i++){
    if( !isxdigit((unsigned char)t.z[1+i]) ) break;
  }
  if( i<nHex || nHex%2 ){
    *pzErr = sqlite3_mprintf("DEFAULT of column %s.%s: a blob literal is "
        "x'...' with an even number of hex digits", p->zTable, pCol->zName);
    return SQLITE_ERROR;
  }
  a = sqlite3_malloc(nHex/2 + 1);
  if( a==0 ) return SQLITE_NOMEM;
  for(i=0; i<nHex; i+=2){
    char h[3] = {t.z[1+i], t.z[2+i], 0};
    a[i/2] = (unsigned char)strtol(h, 0, 16);
  }
  pOut->eType = SQLITE_BLOB;
  pOut->zOwned = (char*)a;
  pOut->z = (const char*)a;
  pOut->n = nHex/2;
  return SQLITE_OK;
}

/* Reads a DEFAULT literal into pCol->zDefault (SQL text as written) and
** pCol->dflt (its value, as SQLite would read the literal). */
static int schemaDefault(KalamSchema *p, KalamColumn *pCol, SchemaLexer *pLex,
                         char **pzErr){
  SchemaToken t = schemaNext(pLex);
  SchemaToken tBlob;
  const char *zStart = t.z;
  int bNeg = 0, bBlob = 0;
  memset(&tBlob, 0, sizeof(tBlob));
  if( t.eType==TK_PUNCT && (t.z[0]=='-' || t.z[0]=='+') && t.n==1 ){
    bNeg = t.z[0]=='-';
    t = schemaNext(pLex);
    if( t.eType!=TK_NUMBER ) goto bad;
  }else if( t.eType==TK_WORD && t.n==1 && (t.z[0]=='x' || t.z[0]=='X')
         && t.z[1]=='\'' ){
    /* x'0a1b': the word x then, with no space, the quoted hex digits. */
    tBlob = schemaNext(pLex);
    if( tBlob.eType!=TK_STRING ) goto bad;
    bBlob = 1;
    t = tBlob;
  }else if( t.eType==TK_WORD ){
    if( !tokIs(t, "NULL") && !tokIs(t, "TRUE") && !tokIs(t, "FALSE")
     && !tokIs(t, "CURRENT_TIMESTAMP") ) goto bad;
  }else if( t.eType!=TK_NUMBER && t.eType!=TK_STRING ){
    goto bad;
  }
  sqlite3_free(pCol->zDefault);
  kalamValueClear(&pCol->dflt);
  pCol->bDefaultNow = 0;
  pCol->zDefault = sqlite3_mprintf("%.*s", (int)(t.z + t.n - zStart), zStart);
  if( pCol->zDefault==0 ) return SQLITE_NOMEM;

  /* The literal's value, as SQLite would read it. */
  if( bBlob ){
    return schemaBlobLiteral(p, pCol, tBlob, &pCol->dflt, pzErr);
  }else if( t.eType==TK_NUMBER ){
    /* The sign is read with the digits, so that -9223372036854775808 is
    ** the smallest INTEGER and not the negation of a REAL. */
    char *zNum = sqlite3_mprintf("%s%.*s", bNeg ? "-" : "", t.n, t.z);
    int nNum;
    sqlite3_int64 iHex;
    if( zNum==0 ) return SQLITE_NOMEM;
    nNum = (int)strlen(zNum);
    if( schemaHexInt(t.z, t.n, &iHex) ){
      pCol->dflt.eType = SQLITE_INTEGER;
      pCol->dflt.i = bNeg ? (sqlite3_int64)(0 - (sqlite3_uint64)iHex) : iHex;
    }else if( kalamParseInt(zNum, nNum, &pCol->dflt.i) ){
      pCol->dflt.eType = SQLITE_INTEGER;
    }else if( kalamParseDouble(zNum, nNum, &pCol->dflt.r) ){
      pCol->dflt.eType = SQLITE_FLOAT;
    }else{
      sqlite3_free(zNum);
      goto bad; /* 12abc, or a hex literal of more than 64 bits */
    }
    sqlite3_free(zNum);
  }else if( t.eType==TK_STRING ){
    char *z = sqlite3_malloc(t.n);
    int i, j = 0;
    if( z==0 ) return SQLITE_NOMEM;
    for(i=1; i<t.n-1; i++){
      z[j++] = t.z[i];
      if( t.z[i]=='\'' ) i++;
    }
    z[j] = 0;
    pCol->dflt.eType = SQLITE_TEXT;
    pCol->dflt.zOwned = z;
    pCol->dflt.z = z;
    pCol->dflt.n = j;
  }else if( tokIs(t, "TRUE") || tokIs(t, "FALSE") ){
    pCol->dflt.eType = SQLITE_INTEGER;
    pCol->dflt.i = tokIs(t, "TRUE");
  }else if( tokIs(t, "CURRENT_TIMESTAMP") ){
    pCol->bDefaultNow = 1;
  }else{
    pCol->dflt.eType = SQLITE_NULL;
  }
  return SQLITE_OK;
bad:
  *pzErr = sqlite3_mprintf("DEFAULT of column %s.%s must be a literal "
      "(a number, a string, a blob x'..', NULL, TRUE, FALSE or "
      "CURRENT_TIMESTAMP)", p->zTable, pCol->zName);
  return SQLITE_ERROR;
}

/* Parses one column definition into pCol: the entry point of this file. */
int kalamColumnParse(KalamSchema *p, KalamColumn *pCol, const char *zArg,
                        char **pzErr){
  SchemaLexer lex = {zArg, 0};
  SchemaToken t = schemaNext(&lex);
  KalamBuf type;
  int rc = SQLITE_ERROR;
  int i;

  kalamBufInit(&type);
  if( tokIs(t, "PRIMARY") || tokIs(t, "UNIQUE") || tokIs(t, "CHECK")
   || tokIs(t, "FOREIGN") || tokIs(t, "CONSTRAINT") ){
    /* SQLite's own parser would not take these words as a column name
    ** either, so this is a table constraint: say so rather than report a
    ** column called PRIMARY of unknown type KEY. */
    *pzErr = sqlite3_mprintf("table constraint \"%s\" of table %s is not "
        "supported: kalam takes UNIQUE(...) and INDEX(...) items, and "
        "PRIMARY KEY and NOT NULL on the column itself", zArg, p->zTable);
    goto done;
  }
  if( t.eType!=TK_WORD && t.eType!=TK_QUOTED && t.eType!=TK_STRING ){
    *pzErr = sqlite3_mprintf("cannot parse the definition \"%s\" of table %s: "
        "expected a column name or key=value", zArg, p->zTable);
    goto done;
  }
  pCol->zName = tokIdent(t);
  if( pCol->zName==0 ){ rc = SQLITE_NOMEM; goto done; }
  pCol->nName = (int)strlen(pCol->zName);
  if( pCol->zName[0]==0 ){
    *pzErr = sqlite3_mprintf("empty column name in table %s", p->zTable);
    goto done;
  }
  if( pCol->zName[0]=='_' ){
    *pzErr = sqlite3_mprintf("column name %s of table %s is reserved: names "
        "beginning with _ are kalam's system columns", pCol->zName, p->zTable);
    goto done;
  }

  /* The type: words up to the first constraint keyword, then (n[,m]). */
  t = schemaNext(&lex);
  while( t.eType==TK_WORD && !tokIs(t, "NOT") && !tokIs(t, "NULL")
      && !tokIs(t, "DEFAULT") && !tokIs(t, "PRIMARY") && !tokIs(t, "UNIQUE")
      && !tokIs(t, "CHECK") && !tokIs(t, "COLLATE") && !tokIs(t, "REFERENCES")
      && !tokIs(t, "CONSTRAINT") && !tokIs(t, "GENERATED") && !tokIs(t, "AS") ){
    if( type.n ) kalamBufAppendChar(&type, ' ');
    for(i=0; i<t.n; i++) kalamBufAppendChar(&type, (char)toupper(t.z[i]));
    t = schemaNext(&lex);
  }
  pCol->eType = KALAM_TYPE_ANY;
  if( type.n ){
    int bFound = 0;
    if( type.oom ){ rc = SQLITE_NOMEM; goto done; }
    for(i=0; i<(int)(sizeof(aTypeName)/sizeof(aTypeName[0])); i++){
      if( strcmp(type.z, aTypeName[i].zName)==0 ){
        pCol->eType = aTypeName[i].eType;
        bFound = 1;
        break;
      }
    }
    if( !bFound ){
      *pzErr = sqlite3_mprintf("unknown type %s for column %s.%s",
                               type.z, p->zTable, pCol->zName);
      goto done;
    }
    if( t.eType==TK_PUNCT && t.z[0]=='(' ){
      /* Length or precision: accepted and recorded, not enforced. */
      int nNum = 0;
      kalamBufAppendChar(&type, '(');
      for(;;){
        t = schemaNext(&lex);
        if( t.eType!=TK_NUMBER ) break;
        kalamBufAppend(&type, t.z, t.n);
        nNum++;
        t = schemaNext(&lex);
        if( t.eType==TK_PUNCT && t.z[0]==',' && nNum==1 ){
          kalamBufAppendChar(&type, ',');
          continue;
        }
        break;
      }
      if( nNum==0 || t.eType!=TK_PUNCT || t.z[0]!=')' ){
        *pzErr = sqlite3_mprintf("bad size in the type of column %s.%s: "
            "expected (n) or (n,m)", p->zTable, pCol->zName);
        goto done;
      }
      kalamBufAppendChar(&type, ')');
      t = schemaNext(&lex);
    }
    if( type.oom ){ rc = SQLITE_NOMEM; goto done; }
    pCol->zDeclType = sqlite3_mprintf("%s", type.z);
  }else{
    pCol->zDeclType = sqlite3_mprintf("");
  }
  if( pCol->zDeclType==0 ){ rc = SQLITE_NOMEM; goto done; }

  /* Constraints. */
  while( t.eType!=TK_END ){
    if( tokIs(t, "NOT") ){
      t = schemaNext(&lex);
      if( !tokIs(t, "NULL") ) goto bad_constraint;
      pCol->bNotNull = 1;
    }else if( tokIs(t, "NULL") ){
      /* Nullable: the default. */
    }else if( tokIs(t, "DEFAULT") ){
      rc = schemaDefault(p, pCol, &lex, pzErr);
      if( rc ) goto done;
      rc = SQLITE_ERROR;
    }else if( tokIs(t, "PRIMARY") ){
      t = schemaNext(&lex);
      if( !tokIs(t, "KEY") ) goto bad_constraint;
      if( pCol->bPk ) goto bad_constraint;
      pCol->bPk = 1;
      {
        SchemaLexer save = lex;
        SchemaToken t2 = schemaNext(&lex);
        if( !tokIs(t2, "ASC") && !tokIs(t2, "DESC") ) lex = save;
      }
    }else if( tokIs(t, "UNIQUE") ){
      pCol->bUnique = 1;   /* kalamSchemaParse adds the index */
    }else if( t.eType==TK_WORD ){
      *pzErr = sqlite3_mprintf("unsupported constraint %.*s on column %s.%s: "
          "kalam columns take NOT NULL, DEFAULT, PRIMARY KEY and UNIQUE",
          t.n, t.z, p->zTable, pCol->zName);
      goto done;
    }else{
      goto bad_constraint;
    }
    t = schemaNext(&lex);
  }
  rc = SQLITE_OK;
  goto done;

bad_constraint:
  *pzErr = sqlite3_mprintf("cannot parse the definition of column %s.%s "
      "near \"%.*s\"", p->zTable, pCol->zName, t.n ? t.n : 3,
      t.n ? t.z : "end");
done:
  kalamBufFree(&type);
  return rc;
}

/* ------------------------------------------------------------ index items */

/* Is the argument a UNIQUE(...) or INDEX(...) item? */
int kalamColumnIsIndexItem(const char *z){
  SchemaLexer lex = {z, 0};
  SchemaToken t = schemaNext(&lex);
  if( !tokIs(t, "UNIQUE") && !tokIs(t, "INDEX") ) return 0;
  t = schemaNext(&lex);
  return t.eType==TK_PUNCT && t.z[0]=='(';
}

/* Parses the item zArg, UNIQUE(a, b DESC, ...) or INDEX(...), into *pIdx,
** finding its columns by name. A column named twice counts once, as in
** SQLite. */
int kalamColumnIndexItem(const KalamSchema *p, const char *zArg,
                         KalamIndex *pIdx, char **pzErr){
  SchemaLexer lex = {zArg, 0};
  SchemaToken t = schemaNext(&lex);
  char *zName = 0;
  int rc = SQLITE_ERROR;

  memset(pIdx, 0, sizeof(*pIdx));
  pIdx->bUnique = tokIs(t, "UNIQUE");
  t = schemaNext(&lex);
  assert( t.eType==TK_PUNCT && t.z[0]=='(' );
  for(;;){
    int iCol, j;
    t = schemaNext(&lex);
    if( t.eType!=TK_WORD && t.eType!=TK_QUOTED && t.eType!=TK_STRING ){
      goto bad;
    }
    sqlite3_free(zName);
    zName = tokIdent(t);
    if( zName==0 ){ rc = SQLITE_NOMEM; goto done; }
    iCol = kalamSchemaColumnIndex(p, zName, (int)strlen(zName));
    if( iCol<0 ){
      *pzErr = sqlite3_mprintf("unknown column %s in %s of table %s",
                               zName, zArg, p->zTable);
      goto done;
    }
    for(j=0; j<pIdx->nCol && pIdx->aiCol[j]!=iCol; j++){}
    if( j==pIdx->nCol ){
      if( pIdx->nCol==KALAM_MAX_INDEX_COLUMNS ){
        *pzErr = sqlite3_mprintf("%s of table %s has more than %d columns",
                                 zArg, p->zTable, KALAM_MAX_INDEX_COLUMNS);
        goto done;
      }
      pIdx->aiCol[pIdx->nCol++] = iCol;
    }
    t = schemaNext(&lex);
    if( tokIs(t, "ASC") || tokIs(t, "DESC") ) t = schemaNext(&lex);
    if( t.eType==TK_PUNCT && t.z[0]==',' ) continue;
    if( t.eType==TK_PUNCT && t.z[0]==')' ) break;
    goto bad;
  }
  t = schemaNext(&lex);
  if( t.eType!=TK_END ) goto bad;
  rc = SQLITE_OK;
  goto done;

bad:
  *pzErr = sqlite3_mprintf("cannot parse \"%s\" of table %s: expected "
      "UNIQUE(column, ...) or INDEX(column, ...)", zArg, p->zTable);
done:
  sqlite3_free(zName);
  return rc;
}
