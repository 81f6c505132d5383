#!/usr/bin/env python3
"""A legacy Python CGI script that takes a file upload, standard library only.

GET shows a ``multipart/form-data`` form; POST answers with each field's value
and each file's name, size and SHA-256.  The ``cgi`` module (and its
``FieldStorage``) left Python in 3.13: the ``email`` package parses the
multipart body instead, as it parses a MIME message.  The body is read whole,
so this example refuses anything over MAX_BYTES.
"""

import email.parser
import email.utils
import hashlib
import html
import os
import sys

MAX_BYTES = 16 * 1024 * 1024


def parse_multipart(content_type, body):
    """``[(name, filename or None, data bytes)]`` of a multipart/form-data body."""
    # Parsed as latin-1 text, so that every byte is one character: browsers
    # send names as raw UTF-8, and get_payload(decode=True) gives the part's
    # bytes back unchanged.
    head = "Content-Type: %s\r\n\r\n" % content_type
    message = email.parser.Parser().parsestr(head + body.decode("latin-1"))
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    parts = []
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        filename = part.get_param("filename", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        parts.append((_text(name), None if filename is None else _text(filename), data))
    return parts


def _text(value):
    if isinstance(value, tuple):  # an RFC 2231 value: filename*=UTF-8''...
        return email.utils.collapse_rfc2231_value(value)
    return value.encode("latin-1").decode("utf-8", "replace")


def page(title, content, status="200 OK"):
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title></head>\n'
        "<body>\n<h1>%s</h1>\n%s\n</body></html>\n" % (title, title, content)
    ).encode("utf-8")
    out = sys.stdout.buffer
    out.write(b"Status: %s\r\n" % status.encode("latin-1"))
    out.write(b"Content-Type: text/html; charset=utf-8\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(body))
    out.write(body)
    out.flush()


def main():
    action = html.escape(os.environ.get("SCRIPT_NAME", ""), quote=True)
    form = (
        '<form method="post" enctype="multipart/form-data" action="%s">\n'
        '<p><label>A note <input name="note"></label></p>\n'
        '<p><label>A file <input type="file" name="file"></label></p>\n'
        "<p><button>Upload</button></p>\n</form>" % action
    )
    if os.environ.get("REQUEST_METHOD") != "POST":
        page("Upload a file to a legacy Python CGI script", form)
        return
    content_type = os.environ.get("CONTENT_TYPE", "")
    # RFC 3875 §4.2: exactly CONTENT_LENGTH bytes, never read to EOF.
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BYTES:
        page(
            "Too large", "<p>This example takes %d bytes at most.</p>" % MAX_BYTES, "413 Too Large"
        )
        return
    if not content_type.lower().startswith("multipart/form-data"):
        page("Not a file upload", "<p>Send multipart/form-data.</p>\n" + form, "400 Bad Request")
        return
    try:
        parts = parse_multipart(content_type, sys.stdin.buffer.read(length))
    except ValueError as exc:
        page("Not a file upload", "<p>%s</p>" % html.escape(str(exc)), "400 Bad Request")
        return
    rows = []
    for name, filename, data in parts:
        if filename is None:
            value = "<span class=value>%s</span>" % html.escape(data.decode("utf-8", "replace"))
        else:
            value = (
                "file <span class=filename>%s</span>, <span class=size>%d</span> bytes, "
                "SHA-256 <code class=sha256>%s</code>"
                % (html.escape(filename), len(data), hashlib.sha256(data).hexdigest())
            )
        name = html.escape(name, quote=True)
        rows.append('<li data-name="%s"><b>%s</b>: %s</li>' % (name, name, value))
    page(
        "Received %d part%s" % (len(parts), "" if len(parts) == 1 else "s"),
        "<ul>\n%s\n</ul>\n%s" % ("\n".join(rows), form),
    )


if __name__ == "__main__":
    main()
