"""Sessions: a whole piece of work in one ``.tesession`` file, saved atomically and opened safely.

A session is one zip file. Its entries, in the order they are written:

- ``curation.json``   the Data tab's curation settings (plain JSON);
- ``tabs.json``       each tab's state as the GUI hands it over (tab key → plain JSON object);
- ``metrics.json``    curves and figures (run name → plain JSON object, e.g. its loss history);
- ``seeds.json``      what each random choice started from (name → whole number);
- ``votes.jsonl`` / ``ratings.jsonl``  the Preference tab's votes and the Evaluation tab's ratings;
- ``checkpoints/<name>.safetensors`` + ``checkpoints/<name>.json``  each model, exactly the two
  files ``engine.checkpoint`` writes for it;
- ``manifest.json``   written last: the format and its version, the app's version, when it was
  saved, and for every other entry what it is, its size and its sha256. It is the completion marker:
  a zip without it as its last entry is never opened as a session.

A model that is one of those shipped with the app (``engine.shipped_models``) can be stored by name
instead of by its weights: the manifest's ``shipped_models`` maps a checkpoint name to a shipped
model's name ("pretrained", …), and opening loads that model from the app's own ``assets/models/``.
The name is only looked up in ``shipped_models.SHIPPED_NAMES``, never turned into a path; an unknown
name, or a shipped model missing from this installation, is refused in words. Such a session is
written as format version 2, so a version that cannot resolve names says so instead of failing
later (the example session, ``assets/example_session.tesession``, is one: about 45 kB, not 11 MB).

Saving builds the zip in memory and writes it with ``engine.checkpoint.write_atomically`` (hidden
temporary file in the same folder, fsync, ``os.replace``, fsync of the folder), so the path holds the
old session or the new one, never a mix. A saved session gets the permissions any editor gives a new
file (0666 less the umask, or those of the file it replaces); the autosave stays its owner's (0600).
Temporary files left by a killed save are hidden ``.partial`` files, removed by the next complete save.

A session file may come from anyone, so opening trusts nothing. Before any entry is read it checks
the zip's directory: entry names (nothing that could escape a folder: ``..``, absolute paths, drive
letters, backslashes; only the names above), no duplicates, no links or folders, no encryption,
declared sizes and compression ratios (zip bombs), overlapping entries, the total size against the
limits and free memory. Then every entry must be listed in the manifest with its size and hash, and
every read is bounded by the declared size. JSON is parsed with bounded depth; models go through the
same checks as ``load_checkpoint``. Nothing is unpickled (safetensors and JSON cannot carry code),
and opening writes nothing anywhere. Every problem is a ``SessionError`` in plain words.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


from engine.errors import CheckpointError, SessionError
from engine.trained_model import TrainedModel

FORMAT = "training-explorer-session"
FORMAT_VERSION = 1
SHIPPED_FORMAT_VERSION = 2  # a session that names shipped models instead of holding them (see above)
_READABLE_VERSIONS = (FORMAT_VERSION, SHIPPED_FORMAT_VERSION)
SHIPPED_KEY = "shipped_models"  # the manifest's map: checkpoint name → shipped model's name
SESSION_SUFFIX = ".tesession"
AUTOSAVE_NAME = "autosave" + SESSION_SUFFIX
MANIFEST = "manifest.json"

MAX_SESSION_BYTES = 2**30  # the file, and all its entries unpacked: far above a classroom session's ~50 MB
MAX_ENTRIES = 100  # 6 fixed entries, the manifest, and two per model
MAX_CHECKPOINTS = 32  # models in one session
MAX_JSON_BYTES = 64 * 2**20  # one JSON entry unpacked (a model's description can hold a few MB of BPE merges)
MAX_MANIFEST_BYTES = 2**20
MAX_JSON_DEPTH = 32  # nesting of lists and objects in the GUI's state
MAX_RATIO = 100  # unpacked / packed size: deflate reaches ~1000 on a zip bomb, real JSON stays far below
RATIO_CHECKED_FROM = 64 * 2**10  # entries smaller than this unpack to little, whatever their ratio
_INT_LIMIT = 2**63  # whole numbers must fit in 64 bits (a 5000-digit number is no one's state)

# The fixed entries: name → kind (the kind the manifest must give it).
_JSON_ENTRIES = {"curation.json": "curation", "tabs.json": "tabs", "metrics.json": "metrics", "seeds.json": "seeds"}
_ROW_ENTRIES = {"votes.jsonl": "votes", "ratings.jsonl": "ratings"}
WEIGHTS_KIND, DESCRIPTION_KIND = "checkpoint-weights", "checkpoint-description"
_CHECKPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CHECKPOINT_ENTRY = re.compile(r"checkpoints/([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(safetensors|json)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_BYTES = 30  # fixed part of a zip local file header, before the name and extra field
_END_RECORD_BYTES, _ZIP64_LOCATOR_BYTES = 22, 20  # the zip's end record (without comment), and what precedes zip64's
MAX_DIRECTORY_BYTES = MAX_ENTRIES * 512  # the zip's table of parts: 46 bytes and a short name per part


@dataclass(frozen=True, eq=False)
class SessionContents:
    """Everything a session holds. The engine checks the GUI's parts are plain JSON; it does not interpret them.

    Lists come back as lists and tuples as lists (JSON has only one kind of sequence).
    """

    curation: dict = field(default_factory=dict)  # the Data tab's curation settings, plain JSON
    checkpoints: dict[str, TrainedModel] = field(default_factory=dict)  # name ("pretraining", …) → model
    metrics: dict[str, dict] = field(default_factory=dict)  # run name → its curves and figures, plain JSON
    votes: tuple[dict, ...] = ()  # the Preference tab's votes, one JSON object per pair
    ratings: tuple[dict, ...] = ()  # the Evaluation tab's blind ratings, one JSON object each
    seeds: dict[str, int] = field(default_factory=dict)  # name → the seed a random choice started from
    tabs: dict[str, dict] = field(default_factory=dict)  # tab key → that tab's state, plain JSON
    # Checkpoint name → the shipped model it is ("pretrained", …), stored by that name instead of its
    # weights. Opening puts the shipped model into ``checkpoints`` too; saving does not store a model
    # in ``checkpoints`` under a name listed here.
    shipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionInfo:
    """What the manifest says about a session, read without opening its models."""

    path: Path  # the session file
    saved_at: datetime  # when it was saved, with the saving computer's time zone
    app_version: str  # the Training Explorer version that saved it
    checkpoint_names: tuple[str, ...]  # the models it holds

    def time_in_words(self, now: datetime | None = None) -> str:
        """"10:42" for today, "10:42 on 8 June" for another day, for "Restore the session from …?"."""
        local = self.saved_at.astimezone()
        now = (now or datetime.now()).astimezone()
        clock = local.strftime("%H:%M")
        return clock if local.date() == now.date() else f"{clock} on {local.day} {local.strftime('%B')}"


AutosaveInfo = SessionInfo  # what find_autosave returns: the autosave's saved-at time, for the offer to restore


@functools.cache  # looking it up scans the installed packages' metadata: once per process is enough
def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("training-explorer")
    except PackageNotFoundError:  # running from a source folder that was never installed
        return "development copy"


# --- plain JSON ------------------------------------------------------------------------------------


def _plain(value, where: str, depth: int = 0):
    """``value`` as plain JSON (tuples become lists), or SessionError saying where it is not."""
    if depth > MAX_JSON_DEPTH:
        raise SessionError(f"{where} is nested more than {MAX_JSON_DEPTH} levels deep.")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise SessionError(f"{where} holds a whole number too large to store.")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item, where, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise SessionError(f"{where} has a name that is not text.")
        return {str(key): _plain(item, where, depth + 1) for key, item in value.items()}
    raise SessionError(f"{where} holds a {type(value).__name__[:40]}, which a session cannot store.")


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise SessionError(f"{where} is not a set of named values.")
    return _plain(value, where)


def _dict_of_objects(value, where: str) -> dict[str, dict]:
    value = _object(value, where)
    for key, item in value.items():
        if not isinstance(item, dict):
            raise SessionError(f"{where}: '{_shown(key)}' is not a set of named values.")
    return value


def _seeds(value, where: str) -> dict[str, int]:
    value = _object(value, where)
    for key, seed in value.items():
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SessionError(f"{where}: the seed '{_shown(key)}' is not a whole number.")
    return value


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")


def _loads(data: bytes, where: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: bad JSON, 5000-digit numbers
        raise SessionError(f"{where} is not readable.", "The session file is damaged.") from err


def _shown(text) -> str:
    """A name from a file, safe to put in a one-line message: short, printable."""
    text = str(text)
    return "".join(c if c.isprintable() else "?" for c in text[:60]) + ("…" if len(text) > 60 else "")


# --- models: the two files engine.checkpoint writes, as bytes -------------------------------------
# ``save_checkpoint`` and ``load_checkpoint`` work on files, but a session holds the files' bytes and
# opening one must write nothing. These two do what they do between the disk and the arrays, with
# ``engine.checkpoint``'s own helpers and constants; tests/engine/test_session.py checks that they
# agree with it byte for byte, and refusal for refusal on damaged descriptions.


def checkpoint_to_bytes(model: TrainedModel, weights_name: str) -> tuple[bytes, bytes]:
    """(safetensors bytes, JSON description bytes): what ``save_checkpoint`` writes for ``model``."""
    from engine import checkpoint as ckpt

    payload, description = ckpt.model_to_parts(model, weights_name)
    return payload, json.dumps(description, allow_nan=True).encode("utf-8")


def checkpoint_from_bytes(weights: bytes, description: bytes, weights_name: str,
                          weights_sha256: str | None = None) -> TrainedModel:
    """The model ``load_checkpoint`` would open from these two files' bytes, with the same checks.

    ``weights_sha256`` is the tensors' hash when the caller has computed it already. Raises CheckpointError.
    """
    from engine import checkpoint as ckpt

    if len(description) > ckpt.MAX_SIDECAR_BYTES:
        raise CheckpointError("The model's description is far too large to be one.")
    try:
        sidecar = json.loads(description.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CheckpointError("The model's description is not readable.", "The file may be damaged.") from err
    if not isinstance(sidecar, dict) or sidecar.get("format") != ckpt.FORMAT:
        raise CheckpointError("The model's description is not a Training Explorer model description.")
    if sidecar.get("version") != ckpt.FORMAT_VERSION:
        raise CheckpointError("The model was saved in a format this version cannot open.")
    if sidecar.get("weights_sha256") != (weights_sha256 or hashlib.sha256(weights).hexdigest()):
        raise CheckpointError(f"'{weights_name}' is damaged or incomplete: it does not match its description.")
    return ckpt.model_from_parts(sidecar, weights, weights_name)


# --- saving -----------------------------------------------------------------------------------------


def _entries(contents: SessionContents) -> list[tuple[str, str, bytes]]:
    """(name, kind, bytes) of every entry but the manifest, checked: save never writes what open refuses."""
    entries = [
        ("curation.json", "curation", _dumps(_object(contents.curation, "The curation settings"))),
        ("tabs.json", "tabs", _dumps(_dict_of_objects(contents.tabs, "The tabs' state"))),
        ("metrics.json", "metrics", _dumps(_dict_of_objects(contents.metrics, "The metrics"))),
        ("seeds.json", "seeds", _dumps(_seeds(contents.seeds, "The seeds"))),
    ]
    for name, kind in _ROW_ENTRIES.items():
        rows = getattr(contents, kind)
        if not isinstance(rows, (list, tuple)):
            raise SessionError(f"The {kind} are not a list of rows.")
        entries.append((name, kind, b"".join(_dumps(_object(row, f"A row of the {kind}")) + b"\n" for row in rows)))
    shipped = _shipped_to_save(contents)
    if not isinstance(contents.checkpoints, dict) or len(set(contents.checkpoints) | set(shipped)) > MAX_CHECKPOINTS:
        raise SessionError(f"A session holds at most {MAX_CHECKPOINTS} models.")
    for name, model in contents.checkpoints.items():
        if name in shipped:
            continue  # stored by its shipped name (checked by _shipped_to_save)
        if not (isinstance(name, str) and _CHECKPOINT_NAME.fullmatch(name)):
            raise SessionError(f"'{_shown(name)}' cannot name a model in a session: use letters, digits, - and _.")
        if not isinstance(model, TrainedModel):
            raise SessionError(f"'{name}' is not a model, so it cannot be put in the session.")
        try:
            weights, description = checkpoint_to_bytes(model, f"{name}.safetensors")
        except (CheckpointError, TypeError, ValueError) as err:
            raise SessionError(f"The model '{name}' cannot be put in the session: {err}") from err
        entries += [(f"checkpoints/{name}.safetensors", WEIGHTS_KIND, weights),
                    (f"checkpoints/{name}.json", DESCRIPTION_KIND, description)]
    for name, kind, data in entries:
        if kind != WEIGHTS_KIND and len(data) > MAX_JSON_BYTES:
            raise SessionError(f"'{name}' would be {len(data) / 2**20:.0f} MB, more than a session can hold.")
    if sum(len(data) for _, _, data in entries) > MAX_SESSION_BYTES:
        raise SessionError(f"This session is larger than {MAX_SESSION_BYTES / 2**30:.0f} GB and cannot be saved.",
                           "Remove some models from it.")
    return entries


def _shipped_to_save(contents: SessionContents) -> dict[str, str]:
    """``contents.shipped``, checked: known names, present in this installation, matching any model given."""
    from engine.shipped_models import shipped_stage_named, shipped_stages

    shipped = contents.shipped
    if not isinstance(shipped, dict):
        raise SessionError("The shipped models to refer to are not a set of named values.")
    present = shipped_stages()
    for name, shipped_name in shipped.items():
        if not (isinstance(name, str) and _CHECKPOINT_NAME.fullmatch(name)):
            raise SessionError(f"'{_shown(name)}' cannot name a model in a session: use letters, digits, - and _.")
        try:
            stage = shipped_stage_named(shipped_name)
        except CheckpointError as err:
            raise SessionError(f"The session cannot refer to '{_shown(shipped_name)}': {err.message}") from err
        if stage not in present:
            raise SessionError(f"The session cannot refer to the shipped model '{shipped_name}': "
                               "it is missing from this installation.")
        model = contents.checkpoints.get(name) if isinstance(contents.checkpoints, dict) else None
        if model is not None and getattr(model, "stage", None) != stage:
            raise SessionError(f"The model '{name}' is not the shipped model '{shipped_name}', so it cannot be "
                               "stored by that name.")
    return dict(shipped)


def _compression(kind: str, data: bytes) -> int:
    """Tensors are stored (they barely compress); JSON is deflated unless it would look like a zip bomb."""
    if kind == WEIGHTS_KIND:
        return zipfile.ZIP_STORED
    if len(data) >= RATIO_CHECKED_FROM and len(data) > MAX_RATIO // 2 * len(zlib.compress(data, 6)):
        return zipfile.ZIP_STORED  # e.g. a long list of zeros: open would refuse its ratio
    return zipfile.ZIP_DEFLATED


def session_bytes(contents: SessionContents, saved_at: datetime | None = None) -> bytes:
    """The whole session file, manifest last. ``save_session`` writes it; tests forge variants of it."""
    saved_at = (saved_at or datetime.now()).astimezone()
    entries = _entries(contents)
    shipped = _shipped_to_save(contents)
    manifest = {
        "format": FORMAT, "version": SHIPPED_FORMAT_VERSION if shipped else FORMAT_VERSION,
        "app_version": app_version(), "saved_at": saved_at.isoformat(timespec="seconds"),
        "entries": {name: {"kind": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                    for name, kind, data in entries},
    }
    if shipped:
        manifest[SHIPPED_KEY] = dict(sorted(shipped.items()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, kind, data in [*entries, (MANIFEST, "manifest", _dumps(manifest))]:
            info = zipfile.ZipInfo(name, date_time=saved_at.timetuple()[:6])
            info.compress_type = _compression(kind, data)
            info.create_system = 3  # Unix, so the mode below means what it says
            info.external_attr = (stat.S_IFREG | 0o644) << 16  # a plain file, never a link
            archive.writestr(info, data)
    return buffer.getvalue()


def save_session(contents: SessionContents, path, *, private: bool = False) -> Path:
    """Save ``contents`` as one session file at ``path``, atomically; returns the path. Raises SessionError.

    The file gets the permissions any editor gives a new file (or those of the file it replaces), so a
    session saved in a shared folder opens for the class; ``private`` keeps it to its owner (the autosave).
    """
    from engine.checkpoint import write_atomically

    path = Path(path)
    data = session_bytes(contents)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data, private=private)
    except OSError as err:
        raise SessionError(f"The session could not be saved to '{_shown(path.parent)}': {err.strerror or err}.",
                           "Choose another folder, or free some disk space.") from err
    _remove_leftovers(path)
    return path


def _remove_leftovers(path: Path) -> None:
    """Delete the hidden temporary files that killed saves of this same file left (exact pattern only)."""
    leftover = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.partial")  # write_atomically's mkstemp
    try:
        names = [n for n in path.parent.iterdir() if leftover.fullmatch(n.name)]
    except OSError:
        return
    for name in names:
        try:
            name.unlink()
        except OSError:  # already gone, or not ours to delete: harmless
            pass


# --- opening ----------------------------------------------------------------------------------------

# What the zip module raises on damaged input: all of it means "this is not a session we can open".
_ZIP_PROBLEMS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, EOFError,
                 OSError, zlib.error, struct.error, OverflowError)


def _refused(path: Path, problem: str, hint: str = "The file may be damaged, or it is not a session.") -> SessionError:
    return SessionError(f"'{_shown(path.name)}' cannot be opened as a session: {problem}.", hint)


def _expected_kind(name: str) -> str | None:
    if name in _JSON_ENTRIES:
        return _JSON_ENTRIES[name]
    if name in _ROW_ENTRIES:
        return _ROW_ENTRIES[name]
    match = _CHECKPOINT_ENTRY.fullmatch(name)
    if match:
        return WEIGHTS_KIND if match.group(2) == "safetensors" else DESCRIPTION_KIND
    return None


def _check_name(path: Path, name: str) -> None:
    parts = name.split("/")
    if (name.startswith("/") or "\\" in name or ":" in name or "\x00" in name
            or any(p in ("", ".", "..") for p in parts)):
        raise _refused(path, f"a part's name, '{_shown(name)}', points outside the session",
                       "Session files from other programs are not opened, for safety.")
    if name != MANIFEST and _expected_kind(name) is None:
        raise _refused(path, f"it holds a part this version does not know ('{_shown(name)}')")


def _check_directory(path: Path, archive: zipfile.ZipFile, file_size: int) -> dict[str, zipfile.ZipInfo]:
    """Everything that can be checked before reading an entry: names, kinds of entry, sizes, layout."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _refused(path, f"it has {len(infos)} parts, more than a session ever holds")
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        _check_name(path, name)
        if name in by_name:
            raise _refused(path, f"the part '{_shown(name)}' appears twice")
        by_name[name] = info
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_IFMT(mode) == stat.S_IFLNK:
            raise _refused(path, f"the part '{_shown(name)}' is a link", "Links in a session are never followed.")
        if info.is_dir() or (info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG)):
            raise _refused(path, f"the part '{_shown(name)}' is not a plain file")
        if info.flag_bits & 0x1:
            raise _refused(path, "it is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refused(path, "it is compressed in a way sessions never are")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _refused(path, f"the part '{_shown(name)}' has inconsistent sizes")
        limit = MAX_SESSION_BYTES if _expected_kind(name) == WEIGHTS_KIND else MAX_JSON_BYTES
        if info.file_size > limit:
            raise _refused(path, f"the part '{_shown(name)}' would unpack to {info.file_size / 2**20:.0f} MB")
        ratio = info.file_size // max(info.compress_size, 1)
        if info.file_size >= RATIO_CHECKED_FROM and ratio > MAX_RATIO:
            raise _refused(path, f"the part '{_shown(name)}' would unpack to {ratio} times its size, like a zip bomb",
                           "Sessions are never packed like this.")
    total = sum(info.file_size for info in infos)
    if total > MAX_SESSION_BYTES:
        raise _refused(path, f"it would unpack to {total / 2**30:.1f} GB, more than a session can hold")
    from engine.data.corpus import available_memory_bytes

    free = available_memory_bytes()
    if free is not None and total > free:
        raise _refused(path, f"it needs {total / 2**20:.0f} MB of memory and this computer has "
                             f"{free / 2**20:.0f} MB free", "Close other programs and try again.")
    # Entries follow each other without overlapping (a zip bomb can point many names at one body),
    # the first starts the file, and the manifest, written last, is last.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    if not ordered or ordered[0].header_offset != 0:
        raise _refused(path, "it does not start with a session's first part")
    for info, following in zip(ordered, ordered[1:] + [None]):
        end = info.header_offset + _LOCAL_HEADER_BYTES + len(info.orig_filename.encode("utf-8")) + info.compress_size
        if end > (following.header_offset if following else file_size):
            raise _refused(path, f"the part '{_shown(info.filename)}' overlaps another or runs past the end")
    if MANIFEST not in by_name or infos[-1].filename != MANIFEST or ordered[-1].filename != MANIFEST:
        raise _refused(path, "its list of contents is missing, so it was not saved completely",
                       "Open an earlier copy, or the autosaved session.")
    return by_name


def _read(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, never more than its declared size (checked against ``limit`` before)."""
    if info.file_size > limit:
        raise _refused(path, f"the part '{_shown(info.filename)}' is far too large")
    with archive.open(info) as entry:
        data = entry.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC
    if len(data) != info.file_size:
        raise _refused(path, f"the part '{_shown(info.filename)}' is cut short")
    return data


def _no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a name appears twice")
    return dict(pairs)


def _read_manifest(path: Path, archive: zipfile.ZipFile, by_name: dict) -> tuple[dict, dict]:
    """(manifest, its entries), checked field by field and against the zip's own directory."""
    data = _read(path, archive, by_name[MANIFEST], MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _refused(path, "its list of contents is unreadable") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refused(path, "it is not a Training Explorer session")
    if manifest.get("version") not in _READABLE_VERSIONS or isinstance(manifest.get("version"), bool):
        raise _refused(path, "it was saved in a format this version cannot open",
                       "It may come from a newer version of Training Explorer.")
    entries = manifest.get("entries")
    if not (isinstance(manifest.get("app_version"), str) and isinstance(manifest.get("saved_at"), str)
            and isinstance(entries, dict)):
        raise _refused(path, "its list of contents is incomplete")
    try:
        saved_at = datetime.fromisoformat(manifest["saved_at"])
        saved_at.astimezone()
    except (ValueError, OverflowError, OSError) as err:
        raise _refused(path, "its saving time is unreadable") from err
    listed, present = set(entries), set(by_name) - {MANIFEST}
    if present - listed:
        raise _refused(path, f"the part '{_shown(sorted(present - listed)[0])}' is not in its list of contents")
    if listed - present:
        raise _refused(path, f"the part '{_shown(sorted(listed - present)[0])}' is missing",
                       "It may have been cut short while copying.")
    for name, entry in entries.items():
        size = entry.get("size") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and entry.get("kind") == _expected_kind(name)
                and isinstance(size, int) and not isinstance(size, bool) and size == by_name[name].file_size
                and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])):
            raise _refused(path, f"its list of contents does not describe '{_shown(name)}' correctly")
    missing = [n for n in (*_JSON_ENTRIES, *_ROW_ENTRIES) if n not in entries]
    if missing:
        raise _refused(path, f"the part '{missing[0]}' is missing")
    _check_shipped(path, manifest, entries)
    return manifest, entries


def _check_shipped(path: Path, manifest: dict, entries: dict) -> None:
    """The manifest's shipped-model names: only in version 2, known checkpoint and shipped names, no clash."""
    from engine.shipped_models import SHIPPED_NAMES

    if SHIPPED_KEY not in manifest:
        if manifest["version"] == SHIPPED_FORMAT_VERSION:  # written only for sessions that name shipped models
            raise _refused(path, "its list of the app's own models it uses is missing")
        return
    shipped = manifest[SHIPPED_KEY]
    if manifest["version"] != SHIPPED_FORMAT_VERSION or not isinstance(shipped, dict) or not shipped:
        raise _refused(path, "its list of the app's own models it uses is not readable")
    stored = {m.group(1) for m in map(_CHECKPOINT_ENTRY.fullmatch, entries) if m}
    if len(shipped) + len(stored) > MAX_CHECKPOINTS:
        raise _refused(path, f"it holds more than {MAX_CHECKPOINTS} models")
    for name, shipped_name in shipped.items():
        if not _CHECKPOINT_NAME.fullmatch(name) or name in stored:
            raise _refused(path, f"the model name '{_shown(name)}' is not allowed or is used twice")
        if not isinstance(shipped_name, str) or shipped_name not in SHIPPED_NAMES:
            raise _refused(path, f"it refers to a model '{_shown(shipped_name)}' that does not come with the app",
                           f"Only the app's own models ({', '.join(SHIPPED_NAMES)}) can be referred to by name.")


def _shipped_names(manifest: dict) -> dict[str, str]:
    """Checkpoint name → shipped name, from a manifest ``_check_shipped`` accepted."""
    return dict(manifest.get(SHIPPED_KEY) or {})


def _check_end_record(path: Path, f, file_size: int) -> None:
    """The zip's end record, checked before the zip module reads the directory it points at.

    The zip module builds an object per directory record before anything else can be checked, so a
    forged file with millions of records would exhaust memory there. A session's end record is the
    file's last 22 bytes (no comment), describes a small directory that ends right before it, and has
    no zip64 extension (sessions never reach its sizes).
    """
    if file_size < _END_RECORD_BYTES + _LOCAL_HEADER_BYTES:
        raise _refused(path, "it is too short to be a session")
    f.seek(file_size - _END_RECORD_BYTES - _ZIP64_LOCATOR_BYTES)
    before, end = f.read(_ZIP64_LOCATOR_BYTES), f.read(_END_RECORD_BYTES)
    signature, disk, directory_disk, here, count, size, offset, comment = struct.unpack("<4s4H2LH", end)
    if signature != b"PK\x05\x06" or comment or disk or directory_disk or here != count:
        raise _refused(path, "it does not end like a session file")
    if before.startswith(b"PK\x06\x07"):
        raise _refused(path, "it is packed in a way sessions never are (zip64)")
    if count > MAX_ENTRIES or size > MAX_DIRECTORY_BYTES:
        raise _refused(path, f"it has {count} parts, more than a session ever holds")
    if offset + size != file_size - _END_RECORD_BYTES:
        raise _refused(path, "its table of parts is not where it should be")


def _open_archive(path: Path, action):
    """Run ``action(archive, by_name, manifest, entries)`` on a checked session; zip errors become SessionError."""
    path = Path(path)
    try:
        if not path.is_file():
            raise SessionError(f"'{_shown(path.name)}' does not exist or is not a file.", "Choose a session file.")
        file_size = path.stat().st_size
        if file_size > MAX_SESSION_BYTES:
            raise _refused(path, f"it is {file_size / 2**30:.1f} GB, more than a session can hold")
        with open(path, "rb") as f:
            if f.read(4) != _LOCAL_HEADER:
                raise _refused(path, "it does not start like a session file")
            _check_end_record(path, f, file_size)
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                by_name = _check_directory(path, archive, file_size)
                manifest, entries = _read_manifest(path, archive, by_name)
                return action(archive, by_name, manifest, entries)
    except SessionError:
        raise
    except RecursionError as err:
        raise _refused(path, "it is nested too deeply") from err
    except _ZIP_PROBLEMS as err:
        if isinstance(err, PermissionError):
            raise SessionError(f"'{_shown(path.name)}' cannot be read: you do not have permission to open it.",
                               "Ask whoever saved it to share it with you (or to save it again), "
                               "or copy it to a folder of your own.") from err
        raise _refused(path, "it is damaged or not a zip file") from err


def _checked_entry(path, archive, by_name, entries, name: str) -> bytes:
    kind = entries[name]["kind"]
    data = _read(path, archive, by_name[name], MAX_SESSION_BYTES if kind == WEIGHTS_KIND else MAX_JSON_BYTES)
    if hashlib.sha256(data).hexdigest() != entries[name]["sha256"]:
        raise _refused(path, f"the part '{_shown(name)}' does not match its list of contents",
                       "It was changed or damaged after saving.")
    return data


def _rows(data: bytes, name: str) -> tuple[dict, ...]:
    rows = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            rows.append(_object(_loads(line, f"{name}:{number}"), f"{name}:{number}"))
    return tuple(rows)


def _contents(path: Path, archive, by_name, manifest, entries) -> SessionContents:
    read = {name: _checked_entry(path, archive, by_name, entries, name) for name in entries}
    json_parts = {kind: _loads(read[name], f"The session's {kind}") for name, kind in _JSON_ENTRIES.items()}
    checkpoints = {}
    names = sorted({m.group(1) for m in map(_CHECKPOINT_ENTRY.fullmatch, entries) if m})
    if len(names) > MAX_CHECKPOINTS:
        raise _refused(path, f"it holds more than {MAX_CHECKPOINTS} models")
    for name in names:
        weights, description = f"checkpoints/{name}.safetensors", f"checkpoints/{name}.json"
        if weights not in read or description not in read:
            raise _refused(path, f"half of the model '{name}' is missing")
        try:
            checkpoints[name] = checkpoint_from_bytes(
                read[weights], read[description], f"{name}.safetensors", entries[weights]["sha256"])
        except CheckpointError as err:
            raise SessionError(f"The model '{name}' in '{_shown(path.name)}' cannot be opened: {err.message}",
                               err.hint) from err
    shipped = _shipped_names(manifest)
    if shipped:
        from engine.shipped_models import shipped_files_named

        for name, shipped_name in shipped.items():
            try:  # from the app's own folder: the name was only looked up in SHIPPED_NAMES
                weights_path, description_path = shipped_files_named(shipped_name)
                weights, description = weights_path.read_bytes(), description_path.read_bytes()
                # The same reading as a stored model's, so opening still compiles and writes nothing.
                checkpoints[name] = checkpoint_from_bytes(weights, description, weights_path.name)
            except OSError as err:
                raise SessionError(f"'{_shown(path.name)}' uses the app's own model '{shipped_name}', which cannot "
                                   f"be read: {err.strerror or err}.") from err
            except CheckpointError as err:
                raise SessionError(f"'{_shown(path.name)}' uses a model that comes with the app, and it cannot be "
                                   f"opened: {err.message}", err.hint) from err
    return SessionContents(
        curation=_object(json_parts["curation"], "The session's curation settings"),
        checkpoints=checkpoints,
        metrics=_dict_of_objects(json_parts["metrics"], "The session's metrics"),
        votes=_rows(read["votes.jsonl"], "votes.jsonl"),
        ratings=_rows(read["ratings.jsonl"], "ratings.jsonl"),
        seeds=_seeds(json_parts["seeds"], "The session's seeds"),
        tabs=_dict_of_objects(json_parts["tabs"], "The session's tab state"),
        shipped=shipped,
    )


def open_session(path) -> SessionContents:
    """Open a session saved by ``save_session``. Any problem raises SessionError; nothing is written."""
    path = Path(path)
    return _open_archive(path, lambda archive, by_name, manifest, entries:
                         _contents(path, archive, by_name, manifest, entries))


def session_info(path) -> SessionInfo:
    """The manifest's summary of a session, after the checks that need no entry but the manifest."""
    path = Path(path)

    def info(archive, by_name, manifest, entries) -> SessionInfo:
        names = sorted({m.group(1) for m in map(_CHECKPOINT_ENTRY.fullmatch, entries) if m}
                       | set(_shipped_names(manifest)))
        return SessionInfo(path, datetime.fromisoformat(manifest["saved_at"]), manifest["app_version"], tuple(names))

    return _open_archive(path, info)


# --- autosave ---------------------------------------------------------------------------------------


def autosave_path() -> Path:
    """Where the app autosaves the session: one file in the user's data folder, replaced each time."""
    from engine.user_paths import data_dir

    return data_dir() / AUTOSAVE_NAME


def autosave(contents: SessionContents) -> Path:
    """Save ``contents`` over the previous autosave, atomically (a crash mid-save keeps the previous one).

    Readable by its owner only: it sits in the user's own data folder, holds work never chosen to be shared,
    and is replaced every minute.
    """
    return save_session(contents, autosave_path(), private=True)


def find_autosave() -> AutosaveInfo | None:
    """The autosaved session, if there is one that is complete, for "Restore the session from 10:42?".

    A damaged or foreign file at the autosave path is not offered (opening it would fail); the next
    autosave replaces it.
    """
    path = autosave_path()
    if not path.is_file():
        return None
    try:
        return session_info(path)
    except SessionError:
        return None


def discard_autosave() -> None:
    """Remove the autosave, when the user chose to start afresh instead of restoring it."""
    try:
        autosave_path().unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        raise SessionError(f"The autosaved session could not be removed: {err.strerror or err}.") from err
