"""Concern constructs group a stack's resources by concern without changing their logical ids.

The stack was flat before it was split into constructs (storage, tables, pipeline ...). A resource
moved into a construct would get a new logical id (CDK hashes the construct path into it), and
CloudFormation would replace it: a new, empty bucket or table. So once the stack is built,
:func:`keep_flat_logical_ids` gives every resource the id CDK would give it if no :class:`Concern`
were in its path: ``Storage/InputBucket`` keeps the id that ``InputBucket`` had, and the stack
deployed before the split is updated in place.

CDK also writes some constructs' unique ids into other constructs' ids (a Lambda permission is
``AllowEventRule<the function's unique id>``); those are translated to the flat tree's too.
The ids are set in one pass, in Python: overriding the stack's id allocation instead costs a
call from the jsii runtime back into Python for each of some 1,700 allocations (over a second).
"""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from constructs import Construct

# CDK's own scheme (aws-cdk-lib core/lib/private/uniqueid.ts), which a test checks against CDK.
_HIDDEN_ID = "Default"
_HIDDEN_FROM_HUMAN_ID = "Resource"
_HASH_LEN = 8
_MAX_HUMAN_LEN = 240
_MAX_ID_LEN = 255


class Concern(Construct):
    """A group of resources of one concern; it does not show in their logical ids (once its stack
    calls :func:`keep_flat_logical_ids`)."""


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


def keep_flat_logical_ids(stack: cdk.Stack) -> None:
    """Give every resource of ``stack`` its logical id in the tree without concern constructs.

    Call it once the stack is complete: an element created later keeps CDK's id (unique, but not
    the flat tree's; no stack deployed before the split had it). An element whose id is already
    overridden keeps that (API Gateway's deployment adds a hash of the API to the id of its path
    that way, so it must not be under a concern: that is an error).
    Two elements that would share an id are an error here, not a template in which one silently
    replaces the other.
    """
    top = len(stack.node.path.split("/"))
    concerns: set[str] = set()
    elements: list[tuple[cdk.CfnElement, list[str], bool]] = []
    renames: dict[str, str] = {}  # unique ids (as in Names.unique_id) in the tree -> in the flat tree
    for construct in stack.node.find_all():  # parents before their children
        path = construct.node.path
        parts = path.split("/")
        if isinstance(construct, Concern):
            concerns.add(path)
            continue
        flat = [p for depth, p in enumerate(parts) if "/".join(parts[: depth + 1]) not in concerns]
        if len(flat) < len(parts):
            renames[make_unique_id(parts)] = make_unique_id(flat)
        if isinstance(construct, cdk.CfnElement):
            elements.append((construct, flat[top:], len(flat) < len(parts)))
    prefix = _alphanumeric(stack.node.id)
    owners: dict[str, str] = {}
    for element, components, in_concern in elements:
        translated = []
        for component in components:
            if prefix in component:
                for nested, flat_id in renames.items():
                    component = component.replace(nested, flat_id)
            translated.append(component)
        logical_id = make_unique_id(translated)
        path = element.node.path
        if owners.setdefault(logical_id, path) != path:
            raise ValueError(f"logical id {logical_id} of {path} is already {owners[logical_id]}'s")
        if stack.resolve(element.logical_id) == stack.get_logical_id(element):  # not overridden
            element.override_logical_id(logical_id)
        elif in_concern:
            raise ValueError(f"{path} makes its own logical id from its path: keep it out of concerns")
