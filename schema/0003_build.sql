-- 0003_build.sql - espfab traceability schema, version 3: which espfab and
-- which flasher stub wrote a board.
--
-- Applied by src/store/store.c inside one transaction.  No shipped row is
-- rewritten: the new columns stay NULL for runs and attempts recorded before
-- (NULL = not known), and are filled by every espfab that knows version 3.
--
-- espfab_version: the program's version ("0.1.0"), on the run and on each
-- attempt.  stub_package: the stub set the build took its stubs from
-- ("esptool-js 0.5.4").  stub_sha256: SHA-256 (hex) of the stub JSON file
-- the attempt uploaded, '' when it used the ROM loader (no stub).

ALTER TABLE runs ADD COLUMN espfab_version TEXT;
ALTER TABLE runs ADD COLUMN stub_package TEXT;
ALTER TABLE attempts ADD COLUMN espfab_version TEXT;
ALTER TABLE attempts ADD COLUMN stub_sha256 TEXT;
