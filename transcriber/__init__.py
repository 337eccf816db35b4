"""Shared library for the transcription pipeline.

``domain`` is plain Python (no AWS): audio conversion, chunk planning, merging, output formats
and job state. ``engines`` holds the speech engines behind one interface. ``adapters`` are the
small wrappers around AWS services that the Lambda handlers use.
"""
