"""The example WSGI application that the gateway scripts beside it run.

Plain WSGI, standard library only: a greeting page that shows what the
gateway handed over (SCRIPT_NAME, PATH_INFO, the query), a form that POSTs
back, sets a cookie and redirects (303), and an echo of the request body.
Run as a program it serves one CGI request itself (``python3 wsgi_app.py``).
"""

import html
from urllib.parse import parse_qs, quote


def app(environ, start_response):
    """Route on PATH_INFO: ``/`` page, ``/form`` (POST), ``/echo`` (body back)."""
    path = environ.get("PATH_INFO", "") or "/"
    method = environ["REQUEST_METHOD"]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
        )
        return [body]
    if path == "/form" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        fields = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
        name = fields.get("name", ["stranger"])[0]
        # A relative Location is fine in HTTP/1.1 (RFC 9110 §10.2.2).
        start_response(
            "303 See Other",
            [
                ("Location", _script_url(environ) + "/"),
                ("Set-Cookie", "name=%s; Path=/; HttpOnly" % quote(name)),
            ],
        )
        return [b""]
    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"no such page: " + path.encode("latin-1")]
    return _home(environ, start_response)


def _script_url(environ):
    return quote(environ.get("SCRIPT_NAME", "").encode("latin-1"))


def _cookie_name(environ):
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "name":
            from urllib.parse import unquote

            return unquote(value)
    return None


def _home(environ, start_response):
    name = _cookie_name(environ)
    rows = "".join(
        "<tr><th>%s</th><td><code>%s</code></td></tr>"
        % (key, html.escape(environ.get(key, "").encode("latin-1").decode("utf-8", "replace")))
        for key in (
            "REQUEST_METHOD",
            "SCRIPT_NAME",
            "PATH_INFO",
            "QUERY_STRING",
            "SERVER_SOFTWARE",
            "wsgi.url_scheme",
        )
    )
    page = """<!doctype html>
<html><head><meta charset="utf-8"><title>wsgicgi example app</title></head>
<body>
<h1>Hello%s from a WSGI app served as CGI</h1>
<table>%s</table>
<p><a href="%s/?greeting=hello+world&amp;n=2">This page with a query string</a></p>
<form method="post" action="%s/form">
<label>Your name <input name="name"></label> <button>Remember me</button>
</form>
</body></html>
""" % (
        ", " + html.escape(name) if name else "",
        rows,
        html.escape(_script_url(environ)),
        html.escape(_script_url(environ)),
    )
    data = page.encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


if __name__ == "__main__":
    from wsgicgi import run

    run(app)
