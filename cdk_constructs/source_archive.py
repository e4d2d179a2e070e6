"""A source directory shipped as the `sourcedir.tar.gz` the SageMaker training toolkit unpacks.

CDK zips directory assets, but the toolkit only extracts gzip tarballs, so the directory is packed here at synth into
a byte-for-byte reproducible archive (sorted entries, fixed times and owners) and uploaded as a file asset: the same
sources give the same asset hash, and an unchanged training script never changes the template.
"""

from __future__ import annotations

import atexit
import gzip
import io
import shutil
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
        # A private directory (mode 0700, created by mkdtemp) per archive: in a shared, world-writable temp folder
        # another user could plant or swap the file CDK uploads as the training code. The asset hash comes from the
        # content, so the template does not change with the directory's random name.
        path = Path(tempfile.mkdtemp(prefix="neuron-genai-source-")) / "sourcedir.tar.gz"
        path.write_bytes(archive)
        # CDK copies the file into the cloud assembly when the asset is created; the directory goes at exit.
        atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
        self.archive_path = path
        self.asset = s3_assets.Asset(self, "Asset", path=str(path))
        self.file_name = self.asset.s3_object_key.rsplit("/", 1)[-1]
