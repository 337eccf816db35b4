"""Two gaps in moto 5.2.5's ASL interpreter that the Distributed Map meets, patched locally only.

The deployed definition stays as AWS runs it; these patches change what moto does with it:

1. **Express children.** moto's ASL grammar accepts ``"ExecutionType": "STANDARD"`` only in a
   Map's ``ProcessorConfig`` and refuses the definition otherwise. Its copy of the definition gets
   STANDARD instead: moto runs child workflows in-process either way, so only billing, history
   retention, Express's at-least-once start and its 5-minute limit differ. The child's tasks also
   lose their ``TimeoutSeconds``, which bounds each attempt inside that limit on AWS: locally a
   call waits for a free worker where Lambda would throttle it (and the child retry the throttle),
   and that wait, 93-198 s at the median in the 1,000-upload runs, would count against it.
   tests/infra/test_review_fixes.py checks those bounds on the synthesized definition instead.
2. **The tolerated-failure threshold.** AWS fails a Distributed Map whose failed children exceed
   its tolerance with ``States.ExceedToleratedFailureThreshold``; moto raises the failed child's
   own error instead (it evaluates ToleratedFailureCount/Percentage but never applies them). With a
   tolerance of 0, as in our Map, the first failed child fails the Map in both; the patch gives
   moto's failure AWS's error name and cause. A tolerance above 0 is still not emulated.

tests/integration/test_moto_seam.py fails loudly if the patched functions move.
"""

from __future__ import annotations

import json
from typing import Any

#: What AWS reports when a Map Run fails on its tolerance (the Map state's Error and Cause).
THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _express_children_as_standard(definition: str) -> str:
    try:
        document = json.loads(definition)
    except ValueError:
        return definition  # moto's parser reports what is wrong with it

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            config = node.get("ProcessorConfig")
            if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"
                for state in (node.get("States") or {}).values():
                    if isinstance(state, dict) and state.get("Type") == "Task":
                        state.pop("TimeoutSeconds", None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return json.dumps(document)


def install() -> None:
    """Patch moto's parser and Distributed Map iteration (idempotent)."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse
    if not getattr(parse, "_local_patch", False):

        def parse_with_express_children(definition: str) -> Any:
            return parse(_express_children_as_standard(definition))

        parse_with_express_children._local_patch = True  # type: ignore[attr-defined]
        AmazonStateLanguageParser.parse = staticmethod(parse_with_express_children)  # type: ignore[method-assign]

    map_run = DistributedIterationComponent._map_run
    if getattr(map_run, "_local_patch", False):
        return

    def map_run_failing_on_threshold(self: Any, env: Any, eval_input: Any) -> None:
        try:
            map_run(self, env, eval_input)
        except FailureEventException as child_failure:
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                    event_type=HistoryEventType.ExecutionFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's total=True TypedDict
                        executionFailedEventDetails=ExecutionFailedEventDetails(
                            error=THRESHOLD_ERROR, cause=THRESHOLD_CAUSE
                        )
                    ),
                )
            ) from child_failure

    map_run_failing_on_threshold._local_patch = True  # type: ignore[attr-defined]
    DistributedIterationComponent._map_run = map_run_failing_on_threshold  # type: ignore[method-assign]
