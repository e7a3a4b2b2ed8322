"""Projectors that keep the tenant-scoped read model (scripts, script_versions, executions).

The same row builders serve the inline projection in the write transaction, the out-of-process
runner and full rebuilds; only the writer differs (version-guarded upserts, or COPY in bulk).
"""

from projections.tables import LIVE, Tables

__all__ = ["LIVE", "Tables"]
