#!/usr/bin/env python3
"""A legacy Python CGI script, standard library only.

The ``cgi`` module left Python in 3.13; reading a form needs no more than
``os.environ``, ``sys.stdin`` and ``urllib.parse``.  GET shows a form, POST
answers it.  Runs under any CGI server, and under ``wsgicgi serve`` even
without the exec bit (.py files run with the server's Python).
"""

import html
import os
import sys
from urllib.parse import parse_qs


def read_form():
    """The fields of the query string (GET) or of a urlencoded body (POST)."""
    if os.environ.get("REQUEST_METHOD") == "POST":
        # RFC 3875 §4.2: exactly CONTENT_LENGTH bytes, never read to EOF.
        length = int(os.environ.get("CONTENT_LENGTH") or 0)
        data = sys.stdin.buffer.read(length)
    else:
        data = os.environ.get("QUERY_STRING", "").encode("latin-1")
    return parse_qs(data.decode("utf-8", "replace"))


def page(title, content):
    out = sys.stdout.buffer
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title></head>\n'
        "<body>\n<h1>%s</h1>\n%s\n</body></html>\n" % (title, title, content)
    ).encode("utf-8")
    out.write(b"Content-Type: text/html; charset=utf-8\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(body))
    out.write(body)
    out.flush()


def main():
    fields = read_form()
    action = html.escape(os.environ.get("SCRIPT_NAME", ""), quote=True)
    form = (
        '<form method="post" action="%s">\n'
        '<p><label>Name <input name="name"></label></p>\n'
        '<p><label>Favourite language <select name="language">'
        "<option>sh</option><option>Perl</option><option>Python</option><option>C</option>"
        "</select></label></p>\n"
        "<p><button>Send</button></p>\n</form>" % action
    )
    if os.environ.get("REQUEST_METHOD") == "POST":
        name = fields.get("name", [""])[0].strip() or "stranger"
        language = fields.get("language", ["?"])[0]
        page(
            "Hello, %s" % html.escape(name),
            "<p>You like <b>%s</b>. This answer came from Python %s, started as a CGI script.</p>\n%s"
            % (html.escape(language), sys.version.split()[0], form),
        )
    else:
        page("A form in a legacy Python CGI script", form)


if __name__ == "__main__":
    main()
