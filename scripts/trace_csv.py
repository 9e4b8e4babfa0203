"""A trace's sections as the scripts read them: `uvmsim trace export` into a temporary folder, each named
section (ops, observed, driver_events, ...: the CSV files export writes) as a list of rows (dicts)."""
import csv
import os
import subprocess
import tempfile


def sections(uvmsim, trace, *names):
    """The rows of each of `names`, in that order, of `trace` exported by `uvmsim`."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([uvmsim, "trace", "export", trace, "--csv", d], check=True, capture_output=True)
        out = []
        for name in names:
            with open(os.path.join(d, name + ".csv")) as f:
                out.append(list(csv.DictReader(f)))
        return out
