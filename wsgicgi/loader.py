"""Turn an APP argument into a WSGI callable.

``module:attr``, ``module:attr.sub``, ``module:factory()`` (literal arguments
allowed), ``module`` alone, or a path to a ``.py``/``.wsgi`` file, optionally
followed by ``:attr``.  Without an attribute, ``application`` is used, else
``app`` (the names mod_wsgi and Flask users expect).
"""

import os
import sys

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(Exception):
    """APP names nothing that can be loaded as a WSGI callable."""


def load_app(spec):
    """Return the WSGI callable that ``spec`` names."""
    target, attr = _split(spec)
    if _names_file(target):
        module = _load_file(target)
    else:
        if not target:
            raise AppLoadError("no module named in %r" % (spec,))
        __import__(target)
        module = sys.modules[target]
    return _resolve(module, attr, spec)


def _names_file(target):
    if os.sep in target or (os.altsep and os.altsep in target) or target.endswith(".py"):
        return True
    # "mysite.wsgi" is also Django's module name: a file only if one exists.
    return target.endswith(".wsgi") and os.path.isfile(target)


def _split(spec):
    # A Windows path ("C:\\site\\app.py") has a colon too: only split when the
    # part after the last colon looks like an attribute, not a path.
    target, colon, attr = spec.rpartition(":")
    if (
        not colon
        or not attr
        or os.sep in attr
        or "/" in attr
        or (len(target) == 1 and target.isalpha())
    ):
        return spec, None
    return target, attr


def _load_file(path):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise AppLoadError("no such file: %s" % path)
    directory, filename = os.path.split(path)
    stem = filename.rsplit(".", 1)[0]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    if filename.endswith(".py") and stem.isidentifier() and stem not in sys.modules:
        # A plain import lets Python cache the bytecode for the next request.
        __import__(stem)
        module = sys.modules[stem]
        if os.path.abspath(getattr(module, "__file__", "") or "") == path:
            return module
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    name = "_wsgicgi_app_" + "".join(c if c.isalnum() else "_" for c in stem)
    loader = SourceFileLoader(name, path)
    spec = spec_from_loader(name, loader)
    module = module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def _resolve(module, attr, spec):
    if attr is None:
        for name in ("application", "app"):
            obj = getattr(module, name, None)
            if obj is not None:
                return _check(obj, spec)
        raise AppLoadError("%s has no attribute 'application' or 'app'" % (module.__name__,))
    call_args = None
    if attr.endswith(")") and "(" in attr:
        attr, _, args = attr.partition("(")
        call_args = _literal_args("(" + args, spec)
    obj = module
    for part in attr.split("."):
        if not part.isidentifier():
            raise AppLoadError("invalid attribute %r in %r" % (attr, spec))
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError("%s has no attribute %r" % (module.__name__, attr)) from None
    if call_args is not None:
        args, kwargs = call_args
        obj = obj(*args, **kwargs)
    return _check(obj, spec)


def _literal_args(text, spec):
    import ast

    try:
        call = ast.parse("f" + text, mode="eval").body
        args = [ast.literal_eval(a) for a in call.args]
        if any(k.arg is None for k in call.keywords):
            raise ValueError("**kwargs")
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError, AttributeError, TypeError):
        raise AppLoadError("factory arguments must be literals in %r" % (spec,)) from None
    return args, kwargs


def _check(obj, spec):
    if not callable(obj):
        raise AppLoadError("%r names %r, which is not callable" % (spec, obj))
    return obj
