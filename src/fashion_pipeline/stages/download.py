"""Stage `download`: obtain the four Fashion-MNIST IDX files, each verified by SHA-256.

Sources from params.yaml are tried in order for every file; a failing source is reported with
its reason and the next one is tried. A file is written (atomically) only after its hash check.
"""

import argparse
import gzip
import hashlib
import sys
import urllib.request
import zlib
from pathlib import Path

from fashion_pipeline import cli, files
from fashion_pipeline.errors import DownloadError
from fashion_pipeline.params import IDX_FILES, load_params


def fetch(source, name, timeout_seconds):
    """The gzipped bytes of `name` from a local directory or an https:// mirror."""
    if source.startswith("https://"):
        url = f"{source.rstrip('/')}/{name}.gz"
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            return response.read()
    path = Path(source) / f"{name}.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return path.read_bytes()


def verified_idx(payload, expected_sha256):
    """Uncompress a .gz payload and check the SHA-256 of the uncompressed bytes."""
    if payload[:2] != b"\x1f\x8b":
        raise ValueError(f"not gzip (starts with {payload[:4]!r})")
    try:
        data = gzip.decompress(payload)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"truncated or corrupt gzip: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise ValueError(f"SHA-256 mismatch: got {digest}, expected {expected_sha256}")
    return data


def obtain(name, sources, expected_sha256, timeout_seconds):
    """Try each source in turn; return (uncompressed bytes, source) or raise with every attempt."""
    attempts = []
    for source in sources:
        try:
            return verified_idx(fetch(source, name, timeout_seconds), expected_sha256), source
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the next source
            reason = f"{type(error).__name__}: {error}"
            attempts.append(f"{source}: {reason}")
            print(f"download: {name} from {source} failed ({reason}); trying the next source", file=sys.stderr)
    raise DownloadError(f"{name}: every source failed: " + "; ".join(attempts))


def download_all(data_params, out_dir):
    """Write the four verified IDX files and a manifest of where each came from."""
    manifest = {}
    with files.atomic_directory(out_dir) as folder:
        for name in IDX_FILES:
            expected = data_params["sha256"][name]
            data, source = obtain(name, data_params["sources"], expected, data_params["download_timeout_seconds"])
            (folder / name).write_bytes(data)
            manifest[name] = {"source": source, "sha256": expected, "bytes": len(data)}
            print(f"download: {name} ({len(data):,} bytes) from {source}, SHA-256 verified")
        files.write_json(folder / "manifest.json", manifest)
    return manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", help="directory for the uncompressed IDX files")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    download_all(load_params(arguments.params)["data"], arguments.out_dir)


if __name__ == "__main__":
    cli.run(main)
