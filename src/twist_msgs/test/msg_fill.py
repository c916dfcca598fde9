"""Fill any ROS 2 message with random values, walking its field types (tests only)."""

import importlib
import random
import string

_INTS = {"int8": 7, "int16": 15, "int32": 31, "int64": 63}
_UINTS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}


def message_class(type_name: str):
    """Import ``pkg/Name`` as ``pkg.msg.Name``."""
    pkg, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def random_value(rng: random.Random, type_name: str):
    """A random value of a ROS IDL type name as returned by get_fields_and_field_types()."""
    if type_name.startswith("sequence<"):
        inner = type_name[len("sequence<"):-1]
        count = 29 if inner == "double" else rng.randint(1, 4)
        return [random_value(rng, inner) for _ in range(count)]
    if type_name in ("double", "float"):
        return rng.uniform(-10.0, 10.0)
    if type_name in _UINTS:
        return rng.randrange(0, 2 ** _UINTS[type_name])
    if type_name in _INTS:
        bits = _INTS[type_name]
        return rng.randrange(-(2 ** bits), 2 ** bits)
    if type_name == "boolean":
        return rng.random() < 0.5
    if type_name == "string":
        return "".join(rng.choice(string.ascii_letters + "_/") for _ in range(rng.randint(1, 24)))
    return random_message(rng, message_class(type_name))


def random_message(rng: random.Random, msg_class):
    """An instance of ``msg_class`` with every field set to a random value."""
    msg = msg_class()
    for field, type_name in msg_class.get_fields_and_field_types().items():
        setattr(msg, field, random_value(rng, type_name))
    return msg
