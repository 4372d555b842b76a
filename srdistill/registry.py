"""Registries map a component name (``type:`` in a recipe) to its config model and builder.

Every entry pairs a pydantic config class, whose ``type`` field is a one-value ``Literal``, with
the function that builds the component from that config. Recipes are validated against the
union of the config classes of a registry, so a component registered by a plugin is a valid
recipe ``type`` like a built-in one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, get_args

from pydantic import ValidationError

from srdistill.errors import UnknownNameError, UserError
from srdistill.settings import Settings

T = TypeVar("T")


class ComponentConfig(Settings):
    """Base of every component config: strict keys, a ``type`` tag naming the registry entry."""

    type: str

    @classmethod
    def tiny(cls, folder: Path) -> ComponentConfig | None:
        """A small working config, for the tests that run every registered component.

        The default is the ``type`` alone, which works when every other field has a default;
        a component that needs more (a model name, a weights file written into ``folder``)
        overrides this. ``None`` leaves the component out of those tests.
        """
        try:
            return cls.model_validate({"type": _type_tag(cls)})
        except ValidationError:
            return None


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component."""

    name: str
    config: type[ComponentConfig] | None
    build: Callable[..., T]
    source: str
    summary: str


class NameClash(UserError):
    """Two components of one kind registered under the same name."""

    def __str__(self) -> str:
        return self.problem


def _type_tag(config: type[ComponentConfig]) -> str:
    field = config.model_fields.get("type")
    values = get_args(field.annotation) if field is not None else ()
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{config.__name__}.type must be annotated as Literal['<name>']")
    return values[0]


def did_you_mean(name: str, known: list[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Named components of one kind (students, teachers, ...).

    Args:
        kind: singular noun used in messages, e.g. ``"student"``.
        base: the config class every entry's config derives from; the engine reads the fields
            it declares (a loss's ``weight``, a data set's ``relabel``) without knowing the type.
    """

    def __init__(self, kind: str, base: type[ComponentConfig] = ComponentConfig) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry[T]] = {}

    def add(
        self,
        config: type[ComponentConfig] | str,
        build: Callable[..., T],
        *,
        source: str = "srdistill",
    ) -> Entry[T]:
        """Register ``build`` under the name given by ``config``'s ``type`` tag.

        Components without settings (metrics) register with a plain name instead of a config.
        """
        if not isinstance(config, str) and not issubclass(config, self.base):
            raise TypeError(
                f"{self.kind} config {config.__name__} must derive from {self.base.__module__}.{self.base.__qualname__}"
            )
        name = config if isinstance(config, str) else _type_tag(config)
        if name in self._entries:
            other = self._entries[name].source
            raise NameClash(
                f"{self.kind} '{name}' from {source} clashes with the one from {other}.",
                f"Rename one of them; '{name}' from {other} stays registered.",
            )
        cls = None if isinstance(config, str) else config
        doc = ((cls.__doc__ if cls else None) or build.__doc__ or "").strip()
        entry = Entry(name, cls, build, source, doc.splitlines()[0] if doc else "")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        """The entry called ``name``; an unknown name lists the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            known = sorted(self._entries)
            raise UnknownNameError(
                f"Unknown {self.kind} '{name}'.{did_you_mean(name, known)}",
                f"Use one of: {', '.join(known)}.",
            ) from None

    def build(self, config: ComponentConfig, *args: Any, **kwargs: Any) -> T:
        """Build the component described by ``config``."""
        return self.get(config.type).build(config, *args, **kwargs)

    def check(self, name: str) -> str:
        """``name`` if registered; for pydantic validators, a ``ValueError`` naming the known ones."""
        try:
            self.get(name)
        except UnknownNameError as e:
            raise ValueError(f"{e.problem} {e.fix}") from None
        return name

    def remove(self, name: str) -> None:
        """Unregister ``name`` (used to undo a plugin that failed half-way)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def configs(self) -> list[type[ComponentConfig]]:
        return [e.config for e in self if e.config is not None]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
