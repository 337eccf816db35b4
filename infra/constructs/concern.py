"""Concern constructs group a stack's resources by concern without changing their logical ids.

The stack was flat before it was split into constructs (storage, tables, pipeline ...). A resource
moved into a construct would get a new logical id (CDK hashes the construct path into it), and
CloudFormation would replace it: a new, empty bucket or table. A :class:`Concern` is therefore left
out of the path that logical ids are made from, so ``Storage/InputBucket`` keeps the id that
``InputBucket`` had, and the stack deployed before the split is updated in place.

CDK also writes some constructs' unique ids into other constructs' ids (a Lambda permission is
``AllowEventRule<the function's unique id>``); those are translated back to the flat tree's too,
from a table built once the stack is complete (:meth:`ConcernLogicalIds.freeze`).
"""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from constructs import Construct, IConstruct

# CDK's own scheme (aws-cdk-lib core/lib/private/uniqueid.ts), which a test checks against CDK.
_HIDDEN_ID = "Default"
_HIDDEN_FROM_HUMAN_ID = "Resource"
_HASH_LEN = 8
_MAX_HUMAN_LEN = 240
_MAX_ID_LEN = 255


class Concern(Construct):
    """A group of resources of one concern; it does not show in their logical ids."""


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def make_unique_id(components: list[str]) -> str:
    """CDK's ``makeUniqueId``: the path's components joined (readable part) plus a hash of the path."""
    components = [c for c in components if c != _HIDDEN_ID]
    if len(components) == 1 and len(_alphanumeric(components[0])) <= _MAX_ID_LEN:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(_alphanumeric(c) for c in human if c != _HIDDEN_FROM_HUMAN_ID)
    return readable[:_MAX_HUMAN_LEN] + digest[:_HASH_LEN].upper()


def _ids(scopes: list[IConstruct], *, flat: bool) -> list[str]:
    return [s.node.id for s in scopes if not (flat and isinstance(s, Concern))]


class ConcernLogicalIds:
    """Logical ids of one stack as if its concern constructs were not there."""

    def __init__(self, stack: cdk.Stack) -> None:
        self._stack = stack
        self._renames: dict[str, str] | None = None
        self._allocated: dict[str, str] = {}

    def freeze(self) -> None:
        """Record every construct's unique id in the concern tree and in the flat one.

        Called once the stack is complete; an id that embeds the unique id of a construct created
        later cannot be translated, and :meth:`allocate` refuses it rather than guess.
        """
        renames: dict[str, str] = {}
        for construct in self._stack.node.find_all():
            scopes = construct.node.scopes[1:]  # from the stack down, as cdk.Names.unique_id does
            if not isinstance(construct, Concern) and any(isinstance(s, Concern) for s in scopes):
                renames[make_unique_id(_ids(scopes, flat=False))] = make_unique_id(_ids(scopes, flat=True))
        self._renames = renames

    def allocate(self, element: cdk.CfnElement) -> str:
        scopes = element.node.scopes
        below_stack = scopes[scopes.index(self._stack) + 1 :]
        components = [self._translate(c, element) for c in _ids(below_stack, flat=True)]
        logical_id = make_unique_id(components)
        path = element.node.path
        if self._allocated.setdefault(logical_id, path) != path:
            raise ValueError(f"logical id {logical_id} of {path} is already {self._allocated[logical_id]}'s")
        return logical_id

    def _translate(self, component: str, element: cdk.CfnElement) -> str:
        stack_prefix = _alphanumeric(self._stack.node.id)
        if stack_prefix not in component:
            return component
        if self._renames is None:
            raise RuntimeError(f"{element.node.path}: logical ids are allocated before the stack is frozen")
        for nested, flat in self._renames.items():
            component = component.replace(nested, flat)
        return component
