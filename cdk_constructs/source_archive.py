"""A source directory shipped as the `sourcedir.tar.gz` the SageMaker training toolkit unpacks.

CDK zips directory assets, but the toolkit only extracts gzip tarballs, so the directory is packed here at synth into
a byte-for-byte reproducible archive (sorted entries, fixed times and owners) and uploaded as a file asset: the same
sources give the same asset hash, and an unchanged training script never changes the template.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from pathlib import Path

from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

EXCLUDED = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")


def reproducible_tarball(source: Path) -> bytes:
    """The gzip tarball of `source`'s files, identical for identical contents."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source)
            if any(part in EXCLUDED for part in relative.parts) or path.suffix == ".pyc":
                continue
            info = tarfile.TarInfo(relative.as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o755 if path.stat().st_mode & 0o100 else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


class SourceArchive(Construct):
    """A source directory packed as a reproducible `sourcedir.tar.gz` and uploaded as a file asset.

    Args:
        source: the directory to pack (`__pycache__`, tool caches and `.pyc` files are left out); must exist.

    Attributes:
        asset: the uploaded archive.
        file_name: its object's name (what a training channel downloads).
    """

    def __init__(self, scope: Construct, construct_id: str, *, source: Path) -> None:
        super().__init__(scope, construct_id)
        if not source.is_dir():
            raise ValueError(f"source directory {source} does not exist")
        archive = reproducible_tarball(source)
        digest = hashlib.sha256(archive).hexdigest()[:16]
        staging = Path(tempfile.gettempdir()) / "neuron-genai-source-archives" / digest
        staging.mkdir(parents=True, exist_ok=True)
        path = staging / "sourcedir.tar.gz"
        if not path.exists():
            path.write_bytes(archive)
        self.asset = s3_assets.Asset(self, "Asset", path=str(path))
        self.file_name = self.asset.s3_object_key.rsplit("/", 1)[-1]
