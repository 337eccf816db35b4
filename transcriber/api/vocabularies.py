"""Custom vocabularies through the API: a tenant's named lists of phrases for the engine.

A job names one (``options.vocabulary_name``); its phrases are copied into the job's options
when the job is created, so the pipeline needs no access to the tenants table and a later edit
of the vocabulary does not change a job already running.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from transcriber.api import problems
from transcriber.domain import textopts
from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.options import JobOptions
from transcriber.domain.tenants import Tenant


class VocabularyStore(Protocol):
    """``transcriber.adapters.vocabularies_table.VocabularyRepository``."""

    def put(self, tenant_id: str, name: str, phrases: tuple[str, ...]) -> dict[str, Any]: ...

    def get(self, tenant_id: str, name: str) -> dict[str, Any] | None: ...

    def delete(self, tenant_id: str, name: str) -> bool: ...


class VocabularyBody(BaseModel):
    phrases: list[str] = Field(
        description=f"1 to"
        f" {textopts.MAX_PHRASES} names or terms, each 1 to {textopts.MAX_PHRASE_CHARS} characters",
        json_schema_extra={"minItems": 1, "maxItems": textopts.MAX_PHRASES},
    )


class Vocabulary(BaseModel):
    name: str
    phrases: list[str]
    updated_at: str | None = None


def _name(name: str) -> str:
    try:
        checked = textopts.check_vocabulary_name(name)
    except InvalidOptionsError as err:
        raise problems.Unprocessable(err.message) from err
    return str(checked)


class Vocabularies:
    def __init__(self, store: VocabularyStore) -> None:
        self.store = store

    def put(self, tenant: Tenant, name: str, body: VocabularyBody) -> Vocabulary:
        try:
            phrases = textopts.check_phrases(body.phrases)
        except InvalidOptionsError as err:
            raise problems.Unprocessable(err.message) from err
        item = self.store.put(tenant.tenant_id, _name(name), phrases)
        return Vocabulary(name=name, phrases=list(phrases), updated_at=item.get("updated_at"))

    def get(self, tenant: Tenant, name: str) -> Vocabulary:
        item = self.store.get(tenant.tenant_id, _name(name))
        if item is None:
            raise problems.NotFound(f"No vocabulary {name!r}.")
        return Vocabulary(name=name, phrases=list(item["phrases"]), updated_at=item.get("updated_at"))

    def delete(self, tenant: Tenant, name: str) -> None:
        if not self.store.delete(tenant.tenant_id, _name(name)):
            raise problems.NotFound(f"No vocabulary {name!r}.")

    def resolve(self, tenant: Tenant, options: JobOptions) -> JobOptions:
        """The options with the named vocabulary's phrases; an unknown name is INVALID_OPTIONS."""
        if options.vocabulary_name is None:
            return options.model_copy(update={"vocabulary_phrases": ()})
        item = self.store.get(tenant.tenant_id, options.vocabulary_name)
        if item is None:
            raise InvalidOptionsError(
                f"No vocabulary {options.vocabulary_name!r}; create it with PUT /v1/vocabularies/"
                f"{options.vocabulary_name} first, or leave vocabulary_name out."
            )
        return options.model_copy(update={"vocabulary_phrases": tuple(item["phrases"])})
