"""The reading an engine's settings name, built over a model's `LabelScoring` (`build_method`), and
what of those settings enters cache keys (`method_key_extras`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smolgepa.lm.readings.reading import FITTED_MODES
from smolgepa.lm.readings.protocol import LabelScoring, Messages, ScoringMethod
from smolgepa.lm.readings.scored import DirectMethod


def build_method(settings: Any, scorer: LabelScoring, prior: Callable[[Messages], dict[str, float]],
                 hidden: Callable[[Messages], Any] | None = None) -> ScoringMethod:
    """The method `settings.decode` names (scored, channel, knn, probe, hidden, ensemble), wrapped in
    training-split calibration when `settings.calibrate` and `settings.calibration == "train"`.
    `hidden` gives a prompt's hidden-state features (`hidden_states.HiddenStates.features`)."""
    labels = settings.labels
    train = tuple(settings.train_examples)
    from_train = settings.calibrate and settings.calibration == "train"
    method: ScoringMethod
    if settings.decode == "scored":
        method = DirectMethod(scorer, labels, prior if settings.calibrate and not from_train else None)
    elif settings.decode == "channel":
        from smolgepa.lm.readings.channel import ChannelMethod

        method = ChannelMethod(scorer, labels)
    elif settings.decode == "knn":
        from smolgepa.lm.readings.knn import KnnMethod

        method = KnnMethod(scorer, labels, train, settings.knn_k)
    elif settings.decode == "probe":
        from smolgepa.lm.readings.probe import ProbeMethod

        method = ProbeMethod(scorer, labels, train)
    elif settings.decode == "hidden":
        from smolgepa.lm.readings.hidden import HiddenProbeMethod

        if hidden is None:
            raise ValueError("the hidden reading needs the model's hidden states (the embedded student)")
        method = HiddenProbeMethod(hidden, labels, train)
    elif settings.decode == "ensemble":
        from smolgepa.lm.readings.ensemble import EnsembleMethod

        method = EnsembleMethod(scorer, labels, train, settings.ensemble_k, settings.seed)
    else:
        raise ValueError(f"decode mode {settings.decode!r} is not a scoring method")
    if from_train:
        from smolgepa.lm.readings.train_calibration import TrainCalibrated

        method = TrainCalibrated(method, labels, train)
    return method


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
    if settings.decode == "knn":
        kept["knn_k"] = settings.knn_k
    if settings.decode == "ensemble":
        kept["ensemble_k"] = settings.ensemble_k
        kept.update({name: extras[name] for name in optional if name in extras})
    return kept


def train_digest(pairs: Sequence[Sequence[str]]) -> str:
    """sha256 of the (text, label) pairs, for cache keys."""
    return hashlib.sha256(json.dumps([list(p) for p in pairs], ensure_ascii=False).encode("utf-8")).hexdigest()
