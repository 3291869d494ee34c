#!/usr/bin/python3
"""A strict gRPC client in Python (Debian's python3-grpcio, C core, and the
C++/upb descriptor pool of python3-protobuf), driven by the node tests.

It knows no .proto of ringlb. Like grpcurl it asks the server's reflection
service for the file declaring a symbol, then every import by file name,
recursively, and adds each file to a fresh DescriptorPool only after its
imports: the pool refuses a file whose imports or types do not resolve.
Requests and responses are dynamic messages built from those descriptors.

Usage: strict_reflection_client.py ADDRESS SCRIPT_JSON
SCRIPT_JSON: {"version": "v1"|"v1alpha", "ca"?, "cert"?, "key"?, "server_name"?,
              "token"?, "steps": [{"op": "list"} | {"op": "describe", "symbol"}
              | {"op": "unary", "method", "request"} | {"op": "stream", "method", "request", "count"}
              | {"op": "file", "name"}]}
Prints one JSON object per step: {"ok": ..., ...} or {"error": code name, "details": ...}.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.internal import api_implementation

FieldD = descriptor_pb2.FieldDescriptorProto


def reflection_file(version):
    """The reflection protocol's own descriptor, built by hand as a client
    that ships compiled stubs would have it (grpcurl has them compiled in)."""
    f = descriptor_pb2.FileDescriptorProto(name=f"reflection_{version}_client.proto",
                                           package=f"grpc.reflection.{version}", syntax="proto3")
    pkg = f".grpc.reflection.{version}."

    def msg(name, *fields):
        m = f.message_type.add(name=name)
        oneof_index = {}
        for number, fname, ftype, extra in fields:
            fd = m.field.add(name=fname, number=number, type=ftype,
                             label=FieldD.LABEL_REPEATED if extra.get("repeated") else FieldD.LABEL_OPTIONAL)
            if "type_name" in extra:
                fd.type_name = pkg + extra["type_name"]
            if "oneof" in extra:
                if extra["oneof"] not in oneof_index:
                    oneof_index[extra["oneof"]] = len(m.oneof_decl)
                    m.oneof_decl.add(name=extra["oneof"])
                fd.oneof_index = oneof_index[extra["oneof"]]

    S, B, I, M = FieldD.TYPE_STRING, FieldD.TYPE_BYTES, FieldD.TYPE_INT32, FieldD.TYPE_MESSAGE
    req = {"oneof": "message_request"}
    res = {"oneof": "message_response"}
    msg("ServerReflectionRequest", (1, "host", S, {}), (3, "file_by_filename", S, req),
        (4, "file_containing_symbol", S, req), (5, "file_containing_extension", M, {**req, "type_name": "ExtensionRequest"}),
        (6, "all_extension_numbers_of_type", S, req), (7, "list_services", S, req))
    msg("ExtensionRequest", (1, "containing_type", S, {}), (2, "extension_number", I, {}))
    msg("ServerReflectionResponse", (1, "valid_host", S, {}),
        (2, "original_request", M, {"type_name": "ServerReflectionRequest"}),
        (4, "file_descriptor_response", M, {**res, "type_name": "FileDescriptorResponse"}),
        (5, "all_extension_numbers_response", M, {**res, "type_name": "ExtensionNumberResponse"}),
        (6, "list_services_response", M, {**res, "type_name": "ListServiceResponse"}),
        (7, "error_response", M, {**res, "type_name": "ErrorResponse"}))
    msg("FileDescriptorResponse", (1, "file_descriptor_proto", B, {"repeated": True}))
    msg("ExtensionNumberResponse", (1, "base_type_name", S, {}), (2, "extension_number", I, {"repeated": True}))
    msg("ListServiceResponse", (1, "service", M, {"repeated": True, "type_name": "ServiceResponse"}))
    msg("ServiceResponse", (1, "name", S, {}))
    msg("ErrorResponse", (1, "error_code", I, {}), (2, "error_message", S, {}))
    return f


def message_class(desc):
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


class StrictReflectionClient:
    def __init__(self, address, script):
        self.version = script.get("version", "v1")
        if script.get("ca") or script.get("cert"):
            read = lambda p: open(p, "rb").read() if p else None
            creds = grpc.ssl_channel_credentials(read(script.get("ca")), read(script.get("key")), read(script.get("cert")))
            options = [("grpc.ssl_target_name_override", script["server_name"])] if script.get("server_name") else []
            self.channel = grpc.secure_channel(address, creds, options)
        else:
            self.channel = grpc.insecure_channel(address)
        self.metadata = [("authorization", f"Bearer {script['token']}")] if script.get("token") else []
        rpool = descriptor_pool.DescriptorPool()
        rpool.Add(reflection_file(self.version))
        pkg = f"grpc.reflection.{self.version}."
        self.Request = message_class(rpool.FindMessageTypeByName(pkg + "ServerReflectionRequest"))
        Response = message_class(rpool.FindMessageTypeByName(pkg + "ServerReflectionResponse"))
        self.reflect = self.channel.stream_stream(
            f"/grpc.reflection.{self.version}.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda m: m.SerializeToString(), response_deserializer=Response.FromString)
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}  # name -> FileDescriptorProto, added to self.pool
        self.fetched = []

    def ask(self, **request):
        [response] = list(self.reflect(iter([self.Request(**request)]), metadata=self.metadata, timeout=30))
        if response.WhichOneof("message_response") == "error_response":
            raise LookupError(f"{response.error_response.error_code}: {response.error_response.error_message}")
        return response

    def _descriptors(self, **request):
        response = self.ask(**request)
        return [descriptor_pb2.FileDescriptorProto.FromString(b)
                for b in response.file_descriptor_response.file_descriptor_proto]

    def _load(self, fdp):
        """Imports first (fetched by name), then the file itself: the pool checks every reference."""
        if fdp.name in self.files:
            return
        for dep in fdp.dependency:
            if dep not in self.files:
                self.fetched.append(dep)
                [first, *_] = self._descriptors(file_by_filename=dep)
                if first.name != dep:
                    raise LookupError(f"asked for file {dep}, got {first.name}")
                self._load(first)
        self.pool.AddSerializedFile(fdp.SerializeToString())
        self.files[fdp.name] = fdp

    def file_for(self, symbol):
        [first, *_] = self._descriptors(file_containing_symbol=symbol)
        self._load(first)
        return first.name

    def method(self, full):
        service, name = full.split("/")
        self.file_for(service)
        return self.pool.FindServiceByName(service).methods_by_name[name]

    def describe(self, symbol):
        """What grpcurl describe prints about a service: each method's signature, types resolved."""
        file = self.file_for(symbol)
        svc = self.pool.FindServiceByName(symbol)
        lines = [f"{svc.full_name} is a service:"]
        for m in svc.methods:
            # Resolving every field type of both messages proves the file set is complete.
            for msg in (m.input_type, m.output_type):
                for field in msg.fields:
                    (field.message_type or field.enum_type or field).full_name
            outs = ("stream " if m.server_streaming else "") + "." + m.output_type.full_name
            ins = ("stream " if m.client_streaming else "") + "." + m.input_type.full_name
            lines.append(f"  rpc {m.name} ( {ins} ) returns ( {outs} );")
        return {"file": file, "text": "\n".join(lines), "methods": [m.name for m in svc.methods]}

    def _call_args(self, full, request):
        m = self.method(full)
        In, Out = message_class(m.input_type), message_class(m.output_type)
        req = json_format.ParseDict(request, In())
        return m, req, dict(request_serializer=lambda x: x.SerializeToString(), response_deserializer=Out.FromString)

    def unary(self, full, request):
        _, req, codec = self._call_args(full, request)
        res = self.channel.unary_unary("/" + full, **codec)(req, metadata=self.metadata, timeout=30)
        return json_format.MessageToDict(res)

    def stream(self, full, request, count):
        _, req, codec = self._call_args(full, request)
        call = self.channel.unary_stream("/" + full, **codec)(req, metadata=self.metadata, timeout=30)
        out = []
        for res in call:
            out.append(json_format.MessageToDict(res))
            if len(out) >= count:
                call.cancel()
                break
        return out


def main():
    address, script = sys.argv[1], json.loads(sys.argv[2])
    client = StrictReflectionClient(address, script)
    print(json.dumps({"implementation": api_implementation.Type(), "grpc": grpc.__version__}), flush=True)
    for step in script["steps"]:
        op = step["op"]
        try:
            if op == "list":
                result = sorted(s.name for s in client.ask(list_services="*").list_services_response.service)
            elif op == "describe":
                result = client.describe(step["symbol"])
            elif op == "file":
                [first, *_] = client._descriptors(file_by_filename=step["name"])
                result = {"name": first.name, "dependency": list(first.dependency)}
            elif op == "unary":
                result = client.unary(step["method"], step.get("request", {}))
            elif op == "stream":
                result = client.stream(step["method"], step.get("request", {}), step.get("count", 1))
            else:
                raise ValueError(f"unknown op {op}")
            print(json.dumps({"op": op, "ok": result, "fetched": client.fetched}), flush=True)
        except grpc.RpcError as err:
            print(json.dumps({"op": op, "error": err.code().name, "details": err.details()}), flush=True)
        except Exception as err:  # a strictness failure: unresolved import or type
            print(json.dumps({"op": op, "error": type(err).__name__, "details": str(err)}), flush=True)


if __name__ == "__main__":
    main()
