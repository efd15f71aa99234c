/*
 * schema.h - the SQL migrations embedded at build time (cmake/schema.cmake
 * generates the table from schema/NNNN_*.sql).  Const data; thread-safe.
 */
#ifndef ESPFAB_STORE_SCHEMA_H
#define ESPFAB_STORE_SCHEMA_H

typedef struct espfab_schema_migration {
    int version;        /* NNNN of the file name */
    const char *name;   /* "0001_initial.sql" */
    const char *sql;
} espfab_schema_migration_t;

/* In version order, terminated by {0, 0, 0}. */
extern const espfab_schema_migration_t espfab_schema_migrations[];
extern const unsigned espfab_schema_count;

/* espfab_store_open() with another migration table (tests: ordering and
 * rollback of a failing migration).  m[0..n) in version order. */
struct espfab_store;
struct espfab_fault;
int espfab__store_open_with(const char *path, unsigned flags, const espfab_schema_migration_t *m,
                            unsigned n, struct espfab_store **out, int *recovered,
                            struct espfab_fault *f);

#endif
