"""Stage `pdf`: reports/report.pdf, the report to hand in, printed from reports/report.html by
headless Chromium on A4 (the page's print style sheet keeps tables whole and headings with what
follows them). `make chromium` installs Debian's Chromium."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from fashion_pipeline import cli, files
from fashion_pipeline.errors import StageError

# Long enough for a report of a hundred figures on a slow machine; a hung browser still ends.
PRINT_TIMEOUT_SECONDS = 300


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise StageError("chromium not found on PATH; `make chromium` installs Debian's chromium package (as root)")


def print_pdf(html_path, pdf_path):
    """Print one HTML file to PDF, written atomically."""
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    if not html_path.is_file():
        raise FileNotFoundError(f"{html_path}: no report to print; run the report stage first")
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile, files.atomic_path(pdf_path) as temporary:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={temporary}", html_path.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS)
        if result.returncode != 0 or Path(temporary).stat().st_size == 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise StageError(f"chromium could not print {html_path} (exit {result.returncode}): {last}")
    return pdf_path


def page_count(pdf_path):
    """Pages of a PDF, counted from its page objects (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(pdf_path).read_bytes()))


def pdf_stage(arguments):
    path = print_pdf(arguments.html, arguments.out)
    print(f"pdf: {page_count(path)} A4 pages -> {path}")


main = cli.files_stage_main(pdf_stage, __doc__, {"html": "reports/report.html", "out": "reports/report.pdf"})

if __name__ == "__main__":
    cli.run(main)
