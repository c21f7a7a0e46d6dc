"""A classifier's reading fit, saved beside its run or program (`smolgepa.lm.fit_file`): restored into
the student's engine before the first answer, so a new process does not read the training split
again, and written back once answers had to fit anything (no saved fit, another model file, another
reading or instruction, a damaged file). That refit is announced in one line saying why.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.fit_file import FitHeader, fits_of, header_for, read_fits, write_fits


def print_note(line: str) -> None:
    """The default way a classifier says something: one line on standard error."""
    print(line, file=sys.stderr, flush=True)


class SavedFit:
    """The fit file of one classifier (`attach` it to the student's engine, call `save_new` after answers)."""

    def __init__(self, path: Path, instruction: str, on_note: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.instruction = instruction
        self.on_note = on_note or print_note
        self.reason = ""  # why the saved fit did not serve (empty: it did, or nothing was fitted yet)
        self._engine: Any = None
        self._header: FitHeader | None = None
        self._saved = 0  # the fit memory's `computed` count when last restored or written
        self._lock = threading.Lock()

    def attach(self, engine: Any) -> None:
        """Restore the saved fit into `engine`'s fit memory when it was made for this model, reading and
        instruction; otherwise remember why, to say it when the first fit starts."""
        fits = fits_of(engine)
        if fits is None:  # a server student or another engine: nothing kept per prompt to restore
            return
        self._engine = engine
        if self.path.is_file():
            values, self.reason = read_fits(self.path, self.header())
            if values is not None:
                fits.restore(values)
                self.reason = f"the saved fit {self.path.name} holds no fit for this reading"
        else:
            self.reason = f"no saved fit ({self.path.name})"
        fits.on_fit = self._first_fit
        self._saved = fits.computed

    def header(self) -> FitHeader:
        """What this classifier's fit holds for (the model file's sha256 is read once)."""
        if self._header is None:
            self._header = header_for(self._engine, self.instruction)
        return self._header

    def save_new(self) -> None:
        """Write the fit memory when answers fitted something since it was restored or last written."""
        fits = fits_of(self._engine) if self._engine is not None else None
        if fits is None or fits.computed == self._saved:
            return
        with self._lock:
            if fits.computed == self._saved:
                return
            computed = fits.computed
            try:
                write_fits(self.path, self.header(), fits.snapshot())
            except (OSError, SmolgepaError) as exc:
                self.on_note(f"smolgepa: could not save the reading fit to {self.path} ({exc}); "
                             "the next start fits it again.")
            self._saved = computed

    def _first_fit(self, key: Any) -> None:
        fits = fits_of(self._engine)
        if fits is not None:
            fits.on_fit = None  # one line per classifier
        self.on_note(f"smolgepa: fitting the reading on the training split: {self.reason}; "
                     f"it is saved to {self.path} for the next start.")
