#ifndef SCHEMAPROXY_CLIBPQ_SHIM_H
#define SCHEMAPROXY_CLIBPQ_SHIM_H
// libpq from Debian's libpq-dev: the command line's catalog tools (mapping discover, check --live) only.
#include <libpq-fe.h>
#endif
