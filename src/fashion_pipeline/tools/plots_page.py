"""DVC's plots page without the internet (part of `make setup`): DVC's own
page loads Vega from a CDN, so offline it stays blank. This writes DVC's page template with
Vega, Vega-Lite and Vega-Embed inlined, from the npm registry's packages of the versions DVC
names, and points `dvc plots show` at it (`plots.html_template` in .dvc/config.local)."""

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from dvc_render.html import PAGE_HTML
from dvc_render.vega import VegaRenderer

from fashion_pipeline import cli, files
from fashion_pipeline.errors import DownloadError


def packages():
    """(name, version) of each script DVC's page loads, e.g. ("vega", "5.20.2")."""
    return re.findall(r"npm/([a-z-]+)@([0-9.]+)", VegaRenderer.SCRIPTS)


def inline_template(scripts):
    """DVC's page with each script's text inlined where the CDN tags were."""
    inlined = "\n".join(f"<script>\n{text}\n</script>" for text in scripts)
    return PAGE_HTML.replace("{scripts}", inlined)


def fetch_scripts(folder):
    """Each package's minified build, from `npm pack`."""
    scripts = []
    for name, version in packages():
        result = subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=folder, capture_output=True, text=True)
        if result.returncode != 0:
            raise DownloadError(f"npm pack {name}@{version} failed: {result.stderr.strip()[-300:]}")
        with tarfile.open(Path(folder) / result.stdout.strip().splitlines()[-1]) as archive:
            scripts.append(archive.extractfile(f"package/build/{name}.min.js").read().decode())
    return scripts


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/plots_template.html").resolve()
    with tempfile.TemporaryDirectory() as folder:
        files.write_text(out, inline_template(fetch_scripts(folder)))
    subprocess.run(["dvc", "config", "--local", "plots.html_template", str(out)], check=True)
    print(f"plots: dvc plots show uses {out} (Vega inlined; opens offline)")


if __name__ == "__main__":
    cli.run(main)
