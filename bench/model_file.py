"""Peak memory and time of reading a model portfolio file, each file in a fresh subprocess.

The hostile case is a 5 KB workbook whose only oddity is one stray cell at XFD1048576: its declared
size is 16,384 columns x 1,048,576 rows. wide_rows.xlsx is 20 rows of 16,384 real cells (8 MB of sheet
XML under the 1 MB upload limit), about the most cells a file that passes the size checks can hold.
Each child runs under an address-space cap (default 2 GB), so a reader that builds the declared grid
fails fast with MemoryError instead of swapping the machine.
Seconds and peak RSS are of a plain read; "traced MB" is tracemalloc's peak over a second read.

    .venv/bin/python bench/model_file.py               # stray cell, wide rows, and the two examples for scale
    .venv/bin/python bench/model_file.py --cap-mb 4000
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[1])
cap = int(sys.argv[3]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from rebalance import PortfolioError, read_portfolio
def read():
    try:
        return f"{len(read_portfolio(sys.argv[2]).targets)} stocks"
    except PortfolioError as exc:
        return "refused: " + exc.one_line()
    except MemoryError:
        return "MemoryError at the cap"

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
outcome = read()  # timed without tracemalloc, which slows allocation-heavy code several-fold
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
traced = 0
if "MemoryError" not in outcome:
    tracemalloc.start()
    read()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
print(json.dumps({"outcome": outcome, "seconds": seconds, "rss_before_kb": before, "rss_peak_kb": after,
                  "traced_peak_bytes": traced}))
"""


def stray_cell_workbook() -> bytes:
    """Ten stocks at A1:B11 and one stray cell at XFD1048576, the last cell a sheet can have."""
    book = Workbook()
    sheet = book.active
    sheet.append(["종목코드", "비중"])
    for i in range(10):
        sheet.append([f"{5930 + i:06d}", 10])
    sheet["XFD1048576"] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def wide_rows_workbook(rows: int = 20) -> bytes:
    """`rows` rows of 16,384 real cells each under a code header: 8 MB of sheet XML in a < 1 MB zip."""
    book = Workbook()
    book.active.append(["종목코드"])
    out = io.BytesIO()
    book.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                xml = "".join(f'<row r="{r}">' + "".join(f'<c r="{get_column_letter(c)}{r}"><v>{r}</v></c>'
                                                         for c in range(1, 16_385)) + "</row>"
                              for r in range(2, rows + 2))
                data = data.replace(b"</sheetData>", xml.encode() + b"</sheetData>")
            target.writestr(name, data)
    return packed.getvalue()


def measure(path: Path, cap_mb: int, timeout: float) -> dict:
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(path), str(cap_mb)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"outcome": f"still reading after {timeout:.0f} s (killed)"}
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"outcome": f"child exited {done.returncode}: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cap-mb", type=int, default=2000, help="address-space cap per child (default 2000)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a child is killed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        stray = Path(folder) / "stray_cell.xlsx"
        stray.write_bytes(stray_cell_workbook())
        wide = Path(folder) / "wide_rows.xlsx"
        wide.write_bytes(wide_rows_workbook())
        files = [stray, wide, ROOT / "examples" / "model.xlsx", ROOT / "examples" / "multifactor.xlsx"]
        print(f"each read in a fresh process capped at {args.cap_mb} MB of address space")
        print(f"{'file':<18}{'bytes':>8}{'seconds':>9}{'peak RSS MB':>13}{'+ over import':>15}"
              f"{'traced MB':>11}  outcome")
        for path in files:
            result = measure(path, args.cap_mb, args.timeout)
            if "rss_peak_kb" in result:
                peak, grown = result["rss_peak_kb"] / 1024, (result["rss_peak_kb"] - result["rss_before_kb"]) / 1024
                print(f"{path.name:<18}{path.stat().st_size:>8,}{result['seconds']:>9.2f}{peak:>13.1f}"
                      f"{grown:>15.1f}{result['traced_peak_bytes'] / 1e6:>11.1f}  {result['outcome']}", flush=True)
            else:
                print(f"{path.name:<18}{path.stat().st_size:>8,}{'':>48}  {result['outcome']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
