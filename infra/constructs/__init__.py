"""The stack's constructs, one per concern: storage, tables, events, functions, pipeline (state
machine), sweeper, API, webhooks and monitoring. ``infra/stack.py`` composes them."""
