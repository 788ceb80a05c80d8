"""Progress reports and log messages shared by every engine.

Long calls take ``progress=`` (functions) or ``verbose=`` (scikit-learn style
estimators).  A :class:`Progress` draws a one-line bar on stderr when stderr is
a terminal and ``progress`` is true, prints plain lines (at most one every
``interval`` seconds) when ``verbose`` asks for them, and always sends its
messages to ``logging.getLogger("ridgeline.<engine>")`` at DEBUG level (INFO for
the final line), so a pipeline can capture them with the logging module
without any output on a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

__all__ = ["Progress", "get_logger"]


def get_logger(engine: str) -> logging.Logger:
    """The logger of one engine: ``logging.getLogger("ridgeline.<engine>")``."""
    return logging.getLogger(f"ridgeline.{engine}")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class Progress:
    """One progress report.

    Parameters
    ----------
    engine : str
        Engine name, for the logger ``ridgeline.<engine>``.
    desc : str
        What is running (shown before the bar and in log records).
    total : float or None
        The value of ``update(done=...)`` at completion; None when unknown
        (the bar then shows the fields only).
    progress : bool
        Draw a bar on ``stream`` when it is a terminal (nothing otherwise).
    verbose : int
        With ``verbose >= 1`` print a plain line every ``interval`` seconds
        (and the final one) whether or not the stream is a terminal.
    stream : file, optional
        Default ``sys.stderr`` (looked up at construction).
    interval : float
        Least time between two drawn updates (the log gets every update at
        DEBUG level only if the logger is enabled for DEBUG).
    """

    def __init__(
        self,
        engine: str,
        desc: str,
        total: float | None = None,
        *,
        progress: bool = False,
        verbose: int = 0,
        stream: IO[str] | None = None,
        interval: float = 0.1,
    ) -> None:
        self.logger = get_logger(engine)
        self.desc = desc
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.bar = bool(progress) and _isatty(self.stream)
        self.lines = int(verbose) >= 1 and not self.bar
        self.interval = float(interval) if self.bar else max(float(interval), 1.0)
        self._last = -float("inf")
        self._drawn = False
        self._start = time.perf_counter()
        self.n_updates = 0

    @property
    def active(self) -> bool:
        """Whether anything is shown or logged (lets callers skip building messages)."""
        return self.bar or self.lines or self.logger.isEnabledFor(logging.DEBUG)

    def _text(self, done: float | None, fields: dict[str, Any]) -> str:
        parts = []
        for key, value in fields.items():
            if isinstance(value, float):
                parts.append(f"{key} {value:.4g}")
            else:
                parts.append(f"{key} {value}")
        info = " | ".join(parts)
        if self.bar and self.total and done is not None:
            frac = min(max(done / self.total, 0.0), 1.0)
            k = int(round(24 * frac))
            return f"\r{self.desc} [{'#' * k}{'-' * (24 - k)}] {100 * frac:5.1f}% | {info}"
        if self.bar:
            return f"\r{self.desc} | {info}"
        if self.total and done is not None:
            return f"{self.desc}: {100 * min(max(done / self.total, 0.0), 1.0):5.1f}% | {info}"
        return f"{self.desc}: {info}"

    def update(self, done: float | None = None, **fields: Any) -> None:
        """Report progress ``done`` (out of ``total``) and named fields."""
        self.n_updates += 1
        now = time.perf_counter()
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("%s", self._text(done, fields).lstrip("\r"))
        if (self.bar or self.lines) and now - self._last >= self.interval:
            self._last = now
            text = self._text(done, fields)
            if self.bar:
                self.stream.write(text + "\x1b[K")
                self._drawn = True
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def close(self, message: str | None = None, **fields: Any) -> None:
        """Finish: the final line on the stream (when shown) and an INFO log record."""
        elapsed = time.perf_counter() - self._start
        text = self._text(None, {**fields, "time": f"{elapsed:.2f} s"}).lstrip("\r")
        if message:
            text = f"{text} | {message}"
        self.logger.info("%s", text)
        if self.bar:
            self.stream.write(("\r" if self._drawn else "") + text + "\x1b[K\n")
            self.stream.flush()
        elif self.lines:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        elif self.bar and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
