"""The structured differential: which DDXPlus conditions belong to a case's differential,
from its structured answers, age and sex alone. Torch-free; scikit-learn is needed only to fit.

One gradient-boosted tree ensemble per condition (scikit-learn's
``HistGradientBoostingClassifier``, ``TREE_SETTINGS``) predicts the probability that the
condition is in the case's differential; the differential is every condition with a membership
probability of at least ``THRESHOLD`` (0.5, fixed in advance). ``benchmarks/
structured_differential.py --product`` measures it on ``data/ddxplus/patients.csv``.

Public API:

- ``StructuredCase(answers, age, sex, initial_evidence=None)``: ``answers`` as
  ``ddxplus.parse_features`` or the structured interview produce them (an unasked question is
  absent; a binary ``False`` counts as absent, like a DDXPlus row that does not list it);
  ``age`` and ``sex`` (``"M"``/``"F"``) may be None (unknown). ``initial_evidence`` (the chief
  complaint's evidence name) is used only by ``fit``: partial training copies always keep it.
  ``StructuredCase.from_patient(patient)`` builds one from a DDXPlus ``Patient``.
- ``fit(cases, truths, conditions, *, partial_fraction=0.3, seed=42) -> StructuredDifferential``:
  ``truths[i]`` is the set of condition names in case ``i``'s differential. Besides the full
  rows, a ``partial_fraction`` share of the cases is added a second time with a random subset
  of the answers (``ddxplus.partial_answers``: each answered question kept with a probability
  drawn from [0.1, 0.7], the initial evidence always kept), as after a short interview; and
  on ``UNKNOWN_FRACTION`` of all training rows the age, independently the sex, is hidden, so
  that a case without a profile still gets a sensible differential.
- ``StructuredDifferential``: ``conditions`` (column order), ``threshold``,
  ``membership(cases) -> ndarray [n, len(conditions)]``, ``members(case) -> [(condition,
  probability), ...]`` (probability >= threshold, most probable first), ``save(directory)``
  and ``StructuredDifferential.load(directory)`` (None when the files are absent; an
  ``ArtifactError`` when they are incomplete, corrupt or do not belong together).

Features: one indicator per answer value seen in training (``answer:E_54=V_161``; a scale
answer also as its value), the age band (decades, 90+), ``age_unknown``, ``sex:F``/``sex:M``,
``sex_unknown``, every scale answer / 10 (0 when not asked) and the age / 100 (NaN when
unknown: the trees learn where an unknown age goes).

Files (``FILE_NAME`` + ``ARRAYS_NAME``; no pickle anywhere): ``structured_differential.json``
holds the feature names (which define the encoding), the conditions, the threshold, the
settings, the scikit-learn version used to fit, the number of training rows and the SHA-256 of
``structured_differential.npz``, which holds every tree's nodes (feature index, threshold,
children, leaf value, where a missing value goes) and each condition's baseline log-odds.
Prediction walks those arrays with numpy (every tree at once, one tree level per step): a node
sends a row left when its value is ``<=`` the threshold, and a missing (NaN) value the way
scikit-learn learnt for it, exactly as ``HistGradientBoostingClassifier.predict_proba``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
from numpy.typing import NDArray

from medconsult.ml import ddxplus
from medconsult.ml.arrays import RESERVED_KEYS, PartFormat, load_part, save_part
from medconsult.ml.errors import ArtifactError, DataFormatError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

FILE_NAME = "structured_differential.json"
ARRAYS_NAME = "structured_differential.npz"
FORMAT = "medconsult-structured-differential"
FORMAT_VERSION = 1

THRESHOLD = 0.5
UNKNOWN_FRACTION = 0.1
TREE_SETTINGS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
AGE_BANDS = 10  # decades 0-9 ... 80-89, then 90+
_ROW_CHUNK = 128  # rows evaluated together (memory: rows x trees node indices)
_ARRAY_NAMES = (
    "feature",
    "threshold",
    "left",
    "right",
    "value",
    "is_leaf",
    "missing_left",
    "tree_offsets",
    "condition_offsets",
    "baseline",
    "constant",
)
STRUCTURED_PART = PartFormat(
    FILE_NAME, ARRAYS_NAME, FORMAT, FORMAT_VERSION, _ARRAY_NAMES, "structured differential"
)


@dataclass(frozen=True)
class StructuredCase:
    """One structured case (see the module docstring)."""

    answers: ddxplus.Answers
    age: int | None
    sex: str | None
    initial_evidence: str | None = None

    @classmethod
    def from_patient(cls, patient: ddxplus.Patient) -> StructuredCase:
        return cls(
            answers=patient.evidences,
            age=patient.age,
            sex=patient.sex,
            initial_evidence=patient.initial_evidence or None,
        )


# --- features ------------------------------------------------------------------------------------


def _is_scale(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _answer_items(answers: Mapping[str, ddxplus.AnswerValue]) -> Iterable[str]:
    """``E_9=True``, ``E_56=7``, ``E_130=V_138``, one per value of a multiple-choice answer;
    nothing for a binary "no" (the same as not asked)."""
    for name, value in answers.items():
        if value is False:
            continue
        for item in value if isinstance(value, list) else [value]:
            yield f"{name}={item}"


def _normal_sex(sex: str | None) -> str | None:
    if sex is None:
        return None
    normal = sex.strip().upper()
    return normal if normal in ("M", "F") else None


class _Encoder:
    """Cases -> the feature matrix; defined entirely by the ordered feature names."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.index = {name: column for column, name in enumerate(self.names)}
        if len(self.index) != len(self.names):
            raise ArtifactError("structured differential: duplicate feature names")
        self.scales: dict[str, int] = {}
        for name, column in self.index.items():
            kind, _, rest = name.partition(":")
            if kind == "scale":
                self.scales[rest] = column
            elif not (
                (kind == "answer" and "=" in rest)
                or (kind == "age_band" and rest.isdigit() and int(rest) < AGE_BANDS)
                or (kind == "sex" and rest in ("M", "F"))
                or name in ("age", "age_unknown", "sex_unknown")
            ):
                raise ArtifactError(f"structured differential: unknown feature {name!r}")
        for required in ("age", "age_unknown", "sex_unknown"):
            if required not in self.index:
                raise ArtifactError(f"structured differential: feature {required!r} missing")

    @classmethod
    def from_cases(cls, cases: Sequence[StructuredCase]) -> _Encoder:
        answers = sorted({item for case in cases for item in _answer_items(case.answers)})
        scales = sorted(
            {name for case in cases for name, value in case.answers.items() if _is_scale(value)}
        )
        return cls(
            [f"answer:{item}" for item in answers]
            + [f"age_band:{band}" for band in range(AGE_BANDS)]
            + ["age_unknown", "sex:F", "sex:M", "sex_unknown"]
            + [f"scale:{name}" for name in scales]
            + ["age"]
        )

    def encode(self, cases: Sequence[StructuredCase]) -> FloatArray:
        x = np.zeros((len(cases), len(self.names)), dtype=np.float64)
        index = self.index
        for row, case in enumerate(cases):
            for item in _answer_items(case.answers):
                column = index.get(f"answer:{item}")
                if column is not None:
                    x[row, column] = 1.0
            for name, column in self.scales.items():
                value = case.answers.get(name)
                if _is_scale(value):
                    x[row, column] = float(value) / 10  # type: ignore[arg-type]
            if case.age is None:
                x[row, index["age_unknown"]] = 1.0
                x[row, index["age"]] = math.nan
            else:
                band = min(max(int(case.age) // 10, 0), AGE_BANDS - 1)
                x[row, index[f"age_band:{band}"]] = 1.0
                x[row, index["age"]] = float(case.age) / 100
            sex = _normal_sex(case.sex)
            x[row, index["sex_unknown" if sex is None else f"sex:{sex}"]] = 1.0
        return x


# --- the trees -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Forest:
    """Every condition's trees as flat node arrays. Children are global node indices; a leaf
    is its own child, so a row that reached a leaf stays there."""

    feature: NDArray[np.int32]
    threshold: FloatArray
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    value: FloatArray
    is_leaf: BoolArray
    missing_left: BoolArray
    tree_offsets: IntArray  # [trees + 1] first node of each tree
    condition_offsets: IntArray  # [conditions + 1] first tree of each condition
    baseline: FloatArray  # [conditions] log-odds before the trees
    constant: FloatArray  # [conditions] fixed probability, NaN where the trees decide

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {name: getattr(self, name) for name in _ARRAY_NAMES}

    def check(self, n_features: int, n_conditions: int) -> None:
        """Raise ``ArtifactError`` unless the arrays form valid trees for these shapes."""
        nodes = len(self.feature)
        trees = len(self.tree_offsets) - 1
        problems = []
        if any(len(getattr(self, name)) != nodes for name in _ARRAY_NAMES[:7]):
            problems.append("node arrays of different lengths")
        if len(self.baseline) != n_conditions or len(self.constant) != n_conditions:
            problems.append("per-condition arrays do not match the conditions")
        if len(self.condition_offsets) != n_conditions + 1 or trees < 0:
            problems.append("condition offsets do not match the conditions")
        if problems:
            raise ArtifactError("structured differential arrays: " + "; ".join(problems))
        offsets, by_condition = self.tree_offsets, self.condition_offsets
        if (
            offsets[0] != 0
            or offsets[-1] != nodes
            or np.any(np.diff(offsets) < 1)
            or by_condition[0] != 0
            or by_condition[-1] != trees
            or np.any(np.diff(by_condition) < 0)
        ):
            raise ArtifactError("structured differential arrays: inconsistent offsets")
        own = np.arange(nodes)
        end = np.repeat(offsets[1:], np.diff(offsets))
        inner = ~self.is_leaf
        for child in (self.left, self.right):
            if np.any(inner & ((child <= own) | (child >= end))) or np.any(
                self.is_leaf & (child != own)
            ):
                raise ArtifactError("structured differential arrays: invalid tree links")
        if np.any(inner & ((self.feature < 0) | (self.feature >= n_features))):
            raise ArtifactError("structured differential arrays: feature index out of range")
        trees_of = np.diff(by_condition)
        fixed = ~np.isnan(self.constant)
        if np.any(fixed & (trees_of > 0)) or np.any(~fixed & (trees_of == 0)):
            raise ArtifactError("structured differential arrays: constant conditions with trees")
        if (
            np.any(np.isnan(self.threshold))
            or not np.all(np.isfinite(self.value))
            or not np.all(np.isfinite(self.baseline))
        ):
            raise ArtifactError("structured differential arrays: non-finite values")

    def probabilities(self, x: FloatArray) -> FloatArray:
        """Membership probabilities [rows, conditions] of the encoded rows ``x``."""
        out = np.empty((len(x), len(self.baseline)), dtype=np.float64)
        for start in range(0, len(x), _ROW_CHUNK):
            out[start : start + _ROW_CHUNK] = self._chunk(x[start : start + _ROW_CHUNK])
        return out

    def _chunk(self, x: FloatArray) -> FloatArray:
        roots = self.tree_offsets[:-1]
        nodes = np.broadcast_to(roots, (len(x), len(roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(int(np.diff(self.tree_offsets).max(initial=0))):
            values = x[rows, self.feature[nodes]]
            go_left = np.where(
                np.isnan(values), self.missing_left[nodes], values <= self.threshold[nodes]
            )
            following = np.where(go_left, self.left[nodes], self.right[nodes])
            if np.array_equal(following, nodes):
                break
            nodes = following
        leaves = self.value[nodes]
        raw = np.empty((len(x), len(self.baseline)), dtype=np.float64)
        for condition, (first, last) in enumerate(
            zip(self.condition_offsets[:-1], self.condition_offsets[1:], strict=True)
        ):
            raw[:, condition] = self.baseline[condition] + leaves[:, first:last].sum(axis=1)
        probs: FloatArray = 1.0 / (1.0 + np.exp(-raw))
        fixed = ~np.isnan(self.constant)
        probs[:, fixed] = self.constant[fixed]
        return probs


def _forest_from_sklearn(models: Sequence[Any | float], n_features: int) -> _Forest:
    """The node arrays of fitted binary ``HistGradientBoostingClassifier`` s (a float: a
    condition always or never present in training, with that probability)."""
    feature, threshold, left, right, value, is_leaf, missing_left = ([] for _ in range(7))
    tree_offsets, condition_offsets = [0], [0]
    baseline, constant = [], []
    for model in models:
        if isinstance(model, float):
            baseline.append(0.0)
            constant.append(model)
            condition_offsets.append(condition_offsets[-1])
            continue
        if model.n_trees_per_iteration_ != 1 or list(model.classes_) != [0, 1]:
            raise ValueError("expected a binary classifier with classes 0 and 1")
        baseline.append(float(np.ravel(model._baseline_prediction)[0]))
        constant.append(math.nan)
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("categorical splits are not supported")
            offset = tree_offsets[-1]
            leaf = nodes["is_leaf"].astype(bool)
            own = np.arange(len(nodes)) + offset
            feature.append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32))
            threshold.append(np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64))
            left.append(np.where(leaf, own, nodes["left"].astype(np.int64) + offset))
            right.append(np.where(leaf, own, nodes["right"].astype(np.int64) + offset))
            value.append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
            is_leaf.append(leaf)
            missing_left.append(nodes["missing_go_to_left"].astype(bool))
            tree_offsets.append(offset + len(nodes))
        condition_offsets.append(len(tree_offsets) - 1)

    def joined(parts: list[NDArray[Any]], dtype: type[np.generic]) -> NDArray[Any]:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    forest = _Forest(
        feature=joined(feature, np.int32),
        threshold=joined(threshold, np.float64),
        left=joined(left, np.int32),
        right=joined(right, np.int32),
        value=joined(value, np.float64),
        is_leaf=joined(is_leaf, np.bool_),
        missing_left=joined(missing_left, np.bool_),
        tree_offsets=np.asarray(tree_offsets, dtype=np.int64),
        condition_offsets=np.asarray(condition_offsets, dtype=np.int64),
        baseline=np.asarray(baseline, dtype=np.float64),
        constant=np.asarray(constant, dtype=np.float64),
    )
    forest.check(n_features, len(models))
    return forest


# --- the model -----------------------------------------------------------------------------------


class StructuredDifferential:
    """Membership of each condition in a case's differential (see the module docstring)."""

    def __init__(
        self,
        conditions: Sequence[str],
        feature_names: Sequence[str],
        forest: _Forest,
        *,
        threshold: float = THRESHOLD,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.conditions: tuple[str, ...] = tuple(conditions)
        self.threshold = float(threshold)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._encoder = _Encoder(feature_names)
        self._forest = forest
        forest.check(len(self._encoder.names), len(self.conditions))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._encoder.names

    def features(self, cases: Sequence[StructuredCase]) -> FloatArray:
        """The encoded feature matrix [n, len(feature_names)] of the cases."""
        return self._encoder.encode(cases)

    def membership(self, cases: Sequence[StructuredCase]) -> FloatArray:
        """Probability [n, len(conditions)] that each condition is in each case's differential."""
        return self._forest.probabilities(self.features(cases))

    def members(self, case: StructuredCase) -> list[tuple[str, float]]:
        """The conditions with a membership probability >= threshold, most probable first."""
        probs = self.membership([case])[0]
        order = np.argsort(-probs, kind="stable")
        return [(self.conditions[i], float(probs[i])) for i in order if probs[i] >= self.threshold]

    # --- persistence ---

    def save(self, directory: Path) -> None:
        """Write ``FILE_NAME`` and ``ARRAYS_NAME`` into ``directory`` (created if needed; the
        arrays first, the JSON that names their SHA-256 last: ``arrays.save_part``)."""
        save_part(
            directory,
            STRUCTURED_PART,
            arrays=self._forest.arrays(),
            document={
                "conditions": list(self.conditions),
                "threshold": self.threshold,
                "features": list(self.feature_names),
                **{key: value for key, value in self.metadata.items() if key not in _RESERVED},
            },
        )

    @classmethod
    def load(cls, directory: Path) -> StructuredDifferential | None:
        """The model saved in ``directory``; None when neither file is there. Raises
        ``ArtifactError`` when one file is missing or either is corrupt or they do not match."""
        loaded = load_part(directory, STRUCTURED_PART)
        if loaded is None:
            return None
        document, arrays = loaded
        json_path = Path(directory) / FILE_NAME
        try:
            conditions = [str(name) for name in document["conditions"]]
            features = [str(name) for name in document["features"]]
            threshold = float(document["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{json_path}: missing or invalid field {exc}") from exc
        try:
            forest = _Forest(
                feature=arrays["feature"].astype(np.int32, casting="same_kind"),
                threshold=arrays["threshold"].astype(np.float64, casting="same_kind"),
                left=arrays["left"].astype(np.int32, casting="same_kind"),
                right=arrays["right"].astype(np.int32, casting="same_kind"),
                value=arrays["value"].astype(np.float64, casting="same_kind"),
                is_leaf=arrays["is_leaf"].astype(np.bool_, casting="safe"),
                missing_left=arrays["missing_left"].astype(np.bool_, casting="safe"),
                tree_offsets=arrays["tree_offsets"].astype(np.int64, casting="same_kind"),
                condition_offsets=arrays["condition_offsets"].astype(np.int64, casting="same_kind"),
                baseline=arrays["baseline"].astype(np.float64, casting="same_kind"),
                constant=arrays["constant"].astype(np.float64, casting="same_kind"),
            )
        except TypeError as exc:
            raise ArtifactError(f"{ARRAYS_NAME}: arrays of the wrong type ({exc})") from exc
        metadata = {key: value for key, value in document.items() if key not in _RESERVED}
        return cls(conditions, features, forest, threshold=threshold, metadata=metadata)


_RESERVED = RESERVED_KEYS | {"conditions", "threshold", "features"}


# --- fitting -------------------------------------------------------------------------------------


def _training_rows(
    cases: Sequence[StructuredCase],
    truths: Sequence[set[str]],
    *,
    partial_fraction: float,
    unknown_fraction: float,
    seed: int,
    questionnaire: ddxplus.Questionnaire,
) -> tuple[list[StructuredCase], list[set[str]]]:
    """The full rows, plus a partial copy of ``partial_fraction`` of them (initial evidence
    kept), with the age / the sex hidden on ``unknown_fraction`` of all rows each."""
    rng = random.Random(seed)
    rows, row_truths = list(cases), list(truths)
    copies = sorted(rng.sample(range(len(cases)), round(partial_fraction * len(cases))))
    for i in copies:
        case = cases[i]
        keep = (case.initial_evidence,) if case.initial_evidence else ()
        answers = ddxplus.partial_answers(case.answers, questionnaire, rng, keep=keep)
        rows.append(StructuredCase(answers, case.age, case.sex, case.initial_evidence))
        row_truths.append(truths[i])
    hidden = []
    for case in rows:
        age = None if rng.random() < unknown_fraction else case.age
        sex = None if rng.random() < unknown_fraction else case.sex
        hidden.append(StructuredCase(case.answers, age, sex, case.initial_evidence))
    return hidden, row_truths


def _fit_with_estimators(
    cases: Sequence[StructuredCase],
    truths: Sequence[set[str]],
    conditions: Sequence[str],
    *,
    partial_fraction: float = 0.3,
    seed: int = 42,
    max_iter: int = TREE_SETTINGS["max_iter"],
    unknown_fraction: float = UNKNOWN_FRACTION,
    questionnaire: ddxplus.Questionnaire | None = None,
    threads: int | None = 1,
) -> tuple[StructuredDifferential, list[Any | float], list[StructuredCase]]:
    """``fit``, also returning the scikit-learn estimators (a float for a constant condition)
    and the training rows, for checking the stored trees against them."""
    import sklearn
    import threadpoolctl
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(cases) != len(truths):
        raise ValueError(f"{len(cases)} cases but {len(truths)} differentials")
    if not cases:
        raise ValueError("no cases to fit")
    if len(set(conditions)) != len(conditions) or not conditions:
        raise ValueError("conditions must be distinct and not empty")
    if not 0.0 <= partial_fraction <= 1.0 or not 0.0 <= unknown_fraction <= 1.0:
        raise ValueError("partial_fraction and unknown_fraction must be within [0, 1]")
    unknown = sorted({name for truth in truths for name in truth} - set(conditions))
    if unknown:
        raise DataFormatError(f"differential conditions not among the conditions: {unknown}")
    start = time.perf_counter()
    rows, row_truths = _training_rows(
        cases,
        truths,
        partial_fraction=partial_fraction,
        unknown_fraction=unknown_fraction,
        seed=seed,
        questionnaire=questionnaire or ddxplus.load_questionnaire(),
    )
    encoder = _Encoder.from_cases(rows)
    x = encoder.encode(rows)
    settings = {**TREE_SETTINGS, "max_iter": int(max_iter)}
    models: list[Any | float] = []
    with threadpoolctl.threadpool_limits(limits=threads, user_api="openmp"):
        for condition in conditions:
            seen = np.fromiter((condition in truth for truth in row_truths), dtype=np.int64)
            if seen.min() == seen.max():  # always or never in a differential here
                models.append(float(seen[0]))
                continue
            model = HistGradientBoostingClassifier(**settings, random_state=0)
            models.append(model.fit(x, seen))
    forest = _forest_from_sklearn(models, len(encoder.names))
    metadata = {
        "model": "HistGradientBoostingClassifier per condition (membership in the differential)",
        "tree_settings": settings,
        "partial_fraction": partial_fraction,
        "unknown_fraction": unknown_fraction,
        "seed": seed,
        "training_cases": len(cases),
        "training_rows": len(rows),
        "trees": len(forest.tree_offsets) - 1,
        "sklearn_version": sklearn.__version__,
        "fit_seconds": round(time.perf_counter() - start, 1),
    }
    model = StructuredDifferential(conditions, encoder.names, forest, metadata=metadata)
    return model, models, rows


class FitOptions(TypedDict, total=False):
    """``fit``'s options, with the defaults of ``_fit_with_estimators``."""

    partial_fraction: float
    seed: int
    max_iter: int
    unknown_fraction: float
    questionnaire: ddxplus.Questionnaire | None
    threads: int | None


def fit(
    cases: Sequence[StructuredCase],
    truths: Sequence[set[str]],
    conditions: Sequence[str],
    **options: Unpack[FitOptions],
) -> StructuredDifferential:
    """Fit the membership trees of ``conditions`` on the cases and their differentials
    (``truths``: condition names); see the module docstring. ``questionnaire`` (for the
    follow-up structure of partial copies) defaults to ``data/ddxplus``'s. ``threads``: the
    OpenMP threads of the tree fits (1 by default: on a small shared machine more threads than
    free cores make the fit far slower; None leaves the process's setting)."""
    model, _, _ = _fit_with_estimators(cases, truths, conditions, **options)
    return model
