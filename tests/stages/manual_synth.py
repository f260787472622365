"""Generated documents unlike the demo corpus: man pages, system manuals and fortune files.

What they hold is what tokenizers disagree on: Unix paths (``/etc/apt/sources.list``), options
(``-c``, ``--dev=FILE``), e-mail addresses, URLs, version strings, the hyphen ``man`` puts at a line
break (``infor-`` / ``mation``), runs of underscores (form lines, ``__init__``), section references
(``ls(1)``) and quotation attributions (``-- Mark Twain``). The density of each is drawn per document,
so that ratios such as the share of words with a letter land on both sides of their thresholds.
"""

from __future__ import annotations

import random

WORDS = (
    "the of and to with that be have file directory system package user option command list print show "
    "default value output input program mode version entries information error standard current report "
    "configuration network device kernel module install remove update server client process signal time "
    "format line number name owner group permission access memory disk archive manual page section"
).split()
COMMANDS = "ls cp mv tar apt-get dpkg grep sed awk mount ssh rsync chmod chown find xargs sort uniq man".split()
DIRS = "etc usr share doc lib bin var log local sbin opt home tmp proc sys dev boot".split()
FILES = (
    "passwd fstab sources.list README.gz config.h hosts interfaces syslog bashrc profile".split()
)
DOMAINS = "debian.org gnu.org lists.debian.org example.com kernel.org".split()
AUTHORS = [
    "Mark Twain",
    "Oscar Wilde",
    "Benjamin Franklin",
    "Ambrose Bierce",
    "Dorothy Parker",
    "H. L. Mencken",
]
WIDTH = 72


def path(rng: random.Random) -> str:
    parts = [rng.choice(DIRS) for _ in range(rng.randint(1, 4))]
    return (
        rng.choice(["/", "/", "~/", "$HOME/"])
        + "/".join(parts)
        + rng.choice(["", "/", "/" + rng.choice(FILES)])
    )


def option(rng: random.Random) -> str:
    name = rng.choice(WORDS)
    return rng.choice(
        [
            f"-{name[0]}",
            f"--{name}",
            f"--{name}={rng.choice(WORDS).upper()}",
            f"-{name[:2]}",
            f"--no-{name}",
            f"-{name[0]} {rng.choice(WORDS).upper()}",
        ]
    )


def email(rng: random.Random) -> str:
    user = rng.choice(
        [
            rng.choice(WORDS),
            f"{rng.choice(WORDS)}-{rng.choice(WORDS)}",
            f"{rng.choice(WORDS)}.{rng.choice(WORDS)}",
        ]
    )
    return rng.choice(["{}", "<{}>", "({})"]).format(f"{user}@{rng.choice(DOMAINS)}")


def technical(rng: random.Random) -> str:
    """One token a man page or manual is full of."""
    kind = rng.randrange(9)
    if kind == 0:
        return path(rng)
    if kind == 1:
        return option(rng)
    if kind == 2:
        return email(rng)
    if kind == 3:
        return f"https://www.{rng.choice(DOMAINS)}/{rng.choice(WORDS)}/"
    if kind == 4:
        return f"{rng.choice(COMMANDS)}({rng.choice('158')})"
    if kind == 5:
        return f"{rng.randint(1, 5)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}-{rng.randint(1, 9)}"
    if kind == 6:
        return rng.choice(
            [
                "_" * rng.randint(3, 30),
                f"__{rng.choice(WORDS)}__",
                f"{rng.choice(WORDS)}_{rng.choice(WORDS)}",
            ]
        )
    if kind == 7:
        return rng.choice(
            [
                "[OPTION]...",
                "[FILE]...",
                "<file>",
                "{start|stop}",
                "e.g.",
                "i.e.",
                "etc.",
                "0x1F",
                "2>&1",
            ]
        )
    return rng.choice(COMMANDS)


def sentence(rng: random.Random, density: float) -> str:
    text = " ".join(
        technical(rng) if rng.random() < density else rng.choice(WORDS)
        for _ in range(rng.randint(5, 18))
    )
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", ":", ";", "", "?"])


def fill(text: str, indent: int, rng: random.Random, hyphenate: float) -> list[str]:
    """Lines of at most ``WIDTH`` characters, some long words broken with a hyphen as man does."""
    lines, current = [], " " * indent
    for word in text.split():
        if len(current) + len(word) + 1 > WIDTH:
            if len(word) > 6 and word.isalpha() and rng.random() < hyphenate:
                cut = rng.randint(3, len(word) - 3)
                lines.append(f"{current} {word[:cut]}-")
                current = " " * indent + word[cut:]
                continue
            lines.append(current)
            current = " " * indent + word
        else:
            current = f"{current} {word}" if current.strip() else current + word
    return lines + [current]


def man_page(rng: random.Random) -> str:
    command = rng.choice(COMMANDS)
    density, hyphenate = rng.uniform(0.0, 0.15), rng.uniform(0, 0.8)
    header = f"{command.upper()}({rng.choice('158')}){' ' * 20}User Commands{' ' * 20}{command.upper()}(1)"
    lines = [
        header,
        "",
        "NAME",
        f"       {command} - {sentence(rng, 0)}",
        "",
        "SYNOPSIS",
        f"       {command} {option(rng)} [OPTION]... [FILE]...",
        "",
        "DESCRIPTION",
    ]
    for _ in range(rng.randint(1, 4)):
        lines += fill(
            " ".join(sentence(rng, density) for _ in range(rng.randint(1, 4))), 7, rng, hyphenate
        ) + [""]
    for _ in range(rng.randint(0, 12)):
        lines += [f"       {option(rng)}, {option(rng)}"]
        lines += fill(sentence(rng, density), 14, rng, hyphenate) + [""]
    lines += [
        "FILES",
        *(f"       {path(rng)}" for _ in range(rng.randint(0, 4))),
        "",
        "AUTHOR",
        f"       Written by {rng.choice(AUTHORS)} {email(rng)}.",
        "",
        "SEE ALSO",
        "       " + ", ".join(technical(rng) for _ in range(rng.randint(1, 5))),
    ]
    return "\n".join(lines)


def manual_section(rng: random.Random) -> str:
    """A section of a handbook: prose paragraphs with commands, paths and addresses inline, a code listing."""
    density = rng.uniform(0.0, 0.15)
    paragraphs = [f"{rng.randint(1, 12)}.{rng.randint(1, 9)}. {sentence(rng, 0).rstrip('.:;?')}"]
    for _ in range(rng.randint(1, 6)):
        paragraphs.append(" ".join(sentence(rng, density) for _ in range(rng.randint(2, 6))))
        if rng.random() < 0.4:
            paragraphs.append(
                "\n".join(
                    f"# {rng.choice(COMMANDS)} {option(rng)} {path(rng)}"
                    for _ in range(rng.randint(1, 5))
                )
            )
        if rng.random() < 0.2:
            paragraphs.append(
                "Name: " + "_" * rng.randint(10, 40) + "\nDate: " + "_" * rng.randint(10, 20)
            )
    return "\n\n".join(paragraphs)


def fortunes(rng: random.Random) -> str:
    """A few fortune-file entries, separated by '%' lines, some with an attribution."""
    entries = []
    for _ in range(rng.randint(1, 12)):
        text = "\n".join(
            fill(
                " ".join(sentence(rng, rng.uniform(0, 0.1)) for _ in range(rng.randint(1, 3))),
                0,
                rng,
                0,
            )
        )
        if rng.random() < 0.6:
            text += f"\n\t\t{rng.choice(['--', '-- ', '- '])}{rng.choice(AUTHORS)}"
        entries.append(text)
    return "\n%\n".join(entries)


KINDS = (man_page, man_page, manual_section, manual_section, fortunes)


def manual_corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(KINDS)(rng) for _ in range(n)]
