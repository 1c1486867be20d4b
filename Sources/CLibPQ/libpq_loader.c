/* Loads libpq.so.5 at first use; see include/CLibPQ.h for why. */
#include "CLibPQ.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* Every libpq function vault calls. Adding one: list it here and add its vault_ wrapper. */
#define VAULT_LIBPQ_FUNCTIONS(X) \
    X(PQconnectdbParams) X(PQstatus) X(PQfinish) X(PQsetNoticeProcessor) X(PQexec) \
    X(PQexecParams) X(PQclear) X(PQresultStatus) X(PQresultErrorMessage) X(PQntuples) \
    X(PQnfields) X(PQgetisnull) X(PQgetvalue) X(PQserverVersion) X(PQhost) X(PQport) \
    X(PQerrorMessage) X(PQconninfoParse) X(PQconninfoFree) X(PQfreemem)

/* One pointer per function, typed from libpq's own prototype (typeof names no symbol, so
 * nothing here links against libpq). */
#define VAULT_DECLARE(name) static __typeof__(&name) p_##name;
VAULT_LIBPQ_FUNCTIONS(VAULT_DECLARE)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_failure[512];

static void load(void) {
    void *lib = dlopen("libpq.so.5", RTLD_LAZY | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(load_failure, sizeof load_failure, "%s", why != NULL ? why : "libpq.so.5 cannot be opened");
        return;
    }
#define VAULT_RESOLVE(name)                                                                    \
    p_##name = (__typeof__(&name))dlsym(lib, #name);                                           \
    if (p_##name == NULL) {                                                                    \
        snprintf(load_failure, sizeof load_failure, "libpq.so.5 has no function %s", #name);   \
        return;                                                                                \
    }
    VAULT_LIBPQ_FUNCTIONS(VAULT_RESOLVE)
}

const char *vault_libpq_load(void) {
    pthread_once(&load_once, load);
    return load_failure[0] != '\0' ? load_failure : NULL;
}

PGconn *vault_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    return p_PQconnectdbParams(keywords, values, expand_dbname);
}
ConnStatusType vault_PQstatus(const PGconn *conn) { return p_PQstatus(conn); }
void vault_PQfinish(PGconn *conn) { p_PQfinish(conn); }
PQnoticeProcessor vault_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg) {
    return p_PQsetNoticeProcessor(conn, proc, arg);
}
PGresult *vault_PQexec(PGconn *conn, const char *query) { return p_PQexec(conn, query); }
PGresult *vault_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                             int resultFormat) {
    return p_PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
void vault_PQclear(PGresult *res) { p_PQclear(res); }
ExecStatusType vault_PQresultStatus(const PGresult *res) { return p_PQresultStatus(res); }
char *vault_PQresultErrorMessage(const PGresult *res) { return p_PQresultErrorMessage(res); }
int vault_PQntuples(const PGresult *res) { return p_PQntuples(res); }
int vault_PQnfields(const PGresult *res) { return p_PQnfields(res); }
int vault_PQgetisnull(const PGresult *res, int tup_num, int field_num) { return p_PQgetisnull(res, tup_num, field_num); }
char *vault_PQgetvalue(const PGresult *res, int tup_num, int field_num) { return p_PQgetvalue(res, tup_num, field_num); }
int vault_PQserverVersion(const PGconn *conn) { return p_PQserverVersion(conn); }
char *vault_PQhost(const PGconn *conn) { return p_PQhost(conn); }
char *vault_PQport(const PGconn *conn) { return p_PQport(conn); }
char *vault_PQerrorMessage(const PGconn *conn) { return p_PQerrorMessage(conn); }
PQconninfoOption *vault_PQconninfoParse(const char *conninfo, char **errmsg) { return p_PQconninfoParse(conninfo, errmsg); }
void vault_PQconninfoFree(PQconninfoOption *connOptions) { p_PQconninfoFree(connOptions); }
void vault_PQfreemem(void *ptr) { p_PQfreemem(ptr); }
