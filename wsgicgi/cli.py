"""The command line: ``wsgicgi APP [SCRIPT]`` (the gateway) or ``wsgicgi serve``.

The gateway form runs once per CGI request, so it parses ``sys.argv`` by hand:
``argparse`` alone costs more than the rest of the gateway.
"""

import os
import sys

USAGE = """\
usage: wsgicgi APP [SCRIPT]       serve one CGI request with a WSGI app
                                  (FastCGI requests when fd 0 is a listening socket)
       wsgicgi serve [options]    serve a folder with its cgi-bin (see: wsgicgi serve --help)
       wsgicgi fcgi [options]     a FastCGI server (see: wsgicgi fcgi --help)
       wsgicgi check SCRIPT...    what the web server will make of a script, and
                                  why it answers 500 (see: wsgicgi check --help)

APP is module:attr, module:factory(), module, or a path to a .py/.wsgi file
(attribute 'application', else 'app').  SCRIPT is the path the kernel appends
when the command is a shebang line, e.g. in cgi-bin/app.cgi:

    #!/usr/bin/env -S python3 -m wsgicgi myapp:app

Its folder goes first on sys.path.  Set WSGICGI_DEBUG=1 to show tracebacks in
the response (never in production).
"""


def main(argv=None):
    """Entry point of ``wsgicgi`` and ``python -m wsgicgi``; exits the process."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] == "serve":
        from .serve import main as serve_main

        sys.exit(serve_main(args[1:]))
    if args and args[0] == "fcgi":
        from .fcgicli import main as fcgi_main

        sys.exit(fcgi_main(args[1:]))
    if args and args[0] == "check":
        from .check import main as check_main

        sys.exit(check_main(args[1:]))
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        sys.exit(0 if args else 2)
    if args[0] == "--version":
        from . import __version__

        sys.stdout.write("wsgicgi %s\n" % __version__)
        sys.exit(0)
    # Words after SCRIPT are the query's: RFC 3875 §4.4 has the server pass
    # a QUERY_STRING without "=" (?two+words) as command-line arguments.  The
    # app reads QUERY_STRING, so they are ignored.
    sys.exit(gateway(args[0], args[1] if len(args) > 1 else None))


def gateway(app_spec, script=None):
    """Load ``app_spec`` and serve the current CGI request with it.

    Returns the exit status: 0, or 1 when the app could not be loaded (the
    request is then still answered, with a 500, and the reason logged).
    """
    if script:
        folder = os.path.dirname(os.path.abspath(script))
        if sys.path[:1] != [folder]:
            sys.path.insert(0, folder)
    from .gateway import listening_on_stdin

    if listening_on_stdin():
        # Started by a FastCGI process manager (mod_fcgid, lighttpd,
        # spawn-fcgi): the same script, kept warm.
        from .fcgiserver import serve_spec

        return serve_spec(app_spec)
    # A print() while the app's modules load must not reach stdout before
    # the Status line; it goes to the error log, as during the request.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        from .loader import load_app

        app = load_app(app_spec)
    except BaseException as exc:
        sys.stdout = stdout
        if isinstance(exc, KeyboardInterrupt):
            raise
        _answer_load_failure(app_spec, sys.exc_info())
        return 1
    sys.stdout = stdout
    from .gateway import run

    run(app)
    return 0


def _answer_load_failure(app_spec, exc_info):
    # Without an answer on stdout Apache logs only "End of script output
    # before headers"; give the client a 500 and the log the reason.
    from .errors import error_response, format_exception

    sys.stderr.write(
        format_exception(exc_info, "wsgicgi: cannot load WSGI application %r" % (app_spec,)) + "\n"
    )
    sys.stderr.flush()
    head = os.environ.get("REQUEST_METHOD") == "HEAD"
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(error_response(500, head=head))
        sys.stdout.buffer.flush()
    except (BrokenPipeError, ValueError):
        # The client is gone: the 500 stays in stdout's buffer, and the
        # interpreter's flush at exit would fail again (exit 120).  Point
        # fd 1 at /dev/null so that the exit is quiet and the status ours.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
