"""Feast's file registry store, written atomically.

Feast writes a local registry file in place (truncate, then write): a server that reads it at that
moment parses an empty or partial registry and fails lookups with "Entity driver does not exist"
(seen while jobs.materialize marked views MATERIALIZING beside a running jobs.serve). This store
writes a temporary file beside it and renames it over the old one, so readers see the old
registry or the new one, whole. Chosen for local registry paths by
`definitions.feature_store.repo_config` (`registry_store_type`).
"""

from __future__ import annotations

import os
import tempfile
import uuid

from feast.infra.registry.file import FileRegistryStore
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from feast.utils import _utc_now


class AtomicFileRegistryStore(FileRegistryStore):
    """FileRegistryStore whose writes replace the file in one rename."""

    def _write_registry(self, registry_proto: RegistryProto) -> None:
        registry_proto.version_id = str(uuid.uuid4())
        registry_proto.last_updated.FromDatetime(_utc_now())
        folder = self._filepath.parent
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self._filepath.name}.", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(registry_proto.SerializeToString())
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, self._filepath)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
