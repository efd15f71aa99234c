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

#endif
