"""Rebuild the bundled CJK font subset (``make font`` / ``python -m labeler.explicit.build_font``).

Fetches Debian's ``fonts-noto-cjk`` package *without installing it* (``apt-get download`` into a
temporary directory, then ``dpkg-deb -x``), takes the Noto Sans CJK SC Bold face out of
``NotoSansCJK-Bold.ttc``, subsets it with fontTools to :data:`LABEL_WORDINGS` plus printable ASCII,
and writes into ``labeler/explicit/fonts/``:

* ``NotoSansCJKsc-Bold-subset.otf`` (CFF outlines, like the source),
* ``OFL.txt`` (the font's copyright notice and the SIL Open Font License 1.1 text from the package),
* ``PROVENANCE.md`` (package, version, source file, date, character set, command).

fontTools is a development dependency only; the runtime never imports this module.
To support a new wording, add it to :data:`LABEL_WORDINGS` and rerun.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "fonts-noto-cjk"
SOURCE_IN_PACKAGE = "usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
COPYRIGHT_IN_PACKAGE = "usr/share/doc/fonts-noto-cjk/copyright"
#: PostScript name of the face taken out of the collection.
FACE_PS_NAME = "NotoSansCJKsc-Bold"
OUTPUT_STEM = "NotoSansCJKsc-Bold-subset"
FONTS_DIR = Path(__file__).resolve().parent / "fonts"

#: Every wording the bundled font must be able to draw. Add new wordings here and rerun the build.
LABEL_WORDINGS: tuple[str, ...] = (
    "AI生成",
    "人工智能生成",
    "人工智能合成",
    "AI合成",
    "疑似AI生成",
    "可能为AI生成",
    "疑似人工智能生成",
    "可能为人工智能生成",
    "内容由AI生成",
    "本内容由人工智能生成",
    "用户声明",
    "含AI生成内容",
    "深度合成",
    "，。：（）·-",
)

#: Printable ASCII, U+0020..U+007E.
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))

#: OpenType layout features kept (horizontal CJK/Latin text needs nothing more).
LAYOUT_FEATURES = ("ccmp", "locl", "kern", "liga", "palt")
#: Vertical-writing and other tables a horizontal label never uses.
DROP_TABLES = ("VORG", "vhea", "vmtx", "BASE", "DSIG")


def character_set() -> str:
    """The exact, sorted set of characters in the subset."""
    chars = set(PRINTABLE_ASCII)
    for wording in LABEL_WORDINGS:
        chars.update(wording)
    return "".join(sorted(chars))


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr.strip()}")
    return result.stdout


def download_deb(workdir: Path) -> Path:
    """``apt-get download`` the package into *workdir*; runs ``apt-get update`` once if needed."""
    try:
        _run(["apt-get", "download", PACKAGE], cwd=workdir)
    except SystemExit:
        print("apt-get download failed; running apt-get update and retrying", file=sys.stderr)
        _run(["apt-get", "update"])
        _run(["apt-get", "download", PACKAGE], cwd=workdir)
    debs = sorted(workdir.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        raise SystemExit(f"apt-get download produced no {PACKAGE} .deb in {workdir}")
    return debs[-1]


def deb_field(deb: Path, name: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), name]).strip()


def ofl_text(copyright_file: str, font_copyright: str) -> str:
    """The SIL OFL 1.1 text from the Debian copyright file, preceded by the font's copyright notice."""
    lines = copyright_file.splitlines()
    try:
        start = next(
            i
            for i, line in enumerate(lines)
            if line.strip() == "License: SIL-1.1" and i + 1 < len(lines) and lines[i + 1].startswith(" ")
        )
    except StopIteration:
        raise SystemExit("no 'License: SIL-1.1' paragraph in the package's copyright file") from None
    body: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        text = line[1:]
        body.append("" if text.strip() == "." else text)
    return (
        f"{font_copyright}\n\n"
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n"
        "This license is copied below, and is also available with a FAQ at:\n"
        "https://openfontlicense.org\n\n" + "\n".join(body).rstrip() + "\n"
    )


def subset_face(ttc_path: Path, out_path: Path) -> tuple[int, str, str]:
    """Subset the SC Bold face of *ttc_path* into *out_path*. Returns (face index, font version, copyright)."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(ttc_path), lazy=True)
    index = next((i for i, font in enumerate(collection.fonts) if font["name"].getDebugName(6) == FACE_PS_NAME), None)
    if index is None:
        raise SystemExit(f"{ttc_path} holds no face named {FACE_PS_NAME}")
    font = collection.fonts[index]
    version = font["name"].getDebugName(5) or "?"
    notice = font["name"].getDebugName(0) or ""

    options = subset.Options()
    options.layout_features = list(LAYOUT_FEATURES)
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True  # a visible box if a caller ever renders a missing character
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    options.name_languages = [0x409]
    options.drop_tables = [*options.drop_tables, *DROP_TABLES]
    options.recalc_timestamp = False  # keep the build reproducible
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(text=character_set())
    subsetter.subset(font)
    font.flavor = None
    font.recalcTimestamp = False  # head.modified stays the upstream value: rebuilds are byte-identical
    buffer = io.BytesIO()
    font.save(buffer)
    out_path.write_bytes(buffer.getvalue())
    return index, version, notice


def provenance(
    *, package: str, version: str, face_index: int, font_version: str, out_name: str, digest: str, size: int
) -> str:
    chars = character_set()
    escaped = ", ".join(f"U+{ord(c):04X}" for c in chars if ord(c) > 0x7E)
    wordings = "\n".join(f"- `{w}`" for w in LABEL_WORDINGS)
    return f"""# Provenance of the bundled font

| | |
|---|---|
| file | `{out_name}` ({size} bytes, SHA-256 `{digest}`) |
| package | Debian `{package}` version `{version}` (fetched with `apt-get download`, not installed) |
| source file | `/{SOURCE_IN_PACKAGE}`, face #{face_index} (`{FACE_PS_NAME}`, {font_version}) |
| licence | SIL Open Font License 1.1, see `OFL.txt` |
| built | {_dt.date.today().isoformat()} |
| command | `python -m labeler.explicit.build_font` (also `make font`) |

Subsetting (fontTools.subset): hinting dropped, CFF desubroutinized, `.notdef` outline kept, layout
features kept: {", ".join(LAYOUT_FEATURES)}; tables dropped: {", ".join(DROP_TABLES)}.

## Character set ({len(chars)} characters)

Printable ASCII (U+0020..U+007E) plus every character of these wordings
(`LABEL_WORDINGS` in `labeler/explicit/build_font.py`):

{wordings}

Exact set:

```
{chars}
```

Non-ASCII code points: {escaped}
"""


def build(out_dir: Path, deb: Path | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labeler-font-") as tmp:
        work = Path(tmp)
        deb_path = deb if deb is not None else download_deb(work)
        package = deb_field(deb_path, "Package")
        version = deb_field(deb_path, "Version")
        root = work / "root"
        _run(["dpkg-deb", "-x", str(deb_path), str(root)])
        ttc = root / SOURCE_IN_PACKAGE
        if not ttc.is_file():
            raise SystemExit(f"{SOURCE_IN_PACKAGE} not found in {deb_path.name}")
        out_path = out_dir / f"{OUTPUT_STEM}.otf"
        face_index, font_version, notice = subset_face(ttc, out_path)
        copyright_text = (root / COPYRIGHT_IN_PACKAGE).read_text(encoding="utf-8")
        (out_dir / "OFL.txt").write_text(ofl_text(copyright_text, notice), encoding="utf-8")
    data = out_path.read_bytes()
    (out_dir / "PROVENANCE.md").write_text(
        provenance(
            package=package,
            version=version,
            face_index=face_index,
            font_version=font_version,
            out_name=out_path.name,
            digest=hashlib.sha256(data).hexdigest(),
            size=len(data),
        ),
        encoding="utf-8",
    )
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labeler.explicit.build_font", description="Rebuild the bundled CJK font subset."
    )
    parser.add_argument("--out-dir", type=Path, default=FONTS_DIR, help="where to write (default: the package)")
    parser.add_argument("--deb", type=Path, help="use this already downloaded fonts-noto-cjk .deb")
    args = parser.parse_args(argv)
    out = build(args.out_dir, args.deb)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(character_set())} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
