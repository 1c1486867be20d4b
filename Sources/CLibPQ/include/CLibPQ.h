#ifndef VAULT_CLIBPQ_H
#define VAULT_CLIBPQ_H

/* libpq, loaded at first use instead of at start-up.
 *
 * libpq links Kerberos, LDAP, GnuTLS and a dozen more libraries; loading them costs every
 * vault process tens of milliseconds (most of its start-up with a cold page cache), while
 * archive-push, archive-get and restore never talk to a server. So vault does not link libpq:
 * vault_libpq_load() opens libpq.so.5 once, and the vault_PQ* functions call the function of
 * the same name in it. Call them only after vault_libpq_load() returned NULL.
 *
 * The types and constants come from libpq's own header. */
#include <postgresql/libpq-fe.h>

/* Opens libpq.so.5 and resolves the functions below, once per process (thread-safe).
 * NULL when they are usable; otherwise why not (the text stays valid). */
const char *vault_libpq_load(void);

PGconn *vault_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname);
ConnStatusType vault_PQstatus(const PGconn *conn);
void vault_PQfinish(PGconn *conn);
PQnoticeProcessor vault_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg);
PGresult *vault_PQexec(PGconn *conn, const char *query);
PGresult *vault_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                             int resultFormat);
void vault_PQclear(PGresult *res);
ExecStatusType vault_PQresultStatus(const PGresult *res);
char *vault_PQresultErrorMessage(const PGresult *res);
int vault_PQntuples(const PGresult *res);
int vault_PQnfields(const PGresult *res);
int vault_PQgetisnull(const PGresult *res, int tup_num, int field_num);
char *vault_PQgetvalue(const PGresult *res, int tup_num, int field_num);
int vault_PQserverVersion(const PGconn *conn);
char *vault_PQhost(const PGconn *conn);
char *vault_PQport(const PGconn *conn);
char *vault_PQerrorMessage(const PGconn *conn);
PQconninfoOption *vault_PQconninfoParse(const char *conninfo, char **errmsg);
void vault_PQconninfoFree(PQconninfoOption *connOptions);
void vault_PQfreemem(void *ptr);

#endif
