"""The fenced blocks of the docs pages (docs/*.md), for the tests that run them.

Every server configuration the docs show is read from its page by the test
that runs it, so a recipe cannot rot:

    block = doc_block("deploy/fastcgi.md", "nginx", "nginx", "upstream wsgicgi_app")
    conf = substitute(block, {"/run/wsgicgi/app.sock": my_socket})

``substitute`` replaces the example paths and ports, and fails when one of
them is no longer in the block.  tests/test_docs.py checks that every block of
the pages is read here by some test, or marked in the page as not tested.
"""

import os
import re
import shlex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")

_HEADING = re.compile(r"(#{1,6}) +(.*?) *$")
_FENCE = re.compile(r"^(```+|~~~+) *([\w+-]*)")


def page_text(page):
    """The Markdown text of ``page`` (a path under docs/, e.g. ``deploy/cgi.md``)."""
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        return f.read()


def blocks(text):
    """``(heading path, lang, body)`` of every fenced block in ``text``: the
    headings above it (outermost first), its info string, its text."""
    found = []
    headings = []
    fence = lang = None
    body = []
    for line in text.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if match:
                fence, lang, body = match.group(1), match.group(2), []
                continue
            heading = _HEADING.match(line)
            if heading:
                level = len(heading.group(1))
                headings = [h for h in headings if h[0] < level] + [(level, heading.group(2))]
        elif line.strip() == fence:
            found.append((tuple(h[1] for h in headings), lang, "".join(body)))
            fence = None
        else:
            body.append(line + "\n")
    if fence is not None:
        raise AssertionError("an unclosed ``` block")
    return found


def doc_block(page, section, lang, marker=None):
    """The one ```lang block of ``page`` under the heading that contains
    ``section`` (any level; None: anywhere in the page) whose text contains
    ``marker``, as written."""
    candidates = [
        body
        for headings, block_lang, body in blocks(page_text(page))
        if block_lang == lang
        and (section is None or any(section in h for h in headings))
        and (marker is None or marker in body)
    ]
    if len(candidates) != 1:
        raise AssertionError(
            "docs/%s: %d ```%s blocks under a heading with %r containing %r (want exactly 1)"
            % (page, len(candidates), lang, section, marker)
        )
    return candidates[0]


def substitute(text, replacements):
    """``text`` with each example path or value replaced; each must be there."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError("docs block no longer has %r:\n%s" % (old, text))
        text = text.replace(old, new)
    return text


def commands(block):
    """The shell commands of a ```sh block: comment lines dropped, backslash
    continuations joined, one string per command."""
    out = []
    pending = ""
    for line in block.split("\n"):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        out.append((pending + line).strip())
        pending = ""
    return out


def command(block, marker):
    """The one command of ``block`` that contains ``marker``."""
    found = [c for c in commands(block) if marker in c]
    if len(found) != 1:
        raise AssertionError("%d commands with %r in:\n%s" % (len(found), marker, block))
    return found[0]


def argv(line):
    """A command line split as the shell would, without its comment."""
    return shlex.split(line, comments=True)


def cd_and_argv(line):
    """``cd DIR && PROGRAM ARGS…`` as (DIR, argv)."""
    first, sep, rest = line.partition("&&")
    words = argv(first)
    if not sep or words[0] != "cd" or len(words) != 2:
        raise AssertionError("not 'cd DIR && command': %r" % line)
    return words[1], argv(rest)


def one_line_script(spec):
    """The gateway page's one-line script (``#!/usr/bin/env -S python3 -m
    wsgicgi myapp:app``), serving ``spec`` instead of ``myapp:app``."""
    block = doc_block("gateway.md", "Gateway", "sh", "-m wsgicgi myapp:app")
    return substitute(block, {"myapp:app": spec})


def two_line_script(module):
    """The gateway page's two-line script, importing ``app`` from ``module``."""
    block = doc_block("gateway.md", "Gateway", "python", "run(app)")
    return substitute(block, {"from myapp import app": "from %s import app" % module})
