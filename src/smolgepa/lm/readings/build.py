"""The reading an engine's settings name, built over a model's `LabelScoring` (`build_method`), and
what of those settings enters cache keys (`method_key_extras`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smolgepa.lm.readings.fit_memory import FitMemory, train_digest  # noqa: F401 - train_digest re-exported
from smolgepa.lm.readings.reading import FITTED_MODES
from smolgepa.lm.readings.protocol import LabelScoring, Messages, ScoringMethod
from smolgepa.lm.readings.scored import DirectMethod


def build_method(settings: Any, scorer: LabelScoring, prior: Callable[[Messages], dict[str, float]],
                 hidden: Callable[[Messages], Any] | None = None,
                 memories: dict[tuple[Any, ...], Any] | None = None, fits: FitMemory | None = None) -> ScoringMethod:
    """The method `settings.decode` names (scored, channel, knn, probe, hidden, stack, hidden-figures,
    ensemble), wrapped in training-split calibration when `settings.calibrate` and
    `settings.calibration == "train"`.
    `hidden` gives a prompt's hidden-state features (`local.hidden_states.HiddenStates.features`).
    `memories`, kept by the engine, lets the fitted readings share their anchors: knn, probe and stack
    read the same answer distributions, hidden, stack and hidden-figures the same hidden states, each computed once.
    `fits`, kept by the engine too, holds what the readings fit per prompt (anchors, read-outs,
    offsets), so that it can be saved with a run and restored (`smolgepa.lm.fit_file`)."""
    labels = settings.labels
    train = tuple(settings.train_examples)
    memory = _shared_memories(memories, fits, scorer, hidden, labels, train)
    from_train = settings.calibrate and settings.calibration == "train"
    method: ScoringMethod
    if settings.decode == "scored":
        method = DirectMethod(scorer, labels, prior if settings.calibrate and not from_train else None)
    elif settings.decode == "channel":
        from smolgepa.lm.readings.channel import ChannelMethod

        method = ChannelMethod(scorer, labels)
    elif settings.decode == "knn":
        from smolgepa.lm.readings.knn import KnnMethod

        method = KnnMethod(scorer, labels, train, settings.knn_k, memory("distributions"))
    elif settings.decode == "probe":
        from smolgepa.lm.readings.probe import ProbeMethod

        method = ProbeMethod(scorer, labels, train, memory("distributions"))
    elif settings.decode == "hidden":
        from smolgepa.lm.readings.hidden import HiddenProbeMethod

        if hidden is None:
            raise ValueError("the hidden reading needs the model's hidden states (the embedded student)")
        method = HiddenProbeMethod(hidden, labels, train, memory("states"))
    elif settings.decode == "stack":
        from smolgepa.lm.readings.stack import StackMethod

        if hidden is None:
            raise ValueError("the stack reading needs the model's hidden states (the embedded student)")
        method = StackMethod(scorer, hidden, labels, train, settings.knn_k,
                             memory("distributions"), memory("states"))
    elif settings.decode == "hidden-figures":
        from smolgepa.lm.readings.hidden_figures import HiddenFiguresMethod

        if hidden is None:
            raise ValueError("the hidden-figures reading needs the model's hidden states (the embedded student)")
        method = HiddenFiguresMethod(hidden, labels, train, memory("states"))
    elif settings.decode == "ensemble":
        from smolgepa.lm.readings.ensemble import EnsembleMethod

        method = EnsembleMethod(scorer, labels, train, settings.ensemble_k, settings.seed)
    else:
        raise ValueError(f"decode mode {settings.decode!r} is not a scoring method")
    if from_train:
        from smolgepa.lm.readings.train_calibration import TrainCalibrated

        base = settings.decode if settings.decode != "ensemble" else f"ensemble-{settings.ensemble_k}-{settings.seed}"
        method = TrainCalibrated(method, labels, train, fits, base)
    return method


def _shared_memories(memories: dict[tuple[Any, ...], Any] | None, fits: FitMemory | None, scorer: Any,
                     hidden: Any, labels: Sequence[str], train: tuple[tuple[str, str], ...]) -> Callable[[str], Any]:
    """`memory(kind)`: the engine's anchor memory of this kind ("distributions", "states") for these
    labels and training examples, made on first use (in `fits`); None (each method makes its own)
    with neither `memories` nor `fits`."""

    def memory(kind: str) -> Any:
        if memories is None and fits is None:
            return None
        from smolgepa.lm.readings.hidden import state_memory
        from smolgepa.lm.readings.knn import AnchorMemory

        key = (kind, tuple(labels), train_digest(train))
        kept = memories if memories is not None else {}
        if key not in kept:
            kept[key] = (AnchorMemory(scorer, labels, train, fits=fits) if kind == "distributions"
                         else state_memory(hidden, labels, train, fits))
        return kept[key]

    return memory


def uses_train(settings: Any) -> bool:
    """True when the settings' method reads the training split (knn, ensemble, calibration "train")."""
    return settings.decode in (*FITTED_MODES, "ensemble") or (settings.calibrate and settings.calibration == "train")


def method_key_extras(settings: Any, extras: Mapping[str, Any], optional: Sequence[str] = ()) -> dict[str, Any]:
    """`extras` (settings fields) cut to what decides the method's answers: a setting the method does
    not use is left out, so the cache keys of `free`, `constrained`, `scored` and content-free
    calibration stay what they were before these settings existed; the training examples enter as a
    sha256 digest. `optional` names further fields kept only for the ensemble (a server's `seed`)."""
    dropped = ("calibration", "train_examples", "knn_k", "ensemble_k", *optional)
    kept = {k: v for k, v in extras.items() if k not in dropped}
    if settings.calibrate and settings.calibration != "content-free":
        kept["calibration"] = settings.calibration
    if uses_train(settings):
        kept["train_examples"] = train_digest(settings.train_examples)
    if settings.decode in ("knn", "stack"):
        kept["knn_k"] = settings.knn_k
    if settings.decode == "ensemble":
        kept["ensemble_k"] = settings.ensemble_k
        kept.update({name: extras[name] for name in optional if name in extras})
    return kept
