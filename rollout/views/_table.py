"""Rich tables as lines, so a view returns `list[str]` like every other view and the command
writes them through the same pipe-safe sink."""

from __future__ import annotations

from typing import Any


def lines(table: Any) -> list[str]:
    from rollout.output import console

    con = console()
    with con.capture() as cap:
        con.print(table)
    return cap.get().rstrip("\n").split("\n")


def new(*columns: str, right: tuple[str, ...] = (), wrap: tuple[str, ...] = ()) -> Any:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(
            col,
            justify="right" if col in right else "left",
            no_wrap=col not in wrap,
            overflow="fold",
        )
    return table
