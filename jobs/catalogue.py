"""Prints the feature catalogue, or writes it into the README's feature table.

python -m jobs.catalogue [--env local]          # the table, as markdown
python -m jobs.catalogue --write-readme README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from transforms.feature_catalogue import Catalogue

START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"


def readme_with_catalogue(readme: str, catalogue: Catalogue) -> str:
    """The README text with the part between the catalogue markers replaced by the table."""
    if START not in readme or END not in readme:
        raise ValueError(f"the README needs the markers {START} and {END} around its feature table")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{catalogue.markdown()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import base_parser, load_from_args

    parser = base_parser(__doc__)
    parser.add_argument("--write-readme", metavar="README", help="update this README in place")
    args = parser.parse_args(argv)
    catalogue = Catalogue.from_conf(load_from_args(args).features)
    if args.write_readme:
        path = Path(args.write_readme)
        path.write_text(readme_with_catalogue(path.read_text(), catalogue))
        print(f"wrote the feature table into {path}")
    else:
        print(catalogue.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
