"""Where the Data stage's documents come from: one request type, one loader for every kind.

The Data tab can start from the generated world (with its knobs), from Python's own help pages,
from a text file, from a folder of text files, or from a JSONL file with one document per line.
Whatever the kind, the result is a ``DataSource``: a title, the documents (with their topics,
years and quality flags where the kind knows them) and the files a folder load had to skip.
Curation (``engine.data.curation``) then works on ``DataSource.documents`` without caring where they
came from.

A request is a small frozen value, so the GUI can run ``load_source`` on a worker thread, tag the
answer with the request, remember the request in undo history, and ask for it again later.
Every failure is a ``PlainError`` from the loader underneath; nothing here touches what the user
has curated so far, so a bad load loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.data.corpus import bundled_corpora, load_bundled, read_folder, read_jsonl, read_text_file
from engine.data.curation import CurationSettings
from engine.data.documents import Document, documents_from_text
from engine.errors import CorpusError
from engine.data.world import WorldSettings, generate_world, world_documents

# The kinds of request, with what the Data tab's "Load" menu calls them.
KINDS = {
    "world": "Generate a fictional world",
    "bundled": "Bundled text",
    "file": "Open text file…",
    "folder": "Open folder…",
    "jsonl": "Open JSONL file…",
}
WORLD_TITLE = "A fictional world (generated)"


@dataclass(frozen=True)
class SourceRequest:
    """What to load; equal requests load equal documents."""

    kind: str  # one of KINDS
    value: str = ""  # bundled key, or file/folder path; unused for "world"
    world: WorldSettings | None = None  # the knobs, for kind "world" (None: the default world)
    encoding: str | None = None  # "file" only: read with this encoding instead of UTF-8
    text_field: str = "text"  # "jsonl" only: the field that holds each document's text

    @property
    def is_default_world(self) -> bool:
        return self.kind == "world" and (self.world is None or self.world == WorldSettings())


@dataclass(frozen=True)
class DataSource:
    """Documents ready to curate, and where they came from."""

    request: SourceRequest  # how they were loaded (to load them again, or undo back to them)
    title: str  # shown to the user, e.g. "notes (folder)"
    documents: tuple[Document, ...] = field(repr=False)  # in corpus order
    skipped: tuple[str, ...] = ()  # files a folder load left out, relative to the folder
    skipped_message: str = ""  # "3 files skipped: a.bin, …" or ""

    @property
    def topics(self) -> list[str]:
        """Every topic that occurs, in first-seen order."""
        return list(dict.fromkeys(d.topic for d in self.documents))

    @property
    def sources(self) -> list[str]:
        """Every source (style) that occurs, in first-seen order."""
        return list(dict.fromkeys(d.source for d in self.documents))

    @property
    def years(self) -> tuple[int, int] | None:
        """(earliest, latest) year of a dated document, or None if nothing is dated."""
        dated = [d.year for d in self.documents if d.year is not None]
        return (min(dated), max(dated)) if dated else None


def default_world_request() -> SourceRequest:
    return SourceRequest("world", world=WorldSettings())


def load_source(request: SourceRequest) -> DataSource:
    """Load the documents a request names (raises a ``PlainError`` with a plain message on failure)."""
    kind = request.kind
    if kind == "world":
        settings = request.world or WorldSettings()
        documents = world_documents(generate_world(settings), settings)  # validates the knobs first
        title = WORLD_TITLE if request.is_default_world else f"{WORLD_TITLE}, seed {settings.seed}"
        return DataSource(request, title, tuple(documents))
    if kind == "bundled":
        if request.value == "fictional_world":  # the bundled file is the default world's text
            return load_source(SourceRequest("world", world=WorldSettings()))
        corpus = load_bundled(request.value)
        return DataSource(request, corpus.name, tuple(documents_from_text(corpus.text, "web")))
    if kind == "file":
        corpus = read_text_file(request.value, request.encoding)
        documents = documents_from_text(corpus.text, "file")
        if not documents:
            raise CorpusError(f"'{Path(request.value).name}' has no text in it.", "Choose another file.")
        return DataSource(request, corpus.name, tuple(documents))
    if kind == "folder":
        loaded = read_folder(request.value)
        return DataSource(request, f"{Path(request.value).name} (folder)", loaded.documents,
                          loaded.skipped, loaded.skipped_message)
    if kind == "jsonl":
        loaded = read_jsonl(request.value, request.text_field)
        return DataSource(request, Path(request.value).name, loaded.documents)
    raise CorpusError(f"There is no way to load '{kind}'.")


def bundled_requests() -> list[tuple[str, SourceRequest]]:
    """(title, request) for each bundled corpus, the generated world first."""
    return [(b.title, default_world_request() if b.key == "fictional_world" else SourceRequest("bundled", b.key))
            for b in bundled_corpora()]


@dataclass(frozen=True)
class DataState:
    """What the Data tab shows: the documents loaded, and what curation keeps of them.

    Small and immutable; ``engine.data.curation.curate`` is pure, so the same state gives the same documents,
    charts and fingerprint (the Data tab's undo history is a list of these, ``gui.curation_history``).
    """

    source: DataSource
    settings: CurationSettings
