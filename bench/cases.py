"""The measurements.  Imported by run.py only after PROV_HOME points at a temporary directory."""

from __future__ import annotations

import compileall
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import distgen
import pluggy
from timing import Timing, each, micro, micro_pair

from provisioning_core import (
    Discovery,
    ExtensionManager,
    ProviderSettings,
    Server,
)
from provisioning_core.discovery import _ScanCache
from provisioning_core.hookspecs import PROJECT, ProviderSpec

BIG_PLUGINS, BIG_UNRELATED = 200, 150
SMALL_PLUGINS = 8
# p0123 and p0003 are both providers whose get_server_info returns a Server;
# p0121 returns the same server as a dict (see distgen.py)
BIG_NAME, SMALL_NAME, DICT_NAME = "p0123", "p0003", "p0121"


@dataclass
class Row:
    """One line of the report: a time per call, or a ratio of two of them."""

    key: str
    label: str
    timing: Timing | None = None
    ratio: float | None = None
    target: str = ""
    verdict: str = ""
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label}
        if self.timing is not None:
            out |= {
                "median_s": self.timing.median,
                "min_s": self.timing.min,
                "samples": len(self.timing.samples),
                "calls_per_sample": self.timing.calls_per_sample,
            }
        if self.ratio is not None:
            out["ratio"] = self.ratio
        out |= {"target": self.target, "verdict": self.verdict, "note": self.note}
        return out


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)

    def time(
        self, key: str, label: str, timing: Timing, *, limit: float | None = None, note: str = ""
    ) -> None:
        row = Row(key, label, timing, note=note)
        if limit is not None:
            row.target = f"<= {fmt_seconds(limit)}"
            if timing.median <= limit:
                row.verdict = "ok"
            else:  # on a busy machine the median suffers first; the minimum is the code's cost
                row.verdict = "OVER" if timing.min > limit else "noisy (min ok)"
        self.rows.append(row)

    def ratio(
        self,
        key: str,
        label: str,
        top: str,
        bottom: str,
        *,
        at_most: float | None = None,
        at_least: float | None = None,
        words: tuple[str, str] = ("ok", "OVER"),
        target: str = "",
        note: str = "",
    ) -> None:
        value = self.get(top).timing.median / self.get(bottom).timing.median  # type: ignore[union-attr]
        row = Row(key, label, ratio=value, target=target, note=note)
        if at_most is not None:
            row.target = row.target or f"<= {at_most:g}x"
            row.verdict = words[0] if value <= at_most else words[1]
        if at_least is not None:
            row.target = row.target or f">= {at_least:g}x"
            row.verdict = words[0] if value >= at_least else words[1]
        self.rows.append(row)


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


@dataclass
class Sites:
    big: Path
    small: Path
    big_modules: dict[str, tuple[str, str]]
    small_modules: dict[str, tuple[str, str]]


def make_sites(root: Path) -> Sites:
    """The 350-distribution site and the 8-plugin site, byte-compiled and importable."""
    big, small = root / "site-350", root / "site-8"
    big_modules = distgen.make_site(big, BIG_PLUGINS, BIG_UNRELATED, "benchbig")
    small_modules = distgen.make_site(small, SMALL_PLUGINS, 0, "benchsmall")
    # pip byte-compiles on install; doing it now also keeps the first import from
    # creating __pycache__, which would change the directory's mtime and so the cache key
    for site in (big, small):
        compileall.compile_dir(site, quiet=1)
    sys.path.extend([str(big), str(small)])  # to import plugins; discovery gets path=[site]
    return Sites(big, small, big_modules, small_modules)


def forget_sites(sites: Sites) -> None:
    for site in (sites.big, sites.small):
        while str(site) in sys.path:
            sys.path.remove(str(site))
    for _, module in [*sites.big_modules.values(), *sites.small_modules.values()]:
        sys.modules.pop(module, None)


def _prime(site: Path) -> None:
    """Make the scan cache valid for ``site`` (one scan directory per PROV_HOME)."""
    discovery = Discovery(path=[str(site)], use_cache=True)
    discovery.all()
    check = Discovery(path=[str(site)], use_cache=True)
    check.all()
    if not check.cache_hit:
        print(f"warning: the scan cache for {site.name} is not reused", file=sys.stderr)


def _drop_cache(site: Path) -> Callable[[], None]:
    scan_dir = _ScanCache([str(site)]).dir

    def drop() -> None:
        shutil.rmtree(scan_dir, ignore_errors=True)

    return drop


@dataclass
class _Context:
    """What the measurement sections share."""

    sites: Sites
    report: Report
    slow_n: int  # samples of calls taking milliseconds
    load_n: int  # samples of cold loads
    repeat: int  # samples of calls taking microseconds
    warm: dict[str, Discovery] = field(default_factory=dict)  # "big"/"small", scanned

    @property
    def big(self) -> str:
        return str(self.sites.big)

    @property
    def small(self) -> str:
        return str(self.sites.small)


def run(sites: Sites, *, quick: bool) -> Report:
    """Every measurement, in an order that keeps the one scan cache valid where needed."""
    ctx = _Context(
        sites,
        Report(),
        slow_n=5 if quick else 15,
        load_n=10 if quick else 40,
        repeat=5 if quick else 7,
    )
    _discovery(ctx)
    _resolve(ctx)
    manager = _loads(ctx)
    _calls(ctx, manager)
    _first_use(ctx)
    return ctx.report


def _discovery(ctx: _Context) -> None:
    """1 and 2: a full scan, with and without writing the cache, and a cached one."""
    report, big, small, n = ctx.report, ctx.big, ctx.small, ctx.slow_n
    report.time(
        "discovery.cold",
        "discovery, cold, no cache (350 dists)",
        each(lambda: Discovery(path=[big], use_cache=False).all(), n=n),
    )
    report.time(
        "discovery.cold_write",
        "discovery, cold + cache write (350 dists)",
        each(
            lambda: Discovery(path=[big], use_cache=True).all(),
            n=n,
            before=_drop_cache(ctx.sites.big),
        ),
    )
    report.time(
        "discovery.cold.small",
        "discovery, cold, no cache (8 dists)",
        each(lambda: Discovery(path=[small], use_cache=False).all(), n=n),
    )
    _prime(ctx.sites.big)
    probe = Discovery(path=[big])
    found = len(probe.all())
    report.meta["extensions_found_350"] = found
    report.time(
        "discovery.cached",
        "discovery, fresh object, cache valid (350 dists)",
        each(lambda: Discovery(path=[big]).all(), n=n * 4),
        limit=5e-3,
        note=f"cache hit: {'yes' if probe.cache_hit else 'NO'}; {found} extensions",
    )
    report.ratio(
        "ratio.cold_vs_cached",
        "cold / cached discovery (350 dists)",
        "discovery.cold",
        "discovery.cached",
        at_least=1.0,
        words=("cache pays", "cache does NOT pay"),
        target="> 1x",
    )


def _resolve(ctx: _Context) -> None:
    """3: one name, on a populated Discovery and on a fresh one; 350 against 8."""
    report, big, small, n = ctx.report, ctx.big, ctx.small, ctx.slow_n * 4
    # the scan cache is still the big site's (from _discovery): measure 350 first
    ctx.warm["big"] = Discovery(path=[big])
    ctx.warm["big"].all()
    report.time(
        "resolve.fresh",
        f"fresh Discovery from cache + resolve {BIG_NAME} (350)",
        each(lambda: Discovery(path=[big]).resolve("provider", BIG_NAME), n=n),
    )
    _prime(ctx.sites.small)
    ctx.warm["small"] = Discovery(path=[small])
    ctx.warm["small"].all()
    report.time(
        "resolve.fresh.small",
        f"fresh Discovery from cache + resolve {SMALL_NAME} (8)",
        each(lambda: Discovery(path=[small]).resolve("provider", SMALL_NAME), n=n),
    )
    ns = {"big": ctx.warm["big"], "small": ctx.warm["small"], "a": BIG_NAME, "b": SMALL_NAME}
    resolve_big, resolve_small = micro_pair(
        "big.resolve('provider', a)", "small.resolve('provider', b)", ns, repeat=ctx.repeat + 2
    )
    report.time("resolve.warm", f"resolve {BIG_NAME}, populated Discovery (350)", resolve_big)
    report.time(
        "resolve.warm.small", f"resolve {SMALL_NAME}, populated Discovery (8)", resolve_small
    )
    flat = {"at_most": 1.5, "words": ("flat", "GROWS"), "target": "~1x (flat)"}
    report.ratio(
        "ratio.resolve_growth",
        "resolve, 350 / 8 dists",
        "resolve.warm",
        "resolve.warm.small",
        **flat,
    )
    report.ratio(
        "ratio.fresh_resolve_growth",
        "fresh Discovery + resolve, 350 / 8 dists",
        "resolve.fresh",
        "resolve.fresh.small",
        **flat,
    )


def _loads(ctx: _Context) -> ExtensionManager:
    """4 and 5: a cached load_extension, and a cold one that really imports."""
    report = ctx.report
    manager = ExtensionManager(discovery=ctx.warm["big"])
    manager.load_extension("provider", BIG_NAME)
    report.time(
        "load.cached",
        f"load_extension {BIG_NAME}, cached",
        micro("m.load_extension('provider', a)", {"m": manager, "a": BIG_NAME}, repeat=ctx.repeat),
        limit=2e-6,
    )

    def cold_load(discovery: Discovery, name: str, module: str) -> Timing:
        timing = each(
            lambda: ExtensionManager(discovery=discovery).load_extension("provider", name),
            n=ctx.load_n,
            before=lambda: sys.modules.pop(module, None),
        )
        if module not in sys.modules:
            print(f"warning: {module} was not imported by a cold load", file=sys.stderr)
        return timing

    report.time(
        "load.cold",
        f"cold load {BIG_NAME}: fresh manager, real import (350)",
        cold_load(ctx.warm["big"], BIG_NAME, ctx.sites.big_modules[BIG_NAME][1]),
    )
    report.time(
        "load.cold.small",
        f"cold load {SMALL_NAME}: fresh manager, real import (8)",
        cold_load(ctx.warm["small"], SMALL_NAME, ctx.sites.small_modules[SMALL_NAME][1]),
    )
    report.ratio(
        "ratio.cold_load_growth",
        "cold load, 350 / 8 dists",
        "load.cold",
        "load.cold.small",
        at_most=1.5,
        words=("flat", "GROWS"),
        target="~1x (flat)",
    )
    report.ratio(
        "ratio.cold_vs_cached_load", "cold / cached load_extension", "load.cold", "load.cached"
    )
    return manager


def _calls(ctx: _Context, manager: ExtensionManager) -> None:
    """6: one hook call through an Extension against the same call on bare pluggy."""
    report = ctx.report
    settings = ProviderSettings(name=BIG_NAME)
    ext = manager.load_extension("provider", BIG_NAME)
    ext_dict = manager.load_extension("provider", DICT_NAME)
    for extension in (ext, ext_dict):
        result = extension.call("get_server_info", settings=settings, server_id="x")
        if not isinstance(result, Server):
            print(f"warning: {extension!r} gave {type(result).__name__}", file=sys.stderr)
    ns = {
        "ext": ext,
        "ext_dict": ext_dict,
        "pm": bare_manager(ext.plugin),
        "pm_dict": bare_manager(ext_dict.plugin),
        "settings": settings,
    }
    via_ext, bare = micro_pair(
        "ext.call('get_server_info', settings=settings, server_id='x')",
        "pm.hook.get_server_info(settings=settings, server_id='x')",
        ns,
        repeat=ctx.repeat + 4,
    )
    report.time("call.ext", "ext.call get_server_info -> Server", via_ext)
    report.time("call.pluggy", "bare pluggy pm.hook.get_server_info", bare)
    report.ratio(
        "ratio.call_overhead",
        "Extension.call / bare pluggy (Server)",
        "call.ext",
        "call.pluggy",
        at_most=1.5,
    )
    via_ext, bare = micro_pair(
        "ext_dict.call('get_server_info', settings=settings, server_id='x')",
        "pm_dict.hook.get_server_info(settings=settings, server_id='x')",
        ns,
        repeat=ctx.repeat,
    )
    report.time("call.ext.dict", "ext.call get_server_info -> dict, structured", via_ext)
    report.time("call.pluggy.dict", "bare pluggy, same hook returning the dict", bare)
    report.ratio(
        "ratio.call_dict",
        "Extension.call / bare pluggy (dict, for information)",
        "call.ext.dict",
        "call.pluggy.dict",
    )


def _first_use(ctx: _Context) -> None:
    """What a command pays in a new process once the core is imported (information)."""
    big, module = ctx.big, ctx.sites.big_modules[BIG_NAME][1]
    settings = ProviderSettings(name=BIG_NAME)

    def first_use() -> None:
        manager = ExtensionManager(discovery=Discovery(path=[big]))
        manager.load_extension("provider", BIG_NAME).call(
            "get_server_info", settings=settings, server_id="x"
        )

    _prime(ctx.sites.big)
    ctx.report.time(
        "first_use",
        "first use: Discovery from cache + cold load + call (350)",
        each(first_use, n=ctx.load_n, before=lambda: sys.modules.pop(module, None)),
    )


def bare_manager(plugin: object) -> pluggy.PluginManager:
    """A plain pluggy manager with the provider hookspecs and ``plugin``: the baseline."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(ProviderSpec)
    pm.register(plugin, name="baseline")
    return pm


def profile(sites: Sites, *, top: int = 14) -> None:
    """Print where the time goes in cold discovery, cached discovery and a cold load."""
    import cProfile
    import pstats

    big = str(sites.big)
    module = sites.big_modules[BIG_NAME][1]
    warm = Discovery(path=[big])
    warm.all()

    def cold_loads() -> None:
        for _ in range(20):
            sys.modules.pop(module, None)
            ExtensionManager(discovery=warm).load_extension("provider", BIG_NAME)

    def cached() -> None:
        for _ in range(20):
            Discovery(path=[big]).all()

    _prime(sites.big)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("cold discovery, 350 dists, x3", lambda: [_cold(big) for _ in range(3)]),
        ("cached discovery, 350 dists, x20", cached),
        ("cold load, x20", cold_loads),
    ]
    for title, fn in cases:
        profiler = cProfile.Profile()
        profiler.runcall(fn)
        for order in ("cumulative", "tottime"):
            print(f"\n--- profile: {title}, top {top} by {order} time ---")
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.strip_dirs().sort_stats(order).print_stats(top)


def _cold(path: str) -> None:
    Discovery(path=[path], use_cache=False).all()
