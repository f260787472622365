"""Writes requirements.lock: every package pinned, with the sha256 of each wheel pip would take.

``make lock`` runs it after installing every extra: the pins are what is installed. With
``--pins FILE`` the pins are those of FILE instead (a lock whose pins were edited by hand, hashes
missing). It downloads the pinned wheels (from the package registries and the local wheel folders
pip is configured with) and hashes them, so that ``make venv`` installs with ``--require-hashes``.
"""

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = """\
# The CPU install, every package pinned with its sha256 (pip's hash-checking mode): `make venv` installs
# it with --require-hashes. Written by `make lock`; a GPU host installs differently (README, "GPU hosts").
"""
PIP = [sys.executable, "-m", "pip"]


def installed_pins() -> list[str]:
    frozen = subprocess.run(
        [*PIP, "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    )
    return [
        line
        for line in frozen.stdout.splitlines()
        if "==" in line and not line.startswith("critmix")
    ]


def file_pins(path: Path) -> list[str]:
    return [
        line.split()[0]
        for line in path.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def hashed_entry(pin: str, wheels: list[Path]) -> str:
    name, version = pin.split("==")
    files = [
        w
        for w in wheels
        if normalized(w.name.split("-")[0]) == normalized(name) and w.name.split("-")[1] == version
    ]
    if not files:
        sys.exit(f"no wheel downloaded for {pin}")
    hashes = sorted(hashlib.sha256(w.read_bytes()).hexdigest() for w in files)
    return " \\\n".join([pin, *(f"    --hash=sha256:{h}" for h in hashes)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pins", type=Path, help="take the pins of this file, not of the installed packages"
    )
    parser.add_argument(
        "--wheels",
        type=Path,
        help="download the wheels into this folder and keep them (default: a temporary one)",
    )
    args = parser.parse_args()
    pins = file_pins(args.pins) if args.pins else installed_pins()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.wheels or Path(scratch)
        (Path(scratch) / "pins.txt").write_text("\n".join(pins) + "\n")
        subprocess.run(
            [
                *PIP,
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-r",
                f"{scratch}/pins.txt",
                "-d",
                str(folder),
            ],
            check=True,
        )
        wheels = list(Path(folder).glob("*.whl"))
        entries = [hashed_entry(pin, wheels) for pin in pins]
    Path("requirements.lock").write_text(HEADER + "\n".join(entries) + "\n")
    print(f"requirements.lock: {len(entries)} packages pinned with their hashes")


if __name__ == "__main__":
    main()
