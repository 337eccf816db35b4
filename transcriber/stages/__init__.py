"""Use cases of the pipeline, one module per step: plain Python over the ports (object store,
jobs table, event bus, workflow, speech engine), called by the thin handlers in functions/ and
by tests without AWS."""
