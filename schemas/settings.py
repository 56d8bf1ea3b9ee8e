"""Run settings: profiles as TOML, --set overrides, a resolved-config hash; settings are passed explicitly, never held in a global."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from schemas.errors import LedgerlineError
from schemas.events import JsonScalar, Model


class SettingsError(LedgerlineError, ValueError):
    """Raised when a profile is unknown or a setting is invalid."""


#: the ArcticDB stores a source may name (prefixed `arcticdb+`), and query options that must never reach the ledger
ARCTIC_SCHEMES = ("lmdb", "s3", "s3s")
_ARCTIC_SECRETS = ("access", "secret")


def parse_arctic_uri(uri: str) -> tuple[str, str]:
    """`arcticdb+lmdb:///PATH?library=NAME` (or `arcticdb+s3://...`) -> (the URI ArcticDB takes, the library name).

    Other query options (map_size, region, aws_auth, path_prefix, ...) pass through to ArcticDB; ValueError when
    the URI is not of that form or carries credentials (the URI is recorded in the ledger).
    """
    scheme, sep, rest = uri.partition("://")
    store = scheme.removeprefix("arcticdb+")
    if not sep or not scheme.startswith("arcticdb+") or store not in ARCTIC_SCHEMES:
        forms = ", ".join(f"arcticdb+{s}://" for s in ARCTIC_SCHEMES)
        raise ValueError(
            f"{uri!r} is not an ArcticDB URI (use {forms}..., e.g. arcticdb+lmdb:///data/arctic?library=market)"
        )
    where, _, query = rest.partition("?")
    options = [o for o in query.replace(";", "&").split("&") if o]
    pairs = [o.partition("=") for o in options]
    library = [v for k, _, v in pairs if k == "library"]
    if len(library) != 1 or not library[0]:
        raise ValueError(f"{uri!r} names no library: add ?library=NAME")
    secrets = [k for k, _, _ in pairs if k in _ARCTIC_SECRETS]
    if secrets:
        raise ValueError(
            f"{uri.split('?')[0]}: {', '.join(secrets)} in the URI would be recorded in the ledger; "
            "use aws_auth=true (credentials from the AWS environment) instead"
        )
    if not where or (store == "lmdb" and not where.startswith("/")):
        raise ValueError(
            f"{uri!r}: {'give an absolute LMDB path, arcticdb+lmdb:///PATH' if store == 'lmdb' else 'no endpoint'}"
        )
    passed = "&".join(o for o, (k, _, _) in zip(options, pairs, strict=True) if k != "library")
    return f"{store}://{where}" + (f"?{passed}" if passed else ""), library[0]


class ArcticSettings(Model):
    """An ArcticDB source: its libraries (read in order), what to read them as of, and how the bars are laid out."""

    #: `arcticdb+lmdb:///PATH?library=NAME`, `arcticdb+s3://ENDPOINT:BUCKET?library=NAME&aws_auth=true`, ...
    uris: list[str] = Field(min_length=1)
    #: a snapshot name, a version number, or an ISO timestamp; None reads each symbol's latest version
    as_of: str | None = None
    #: symbol_per_ticker: one symbol per ticker; frame: one symbol (frame_symbol) holding every ticker's rows
    layout: Literal["symbol_per_ticker", "frame"] = "symbol_per_ticker"
    frame_symbol: str = "bars"
    #: the ticker column of the frame layout (renamed to `symbol` on read)
    symbol_column: str = "symbol"
    #: exact (library index, symbol, version) to read instead of as_of; bin/rerun sets it from a run's record
    versions: list[tuple[int, str, int]] | None = None

    @field_validator("uris")
    @classmethod
    def _uris_parse(cls, uris: list[str]) -> list[str]:
        for uri in uris:
            parse_arctic_uri(uri)
        return uris


class SourceSettings(Model):
    """Where market data comes from, and (for the synthetic market) what toxicity to inject."""

    kind: Literal["synthetic", "directory", "arcticdb"] = "synthetic"
    path: str | None = None
    symbols: int = 40
    sessions: int = 504
    start: str = "2021-01-04"
    benchmark: str = "SPY"
    calendar: str = "XNYS"
    #: the run's as-of date (ISO); None means the data's own last date
    as_of: str | None = None
    #: injected defects by name (see stages.sources.synthetic.TOXICITIES) -> how many instances
    toxicity: dict[str, int] = {}
    #: the ArcticDB source (kind "arcticdb"); left out of the dump when absent, so older config hashes still hold
    arctic: ArcticSettings | None = None

    @model_serializer(mode="wrap")
    def _without_absent_arctic(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.arctic is None:
            data.pop("arctic", None)
        return data

    @model_validator(mode="after")
    def _arctic_given(self) -> SourceSettings:
        if self.kind == "arcticdb" and self.arctic is None:
            raise ValueError(
                "source.kind 'arcticdb' needs [source.arctic] uris (or --source arcticdb+lmdb:///PATH?library=NAME)"
            )
        return self


class ContractSettings(Model):
    """Thresholds of the data contracts (tier 1 structural, tier 2 semantic, postflight)."""

    max_abs_return: float = 5.0
    min_symbols: int = 5
    sample_size: int = 5
    inline_keys_max: int = 20
    stale_run_sessions: int = 5
    min_free_disk_mb: int = 50
    split_ratios: list[float] = [2.0, 3.0, 4.0]
    split_tolerance: float = 0.02
    #: a symbol whose last session lags the benchmark's by more than this stopped early
    max_lag_sessions: int = 2
    postflight_sample: int = 20
    min_clean_rows: int = 1


class FeatureSettings(Model):
    """Feature windows (in sessions) and switches; the hurst and entropy flags turn those kernels off."""

    vol_window: int = Field(default=20, ge=2)
    momentum_window: int = Field(default=60, ge=1)
    hurst_window: int = Field(default=128, ge=4)
    hurst_min_chunk: int = Field(default=8, ge=2)
    entropy_window: int = Field(default=64, ge=3)
    entropy_order: int = Field(default=3, ge=2, le=7)
    hurst: bool = True
    entropy: bool = True

    @model_validator(mode="after")
    def _windows_fit(self) -> FeatureSettings:
        if self.hurst_window < 4 * self.hurst_min_chunk:
            raise ValueError("hurst_window must be at least 4 x hurst_min_chunk (two sub-window sizes)")
        if self.entropy_window <= self.entropy_order:
            raise ValueError("entropy_window must exceed entropy_order")
        return self


class SelectionSettings(Model):
    """How assets are ranked and picked at each rebalance: score, predictability filters, top-k, sector cap."""

    top_k: int = Field(default=10, ge=1)
    score: Literal["momentum", "momentum_over_vol"] = "momentum_over_vol"
    min_hurst: float | None = None
    max_entropy: float | None = None
    max_per_sector: int | None = Field(default=None, ge=1)
    exclude_benchmark: bool = True


class AllocationSettings(Model):
    """How selected assets are weighted (weights of one rebalance sum to gross)."""

    method: Literal["equal", "inverse_vol"] = "equal"
    gross: float = Field(default=1.0, gt=0.0, le=1.0)


class BacktestSettings(Model):
    """Walk-forward backtest: rebalance every n sessions from session `warmup`, costs in bps of traded value."""

    rebalance_every: int = Field(default=21, ge=1)
    cost_bps: float = Field(default=5.0, ge=0.0)
    warmup: int = Field(default=128, ge=0)
    periods_per_year: int = Field(default=252, ge=1)


class TaggingPolicy(Model):
    """When a run becomes a candidate."""

    max_drop_rate: float = 0.05
    min_sharpe: float | None = None


class Settings(Model):
    """The fully resolved configuration of one run."""

    pipeline: str = "quant-reference"
    profile: str = "canary"
    seed: int = 7
    source: SourceSettings = SourceSettings()
    contracts: ContractSettings = ContractSettings()
    features: FeatureSettings = FeatureSettings()
    selection: SelectionSettings = SelectionSettings()
    allocation: AllocationSettings = AllocationSettings()
    backtest: BacktestSettings = BacktestSettings()
    tagging: TaggingPolicy = TaggingPolicy()

    def flat(self) -> dict[str, JsonScalar]:
        """Dotted keys to scalar values, e.g. {'backtest.cost_bps': 5.0}; the params of RunStarted."""
        return _flatten(self.model_dump(mode="json"))

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the resolved settings."""
        return hashlib.sha256(orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, JsonScalar]:
    out: dict[str, JsonScalar] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, (dict, list)):
            out[name] = orjson.dumps(value).decode()
        else:
            out[name] = value
    return out


def profile_names() -> list[str]:
    """Names of the profiles shipped in schemas/profiles."""
    return sorted(p.name[:-5] for p in resources.files("schemas.profiles").iterdir() if p.name.endswith(".toml"))


def load_settings(
    profile: str = "canary", overrides: dict[str, str] | None = None, *, path: Path | None = None
) -> Settings:
    """Resolve a named profile (or a TOML file) plus key=value overrides into Settings."""
    if path is None:
        if profile not in profile_names():
            raise SettingsError(f"unknown profile {profile!r}; choose one of: {', '.join(profile_names())}")
        text = resources.files("schemas.profiles").joinpath(f"{profile}.toml").read_text()
    else:
        text = path.read_text()
    try:
        tree: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"profile {profile!r}: {exc}") from exc
    tree.setdefault("profile", profile)
    for key, raw in (overrides or {}).items():
        _set_dotted(tree, key, _parse_value(raw))
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise SettingsError(f"setting {loc}: {first['msg']}") from exc


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SettingsError(f"--set {key}: {part} is not a section")
    node[leaf] = value
