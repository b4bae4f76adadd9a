"""Old ASCII MSH 2 files that number their nodes from 0.

Node tag 0 is not a valid gmsh tag: gmsh renumbers that node onto another
node's tag, and meshio (which subtracts 1 from every tag) sends it to the last
node, so both read such a file as a wrong mesh without a word. gmsh's own
``benchmarks/misc/partitions.msh`` is one. Here a copy of the file with every
node tag shifted by one (``$Nodes``, the node lists of ``$Elements`` and the
node tags of ``$NodeData``) is written for gmsh to read instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional


def _is_ascii_msh2(lines: List[str]) -> bool:
    if len(lines) < 2 or lines[0].strip() != "$MeshFormat":
        return False
    fields = lines[1].split()
    return len(fields) >= 2 and fields[0].startswith("2") and fields[1] == "0"


def _shift_nodes(lines: List[str], start: int) -> int:
    count = int(lines[start].split()[0])
    for i in range(start + 1, start + 1 + count):
        tag, rest = lines[i].split(None, 1)
        lines[i] = f"{int(tag) + 1} {rest}"
    return start + 1 + count


def _shift_elements(lines: List[str], start: int) -> int:
    count = int(lines[start].split()[0])
    for i in range(start + 1, start + 1 + count):
        fields = lines[i].split()
        first_node = 3 + int(fields[2])
        fields[first_node:] = [str(int(v) + 1) for v in fields[first_node:]]
        lines[i] = " ".join(fields)
    return start + 1 + count


def _shift_node_data(lines: List[str], start: int) -> int:
    i = start
    for _ in range(2):  # string tags, then real tags: a count and that many lines
        i += 1 + int(lines[i].split()[0])
    num_int = int(lines[i].split()[0])
    entries = int(lines[i + 3].split()[0]) if num_int >= 3 else 0
    i += 1 + num_int
    for j in range(i, i + entries):
        tag, rest = lines[j].split(None, 1)
        lines[j] = f"{int(tag) + 1} {rest}"
    return i + entries


def renumbered_copy(path: Path, folder: Path) -> Optional[Path]:
    """A copy of an ASCII MSH 2 file with node tags counted from 1, or None if it needs none.

    Parameters
    ----------
    path : Path
        The .msh file.
    folder : Path
        Where to write the copy.

    Returns
    -------
    Path or None
        The copy, when ``path`` is an ASCII MSH 2 file with a node tagged 0.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError):
        return None
    if not _is_ascii_msh2(lines):
        return None
    try:
        start = lines.index("$Nodes") + 1
        if not any(int(line.split()[0]) == 0 for line in lines[start + 1:start + 1 + int(lines[start].split()[0])]):
            return None
        shifted = list(lines)
        i = 0
        while i < len(shifted):
            section = shifted[i].strip()
            if section == "$Nodes":
                i = _shift_nodes(shifted, i + 1)
            elif section == "$Elements":
                i = _shift_elements(shifted, i + 1)
            elif section == "$NodeData":
                i = _shift_node_data(shifted, i + 1)
            else:
                i += 1
    except (ValueError, IndexError):
        return None  # malformed: let gmsh report it
    copy = folder / path.name
    copy.write_text("\n".join(shifted) + "\n", encoding="utf-8")
    return copy
