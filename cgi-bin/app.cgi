#!/usr/bin/env -S python3 -m wsgicgi wsgi_app:app
