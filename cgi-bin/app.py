#!/usr/bin/env python3
from wsgicgi import run
from wsgi_app import app

run(app)
