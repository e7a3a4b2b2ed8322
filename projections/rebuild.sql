-- Queries of rebuild and verify (maintenance role). {scripts}, {script_versions}, {executions}
-- name the scratch tables, {live_*} the live ones; values are bound parameters.

-- name: create_scratch
-- Verify and per-tenant rebuild: unlogged copies of the live tables' columns.
DROP TABLE IF EXISTS {scripts}, {script_versions}, {script_tags}, {executions};
CREATE UNLOGGED TABLE {scripts} (LIKE {live_scripts} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {script_versions} (LIKE {live_script_versions} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {script_tags} (LIKE {live_script_tags} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {executions} (LIKE {live_executions} INCLUDING DEFAULTS);

-- name: create_successors
-- Full rebuild (as the live tables' owner): the tables that will replace the live ones, with
-- everything LIKE copies but their indexes, which are built once the rows are in.
DROP TABLE IF EXISTS {scripts}, {script_versions}, {script_tags}, {executions};
CREATE TABLE {scripts} (LIKE {live_scripts} INCLUDING ALL EXCLUDING INDEXES);
CREATE TABLE {script_versions} (LIKE {live_script_versions} INCLUDING ALL EXCLUDING INDEXES);
CREATE TABLE {script_tags} (LIKE {live_script_tags} INCLUDING ALL EXCLUDING INDEXES);
CREATE TABLE {executions} (LIKE {live_executions} INCLUDING ALL EXCLUDING INDEXES);

-- name: owner
-- Who owns the live read-model tables, and whether this session's login may act as them
-- (only the owner can replace the tables; otherwise a full rebuild re-inserts the rows).
SELECT min(pg_get_userbyid(c.relowner)), count(DISTINCT c.relowner) = 1
       AND bool_and(pg_has_role(session_user, c.relowner, 'MEMBER'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'scripts_es' AND c.relname = ANY(%(live)s::text[]);

-- name: column_types
-- Each scratch column's type, for binary COPY.
SELECT c.relname, a.attname, a.atttypid::int
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'scripts_es' AND c.relname = ANY(%(tables)s::text[])
  AND a.attnum > 0 AND NOT a.attisdropped;

-- name: successor_ddl
-- What the live tables are made of beyond the columns, as statements that give the same to
-- their successors, read from the catalog (schema.sql stays the one source): `before` the
-- rows go in (storage options, grants, comment), `after` (indexes under temporary names,
-- primary and unique keys on them, foreign keys onto the successors, row-level security,
-- policies, triggers), or only the primary `keys` (verify's catch-up upserts on them).
-- Rows: the statement, and for an index its temporary and its live name.
WITH m AS (
    SELECT c.oid, m.scratch, format('scripts_es.%%I', m.scratch) AS successor, c.relacl,
           c.relowner, c.reloptions, c.relrowsecurity, c.relforcerowsecurity, m.n
    FROM unnest(%(live)s::text[], %(scratch)s::text[]) WITH ORDINALITY AS m(live, scratch, n)
    JOIN pg_class c ON c.relname = m.live
    JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'scripts_es'
), idx AS (
    SELECT m.*, i.indexrelid, i.indisprimary, ic.relname::text AS index_name,
           left(m.scratch, 40) || '_' || i.indexrelid AS temporary
    FROM m JOIN pg_index i ON i.indrelid = m.oid JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE %(phase)s = 'after' OR (%(phase)s = 'keys' AND i.indisprimary)
)
SELECT statement, temporary, index_name FROM (
    SELECT 1 AS step, n, format('ALTER TABLE %%s SET (%%s)', successor,
                                array_to_string(reloptions, ', ')) AS statement,
           NULL AS temporary, NULL AS index_name
    FROM m WHERE %(phase)s = 'before' AND reloptions IS NOT NULL
    UNION ALL
    SELECT 2, n, format('GRANT %%s ON %%s TO %%s%%s', a.privilege_type, successor,
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                             ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                        CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
           NULL, NULL
    FROM m, aclexplode(m.relacl) a
    WHERE %(phase)s = 'before' AND a.grantee <> m.relowner
    UNION ALL
    SELECT 3, n, format('COMMENT ON TABLE %%s IS %%L', successor, obj_description(oid, 'pg_class')),
           NULL, NULL
    FROM m WHERE %(phase)s = 'before' AND obj_description(oid, 'pg_class') IS NOT NULL
    UNION ALL
    SELECT 4, n, regexp_replace(pg_get_indexdef(indexrelid),
                                '^(CREATE (UNIQUE )?INDEX )\S+ ON (ONLY )?\S+ ',
                                '\1' || temporary || ' ON ' || successor || ' '),
           temporary, index_name
    FROM idx
    UNION ALL
    SELECT 5, n, format('ALTER TABLE %%s ADD CONSTRAINT %%s %%s USING INDEX %%s', successor,
                        temporary, CASE WHEN indisprimary THEN 'PRIMARY KEY' ELSE 'UNIQUE' END,
                        temporary),
           NULL, NULL
    FROM idx
    WHERE %(phase)s = 'after'
      AND EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = idx.indexrelid
                                              AND k.contype IN ('p', 'u'))
    UNION ALL
    SELECT 6, m.n, format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', m.successor, k.conname,
                          regexp_replace(pg_get_constraintdef(k.oid), 'REFERENCES \S+\(',
                                         'REFERENCES ' || r.successor || '(')),
           NULL, NULL
    FROM m JOIN pg_constraint k ON k.conrelid = m.oid AND k.contype = 'f'
    JOIN m r ON r.oid = k.confrelid
    WHERE %(phase)s = 'after'
    UNION ALL
    SELECT 7, n, format('ALTER TABLE %%s ENABLE ROW LEVEL SECURITY', successor), NULL, NULL
    FROM m WHERE %(phase)s = 'after' AND relrowsecurity
    UNION ALL
    SELECT 8, n, format('ALTER TABLE %%s FORCE ROW LEVEL SECURITY', successor), NULL, NULL
    FROM m WHERE %(phase)s = 'after' AND relforcerowsecurity
    UNION ALL
    SELECT 9, m.n, format(
               'CREATE POLICY %%I ON %%s AS %%s FOR %%s TO %%s%%s%%s', p.polname, m.successor,
               CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                             WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC'
                                       ELSE quote_ident(pg_get_userbyid(r)) END, ', ')
                FROM unnest(p.polroles) r),
               ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
               ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
           NULL, NULL
    FROM m JOIN pg_policy p ON p.polrelid = m.oid
    WHERE %(phase)s = 'after'
    UNION ALL
    SELECT 10, m.n, regexp_replace(pg_get_triggerdef(t.oid), ' ON \S+ ',
                                   ' ON ' || m.successor || ' '),
           NULL, NULL
    FROM m JOIN pg_trigger t ON t.tgrelid = m.oid AND NOT t.tgisinternal
    WHERE %(phase)s = 'after'
) ddl
ORDER BY step, n, statement;

-- name: drop_scratch
DROP TABLE IF EXISTS {scripts}, {script_versions}, {script_tags}, {executions};

-- name: snapshot
SELECT pg_current_snapshot()::text;

-- name: count_events
SELECT count(*) FROM scripts_es.events WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: seeds
-- Streams whose first events were pruned start from the snapshot at their oldest event.
SELECT s.tenant_id, s.originator_id, s.originator_version, s.topic, s.state
FROM scripts_es.snapshots s
JOIN (SELECT tenant_id, originator_id, min(originator_version) AS v
      FROM scripts_es.events
      WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
      GROUP BY tenant_id, originator_id
      HAVING min(originator_version) > 1) m
  ON m.tenant_id = s.tenant_id AND m.originator_id = s.originator_id AND m.v = s.originator_version;

-- name: all_events
SELECT tenant_id, originator_id, originator_version, topic, state
FROM scripts_es.events
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
ORDER BY tenant_id, originator_id, originator_version;

-- name: lock_live
LOCK TABLE {live_scripts}, {live_script_versions}, {live_script_tags}, {live_executions}
    IN SHARE ROW EXCLUSIVE MODE;

-- name: lock_live_exclusive
-- A full rebuild replaces the tables: readers wait from here to the commit (the catch-up and
-- the swap), writers as always.
LOCK TABLE {live_scripts}, {live_script_versions}, {live_script_tags}, {live_executions}
    IN ACCESS EXCLUSIVE MODE;

-- name: drop_live
-- Without CASCADE: anything else that came to depend on these tables stops the rebuild.
DROP TABLE {live_scripts}, {live_script_versions}, {live_script_tags}, {live_executions};

-- name: rename_successors
ALTER TABLE {scripts} RENAME TO {live_scripts_name};
ALTER TABLE {script_versions} RENAME TO {live_script_versions_name};
ALTER TABLE {script_tags} RENAME TO {live_script_tags_name};
ALTER TABLE {executions} RENAME TO {live_executions_name};

-- name: rename_index
ALTER INDEX {temporary} RENAME TO {index};

-- name: analyze_scratch
ANALYZE {scripts}, {script_versions}, {script_tags}, {executions};

-- name: set_role
SET LOCAL ROLE {role};

-- name: late_events
-- Events that committed after the rebuild's snapshot %(snapshot)s was taken.
SELECT tenant_id, originator_id, originator_version, topic, state
FROM scripts_es.events
WHERE txid >= pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
  AND NOT pg_visible_in_snapshot(txid, %(snapshot)s::pg_snapshot)
  AND (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: drop_pruned
-- Rows whose events were pruned after the rebuild's snapshot.
DELETE FROM {script_versions} v
WHERE NOT EXISTS (SELECT FROM scripts_es.events e
                  WHERE e.tenant_id = v.tenant_id AND e.originator_id = v.script_id
                    AND e.originator_version = v.version);
DELETE FROM {executions} x
WHERE NOT EXISTS (SELECT FROM scripts_es.events e
                  WHERE e.tenant_id = x.tenant_id AND e.originator_id = x.id);

-- name: clear_live_executions
DELETE FROM {live_executions} WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: clear_live_scripts
-- script_versions and script_tags follow by cascade.
DELETE FROM {live_scripts} WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: fill_live
INSERT INTO {live_scripts} SELECT * FROM {scripts};
INSERT INTO {live_script_versions} SELECT * FROM {script_versions};
INSERT INTO {live_script_tags} SELECT * FROM {script_tags};
INSERT INTO {live_executions} SELECT * FROM {executions};

-- name: diff
-- Rows compared as jsonb documents (json columns have no equality operator).
SELECT count(*) FROM (
    SELECT to_jsonb(a) FROM {a} a WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
    EXCEPT ALL
    SELECT to_jsonb(b) FROM {b} b WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
) d;

-- name: diff_sample
SELECT row FROM (
    SELECT to_jsonb(a) AS row FROM {a} a
    WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
    EXCEPT ALL
    SELECT to_jsonb(b) FROM {b} b WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
) d
LIMIT 5;
