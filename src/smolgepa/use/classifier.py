"""Use what was optimized: `clf = smolgepa.load(RUN_DIR); clf("text")` answers with a label.

`clf(x)` returns the label (None when the student's answer names none); `clf.predict(x)` the whole
`Answer` (label, label scores when the decode mode has them, the raw completion, how the label was
read); `clf.batch(xs)` a list of Answers, in order. `x` is the text for a text task; for a trace task a
trace (`smolgepa.traces.Trace`, or its JSON object `{"task": ..., "turns": [...]}`), rendered the way
the run rendered its traces. The model loads on the first answer. What the reading fitted is read from
beside the run or program.json (`saved_fit`), and saved there after a refit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.use.optimized import Optimized, read_optimized
from smolgepa.lm.fit_file import fit_path
from smolgepa.use.saved_fit import SavedFit
from smolgepa.use.score_tap import collecting, label_scores, tapped


@dataclass(frozen=True)
class Answer:
    """One answer: the label (None if unreadable), the label scores the decode mode produced (None for
    `free` and `constrained`), the raw completion and how the label was read from it."""

    label: str | None
    scores: dict[str, float | None] | None
    raw: str
    parse_method: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label}
        if self.scores is not None:
            data["scores"] = self.scores
        data["raw"] = self.raw
        return data


class Classifier:
    """The best candidate of a run with its student: a callable from input to label (thread-safe)."""

    def __init__(self, optimized: Optimized, on_note: Callable[[str], None] | None = None) -> None:
        from smolgepa.adapter.program import make_program

        self.optimized = optimized
        self.task = optimized.task
        self.program = make_program(self.task, optimized.instruction)
        # what the reading fits (anchors, read-outs, offsets), saved beside the run or program.json
        # (a candidate read from no file, `source` "", saves nothing)
        self.saved_fit = SavedFit(fit_path(optimized.source), optimized.instruction, on_note) if optimized.source else None
        self._lm: Any = None
        self._lock = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return list(self.task.labels)

    @property
    def instruction(self) -> str:
        return self.optimized.instruction

    def __call__(self, value: Any) -> str | None:
        """The label for `value` (None when the answer names no label)."""
        return self.predict(value).label

    def predict(self, value: Any, where: str = "input") -> Answer:
        """The whole answer for `value`; `where` prefixes the error for an input that is not valid."""
        return self.answer(self.render(value, where))

    def answer(self, text: str) -> Answer:
        """The answer for a text as the student reads it (already rendered, see `render`)."""
        import dspy

        from smolgepa.adapter.plain_text import PARSE_FIELD, RAW_FIELD, PlainTextAdapter
        from smolgepa.adapter.program import OUTPUT_FIELD

        with collecting() as responses, dspy.context(lm=self.lm(), adapter=PlainTextAdapter()):
            output = self.program(input=text)
        if self.saved_fit is not None:
            self.saved_fit.save_new()
        return Answer(output.get(OUTPUT_FIELD), label_scores(responses, self.labels), output.get(RAW_FIELD) or "",
                      output.get(PARSE_FIELD) or "")

    def batch(self, values: Iterable[Any], threads: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[Answer]:
        """Answers for every value, in order; `threads` at once (default: the run's `threads`)."""
        items = list(values)
        workers = threads or self.optimized.settings.threads or 1
        done = 0
        counting = threading.Lock()

        def one(indexed: tuple[int, Any]) -> Answer:
            nonlocal done
            answer = self.predict(indexed[1], f"input {indexed[0] + 1}")
            with counting:
                done += 1
                if progress:
                    progress(done, len(items))
            return answer

        if workers <= 1:
            return [one(item) for item in enumerate(items)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, enumerate(items)))

    def render(self, value: Any, where: str = "input") -> str:
        """The text the student reads for `value`: the text itself, or a trace's transcript."""
        if self.task.input_format == "trace":
            from smolgepa.traces import Trace, parse_trace, render_trace

            trace = value if isinstance(value, Trace) else parse_trace(value, where)
            return render_trace(trace, mode=self.task.render, max_tokens=self.task.meta.get("max_input_tokens", 700))
        if not isinstance(value, str):
            raise SmolgepaError(f"{where}: the task {self.task.name} classifies text; got {type(value).__name__}.")
        if not value.strip():
            raise SmolgepaError(f"{where}: empty text.")
        return value.strip()

    def lm(self) -> Any:
        """The student as a DSPy LM (built once; the model itself loads on the first answer)."""
        with self._lock:
            if self._lm is None:
                from smolgepa.lm.student import Student
                from smolgepa.lm.options import train_pairs

                settings = self.optimized.settings
                student = Student(settings.student, settings.options(self.labels, train_pairs(self.task)))
                self._lm = tapped(student.lm())
                if self.saved_fit is not None:
                    self.saved_fit.attach(self._lm.engine)
            return self._lm

    def close(self) -> None:
        """Release the student (a loaded model, an HTTP pool); the next answer builds it again."""
        with self._lock:
            lm, self._lm = self._lm, None
        closer = getattr(lm.engine, "close", None) if lm is not None else None
        if callable(closer):
            closer()


def load(path: str | Path, task: str | Path | None = None, *, on_note: Callable[[str], None] | None = None,
         **settings: Any) -> Classifier:
    """A Classifier from a run directory or a program.json (see `smolgepa.use.optimized.read_optimized`);
    `settings` replace the run's student settings (`student=`, `decode=`, `threads=`, `cache=`, ...).
    `on_note` hears the one line said when the reading is fitted anew (default: standard error)."""
    return Classifier(read_optimized(path, task, **settings), on_note)
