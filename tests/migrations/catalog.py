"""What a database's scripts_es schema is made of, read from the catalog, to compare two databases.

Tables (kind, row-level security), columns in order (type, nullability, default, identity),
constraints, indexes, policies, privileges (tables, sequences, functions, the schema), functions
(whole definitions) and sequences: everything that schema.sql and the migrations create.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

QUERIES: dict[str, str] = {
    "tables": """
        SELECT c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
               c.relpersistence::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'scripts_es' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
               a.attgenerated::text
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'scripts_es' AND c.relkind IN ('r', 'p') AND a.attnum > 0
          AND NOT a.attisdropped
        ORDER BY 1, 2""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'scripts_es'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'scripts_es' ORDER BY 1, 2""",
    "policies": """
        SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'scripts_es' ORDER BY 1, 2""",
    "table_privileges": """
        SELECT c.relname, acl.grantee::regrole::text, acl.privilege_type
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             aclexplode(c.relacl) acl
        WHERE n.nspname = 'scripts_es' AND acl.grantee <> 0
          AND acl.grantee <> c.relowner
        ORDER BY 1, 2, 3""",
    "function_privileges": """
        SELECT p.oid::regprocedure::text, acl.grantee::regrole::text, acl.privilege_type
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
             aclexplode(p.proacl) acl
        WHERE n.nspname = 'scripts_es' AND acl.grantee <> 0 AND acl.grantee <> p.proowner
        ORDER BY 1, 2, 3""",
    "schema_privileges": """
        SELECT acl.grantee::regrole::text, acl.privilege_type
        FROM pg_namespace n, aclexplode(n.nspacl) acl
        WHERE n.nspname = 'scripts_es' AND acl.grantee <> 0 AND acl.grantee <> n.nspowner
        ORDER BY 1, 2""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'scripts_es' ORDER BY 1""",
    "sequences": """
        SELECT s.sequencename, s.data_type::text, s.start_value, s.increment_by,
               (SELECT d.refobjid::regclass::text || '.' || a.attname
                FROM pg_depend d
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.objid = (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))
                                ::regclass AND d.deptype IN ('a', 'i'))
        FROM pg_sequences s WHERE s.schemaname = 'scripts_es' ORDER BY 1""",
}


def catalog(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """The schema's objects, section by section, as sorted rows."""
    with psycopg.connect(dsn) as conn:
        return {
            name: [tuple(row) for row in conn.execute(sql.SQL(query))]  # type: ignore[arg-type]
            for name, query in QUERIES.items()
        }


def differences(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> dict[str, Any]:
    """Per section, the rows only in `a` and only in `b` (empty when the schemas are equal)."""
    found = {}
    for section in QUERIES:
        only_a = sorted(set(a[section]) - set(b[section]), key=repr)
        only_b = sorted(set(b[section]) - set(a[section]), key=repr)
        if only_a or only_b:
            found[section] = {"only_in_first": only_a, "only_in_second": only_b}
    return found
