"""Request decoding that names the field of a bad request instead of failing the call with UNKNOWN.

grpc hands undecodable bytes to the deserializer, and protobuf refuses a string field holding bad
UTF-8 with "String field had bad UTF-8" and no field name; grpc then answers UNKNOWN. Here a
request that does not parse is parsed again as a *lenient twin* of its message type (the same
descriptor with every ``string`` field turned into ``bytes``, which has the same wire format) to
find the field, and the handler answers INVALID_ARGUMENT naming it, e.g.
``documents[2].source.source_id: is not valid UTF-8``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import DecodeError, Message

from contra.errors import InvalidInput

M = TypeVar("M", bound=Message)

_LENIENT_SUFFIX = ".lenient"


@dataclass(frozen=True, slots=True)
class Malformed:
    """Stands in for a request that could not be decoded; the handler turns it into an error."""

    field: str
    problem: str

    def error(self, prefix: str = "") -> InvalidInput:
        return InvalidInput(f"{prefix}{self.field}", self.problem)


def decoder(message: type[M]) -> Callable[[bytes], M | Malformed]:
    """A grpc request deserializer for ``message`` that never raises."""

    def decode(data: bytes) -> M | Malformed:
        try:
            return message.FromString(data)
        except DecodeError:
            return diagnose(cast(Descriptor, message.DESCRIPTOR), data)

    return decode


def valid(request: M | Malformed, prefix: str = "") -> M:
    """The decoded request, or ``InvalidInput`` naming what was wrong with it."""
    if isinstance(request, Malformed):
        raise request.error(prefix)
    return request


def diagnose(descriptor: Descriptor, data: bytes) -> Malformed:
    """Why ``data`` is not a valid ``descriptor`` message: the first field with bad UTF-8, if any."""
    twin = message_factory.GetMessageClass(_lenient_pool(descriptor.file).FindMessageTypeByName(_twin(descriptor)))
    try:
        lenient = twin.FromString(data)
    except DecodeError as exc:
        reason = str(exc).rsplit(": ", 1)[-1]  # drop "Error parsing message with type '<twin>'"
        return Malformed("request", f"is not a valid {descriptor.full_name} message ({reason})")
    found = _bad_utf8(lenient, "")
    if found is None:
        return Malformed("request", f"is not a valid {descriptor.full_name} message")
    return Malformed(found, "is not valid UTF-8")


def _bad_utf8(message: Any, path: str) -> str | None:
    for field, value in message.ListFields():
        name = f"{path}.{field.name}" if path else field.name
        repeated = field.is_repeated
        items = list(enumerate(value)) if repeated else [(None, value)]
        for i, item in items:
            where = name if i is None else f"{name}[{i}]"
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                found = _bad_utf8(item, where)
                if found is not None:
                    return found
            elif field.type == FieldDescriptor.TYPE_BYTES:
                try:
                    item.decode("utf-8")
                except UnicodeDecodeError:
                    return where
    return None


def _twin(descriptor: Descriptor) -> str:
    package = descriptor.file.package
    return f"{package}{_LENIENT_SUFFIX}{descriptor.full_name[len(package) :]}"


@cache
def _lenient_pool(file: FileDescriptor) -> descriptor_pool.DescriptorPool:
    """A pool holding the lenient twin of ``file`` (cached: built once per proto file)."""
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    package = proto.package
    proto.name = proto.name.removesuffix(".proto") + "_lenient.proto"
    proto.package = package + _LENIENT_SUFFIX
    del proto.service[:]
    del proto.dependency[:]
    for message in proto.message_type:
        _loosen(message, package)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool


def _loosen(message: descriptor_pb2.DescriptorProto, package: str) -> None:
    for field in message.field:
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        if field.type_name.startswith(f".{package}."):
            field.type_name = f".{package}{_LENIENT_SUFFIX}{field.type_name[len(package) + 1 :]}"
    for nested in message.nested_type:
        _loosen(nested, package)
