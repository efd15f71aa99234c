/* err_store.h - traceability database family (600-699).  See err.h. */
#ifndef ESPFAB_ERR_STORE_H
#define ESPFAB_ERR_STORE_H
#define ESPFAB_ERR_MAP_STORE(XX) \
    XX(STORE_OPEN, 600, "could not open the traceability database", "check the path, permissions and free disk space") \
    XX(STORE_SCHEMA, 601, "traceability database schema is newer than this espfab", "upgrade espfab, or use another --db file") \
    XX(STORE_WRITE, 602, "could not write to the traceability database", "check free disk space and permissions; no board is passed without its record") \
    XX(STORE_CORRUPT, 603, "traceability database failed its integrity check", "restore it from a backup; keep the damaged file for analysis") \
    XX(STORE_BUSY, 604, "traceability database is locked by another program", "close the program holding a write lock on it") \
    XX(REPORT_OVER_DB, 690, "refusing to write a report over a database file", "choose another -o file (e.g. report.html): a report never replaces a SQLite database or its -wal/-journal/-shm file")
#endif
