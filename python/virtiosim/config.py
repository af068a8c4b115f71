"""Config: every simulator parameter, with the names, units, defaults and
accepted values `virtiosim params --json` declares (sim/config.cpp is the one
declaration; this module reads it from the simulator)."""

import json
import os
import subprocess
import tempfile
from functools import lru_cache

from .run import simulator


class ConfigError(ValueError):
    """A configuration the simulator would refuse; .key names the parameter."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key


@lru_cache(maxsize=None)
def _table(binary):
    out = subprocess.run([binary, "params", "--json"], check=True, capture_output=True, text=True).stdout
    return tuple(json.loads(out))


@lru_cache(maxsize=None)
def _renamed(binary):
    """Old key -> new key for the keys renamed and still accepted (virtiosim params --renamed)."""
    out = subprocess.run([binary, "params", "--renamed", "--json"], check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


@lru_cache(maxsize=4096)
def _refusal(binary, args):
    """The simulator's own cross-parameter rules (Config::validate, split
    needs a power-of-two queue size, ...): (key, message) of what
    `virtiosim run --dry-run` refuses, or None. It simulates nothing."""
    with tempfile.TemporaryDirectory(prefix="virtiosim-check-") as tmp:
        error_path = os.path.join(tmp, "error.json")
        p = subprocess.run([binary, "run", "--dry-run", "--quiet", "--error-json", error_path, *args],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return None
        try:
            with open(error_path) as f:
                refused = json.load(f)
        except (OSError, ValueError):
            raise RuntimeError(f"virtiosim run --dry-run exited with {p.returncode}: {p.stderr.strip()}") from None
        return refused.get("key"), refused["message"]


def _edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            replaced = diagonal + (a[i - 1] != b[j - 1])
            diagonal = row[j]
            row[j] = min(replaced, row[j] + 1, row[j - 1] + 1)
    return row[len(b)]


def _near(word, candidates):
    """The names suggested for a mistyped one, by the rule the command line
    uses (support/did_you_mean.h): within max(2, len // 3) edits, nearest
    first, ties in the candidates' order, at most three."""
    limit = max(2, len(word) // 3)
    scored = [(d, c) for c in candidates if (d := _edit_distance(word, c)) <= limit]
    return [c for _, c in sorted(scored, key=lambda x: x[0])[:3]]


def params():
    """Every parameter as a dict: key, unit, default, accepted, why (listing order)."""
    return [dict(p) for p in _table(simulator())]


_LIST = "comma-separated "  # the simulator's name lists: "comma-separated a|b|c"


def _kind(p):
    acc = p["accepted"]
    if acc == "0|1":
        return "bool"
    if acc.startswith(_LIST):
        return "list"
    # A number accepts "lo..hi"; anything else is a choice, of one value too
    # (device.kind when only vhost-net is registered).
    if "|" in acc or ".." not in acc:
        return "choice"
    return "number"


def _typed(p, text):
    """The simulator's default text as a Python value."""
    k = _kind(p)
    if k == "bool":
        return text == "1"
    if k in ("choice", "list"):
        return text
    v = float(text)
    return int(v) if v.is_integer() and "." not in text and "e" not in text else v


class Config:
    """A simulator configuration. Unset keys keep the simulator's defaults.

        Config(ring="split", queue_size=512)
        Config({"memory.dram_ns": 90}, event_idx=False)
        cfg["vhost.busy_poll_ns"] = 20000

    Keyword arguments may spell a dot as a double underscore
    (memory__dram_ns=90). A bad key or value raises ConfigError naming the
    key and what it accepts. Cross-parameter rules (split needs a power-of-two
    queue size, pcie needs metadata=dma, ...) are the simulator's own
    (`virtiosim run --dry-run` asks it): a Config that breaks one is refused
    when it is made, updated or set, with the simulator's message and .key,
    and keeps its values from before. Change keys that depend on each other
    together: cfg.update(path="pcie", metadata="dma").
    """

    def __init__(self, values=None, **kwargs):
        self._params = {p["key"]: p for p in _table(simulator())}
        self._renamed = _renamed(simulator())
        self._values = {}
        self.update(values, **kwargs)

    # -- the table ---------------------------------------------------------
    def keys(self):
        """Every key, in the simulator's listing order."""
        return list(self._params)

    def info(self, key):
        """key, unit, default, accepted and why of one parameter."""
        return dict(self._param(key))

    def defaults(self):
        return {k: _typed(p, p["default"]) for k, p in self._params.items()}

    def _param(self, key):
        p = self._params.get(self._renamed.get(key, key))
        if p is None:
            near = _near(key, list(self._params))
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(key, f"unknown key '{key}'{hint} (virtiosim.params() lists all {len(self._params)})")
        return p

    # -- values ------------------------------------------------------------
    def __setitem__(self, key, value):
        self.update({key: value})

    def __getitem__(self, key):
        p = self._param(key)
        return self._values.get(p["key"], _typed(p, p["default"]))

    def __contains__(self, key):
        return self._renamed.get(key, key) in self._params

    def get(self, key, default=None):
        return self[key] if key in self else default

    def set(self, key, value):
        self[key] = value
        return self

    def update(self, values=None, **kwargs):
        """Set several keys at once; the cross-parameter rules are checked on the result."""
        new = dict(self._values)
        items = list(dict(values or {}).items()) + [(k.replace("__", "."), v) for k, v in kwargs.items()]
        for k, v in items:
            p = self._param(k)
            new[p["key"]] = self._check(p, v)
        if new != self._values:
            self._validate(new)
        self._values = new
        return self

    def _validate(self, values):
        refused = _refusal(simulator(), tuple(Config._args(values)))
        if refused:
            raise ConfigError(*refused)

    def copy(self, **kwargs):
        c = Config(self._values)
        return c.update(**kwargs)

    def changed(self):
        """Only the keys set away from the defaults."""
        return dict(self._values)

    def to_dict(self):
        """Every key with its value (defaults included)."""
        return {k: self[k] for k in self._params}

    def to_json(self, path=None):
        text = json.dumps(self.changed(), indent=2, sort_keys=True)
        if path:
            with open(path, "w") as f:
                f.write(text + "\n")
        return text

    def args(self):
        """The `virtiosim run` arguments that give this configuration."""
        return Config._args(self._values)

    @staticmethod
    def _args(values):
        out = []
        for k, v in values.items():
            if isinstance(v, bool):
                v = int(v)
            out += ["--set", f"{k}={v}"]
        return out

    def _check(self, p, value):
        key, acc, kind = p["key"], p["accepted"], _kind(p)
        if kind == "bool":
            if value in (True, False, 0, 1, "0", "1", "true", "false"):
                return value in (True, 1, "1", "true")
            raise ConfigError(key, f"bad value for '{key}': {value!r} is not one of 0|1 (or True/False)")
        if kind == "choice":
            choices = acc.split("|")
            if value not in choices:
                raise ConfigError(key, f"bad value for '{key}': {value!r} is not one of {acc}")
            return value
        if kind == "list":  # "a,b" or ["a", "b"]; "" or [] for none
            names = value.split(",") if isinstance(value, str) else list(value)
            names = [n.strip() for n in names if str(n).strip()]
            choices = acc[len(_LIST):].split("|")
            for n in names:
                if n not in choices:
                    raise ConfigError(key, f"bad value for '{key}': {n!r} is not one of {acc[len(_LIST):]}")
            return ",".join(names)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(key, f"bad value for '{key}': {value!r} is not a number ({acc} {p['unit']})".rstrip())
        try:
            num = float(value)
        except ValueError:
            raise ConfigError(key, f"bad value for '{key}': {value!r} is not a number ({acc} {p['unit']})".rstrip()) from None
        lo, hi = (float(x) for x in acc.split(".."))
        if not lo <= num <= hi:
            raise ConfigError(key, f"bad value for '{key}': {value!r} is outside {acc} {p['unit']}".rstrip())
        if isinstance(value, str):
            return int(num) if num.is_integer() else num
        return value

    def __eq__(self, other):
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" if "." not in k else f"{k.replace('.', '__')}={v!r}"
                          for k, v in self._values.items())
        return f"Config({inner})"

    # Picklable for process pools and dask.
    def __getstate__(self):
        return {"values": self._values}

    def __setstate__(self, state):
        self.__init__(state["values"])
