-- Migration 0003 (issue 11): numbered schema versions replace the digest of schema.sql, and
-- the application role can read the version (a least-privilege login opens the module).

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

CREATE TABLE IF NOT EXISTS scripts_es.schema_version (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON scripts_es.schema_version TO scripts_es_app, scripts_es_maint;

DROP TABLE IF EXISTS scripts_es.schema_meta;
