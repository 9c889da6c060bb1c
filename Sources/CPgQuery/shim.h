#ifndef SCHEMAPROXY_CPGQUERY_SHIM_H
#define SCHEMAPROXY_CPGQUERY_SHIM_H
// libpg_query (PostgreSQL 15 grammar) from Debian's libpg-query-dev.
#include <pg_query.h>
#endif
