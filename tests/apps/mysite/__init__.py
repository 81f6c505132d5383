"""A Django project package laid out as django-admin startproject makes one."""
