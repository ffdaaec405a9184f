/*
** check_int.h — what the two files of kalam_check() share, and nothing
** else sees: "Interface to check.c and check_entry.c".
**
**   check.c        the kalam_check table: which tables there are, their
**                  declarations, their catalog entries, and the rows of
**                  problems it returns
**   check_entry.c  the entries of a table's column family, each checked by
**                  the function of its kind
*/
#ifndef KALAM_CHECK_INT_H
#define KALAM_CHECK_INT_H

#include "kalam_int.h"

/* What the checks of one table share. */
typedef struct KalamCheck KalamCheck;
struct KalamCheck {
  sqlite3_vtab_cursor *pCur; /* where problems go: kalam_check's cursor
                            ** (tvf.c's listing cursor) */
  KalamStore *pStore;
  KalamView *pView;         /* the commit read, or NULL: the newest */
  const char *zSchema;
  const char *zTable;       /* the table being checked, or NULL */
  KalamSchema *pSchema;     /* its declaration, parsed */
  KalamCf *pCf;             /* its column family */
  KalamTable *pTab;         /* the table as the connection has it connected
                            ** (its cold rows are read through it), or NULL */
  int nListed;              /* problems of the table listed */
  int nMore;                /* ...and those only counted */
};

/* check.c: records one problem of the table being checked (zTable NULL:
** of the store), or only counts it past the table's limit. Only running
** out of memory fails. */
int kalamCheckProblem(KalamCheck *p, const char *zFormat, ...);

/* check_entry.c: checks every entry of p->pCf, each by its kind's check. */
int kalamCheckEntries(KalamCheck *p);

#endif /* KALAM_CHECK_INT_H */
