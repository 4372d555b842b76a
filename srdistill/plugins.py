"""Third-party components, registered through Python entry points.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."srdistill.plugins"]
    my_plugin = "my_package:register"

and ``my_package.register(registries)`` adds components exactly as srdistill adds its own::

    from srdistill.plugins import Registrar

    def register(registries: Registrar) -> None:
        registries.teachers.add(MyTeacherConfig, build_my_teacher)

:class:`Registrar` lists the six registries and what each one's builder is called with.

Entry points are read once, the first time the registries are needed. A plugin that fails to
import or to register becomes a warning naming it and the error, never a crash, and none of its
components stays half-registered; a name that is already taken is reported and skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from srdistill.registry import ComponentConfig, NameClash, Registry

GROUP = "srdistill.plugins"


class Catalog(Protocol):
    """What plugins are registered into (:class:`srdistill.catalog.Catalog`)."""

    problems: list[str]

    def registries(self) -> dict[str, Registry[Any]]: ...


class PluginWarning(UserWarning):
    """A plugin could not be loaded, or one of its names was taken."""


class RegistryAdder:
    """One registry as a plugin sees it: additions are tagged with the plugin's package.

    ``add(config, build)`` registers a component: ``config`` is a :class:`ComponentConfig`
    subclass whose ``type: Literal["name"]`` field is the name recipes use, and ``build`` turns a
    validated config into the component. Lookups (``get``, ``names``, ``build``) reach the
    registry itself.
    """

    def __init__(self, registry: Registry[Any], source: str, clashes: list[str]) -> None:
        self._registry, self._source, self._clashes = registry, source, clashes
        self.added: list[str] = []

    def add(self, config: type[ComponentConfig] | str, build: Callable[..., Any]) -> None:
        try:
            entry = self._registry.add(config, build, source=self._source)
        except NameClash as clash:
            self._clashes.append(f"{clash.problem} The plugin's one was not registered.")
            return
        self.added.append(entry.name)

    def __getattr__(self, name: str) -> Any:  # get, names, ... for plugins that look things up
        return getattr(self._registry, name)


class Registrar:
    """What a plugin's ``register`` function receives: the six registries, by recipe section.

    Attributes:
        students: ``build(cfg, info: DataInfo) -> SuperResolver`` (``srdistill.students.base``).
        teachers: ``build(cfg, info: DataInfo) -> Teacher`` (``srdistill.teachers.base``).
        degradations: ``build(cfg) -> nn.Module`` mapping HR ``(B, C, H, W)`` in [0, 1] to LR.
        losses: ``build(cfg) -> Loss`` (``srdistill.losses.base``); configs subclass ``WeightedConfig``.
        datasets: ``build(cfg) -> Splits`` (``srdistill.data.base``); configs subclass ``DatasetConfig``.
        metrics: ``add("name", MetricClass)``: a :class:`srdistill.metrics.base.Metric` subclass, built
            without arguments.
    """

    students: RegistryAdder
    teachers: RegistryAdder
    degradations: RegistryAdder
    losses: RegistryAdder
    datasets: RegistryAdder
    metrics: RegistryAdder

    def __init__(self, cat: Catalog, source: str, clashes: list[str]) -> None:
        self._adders = {name: RegistryAdder(reg, source, clashes) for name, reg in cat.registries().items()}
        for name, adder in self._adders.items():
            setattr(self, name, adder)

    def rollback(self, cat: Catalog) -> None:
        """Remove everything this plugin registered (after it failed half-way)."""
        for name, adder in self._adders.items():
            for entry_name in adder.added:
                cat.registries()[name].remove(entry_name)


def source_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else ep.value.split(":")[0]


def load_plugins(cat: Catalog, eps: Iterable[EntryPoint] | None = None) -> None:
    """Register every installed plugin into ``cat``; problems become warnings and ``cat.problems``."""
    for ep in eps if eps is not None else entry_points(group=GROUP):
        source = source_of(ep)
        clashes: list[str] = []
        registrar = Registrar(cat, source, clashes)
        try:
            ep.load()(registrar)
        except Exception as e:
            registrar.rollback(cat)
            _report(cat, f"plugin '{ep.name}' from {source} failed to load and was skipped: {type(e).__name__}: {e}")
        for clash in clashes:
            _report(cat, f"plugin '{ep.name}': {clash}")


def _report(cat: Catalog, message: str) -> None:
    cat.problems.append(message)
    warnings.warn(message, PluginWarning, stacklevel=2)
