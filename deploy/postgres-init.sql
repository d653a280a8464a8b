-- blindvote on PostgreSQL: one database and one role per service, so the issuer (who voted)
-- and the bulletin board (what was voted) share no storage (DESIGN.md promise 5).
--
--   blindvote_issuer  database, owned by role blindvote_issuer
--   blindvote_board   database, owned by role blindvote_board
--
-- Each role may connect to its own database only: CONNECT is revoked from PUBLIC on both, and,
-- unless `shared_cluster` is set, on the maintenance databases `postgres` and `template1` too
-- (a cluster of blindvote's own). Neither role is a superuser or may create databases or roles;
-- each service creates its tables at start-up (versioned migrations) as the owner.
--
-- Run once, as a superuser, on a new cluster:
--   psql -v ON_ERROR_STOP=1 -v issuer_password=... -v board_password=... -f postgres-init.sql
-- As a docker-entrypoint-initdb.d script (no way to pass -v there), the passwords come from the
-- container's environment instead: BLINDVOTE_ISSUER_DB_PASSWORD and BLINDVOTE_BOARD_DB_PASSWORD.
-- Optional variables: issuer_db, board_db (names of database and role; the defaults above),
-- shared_cluster (set to anything: leave the maintenance databases alone).
-- Connection URLs: postgres://blindvote_issuer:<issuer_password>@<host>:5432/blindvote_issuer
-- and postgres://blindvote_board:<board_password>@<host>:5432/blindvote_board.

\set ON_ERROR_STOP on

-- The passwords are in the statements below: keep those out of the server log, even on error.
SET log_statement = 'none';
SET log_min_error_statement = 'panic';

\if :{?issuer_password}
\else
  \getenv issuer_password BLINDVOTE_ISSUER_DB_PASSWORD
\endif
\if :{?board_password}
\else
  \getenv board_password BLINDVOTE_BOARD_DB_PASSWORD
\endif
\if :{?issuer_password}
\else
  \set issuer_password ''
\endif
\if :{?board_password}
\else
  \set board_password ''
\endif
\if :{?issuer_db}
\else
  \set issuer_db blindvote_issuer
\endif
\if :{?board_db}
\else
  \set board_db blindvote_board
\endif

SELECT :'issuer_password' <> '' AND :'board_password' <> '' AS passwords_given,
       :'issuer_db' <> :'board_db' AS names_differ
\gset
\if :passwords_given
\else
  DO $$ BEGIN RAISE EXCEPTION 'postgres-init.sql: set both passwords: psql -v issuer_password=... -v board_password=..., or BLINDVOTE_ISSUER_DB_PASSWORD and BLINDVOTE_BOARD_DB_PASSWORD in the environment'; END $$;
\endif
\if :names_differ
\else
  DO $$ BEGIN RAISE EXCEPTION 'postgres-init.sql: issuer_db and board_db must differ: the issuer and the board never share a database'; END $$;
\endif

BEGIN;

CREATE ROLE :"issuer_db" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'issuer_password';
CREATE ROLE :"board_db" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'board_password';

COMMIT;

-- CREATE DATABASE cannot run in a transaction block: a failure here leaves the roles, and a rerun
-- stops at CREATE ROLE (drop the roles first).
CREATE DATABASE :"issuer_db" OWNER :"issuer_db" ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE :"board_db" OWNER :"board_db" ENCODING 'UTF8' TEMPLATE template0;

-- PUBLIC holds CONNECT and TEMPORARY on every new database; the owner keeps its own privileges.
REVOKE ALL ON DATABASE :"issuer_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"board_db" FROM PUBLIC;

\if :{?shared_cluster}
\else
  REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
  REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
\endif
