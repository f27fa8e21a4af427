"""A tool whose parameters are a model's fields: the model is the one definition.

``@takes_fields(JobSpec)`` on ``async def submit(ctx: Context, spec: JobSpec) -> JobView``
publishes ``submit`` with JobSpec's fields as its own flat parameters (their types, bounds,
defaults and descriptions, exactly as the model declares them) and calls the function with one
validated ``spec``. Nothing is restated for MCP, so the tool and the model cannot drift apart.
Parameters of the function other than ``spec`` keep their place in front of the model's fields.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Collection
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from server.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])


def takes_fields(
    model: type[BaseModel], *, only: Collection[str] | None = None, argument: str = "spec"
) -> Callable[[F], F]:
    """Publish ``model``'s fields (or ``only`` those) in place of the ``argument`` parameter."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)  # names resolve in fn's module
        if argument not in signature.parameters:
            raise TypeError(f"{fn.__name__} has no {argument!r} parameter to expand")
        names = [name for name in model.model_fields if only is None or name in only]
        own = [p for name, p in signature.parameters.items() if name != argument]
        clash = {p.name for p in own} & set(names)
        if clash:
            raise TypeError(f"{fn.__name__}: {sorted(clash)} are both parameters and fields")
        fields = [_as_parameter(name, model.model_fields[name]) for name in names]
        # Required parameters first, as Python's signatures demand.
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own + fields]

        @functools.wraps(fn)
        async def wrapper(**arguments: Any) -> Any:
            given = {name: arguments.pop(name) for name in names if name in arguments}
            try:
                spec = model.model_validate(given)
            except ValidationError as exc:  # a rule across fields (each was checked alone)
                raise UserError(f"Invalid arguments: {_problems(exc)}.") from None
            result = fn(**arguments, **{argument: spec})
            return await result if inspect.isawaitable(result) else result

        del wrapper.__wrapped__  # the published signature is the one below, not fn's
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            params, return_annotation=signature.return_annotation
        )
        wrapper.__annotations__ = {p.name: p.annotation for p in params} | {
            "return": signature.return_annotation
        }
        return wrapper  # type: ignore[return-value]

    return decorate


def _as_parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    # The field's constraints and description travel in Annotated; its default becomes the
    # parameter's default (a FieldInfo may not carry both a default and a parameter default).
    bare = copy.copy(field)
    bare.default, bare.default_factory = PydanticUndefined, None
    default = (
        inspect.Parameter.empty
        if field.is_required()
        else field.get_default(call_default_factory=True)
    )
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[field.annotation, bare],
    )


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors()
    )
