#!/usr/bin/python3
"""Executes a Jupyter notebook headless with nbclient and writes the executed copy.

Exits 1 (printing the failing cell's error) when any cell raises, so ctest fails the run.
Usage: run_notebook.py NOTEBOOK.ipynb [--output-dir DIR] [--timeout SECONDS]
The kernel is Debian's `python3` kernelspec (/usr/bin/python3); PYTHONPATH must be absolute,
because the kernel starts in the notebook's own folder (reference/toolchain_debian.md §10).
"""
import argparse
import os
import pathlib
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=pathlib.Path)
    parser.add_argument("--output-dir", type=pathlib.Path, default=None)
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()

    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and not os.path.isabs(entry):
            print(f"run_notebook: PYTHONPATH entry {entry!r} is relative; the kernel runs in the "
                  f"notebook's folder, so make it absolute", file=sys.stderr)
            return 2
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(args.notebook.resolve().parent)}})
    status = 0
    try:
        client.execute()
    except CellExecutionError as err:
        print(f"run_notebook: {args.notebook}: a cell failed:\n{err}", file=sys.stderr)
        status = 1
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        out = args.output_dir / args.notebook.name
        nbformat.write(nb, out)
        print(f"run_notebook: executed copy in {out}")
    if status == 0:
        print(f"run_notebook: {args.notebook.name}: every cell ran")
    return status


if __name__ == "__main__":
    sys.exit(main())
