"""Long <-> wide conversions: a long (date, symbol, value) frame as a sessions x symbols float64 matrix and back."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl


@dataclasses.dataclass(frozen=True)
class Panel:
    """The session calendar and symbol axis of a long frame, with each row's flat position session * symbols + symbol."""

    dates: pl.Series
    symbols: pl.Series
    cell: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(sessions, symbols)."""
        return self.dates.len(), self.symbols.len()

    def wide(self, values: pl.Series) -> np.ndarray:
        """A sessions x symbols float64 matrix of one column of the long frame, NaN where there is no row."""
        out = np.full(self.shape, np.nan)
        out.reshape(-1)[self.cell] = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
        return out

    def long(self, matrix: np.ndarray) -> np.ndarray:
        """The values of a sessions x symbols matrix at each row of the long frame, in row order."""
        values: np.ndarray = np.take(np.ascontiguousarray(matrix).reshape(-1), self.cell)
        return values


def panel_of(frame: pl.DataFrame) -> Panel:
    """Index a long frame by its session calendar (sorted unique dates) and sorted unique symbols."""
    dates = session_calendar(frame)
    symbols = frame.get_column("symbol").unique().sort()
    session = _date_positions(frame.get_column("date"), dates)
    symbol = frame.get_column("symbol").cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.int64)
    return Panel(dates=dates, symbols=symbols, cell=session * symbols.len() + symbol)


def _date_positions(column: pl.Series, calendar: pl.Series) -> np.ndarray:
    """Where each date of column sits on the calendar, by a lookup table over day numbers (O(rows), no search)."""
    days = calendar.to_physical().to_numpy().astype(np.int64)
    wanted = column.to_physical().to_numpy().astype(np.int64)
    if days.size == 0:
        return wanted
    lookup = np.full(int(days[-1] - days[0]) + 1, -1, dtype=np.int64)
    lookup[days - days[0]] = np.arange(days.size)
    positions: np.ndarray = lookup[wanted - days[0]]
    return positions


def session_calendar(frame: pl.DataFrame) -> pl.Series:
    """The sorted unique dates of a long frame: session index i is the i-th of them."""
    return frame.get_column("date").unique().sort()


def forward_fill(x: np.ndarray) -> np.ndarray:
    """Each column's last finite positive value carried forward over gaps (NaN before the first one)."""
    rows = np.where(np.isfinite(x) & (x > 0), np.arange(x.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = x[rows, np.arange(x.shape[1])]
    filled[~(np.isfinite(filled) & (filled > 0))] = np.nan
    return filled
