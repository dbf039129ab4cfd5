"""The repository stands on its own: no machine paths in tracked files, docs that cross-reference
each other resolve, and every `semantics N.M` cited in the code exists in docs/semantics.md."""

import re
import shutil
import subprocess

import pytest
from conftest import ROOT

SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", "out", "artifacts", "build", "dist"}

# Built from pieces so this file does not match itself.
MACHINE_PATH = re.compile(
    "|".join(
        [
            r"/" + r"work/",  # the build machine's work tree
            r"/" + r"home/\w",
            r"/" + r"Users/\w",
            r"/" + r"root/\w",
            r"(?<![\w.])/" + r"tmp/\w",  # a fixed folder under /tmp (use tmp_path / mktemp)
            r"\b[A-Z]:\\" + r"\\?(Users|work)",
        ]
    )
)
SHARED_MENTION = re.compile(r"\.\./" + r"shared")
SHARED_ALLOWED = ("tests/", "bench/", "tools/mutation.py", "README.md", "docs/semantics.md")


def tracked_text_files() -> dict:
    """{relative path: text} of the repository's files (git's list when available), text only."""
    if shutil.which("git") and (ROOT / ".git").exists():
        names = (
            subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
            .stdout.decode()
            .split("\0")
        )
        paths = [ROOT / n for n in names if n]
    else:
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.parts)]
    files = {}
    for p in paths:
        try:
            files[p.relative_to(ROOT).as_posix()] = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary (images, .dat, .npz) or deleted in the work tree
    return files


FILES = tracked_text_files()


def test_file_list_is_real():
    assert {"README.md", "pyproject.toml", "mtcnn_core/tools/cli.py", "docs/trace_format.md"} <= set(FILES)


def test_no_machine_paths():
    hits = [
        f"{name}:{i}: {line.strip()}"
        for name, text in FILES.items()
        for i, line in enumerate(text.splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not hits, "machine paths:\n" + "\n".join(hits)


def test_shared_is_only_the_optional_test_reference():
    where = sorted(n for n, t in FILES.items() if SHARED_MENTION.search(t))
    assert all(n.startswith(SHARED_ALLOWED) for n in where), where


def test_machine_path_pattern_catches_planted_paths():
    planted = ["/" + "work/shared/docs/x.md", "-d /" + "tmp/fp", "C:\\" + "Users\\me", "/" + "home/me/x"]
    assert all(MACHINE_PATH.search(s) for s in planted)
    assert not any(MACHINE_PATH.search(s) for s in ["tmp_path / 'x'", "network/", "/usr/bin/chromium"])


def test_doc_links_resolve():
    bad = []
    for name, text in FILES.items():
        if not name.endswith(".md"):
            continue
        base = (ROOT / name).parent
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if "://" not in target and not (base / target).exists():
                bad.append(f"{name}: ({target})")
        for target in re.findall(r"`((?:docs|mtcnn_core|ui|pages|bench|tools|tests)/[\w./-]+\.(?:md|py))`", text):
            if not (ROOT / target).exists():
                bad.append(f"{name}: `{target}`")
    assert not bad, bad


def semantics_sections() -> set:
    text = (ROOT / "docs" / "semantics.md").read_text()
    return set(re.findall(r"\*\*(\d+\.\d+)\*\*", text)) | set(re.findall(r"^## (\d+)\.", text, re.M))


def cited_sections() -> dict:
    """{'4.6': ['mtcnn_core/boxes.py', ...]} for every `semantics N.M` (or 'N.M-N.K', 'N and M')."""
    cited = {}
    for name, text in FILES.items():
        if name == "docs/semantics.md":
            continue
        for m in re.finditer(
            r"semantics(?: doc's|\.md's|\.md`?,)?\s+((?:\d+(?:\.\d+)?[a-c]?(?:-| and |, )?)+)", text, re.I
        ):
            for ref in re.findall(r"\d+(?:\.\d+)?", m.group(1)):
                cited.setdefault(ref, []).append(name)
    return cited


def test_semantics_citations_exist():
    cited, sections = cited_sections(), semantics_sections()
    assert len(cited) > 20  # the code really cites it (the pattern still matches)
    missing = {ref: files for ref, files in cited.items() if ref not in sections}
    assert not missing, missing


@pytest.mark.parametrize("doc", ["docs/trace_format.md", "docs/semantics.md", "docs/cpp_dump.md"])
def test_docs_exist_and_say_what_they_are(doc):
    text = FILES[doc]
    assert text.startswith("# ") and len(text) > 2000


def test_every_mutant_still_matches_the_code_once():
    """tools/mutation.py (not run in CI) plants each bug by replacing a snippet of mtcnn_core: a
    snippet that no longer occurs exactly once (after a refactor or reformat) is a stale mutant."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("mutation", ROOT / "tools" / "mutation.py")
    mutation = importlib.util.module_from_spec(spec)
    sys.modules["mutation"] = mutation  # its dataclasses look their module up there
    spec.loader.exec_module(mutation)
    stale = [mu.id for mu in mutation.MUTANTS if (ROOT / mu.file).read_text().count(mu.old) != 1]
    assert len(mutation.MUTANTS) >= 60 and not stale, stale
