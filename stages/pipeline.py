"""The public pipeline API: @stage, Pipeline, load_pipeline and the settings of any pipeline."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from schemas.errors import LedgerlineError
from schemas.events import JsonScalar
from schemas.settings import _flatten, _parse_value, _set_dotted
from stages.spec import StageResult, StageSpec

__all__ = ["Pipeline", "PipelineError", "ResolvedSettings", "StageResult", "load_pipeline", "stage"]


class PipelineError(LedgerlineError, ValueError):
    """Raised when a pipeline cannot be loaded or is malformed, or its settings are invalid (a usage error)."""


def _is_pandas(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return (
            annotation.replace(" ", "") in {"pd.DataFrame", "pandas.DataFrame", "DataFrame"} and "pl." not in annotation
        )
    return (
        getattr(annotation, "__module__", "").startswith("pandas")
        and getattr(annotation, "__name__", "") == "DataFrame"
    )


def stage(
    writes: Iterable[str] = (),
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_s: float = 0,
    contracts: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., StageResult]], StageSpec]:
    """Declare a stage: reads are fn's keyword parameters other than settings; pd.DataFrame ones receive pandas."""

    def wrap(fn: Callable[..., StageResult]) -> StageSpec:
        params = inspect.signature(fn).parameters
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable forward references: fall back to the raw annotations
            hints = {k: p.annotation for k, p in params.items()}
        reads = tuple(k for k in params if k != "settings")
        pandas = frozenset(k for k in reads if _is_pandas(hints.get(k, params[k].annotation)))
        unknown = sorted(set(contracts or {}) - set(reads))
        if unknown:
            raise PipelineError(f"stage {fn.__name__}: contracts for {', '.join(unknown)}, which it does not read")
        if retries < 0 or retry_delay_s < 0:
            raise PipelineError(f"stage {fn.__name__}: retries and retry_delay_s must be >= 0")
        return StageSpec(
            name=name or fn.__name__,
            fn=fn,
            reads=reads,
            writes=tuple(writes),
            retries=int(retries),
            retry_delay_s=float(retry_delay_s),
            contracts=dict(contracts or {}),
            pandas=pandas,
            doc=(inspect.getdoc(fn) or "").split("\n")[0],
        )

    return wrap


class Pipeline:
    """A named sequence of stages with its own settings model, profiles folder and (optional) candidate policy.

    policy: None (no run becomes a candidate) or an object with max_drop_rate / min_sharpe (TaggingPolicy).
    The hooks (preflight, postflight, inputs, tagging) are what the quant reference pipeline adds.
    """

    def __init__(
        self,
        name: str,
        stages: Sequence[StageSpec],
        settings: type[BaseModel] | None = None,
        *,
        profiles: str | Path | None = None,
        policy: Any = None,
        preflight: Callable[..., list[str]] | None = None,
        postflight: Callable[..., list[Any]] | None = None,
        inputs: Callable[..., list[Any]] | None = None,
        load: Callable[[str | None, dict[str, str]], Any] | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise PipelineError("a pipeline needs a name")
        bad = [s for s in stages if not isinstance(s, StageSpec)]
        if bad:
            raise PipelineError(f"pipeline {name}: {bad[0]!r} is not a @stage")
        self.name = name
        self.stages: tuple[StageSpec, ...] = tuple(stages)
        self.settings = settings
        self.profiles = Path(profiles) if profiles is not None else None
        self.policy = policy
        self.preflight, self.postflight, self.inputs, self._load = preflight, postflight, inputs, load
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise PipelineError(f"pipeline {name}: two stages share a name")

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, stages=[{', '.join(s.name for s in self.stages)}])"

    def check_reads(self) -> None:
        """Every stage reads only what an earlier stage writes, else PipelineError naming it."""
        produced: set[str] = set()
        for spec in self.stages:
            missing = [f for f in spec.reads if f not in produced]
            if missing:
                raise PipelineError(
                    f"stage {spec.name} reads {', '.join(missing)}, which no earlier stage of {self.name} produces"
                )
            produced.update(spec.writes)

    def resolve(self, profile: str | None = None, overrides: Mapping[str, str] | None = None) -> ResolvedSettings | Any:
        """The pipeline's settings from profile P (P.toml in its profiles folder) and key=value overrides."""
        if self._load is not None:
            return self._load(profile, dict(overrides or {}))
        model = self.settings or _NoSettings
        tree: dict[str, Any] = {}
        if profile is not None:
            folder = self.profiles
            path = folder / f"{profile}.toml" if folder is not None else None
            if path is None or not path.is_file():
                raise PipelineError(f"pipeline {self.name}: no profile {profile!r} (looked for {path})")
            try:
                tree = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise PipelineError(f"profile {path}: {exc}") from exc
        known = _flatten(model().model_dump(mode="json")) if _defaults_ok(model) else None
        for key, raw in (overrides or {}).items():
            if known is not None and key not in known and not any(k.startswith(key + ".") for k in known):
                raise PipelineError(f"--set {key}: {model.__name__} has no setting {key!r}")
            _set_dotted(tree, key, _parse_value(raw))
        try:
            values = model.model_validate(tree)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise PipelineError(f"setting {loc}: {first['msg']}") from exc
        return ResolvedSettings(self.name, profile or "default", values)


class _NoSettings(BaseModel):
    pass


def _defaults_ok(model: type[BaseModel]) -> bool:
    try:
        model()
    except ValidationError:
        return False
    return True


class ResolvedSettings:
    """A generic pipeline's resolved settings: what RunStarted records; stages receive .values."""

    def __init__(self, pipeline: str, profile: str, values: BaseModel) -> None:
        self.pipeline, self.profile, self.values = pipeline, profile, values
        seed = getattr(values, "seed", None)
        self.seed: int | None = seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def flat(self) -> dict[str, JsonScalar]:
        return _flatten(self.values.model_dump(mode="json"))

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the pipeline name, profile and resolved settings (never the orchestrator)."""
        tree = {"pipeline": self.pipeline, "profile": self.profile, "settings": self.values.model_dump(mode="json")}
        return hashlib.sha256(orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)).hexdigest()


def load_pipeline(target: str) -> Pipeline:
    """Load PATH.py:NAME or package.module:NAME (NAME defaults to PIPELINE); one-line PipelineError otherwise."""
    spec, sep, attr = target.rpartition(":")
    if not sep:
        spec, attr = target, "PIPELINE"
    if not spec or not attr:
        raise PipelineError(f"--pipeline {target!r}: expected PATH.py:NAME or package.module:NAME")
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise PipelineError(f"--pipeline {target!r}: no such file {path}")
        mod_name = f"ledgerline_pipeline_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise PipelineError(f"--pipeline {target!r}: cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise PipelineError(f"--pipeline {target!r}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
        default_profiles = path.resolve().parent / "profiles"
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise PipelineError(f"--pipeline {target!r}: no module {spec} ({exc})") from exc
        default_profiles = Path(module.__file__ or ".").resolve().parent / "profiles"
    if not hasattr(module, attr):
        raise PipelineError(f"--pipeline {target!r}: {spec} has no attribute {attr}")
    obj = getattr(module, attr)
    if not isinstance(obj, Pipeline):
        raise PipelineError(f"--pipeline {target!r}: {attr} is a {type(obj).__name__}, not a Pipeline")
    if obj.profiles is None:
        obj.profiles = default_profiles
    return obj
