"""Which batch outputs and which input file belong to one summary.csv row.

The batch names a row's outputs by the input's stem, or by its whole file name when another input
shares the stem (`a.png` + `a.jpg`), plus a hash of its path when another input shares the name
(the same name in two folders): mtcnn_core's batch.output_stems. It records no input path, so the
Dataset page finds the image by name below the images folder and checks its SHA-256.
"""

from __future__ import annotations

import glob
import math
import os
from itertools import islice
from pathlib import Path

#: Outputs of one file name looked at (the batch adds a path hash per same-named input).
MAX_SAME_NAME = 64
#: Folders searched below the images folder for a row's image.
MAX_WALK_DIRS = 2000


def candidate_stems(folder: Path, file: str) -> list[str]:
    """Output stems the batch may have given an input named `file`, plainest first."""
    name = Path(file).name
    hashed = islice(folder.glob(glob.escape(name) + "-*.row.json"), MAX_SAME_NAME)
    return list(dict.fromkeys([Path(name).stem, name] + sorted(p.name[: -len(".row.json")] for p in hashed)))


def same_row(recorded: dict, row, fields) -> bool:
    """Whether a completion marker's recorded row is this summary row: every column equal as
    summary.csv reads it (numbers as floats, blank as NaN)."""
    for k in fields:
        a, b = recorded.get(k, ""), row[k]
        if isinstance(b, float):
            try:
                a = math.nan if str(a).strip() == "" else float(a)
            except ValueError:
                return False
            if not (a == b or (math.isnan(a) and math.isnan(b))):
                return False
        elif str(a) != str(b):
            return False
    return True


def same_name_files(where: Path, name: str):
    """where/name, then files of that name in where's subfolders (symlinked folders not entered,
    at most MAX_WALK_DIRS folders), in a stable order."""
    if (where / name).is_file():
        yield where / name
    for i, (d, dirs, files) in enumerate(os.walk(where)):
        if i >= MAX_WALK_DIRS:
            return
        dirs.sort()
        if i > 0 and name in files and (Path(d) / name).is_file():
            yield Path(d) / name
